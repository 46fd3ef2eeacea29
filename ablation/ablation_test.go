package ablation

import (
	"bytes"
	"context"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/infer/pipeline"
	"github.com/lumina-workbench/lumina/model/ckpt/ckpttest"
)

func testPipeline(t *testing.T) *pipeline.Pipeline {
	t.Helper()
	p, err := pipeline.New(ckpttest.Bundle(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompare(t *testing.T) {
	p := testPipeline(t)
	defer p.Close()
	prompts, _ := toyeval.Suite("quick")
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
