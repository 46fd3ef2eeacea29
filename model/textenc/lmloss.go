package textenc

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/exec"
	gu "github.com/lumina-workbench/lumina/model/graphutil"
)

// LMLoss is the text encoder's next-token training graph for one (batch, length): the LM, its loss,
// the target inputs, and the gradient of the loss for every parameter. The graph is built once per
// shape and fed each step; its parameters are bound to the weights it was made with.
type LMLoss struct {
	LM            *LM
	Loss          *G.Node // scalar
	Targets, Mask *G.Node // [B·L]
	// GradNodes are dLoss/dParam in LM.Params order: what an executor other than the graph's own machine
	// computes.
	GradNodes G.Nodes
	// Arena, when set before the first RunSet, is where the graph runs, shared with graphs that never
	// run at the same time (exec.Arena); nil gives the graph memory of its own.
	Arena *exec.Arena
	mach  *exec.Machine // made on the first RunSet
}

// NewLMLoss builds the training graph for B rows of L tokens over weights w.
func NewLMLoss(c arch.LMConfig, w map[string]*tensor.Dense, dt tensor.Dtype, B, L int) (*LMLoss, error) {
	g := G.NewGraph()
	lm, err := NewLM(g, c, w, dt, B, L)
	if err != nil {
		return nil, err
	}
	t := &LMLoss{LM: lm}
	if t.Loss, t.Targets, t.Mask, err = lm.NextTokenLoss(g, dt); err != nil {
		return nil, err
	}
	if t.GradNodes, err = G.Grad(t.Loss, lm.Params...); err != nil {
		return nil, fmt.Errorf("text encoder gradients: %w", err)
	}
	return t, nil
}

// Set places padded token rows (each at most L, lens their real lengths) and their next-token targets
// in the graph's inputs.
func (t *LMLoss) Set(ids [][]int, lens []int) error {
	if err := t.LM.SetTokens(ids, lens); err != nil {
		return err
	}
	tg, tm := Shift(ids, lens, t.LM.L)
	if err := gu.Fill(t.Targets, tg); err != nil {
		return err
	}
	return gu.Fill(t.Mask, tm)
}

// Outputs are what a step computes: the loss and the gradients.
func (t *LMLoss) Outputs() G.Nodes { return append(G.Nodes{t.Loss}, t.GradNodes...) }

// Program is the compiled program a step runs, for its memory (exec.Program.HostBytes) without
// running it.
func (t *LMLoss) Program() (*exec.Program, error) { return exec.Compile(t.Outputs(), nil) }

// RunSet runs forward and backward on the inputs Set placed; read the gradients with Grads.
func (t *LMLoss) RunSet() (float64, error) {
	if t.mach == nil { // made on first use: a graph run by another executor never needs it
		m, err := exec.NewMachineIn(t.Arena, t.Outputs()...)
		if err != nil {
			return 0, fmt.Errorf("text encoder: %w", err)
		}
		t.mach = m
	}
	if err := t.mach.Run(); err != nil {
		return 0, fmt.Errorf("text encoder step: %w", err)
	}
	return t.mach.Scalar(t.Loss)
}

// Grads are the parameter gradients of the last RunSet, in LM.Params order.
func (t *LMLoss) Grads() ([]*tensor.Dense, error) {
	if t.mach == nil {
		return nil, fmt.Errorf("text encoder: no step has run")
	}
	out := make([]*tensor.Dense, len(t.GradNodes))
	for i, g := range t.GradNodes {
		d, err := t.mach.Tensor(g)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// Close releases the machine.
func (t *LMLoss) Close() error {
	t.mach = nil
	return nil
}

// RandomLMStep is an LMLoss of 2 rows of L tokens over a vocabulary of vocab, its weights moved off the
// init by N(0, 0.05²) and random token rows set (the second 3 tokens shorter, so masks matter), all from
// seed: executors other than the graph's own machine are checked on it.
func RandomLMStep(c arch.LMConfig, dt tensor.Dtype, L int, seed uint64) (*LMLoss, error) {
	if L < 4 || L > c.MaxLen {
		return nil, fmt.Errorf("random text encoder step: length %d outside 4..%d", L, c.MaxLen)
	}
	w, err := NewLMWeights(c, dt, seed)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 21))
	for _, p := range c.ParamShapes() { // in order: the same seed moves the same weights
		gu.Jitter(w[p.Name], rng, 0.05)
	}
	t, err := NewLMLoss(c, w, dt, 2, L)
	if err != nil {
		return nil, err
	}
	lens := []int{L, L - 3}
	ids := make([][]int, 2)
	for b := range ids {
		for range lens[b] {
			ids[b] = append(ids[b], rng.IntN(c.Vocab))
		}
	}
	if err := t.Set(ids, lens); err != nil {
		return nil, err
	}
	return t, nil
}
