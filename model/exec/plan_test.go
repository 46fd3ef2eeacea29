package exec

import (
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestPlanByHand lays out a chain a → b → c → d by hand: b and d may share a's memory once a and b
// are dead, and the arena is the two largest neighbours.
func TestPlanByHand(t *testing.T) {
	p := &Program{
		Values:  []Value{{Size: 4, Buf: 0}, {Size: 8, Buf: 1}, {Size: 2, Buf: 2}, {Size: 8, Buf: 3}},
		Instrs:  []Instr{{Kind: Input, Out: 0}, {Kind: Compute, In: []int{0}, Out: 1}, {Kind: Compute, In: []int{1}, Out: 2}, {Kind: Compute, In: []int{2}, Out: 3}},
		Buffers: []Buffer{{Size: 4}, {Size: 8}, {Size: 2}, {Size: 8}},
		Outputs: []int{3},
	}
	p.plan()
	if err := p.CheckLayout(); err != nil {
		t.Fatal(err)
	}
	// a (input) is pinned: 4; b: 8 over [1,2]; c: 2 over [2,3]; d: 8 pinned over all.
	// d and a are pinned and alive with everything: 12; b is alive with c, a, d: 20; c fits after b
	// only if b is dead, which it is not at 2, so c goes past b too: 22.
	if p.ArenaSize != 22 || p.BufferTotal != 22 {
		t.Errorf("arena %d, total %d, want 22 and 22", p.ArenaSize, p.BufferTotal)
	}
	p.Outputs = []int{2} // now d is not pinned and may reuse b's memory, dead after instruction 2
	p.Instrs = p.Instrs[:3]
	p.Buffers = p.Buffers[:3]
	p.BufferTotal, p.ArenaSize = 0, 0
	p.plan()
	if err := p.CheckLayout(); err != nil {
		t.Fatal(err)
	}
	if p.ArenaSize != 14 {
		t.Errorf("arena %d, want 14", p.ArenaSize)
	}
}

// TestMoveRuns checks the traced runs of a slice, a concatenation and a slice's gradient against hand
// counts.
func TestMoveRuns(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 3, G.WithShape(2, 4, 3), G.WithName("x"))
	y := G.NewTensor(g, tensor.Float64, 3, G.WithShape(2, 1, 3), G.WithName("y"))
	sl := G.Must(G.Slice(x, nil, G.S(1, 3)))  // [2, 2, 3]
	cat := G.Must(G.Concat(1, y, sl))         // [2, 3, 3]
	sum := G.Must(G.Sum(cat))                 // scalar, to differentiate
	if _, err := G.Grad(sum, x); err != nil { // x's gradient goes through a slice increment
		t.Fatal(err)
	}
	p, err := Compile(G.Nodes{cat}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runsOf := func(n *G.Node) []Run {
		v, _ := p.Index(n)
		for _, ins := range p.Instrs {
			if ins.Out == v {
				return ins.Runs
			}
		}
		t.Fatalf("no instruction for %s", n.Name())
		return nil
	}
	if got, want := runsOf(sl), []Run{{0, 3, 0, 6}, {0, 15, 6, 6}}; !equalRuns(got, want) {
		t.Errorf("slice runs %v, want %v", got, want)
	}
	if got, want := runsOf(cat), []Run{{0, 0, 0, 3}, {1, 0, 3, 6}, {0, 3, 9, 3}, {1, 6, 12, 6}}; !equalRuns(got, want) {
		t.Errorf("concat runs %v, want %v", got, want)
	}
	// The sum's gradient uses ops this executor does not run: the error names the op.
	if _, err := Compile(G.Nodes{x.Deriv()}, nil); err == nil || !strings.Contains(err.Error(), "not one the executor runs") {
		t.Errorf("compiling a graph with an unsupported op: %v", err)
	}
}

func equalRuns(a, b []Run) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
