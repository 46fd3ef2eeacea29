package textenc

import (
	"testing"

	"github.com/lumina-workbench/lumina/model/arch"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkCaptionFeatures times one caption's features (batch 1, 64 tokens: a system prompt and a
// caption) with the tiny-cpu encoder (its 270-token vocabulary) read at layer 1: in the graph Encoder
// uses (NewFeatureLM: layer 0 only), and in the full LM graph (3 layers and the vocabulary head) as the
// reference in the same run.
func BenchmarkCaptionFeatures(b *testing.B) {
	cfg, err := arch.LookupLMConfig("tiny", 270)
	if err != nil {
		b.Fatal(err)
	}
	cfg.FeatureLayer = 1
	w, err := NewLMWeights(cfg, tensor.Float32, 1)
	if err != nil {
		b.Fatal(err)
	}
	const L = 64
	ids := make([]int, L)
	for i := range ids {
		ids[i] = 1 + i*7%(cfg.Vocab-1)
	}
	for _, c := range []struct {
		name  string
		build func(*G.ExprGraph, arch.LMConfig, map[string]*tensor.Dense, tensor.Dtype, int, int) (*LM, error)
	}{{"full", NewLM}, {"features-only", NewFeatureLM}} {
		b.Run(c.name, func(b *testing.B) {
			g := G.NewGraph()
			lm, err := c.build(g, cfg, w, tensor.Float32, 1, L)
			if err != nil {
				b.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			for b.Loop() {
				if err := lm.SetTokens([][]int{ids}, []int{L}); err != nil {
					b.Fatal(err)
				}
				if err := vm.RunAll(); err != nil {
					b.Fatal(err)
				}
				vm.Reset()
			}
		})
	}
}
