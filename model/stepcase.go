package model

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/arch"
	gu "github.com/lumina-workbench/lumina/model/graphutil"
)

// RandomStep is a training graph with aux loss whose inputs are set and not yet run: weights moved off
// the init by N(0, 0.05²) (zero-initialised layers would hide gradients), a random batch of 2 (the
// second caption 3 tokens shorter, so masks matter) and random targets, all from seed. Executors other
// than the graph's own machine are checked on it. s.Batch must be 2.
func RandomStep(cfg arch.Config, dt tensor.Dtype, s Shape, seed uint64) (*FlowLoss, error) {
	if s.Batch != 2 || s.CapLen < 4 {
		return nil, fmt.Errorf("random step: batch %d, caption length %d; want 2 and at least 4", s.Batch, s.CapLen)
	}
	w, err := NewWeights(cfg, dt, seed)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 8))
	for _, p := range cfg.ParamShapes() { // in order: the same seed moves the same weights
		gu.Jitter(w.T[p.Name], rng, 0.05)
	}
	fl, err := NewFlowLoss(w, s, true)
	if err != nil {
		return nil, err
	}
	randn := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	caps := []int{s.CapLen, s.CapLen - 3}
	img := s.Batch * cfg.Channels * s.Height * s.Width
	main := Batch{X: randn(img), T: []float64{0.3, 0.8}, Cap: randn(s.Batch * s.CapLen * cfg.CapDim), CapLens: caps}
	aux := Batch{X: randn(img / 16), T: []float64{0.6, 0.1}, Cap: main.Cap, CapLens: caps}
	if err := fl.Main.Set(cfg, main); err != nil {
		return nil, err
	}
	if err := fl.Aux.Set(cfg, aux); err != nil {
		return nil, err
	}
	if err := gu.Fill(fl.Target, randn(img)); err != nil {
		return nil, err
	}
	if err := gu.Fill(fl.AuxTarget, randn(img/16)); err != nil {
		return nil, err
	}
	return fl, nil
}
