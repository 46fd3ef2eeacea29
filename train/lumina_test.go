package train

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/ckpt"
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

// The preset's rope_grid reaches the model, travels in the exported bundle (so the sampler places
// patches as training did), and a run folder trained without it does not resume into a preset with it.
func TestRopeGridTravelsWithTheModel(t *testing.T) {
	p := testPreset(t)
	p.RopeGrid = 8
	m, err := NewLumina(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.DiT.Cfg.RopeGrid != 8 {
		t.Fatalf("model rope_grid %d, preset 8", m.DiT.Cfg.RopeGrid)
	}
	path := filepath.Join(t.TempDir(), "b.safetensors")
	if err := ckpt.SaveBundle(path, m.Bundle(false)); err != nil {
		t.Fatal(err)
	}
	b, err := ckpt.LoadBundle(path, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if b.DiT.Cfg.RopeGrid != 8 {
		t.Errorf("bundle rope_grid %d after a round trip, want 8", b.DiT.Cfg.RopeGrid)
	}

	var buf bytes.Buffer
	if err := m.SaveCheckpoint(&buf, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	p0 := testPreset(t)
	plain, err := NewLumina(p0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.LoadCheckpoint(bytes.NewReader(buf.Bytes())); err == nil || !strings.Contains(err.Error(), "rope_grid") {
		t.Errorf("a rope_grid 8 checkpoint loaded into a rope_grid 0 model: %v", err)
	}
}
