// Package fake holds test doubles of the backend interfaces for the tui packages' tests. Nothing in
// the shipped binary imports it.
package fake

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"
	"time"

	"github.com/lumina-workbench/lumina/data"
	"github.com/lumina-workbench/lumina/tui/backend"
)

// Sampler renders a fixed scene whose main object's colour follows the seed, and reports timings of
// StepWall per step, so views are deterministic.
type Sampler struct {
	ModelInfo backend.ModelInfo
	StepWall  time.Duration
	Err       error
	// Block, when set, makes Sample wait for it to close (or ctx) before finishing.
	Block chan struct{}

	mu    sync.Mutex
	Calls []backend.SampleRequest
}

// NewSampler has resolutions 16 and 32 and TeaCache coefficients.
func NewSampler() *Sampler {
	return &Sampler{
		ModelInfo: backend.ModelInfo{Name: "tiny", Checkpoint: "runs/tiny/ckpt-000200.safetensors", Resolutions: []int{16, 32}, DefaultResolution: 32, TeaCoeffs: []float64{1, 0}},
		StepWall:  12 * time.Millisecond,
	}
}

// Info implements backend.Sampler.
func (s *Sampler) Info() backend.ModelInfo { return s.ModelInfo }

// Scene is the scene drawn for a seed.
func Scene(seed uint64) data.Scene {
	return data.Scene{
		Background: data.Gray,
		Domain:     data.Flat,
		Objects: []data.Object{
			{Shape: data.Circle, Colour: data.Colour(seed % 8), Size: data.Large, X: 0.3, Y: 0.35},
			{Shape: data.Square, Colour: data.Blue, Size: data.Medium, X: 0.72, Y: 0.7},
		},
	}
}

// Sample implements backend.Sampler.
func (s *Sampler) Sample(ctx context.Context, req backend.SampleRequest, onStep func(backend.StepInfo)) (backend.Sample, error) {
	s.mu.Lock()
	s.Calls = append(s.Calls, req)
	s.mu.Unlock()
	if req.Options.Steps < 2 {
		return backend.Sample{}, fmt.Errorf("--steps must be an integer ≥ 2, got %d", req.Options.Steps)
	}
	if s.Block != nil {
		select {
		case <-s.Block:
		case <-ctx.Done():
			return backend.Sample{}, ctx.Err()
		}
	}
	if s.Err != nil {
		return backend.Sample{}, s.Err
	}
	n := req.Options.Steps - 1
	res := backend.Sample{NFE: req.Options.NFE()}
	for i := range n {
		si := backend.StepInfo{Step: i, Of: n, Wall: s.StepWall}
		res.Steps = append(res.Steps, si)
		res.Total += s.StepWall
		if onStep != nil {
			onStep(si)
		}
	}
	img, err := data.Render(Scene(req.Options.Seed), req.Resolution, req.Resolution)
	if err != nil {
		return backend.Sample{}, fmt.Errorf("fake sampler: %w", err)
	}
	res.Image = img
	return res, nil
}

// Trainer hands out a channel the test feeds through Send; Stop emits a checkpoint and closes it.
type Trainer struct {
	PresetList []backend.PresetInfo
	StartErr   error

	mu      sync.Mutex
	ch      chan backend.TrainEvent
	closed  bool
	Req     backend.TrainRequest
	Paused  int
	Resumed int
	Stopped int
}

// NewTrainer has one two-stage preset.
func NewTrainer() *Trainer {
	return &Trainer{PresetList: []backend.PresetInfo{
		{Name: "tiny", Stages: []backend.StageInfo{{Index: 0, Name: "low-res", Resolution: 16, Steps: 100}, {Index: 1, Name: "high-res", Resolution: 32, Steps: 50}}},
		{Name: "small", Stages: []backend.StageInfo{{Index: 0, Name: "low-res", Resolution: 32, Steps: 1000}}},
	}}
}

// Presets implements backend.Trainer.
func (t *Trainer) Presets() []backend.PresetInfo { return t.PresetList }

// Start implements backend.Trainer.
func (t *Trainer) Start(ctx context.Context, req backend.TrainRequest) (<-chan backend.TrainEvent, error) {
	if t.StartErr != nil {
		return nil, t.StartErr
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ch != nil && !t.closed {
		return nil, errors.New("already running")
	}
	t.Req = req
	t.ch, t.closed = make(chan backend.TrainEvent, 64), false
	return t.ch, nil
}

// Send delivers an event to the running job.
func (t *Trainer) Send(ev backend.TrainEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ch != nil && !t.closed {
		t.ch <- ev
	}
}

// Finish closes the channel as a finished job would.
func (t *Trainer) Finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ch != nil && !t.closed {
		close(t.ch)
		t.closed = true
	}
}

// Pause implements backend.Trainer.
func (t *Trainer) Pause() { t.mu.Lock(); t.Paused++; t.mu.Unlock() }

// Resume implements backend.Trainer.
func (t *Trainer) Resume() { t.mu.Lock(); t.Resumed++; t.mu.Unlock() }

// Stop saves a "checkpoint" and ends the job.
func (t *Trainer) Stop() {
	t.mu.Lock()
	t.Stopped++
	if t.ch != nil && !t.closed {
		t.ch <- backend.CheckpointSaved{Stage: t.Req.Stage, Step: 7, Path: t.Req.RunDir + "/ckpt-stop.safetensors"}
		close(t.ch)
		t.closed = true
	}
	t.mu.Unlock()
}

// Runs is a fixed run list; LoadSampler returns a fake sampler named after the checkpoint.
type Runs struct {
	RunList []backend.Run
	Err     error
}

// NewRuns has two runs.
func NewRuns() *Runs {
	t0 := time.Date(2025, 1, 27, 12, 0, 0, 0, time.UTC)
	return &Runs{RunList: []backend.Run{
		{Dir: "runs/tiny-001", Preset: "tiny", Checkpoints: []backend.Checkpoint{
			{Path: "runs/tiny-001/stage0-000100.safetensors", Stage: 0, Step: 100, Loss: 0.412, Saved: t0},
			{Path: "runs/tiny-001/stage1-000050.safetensors", Stage: 1, Step: 50, Loss: 0.377, Saved: t0.Add(20 * time.Minute)},
		}},
		{Dir: "runs/small-002", Preset: "small", Checkpoints: []backend.Checkpoint{
			{Path: "runs/small-002/stage0-001000.safetensors", Stage: 0, Step: 1000, Loss: 0.298, Saved: t0.Add(3 * time.Hour)},
		}},
	}}
}

// List implements backend.RunStore.
func (r *Runs) List(ctx context.Context) ([]backend.Run, error) { return r.RunList, r.Err }

// LoadSampler implements backend.RunStore.
func (r *Runs) LoadSampler(ctx context.Context, ckpt string) (backend.Sampler, error) {
	if r.Err != nil {
		return nil, r.Err
	}
	s := NewSampler()
	s.ModelInfo.Checkpoint = ckpt
	return s, nil
}

// Image is a deterministic test picture.
func Image(w, h int) *image.RGBA {
	img, _ := data.Render(Scene(3), w, h)
	return img
}
