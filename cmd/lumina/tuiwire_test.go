package main

import (
	"context"
	"errors"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/tui/backend"
)

// The tui mirrors infer's option and step types so it never links Gorgonia; these must stay identical.
func TestBackendMirrorsInfer(t *testing.T) {
	if !reflect.DeepEqual(backend.DefaultSampleOptions(), backend.SampleOptions(infer.DefaultSampleOptions())) {
		t.Fatal("backend.DefaultSampleOptions drifted from infer's")
	}
	if !reflect.DeepEqual(backend.Solvers, infer.Solvers) {
		t.Fatalf("solvers %v vs %v", backend.Solvers, infer.Solvers)
	}
	for _, o := range []infer.SampleOptions{infer.DefaultSampleOptions(), {Steps: 9, Solver: infer.SolverMidpoint}, {Steps: 7, Solver: infer.SolverFDPM}} {
		if backend.SampleOptions(o).NFE() != o.NFE() {
			t.Fatalf("NFE of %+v differs", o)
		}
	}
}

func TestPipelineSamplerAdapter(t *testing.T) {
	ck := randomCheckpoint(t)
	s, err := loadSampler(ck)
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
	out, err := s.Sample(context.Background(), backend.SampleRequest{Prompt: "a red circle", Resolution: 16, Options: opts},
		func(backend.StepInfo) { steps++ })
	if err != nil {
		t.Fatal(err)
	}
	if out.Image.Bounds().Dx() != 16 || out.NFE != 3 || len(out.Steps) != 3 || steps != 3 {
		t.Fatalf("sample %v NFE %d, %d steps, %d callbacks", out.Image.Bounds(), out.NFE, len(out.Steps), steps)
	}
	opts.Steps = -1
	if _, err := s.Sample(context.Background(), backend.SampleRequest{Prompt: "x", Resolution: 16, Options: opts}, nil); err == nil {
		t.Fatal("bad options accepted")
	}
}

func TestRunStoreLists(t *testing.T) {
	root := t.TempDir()
	run := filepath.Join(root, "tiny")
	os.MkdirAll(filepath.Join(run, "checkpoints"), 0o755)
	p, _ := train.LoadPreset("tiny-cpu", "")
	cfg, _ := os.ReadFile(filepath.Join("..", "..", "train", "presets", "tiny-cpu.yaml"))
	os.WriteFile(filepath.Join(run, "config.yaml"), cfg, 0o644)
	for _, n := range []string{"s1-final.safetensors", "s0-00000150.safetensors", "s1-00000200.safetensors", "notes.txt"} {
		os.WriteFile(filepath.Join(run, "checkpoints", n), []byte("x"), 0o644)
	}
	os.WriteFile(filepath.Join(run, FinalName), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(root, "not-a-run"), 0o755)
	runs, err := runStore{root}.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Preset != p.Name {
		t.Fatalf("runs %+v", runs)
	}
	var got []string
	for _, c := range runs[0].Checkpoints {
		got = append(got, filepath.Base(c.Path))
		if !math.IsNaN(c.Loss) {
			t.Fatalf("loss %v should be unknown", c.Loss)
		}
	}
	want := []string{"s0-00000150.safetensors", "s1-00000200.safetensors", "s1-final.safetensors", FinalName}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("checkpoints %v, want %v", got, want)
	}
	if runs, err := (runStore{filepath.Join(root, "missing")}).List(context.Background()); err != nil || len(runs) != 0 {
		t.Fatalf("missing root: %v %v", runs, err)
	}
	if _, err := (runStore{root}).LoadSampler(context.Background(), filepath.Join(run, "notes.txt")); err == nil {
		t.Fatal("a non-checkpoint loaded")
	}
}

func TestConvertEvent(t *testing.T) {
	p, _ := train.LoadPreset("tiny-cpu", "")
	dir := t.TempDir()
	grid := filepath.Join(dir, "g.png")
	f, _ := os.Create(grid)
	png.Encode(f, image.NewRGBA(image.Rect(0, 0, 4, 4)))
	f.Close()
	boom := errors.New("boom")
	cases := []struct {
		in   train.Event
		want backend.TrainEvent
	}{
		{train.StageStarted{Stage: 1, Name: "low-res", Steps: 10}, backend.StageStarted{Stage: backend.StageInfo{Index: 1, Name: "low-res", Resolution: p.Stages[1].Resolution, Steps: 10}}},
		{train.StepEvent{Stage: 1, Step: 3, Steps: 10, Loss: 0.5, AuxLoss: 0.25, LR: 1e-3, GradNorm: 2, ImagesPerSec: 7}, backend.StepMetrics{Stage: 1, Step: 3, Steps: 10, Loss: 0.5, AuxLoss: 0.25, LR: 1e-3, GradNorm: 2, ImagesPerSec: 7}},
		{train.CheckpointSaved{Stage: 1, Step: 3, Path: "c"}, backend.CheckpointSaved{Stage: 1, Step: 3, Path: "c"}},
		{train.WarningEvent{Message: "hm"}, backend.Warning{Text: "hm"}},
		{train.ErrorEvent{Err: boom}, backend.Failed{Err: boom}},
		{train.PausedEvent{}, nil},
	}
	for _, c := range cases {
		if got := convertEvent(c.in, p); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%T: got %+v, want %+v", c.in, got, c.want)
		}
	}
	if s, ok := convertEvent(train.SampleEvent{Stage: 1, Step: 2, Path: grid}, p).(backend.SampleReady); !ok || s.Grid.Bounds().Dx() != 4 {
		t.Fatalf("sample event: %+v", s)
	}
	if _, ok := convertEvent(train.SampleEvent{Path: filepath.Join(dir, "none.png")}, p).(backend.Warning); !ok {
		t.Fatal("a missing grid should become a warning")
	}
	fin := convertEvent(train.StageFinished{Stage: 2, Scores: map[string]float64{"overall": 0.5, "cat/colors": 0.9}}, p).(backend.StageFinished)
	if fin.Eval == nil || fin.Eval.Overall != 0.5 || len(fin.Eval.Categories) != 1 || fin.Eval.Categories[0].Mean != 0.9 {
		t.Fatalf("stage finished: %+v", fin.Eval)
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
// `lumina train` writes and that the stop checkpoint loads for sampling.
func TestTrainFromTUIStopLeavesLoadableCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	tr := &trainerAdapter{}
	evs, err := tr.Start(context.Background(), backend.TrainRequest{Preset: train.DefaultPreset, Stage: 0, RunDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var saved []string
	stopped := false
	for ev := range evs {
		switch e := ev.(type) {
		case backend.StepMetrics:
			if !stopped {
				tr.Stop()
				stopped = true
			}
		case backend.CheckpointSaved:
			saved = append(saved, e.Path)
		case backend.Failed:
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
	s, err := loadSampler(saved[len(saved)-1])
	if err != nil {
		t.Fatalf("stop checkpoint does not load: %v", err)
	}
	if _, err := s.Sample(context.Background(), backend.SampleRequest{Prompt: "a red circle", Resolution: 16,
		Options: backend.SampleOptions{Steps: 3, CFG: 1, Solver: "euler", Shift: 1, Trunc: 1}}, nil); err != nil {
		t.Fatal(err)
	}
}
