package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/model/ckpt/ckpttest"
	"github.com/lumina-workbench/lumina/train"
)

func TestPipelineSamplerAdapter(t *testing.T) {
	ck := ckpttest.Save(t)
	s, err := loadSampler(ck, device.Device{})
	if err != nil {
		t.Fatal(err)
	}
	info := s.Info()
	if info.Checkpoint != ck || len(info.Resolutions) == 0 {
		t.Fatalf("info %+v", info)
	}
	opts := info.Defaults
	opts.Steps = 4
	var steps int
	out, err := s.Sample(context.Background(), infer.Spec{Prompt: "a red circle", Width: 16, Height: 16, Options: opts,
		OnStep: func(infer.StepInfo) { steps++ }})
	if err != nil {
		t.Fatal(err)
	}
	if out.Image.Bounds().Dx() != 16 || out.Result.NFE != 3 || len(out.Result.Steps) != 3 || steps != 3 {
		t.Fatalf("sample %v NFE %d, %d steps, %d callbacks", out.Image.Bounds(), out.Result.NFE, len(out.Result.Steps), steps)
	}
	opts.Steps = -1
	if _, err := s.Sample(context.Background(), infer.Spec{Prompt: "x", Width: 16, Height: 16, Options: opts}); err == nil {
		t.Fatal("bad options accepted")
	}
}

func TestRunStoreRefusesWhatIsNotACheckpoint(t *testing.T) {
	root := t.TempDir()
	if runs, err := (runStore{root: filepath.Join(root, "missing")}).List(context.Background()); err != nil || len(runs) != 0 {
		t.Fatalf("missing root: %v %v", runs, err)
	}
	notes := filepath.Join(root, "notes.txt")
	os.WriteFile(notes, []byte("x"), 0o644)
	if _, err := (runStore{root: root}).LoadSampler(context.Background(), notes); err == nil || !strings.Contains(err.Error(), "not a .safetensors") {
		t.Fatalf("a non-checkpoint loaded: %v", err)
	}
}

func TestTrainerAdapterOffersTheDefaultPresetFirst(t *testing.T) {
	ps := (&trainerAdapter{}).Presets()
	if len(ps) < 2 || ps[0].Name != train.DefaultPreset || len(ps[0].Stages) == 0 {
		t.Fatalf("presets %+v: want %s first, with its stages", ps, train.DefaultPreset)
	}
}

// TestTrainFromTUIStopLeavesLoadableCheckpoint starts the CPU preset's text-encoder stage through the
// TUI's trainer, stops it after the first step, and checks that the run folder has the layout
// `lumina train` writes and that the stop checkpoint loads, and is refused for sampling: its DiT is
// untrained.
func TestTrainFromTUIStopLeavesLoadableCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	tr := &trainerAdapter{}
	p, err := train.LoadPreset(train.DefaultPreset, "")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := tr.Start(context.Background(), train.Options{Preset: p, Stage: 0, RunDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var saved []string
	stopped := false
	for ev := range evs {
		switch e := ev.(type) {
		case train.StepEvent:
			if !stopped {
				tr.Stop()
				stopped = true
			}
		case train.CheckpointSaved:
			saved = append(saved, e.Path)
		case train.ErrorEvent:
			t.Fatal(e.Err)
		}
	}
	if !stopped || len(saved) == 0 {
		t.Fatalf("stopped %v, checkpoints %v", stopped, saved)
	}
	for _, f := range []string{"config.yaml", "metrics.jsonl", "checkpoints"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
	last := saved[len(saved)-1]
	if _, err := ckpt.LoadBundle(last, tensor.Float32); err != nil {
		t.Fatalf("stop checkpoint does not load: %v", err)
	}
	if _, err := loadSampler(last, device.Device{}); err == nil || !strings.Contains(err.Error(), "stage-0 checkpoint") {
		t.Fatalf("sampling from a stage-0 checkpoint: want a refusal, got %v", err)
	}
}
