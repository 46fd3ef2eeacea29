package cuda

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/optim"
	"github.com/lumina-workbench/lumina/model/textenc"
)

// Trainer keeps a Next-DiT's training state resident on a Backend: the weights, their gradients,
// AdamW's moments and the EMA live in the state space from Load to Sync, and a step moves only the
// batch in (the programs' input uploads) and the losses and gradient norm out. The host keeps the step
// count and hyperparameters (optim.AdamW.Advance), so checkpoints are written from host tensors that
// Sync refreshes, exactly as without a device.
//
// A step is two calls, so that the caller decides on skipping between them as the CPU path does:
// Grads (the program, then the global gradient norm and the clip factor) and Update (AdamW with the
// clip folded in, then the EMA).
type Trainer struct {
	be     Backend
	params []*tensor.Dense
	// frozen are weights the stage reads but does not train (the text encoder's, for the caption
	// features of a DiT stage), resident at f.
	frozen []*tensor.Dense
	f      []Ptr
	// at is where each weight, trained or frozen, lives.
	at    map[*tensor.Dense]Ptr
	sizes []int64
	// Per parameter, in the state space: weight, gradient, moments, EMA.
	p, g, m, v, e []Ptr
	hasEMA        bool
	// The clip's norm (a double) and factor, and clip, Grads' steps after the program: every gradient's
	// per-block sums of squares, then clip_scale (its maximum norm, argument 2, is set per call).
	norm, factor Ptr
	clip         []Step
	progs        map[any]*Program
}

// NewTrainer reserves the state for params (float32, in the order the graphs list their parameters)
// and the frozen weights on be; Load must fill it before a step.
func NewTrainer(be Backend, params []*tensor.Dense, ema bool, frozen ...*tensor.Dense) (*Trainer, error) {
	t := &Trainer{be: be, params: params, frozen: frozen, hasEMA: ema, progs: map[any]*Program{}}
	n, err := t.layout()
	if err != nil {
		return nil, err
	}
	if err := be.Reserve(n); err != nil {
		return nil, err
	}
	return t, nil
}

// layout places every parameter's state and the clip's partial sums; it returns the floats they take.
func (t *Trainer) layout() (int64, error) {
	var off int64
	take := func(n int64) Ptr {
		off += off % 2 // doubles stay 8-byte aligned
		p := Ptr{Off: off, Space: StateSpace}
		off += n
		return p
	}
	for i, p := range t.params {
		if p.Dtype() != tensor.Float32 {
			return 0, fmt.Errorf("cuda trainer: parameter %d is %v, the device trains float32", i, p.Dtype())
		}
		n := int64(p.Shape().TotalSize())
		t.sizes = append(t.sizes, n)
		t.p, t.g, t.m, t.v = append(t.p, take(n)), append(t.g, take(n)), append(t.m, take(n)), append(t.v, take(n))
		if t.hasEMA {
			t.e = append(t.e, take(n))
		}
	}
	for i, w := range t.frozen {
		if w.Dtype() != tensor.Float32 {
			return 0, fmt.Errorf("cuda trainer: frozen weight %d is %v, the device runs float32", i, w.Dtype())
		}
		t.f = append(t.f, take(int64(w.Shape().TotalSize())))
	}
	// sq_partial writes one double per block of each gradient, all of them side by side for clip_scale.
	var total int
	for i, n := range t.sizes {
		l, parts, err := Reduce(n)
		if err != nil {
			return 0, fmt.Errorf("cuda trainer: parameter %d: %w", i, err)
		}
		t.clip = append(t.clip, Step{Kind: KernelStep, Name: "sq_partial", Launch: l, Args: []any{t.g[i], Null, Ptr{}, n}})
		total += parts
	}
	partial := take(2 * int64(total))
	for i, at := 0, partial; i < len(t.sizes); i++ {
		t.clip[i].Args[2] = at
		at = at.Add(2 * int64(t.clip[i].Launch.Grid[0]))
	}
	t.norm, t.factor = take(2), take(1)
	one := Launch{Grid: [3]int{1, 1, 1}, Block: [3]int{32, 1, 1}}
	t.clip = append(t.clip, Step{Kind: KernelStep, Name: "clip_scale", Launch: one, Args: []any{partial, total, 0.0, t.norm, t.factor}})
	t.at = map[*tensor.Dense]Ptr{}
	for i, p := range t.params {
		t.at[p] = t.p[i]
	}
	for i, w := range t.frozen {
		t.at[w] = t.f[i]
	}
	return off, nil
}

// TrainingBytes is the device memory a Trainer needs to train on g: its state (with the EMA when ema,
// and the frozen weights) and the arena of g's lowered program, in bytes, counted exactly from the
// program, not estimated.
func TrainingBytes(g Graph, ema bool, frozen ...*tensor.Dense) (state, arena int64, err error) {
	var params []*tensor.Dense
	for _, n := range g.Params {
		d, ok := n.Value().(*tensor.Dense)
		if !ok {
			return 0, 0, fmt.Errorf("cuda: parameter %s has no tensor", n.Name())
		}
		params = append(params, d)
	}
	t := &Trainer{params: params, frozen: frozen, hasEMA: ema, progs: map[any]*Program{}}
	n, err := t.layout()
	if err != nil {
		return 0, 0, err
	}
	pr, err := t.program(g)
	if err != nil {
		return 0, 0, err
	}
	return 4 * n, 4 * pr.l.Size, nil
}

// Load writes the host weights (trained and frozen), and the moments and EMA given (nil: zero
// moments, an EMA equal to the weights), into the device state.
func (t *Trainer) Load(m, v, ema []*tensor.Dense) error {
	for i, w := range t.frozen {
		if err := t.be.Write(t.f[i], w.Float32s()); err != nil {
			return fmt.Errorf("cuda trainer: frozen weights: %w", err)
		}
	}
	for i, p := range t.params {
		w := p.Float32s()
		if err := t.be.Write(t.p[i], w); err != nil {
			return fmt.Errorf("cuda trainer: weights: %w", err)
		}
		for _, s := range []struct {
			src []*tensor.Dense
			at  []Ptr
			def []float32
		}{{m, t.m, nil}, {v, t.v, nil}, {ema, t.e, w}} {
			if s.at == nil {
				continue
			}
			x := s.def
			if s.src != nil {
				x = s.src[i].Float32s()
			}
			if x == nil {
				x = make([]float32, t.sizes[i])
			}
			if int64(len(x)) != t.sizes[i] {
				return fmt.Errorf("cuda trainer: parameter %d: state of %d floats for %d", i, len(x), t.sizes[i])
			}
			if err := t.be.Write(s.at[i], x); err != nil {
				return fmt.Errorf("cuda trainer: optimiser state: %w", err)
			}
		}
	}
	return nil
}

// Sync copies the device's weights into the host tensors, and its moments and EMA into m, v and ema
// (each may be nil).
func (t *Trainer) Sync(m, v, ema []*tensor.Dense) error {
	for i, p := range t.params {
		for _, s := range []struct {
			dst *tensor.Dense
			at  []Ptr
		}{{p, t.p}, {at(m, i), t.m}, {at(v, i), t.v}, {at(ema, i), t.e}} {
			if s.dst == nil || s.at == nil {
				continue
			}
			x, err := t.be.Read(s.at[i], t.sizes[i])
			if err != nil {
				return fmt.Errorf("cuda trainer: reading the state: %w", err)
			}
			copy(s.dst.Float32s(), x)
		}
	}
	return nil
}

func at(ts []*tensor.Dense, i int) *tensor.Dense {
	if ts == nil {
		return nil
	}
	return ts[i]
}

// Graph is a training graph as the trainer runs it: Losses (the first the one the gradients are of),
// the parameter nodes (bound to the trainer's tensors, in its order) and their gradient nodes. Key names
// the graph across steps (its compiled program is kept until Forget).
type Graph struct {
	Key           any
	Losses        G.Nodes
	Params, Grads G.Nodes
}

// FlowGraph is a Next-DiT training graph: its losses are the total, the main and (when on) the aux loss.
func FlowGraph(fl *model.FlowLoss) Graph {
	g := Graph{Key: fl, Losses: G.Nodes{fl.Loss, fl.MainLoss}, Params: fl.Model.Params, Grads: fl.GradNodes}
	if fl.AuxLoss != nil {
		g.Losses = append(g.Losses, fl.AuxLoss)
	}
	return g
}

// LMGraph is the text encoder's training graph as a Graph: its loss and gradients.
func LMGraph(lml *textenc.LMLoss) Graph {
	return Graph{Key: lml, Losses: G.Nodes{lml.Loss}, Params: lml.LM.Params, Grads: lml.GradNodes}
}

// program is g compiled and lowered with its parameters and their gradients placed in the state.
func (t *Trainer) program(g Graph) (*Program, error) {
	if pr, ok := t.progs[g.Key]; ok {
		return pr, nil
	}
	if len(g.Params) != len(t.params) || len(g.Grads) != len(t.params) {
		return nil, fmt.Errorf("cuda trainer: the graph has %d parameters and %d gradients, the trainer %d", len(g.Params), len(g.Grads), len(t.params))
	}
	state := map[*G.Node]Ptr{}
	for i, n := range g.Params {
		if d, ok := n.Value().(*tensor.Dense); !ok || d != t.params[i] {
			return nil, fmt.Errorf("cuda trainer: the graph's parameter %d (%s) is not the trainer's tensor", i, n.Name())
		}
		state[n] = t.p[i]
		state[g.Grads[i]] = t.g[i]
	}
	bound := append(append(G.Nodes{}, g.Params...), g.Grads...)
	pr, err := lowerProgram(append(append(G.Nodes{}, g.Losses...), g.Grads...), bound, func(n *G.Node) (Ptr, bool) {
		p, ok := state[n]
		return p, ok
	})
	if err != nil {
		return nil, err
	}
	t.progs[g.Key] = pr
	return pr, nil
}

// Forward runs a forward-only graph that reads the trainer's weights (trained or frozen): the nodes
// bound to them (bound, any others ignored) are read in place; the outputs come back, in order. key
// names the graph across calls.
func (t *Trainer) Forward(key any, outputs, bound G.Nodes) ([][]float32, error) {
	pr, ok := t.progs[key]
	if !ok {
		var err error
		pr, err = lowerProgram(outputs, bound, func(n *G.Node) (Ptr, bool) {
			d, ok := n.Value().(*tensor.Dense)
			if !ok {
				return Ptr{}, false
			}
			p, ok := t.at[d]
			return p, ok
		})
		if err != nil {
			return nil, err
		}
		t.progs[key] = pr
	}
	if err := pr.exec(t.be); err != nil {
		return nil, err
	}
	return pr.read(t.be, outputs...)
}

// Forget drops the program of the graph keyed key (the caller dropped the graph).
func (t *Trainer) Forget(key any) { delete(t.progs, key) }

// Grads runs g's forward and backward on the inputs set in its nodes, leaving the gradients in the
// state, then the global norm of all of them and the factor that clips it to maxNorm (+Inf: none). It
// returns g's losses, in order, and the norm.
func (t *Trainer) Grads(g Graph, maxNorm float64) ([]float64, float64, error) {
	pr, err := t.program(g)
	if err != nil {
		return nil, 0, err
	}
	if err := pr.exec(t.be); err != nil {
		return nil, 0, err
	}
	t.clip[len(t.clip)-1].Args[2] = maxNorm
	if err := t.be.Run(nil, t.clip); err != nil {
		return nil, 0, err
	}
	vals, err := pr.read(t.be, g.Losses...)
	if err != nil {
		return nil, 0, err
	}
	losses := make([]float64, len(vals))
	for i, x := range vals {
		losses[i] = float64(x[0])
	}
	nb, err := t.be.Read(t.norm, 2)
	if err != nil {
		return nil, 0, err
	}
	return losses, math.Float64frombits(uint64(math.Float32bits(nb[0])) | uint64(math.Float32bits(nb[1]))<<32), nil
}

// FlowLosses reads a FlowGraph's losses as the model reports them.
func FlowLosses(losses []float64) model.LossValues {
	lv := model.LossValues{Total: losses[0], Main: losses[1]}
	if len(losses) > 2 {
		lv.Aux = losses[2]
	}
	return lv
}

// Update applies AdamW with coefficients k to every parameter, its gradient scaled by the clip factor
// of the last Grads, then folds the weights into the EMA with decay emaDecay (when the trainer keeps one).
func (t *Trainer) Update(k optim.Coefficients, emaDecay float64) error {
	var steps []Step
	for i := range t.params {
		l, err := Elementwise(t.sizes[i])
		if err != nil {
			return err
		}
		steps = append(steps, Step{Kind: KernelStep, Name: "adamw_step", Launch: l, Args: []any{t.p[i], t.g[i], t.m[i], t.v[i], t.sizes[i],
			k.Beta1, k.Beta2, k.Eps, k.Decay, k.StepSize, k.Bc2Sqrt, t.factor}})
		if t.hasEMA {
			steps = append(steps, Step{Kind: KernelStep, Name: "ema_update", Launch: l, Args: []any{t.e[i], t.p[i], t.sizes[i], emaDecay}})
		}
	}
	return t.be.Run(nil, steps)
}

// Close drops every program (the memory stays with the backend until it closes).
func (t *Trainer) Close() { clear(t.progs) }
