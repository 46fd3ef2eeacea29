// Package backend is the TUI's side of its contract with the model: the small interfaces the views
// call (Sampler, Trainer, RunStore, SceneSource) and the values that cross them. It imports data (pure
// Go) and nothing that touches Gorgonia, so the whole tui tree stays free of it; cmd/lumina wires the
// real implementations in. Package infer now builds Gorgonia graphs, so its option and step types are
// mirrored here field for field: infer.SampleOptions(o) and infer.StepInfo(s) convert directly.
package backend

import (
	"context"
	"image"
	"time"

	"github.com/lumina-workbench/lumina/data"
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
	// Defaults preselects the settings; the zero value means DefaultSampleOptions.
	Defaults SampleOptions
}

// SampleRequest is one image to generate.
type SampleRequest struct {
	// Prompt is the user's prompt, without the system prompt.
	Prompt string
	// System picks the system prompt (data.SystemPrompt) prepended to Prompt.
	System data.Template
	// Resolution is the image side in pixels.
	Resolution int
	// Options are the sampler settings; TeaCoeffs is already filled from ModelInfo when TeaCache is on.
	Options SampleOptions
}

// Sample is a generated image with the sampler's accounting (NFE, per-step and total wall time).
type Sample struct {
	Image image.Image
	// NFE counts guided velocity evaluations (infer.Result.NFE).
	NFE int
	// Steps are the solver steps with their wall times (infer.Result.Steps).
	Steps []StepInfo
	// Total is the sampling wall time (infer.Result.Total).
	Total time.Duration
}

// Sampler generates images from a loaded checkpoint. Sample is called from a tea.Cmd goroutine, never
// from Update; it must validate the request (infer.SampleOptions.Validate: its message is shown as
// is), honour ctx (the view cancels it on quit), and may call onStep (nil-safe) from the same
// goroutine after each solver step.
type Sampler interface {
	Info() ModelInfo
	Sample(ctx context.Context, req SampleRequest, onStep func(StepInfo)) (Sample, error)
}

// StageInfo describes one training stage of a preset.
type StageInfo struct {
	Index      int
	Name       string // e.g. "low-res pretraining"
	Resolution int
	Steps      int
}

// PresetInfo is a training preset the train view can start.
type PresetInfo struct {
	Name   string
	Stages []StageInfo
}

// TrainRequest is what the train view asks the trainer to run.
type TrainRequest struct {
	Preset string
	// Stage is the stage index to run; AllStages runs them all in order.
	Stage int
	// RunDir is the run folder (checkpoints, logs, samples); the trainer creates it or resumes in it.
	RunDir string
}

// AllStages asks for every stage of the preset.
const AllStages = -1

// Trainer runs training jobs. Start returns at once with a channel of events that the trainer closes
// when the job has ended (finished, stopped or failed); Pause, Resume and Stop return at once too.
// Stop must save a checkpoint before the channel closes: the TUI waits for the close before quitting
// on Ctrl-C.
type Trainer interface {
	Presets() []PresetInfo
	Start(ctx context.Context, req TrainRequest) (<-chan TrainEvent, error)
	Pause()
	Resume()
	Stop()
}

// TrainEvent is one of the event types below.
type TrainEvent interface{ trainEvent() }

// StageStarted: a stage began.
type StageStarted struct {
	Stage StageInfo
}

// StepMetrics: one optimiser step finished.
type StepMetrics struct {
	Stage int
	// Step counts from 1 to Steps within the stage.
	Step, Steps int
	Loss        float64
	AuxLoss     float64 // 0 when the stage has no auxiliary loss
	LR          float64
	GradNorm    float64
	// ImagesPerSec is the trainer's own throughput figure over its recent steps.
	ImagesPerSec float64
	// Elapsed is the wall time since the stage started (pauses excluded), for the ETA.
	Elapsed time.Duration
}

// SampleReady: a grid of samples from the current weights.
type SampleReady struct {
	Stage, Step int
	Grid        image.Image
	Prompts     []string
}

// StageFinished: a stage ended, with its ToyEval report when one ran (nil otherwise).
type StageFinished struct {
	Stage int
	Eval  *data.Report
}

// CheckpointSaved: a checkpoint was written.
type CheckpointSaved struct {
	Stage, Step int
	Path        string
}

// Warning: something the user should know that does not stop training.
type Warning struct{ Text string }

// Failed: the job stopped on an error (the channel closes after it).
type Failed struct{ Err error }

func (StageStarted) trainEvent()    {}
func (StepMetrics) trainEvent()     {}
func (SampleReady) trainEvent()     {}
func (StageFinished) trainEvent()   {}
func (CheckpointSaved) trainEvent() {}
func (Warning) trainEvent()         {}
func (Failed) trainEvent()          {}

// Checkpoint is one saved checkpoint of a run.
type Checkpoint struct {
	Path  string
	Stage int
	Step  int
	// Loss is the smoothed training loss when it was saved; NaN when unknown.
	Loss  float64
	Saved time.Time
}

// Run is a run folder with its checkpoints, oldest first.
type Run struct {
	Dir         string
	Preset      string
	Checkpoints []Checkpoint
}

// RunStore lists runs and loads a checkpoint for sampling. Both calls are made from tea.Cmds.
type RunStore interface {
	List(ctx context.Context) ([]Run, error)
	LoadSampler(ctx context.Context, ckpt string) (Sampler, error)
}

// SceneSource is the procedural dataset the data view browses; *data.Dataset satisfies it.
type SceneSource interface {
	Len() int
	Scene(i int) (data.Scene, error)
	Image(i, w, h int) (*image.RGBA, error)
	Captions(i int) (data.CaptionSet, error)
	Quality(i int) (float64, error)
}

var _ SceneSource = (*data.Dataset)(nil)
