package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/infer/pipeline"
	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/model/cuda"
	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/train/lumina"
)

// trainFlags are `lumina train`'s settings; the TUI's train view fills the same struct.
type trainFlags struct {
	preset, config, run string
	stage               int
	resume              bool
	presetSet           bool // --preset given explicitly
	force               bool // start even when the memory estimate exceeds the available memory
	device              string
}

func (f trainFlags) validate() error {
	if _, err := parseDevice(f.device); err != nil {
		return err
	}
	if f.stage < -1 || f.stage > 32 {
		return fmt.Errorf("--stage must be a stage number ≥ 0 (or -1 for all), got %d", f.stage)
	}
	if f.preset == "" && f.config == "" {
		return errors.New("--preset or --config is required")
	}
	return nil
}

func init() {
	var f trainFlags
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train through the paper's stages: text encoder, low-res, high-res + aux loss, HQ tuning",
		Long: `Runs a preset's stages in order (or one with --stage N), each starting from the previous one's weights:
stage 0 pre-trains the causal text encoder on the captioner's corpus, then the Next-DiT trains at low
resolution on all data, at high resolution with the auxiliary AvgPool4 loss on the best 10%, and on the best 1%.
The run folder gets config.yaml, metrics.jsonl, sample grids, ToyEval scores and checkpoints; a finished run
also writes ` + train.FinalFile + ` (EMA weights), ready for ` + "`lumina sample --ckpt`" + `.
Ctrl-C (or SIGTERM) saves a checkpoint once the current step ends and exits; a second Ctrl-C quits at once
without saving. --resume continues exactly where the run stopped. One writer at a time: a run folder that
another train holds is refused.
Presets: ` + strings.Join(train.PresetNames(), ", ") + `.`,
		Example: "  lumina train --preset tiny-cpu --run runs/tiny\n  lumina train --run runs/tiny --resume\n  lumina train --preset tiny-cpu --stage 2 --run runs/tiny",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.presetSet = cmd.Flags().Changed("preset")
			if err := f.validate(); err != nil {
				return err
			}
			opt, err := f.options()
			if err != nil {
				return err
			}
			// Every refusal comes before the model is built and before anything is written.
			if err := train.CheckOptions(opt); err != nil {
				return err
			}
			job, err := newTrainJob(opt, memoryCheck{w: cmd.ErrOrStderr(), force: f.force})
			if err != nil {
				return err
			}
			return job.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.preset, "preset", train.DefaultPreset, "embedded preset: "+strings.Join(train.PresetNames(), ", "))
	fs.StringVar(&f.config, "config", "", "YAML file overriding the preset (unknown keys are refused)")
	fs.StringVar(&f.run, "run", "", "run folder (default runs/<preset>)")
	fs.IntVar(&f.stage, "stage", -1, "run only this stage (0 = text encoder); -1 runs them all")
	fs.BoolVar(&f.resume, "resume", false, "continue from the run folder's newest checkpoint")
	fs.BoolVar(&f.force, "force", false, "start even when the memory estimate of a stage exceeds the available memory")
	fs.StringVar(&f.device, "device", "cpu", device.Flag)
	rootCmd.AddCommand(cmd)
}

// trainJob is one training run: the CLI and the TUI's train view both start it.
type trainJob struct {
	r   *train.Runner
	dir string
	// release frees what the job holds beyond the runner (its device); nil when nothing.
	release func()
}

// done releases the job's device, once.
func (j *trainJob) done() {
	if j.release != nil {
		j.release()
		j.release = nil
	}
}

// options resolves the flags to a run: the preset (or, when resuming a folder without --preset or
// --config, the run's own config.yaml) and the folder.
func (f trainFlags) options() (train.Options, error) {
	dev, err := parseDevice(f.device)
	if err != nil {
		return train.Options{}, err
	}
	opt := train.Options{RunDir: f.run, Stage: f.stage, Resume: f.resume, Device: dev}
	if !f.resume || f.config != "" || f.run == "" || f.presetSet {
		// Without --preset, a config file's own base: decides what it overlays.
		name := ""
		if f.presetSet {
			name = f.preset
		}
		p, err := train.LoadPreset(name, f.config)
		if err != nil {
			return opt, err
		}
		opt.Preset = p
	}
	if opt.RunDir == "" {
		opt.RunDir = filepath.Join("runs", opt.Preset.Name)
	}
	if opt.Preset == nil {
		// Resuming a folder without a preset: the run's own config.yaml is the recipe.
		p, ok, err := train.ReadConfig(opt.RunDir)
		if err == nil && !ok {
			err = fmt.Errorf("%s has no %s (is it a run folder?)", opt.RunDir, train.ConfigFile)
		}
		if err != nil {
			return opt, fmt.Errorf("--resume: %w", err)
		}
		opt.Preset = p
	}
	return opt, nil
}

// newTrainJob builds the model and the runner; nothing runs yet.
func newTrainJob(opt train.Options, mem memoryCheck) (*trainJob, error) {
	m, err := lumina.New(opt.Preset)
	if err != nil {
		return nil, err
	}
	var be cuda.Backend
	if opt.Device.IsCUDA() {
		if be, err = openBackend(opt.Device); err != nil {
			return nil, err
		}
		m.UseDevice(be)
	}
	fail := func(err error) (*trainJob, error) {
		if be != nil {
			be.Close()
		}
		return nil, err
	}
	if err := mem.stages(m, opt); err != nil {
		return fail(err)
	}
	if be != nil {
		if err := mem.deviceStages(m, opt, be); err != nil {
			return fail(err)
		}
	}
	m.SampleWith = sampleBundle
	var tm train.Model = m
	if wrapTrainModel != nil {
		tm = wrapTrainModel(tm)
	}
	j, err := newTrainJobWith(tm, opt)
	if err != nil {
		return fail(err)
	}
	if be != nil {
		j.release = func() { be.Close() }
	}
	return j, nil
}

// memoryCheck refuses a run whose largest planned stage would not fit in memory (see checkMemory).
type memoryCheck struct {
	w     io.Writer
	force bool
}

func (c memoryCheck) stages(m *lumina.Model, opt train.Options) error {
	need, what, err := largestStage(opt, m.StageMemory)
	if err != nil {
		return err
	}
	if what == "" {
		return nil
	}
	return checkMemory(c.w, what, need, c.force)
}

// largestStage is the planned stage that needs the most memory by need, named, and what it needs.
func largestStage(opt train.Options, need func(train.Stage) (int64, error)) (int64, string, error) {
	var most int64
	what := ""
	for _, i := range train.PlanStages(opt.Preset, opt.Stage) {
		if i < 0 || i >= len(opt.Preset.Stages) {
			continue // the runner refuses the stage number with its reason
		}
		st := opt.Preset.Stages[i]
		b, err := need(st)
		if err != nil {
			return 0, "", fmt.Errorf("stage %d (%s): %w", i, st.Name, err)
		}
		if b > most {
			most, what = b, fmt.Sprintf("stage %d (%s)", i, st.Name)
		}
	}
	return most, what, nil
}

// deviceStages refuses a run whose largest planned stage would not fit in the device's free memory,
// counted exactly from the stage's lowered training program (lumina.Model.DeviceStageMemory).
func (c memoryCheck) deviceStages(m *lumina.Model, opt train.Options, be cuda.Backend) error {
	need, what, err := largestStage(opt, m.DeviceStageMemory)
	if err != nil {
		return fmt.Errorf("on %s: %w", be.Name(), err)
	}
	free, total, err := be.MemInfo()
	if err != nil {
		return err
	}
	reportDevice(c.w, be.Name(), free, total)
	if what == "" {
		return nil
	}
	fmt.Fprintf(c.w, "device memory: %s needs %s at peak; %s free\n", what, gib(need), gib(free))
	switch {
	case need > free && !c.force:
		return fmt.Errorf("%s needs %s of device memory and %s has %s free: lower the batch or the resolution, or --force to try anyway",
			what, gib(need), be.Name(), gib(free))
	case need > free:
		fmt.Fprintf(c.w, "device memory: going ahead (--force); the run may fail with an out-of-memory error\n")
	}
	return nil
}

// wrapTrainModel, when set, wraps the model every train job drives (tests slow its steps down).
var wrapTrainModel func(train.Model) train.Model

func newTrainJobWith(m train.Model, opt train.Options) (*trainJob, error) {
	r, err := train.NewRunner(m, opt)
	if err != nil {
		return nil, err
	}
	return &trainJob{r: r, dir: opt.RunDir}, nil
}

// trainSignals is where the command hears Ctrl-C and SIGTERM; tests replace it.
var trainSignals = func() (<-chan os.Signal, func()) {
	c := make(chan os.Signal, 2)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	return c, func() { signal.Stop(c) }
}

// quitNow ends the process at a second Ctrl-C; tests replace it.
var quitNow = func() { os.Exit(130) }

// run trains with the progress on out (a bar when out is a terminal, log lines otherwise). Errors are
// returned, not rendered: the caller prints them, once.
func (j *trainJob) run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs, stopSigs := trainSignals()
	defer stopSigs()
	prog := NewProgress(out)
	evs := j.r.Events()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range evs {
			prog.Handle(ev)
		}
	}()
	ran := make(chan struct{})
	go j.answerSignals(sigs, cancel, prog, ran)
	sum, err := j.r.Run(ctx)
	j.done()
	close(ran)
	<-done
	if err != nil {
		return err
	}
	switch {
	case sum.Stopped:
		fmt.Fprintf(out, "stopped at stage %d step %d; checkpoint %s (continue with --run %s --resume)\n", sum.Stage, sum.Step, sum.LastCheckpoint, j.dir)
	case sum.AlreadyDone:
		fmt.Fprintf(out, "nothing to train: run %s has finished every planned stage (last checkpoint %s)\n", j.dir, sum.LastCheckpoint)
	case sum.Final != "":
		fmt.Fprintf(out, "finished: %s\n", sum.Final)
	}
	return nil
}

// answerSignals answers a Ctrl-C at once, whatever the runner is doing: the first stops the run (a
// checkpoint once the current step ends), the second quits without saving. Every file but the
// metrics is written atomically and a resume drops a cut metrics line, so quitting leaves nothing
// half-written behind.
func (j *trainJob) answerSignals(sigs <-chan os.Signal, stop func(), prog *Progress, ran <-chan struct{}) {
	for n := 1; ; n++ {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-ran:
			return
		}
		name := "Ctrl-C"
		if sig != os.Interrupt {
			name = sig.String()
		}
		if n == 1 {
			stop()
			prog.Note(stopNotice(name, j.r.Activity()))
			continue
		}
		prog.Note(fmt.Sprintf("%s again: quitting without saving; continue from the newest checkpoint with --run %s --resume", name, j.dir))
		j.r.Close()
		quitNow()
		return
	}
}

func stopNotice(name string, a train.Activity) string {
	const again = "press Ctrl-C again to quit now without saving"
	if !a.Stepping {
		return fmt.Sprintf("%s: stopping and saving a checkpoint; %s", name, again)
	}
	return fmt.Sprintf("%s: stopping after the current step (stage %d %s, step %d, running for %.1fs), then saving a checkpoint; %s",
		name, a.Stage, a.StageName, a.Step, time.Since(a.Since).Seconds(), again)
}

// sampleBundle is the trainer's sampler: the workbench's default settings, one image per prompt.
var sampleBundle = samplerWith(infer.DefaultSampleOptions())

// samplerWith is a trainer's sampler with the sampling settings o (the seed set per prompt).
func samplerWith(o infer.SampleOptions) func(ctx context.Context, b *ckpt.Bundle, prompts []string, w, h int, seed uint64) ([]image.Image, error) {
	return func(ctx context.Context, b *ckpt.Bundle, prompts []string, w, h int, seed uint64) ([]image.Image, error) {
		p, err := pipeline.New(b)
		if err != nil {
			return nil, err
		}
		defer p.Close()
		out := make([]image.Image, len(prompts))
		for i, text := range prompts {
			o := o
			o.Seed = seed + uint64(i)
			// Prompts arrive with their system prompt already: System none adds nothing.
			g, err := infer.Generate(ctx, p, infer.Spec{Prompt: text, System: infer.System{None: true}, Width: w, Height: h, Options: o})
			if err != nil {
				return nil, err
			}
			out[i] = g.Image
		}
		return out, nil
	}
}
