package exec_test

import (
	"math"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/exec"
)

// runOutputs runs m and copies every output.
func runOutputs(t *testing.T, m *exec.Machine, outs G.Nodes) [][]float64 {
	t.Helper()
	if err := m.Run(); err != nil {
		t.Fatal(err)
	}
	var got [][]float64
	for _, n := range outs {
		v, err := m.Float64s(n)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	return got
}

// Two training graphs of different sizes that share an arena, run in turn, give bit for bit what each
// gives in an arena of its own, and the shared arena holds the larger one's size, not their sum: once
// the larger has run, nothing keeps the smaller arena it replaced alive.
func TestSharedArena(t *testing.T) {
	tiny, err := arch.LookupConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	var fls []*model.FlowLoss
	var want [][][]float64
	var largest int64
	for _, s := range []model.Shape{{Batch: 2, Height: 32, Width: 32, CapLen: 8}, {Batch: 2, Height: 32, Width: 32, CapLen: 48}} {
		fl, err := model.RandomStep(tiny, tensor.Float32, s, 5)
		if err != nil {
			t.Fatal(err)
		}
		m, err := exec.NewMachine(fl.Outputs()...)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, runOutputs(t, m, fl.Outputs()))
		p, err := exec.Compile(fl.Outputs(), nil)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, int64(p.ArenaSize)*4)
		fls = append(fls, fl)
	}
	before := heapAlloc() // the attention state is already there, from the runs above
	a := &exec.Arena{}
	var ms []*exec.Machine
	for _, fl := range fls {
		m, err := exec.NewMachineIn(a, fl.Outputs()...)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	for _, m := range ms {
		if err := m.Run(); err != nil {
			t.Fatal(err)
		}
	}
	held := heapAlloc() - before
	t.Logf("after both ran: heap grew %.1f MiB; the larger arena is %.1f MiB", float64(held)/(1<<20), float64(largest)/(1<<20))
	if math.Abs(float64(held-largest)) > 0.05*float64(largest) {
		t.Errorf("two machines sharing an arena hold %d bytes, want the larger arena's %d", held, largest)
	}
	for _, i := range []int{0, 1, 0, 1} {
		got := runOutputs(t, ms[i], fls[i].Outputs())
		for j := range got {
			for k := range got[j] {
				if got[j][k] != want[i][j][k] && !(math.IsNaN(got[j][k]) && math.IsNaN(want[i][j][k])) {
					t.Fatalf("graph %d in the shared arena: output %d[%d] = %v, alone %v", i, j, k, got[j][k], want[i][j][k])
				}
			}
		}
	}
	if a.Bytes() != largest {
		t.Errorf("shared arena holds %d bytes, want the larger program's %d", a.Bytes(), largest)
	}
}

func heapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// HostBytes is what a machine holds once it has run a training step (its arena and the attention's
// saved forward), measured as the growth of the live heap; the small rest is the program's own
// description.
func TestHostBytesIsWhatRunHolds(t *testing.T) {
	small, err := arch.LookupConfig("small")
	if err != nil {
		t.Fatal(err)
	}
	fl, err := model.RandomStep(small, tensor.Float32, model.Shape{Batch: 2, Height: 32, Width: 32, CapLen: 64}, 5)
	if err != nil {
		t.Fatal(err)
	}
	p, err := exec.Compile(fl.Outputs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, state := p.HostBytes(), p.OpState
	p = nil
	before := heapAlloc()
	m, err := exec.NewMachine(fl.Outputs()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(); err != nil {
		t.Fatal(err)
	}
	held := heapAlloc() - before
	runtime.KeepAlive(m)
	t.Logf("HostBytes %.1f MiB (op state %.1f MiB), heap growth %.1f MiB", float64(want)/(1<<20), float64(state)/(1<<20), float64(held)/(1<<20))
	if want < 20<<20 || math.Abs(float64(held-want)) > 0.03*float64(want) {
		t.Errorf("HostBytes %d, the machine holds %d", want, held)
	}
}

// Forward-only programs (no attention backward) in a shared arena share the attention state too: two
// forwards of different shapes give bit for bit what they give alone, and what they hold beyond the
// larger arena is one attention's state, not every attention's of both. A training program keeps its
// attention state to itself.
func TestSharedArenaSharesForwardState(t *testing.T) {
	tiny, err := arch.LookupConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	var fls []*model.FlowLoss
	var largest, allState int64
	shapes := []model.Shape{{Batch: 2, Height: 32, Width: 32, CapLen: 8}, {Batch: 2, Height: 32, Width: 32, CapLen: 48}}
	for _, s := range shapes {
		fl, err := model.RandomStep(tiny, tensor.Float32, s, 5)
		if err != nil {
			t.Fatal(err)
		}
		p, err := exec.Compile(G.Nodes{fl.Loss}, nil)
		if err != nil {
			t.Fatal(err)
		}
		own := 0
		for _, ins := range p.Instrs {
			if ins.StateUnread {
				own++
			}
		}
		train, err := exec.Compile(fl.Outputs(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, ins := range train.Instrs {
			if ins.StateUnread {
				t.Fatalf("a training program marks %s's state as its own", ins.Node.Name())
			}
		}
		// The main forward and the aux forward: the refiners' and main layers' attentions of each.
		if want := 2 * (2*tiny.Refiners + tiny.Layers); own != want {
			t.Fatalf("%d attention forwards marked in a forward-only program, want %d", own, want)
		}
		largest = max(largest, int64(p.ArenaSize)*4)
		allState += p.OpState
		fls = append(fls, fl)
	}
	before := heapAlloc()
	a := &exec.Arena{}
	var got []float64
	for _, fl := range fls {
		m, err := exec.NewMachineIn(a, fl.Loss)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, runOutputs(t, m, G.Nodes{fl.Loss})[0][0])
	}
	held := heapAlloc() - before - largest
	t.Logf("beyond the larger arena: %.2f MiB held; every attention's state would be %.2f MiB", float64(held)/(1<<20), float64(allState)/(1<<20))
	if held > allState/8 {
		t.Errorf("forward-only programs in a shared arena hold %d bytes of state, every attention's own would be %d", held, allState)
	}
	for i, s := range shapes {
		fl, err := model.RandomStep(tiny, tensor.Float32, s, 5) // the same graph, its attentions never shared
		if err != nil {
			t.Fatal(err)
		}
		m, err := exec.NewMachine(fl.Loss)
		if err != nil {
			t.Fatal(err)
		}
		if want := runOutputs(t, m, G.Nodes{fl.Loss})[0][0]; got[i] != want {
			t.Errorf("forward %d in the shared arena: loss %v, alone %v", i, got[i], want)
		}
	}
}
