package cuda

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/lumina-workbench/lumina/model/exec"
)

// Program is a graph lowered for a Backend, and where its outputs are.
type Program struct {
	l    *Lowered
	outs map[*G.Node]int
}

// lowerProgram compiles and lowers the graph computing outputs; of the nodes bound, those place gives
// a place in the state space live there (resident weights read in place, gradients written there).
func lowerProgram(outputs, bound G.Nodes, place func(*G.Node) (Ptr, bool)) (*Program, error) {
	state := map[*G.Node]Ptr{}
	var ext G.Nodes
	for _, n := range bound {
		if p, ok := place(n); ok {
			state[n] = p
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

// exec runs pr on be, its inputs read from their nodes' current values.
func (pr *Program) exec(be Backend) error { return be.Run(pr.l, pr.l.Steps) }

// read copies the values of outputs after the last exec to the host, in order.
func (pr *Program) read(be Backend, outputs ...*G.Node) ([][]float32, error) {
	out := make([][]float32, len(outputs))
	for i, n := range outputs {
		v, ok := pr.outs[n]
		if !ok {
			return nil, fmt.Errorf("cuda: node %s is not an output of the program", n.Name())
		}
		x, err := be.Read(pr.l.Place(v), int64(pr.l.Prog.Values[v].Size))
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

// ProgramBytes is the arena, in bytes, of the program computing outputs with the nodes external kept
// outside it (a forward over resident weights).
func ProgramBytes(outputs, external G.Nodes) (int64, error) {
	pr, err := lowerProgram(outputs, external, func(*G.Node) (Ptr, bool) { return Ptr{Space: StateSpace}, true })
	if err != nil {
		return 0, err
	}
	return 4 * pr.l.Size, nil
}
