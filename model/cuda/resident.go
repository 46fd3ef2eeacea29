package cuda

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/exec"
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

// Program is a forward that computes outputs; its nodes bound to resident weights read them in place.
type Program struct {
	l    *Lowered
	outs map[*G.Node]int
}

// Lower compiles and lowers the forward computing outputs, whose graph holds the nodes params.
func (r *Resident) Lower(outputs, params []*G.Node) (*Program, error) {
	state := map[*G.Node]Ptr{}
	var ext []*G.Node
	for _, n := range params {
		d, ok := n.Value().(*tensor.Dense)
		if !ok {
			continue
		}
		if at, ok := r.at[d]; ok {
			state[n] = at
			ext = append(ext, n)
		}
	}
	p, err := exec.Compile(outputs, ext)
	if err != nil {
		return nil, err
	}
	l, err := Lower(p, state)
	if err != nil {
		return nil, err
	}
	pr := &Program{l: l, outs: map[*G.Node]int{}}
	for _, o := range outputs {
		pr.outs[o], _ = p.Index(o)
	}
	return pr, nil
}

// Run executes pr on the inputs set in its graph's nodes and returns the outputs asked for, in order.
func (r *Resident) Run(pr *Program, outputs ...*G.Node) ([][]float32, error) {
	if err := r.be.Run(pr.l, pr.l.Steps); err != nil {
		return nil, err
	}
	out := make([][]float32, len(outputs))
	for i, n := range outputs {
		v, ok := pr.outs[n]
		if !ok {
			return nil, fmt.Errorf("cuda: node %s is not an output of the program", n.Name())
		}
		x, err := r.be.Read(pr.l.Place(v), int64(pr.l.Prog.Values[v].Size))
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}
