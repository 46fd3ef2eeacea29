package train

import (
	"context"
	"math"
	"testing"
	"time"
)

// stopAfter wraps the real model and asks the runner to stop once n steps have been applied.
type stopAfter struct {
	*Lumina
	n, applied int
	r          *Runner
}

func (s *stopAfter) Step(ctx context.Context, b *Batch) (StepResult, error) {
	res, err := s.Lumina.Step(ctx, b)
	if err == nil {
		s.applied++
		if s.applied == s.n && s.r != nil {
			go s.r.Stop() // from another goroutine, as the TUI does
			for !s.r.stopRequested() {
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
	p := testPreset(t)
	p.Stages = p.Stages[:3] // text encoder, low-res, high-res with aux
	ref, err := NewLumina(p)
	if err != nil {
		t.Fatal(err)
	}
	refDir := t.TempDir()
	if _, err := newRunner(t, ref, p, refDir, -1, false).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := readCurve(t, refDir)

	dir := t.TempDir()
	var last *Lumina
	for i, stopAt := range []int{3, 5, 4, 0} {
		m, err := NewLumina(p)
		if err != nil {
			t.Fatal(err)
		}
		sm := &stopAfter{Lumina: m, n: stopAt}
		r := newRunner(t, sm, p, dir, -1, i > 0)
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
	sameCurve(t, want, readCurve(t, dir))
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
	for _, name := range PresetNames() {
		p, err := LoadPreset(name, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewLumina(p); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
}
