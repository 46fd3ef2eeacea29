// Package train drives the Lumina-Image 2.0 training recipe through its stages: presets (preset.go),
// each sample's caption (captions.go), deterministic batches (batch.go), the run folder
// (runfolder.go), live events (events.go) and the step loop (this file). The objective's formulas are
// in model/flow.
//
// The model is behind the Model interface (train/lumina implements it with the real networks): the
// runner never touches tensors, and this package builds no graphs, so the TUI uses its presets, events
// and run folders directly. What makes a resumed run
// continue exactly is split cleanly: the batch of (seed, stage, step) is a pure function of those
// numbers, and everything else that changes during training (weights, optimiser moments, EMA) is the
// model's checkpoint.
package train

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/internal/device"
)

// StageInfo is what the model is told when a stage begins.
type StageInfo struct {
	// Index is the stage number (its place in Preset.Stages).
	Index int
	Stage Stage
	// Optimizer is AdamW's settings; the peak lr is Stage.LR and each step's lr comes in Batch.LR.
	Optimizer OptimizerConfig
	// Model and TextEncoder are the preset's model config names.
	Model, TextEncoder string
	Patch              int
	Seed               uint64
	// FromScratch is true when no earlier stage's weights were loaded or trained in this process and
	// no checkpoint of this stage follows: the model trains from its initialisation.
	FromScratch bool
}

// StepResult is what one training step reports.
type StepResult struct {
	// Loss is the main flow-matching loss (batch mean); AuxLoss the auxiliary one (0 without aux). In a
	// text-encoder stage Loss is the next-token cross-entropy.
	Loss, AuxLoss float64
	// GradNorm is the global gradient norm before clipping.
	GradNorm float64
	// Skipped is true when the model found a non-finite loss or gradient and did not update anything.
	Skipped bool
}

// Model is one model through all stages, implemented with the real text encoder and Next-DiT.
//
// Contract:
//   - BeginStage(st) prepares stage st from the current weights: a fresh optimiser with st's settings,
//     the EMA (decay st.Stage.EMADecay) started from the current weights, what to train (the text
//     encoder in a text-encoder stage; the DiT with the text encoder frozen otherwise, when caption
//     features may be cached). The runner calls it (a) at a fresh stage start, after LoadCheckpoint of
//     the previous stage's final checkpoint when continuing from a run folder, and (b) before
//     LoadCheckpoint when resuming inside the stage, so that the load replaces the fresh optimiser
//     and EMA state.
//   - Step runs forward, backward and the optimiser update on b: x1 = b.Images, x0 = b.Noise, t = b.T,
//     target x1 − x0, and, when b.Aux != nil, a second forward on the pooled images with their own
//     noise and t and the same caption features; loss = main + aux. It uses no randomness of its own
//     (everything random is in the batch), so the same state and batch give the same result. When the
//     loss or the gradient norm is not finite, it must not change any state and reports Skipped. When
//     it returns an error, its state must be as before the call (the runner checkpoints that state if
//     the error is ctx's).
//   - SaveCheckpoint writes everything exact resumption needs (weights, optimiser moments and step
//     count, EMA weights) with meta added to its metadata; LoadCheckpoint reads such a file back and
//     returns its metadata. The runner owns the file (atomic write, naming, pruning).
type Model interface {
	BeginStage(st StageInfo) error
	Step(ctx context.Context, b *Batch) (StepResult, error)
	SaveCheckpoint(w io.Writer, meta map[string]string) error
	LoadCheckpoint(r io.Reader) (meta map[string]string, err error)
}

// Sampler is optional: a model that can generate images gets periodic sample grids and the ToyEval at
// each image stage's end. Prompts already carry their system prompt; one image per prompt, w×h pixels.
type Sampler interface {
	Sample(ctx context.Context, prompts []string, w, h int, seed uint64) ([]image.Image, error)
}

// Exporter is optional: a model that can write its sampling checkpoint (the EMA weights, no training
// state). A run that trains a preset's last stage leaves it in the run folder as FinalFile.
type Exporter interface {
	Export(w io.Writer) error
}

// Options configure a run.
type Options struct {
	// Preset is the recipe. With Resume it may be nil: the run folder's config.yaml is used.
	Preset *Preset
	// RunDir is the run folder.
	RunDir string
	// Stage runs one stage only (its number); AllStages runs every stage not marked skip.
	Stage int
	// Resume continues from the newest checkpoint of the run folder.
	Resume bool
	// CheckpointExt is the checkpoint file extension (default ".safetensors").
	CheckpointExt string
	// Clock times the steps against the stages' wall-clock caps (Stage.Minutes); nil is time.Now.
	// Tests pass a clock they advance themselves.
	Clock func() time.Time
	// Device is where the model trains; the zero value is the CPU. It is not part of the recipe:
	// config.yaml does not record it, and a run may resume on another device.
	Device device.Device
}

// AllStages is Options.Stage for a run through every stage not marked skip.
const AllStages = -1

// Summary is how a run ended.
type Summary struct {
	// Stopped is true when Stop or the context ended the run early; a checkpoint was saved.
	Stopped bool
	// Stage and Step are where training stood at the end (Step = steps done in Stage).
	Stage, Step int
	// StepsRun counts the steps this call ran.
	StepsRun int
	// LastCheckpoint is the newest checkpoint on disk ("" if none).
	LastCheckpoint string
	// Final is the sampling checkpoint exported at the end of the preset's last stage ("" if none).
	Final string
	// AlreadyDone is true when there was nothing left to run.
	AlreadyDone bool
}

// Errors a caller may test for.
var (
	ErrBadSteps      = errors.New("too many non-finite steps in a row")
	ErrConfigChanged = errors.New("run folder was started with a different config")
)

// Runner drives the stages. Pause, Resume, Stop and Activity are safe from any goroutine.
type Runner struct {
	m    Model
	opt  Options
	p    *Preset
	rf   *RunFolder
	src  *BatchSource
	bus  *eventBus
	hash string
	// stages and start are where the run goes and where it begins, worked out before anything was
	// written.
	stages []int
	start  startPoint
	// notices are published as warnings when Run starts.
	notices []string

	mu         sync.Mutex
	paused     bool
	stop       bool
	control    chan struct{}
	cancelStep context.CancelFunc
	activity   Activity

	lastCkpt string
	metrics  *metricsWriter
}

// Activity is what the runner is doing now, for a display that must answer at once (a Ctrl-C during
// a long step).
type Activity struct {
	// Stepping is true while a training step runs: Step (1-based) of Stage, started at Since.
	Stepping    bool
	Stage, Step int
	StageName   string
	Since       time.Time
}

// runPlan is a run worked out from its options and the run folder, reading only.
type runPlan struct {
	p      *Preset
	stages []int
	start  startPoint
	hash   string
	config []byte // config.yaml as this run writes it
	onDisk []byte // config.yaml as it is (nil when there is none)
}

// CheckOptions checks opt against the run folder as NewRunner does, reading only: the preset, the
// stage, a folder another writer holds, a config that differs from the folder's, and the checkpoints
// the run would start from. A command checks before it builds its model, so that a refusal comes at
// once and leaves the folder as it was.
func CheckOptions(opt Options) error {
	_, err := planRun(opt, false)
	return err
}

// planRun works out the run; locked is true when the caller holds the folder's lock.
func planRun(opt Options, locked bool) (*runPlan, error) {
	if err := opt.Device.Validate(); err != nil {
		return nil, fmt.Errorf("--device: %w", err)
	}
	dir := opt.RunDir
	if dir == "" {
		return nil, errors.New("run folder: empty path")
	}
	ext := opt.CheckpointExt
	if ext == "" {
		ext = DefaultCheckpointExt
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("run folder %s: not a folder", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("run folder %s: %w", dir, err)
	}
	if !locked {
		if err := checkLock(dir); err != nil {
			return nil, err
		}
	}
	onDisk, raw, haveCfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	ckpts, err := listCheckpoints(dir, ext)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("run folder %s: %w", dir, err)
	}
	p := opt.Preset
	if p == nil {
		if !haveCfg {
			return nil, fmt.Errorf("run folder %s has no %s; give a preset", dir, ConfigFile)
		}
		p = onDisk
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("preset %s: %w", p.Name, err)
	}
	if opt.Stage < -1 || opt.Stage >= len(p.Stages) {
		return nil, fmt.Errorf("stage %d outside 0..%d (preset %s has %d stages)", opt.Stage, len(p.Stages)-1, p.Name, len(p.Stages))
	}
	id, err := p.recipe()
	if err != nil {
		return nil, err
	}
	if haveCfg && len(ckpts) > 0 {
		old, err := onDisk.recipe()
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(old, id) {
			cfg := filepath.Join(dir, ConfigFile)
			return nil, fmt.Errorf("%w: %s differs from the preset given; continue that run with --run %s --resume and no --preset or --config (or with --config %s), or start a new --run",
				ErrConfigChanged, cfg, dir, cfg)
		}
	}
	stages := PlanStages(p, opt.Stage)
	start, err := startPointFor(opt, p, stages, ckpts)
	if err != nil {
		return nil, err
	}
	config, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(id)
	return &runPlan{p: p, stages: stages, start: start, hash: hex.EncodeToString(sum[:8]), config: config, onDisk: raw}, nil
}

// NewRunner checks the options against the run folder, then opens it for writing (holding its lock
// until Run ends or Close) and writes config.yaml. A refused run writes nothing.
func NewRunner(m Model, opt Options) (*Runner, error) {
	if m == nil {
		return nil, errors.New("train: nil model")
	}
	if _, err := planRun(opt, false); err != nil {
		return nil, err
	}
	rf, err := OpenRunFolder(opt.RunDir, opt.CheckpointExt)
	if err != nil {
		return nil, err
	}
	r, err := runnerIn(m, opt, rf)
	if err != nil {
		rf.Close()
		return nil, err
	}
	return r, nil
}

// runnerIn is NewRunner once rf is open.
func runnerIn(m Model, opt Options, rf *RunFolder) (*Runner, error) {
	// Checked again under the lock: another writer may have ended in between, changing the folder.
	pl, err := planRun(opt, true)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pl.config, pl.onDisk) {
		if err := rf.WriteConfig(pl.p); err != nil {
			return nil, fmt.Errorf("run folder %s: %w", opt.RunDir, err)
		}
	}
	src, err := NewBatchSource(pl.p, pl.p.Seed)
	if err != nil {
		return nil, err
	}
	r := &Runner{m: m, opt: opt, p: pl.p, rf: rf, src: src, bus: newEventBus(), hash: pl.hash,
		stages: pl.stages, start: pl.start, control: make(chan struct{}, 1)}
	if rf.TookOver != nil {
		r.notices = append(r.notices, tookOverMessage(rf.Dir, *rf.TookOver))
	}
	return r, nil
}

// Close releases the run folder without running; Run releases it when it ends. It may be called
// more than once.
func (r *Runner) Close() error { return r.rf.Close() }

// now is the time on the runner's clock (Options.Clock).
func (r *Runner) now() time.Time {
	if r.opt.Clock != nil {
		return r.opt.Clock()
	}
	return time.Now()
}

// Preset is the recipe the runner uses.
func (r *Runner) Preset() *Preset { return r.p }

// Folder is the run folder.
func (r *Runner) Folder() *RunFolder { return r.rf }

// Source is the batch source (for inspection and tests).
func (r *Runner) Source() *BatchSource { return r.src }

// Events returns the event channel; call it before Run to see every event. The channel closes after
// RunFinished. Read it until it closes: the forwarding goroutine waits for the reader.
func (r *Runner) Events() <-chan Event { return r.bus.subscribe() }

// CoalescedSteps counts step events replaced by newer ones because the reader was behind.
func (r *Runner) CoalescedSteps() int { return r.bus.coalescedCount() }

func (r *Runner) signal() {
	select {
	case r.control <- struct{}{}:
	default:
	}
}

// Pause holds the run before its next step.
func (r *Runner) Pause() { r.setPaused(true) }

// Resume lets a paused run continue.
func (r *Runner) Resume() { r.setPaused(false) }

func (r *Runner) setPaused(on bool) {
	r.mu.Lock()
	r.paused = on
	r.mu.Unlock()
	r.signal()
}

// Paused reports whether Pause is in effect.
func (r *Runner) Paused() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paused
}

// Stop ends the run with a checkpoint of the last completed step (a paused run stops at once). A step
// in progress ends at its next safe point (a model that honours its context), or completes.
func (r *Runner) Stop() {
	r.mu.Lock()
	r.stop = true
	if r.cancelStep != nil {
		r.cancelStep()
	}
	r.mu.Unlock()
	r.signal()
}

// Activity reports what the runner is doing now.
func (r *Runner) Activity() Activity {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.activity
}

// waitControl returns true when the run must stop now; it blocks while paused.
func (r *Runner) waitControl(ctx context.Context, stage, step int) bool {
	announced := false
	for {
		r.mu.Lock()
		stop, paused := r.stop, r.paused
		r.mu.Unlock()
		if stop || ctx.Err() != nil {
			return true
		}
		if !paused {
			if announced {
				r.bus.publish(ResumedEvent{Stage: stage, Step: step})
			}
			return false
		}
		if !announced {
			r.bus.publish(PausedEvent{Stage: stage, Step: step})
			announced = true
		}
		select {
		case <-r.control:
		case <-ctx.Done():
		}
	}
}

// LRAt is the learning rate of step (0-based) of a stage: linear warm-up to st.LR over st.Warmup
// steps, then constant or cosine down to st.MinLR at the last step.
func LRAt(st Stage, step int) float64 {
	if st.Warmup > 0 && step < st.Warmup {
		return st.LR * float64(step+1) / float64(st.Warmup)
	}
	if st.LRSchedule == ScheduleCosine && st.Steps > st.Warmup {
		prog := float64(step-st.Warmup) / float64(st.Steps-st.Warmup)
		prog = math.Min(math.Max(prog, 0), 1)
		return st.MinLR + (st.LR-st.MinLR)*0.5*(1+math.Cos(math.Pi*prog))
	}
	return st.LR
}

func (r *Runner) stageInfo(i int, scratch bool) StageInfo {
	return StageInfo{Index: i, Stage: r.p.Stages[i], Optimizer: r.p.Optimizer, Model: r.p.Model,
		TextEncoder: r.p.TextEncoder, Patch: r.p.Objective.Patch, Seed: r.p.Seed, FromScratch: scratch}
}

// PlanStages lists the stages a run of stage (AllStages for every stage not marked skip) goes through.
func PlanStages(p *Preset, stage int) []int {
	if stage >= 0 {
		return []int{stage}
	}
	var out []int
	for i, s := range p.Stages {
		if !s.Skip {
			out = append(out, i)
		}
	}
	return out
}

// runState is the runner's own part of a checkpoint.
type runState struct {
	stage, step int
	final       bool
	badStreak   int
	elapsed     time.Duration
}

const metaPrefix = "train."

func (r *Runner) meta(s runState) map[string]string {
	return map[string]string{
		metaPrefix + "stage":      strconv.Itoa(s.stage),
		metaPrefix + "stage_name": r.p.Stages[s.stage].Name,
		metaPrefix + "step":       strconv.Itoa(s.step),
		metaPrefix + "final":      strconv.FormatBool(s.final),
		metaPrefix + "bad_streak": strconv.Itoa(s.badStreak),
		metaPrefix + "elapsed_ns": strconv.FormatInt(int64(s.elapsed), 10),
		metaPrefix + "seed":       strconv.FormatUint(r.p.Seed, 10),
		metaPrefix + "preset":     r.p.Name,
		metaPrefix + "config":     r.hash,
	}
}

func parseState(meta map[string]string, path string) (runState, error) {
	var s runState
	var ns int64
	fields := []struct {
		key   string
		parse func(string) error
	}{
		{"stage", func(v string) (err error) { s.stage, err = strconv.Atoi(v); return err }},
		{"step", func(v string) (err error) { s.step, err = strconv.Atoi(v); return err }},
		{"final", func(v string) (err error) { s.final, err = strconv.ParseBool(v); return err }},
		{"bad_streak", func(v string) (err error) { s.badStreak, err = strconv.Atoi(v); return err }},
		{"elapsed_ns", func(v string) (err error) { ns, err = strconv.ParseInt(v, 10, 64); return err }},
	}
	for _, f := range fields {
		v, ok := meta[metaPrefix+f.key]
		if !ok {
			return s, fmt.Errorf("checkpoint %s: metadata has no %s%s (not written by this trainer?)", path, metaPrefix, f.key)
		}
		if err := f.parse(v); err != nil {
			return s, fmt.Errorf("checkpoint %s: bad metadata %s%s: %w", path, metaPrefix, f.key, err)
		}
	}
	s.elapsed = time.Duration(ns)
	return s, nil
}

func (r *Runner) save(s runState) (string, error) {
	// The metrics reach the disk before the checkpoint does: a resume from the checkpoint must find
	// every step up to it logged.
	if r.metrics != nil {
		if err := r.metrics.sync(); err != nil {
			return "", err
		}
	}
	path, err := r.rf.SaveCheckpoint(s.stage, s.step, s.final, func(w io.Writer) error {
		return r.m.SaveCheckpoint(w, r.meta(s))
	})
	if err != nil {
		prev := r.lastCkpt
		if prev == "" {
			prev = "none"
		}
		return "", fmt.Errorf("save checkpoint (stage %d step %d): %w; earlier checkpoints are untouched (newest: %s)", s.stage, s.step, err, prev)
	}
	r.lastCkpt = path
	r.bus.publish(CheckpointSaved{Stage: s.stage, Step: s.step, Final: s.final, Path: path})
	if err := r.rf.Prune(r.p.Checkpoints.KeepLast); err != nil {
		r.bus.publish(WarningEvent{Stage: s.stage, Step: s.step, Message: err.Error()})
	}
	return path, nil
}

func (r *Runner) load(path string) (runState, error) {
	f, err := os.Open(path)
	if err != nil {
		return runState{}, fmt.Errorf("load checkpoint: %w", err)
	}
	defer f.Close()
	meta, err := r.m.LoadCheckpoint(f)
	if err != nil {
		return runState{}, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	s, err := parseState(meta, path)
	if err != nil {
		return s, err
	}
	if h := meta[metaPrefix+"config"]; h != r.hash {
		return s, fmt.Errorf("%w: checkpoint %s was written under config %s, this run's is %s", ErrConfigChanged, path, h, r.hash)
	}
	r.lastCkpt = path
	return s, nil
}

// start works out where the run begins: the position in plan, the checkpoint to load and how.
type startPoint struct {
	pos      int
	resume   *CheckpointInfo // a checkpoint inside plan[pos] to continue from
	prev     *CheckpointInfo // a final checkpoint of an earlier stage to start plan[pos] from
	finished bool
}

// startPointFor works out where a run of plan begins in a folder with ckpts; it refuses a folder with
// checkpoints of the plan without opt.Resume, and a stage whose previous stage has no final checkpoint.
func startPointFor(opt Options, p *Preset, plan []int, ckpts []CheckpointInfo) (startPoint, error) {
	inPlan := map[int]int{}
	for i, s := range plan {
		inPlan[s] = i
	}
	var newest *CheckpointInfo
	for i := range ckpts {
		if _, ok := inPlan[ckpts[i].Stage]; ok {
			newest = &ckpts[i]
		}
	}
	var sp startPoint
	if newest != nil && !opt.Resume {
		return sp, fmt.Errorf("run folder %s already has checkpoints of stage %d (newest %s); pass --resume to continue, or choose a new --run",
			opt.RunDir, newest.Stage, filepath.Base(newest.Path))
	}
	prevFinal := func(stage int) (*CheckpointInfo, error) {
		var best *CheckpointInfo
		for i := range ckpts {
			if ckpts[i].Final && ckpts[i].Stage < stage {
				best = &ckpts[i]
			}
		}
		needed := false
		for i := 0; i < stage; i++ {
			if !p.Stages[i].Skip {
				needed = true
			}
		}
		if best == nil && needed {
			return nil, fmt.Errorf("stage %d starts from the previous stage's final weights, and %s has no final checkpoint of an earlier stage; run the earlier stages first (without --stage)",
				stage, filepath.Join(opt.RunDir, CheckpointDir))
		}
		return best, nil
	}
	if newest != nil {
		sp.pos = inPlan[newest.Stage]
		if !newest.Final {
			sp.resume = newest
			return sp, nil
		}
		sp.pos++
		sp.prev = newest
		if sp.pos >= len(plan) {
			sp.finished = true
		}
		return sp, nil
	}
	prev, err := prevFinal(plan[0])
	if err != nil {
		return sp, err
	}
	sp.prev = prev
	return sp, nil
}

// Run trains until every planned stage is done, Stop is called, ctx is cancelled (SIGINT/SIGTERM in
// the command), or an error ends it. An early end saves a checkpoint and returns Stopped with a nil
// error. Run may be called once.
func (r *Runner) Run(ctx context.Context) (sum Summary, err error) {
	defer func() {
		// Released before the last event, so that whoever waits for it may open the folder again.
		if cerr := r.rf.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			r.bus.publish(ErrorEvent{Err: err})
		}
		r.bus.publish(RunFinished{Stopped: sum.Stopped, Err: err, Final: sum.Final})
		r.bus.close()
		sum.LastCheckpoint = r.lastCkpt
	}()
	for _, n := range r.notices {
		r.bus.publish(WarningEvent{Stage: -1, Step: -1, Message: n})
	}
	// A writer killed between a checkpoint and the pruning after it kept one too many.
	if err := r.rf.Prune(r.p.Checkpoints.KeepLast); err != nil {
		r.bus.publish(WarningEvent{Stage: -1, Step: -1, Message: err.Error()})
	}
	plan, sp := r.stages, r.start
	if sp.finished {
		sum.AlreadyDone = true
		sum.Stage, sum.Step = sp.prev.Stage, 0
		r.lastCkpt = sp.prev.Path
		sum.Final, err = r.exportMissing(sp.prev)
		return sum, err
	}
	// Metrics after the checkpoint a resume starts from were never part of this run's history.
	cut := runState{stage: plan[sp.pos]}
	if sp.resume != nil {
		cut.step = sp.resume.Step
	} else {
		cut.stage, cut.step = plan[sp.pos]-1, math.MaxInt
	}
	if err := r.rf.TruncateMetrics(cut.stage, cut.step); err != nil {
		return sum, err
	}
	// Likewise the record of how a stage ended, from the stage this call trains on.
	if err := r.rf.TruncateStages(plan[sp.pos]); err != nil {
		return sum, err
	}
	mw, err := r.rf.openMetrics()
	if err != nil {
		return sum, err
	}
	r.metrics = mw
	defer func() {
		if cerr := mw.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	scratch := sp.prev == nil && sp.resume == nil
	for pos := sp.pos; pos < len(plan); pos++ {
		stage := plan[pos]
		st := r.p.Stages[stage]
		state := runState{stage: stage}
		switch {
		case pos == sp.pos && sp.resume != nil:
			if err := r.m.BeginStage(r.stageInfo(stage, false)); err != nil {
				return sum, fmt.Errorf("begin stage %d (%s): %w", stage, st.Name, err)
			}
			if state, err = r.load(sp.resume.Path); err != nil {
				return sum, err
			}
			if state.stage != stage || state.step != sp.resume.Step || state.final {
				return sum, fmt.Errorf("checkpoint %s: metadata says stage %d step %d, the file name stage %d step %d",
					sp.resume.Path, state.stage, state.step, stage, sp.resume.Step)
			}
		case pos == sp.pos && sp.prev != nil:
			if _, err := r.load(sp.prev.Path); err != nil {
				return sum, err
			}
			fallthrough
		default:
			if err := r.m.BeginStage(r.stageInfo(stage, scratch)); err != nil {
				return sum, fmt.Errorf("begin stage %d (%s): %w", stage, st.Name, err)
			}
		}
		scratch = false
		done, serr := r.runStage(ctx, &state, &sum)
		sum.Stage, sum.Step = state.stage, state.step
		if serr != nil || !done {
			return sum, serr
		}
	}
	if r.exportsAtEnd() {
		sum.Final, err = r.export()
	}
	return sum, err
}

// exportsAtEnd is true when the run trains the preset's last stage (or every stage) and so ends with
// FinalFile.
func (r *Runner) exportsAtEnd() bool {
	return r.opt.Stage < 0 || r.opt.Stage == len(r.p.Stages)-1
}

// exportMissing writes FinalFile from last, the final checkpoint of a finished run, when the export is
// missing: a writer killed between that checkpoint and its export. "" when nothing was written.
func (r *Runner) exportMissing(last *CheckpointInfo) (string, error) {
	if _, ok := r.m.(Exporter); !ok || !r.exportsAtEnd() {
		return "", nil
	}
	if _, err := os.Stat(filepath.Join(r.rf.Dir, FinalFile)); !errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err := r.m.BeginStage(r.stageInfo(last.Stage, false)); err != nil {
		return "", fmt.Errorf("begin stage %d (%s): %w", last.Stage, r.p.Stages[last.Stage].Name, err)
	}
	if _, err := r.load(last.Path); err != nil {
		return "", err
	}
	return r.export()
}

// export writes FinalFile when the model can export one; "" when it cannot.
func (r *Runner) export() (string, error) {
	ex, ok := r.m.(Exporter)
	if !ok {
		return "", nil
	}
	path := filepath.Join(r.rf.Dir, FinalFile)
	if err := r.rf.WriteFileAtomic(path, ex.Export); err != nil {
		return "", fmt.Errorf("export %s: %w", path, err)
	}
	return path, nil
}

// runStage runs one stage from state; done is false when the run stopped early.
func (r *Runner) runStage(ctx context.Context, state *runState, sum *Summary) (done bool, err error) {
	stage := state.stage
	st := r.p.Stages[stage]
	r.bus.publish(StageStarted{Stage: stage, Name: st.Name, Kind: st.Kind, Steps: st.Steps, FromStep: state.step})
	budget := time.Duration(st.Minutes * float64(time.Minute))
	savedAt := state.step // the state on disk already (a resumed checkpoint)
	if state.step == 0 {
		savedAt = -1
	}
	var stepDur, ips float64 // smoothed seconds per step, items per second
	interrupt := func() (bool, error) {
		if savedAt != state.step {
			if _, err := r.save(*state); err != nil {
				return false, err
			}
		}
		sum.Stopped = true
		return false, nil
	}
	for {
		if state.step >= st.Steps {
			break
		}
		if budget > 0 && state.elapsed >= budget {
			break
		}
		if r.waitControl(ctx, stage, state.step) {
			return interrupt()
		}
		b, err := r.src.Batch(stage, state.step)
		if err != nil {
			return false, err
		}
		t0 := r.now()
		res, err := r.step(ctx, b, st.Name, t0)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return interrupt()
			}
			return false, fmt.Errorf("stage %d (%s) step %d: %w", stage, st.Name, state.step+1, err)
		}
		d := r.now().Sub(t0)
		state.elapsed += d
		state.step++
		sum.StepsRun++

		sec := math.Max(d.Seconds(), 1e-9)
		if stepDur == 0 {
			stepDur, ips = sec, float64(len(b.Items))/sec
		} else {
			stepDur = 0.9*stepDur + 0.1*sec
			ips = 0.9*ips + 0.1*float64(len(b.Items))/sec
		}
		bad := res.Skipped || !finite(res.Loss) || !finite(res.AuxLoss) || !finite(res.GradNorm)
		if bad {
			state.badStreak++
			r.bus.publish(WarningEvent{Stage: stage, Step: state.step, Message: fmt.Sprintf(
				"non-finite step skipped (loss %v, aux %v, grad norm %v); %d in a row, the run stops at %d",
				res.Loss, res.AuxLoss, res.GradNorm, state.badStreak, r.p.MaxBadSteps)})
		} else {
			state.badStreak = 0
		}
		rec := MetricsRecord{Time: time.Now(), Stage: stage, StageName: st.Name, Step: state.step, Loss: res.Loss,
			AuxLoss: res.AuxLoss, GradNorm: res.GradNorm, LR: b.LR, ImagesPerSec: ips, Skipped: bad}
		if err := r.metrics.write(rec); err != nil {
			return false, fmt.Errorf("stage %d step %d: %w", stage, state.step, err)
		}
		r.bus.publish(StepEvent{Stage: stage, StageName: st.Name, Step: state.step, Steps: st.Steps, Loss: res.Loss,
			AuxLoss: res.AuxLoss, GradNorm: res.GradNorm, LR: b.LR, ImagesPerSec: ips, Skipped: bad,
			ETA: eta(st, state, stepDur, budget), Time: rec.Time})
		if state.badStreak >= r.p.MaxBadSteps {
			last := r.lastCkpt
			if last == "" {
				last = "none"
			}
			return false, fmt.Errorf("%w: stage %d (%s) steps %d–%d all had a non-finite loss or gradient; stopped without saving (the weights are those of step %d; newest checkpoint: %s). Lower the lr, raise the warm-up or check the data",
				ErrBadSteps, stage, st.Name, state.step-state.badStreak+1, state.step, state.step-state.badStreak, last)
		}
		lastStep := state.step >= st.Steps
		if st.CheckpointEvery > 0 && state.step%st.CheckpointEvery == 0 && !lastStep {
			if _, err := r.save(*state); err != nil {
				return false, err
			}
			savedAt = state.step
		}
		if st.SampleEvery > 0 && state.step%st.SampleEvery == 0 && !lastStep {
			r.sampleGrid(ctx, stage, state.step)
		}
	}
	// The loop ends at the step budget or at the cap. A stage the cap ended early is said so, live and
	// in the run folder, since its step count (and so its loss curve) depends on the machine. The
	// record is written before the final checkpoint: a writer killed in between resumes this stage and
	// writes it again.
	rec := StageRecord{Stage: stage, StageName: st.Name, Steps: state.step, Budget: st.Steps, Minutes: st.Minutes,
		ElapsedS: state.elapsed.Seconds(), Cut: state.step < st.Steps}
	if rec.Cut {
		r.bus.publish(rec.warning())
	}
	if err := r.rf.RecordStage(rec); err != nil {
		return false, err
	}
	final := *state
	final.final = true
	if _, err := r.save(final); err != nil {
		return false, err
	}
	r.sampleGrid(ctx, stage, state.step)
	rep := r.evaluate(ctx, stage)
	r.bus.publish(StageFinished{Stage: stage, Name: st.Name, Steps: state.step, Eval: rep, Elapsed: state.elapsed, CutByCap: rec.Cut})
	if ctx.Err() != nil {
		sum.Stopped = true
		return false, nil
	}
	return true, nil
}

// step runs the model's step under a context that Stop cancels too, and keeps Activity current. A
// step ended by that context returns its error unchanged (the model's state is as before the step).
func (r *Runner) step(ctx context.Context, b *Batch, stageName string, t0 time.Time) (StepResult, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.mu.Lock()
	if r.stop {
		cancel()
	}
	r.cancelStep = cancel
	r.activity = Activity{Stepping: true, Stage: b.Stage, Step: b.Step + 1, StageName: stageName, Since: t0}
	r.mu.Unlock()
	res, err := r.m.Step(sctx, b)
	r.mu.Lock()
	r.cancelStep = nil
	r.activity.Stepping = false
	r.mu.Unlock()
	if err != nil && sctx.Err() != nil {
		return res, sctx.Err()
	}
	return res, err
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func eta(st Stage, s *runState, stepDur float64, budget time.Duration) time.Duration {
	out := time.Duration(float64(st.Steps-s.step) * stepDur * float64(time.Second))
	if budget > 0 {
		out = min(out, max(budget-s.elapsed, 0))
	}
	return out
}

// systemPromptFor is the system prompt sample and eval prompts get in a stage.
func (r *Runner) systemPromptFor(stage int, dual bool) string {
	if dual {
		return caption.SystemPrompt(caption.TemplateC)
	}
	switch r.p.CaptionConfig(stage).SystemPrompt {
	case SystemNone:
		return ""
	case "B":
		return caption.SystemPrompt(caption.TemplateB)
	}
	return caption.SystemPrompt(caption.TemplateA) // the domain rule: prompts ask for the flat style
}

// sampleGrid writes samples/s<stage>-<step>.png when the model can sample; failures are warnings.
func (r *Runner) sampleGrid(ctx context.Context, stage, step int) {
	sm, ok := r.m.(Sampler)
	st := r.p.Stages[stage]
	if !ok || st.Kind != KindDiT || len(r.p.Samples.Prompts) == 0 || ctx.Err() != nil {
		return
	}
	dual := st.DualPanel != nil
	w, h := st.Resolution, st.Resolution
	if dual {
		h = 2 * w
	}
	sys := r.systemPromptFor(stage, dual)
	prompts := make([]string, len(r.p.Samples.Prompts))
	for i, p := range r.p.Samples.Prompts {
		prompts[i] = sys + p
	}
	imgs, err := sm.Sample(ctx, prompts, w, h, r.p.Samples.Seed)
	if err == nil && len(imgs) != len(prompts) {
		err = fmt.Errorf("sampler returned %d images for %d prompts", len(imgs), len(prompts))
	}
	path := filepath.Join(r.rf.Dir, SamplesDir, fmt.Sprintf("s%d-%08d.png", stage, step))
	if err == nil {
		err = r.rf.WritePNG(path, Grid(imgs))
	}
	if err != nil {
		if ctx.Err() == nil {
			r.bus.publish(WarningEvent{Stage: stage, Step: step, Message: "sample grid: " + err.Error()})
		}
		return
	}
	r.bus.publish(SampleEvent{Stage: stage, Step: step, Path: path})
}

// evaluate runs the end-of-stage ToyEval when the model can sample; nil when none ran (a failure is a
// warning).
func (r *Runner) evaluate(ctx context.Context, stage int) *toyeval.Report {
	st := r.p.Stages[stage]
	sm, ok := r.m.(Sampler)
	if !ok || st.NoEval || st.Kind != KindDiT || r.p.Eval.Suite == "" || ctx.Err() != nil {
		return nil
	}
	rep, err := r.toyEval(ctx, sm, stage)
	if err != nil {
		if ctx.Err() == nil {
			r.bus.publish(WarningEvent{Stage: stage, Step: -1, Message: "ToyEval: " + err.Error()})
		}
		return nil
	}
	return rep
}

// toyEval samples the preset's suite with the stage's system prompt, scores it and writes the report
// to the run folder's eval/.
func (r *Runner) toyEval(ctx context.Context, sm Sampler, stage int) (*toyeval.Report, error) {
	st := r.p.Stages[stage]
	prompts, err := toyeval.Suite(r.p.Eval.Suite)
	if err != nil {
		return nil, err
	}
	sys := r.systemPromptFor(stage, false)
	texts := make([]string, len(prompts))
	for i, p := range prompts {
		texts[i] = sys + p.Text
	}
	imgs, err := sm.Sample(ctx, texts, st.Resolution, st.Resolution, r.p.Eval.Seed)
	if err != nil {
		return nil, err
	}
	if len(imgs) != len(prompts) {
		return nil, fmt.Errorf("sampler returned %d images for %d prompts", len(imgs), len(prompts))
	}
	rep := toyeval.Evaluate(prompts, imgs)
	path := filepath.Join(r.rf.Dir, EvalDir, fmt.Sprintf("s%d-%s.json", stage, r.p.Eval.Suite))
	if err := r.rf.WriteJSON(path, rep); err != nil {
		return nil, err
	}
	return &rep, nil
}
