package exec

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestPlanByHand lays out a chain a → b → c → d → e by hand: the input a and the output e are pinned;
// b lives over instructions 1–2, c over 2–3, d over 3–4. Largest first: b at 0; d at 0 too, b being dead
// by then; a at 8 (alive with both); c at 12; e at 14. An arena of 15 for 23 floats of buffers.
func TestPlanByHand(t *testing.T) {
	p := &Program{
		Values: []Value{{Size: 4, Buf: 0}, {Size: 8, Buf: 1}, {Size: 2, Buf: 2}, {Size: 8, Buf: 3}, {Size: 1, Buf: 4}},
		Instrs: []Instr{{Kind: Input, Out: 0}, {Kind: Compute, In: []int{0}, Out: 1}, {Kind: Compute, In: []int{1}, Out: 2},
			{Kind: Compute, In: []int{2}, Out: 3}, {Kind: Compute, In: []int{3}, Out: 4}},
		Buffers: []Buffer{{Size: 4}, {Size: 8}, {Size: 2}, {Size: 8}, {Size: 1}},
		Outputs: []int{4},
	}
	p.plan()
	if err := p.CheckLayout(); err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, b := range p.Buffers {
		got = append(got, b.Offset)
	}
	if want := []int{8, 0, 12, 0, 14}; fmt.Sprint(got) != fmt.Sprint(want) || p.ArenaSize != 15 || p.BufferTotal != 23 {
		t.Errorf("offsets %v, arena %d, total %d; want %v, 15, 23", got, p.ArenaSize, p.BufferTotal, want)
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
	if got, want := runsOf(sl), []Run{{0, 3, 0, 6}, {0, 15, 6, 6}}; !slices.Equal(got, want) {
		t.Errorf("slice runs %v, want %v", got, want)
	}
	if got, want := runsOf(cat), []Run{{0, 0, 0, 3}, {1, 0, 3, 6}, {0, 3, 9, 3}, {1, 6, 12, 6}}; !slices.Equal(got, want) {
		t.Errorf("concat runs %v, want %v", got, want)
	}
	// The sum's gradient uses ops this executor does not run: the error names the op.
	if _, err := Compile(G.Nodes{x.Deriv()}, nil); err == nil || !strings.Contains(err.Error(), "not one the executor runs") {
		t.Errorf("compiling a graph with an unsupported op: %v", err)
	}
}
