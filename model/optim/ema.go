package optim

import (
	"fmt"
	"strconv"

	"gorgonia.org/tensor"
)

// EMA keeps an exponential moving average of the weights, ema ← decay·ema + (1 − decay)·p, in its
// own copy. For sampling, SwapIn exchanges the average into the live parameters (so the graph that
// reads them needs no change) and SwapOut puts the training weights back.
type EMA struct {
	Decay   float64
	shadow  []*tensor.Dense
	swapped bool
}

// NewEMA starts the average at the current weights.
func NewEMA(decay float64, params []*tensor.Dense) (*EMA, error) {
	if !(decay >= 0 && decay <= 1) {
		return nil, fmt.Errorf("ema: decay %g, must be in [0, 1]", decay)
	}
	e := &EMA{Decay: decay}
	for i, p := range params {
		if err := checkDense(p, "param", i); err != nil {
			return nil, fmt.Errorf("ema: %w", err)
		}
		s := zerosLike(p)
		copyInto(s, p)
		e.shadow = append(e.shadow, s)
	}
	return e, nil
}

func (e *EMA) check(params []*tensor.Dense) error {
	if len(params) != len(e.shadow) {
		return fmt.Errorf("ema: %d params, the average holds %d", len(params), len(e.shadow))
	}
	for i, p := range params {
		if err := sameLayout(e.shadow[i], p, "param", i); err != nil {
			return fmt.Errorf("ema: %w", err)
		}
	}
	return nil
}

// Update folds the current weights into the average. It refuses while swapped in, when the
// params hold the average itself.
func (e *EMA) Update(params []*tensor.Dense) error {
	if e.swapped {
		return fmt.Errorf("ema: update while the average is swapped in; SwapOut first")
	}
	if err := e.check(params); err != nil {
		return err
	}
	d := e.Decay
	for i, p := range params {
		switch p.Dtype() {
		case tensor.Float32:
			s, w := e.shadow[i].Float32s(), p.Float32s()
			for j := range s {
				s[j] = float32(d*float64(s[j]) + (1-d)*float64(w[j]))
			}
		case tensor.Float64:
			s, w := e.shadow[i].Float64s(), p.Float64s()
			for j := range s {
				s[j] = d*s[j] + (1-d)*w[j]
			}
		}
	}
	return nil
}

func (e *EMA) swap(params []*tensor.Dense) {
	for i, p := range params {
		switch p.Dtype() {
		case tensor.Float32:
			s, w := e.shadow[i].Float32s(), p.Float32s()
			for j := range s {
				s[j], w[j] = w[j], s[j]
			}
		case tensor.Float64:
			s, w := e.shadow[i].Float64s(), p.Float64s()
			for j := range s {
				s[j], w[j] = w[j], s[j]
			}
		}
	}
}

// SwapIn puts the average into params and keeps the training weights aside.
func (e *EMA) SwapIn(params []*tensor.Dense) error { return e.swapTo(params, true) }

// SwapOut restores the training weights into params.
func (e *EMA) SwapOut(params []*tensor.Dense) error { return e.swapTo(params, false) }

// swapTo exchanges params and the average, so that params hold the average exactly when in.
func (e *EMA) swapTo(params []*tensor.Dense, in bool) error {
	switch {
	case in && e.swapped:
		return fmt.Errorf("ema: already swapped in")
	case !in && !e.swapped:
		return fmt.Errorf("ema: not swapped in")
	}
	if err := e.check(params); err != nil {
		return err
	}
	e.swap(params)
	e.swapped = in
	return nil
}

// Swapped reports whether the params currently hold the average.
func (e *EMA) Swapped() bool { return e.swapped }

// Weights returns the average (live tensors). Refused while swapped in, when they hold the
// training weights instead.
func (e *EMA) Weights() ([]*tensor.Dense, error) {
	if e.swapped {
		return nil, fmt.Errorf("ema: weights asked for while swapped in")
	}
	return e.shadow, nil
}

// State exports the average as tensors named PrefixEMA+name and the decay as metadata.
func (e *EMA) State(names []string) (map[string]*tensor.Dense, map[string]string, error) {
	if e.swapped {
		return nil, nil, fmt.Errorf("ema state: swapped in; SwapOut before saving")
	}
	if len(names) != len(e.shadow) {
		return nil, nil, fmt.Errorf("ema state: %d names for %d params", len(names), len(e.shadow))
	}
	ts := make(map[string]*tensor.Dense, len(names))
	for i, n := range names {
		if _, dup := ts[PrefixEMA+n]; dup {
			return nil, nil, fmt.Errorf("ema state: name %s given twice", n)
		}
		ts[PrefixEMA+n] = e.shadow[i]
	}
	return ts, map[string]string{MetaEMADecay: strconv.FormatFloat(e.Decay, 'g', -1, 64)}, nil
}

// LoadState restores the average exported by State; all or nothing. The decay stays as set.
func (e *EMA) LoadState(names []string, ts map[string]*tensor.Dense) error {
	if e.swapped {
		return fmt.Errorf("ema state: swapped in; SwapOut before loading")
	}
	if len(names) != len(e.shadow) {
		return fmt.Errorf("ema state: %d names for %d params", len(names), len(e.shadow))
	}
	for i, n := range names {
		t, ok := ts[PrefixEMA+n]
		if !ok {
			return fmt.Errorf("ema state: tensor %s missing", PrefixEMA+n)
		}
		if !t.Shape().Eq(e.shadow[i].Shape()) {
			return fmt.Errorf("ema state: tensor %s has shape %v, want %v", PrefixEMA+n, t.Shape(), e.shadow[i].Shape())
		}
		if err := checkDense(t, PrefixEMA+n, i); err != nil {
			return fmt.Errorf("ema state: %w", err)
		}
	}
	for i, n := range names {
		copyInto(e.shadow[i], ts[PrefixEMA+n])
	}
	return nil
}
