package model

import (
	"math/rand/v2"
	"testing"

	"github.com/lumina-workbench/lumina/model/arch"
	"gorgonia.org/tensor"
)

// BenchmarkTrainStep times forward + backward of the tiny config at the PyTorch reference's default shape
// (batch 16, 32×32, patch 4, 48 caption tokens of which 36 real). `lumina bench train` adds AdamW
// and the PyTorch reference side by side.
func BenchmarkTrainStep(b *testing.B) {
	cfg, _ := arch.LookupConfig("tiny")
	w, err := NewWeights(cfg, tensor.Float32, 1)
	if err != nil {
		b.Fatal(err)
	}
	s := Shape{Batch: 16, Height: 32, Width: 32, CapLen: 48}
	fl, err := NewFlowLoss(w, s, false)
	if err != nil {
		b.Fatal(err)
	}
	defer fl.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	randn := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	batch := Batch{X: randn(16 * 3 * 32 * 32), Cap: randn(16 * 48 * cfg.CapDim), T: randn(16)[:16], CapLens: make([]int, 16)}
	for i := range batch.CapLens {
		batch.CapLens[i] = 36
		batch.T[i] = rng.Float64()
	}
	target := randn(len(batch.X))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := fl.Step(batch, target, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
