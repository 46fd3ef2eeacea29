package train_test

// The runner with the real networks (train/lumina) rather than the test's fake model.

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/train/lumina"
)

// stopAfter wraps the real model and asks the runner to stop once n steps have been applied.
type stopAfter struct {
	*lumina.Model
	n, applied int
	r          *train.Runner
}

func (s *stopAfter) Step(ctx context.Context, b *train.Batch) (train.StepResult, error) {
	res, err := s.Model.Step(ctx, b)
	if err == nil {
		s.applied++
		if s.applied == s.n && s.r != nil {
			go s.r.Stop() // from another goroutine, as the TUI does
			for !s.r.StopRequested() {
				time.Sleep(time.Millisecond)
			}
		}
	}
	return res, err
}

// TestLuminaResumeIsBitIdentical trains the real text encoder and Next-DiT through every stage of a
// cut-down preset, once straight through and once stopped and resumed three times (inside the text
// encoder stage, inside a DiT stage, and in the aux-loss stage), and requires bit-identical loss
// curves and final weights.
func TestLuminaResumeIsBitIdentical(t *testing.T) {
	p := train.ShortPreset(t)
	p.Stages = p.Stages[:3] // text encoder, low-res, high-res with aux
	ref, err := lumina.New(p)
	if err != nil {
		t.Fatal(err)
	}
	refDir := t.TempDir()
	if _, err := train.RunnerFor(t, ref, p, refDir, -1, false).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := train.ReadCurve(t, refDir)

	dir := t.TempDir()
	var last *lumina.Model
	for i, stopAt := range []int{3, 5, 4, 0} {
		m, err := lumina.New(p)
		if err != nil {
			t.Fatal(err)
		}
		sm := &stopAfter{Model: m, n: stopAt}
		r := train.RunnerFor(t, sm, p, dir, -1, i > 0)
		sm.r = r
		sum, err := r.Run(context.Background())
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if (stopAt > 0) != sum.Stopped {
			t.Fatalf("part %d: stopped = %v", i, sum.Stopped)
		}
		last = m
	}
	train.SameCurve(t, want, train.ReadCurve(t, dir))
	for name, w := range ref.DiT.T {
		a, b := w.Data().([]float32), last.DiT.T[name].Data().([]float32)
		for j := range a {
			if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
				t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", name, j, b[j], a[j])
			}
		}
	}
}

// TestEveryPresetBuildsItsModel catches presets whose model, text encoder and patch do not fit together.
func TestEveryPresetBuildsItsModel(t *testing.T) {
	for _, name := range train.PresetNames() {
		p, err := train.LoadPreset(name, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lumina.New(p); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
}
