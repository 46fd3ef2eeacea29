package exec

import (
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
)

// flowLossCase is model.RandomStep run once by Gorgonia's tape machine.
func flowLossCase(t *testing.T, cfg arch.Config, dt tensor.Dtype, s model.Shape) *model.FlowLoss {
	t.Helper()
	fl, err := model.RandomStep(cfg, dt, s, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fl.Close() })
	if _, err := fl.RunSet(); err != nil {
		t.Fatal(err)
	}
	return fl
}

// TestHostMatchesTapeMachine runs a whole training step (two forwards, the loss, every parameter's
// gradient) through the compiled program and requires bit-identical results to Gorgonia's machine:
// the same kernels run, so any difference is the program's (an op out of order, a wrong view, a
// move's runs, or two live values sharing arena memory).
func TestHostMatchesTapeMachine(t *testing.T) {
	tiny, err := arch.LookupConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cross := tiny
	cross.TextInjection = arch.TextCross
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"tiny-f32, weights and gradients external", func(t *testing.T) {
			hostMatches[float32](t, flowLossCase(t, tiny, tensor.Float32, model.Shape{Batch: 2, Height: 16, Width: 16, CapLen: 8}), true)
		}},
		{"cross-f64", func(t *testing.T) {
			hostMatches[float64](t, flowLossCase(t, cross, tensor.Float64, model.Shape{Batch: 2, Height: 16, Width: 16, CapLen: 8}), false)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

func hostMatches[T float32 | float64](t *testing.T, fl *model.FlowLoss, external bool) {
	t.Helper()
	outs := append(G.Nodes{fl.Loss, fl.MainLoss, fl.AuxLoss}, fl.GradNodes...)
	var ext G.Nodes
	if external {
		ext = append(append(ext, fl.Model.Params...), fl.GradNodes...)
	}
	p, err := Compile(outs, ext)
	if err != nil {
		t.Fatal(err)
	}
	if external {
		n := 0
		for _, b := range p.Buffers {
			if b.External {
				n++
			}
		}
		if n < len(fl.Model.Params) {
			t.Errorf("%d external buffers for %d parameters and their gradients", n, len(fl.Model.Params))
		}
	}
	if p.ArenaSize >= p.BufferTotal {
		t.Errorf("arena of %d elements for %d in buffers: nothing reused", p.ArenaSize, p.BufferTotal)
	}
	t.Logf("%d instructions, arena %d elements, %d without reuse (%.0f%%)", len(p.Instrs), p.ArenaSize, p.BufferTotal, 100*float64(p.ArenaSize)/float64(p.BufferTotal))
	h, err := NewHost[T](p)
	if err != nil {
		t.Fatal(err)
	}
	// Garbage in the arena, so a value read before it is written shows.
	for i := range h.arena {
		h.arena[i] = T(i%7) - 3
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	grads := fl.Grads()
	for i, n := range outs {
		got, err := h.Output(n)
		if err != nil {
			t.Fatal(err)
		}
		var want []T
		if i < 3 {
			want = []T{n.Value().Data().(T)}
		} else {
			want = grads[i-3].Data().([]T)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d elements, want %d", n.Name(), len(got), len(want))
		}
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("output %d (%s) element %d: program %v, tape machine %v", i, n.Name(), j, got[j], want[j])
			}
		}
	}
}

// TestPlanNeverSharesLiveMemory checks the arena layout of a real training program directly: two
// buffers alive at the same instruction never overlap, and every buffer fits the arena.
func TestPlanNeverSharesLiveMemory(t *testing.T) {
	tiny, _ := arch.LookupConfig("tiny")
	fl := flowLossCase(t, tiny, tensor.Float32, model.Shape{Batch: 2, Height: 16, Width: 16, CapLen: 8})
	p, err := Compile(append(G.Nodes{fl.Loss}, fl.GradNodes...), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p)
}

func checkPlan(t *testing.T, p *Program) {
	t.Helper()
	for i, a := range p.Buffers {
		if a.Offset < 0 || a.Offset+a.Size > p.ArenaSize {
			t.Fatalf("buffer %d [%d, %d) outside the arena of %d", i, a.Offset, a.Offset+a.Size, p.ArenaSize)
		}
		if a.First < 0 || a.Last < a.First {
			t.Fatalf("buffer %d lives [%d, %d]", i, a.First, a.Last)
		}
		for j := i + 1; j < len(p.Buffers); j++ {
			b := p.Buffers[j]
			live := a.First <= b.Last && b.First <= a.Last
			overlap := a.Offset < b.Offset+b.Size && b.Offset < a.Offset+a.Size
			if live && overlap {
				t.Fatalf("buffers %d [%d, %d) and %d [%d, %d) overlap while both live (%d–%d, %d–%d)",
					i, a.Offset, a.Offset+a.Size, j, b.Offset, b.Offset+b.Size, a.First, a.Last, b.First, b.Last)
			}
		}
	}
}

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
	checkPlan(t, p)
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
	checkPlan(t, p)
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
