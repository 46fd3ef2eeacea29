package cuda

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Resident keeps a model's weights on a Backend for inference: uploaded once into the state space,
// then read in place by every program lowered against them, so a forward moves only its inputs in and
// its outputs out.
type Resident struct {
	be Backend
	at map[*tensor.Dense]Ptr
}

// NewResident reserves the state space for weights and uploads them.
func NewResident(be Backend, weights []*tensor.Dense) (*Resident, error) {
	r := &Resident{be: be, at: map[*tensor.Dense]Ptr{}}
	var off int64
	for _, w := range weights {
		if w.Dtype() != tensor.Float32 {
			return nil, fmt.Errorf("cuda: a weight is %v, the device runs float32", w.Dtype())
		}
		r.at[w] = Ptr{Off: off, Space: StateSpace}
		off += int64(w.Shape().TotalSize())
	}
	if err := be.Reserve(off); err != nil {
		return nil, err
	}
	for _, w := range weights {
		if err := be.Write(r.at[w], w.Float32s()); err != nil {
			return nil, fmt.Errorf("cuda: uploading weights: %w", err)
		}
	}
	return r, nil
}

// Lower compiles and lowers the forward computing outputs, whose graph holds the nodes params.
func (r *Resident) Lower(outputs, params []*G.Node) (*Program, error) {
	return lowerProgram(outputs, params, func(n *G.Node) (Ptr, bool) {
		d, ok := n.Value().(*tensor.Dense)
		if !ok {
			return Ptr{}, false
		}
		p, ok := r.at[d]
		return p, ok
	})
}

// Run executes pr on the inputs set in its graph's nodes and returns the outputs asked for, in order.
func (r *Resident) Run(pr *Program, outputs ...*G.Node) ([][]float32, error) {
	if err := pr.exec(r.be); err != nil {
		return nil, err
	}
	return pr.read(r.be, outputs...)
}
