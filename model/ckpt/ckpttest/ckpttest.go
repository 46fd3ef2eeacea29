// Package ckpttest makes small random checkpoint bundles for tests that need a real model (the sampling
// pipeline, the command line, sweeps) and want it to run in milliseconds. Nothing in the shipped binary
// imports it.
package ckpttest

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/model/textenc"
)

// Config is the test bundle's Next-DiT: two main layers, one refiner of each kind, patch 4.
var Config = arch.Config{Name: "test", Dim: 24, Layers: 2, Heads: 4, KVHeads: 2, AxesDims: [3]int{2, 2, 2}, MultipleOf: 16,
	Refiners: 1, Patch: 4, Channels: 3, CapDim: 16, FreqDim: 32, AdaLNMax: 1024, NormEps: 1e-5}

// CrossConfig is Config with the caption read by cross-attention (arch.TextCross).
var CrossConfig = func() arch.Config { c := Config; c.Name, c.TextInjection = "test-cross", arch.TextCross; return c }()

// Corpus is the test tokenizer's vocabulary source: English words and Chinese characters.
var Corpus = []string{"a red circle on the left", "two blue squares", "一个红色圆形"}

// Bundle is a random float32 model of Config with a text encoder over Corpus. The DiT's weights are
// perturbed off the reference init, whose zero adaLN and final layers would make every output 0.
func Bundle(t testing.TB) *ckpt.Bundle {
	t.Helper()
	return BundleOf(t, Config)
}

// BundleOf is Bundle with the Next-DiT config cfg (its caption width must be Config's).
func BundleOf(t testing.TB, cfg arch.Config) *ckpt.Bundle {
	t.Helper()
	w, err := model.NewWeights(cfg, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, p := range cfg.ParamShapes() {
		d := w.T[p.Name].Data().([]float32)
		for i := range d {
			d[i] += float32(0.2 * rng.NormFloat64())
		}
	}
	tok, err := textenc.Build(Corpus, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	tc := arch.LMConfig{Vocab: tok.Size(), Dim: cfg.CapDim, Layers: 2, Heads: 2, KVHeads: 1, MultipleOf: 16, MaxLen: 128, NormEps: 1e-5}
	tw, err := textenc.NewLMWeights(tc, tensor.Float32, 2)
	if err != nil {
		t.Fatal(err)
	}
	return &ckpt.Bundle{DiT: w, TextCfg: tc, TextW: tw, Tokenizer: tok}
}

// Save writes Bundle to a file in a temporary folder and returns its path.
func Save(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.safetensors")
	if err := ckpt.SaveBundle(path, Bundle(t)); err != nil {
		t.Fatal(err)
	}
	return path
}
