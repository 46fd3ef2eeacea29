package main

// The composition root of the TUI: the views speak tui/backend's small interfaces, whose values are
// infer's and train's own types; these adapters implement them with the graph-building pipeline, the
// trainer and the run folders.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/ablation/plots"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/infer/pipeline"
	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/tui/backend"
)

// pipelineSampler implements backend.Sampler with a loaded checkpoint.
type pipelineSampler struct {
	mu   sync.Mutex // a Pipeline runs one sampling at a time
	p    *pipeline.Pipeline
	path string
}

func loadSampler(path string, dev device.Device) (*pipelineSampler, error) {
	p, err := loadPipeline(path, dev, nil)
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
		Defaults: infer.DefaultSampleOptions()}
}

func (s *pipelineSampler) Sample(ctx context.Context, spec infer.Spec) (*infer.Generated, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return infer.Generate(ctx, s.p, spec)
}

// trainerAdapter implements backend.Trainer: one training job at a time, in the same run folders as
// `lumina train`.
type trainerAdapter struct {
	mu  sync.Mutex
	job *trainJob
	// device is where jobs train (lumina --device).
	device device.Device
}

// Presets lists the embedded presets, the CPU default first (the view preselects the first).
func (t *trainerAdapter) Presets() []*train.Preset {
	names := []string{train.DefaultPreset}
	for _, n := range train.PresetNames() {
		if n != train.DefaultPreset {
			names = append(names, n)
		}
	}
	var out []*train.Preset
	for _, name := range names {
		if p, err := train.LoadPreset(name, ""); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// Start builds the job and runs it in the background; a folder that already holds a run continues
// where it stopped, with the folder's own config.yaml (a run started with --config has a recipe no
// preset of the list matches).
func (t *trainerAdapter) Start(ctx context.Context, opt train.Options) (<-chan train.Event, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.job != nil {
		return nil, errors.New("a training job is already running: stop it first")
	}
	if opt.Preset == nil {
		return nil, errors.New("no preset to train: pick one")
	}
	if !opt.Device.IsCUDA() {
		opt.Device = t.device
	}
	if opt.RunDir == "" {
		opt.RunDir = filepath.Join("runs", opt.Preset.Name)
	}
	if _, err := os.Stat(filepath.Join(opt.RunDir, train.ConfigFile)); err == nil {
		opt.Resume = true
		if run, err := train.ReadRun(opt.RunDir); err == nil && len(run.Checkpoints) > 0 {
			if p, ok, err := train.ReadConfig(opt.RunDir); err == nil && ok {
				opt.Preset = p
			}
		}
	}
	if err := train.CheckOptions(opt); err != nil {
		return nil, err
	}
	job, err := newTrainJob(opt, memoryCheck{w: io.Discard})
	if err != nil {
		return nil, err
	}
	t.job = job
	evs := job.r.Events()
	go func() {
		_, _ = job.r.Run(ctx) // its ErrorEvent carries a failure to the view
		job.done()
		t.mu.Lock()
		t.job = nil
		t.mu.Unlock()
	}()
	return evs, nil
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

// runStore implements backend.RunStore over a folder of run folders; checkpoints load for sampling on
// device.
type runStore struct {
	root   string
	device device.Device
}

func (rs runStore) List(ctx context.Context) ([]train.RunInfo, error) { return train.ListRuns(rs.root) }

func (rs runStore) LoadSampler(ctx context.Context, path string) (backend.Sampler, error) {
	if !strings.HasSuffix(path, train.DefaultCheckpointExt) {
		return nil, fmt.Errorf("%s is not a %s checkpoint", path, train.DefaultCheckpointExt)
	}
	return loadSampler(path, rs.device)
}

// sweeper implements backend.Sweeper with the engine and loader of `lumina ablate`, so a sweep started in
// the TUI writes the folder that command writes and can be resumed or collected by it.
type sweeper struct {
	root, ckpt string
}

func (s sweeper) Root() string { return s.root }

func (s sweeper) Defaults() ablation.Setting { return ablation.DefaultSetting(s.ckpt) }

func (s sweeper) Run(ctx context.Context, o ablation.Options) (*ablation.Stats, error) {
	// The loader's warnings (resolution, memory) would be written over the TUI's screen.
	o.Loader = &ckptLoader{warn: io.Discard}
	o.Report = plots.Write
	return ablation.Run(ctx, o)
}
