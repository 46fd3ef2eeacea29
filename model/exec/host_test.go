package exec_test

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/exec"
)

// flowLossCase is model.RandomStep run once by Gorgonia's tape machine.
func flowLossCase(t *testing.T, cfg arch.Config, dt tensor.Dtype, s model.Shape) *model.FlowLoss {
	t.Helper()
	fl, err := model.RandomStep(cfg, dt, s, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fl.Close() })
	// Gorgonia's own machine computes the reference (the model's graphs run on exec.Machine).
	vm := G.NewTapeMachine(fl.Graph, G.BindDualValues(fl.Model.Params...))
	t.Cleanup(func() { vm.Close() })
	if err := vm.RunAll(); err != nil {
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
	outs := fl.Outputs()
	var ext G.Nodes
	if external {
		ext = append(append(ext, fl.Model.Params...), fl.GradNodes...)
	}
	p, err := exec.Compile(outs, ext)
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
	h, err := exec.NewHost[T](p)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	for i, n := range outs {
		got, err := h.Output(n)
		if err != nil {
			t.Fatal(err)
		}
		var want []T
		if i < 3 {
			want = []T{n.Value().Data().(T)}
		} else {
			g, err := fl.Model.Params[i-3].Grad()
			if err != nil {
				t.Fatal(err)
			}
			want = g.Data().([]T)
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
	p, err := fl.Program()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckLayout(); err != nil {
		t.Fatal(err)
	}
}
