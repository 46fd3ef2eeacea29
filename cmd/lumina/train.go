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

	"github.com/spf13/cobra"

	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/train"
)

// FinalName is the sampling checkpoint (EMA weights, no training state) a finished run leaves in its folder.
const FinalName = "final.safetensors"

// trainFlags are `lumina train`'s settings; the TUI's train view fills the same struct.
type trainFlags struct {
	preset, config, run string
	stage               int
	resume              bool
	presetSet           bool // --preset given explicitly
}

func (f trainFlags) validate() error {
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
also writes ` + FinalName + ` (EMA weights), ready for ` + "`lumina sample --ckpt`" + `.
Ctrl-C (or SIGTERM) saves a checkpoint and exits; --resume continues exactly where the run stopped.
Presets: ` + strings.Join(train.PresetNames(), ", ") + `.`,
		Example: "  lumina train --preset tiny-cpu --run runs/tiny\n  lumina train --run runs/tiny --resume\n  lumina train --preset tiny-cpu --stage 2 --run runs/tiny",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.presetSet = cmd.Flags().Changed("preset")
			if err := f.validate(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			job, err := newTrainJob(f)
			if err != nil {
				return err
			}
			return job.run(ctx, cmd.OutOrStdout(), nil)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.preset, "preset", train.DefaultPreset, "embedded preset: "+strings.Join(train.PresetNames(), ", "))
	fs.StringVar(&f.config, "config", "", "YAML file overriding the preset (unknown keys are refused)")
	fs.StringVar(&f.run, "run", "", "run folder (default runs/<preset>)")
	fs.IntVar(&f.stage, "stage", -1, "run only this stage (0 = text encoder); -1 runs them all")
	fs.BoolVar(&f.resume, "resume", false, "continue from the run folder's newest checkpoint")
	rootCmd.AddCommand(cmd)
}

// trainJob is one training run: the CLI and the TUI's train view both start it.
type trainJob struct {
	r     *train.Runner
	m     *train.Lumina
	p     *train.Preset
	dir   string
	stage int
}

// newTrainJob resolves the preset (or the run folder's own config when resuming) and builds the model
// and the runner; nothing runs yet.
func newTrainJob(f trainFlags) (*trainJob, error) {
	var p *train.Preset
	var err error
	if !f.resume || f.config != "" || f.run == "" || f.presetSet {
		if p, err = train.LoadPreset(f.preset, f.config); err != nil {
			return nil, err
		}
	}
	run := f.run
	if run == "" {
		run = filepath.Join("runs", p.Name)
	}
	if p == nil {
		// Resuming a folder without a preset: the run's own config.yaml is the recipe.
		path := filepath.Join(run, "config.yaml")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--resume: %w (is %s a run folder?)", err, run)
		}
		if p, err = train.ParsePreset(b, path); err != nil {
			return nil, fmt.Errorf("--resume: %w", err)
		}
	}
	m, err := train.NewLumina(p)
	if err != nil {
		return nil, err
	}
	m.SampleWith = sampleBundle
	r, err := train.NewRunner(m, train.Options{Preset: p, RunDir: run, Stage: f.stage, Resume: f.resume})
	if err != nil {
		return nil, err
	}
	return &trainJob{r: r, m: m, p: p, dir: run, stage: f.stage}, nil
}

// run trains; events, if non-nil, receives every trainer event (the TUI), otherwise progress goes to
// out. A finished run of the last stage exports the sampling checkpoint FinalName.
func (j *trainJob) run(ctx context.Context, out io.Writer, events chan<- train.Event) error {
	evs := j.r.Events()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var prog *train.Progress
		if events == nil {
			prog = train.NewProgress(stdoutFile(out))
		}
		for ev := range evs {
			if events != nil {
				events <- ev
			} else {
				prog.Handle(ev)
			}
		}
	}()
	sum, err := j.r.Run(ctx)
	<-done
	if err != nil {
		return err
	}
	say := func(format string, a ...any) {
		if out != nil {
			fmt.Fprintf(out, format, a...)
		}
	}
	if sum.Stopped {
		say("stopped at stage %d step %d; checkpoint %s (continue with --run %s --resume)\n", sum.Stage, sum.Step, sum.LastCheckpoint, j.dir)
		return nil
	}
	if j.stage < 0 || j.stage == len(j.p.Stages)-1 {
		final := filepath.Join(j.dir, FinalName)
		b := j.m.Bundle(true)
		b.Meta["preset"] = j.p.Name
		if err := ckpt.SaveBundle(final, b); err != nil {
			return fmt.Errorf("export %s: %w", final, err)
		}
		say("finished: %s\n", final)
	}
	return nil
}

// sampleBundle is the trainer's sampler: the workbench's default settings, one image per prompt.
func sampleBundle(ctx context.Context, b *ckpt.Bundle, prompts []string, w, h int, seed uint64) ([]image.Image, error) {
	p, err := infer.NewPipeline(b)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	out := make([]image.Image, len(prompts))
	for i, text := range prompts {
		o := infer.DefaultSampleOptions()
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

// stdoutFile is the *os.File behind out when there is one (the progress bar needs to know whether
// it is a terminal), else stdout.
func stdoutFile(out io.Writer) *os.File {
	if f, ok := out.(*os.File); ok {
		return f
	}
	return os.Stdout
}
