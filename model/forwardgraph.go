package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/lumina-workbench/lumina/model/exec"
)

// ForwardGraph is an inference graph for one batch shape: v = NextDiT(x_t, t, caption features), no
// gradients. The sampler keeps one per batch size (2 with CFG, 1 after CFG-Trunc).
type ForwardGraph struct {
	Graph *G.ExprGraph
	Model *NextDiT
	In    *Inputs
	V     *G.Node // [B, C, H, W]
	mach  *exec.Machine
}

// NewForwardGraph builds the forward graph for shape s, bound to w.
func NewForwardGraph(w *Weights, s Shape) (*ForwardGraph, error) {
	g := G.NewGraph()
	m, err := NewNextDiT(g, w)
	if err != nil {
		return nil, err
	}
	in, err := NewInputs(g, w.Dtype, w.Cfg, s, "")
	if err != nil {
		return nil, err
	}
	v, err := m.Forward(in)
	if err != nil {
		return nil, err
	}
	mach, err := exec.NewMachine(v)
	if err != nil {
		return nil, fmt.Errorf("forward graph: %w", err)
	}
	return &ForwardGraph{Graph: g, Model: m, In: in, V: v, mach: mach}, nil
}

// Run computes the velocity for one batch.
func (f *ForwardGraph) Run(b Batch) ([]float64, error) {
	if err := f.In.Set(f.Model.Cfg, b); err != nil {
		return nil, fmt.Errorf("forward inputs: %w", err)
	}
	return f.RunSet()
}

// RunSet computes the velocity for inputs already placed in f.In (by Set, or by hand in tests).
func (f *ForwardGraph) RunSet() ([]float64, error) {
	if err := f.mach.Run(); err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	return f.mach.Float64s(f.V)
}

// Close releases the machine.
func (f *ForwardGraph) Close() error {
	f.mach = nil
	return nil
}
