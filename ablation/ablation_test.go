package ablation

import (
	"bytes"
	"context"
	"image"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/data"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/infer/pipeline"
	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/model/textenc"
)

func testPipeline(t *testing.T) *pipeline.Pipeline {
	t.Helper()
	cfg := arch.Config{Name: "t", Dim: 24, Layers: 2, Heads: 4, KVHeads: 2, AxesDims: [3]int{2, 2, 2}, MultipleOf: 16,
		Refiners: 1, Patch: 4, Channels: 3, CapDim: 16, FreqDim: 32, AdaLNMax: 1024, NormEps: 1e-5}
	w, _ := model.NewWeights(cfg, tensor.Float32, 1)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, v := range w.T {
		d := v.Data().([]float32)
		for i := range d {
			d[i] += float32(0.2 * rng.NormFloat64())
		}
	}
	tok, _ := textenc.Build([]string{"a red circle", "two blue squares"}, 1, 100)
	tc := arch.LMConfig{Vocab: tok.Size(), Dim: 16, Layers: 2, Heads: 2, KVHeads: 1, MultipleOf: 16, MaxLen: 128, NormEps: 1e-5}
	tw, _ := textenc.NewLMWeights(tc, tensor.Float32, 3)
	p, err := pipeline.New(&ckpt.Bundle{DiT: w, TextCfg: tc, TextW: tw, Tokenizer: tok})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompare(t *testing.T) {
	p := testPipeline(t)
	defer p.Close()
	prompts, _ := data.Suite("quick")
	strategies := DefaultStrategies(10, []float64{1, 0}, []float64{0.05, 0.2, 1})
	for i := range strategies {
		if strategies[i].Options.Solver == infer.SolverFDPM {
			strategies[i].Options.Steps = 6 // keep the test fast
		}
	}
	rows, err := Compare(context.Background(), p, Config{Prompts: prompts[:3], System: infer.System{None: true}, Width: 16, Height: 16, Seed: 1}, strategies)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(strategies) {
		t.Fatalf("%d rows for %d strategies", len(rows), len(strategies))
	}
	if !math.IsInf(rows[0].PSNR, 1) || rows[0].Speedup != 1 || rows[0].NFE != 9 || rows[0].Forwards != 18 {
		t.Fatalf("baseline row %+v: want identical to itself, speed-up 1, 9 NFE of batch 2", rows[0])
	}
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	if r := byName["+trunc 0.25"]; r.Forwards >= 18 || r.NFE != 9 {
		t.Fatalf("trunc row %+v: NFE stays 9, forwards drop below 18", r)
	}
	if r := byName["+renorm 1"]; math.IsInf(r.PSNR, 1) {
		t.Fatal("renorm changed nothing on a random model with CFG 4")
	}
	if byName["teacache 1"].Skipped < byName["teacache 0.05"].Skipped || byName["teacache 1"].Skipped == 0 {
		t.Fatalf("TeaCache skips should grow with the threshold: %v vs %v", byName["teacache 0.05"].Skipped, byName["teacache 1"].Skipped)
	}
	var buf bytes.Buffer
	WriteTable(&buf, rows, true)
	if !strings.Contains(buf.String(), "| baseline: euler 10, full CFG | 9 | 18 |") {
		t.Fatalf("table:\n%s", buf.String())
	}
}

func TestMSE(t *testing.T) {
	a := image.NewRGBA(image.Rect(0, 0, 2, 1))
	b := image.NewRGBA(image.Rect(0, 0, 2, 1))
	b.Pix[0] = 255 // one channel of six differs by 1.0
	if got := MSE(a, b); math.Abs(got-1.0/6) > 1e-12 {
		t.Fatalf("MSE %g, want 1/6", got)
	}
	if got := psnr(1.0 / 6); math.Abs(got-10*math.Log10(6)) > 1e-9 {
		t.Fatalf("PSNR %g", got)
	}
}
