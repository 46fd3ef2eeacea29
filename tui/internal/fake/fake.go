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

	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/train"
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
	Calls []infer.Spec
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
func Scene(seed uint64) world.Scene {
	return world.Scene{
		Background: world.Gray,
		Domain:     world.Flat,
		Objects: []world.Object{
			{Shape: world.Circle, Colour: world.Colour(seed % 8), Size: world.Large, X: 0.3, Y: 0.35},
			{Shape: world.Square, Colour: world.Blue, Size: world.Medium, X: 0.72, Y: 0.7},
		},
	}
}

// Sample implements backend.Sampler.
func (s *Sampler) Sample(ctx context.Context, spec infer.Spec) (*infer.Generated, error) {
	s.mu.Lock()
	s.Calls = append(s.Calls, spec)
	s.mu.Unlock()
	if err := spec.Options.Validate(); err != nil {
		return nil, err
	}
	if s.Block != nil {
		select {
		case <-s.Block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s.Err != nil {
		return nil, s.Err
	}
	n := spec.Options.Steps - 1
	res := &infer.Result{NFE: spec.Options.NFE()}
	for i := range n {
		si := infer.StepInfo{Step: i, Of: n, Wall: s.StepWall}
		// Counts shaped like the real sampler's: two forwards per step under guidance, and TeaCache
		// skipping every third step's main stack.
		si.Batch = []int{1}
		if spec.Options.CFG != 1 {
			si.Batch = []int{2}
		}
		res.Forwards += si.Batch[0]
		if spec.Options.TeaCache > 0 && i%3 == 2 {
			si.Skipped = si.Batch[0]
			res.MainSkipped += si.Batch[0]
		} else {
			res.MainComputed += si.Batch[0]
		}
		res.Steps = append(res.Steps, si)
		res.Total += s.StepWall
		if spec.OnStep != nil {
			spec.OnStep(si)
		}
	}
	img, err := world.Render(Scene(spec.Options.Seed), spec.Width, spec.Height)
	if err != nil {
		return nil, fmt.Errorf("fake sampler: %w", err)
	}
	return &infer.Generated{Image: img, Result: res, Spec: spec}, nil
}

// Trainer hands out a channel the test feeds through Send; Stop emits a checkpoint and closes it.
type Trainer struct {
	PresetList []*train.Preset
	StartErr   error

	mu      sync.Mutex
	ch      chan train.Event
	closed  bool
	Opt     train.Options
	Paused  int
	Resumed int
	Stopped int
}

// NewTrainer has a two-stage and a one-stage preset.
func NewTrainer() *Trainer {
	return &Trainer{PresetList: []*train.Preset{
		{Name: "tiny", Stages: []train.Stage{{Name: "low-res", Kind: train.KindDiT, Resolution: 16, Steps: 100},
			{Name: "high-res", Kind: train.KindDiT, Resolution: 32, Steps: 50}}},
		{Name: "small", Stages: []train.Stage{{Name: "low-res", Kind: train.KindDiT, Resolution: 32, Steps: 1000}}},
	}}
}

// Presets implements backend.Trainer.
func (t *Trainer) Presets() []*train.Preset { return t.PresetList }

// Start implements backend.Trainer.
func (t *Trainer) Start(ctx context.Context, opt train.Options) (<-chan train.Event, error) {
	if t.StartErr != nil {
		return nil, t.StartErr
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ch != nil && !t.closed {
		return nil, errors.New("already running")
	}
	t.Opt = opt
	t.ch, t.closed = make(chan train.Event, 64), false
	return t.ch, nil
}

// Send delivers an event to the running job.
func (t *Trainer) Send(ev train.Event) {
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

// Stop saves a "checkpoint" and ends the job as the runner does.
func (t *Trainer) Stop() {
	t.mu.Lock()
	t.Stopped++
	if t.ch != nil && !t.closed {
		t.ch <- train.CheckpointSaved{Stage: max(t.Opt.Stage, 0), Step: 7, Path: t.Opt.RunDir + "/ckpt-stop.safetensors"}
		t.ch <- train.RunFinished{Stopped: true}
		close(t.ch)
		t.closed = true
	}
	t.mu.Unlock()
}

// Runs is a fixed run list; LoadSampler returns a fake sampler named after the checkpoint.
type Runs struct {
	RunList []train.RunInfo
	Err     error
}

// NewRuns has two runs.
func NewRuns() *Runs {
	t0 := time.Date(2025, 1, 27, 12, 0, 0, 0, time.UTC)
	return &Runs{RunList: []train.RunInfo{
		{Dir: "runs/tiny-001", Preset: "tiny", Checkpoints: []train.CheckpointInfo{
			{Path: "runs/tiny-001/stage0-000100.safetensors", Stage: 0, Step: 100, Loss: 0.412, Saved: t0},
			{Path: "runs/tiny-001/stage1-000050.safetensors", Stage: 1, Step: 50, Loss: 0.377, Saved: t0.Add(20 * time.Minute)},
		}},
		{Dir: "runs/small-002", Preset: "small", Checkpoints: []train.CheckpointInfo{
			{Path: "runs/small-002/stage0-001000.safetensors", Stage: 0, Step: 1000, Loss: 0.298, Saved: t0.Add(3 * time.Hour)},
		}},
	}}
}

// List implements backend.RunStore.
func (r *Runs) List(ctx context.Context) ([]train.RunInfo, error) { return r.RunList, r.Err }

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
	img, _ := world.Render(Scene(3), w, h)
	return img
}

// Device is a DeviceMonitor with a fixed answer.
type Device struct {
	Answer device.Stats
	Err    error
}

// Stats returns the fixed answer.
func (d *Device) Stats(context.Context) (device.Stats, error) { return d.Answer, d.Err }
