package textenc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/arch"
	gu "github.com/lumina-workbench/lumina/model/graphutil"
)

var tinyLM = arch.LMConfig{Vocab: 20, Dim: 12, Layers: 2, Heads: 2, KVHeads: 1, MultipleOf: 8, MaxLen: 8, NormEps: 1e-5}

func lmGraph(t *testing.T, w map[string]*tensor.Dense, B, L int) (*LM, *G.Node, *G.Node, *G.Node, G.VM) {
	t.Helper()
	g := G.NewGraph()
	lm, err := NewLM(g, tinyLM, w, tensor.Float64, B, L)
	if err != nil {
		t.Fatal(err)
	}
	loss, targets, tmask, err := lm.NextTokenLoss(g, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(loss, lm.Params...); err != nil {
		t.Fatal(err)
	}
	return lm, loss, targets, tmask, G.NewTapeMachine(g, G.BindDualValues(lm.Params...))
}

// TestLMGradients checks the next-token loss gradient of every parameter tensor against central finite
// differences in float64, with padded rows.
func TestLMGradients(t *testing.T) {
	w, err := NewLMWeights(tinyLM, tensor.Float64, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, d := range w {
		v := d.Data().([]float64)
		for i := range v {
			v[i] += 0.2 * rng.NormFloat64()
		}
	}
	ids := [][]int{{2, 5, 7, 9, 11}, {2, 13, 4}}
	lens := []int{5, 3}
	lm, loss, targets, tmask, vm := lmGraph(t, w, 2, 5)
	defer vm.Close()
	tg, tm := Shift(ids, lens, 5)
	run := func() float64 {
		if err := lm.SetTokens(ids, lens); err != nil {
			t.Fatal(err)
		}
		if err := gu.Fill(targets, tg); err != nil {
			t.Fatal(err)
		}
		if err := gu.Fill(tmask, tm); err != nil {
			t.Fatal(err)
		}
		for _, p := range lm.Params {
			if g, err := p.Grad(); err == nil && g != nil {
				g.(*tensor.Dense).Zero()
			}
		}
		defer vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return loss.Value().Data().(float64)
	}
	l0 := run()
	if !(l0 > 0) {
		t.Fatalf("loss %g", l0)
	}
	var grads [][]float64
	for _, p := range lm.Params {
		g, _ := p.Grad()
		grads = append(grads, append([]float64(nil), g.Data().([]float64)...))
	}
	const h = 1e-5
	for pi, p := range tinyLM.ParamShapes() {
		d := w[p.Name].Data().([]float64)
		for _, j := range []int{0, rng.IntN(len(d)), len(d) - 1} {
			orig := d[j]
			d[j] = orig + h
			up := run()
			d[j] = orig - h
			down := run()
			d[j] = orig
			num := (up - down) / (2 * h)
			// Relative 1e-5, plus the difference quotient's own rounding noise (float64 loss rounding
			// over 2h, about 1e-10 here), which decides for gradients near zero.
			if math.Abs(num-grads[pi][j]) > 1e-5*(math.Abs(num)+math.Abs(grads[pi][j]))+1e-9 {
				t.Errorf("%s[%d]: analytic %.8g, finite difference %.8g", p.Name, j, grads[pi][j], num)
			}
		}
	}
}

// TestFeaturesAreCausalAndSecondToLast checks that a token's features ignore later tokens (the encoder
// is causal, which is why the DiT has a context refiner) and that they are the hidden states before the
// last layer: changing the last layer's weights leaves them unchanged.
func TestFeaturesAreCausalAndSecondToLast(t *testing.T) {
	enc, cfg, w := testEncoder(t, []string{"a red circle", "two blue squares", "一个红色圆形"})
	f1, L1, lens1, err := enc.Features([]string{"a red circle", "two blue squares"}, 8)
	if err != nil {
		t.Fatal(err)
	}
	f2, L2, _, err := enc.Features([]string{"a red square", "two blue squares"}, 8)
	if err != nil {
		t.Fatal(err)
	}
	if L1 != L2 || lens1[0] != 4 {
		t.Fatalf("lengths %d %d %v, want <bos> + 3 tokens", L1, L2, lens1)
	}
	D := cfg.Dim
	same := func(a, b []float64) bool {
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	// Tokens 0..2 (<bos> a red) are shared; token 3 differs.
	if !same(f1[:3*D], f2[:3*D]) {
		t.Fatal("features of earlier tokens changed when a later token changed: not causal")
	}
	if same(f1[3*D:4*D], f2[3*D:4*D]) {
		t.Fatal("features of the changed token did not change")
	}
	last := w[tokLast(cfg)].Data().([]float64)
	for i := range last {
		last[i] *= 3
	}
	f3, _, _, err := enc.Features([]string{"a red circle", "two blue squares"}, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !same(f1, f3) {
		t.Fatal("features depend on the last layer: they should be hidden_states[-2]")
	}
	empty, _, lens, err := enc.Features([]string{""}, 8)
	if err != nil || lens[0] != 1 || len(empty) != D {
		t.Fatalf("empty caption: %v lens %v len %d, want one <bos> token", err, lens, len(empty))
	}
}

// testEncoder is a float64 encoder of the tiny test LM over a vocabulary built from corpus, closed when
// the test ends.
func testEncoder(t *testing.T, corpus []string) (*Encoder, arch.LMConfig, map[string]*tensor.Dense) {
	t.Helper()
	tok, err := Build(corpus, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tinyLM
	cfg.Vocab = tok.Size()
	w, err := NewLMWeights(cfg, tensor.Float64, 1)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncoder(tok, cfg, w, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(enc.Close)
	return enc, cfg, w
}

func tokLast(c arch.LMConfig) string { return fmt.Sprintf("layers.%d.ffn.w2.weight", c.Layers-1) }

// With PromptOnly the DiT gets <bos> and the prompt's tokens, with the very features the full sequence
// has at those positions (so computed after the system prompt), cut to maxLen kept tokens; a text
// without a system prompt is unchanged.
func TestFeaturesPromptOnly(t *testing.T) {
	sys := "be helpful . <Prompt Start> "
	enc, cfg, _ := testEncoder(t, []string{"a red circle", "two blue squares", sys})
	texts := []string{sys + "a red circle", "two blue squares", sys}
	full, fullL, fullLens, err := enc.Features(texts, cfg.MaxLen)
	if err != nil {
		t.Fatal(err)
	}
	enc.PromptOnly = true
	got, L, lens, err := enc.Features(texts, 3)
	if err != nil {
		t.Fatal(err)
	}
	// <bos> be helpful . <Prompt Start> a red circle: kept <bos>, a, red (cut at 3).
	// two blue squares: <bos>, two, blue. The bare system prompt: <bos> alone.
	wantPos := [][]int{{0, 5, 6}, {0, 1, 2}, {0}}
	if fullLens[0] != 8 || L != 3 || lens[0] != 3 || lens[1] != 3 || lens[2] != 1 {
		t.Fatalf("lengths: full %v, kept L %d %v", fullLens, L, lens)
	}
	D := cfg.Dim
	for b, pos := range wantPos {
		for j := 0; j < L; j++ {
			row := got[(b*L+j)*D : (b*L+j+1)*D]
			for d, v := range row {
				want := 0.0
				if j < len(pos) {
					want = full[(b*fullL+pos[j])*D+d]
				}
				if v != want {
					t.Fatalf("text %d kept row %d dim %d: %v, want %v", b, j, d, v, want)
				}
			}
		}
	}
	// The prompt's features depend on the system prompt before it (the LM is causal, not blind).
	plain, _, _, err := enc.Features([]string{"a red circle"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if plain[D] == got[D] {
		t.Fatal("a prompt token's features ignore the system prompt")
	}
	if _, err := arch.ParseCaptionContext("prompts"); err == nil {
		t.Fatal("an unknown caption context was accepted")
	}
}

// FeatureLayer 1 of a 3-layer encoder reads the residual stream after its first layer: exactly the
// default features of a 2-layer encoder built on the same first layers' weights, different from the
// 3-layer default, and untouched by the weights of layers after it.
func TestFeatureLayer(t *testing.T) {
	corpus := []string{"a red circle", "two blue squares"}
	tok, err := Build(corpus, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	cfg3 := tinyLM
	cfg3.Vocab, cfg3.Layers = tok.Size(), 3
	w, err := NewLMWeights(cfg3, tensor.Float64, 1)
	if err != nil {
		t.Fatal(err)
	}
	feats := func(cfg arch.LMConfig) []float64 {
		t.Helper()
		enc, err := NewEncoder(tok, cfg, w, tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		f, _, _, err := enc.Features(corpus, 8)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	early := cfg3
	early.FeatureLayer = 1
	two := cfg3
	two.Layers = 2
	got, want, late := feats(early), feats(two), feats(cfg3)
	maxDiff := func(a, b []float64) float64 {
		d := 0.0
		for i := range a {
			d = max(d, math.Abs(a[i]-b[i]))
		}
		return d
	}
	if d := maxDiff(got, want); d != 0 {
		t.Fatalf("feature_layer 1 differs from a 2-layer encoder's features by %g", d)
	}
	if d := maxDiff(got, late); d < 1e-3 {
		t.Fatalf("feature_layer 1 equals the default hidden_states[-2] (max diff %g)", d)
	}
	layer1 := w["layers.1.ffn.w2.weight"].Data().([]float64)
	for i := range layer1 {
		layer1[i] *= 3
	}
	if d := maxDiff(feats(early), got); d != 0 {
		t.Fatalf("feature_layer 1 depends on layer 1's weights (max diff %g)", d)
	}
	for _, bad := range []int{-1, 3} {
		c := cfg3
		c.FeatureLayer = bad
		if err := c.Validate(); err == nil {
			t.Errorf("feature_layer %d of 3 layers validated", bad)
		}
	}
}

// TestFeatureLMMatchesFullGraph: the truncated feature graph gives the full graph's features bit for bit
// (float32, the training dtype), at the default depth and at an earlier layer, and has no vocabulary head.
func TestFeatureLMMatchesFullGraph(t *testing.T) {
	cfg := tinyLM
	cfg.Layers, cfg.Vocab = 3, 30
	ids := [][]int{{1, 5, 9, 3}, {1, 7, 2, 0}}
	lens := []int{4, 3}
	for _, layer := range []int{0, 1} {
		c := cfg
		c.FeatureLayer = layer
		w, err := NewLMWeights(c, tensor.Float32, 3)
		if err != nil {
			t.Fatal(err)
		}
		run := func(build func(*G.ExprGraph, arch.LMConfig, map[string]*tensor.Dense, tensor.Dtype, int, int) (*LM, error)) ([]float32, *LM) {
			t.Helper()
			g := G.NewGraph()
			lm, err := build(g, c, w, tensor.Float32, 2, 4)
			if err != nil {
				t.Fatal(err)
			}
			if err := lm.SetTokens(ids, lens); err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			return append([]float32(nil), lm.Features.Value().Data().([]float32)...), lm
		}
		full, fullLM := run(NewLM)
		cut, cutLM := run(NewFeatureLM)
		if fullLM.Logits == nil || cutLM.Logits != nil {
			t.Fatalf("feature_layer %d: logits full %v, truncated %v; want only the full graph to have them", layer, fullLM.Logits != nil, cutLM.Logits != nil)
		}
		if len(full) != len(cut) {
			t.Fatalf("feature_layer %d: %d features against %d", layer, len(cut), len(full))
		}
		for i := range full {
			if full[i] != cut[i] {
				t.Fatalf("feature_layer %d: feature %d is %g in the truncated graph, %g in the full one", layer, i, cut[i], full[i])
			}
		}
	}
}
