package exec

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Machine runs a graph on the CPU through its compiled program: what the model's graphs use in place of
// Gorgonia's tape machine (whose results it matches bit for bit), in any build. The values of the
// outputs it was made for are read after each Run; nothing else of the graph is kept.
type Machine struct {
	p   *Program
	f32 *Host[float32]
	f64 *Host[float64]
}

// NewMachine compiles the graph computing outputs.
func NewMachine(outputs ...*G.Node) (*Machine, error) {
	return NewMachineIn(nil, outputs...)
}

// NewMachineIn compiles the graph computing outputs to run in arena a, shared with machines that
// never run at the same time (its outputs are then valid until any of them runs); nil gives it its own.
func NewMachineIn(a *Arena, outputs ...*G.Node) (*Machine, error) {
	p, err := Compile(outputs, nil)
	if err != nil {
		return nil, err
	}
	m := &Machine{p: p}
	if p.Dtype == tensor.Float32 {
		m.f32, err = newHost[float32](p, a)
	} else {
		m.f64, err = newHost[float64](p, a)
	}
	return m, err
}

// Run executes the program on the inputs' current values.
func (m *Machine) Run() error {
	if m.f32 != nil {
		return m.f32.Run()
	}
	return m.f64.Run()
}

// Tensor is output n's value after the last Run, as a tensor of n's shape over the machine's memory
// (no copy: the next Run overwrites it; a scalar comes as one element of shape (1)).
func (m *Machine) Tensor(n *G.Node) (*tensor.Dense, error) {
	s := n.Shape()
	if s.IsScalar() {
		s = tensor.Shape{1}
	}
	if m.f32 != nil {
		d, err := m.f32.Output(n)
		if err != nil {
			return nil, err
		}
		return tensor.New(tensor.WithShape(s...), tensor.WithBacking(d)), nil
	}
	d, err := m.f64.Output(n)
	if err != nil {
		return nil, err
	}
	return tensor.New(tensor.WithShape(s...), tensor.WithBacking(d)), nil
}

// Float64s is output n's value after the last Run, copied to float64.
func (m *Machine) Float64s(n *G.Node) ([]float64, error) {
	if m.f32 != nil {
		d, err := m.f32.Output(n)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out, nil
	}
	d, err := m.f64.Output(n)
	return append([]float64(nil), d...), err
}

// Scalar is scalar output n's value after the last Run.
func (m *Machine) Scalar(n *G.Node) (float64, error) {
	if !n.Shape().IsScalar() && n.Shape().TotalSize() != 1 {
		return 0, fmt.Errorf("exec: %s is not a scalar (%v)", n.Name(), n.Shape())
	}
	v, err := m.Float64s(n)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}
