// Package backend is the TUI's side of its contract with the model: the small interfaces the views
// call (Sampler, Trainer, RunStore, SceneSource, Sweeper). What crosses them is the workbench's own types:
// infer's sampling options, specs and results, train's presets, options, events and run folders, data's
// scenes. None of those packages builds a graph, so the whole tui tree stays free of Gorgonia;
// cmd/lumina wires the real implementations in.
package backend

import (
	"context"
	"image"

	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/train"
)

// ModelInfo describes a loaded checkpoint to the sample view.
type ModelInfo struct {
	// Name is a short label for the header (preset or config name).
	Name string
	// Checkpoint is the file the weights came from.
	Checkpoint string
	// Resolutions are the image sides the model can sample, smallest first; the view offers only these.
	Resolutions []int
	// DefaultResolution is preselected; 0 means the largest of Resolutions.
	DefaultResolution int
	// TeaCoeffs is the model's fitted TeaCache rescale polynomial (infer.FitTeaCache); nil means the
	// model has none, and the view keeps TeaCache off rather than borrow another model's.
	TeaCoeffs []float64
	// Defaults preselects the settings; the zero value means infer.DefaultSampleOptions.
	Defaults infer.SampleOptions
}

// Sampler generates images from a loaded checkpoint. Sample is called from a tea.Cmd goroutine, never
// from Update; it must validate the spec (infer.Generate's messages are shown as they are), honour ctx
// (the view cancels it on quit), and calls spec.OnStep (when set) from the same goroutine after each
// solver step.
type Sampler interface {
	Info() ModelInfo
	Sample(ctx context.Context, spec infer.Spec) (*infer.Generated, error)
}

// Trainer runs training jobs. Start returns at once with the run's event channel, which closes after
// train.RunFinished; Pause, Resume and Stop return at once too. Stop must save a checkpoint before the
// channel closes: the TUI waits for the close before quitting on Ctrl-C.
type Trainer interface {
	// Presets are the recipes the train view offers, the default first.
	Presets() []*train.Preset
	Start(ctx context.Context, opt train.Options) (<-chan train.Event, error)
	Pause()
	Resume()
	Stop()
}

// RunStore lists run folders and loads a checkpoint for sampling. Both calls are made from tea.Cmds.
type RunStore interface {
	List(ctx context.Context) ([]train.RunInfo, error)
	LoadSampler(ctx context.Context, ckpt string) (Sampler, error)
}

// SceneSource is the procedural dataset the data view browses; *dataset.Dataset satisfies it.
type SceneSource interface {
	Len() int
	Scene(i int) (world.Scene, error)
	Image(i, w, h int) (*image.RGBA, error)
	Captions(i int) (dataset.CaptionSet, error)
	Quality(i int) (float64, error)
}

var _ SceneSource = (*dataset.Dataset)(nil)

// Spawner runs training jobs in processes of their own (`lumina train … --resume` on the job's run
// folder), which keep training after the TUI quits; the train view follows them through their run
// folder. Both calls are made from tea.Cmds.
type Spawner interface {
	// Spawn starts the job and returns once its process has started (not once it trains).
	Spawn(ctx context.Context, opt train.Options) error
	// Interrupt asks the process pid, a run folder's writer on this host, to stop as Ctrl-C does: it
	// saves a checkpoint first.
	Interrupt(pid int) error
}

// DeviceMonitor reports the state of the GPU the model runs on (device.NvidiaSMI), for the status line;
// Stats is called from a tea.Cmd every few seconds.
type DeviceMonitor interface {
	Stats(ctx context.Context) (device.Stats, error)
}

// Sweeper runs sampler sweeps with the ablation engine (ablation.Run), into the same folders `lumina
// ablate` writes: grid.yaml, results.jsonl, the images, the summary, pareto.png and the contact sheets.
type Sweeper interface {
	// Root is the folder new sweeps go in (the runs folder's sweeps/).
	Root() string
	// Defaults are the settings a grid leaves unsaid, the checkpoint the sweeps sample among them.
	Defaults() ablation.Setting
	// Run runs o (the view sets Grid, Dir, Resume and OnEvent; the implementation adds the checkpoint
	// loader and the pictures). It is called from a tea.Cmd, honours ctx, and leaves a stopped sweep
	// resumable.
	Run(ctx context.Context, o ablation.Options) (*ablation.Stats, error)
}
