package lumina

import (
	"context"
	"testing"

	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/train"
)

// BenchmarkLuminaStep times real tiny-cpu steps of each stage a full run trains (text encoder, low-res
// DiT, high-res DiT with the aux loss, high-quality tuning) on the preset's own batches, the DiT stages
// in both text injections.
func BenchmarkLuminaStep(b *testing.B) {
	base, err := train.LoadPreset("tiny-cpu", "")
	if err != nil {
		b.Fatal(err)
	}
	src, err := train.NewBatchSource(base, base.Seed)
	if err != nil {
		b.Fatal(err)
	}
	for _, inj := range []string{arch.TextJoint, arch.TextCross} {
		for _, stage := range []int{0, 1, 2, 3} {
			p := *base
			p.TextInjection = inj
			if stage == 0 && inj == arch.TextCross {
				continue // the text encoder's stage does not involve the DiT
			}
			b.Run(inj+"/"+p.Stages[stage].Name, func(b *testing.B) { benchStage(b, &p, src, stage) })
		}
	}
}

func benchStage(b *testing.B, p *train.Preset, src *train.BatchSource, stage int) {
	m, err := New(p)
	if err != nil {
		b.Fatal(err)
	}
	st := train.StageInfo{Index: stage, Stage: p.Stages[stage], Optimizer: p.Optimizer}
	if err := m.BeginStage(st); err != nil {
		b.Fatal(err)
	}
	// Warm the graph and caption caches as a running stage would have.
	for i := 0; i < 2; i++ {
		bt, _ := src.Batch(stage, i)
		if _, err := m.Step(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		bt, err := src.Batch(stage, 2+i)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.Step(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
	}
	// The process's CPU time per step: on a machine shared with other work the wall time per step
	// grows with the load, the CPU time much less, and on an idle machine the wall time lies between
	// it divided by the cores and it.
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
}
