package pipeline

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/model/ckpt/ckpttest"
)

func noise(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 9))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func maxRel(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		num = math.Max(num, math.Abs(float64(a[i]-b[i])))
		den = math.Max(den, math.Abs(float64(b[i])))
	}
	return num / den
}

// TestPipelineMatchesWholeModel checks that the split graphs (before / main / final) compute what the
// one-graph model computes, on a CFG-style batch whose captions have different lengths, in both text
// injections.
func TestPipelineMatchesWholeModel(t *testing.T) {
	for _, cfg := range []arch.Config{ckpttest.Config, ckpttest.CrossConfig} {
		t.Run(cfg.Injection(), func(t *testing.T) { pipelineMatchesWholeModel(t, cfg) })
	}
}

func pipelineMatchesWholeModel(t *testing.T, cfg arch.Config) {
	b := ckpttest.BundleOf(t, cfg)
	p, err := New(b)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	x := noise(2*3*16*8, 1)
	cond := []infer.Cond{{Text: "a red circle on the left"}, {Text: ""}}
	st, err := p.Begin(x, [4]int{2, 3, 16, 8}, []float32{0.3, 0.3}, cond)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Main(st, []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	got, err := p.Finish(st)
	if err != nil {
		t.Fatal(err)
	}
	// The same forward through one model graph, features from the encoder directly.
	feats, L, lens, err := p.enc.Features([]string{cond[0].Text, cond[1].Text}, MaxCaptionTokens)
	if err != nil {
		t.Fatal(err)
	}
	f, err := model.NewForwardGraph(b.DiT, model.Shape{Batch: 2, Height: 16, Width: 8, CapLen: L})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	xs := make([]float64, len(x))
	for i, v := range x {
		xs[i] = float64(v)
	}
	want64, err := f.Run(model.Batch{X: xs, T: []float64{0.3, 0.3}, Cap: feats, CapLens: lens})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(want64))
	for i, v := range want64 {
		want[i] = float32(v)
	}
	if e := maxRel(got, want); e > 1e-5 {
		t.Fatalf("split pipeline differs from the whole model by %.3g", e)
	}
}

// TestPipelineResidualReuse checks the TeaCache contract: a residual taken from the cond sample in a
// batch of 2 and applied to the same input in a batch of 1 (as after CFG-Trunc) reproduces the
// computed main layers exactly, on that sample's valid tokens, in both text injections.
func TestPipelineResidualReuse(t *testing.T) {
	for _, cfg := range []arch.Config{ckpttest.Config, ckpttest.CrossConfig} {
		t.Run(cfg.Injection(), func(t *testing.T) { pipelineResidualReuse(t, cfg) })
	}
}

func pipelineResidualReuse(t *testing.T, cfg arch.Config) {
	p, err := New(ckpttest.BundleOf(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	shape2, shape1 := [4]int{2, 3, 8, 8}, [4]int{1, 3, 8, 8}
	x := noise(2*3*8*8, 3)
	cond := []infer.Cond{{Text: "two blue squares"}, {Text: ""}}
	st, err := p.Begin(x, shape2, []float32{0.5, 0.5}, cond)
	if err != nil {
		t.Fatal(err)
	}
	m0, _ := p.Modulated(st, 0)
	if err := p.Main(st, []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	r, err := p.Residual(st, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Batch of 1, cond only: computed vs. cached.
	one := x[:3*8*8]
	st1, _ := p.Begin(one, shape1, []float32{0.5}, cond[:1])
	if m1, _ := p.Modulated(st1, 0); maxRel(m1, m0) > 1e-6 {
		t.Fatalf("modulated input depends on the batch: %.3g", maxRel(m1, m0))
	}
	if err := p.Main(st1, []int{0}); err != nil {
		t.Fatal(err)
	}
	computed, _ := p.Finish(st1)
	st2, _ := p.Begin(one, shape1, []float32{0.5}, cond[:1])
	if err := p.ApplyResidual(st2, 0, r); err != nil {
		t.Fatal(err)
	}
	cached, _ := p.Finish(st2)
	if e := maxRel(cached, computed); e > 1e-5 {
		t.Fatalf("cached residual reproduces the main layers only to %.3g", e)
	}
	if err := p.ApplyResidual(st2, 0, r[:len(r)-1]); err == nil {
		t.Fatal("a residual of the wrong length was accepted")
	}
}

// TestPipelineSampleDeterministic samples twice with every acceleration on and gets the same bytes,
// and checks TeaCache at threshold 0 changes nothing, in both text injections.
func TestPipelineSampleDeterministic(t *testing.T) {
	for _, cfg := range []arch.Config{ckpttest.Config, ckpttest.CrossConfig} {
		t.Run(cfg.Injection(), func(t *testing.T) { pipelineSampleDeterministic(t, cfg) })
	}
}

func pipelineSampleDeterministic(t *testing.T, cfg arch.Config) {
	p, err := New(ckpttest.BundleOf(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	req := infer.Request{Prompts: []string{"a red circle on the left"}, Shape: [3]int{3, 8, 8}}
	opts := infer.DefaultSampleOptions()
	opts.Steps, opts.Trunc = 6, 0.6
	run := func(o infer.SampleOptions) []float32 {
		res, err := infer.Sample(context.Background(), p, req, o)
		if err != nil {
			t.Fatal(err)
		}
		return res.Images[0]
	}
	a, b := run(opts), run(opts)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed and settings gave different images")
		}
	}
	tea := opts
	tea.TeaCache, tea.TeaCoeffs = 1e-12, []float64{1, 0}
	c := run(tea)
	for i := range a {
		if a[i] != c[i] {
			t.Fatal("TeaCache that never skips changed the image")
		}
	}
}

// The checkpoint's caption context reaches the encoder: a "prompt" checkpoint keeps <bos> and the tokens
// after <Prompt Start> only; an unknown context is refused with its name.
func TestPipelineCaptionContext(t *testing.T) {
	b := ckpttest.Bundle(t)
	b.Meta = map[string]string{ckpt.MetaCaptionContext: arch.CaptionContextPrompt}
	p, err := New(b)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f, err := p.features("two blue squares <Prompt Start> a red circle")
	if err != nil {
		t.Fatal(err)
	}
	if f.n != 4 { // <bos> a red circle
		t.Fatalf("prompt context kept %d tokens, want 4", f.n)
	}
	b.Meta[ckpt.MetaCaptionContext] = "everything"
	if _, err := New(b); err == nil || !strings.Contains(err.Error(), "everything") {
		t.Fatalf("unknown caption context: %v", err)
	}
}

// TestCaptionTokensMatchFeatures: CaptionTokens reports exactly what features keeps, in both caption
// contexts, for captions under, at and over the length limit (system prompt or not).
func TestCaptionTokensMatchFeatures(t *testing.T) {
	words := strings.Fields(strings.Repeat("a red circle on the left ", 30))
	for _, context := range []string{arch.CaptionContextFull, arch.CaptionContextPrompt} {
		b := ckpttest.Bundle(t)
		b.Meta = map[string]string{ckpt.MetaCaptionContext: context, ckpt.MetaCaptionTokens: "10"}
		p, err := New(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 5, 8, 9, 10, 30, len(words)} {
			body := strings.Join(words[:n], " ")
			for _, text := range []string{body, "two blue squares <Prompt Start> " + body} {
				kept, total, err := p.CaptionTokens(text)
				if err != nil {
					t.Fatal(err)
				}
				f, err := p.features(text)
				if err != nil {
					t.Fatal(err)
				}
				if kept != f.n || kept > p.MaxCaption() || (total > kept) != (total > p.MaxCaption()) {
					t.Errorf("%s, %q: CaptionTokens %d of %d, features kept %d (limit %d)", context, text, kept, total, f.n, p.MaxCaption())
				}
			}
		}
		p.Close()
	}
}

// TestLoadRefusesUntrainedDiT: a checkpoint whose DiT is at its initialisation (a stage-0 checkpoint)
// is refused for sampling, naming the file and what to use instead.
func TestLoadRefusesUntrainedDiT(t *testing.T) {
	b := ckpttest.Bundle(t)
	for _, n := range []string{"final.weight", "final.bias"} {
		clear(b.DiT.T[n].Data().([]float32))
	}
	// Written as the trainer writes a checkpoint: the bundle's file plus the training metadata.
	ts, meta, err := ckpt.BundleFile(b)
	if err != nil {
		t.Fatal(err)
	}
	meta[ckpt.MetaTrainKind], meta[ckpt.MetaTrainStage] = ckpt.TrainKindTextEncoder, "0"
	path := filepath.Join(t.TempDir(), "s0-final.safetensors")
	if err := ckpt.Save(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if err == nil || !strings.Contains(err.Error(), "checkpoint "+path+" holds no trained DiT: it is a stage-0 checkpoint") ||
		!strings.Contains(err.Error(), "final.safetensors") {
		t.Fatalf("stage-0 checkpoint: %v", err)
	}
	if p, err := Load(ckpttest.Save(t)); err != nil {
		t.Fatalf("trained checkpoint refused: %v", err)
	} else {
		p.Close()
	}
}

// Prompts of more caption lengths than keepShapes leave at most keepShapes shapes of graphs, and a
// prompt whose graphs were let go samples the same image when they are built again.
func TestPipelineKeepsFewShapes(t *testing.T) {
	p, err := New(ckpttest.BundleOf(t, ckpttest.Config))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	opts := infer.DefaultSampleOptions()
	opts.Steps = 2
	prompts := []string{"a", "a red circle", "a red circle on the left", "a red circle on the left of a blue square",
		"two green triangles", "a big yellow square above a small purple circle on a gray background"}
	lengths := map[int]bool{}
	var first []float32
	for _, text := range append(prompts, prompts[0]) {
		kept, _, err := p.CaptionTokens(text)
		if err != nil {
			t.Fatal(err)
		}
		lengths[kept] = true
		res, err := infer.Sample(context.Background(), p, infer.Request{Prompts: []string{text}, Shape: [3]int{3, 8, 8}}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if p.pre.Len() > keepShapes || p.post.Len() > keepShapes || p.main.Len() > 2*keepShapes {
			t.Fatalf("graphs of %d, %d and %d shapes kept, want at most %d", p.pre.Len(), p.main.Len(), p.post.Len(), keepShapes)
		}
		if first == nil {
			first = res.Images[0]
		} else if text == prompts[0] {
			for i := range first {
				if first[i] != res.Images[0][i] {
					t.Fatal("the first prompt's image changed once its graphs were built again")
				}
			}
		}
	}
	if len(lengths) <= keepShapes {
		t.Fatalf("the prompts have %d caption lengths: the test needs more than %d", len(lengths), keepShapes)
	}
}
