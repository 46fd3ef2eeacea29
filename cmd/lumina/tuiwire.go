package main

// The composition root of the TUI: the views speak tui/backend's small interfaces (which know nothing of
// Gorgonia); these adapters implement them with infer, train and the run folders.

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lumina-workbench/lumina/data"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/tui/backend"
)

// pipelineSampler implements backend.Sampler with a loaded checkpoint.
type pipelineSampler struct {
	mu   sync.Mutex // a Pipeline runs one sampling at a time
	p    *infer.Pipeline
	path string
}

func loadSampler(path string) (*pipelineSampler, error) {
	p, err := infer.LoadPipeline(path)
	if err != nil {
		return nil, err
	}
	return &pipelineSampler{p: p, path: path}, nil
}

func (s *pipelineSampler) Info() backend.ModelInfo {
	name := s.p.Bundle.Meta["preset"]
	if name == "" {
		name = s.p.Cfg.Name
	}
	coeffs, _ := infer.TeaCoeffsFromMeta(s.p.Bundle.Meta[ckpt.MetaTeaCache])
	var res []int
	for r := 16; r <= 64; r *= 2 {
		if r%s.p.Cfg.Patch == 0 {
			res = append(res, r)
		}
	}
	return backend.ModelInfo{Name: name, Checkpoint: s.path, Resolutions: res, DefaultResolution: 32, TeaCoeffs: coeffs,
		Defaults: backend.SampleOptions(infer.DefaultSampleOptions())}
}

func (s *pipelineSampler) Sample(ctx context.Context, req backend.SampleRequest, onStep func(backend.StepInfo)) (backend.Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	spec := infer.Spec{Prompt: req.Prompt, System: infer.System{Template: req.System}, Width: req.Resolution, Height: req.Resolution,
		Options: infer.SampleOptions(req.Options)}
	if onStep != nil {
		spec.OnStep = func(si infer.StepInfo) { onStep(backend.StepInfo(si)) }
	}
	g, err := infer.Generate(ctx, s.p, spec)
	if err != nil {
		return backend.Sample{}, err
	}
	steps := make([]backend.StepInfo, len(g.Result.Steps))
	for i, si := range g.Result.Steps {
		steps[i] = backend.StepInfo(si)
	}
	return backend.Sample{Image: g.Image, NFE: g.Result.NFE, Steps: steps, Total: g.Result.Total}, nil
}

// runner implements backend.Trainer: one training job at a time, in the same run folders as `lumina train`.
type trainerAdapter struct {
	mu  sync.Mutex
	job *trainJob
}

func (t *trainerAdapter) Presets() []backend.PresetInfo {
	var out []backend.PresetInfo
	names := []string{train.DefaultPreset} // the view preselects the first: the CPU default
	for _, n := range train.PresetNames() {
		if n != train.DefaultPreset {
			names = append(names, n)
		}
	}
	for _, name := range names {
		p, err := train.LoadPreset(name, "")
		if err != nil {
			continue
		}
		pi := backend.PresetInfo{Name: name}
		for i, st := range p.Stages {
			pi.Stages = append(pi.Stages, backend.StageInfo{Index: i, Name: st.Name, Resolution: st.Resolution, Steps: st.Steps})
		}
		out = append(out, pi)
	}
	return out
}

func (t *trainerAdapter) Start(ctx context.Context, req backend.TrainRequest) (<-chan backend.TrainEvent, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.job != nil {
		return nil, errors.New("a training job is already running: stop it first")
	}
	run := req.RunDir
	if run == "" {
		run = filepath.Join("runs", req.Preset)
	}
	f := trainFlags{preset: req.Preset, run: run, stage: req.Stage}
	// A folder that already holds checkpoints continues where it stopped.
	if _, err := os.Stat(filepath.Join(run, "config.yaml")); err == nil {
		f.resume, f.presetSet = true, true
	}
	job, err := newTrainJob(f)
	if err != nil {
		return nil, err
	}
	t.job = job
	p := job.p
	raw := make(chan train.Event, 64)
	out := make(chan backend.TrainEvent, 64)
	go func() {
		defer close(out)
		var stageStart time.Time
		for ev := range raw {
			e := convertEvent(ev, p)
			switch m := e.(type) {
			case nil:
				continue
			case backend.StageStarted:
				stageStart = time.Now()
			case backend.StepMetrics:
				// The view derives its ETA from the time spent in the stage so far.
				m.Elapsed = time.Since(stageStart)
				e = m
			}
			out <- e
		}
	}()
	go func() {
		err := job.run(ctx, nil, raw)
		close(raw)
		_ = err // the runner's ErrorEvent already carried it
		t.mu.Lock()
		t.job = nil
		t.mu.Unlock()
	}()
	return out, nil
}

func (t *trainerAdapter) with(f func(*train.Runner)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.job != nil {
		f(t.job.r)
	}
}

func (t *trainerAdapter) Pause()  { t.with((*train.Runner).Pause) }
func (t *trainerAdapter) Resume() { t.with((*train.Runner).Resume) }
func (t *trainerAdapter) Stop()   { t.with((*train.Runner).Stop) }

// convertEvent maps a trainer event to the TUI's; nil for those the TUI infers itself.
func convertEvent(ev train.Event, p *train.Preset) backend.TrainEvent {
	switch e := ev.(type) {
	case train.StageStarted:
		st := p.Stages[e.Stage]
		return backend.StageStarted{Stage: backend.StageInfo{Index: e.Stage, Name: e.Name, Resolution: st.Resolution, Steps: e.Steps}}
	case train.StepEvent:
		return backend.StepMetrics{Stage: e.Stage, Step: e.Step, Steps: e.Steps, Loss: e.Loss, AuxLoss: e.AuxLoss, LR: e.LR,
			GradNorm: e.GradNorm, ImagesPerSec: e.ImagesPerSec}
	case train.SampleEvent:
		img, err := readPNG(e.Path)
		if err != nil {
			return backend.Warning{Text: fmt.Sprintf("sample grid %s: %v", e.Path, err)}
		}
		return backend.SampleReady{Stage: e.Stage, Step: e.Step, Grid: img, Prompts: p.Samples.Prompts}
	case train.StageFinished:
		return backend.StageFinished{Stage: e.Stage, Eval: reportFromScores(e.Scores)}
	case train.CheckpointSaved:
		return backend.CheckpointSaved{Stage: e.Stage, Step: e.Step, Path: e.Path}
	case train.WarningEvent:
		return backend.Warning{Text: e.Message}
	case train.ErrorEvent:
		return backend.Failed{Err: e.Err}
	}
	return nil
}

// reportFromScores rebuilds a ToyEval report from the runner's flat score map ("cat/NAME", "overall").
func reportFromScores(s map[string]float64) *data.Report {
	if s == nil {
		return nil
	}
	r := &data.Report{Overall: s["overall"]}
	for _, c := range data.Categories() {
		if v, ok := s["cat/"+c]; ok {
			r.Categories = append(r.Categories, data.CategoryScore{Name: c, Mean: v})
		}
	}
	if len(r.Categories) == 0 {
		return nil
	}
	return r
}

func readPNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return png.Decode(f)
}

// runStore implements backend.RunStore over a folder of run folders.
type runStore struct{ root string }

var ckptName = regexp.MustCompile(`^s(\d+)-(\d+|final)\.safetensors$`)

func (rs runStore) List(ctx context.Context) ([]backend.Run, error) {
	ents, err := os.ReadDir(rs.root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list runs in %s: %w", rs.root, err)
	}
	var runs []backend.Run
	for _, e := range ents {
		dir := filepath.Join(rs.root, e.Name())
		cfg, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
		if !e.IsDir() || err != nil {
			continue
		}
		run := backend.Run{Dir: dir, Preset: e.Name()}
		if p, err := train.ParsePreset(cfg, "config.yaml"); err == nil {
			run.Preset = p.Name
		}
		cks, _ := os.ReadDir(filepath.Join(dir, "checkpoints"))
		for _, c := range cks {
			m := ckptName.FindStringSubmatch(c.Name())
			if m == nil {
				continue
			}
			stage, _ := strconv.Atoi(m[1])
			step := math.MaxInt32
			if m[2] != "final" {
				step, _ = strconv.Atoi(m[2])
			}
			info, _ := c.Info()
			ck := backend.Checkpoint{Path: filepath.Join(dir, "checkpoints", c.Name()), Stage: stage, Step: step, Loss: math.NaN()}
			if info != nil {
				ck.Saved = info.ModTime()
			}
			run.Checkpoints = append(run.Checkpoints, ck)
		}
		if st, err := os.Stat(filepath.Join(dir, FinalName)); err == nil {
			run.Checkpoints = append(run.Checkpoints, backend.Checkpoint{Path: filepath.Join(dir, FinalName), Stage: math.MaxInt32,
				Step: math.MaxInt32, Loss: math.NaN(), Saved: st.ModTime()})
		}
		sort.Slice(run.Checkpoints, func(i, j int) bool {
			a, b := run.Checkpoints[i], run.Checkpoints[j]
			return a.Stage < b.Stage || a.Stage == b.Stage && a.Step < b.Step
		})
		runs = append(runs, run)
	}
	return runs, nil
}

func (rs runStore) LoadSampler(ctx context.Context, path string) (backend.Sampler, error) {
	if !strings.HasSuffix(path, ".safetensors") {
		return nil, fmt.Errorf("%s is not a .safetensors checkpoint", path)
	}
	return loadSampler(path)
}
