// Package optim holds the training-side numerics that gorgonia's solvers get wrong or lack: AdamW
// with decoupled weight decay, global-norm gradient clipping, an EMA of the weights, and the export
// of all their state to tensors so a resumed run continues bit for bit.
//
// Everything works on parallel lists of *tensor.Dense (float32 or float64), updated in place.
// Arithmetic is done in float64 and rounded once when stored, so float32 runs are at least as
// accurate as PyTorch's float32 kernels.
package optim

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"gorgonia.org/tensor"
)

// AdamWConfig holds the hyperparameters (docs/DESIGN.md §4.3).
type AdamWConfig struct {
	LR          float64 `json:"lr"`
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	WeightDecay float64 `json:"weight_decay"`
}

// PaperAdamW is the paper's optimiser (lr 2e-4, betas 0.9/0.95, no weight decay) with eps 1e-8,
// which small models want instead of the paper's 1e-15 (docs/DESIGN.md §9.7).
func PaperAdamW() AdamWConfig {
	return AdamWConfig{LR: 2e-4, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0}
}

// Validate refuses hyperparameters PyTorch refuses.
func (c AdamWConfig) Validate() error {
	switch {
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("adamw: lr = %g, must be ≥ 0 and finite", c.LR)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("adamw: beta1 = %g, must be in [0, 1)", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("adamw: beta2 = %g, must be in [0, 1)", c.Beta2)
	case !(c.Eps >= 0) || math.IsInf(c.Eps, 0):
		return fmt.Errorf("adamw: eps = %g, must be ≥ 0 and finite", c.Eps)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("adamw: weight_decay = %g, must be ≥ 0 and finite", c.WeightDecay)
	}
	return nil
}

// AdamW is torch.optim.AdamW (amsgrad off): decay p ← p·(1 − lr·wd) first, then the Adam step with
// PyTorch's bias correction, p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps).
type AdamW struct {
	// Config may be changed between steps (a learning-rate schedule sets Config.LR).
	Config AdamWConfig
	step   int64
	m, v   []*tensor.Dense
}

// NewAdamW allocates zero moments shaped and typed like params.
func NewAdamW(c AdamWConfig, params []*tensor.Dense) (*AdamW, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	o := &AdamW{Config: c}
	for i, p := range params {
		if err := checkDense(p, "param", i); err != nil {
			return nil, fmt.Errorf("adamw: %w", err)
		}
		o.m = append(o.m, zerosLike(p))
		o.v = append(o.v, zerosLike(p))
	}
	return o, nil
}

// StepCount is the number of updates taken (PyTorch's state["step"]).
func (o *AdamW) StepCount() int64 { return o.step }

// Moments returns the first and second moment of parameter i (live tensors, not copies).
func (o *AdamW) Moments(i int) (m, v *tensor.Dense) { return o.m[i], o.v[i] }

// Step updates params in place from grads (same order, shapes and dtypes as at construction).
// Nothing is changed when the lists do not match.
func (o *AdamW) Step(params, grads []*tensor.Dense) error {
	if err := o.Config.Validate(); err != nil {
		return err
	}
	if len(params) != len(o.m) || len(grads) != len(o.m) {
		return fmt.Errorf("adamw: %d params and %d grads, the optimiser holds %d", len(params), len(grads), len(o.m))
	}
	for i := range params {
		if err := sameLayout(o.m[i], params[i], "param", i); err != nil {
			return fmt.Errorf("adamw: %w", err)
		}
		if err := sameLayout(o.m[i], grads[i], "grad", i); err != nil {
			return fmt.Errorf("adamw: %w", err)
		}
	}
	k := o.advance()
	update := func(p, g, m, v float64) (float64, float64, float64) {
		p *= k.Decay
		m += (1 - k.Beta1) * (g - m) // torch's lerp_(grad, 1-β1)
		v = k.Beta2*v + (1-k.Beta2)*g*g
		p -= k.StepSize * m / (math.Sqrt(v)/k.Bc2Sqrt + k.Eps)
		return p, m, v
	}
	for i := range params {
		switch params[i].Dtype() {
		case tensor.Float32:
			p, g, m, v := params[i].Float32s(), grads[i].Float32s(), o.m[i].Float32s(), o.v[i].Float32s()
			for j := range p {
				np, nm, nv := update(float64(p[j]), float64(g[j]), float64(m[j]), float64(v[j]))
				p[j], m[j], v[j] = float32(np), float32(nm), float32(nv)
			}
		case tensor.Float64:
			p, g, m, v := params[i].Float64s(), grads[i].Float64s(), o.m[i].Float64s(), o.v[i].Float64s()
			for j := range p {
				p[j], m[j], v[j] = update(p[j], g[j], m[j], v[j])
			}
		}
	}
	return nil
}

// Coefficients are the constants of one update, the same for every element: p ← p·Decay, the moments
// with Beta1 and Beta2, p ← p − StepSize·m/(√v/Bc2Sqrt + Eps).
type Coefficients struct {
	Beta1, Beta2, Eps        float64
	Decay, StepSize, Bc2Sqrt float64
}

// Advance counts one update and returns its coefficients without touching any tensor: for an update
// that runs elsewhere (a device's kernel) while this optimiser keeps the step count and configuration,
// so a checkpoint written from it resumes exactly.
func (o *AdamW) Advance() (Coefficients, error) {
	if err := o.Config.Validate(); err != nil {
		return Coefficients{}, err
	}
	return o.advance(), nil
}

func (o *AdamW) advance() Coefficients {
	o.step++
	c := o.Config
	t := float64(o.step)
	return Coefficients{Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, Decay: 1 - c.LR*c.WeightDecay,
		StepSize: c.LR / (1 - math.Pow(c.Beta1, t)), Bc2Sqrt: math.Sqrt(1 - math.Pow(c.Beta2, t))}
}

// State key prefixes and metadata keys used in checkpoints.
const (
	PrefixM      = "optim.m."
	PrefixV      = "optim.v."
	MetaStep     = "optim.step"
	MetaAdamW    = "optim.adamw"
	PrefixEMA    = "ema."
	MetaEMADecay = "ema.decay"
)

// State exports the moments as tensors named PrefixM+name / PrefixV+name and the step count and
// hyperparameters as metadata. The tensors are the live ones: save them before the next Step.
func (o *AdamW) State(names []string) (map[string]*tensor.Dense, map[string]string, error) {
	if len(names) != len(o.m) {
		return nil, nil, fmt.Errorf("adamw state: %d names for %d params", len(names), len(o.m))
	}
	ts := make(map[string]*tensor.Dense, 2*len(names))
	for i, n := range names {
		if _, dup := ts[PrefixM+n]; dup {
			return nil, nil, fmt.Errorf("adamw state: name %s given twice", n)
		}
		ts[PrefixM+n], ts[PrefixV+n] = o.m[i], o.v[i]
	}
	cfg, _ := json.Marshal(o.Config)
	return ts, map[string]string{MetaStep: strconv.FormatInt(o.step, 10), MetaAdamW: string(cfg)}, nil
}

// LoadState restores what State exported (moments converted to the params' dtype when the
// checkpoint's differs). Config is left as the caller set it: the run's schedule owns the learning
// rate. Nothing changes unless every tensor is present and shaped right.
func (o *AdamW) LoadState(names []string, ts map[string]*tensor.Dense, meta map[string]string) error {
	if len(names) != len(o.m) {
		return fmt.Errorf("adamw state: %d names for %d params", len(names), len(o.m))
	}
	s, ok := meta[MetaStep]
	if !ok {
		return fmt.Errorf("adamw state: no %q in the metadata", MetaStep)
	}
	step, err := strconv.ParseInt(s, 10, 64)
	if err != nil || step < 0 {
		return fmt.Errorf("adamw state: %s = %q, want a non-negative integer", MetaStep, s)
	}
	for i, n := range names {
		for _, key := range []string{PrefixM + n, PrefixV + n} {
			t, ok := ts[key]
			if !ok {
				return fmt.Errorf("adamw state: tensor %s missing", key)
			}
			if !t.Shape().Eq(o.m[i].Shape()) {
				return fmt.Errorf("adamw state: tensor %s has shape %v, want %v", key, t.Shape(), o.m[i].Shape())
			}
			if err := checkDense(t, key, i); err != nil {
				return fmt.Errorf("adamw state: %w", err)
			}
		}
	}
	for i, n := range names {
		copyInto(o.m[i], ts[PrefixM+n])
		copyInto(o.v[i], ts[PrefixV+n])
	}
	o.step = step
	return nil
}

func zerosLike(p *tensor.Dense) *tensor.Dense {
	shape := p.Shape().Clone()
	n := shape.TotalSize()
	if p.Dtype() == tensor.Float32 {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float32, n)))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float64, n)))
}

// checkDense accepts plain (non-view) float32/float64 tensors, whose backing slice is the data.
func checkDense(t *tensor.Dense, what string, i int) error {
	if t == nil {
		return fmt.Errorf("%s %d is nil", what, i)
	}
	if t.Dtype() != tensor.Float32 && t.Dtype() != tensor.Float64 {
		return fmt.Errorf("%s %d has dtype %v, want float32 or float64", what, i, t.Dtype())
	}
	if t.IsMaterializable() || t.RequiresIterator() {
		return fmt.Errorf("%s %d is a view or transposed; pass a contiguous tensor", what, i)
	}
	if t.Shape().TotalSize() != t.DataSize() && !t.IsScalar() {
		return fmt.Errorf("%s %d: shape %v does not match its %d elements", what, i, t.Shape(), t.DataSize())
	}
	return nil
}

func sameLayout(ref, t *tensor.Dense, what string, i int) error {
	if err := checkDense(t, what, i); err != nil {
		return err
	}
	if t.Dtype() != ref.Dtype() || !t.Shape().Eq(ref.Shape()) {
		return fmt.Errorf("%s %d is %v %v, want %v %v", what, i, t.Dtype(), t.Shape(), ref.Dtype(), ref.Shape())
	}
	return nil
}

// copyInto copies src's values into dst (same size), converting dtype.
func copyInto(dst, src *tensor.Dense) {
	switch {
	case dst.Dtype() == tensor.Float32 && src.Dtype() == tensor.Float32:
		copy(dst.Float32s(), src.Float32s())
	case dst.Dtype() == tensor.Float64 && src.Dtype() == tensor.Float64:
		copy(dst.Float64s(), src.Float64s())
	case dst.Dtype() == tensor.Float32:
		d := dst.Float32s()
		for j, v := range src.Float64s() {
			d[j] = float32(v)
		}
	default:
		d := dst.Float64s()
		for j, v := range src.Float32s() {
			d[j] = float64(v)
		}
	}
}
