package lumina

import (
	"context"
	"testing"

	"github.com/lumina-workbench/lumina/train"
)

// BenchmarkLuminaStep times real tiny-cpu steps of each kind (text encoder, low-res DiT, high-res DiT
// with the aux loss) on the preset's own batches.
func BenchmarkLuminaStep(b *testing.B) {
	p, err := train.LoadPreset("tiny-cpu", "")
	if err != nil {
		b.Fatal(err)
	}
	src, err := train.NewBatchSource(p, p.Seed)
	if err != nil {
		b.Fatal(err)
	}
	for _, stage := range []int{0, 1, 2} {
		b.Run(p.Stages[stage].Name, func(b *testing.B) {
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
			for i := 0; i < b.N; i++ {
				bt, err := src.Batch(stage, 2+i)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := m.Step(context.Background(), bt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
