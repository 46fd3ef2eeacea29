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
	"github.com/lumina-workbench/lumina/infer/pipeline"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/train/lumina"
)

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
also writes ` + train.FinalFile + ` (EMA weights), ready for ` + "`lumina sample --ckpt`" + `.
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
			opt, err := f.options()
			if err != nil {
				return err
			}
			job, err := newTrainJob(opt)
			if err != nil {
				return err
			}
			return job.run(ctx, cmd.OutOrStdout())
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
	r   *train.Runner
	dir string
}

// options resolves the flags to a run: the preset (or, when resuming a folder without --preset or
// --config, the run's own config.yaml) and the folder.
func (f trainFlags) options() (train.Options, error) {
	opt := train.Options{RunDir: f.run, Stage: f.stage, Resume: f.resume}
	if !f.resume || f.config != "" || f.run == "" || f.presetSet {
		p, err := train.LoadPreset(f.preset, f.config)
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
		path := filepath.Join(opt.RunDir, train.ConfigFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return opt, fmt.Errorf("--resume: %w (is %s a run folder?)", err, opt.RunDir)
		}
		if opt.Preset, err = train.ParsePreset(b, path); err != nil {
			return opt, fmt.Errorf("--resume: %w", err)
		}
	}
	return opt, nil
}

// newTrainJob builds the model and the runner; nothing runs yet.
func newTrainJob(opt train.Options) (*trainJob, error) {
	m, err := lumina.New(opt.Preset)
	if err != nil {
		return nil, err
	}
	m.SampleWith = sampleBundle
	r, err := train.NewRunner(m, opt)
	if err != nil {
		return nil, err
	}
	return &trainJob{r: r, dir: opt.RunDir}, nil
}

// run trains with the progress on out (a bar when out is a terminal, log lines otherwise).
func (j *trainJob) run(ctx context.Context, out io.Writer) error {
	evs := j.r.Events()
	done := make(chan struct{})
	go func() {
		defer close(done)
		prog := NewProgress(out)
		for ev := range evs {
			prog.Handle(ev)
		}
	}()
	sum, err := j.r.Run(ctx)
	<-done
	if err != nil {
		return err
	}
	switch {
	case sum.Stopped:
		fmt.Fprintf(out, "stopped at stage %d step %d; checkpoint %s (continue with --run %s --resume)\n", sum.Stage, sum.Step, sum.LastCheckpoint, j.dir)
	case sum.Final != "":
		fmt.Fprintf(out, "finished: %s\n", sum.Final)
	}
	return nil
}

// sampleBundle is the trainer's sampler: the workbench's default settings, one image per prompt.
func sampleBundle(ctx context.Context, b *ckpt.Bundle, prompts []string, w, h int, seed uint64) ([]image.Image, error) {
	p, err := pipeline.New(b)
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
