package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lumina-workbench/lumina/experiment"
	"github.com/lumina-workbench/lumina/experiment/plots"
	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/sweep"
	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/train/lumina"
)

func init() {
	var (
		out, shard, export     string
		shards                 int
		resume, force, logStep bool
	)
	cmd := &cobra.Command{
		Use:   "experiment FILE",
		Short: "Train every variant × seed of an experiment file and summarise losses and ToyEval with intervals",
		Long: `Trains each variant of an experiment file with each of its seeds, one run folder each under --out/runs,
then writes into --out: summary.md and summary.csv (per variant: final and best loss over seeds, ToyEval's
overall score and category means after the last stage with 95% bootstrap intervals over prompts and seeds,
and the paired difference to the first variant), loss.png (the variants' loss curves, mean over seeds with
a band from the least to the largest seed) and eval.png (ToyEval at each stage's end).

An experiment file:

  name: aux-loss
  base: tiny-cpu                 # the preset every variant overlays
  common: {eval: {suite: quick}} # preset keys for every variant (as --config takes them)
  steps: {low-res: 120, high-res: 90}   # per stage, or total_steps: N split in proportion
  seeds: [1, 2, 3]
  baseline: aux-on               # optional: the base itself, run first as the reference
  variants:
    aux-off:                     # preset keys this variant changes
      stages: [{name: high-res, aux_loss: false}]

FILE may also name a shipped experiment: ` + strings.Join(experiment.Shipped(), ", ") + `.
--resume continues a folder: finished runs are kept, an interrupted run continues exactly from its newest
checkpoint. --shard I/N trains every N-th run from the I-th; --export slurm --shards N writes
--out/` + experiment.SlurmFile + `, a Slurm job array of N such shards, and ` + "`lumina experiment collect DIR`" + `
writes the summary once they have finished. --out/progress.jsonl records each run's start, stage ends
and end for a display to follow; each run's metrics.jsonl has its steps.`,
		Example: "  lumina experiment aux-loss --out experiments/aux\n  lumina experiment my.yaml --out experiments/my --resume\n" +
			"  lumina experiment caption-length --out /shared/cap --export slurm --shards 10\n  lumina experiment collect /shared/cap",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			if out == "" {
				return errors.New("give --out DIR, the experiment folder")
			}
			e, err := experiment.Load(args[0])
			if err != nil {
				return err
			}
			o := experiment.Options{Exp: e, Dir: out, Resume: resume, NewModel: newExperimentModel,
				CheckModel: experimentMemory(cmd.ErrOrStderr(), force), Report: plots.Writer(plots.Options{LogSteps: logStep})}
			if slurm, err := exportMode(cmd, export, resume); err != nil {
				return err
			} else if slurm {
				return exportExperiment(cmd.OutOrStdout(), o, shards)
			}
			if shard != "" {
				if o.Shard, err = sweep.ParseShard(shard); err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			prog := NewProgress(cmd.ErrOrStderr())
			defer prog.Close()
			o.OnEvent = experimentProgress(prog)
			stats, err := experiment.Run(ctx, o)
			if err != nil {
				if ctx.Err() != nil && !errors.Is(err, experiment.ErrInterrupted) {
					return fmt.Errorf("interrupted: %w; continue with the same command and --resume", err)
				}
				return err
			}
			return reportExperiment(cmd.OutOrStdout(), out, stats, time.Since(start))
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "experiment folder (created if missing)")
	f.BoolVar(&resume, "resume", false, "continue the experiment in --out: keep finished runs, continue interrupted ones")
	f.StringVar(&shard, "shard", "", "train only shard I/N (0 ≤ I < N) of the runs; collect the shards with `lumina experiment collect`")
	f.StringVar(&export, "export", "", "slurm: write --out/"+experiment.SlurmFile+", a job array of --shards tasks, instead of running")
	f.IntVar(&shards, "shards", 4, "with --export slurm: the number of array tasks")
	f.BoolVar(&force, "force", false, "train even when the memory estimate of a stage exceeds the available memory")
	f.BoolVar(&logStep, "log-steps", false, "plot the step axis of loss.png and eval.png on a log scale")

	var collectLog bool
	collect := &cobra.Command{
		Use:   "collect DIR",
		Short: "Merge an experiment's shards and write its summary and plots",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			s, err := experiment.Collect(args[0], plots.Writer(plots.Options{LogSteps: collectLog}))
			if err != nil {
				return err
			}
			return reportExperiment(cmd.OutOrStdout(), args[0], &experiment.Stats{Summary: s}, time.Since(start))
		},
	}
	collect.Flags().BoolVar(&collectLog, "log-steps", false, "plot the step axis on a log scale")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the shipped experiments",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, n := range experiment.Shipped() {
				e, err := experiment.ShippedExperiment(n)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-16s %2d variants × %d seeds = %2d runs: %s\n", n, len(e.Variants), len(e.Seeds), len(e.Runs()), e.Description)
			}
			return nil
		},
	}
	view := &cobra.Command{
		Use:   "view DIR",
		Short: "Open the TUI's Experiments view on an experiment folder: its loss curves and summary",
		Long: `Opens the workbench on the Experiments view showing the experiment folder DIR (written by ` + "`lumina experiment`" + `),
read-only: each variant's loss curve over its seeds on one step axis and, once every run has finished, the
summary table with its intervals. The folders under RUNS/experiments are listed beside it.`,
		Example: "  lumina experiment view runs/experiments/aux",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if _, err := os.Stat(filepath.Join(dir, experiment.SourceFile)); err != nil {
				return fmt.Errorf("DIR %s is not an experiment folder (it has no %s): %w", dir, experiment.SourceFile, err)
			}
			deps := tuiDeps(device.Device{})
			deps.Experiment = dir
			return runTUI(deps)
		},
	}
	cmd.AddCommand(collect, list, view)
	rootCmd.AddCommand(cmd)
}

// experimentSampler samples the runs' evaluations (tests make it cheaper).
var experimentSampler = sampleBundle

// newExperimentModel builds a run's real networks, sampling with the trainer's sampler.
func newExperimentModel(p *train.Preset) (train.Model, error) {
	m, err := lumina.New(p)
	if err != nil {
		return nil, err
	}
	m.SampleWith = experimentSampler
	var tm train.Model = m
	if wrapTrainModel != nil {
		tm = wrapTrainModel(tm)
	}
	return tm, nil
}

// experimentMemory refuses a variant whose largest stage would not fit in memory.
func experimentMemory(w io.Writer, force bool) func(*train.Preset) error {
	return func(p *train.Preset) error {
		m, err := lumina.New(p)
		if err != nil {
			return err
		}
		return memoryCheck{w: w, force: force}.stages(m, train.Options{Preset: p, Stage: train.AllStages})
	}
}

// experimentProgress renders an experiment's events: a line per run and stage, the bar for the steps.
func experimentProgress(prog *Progress) func(experiment.Event) {
	return func(e experiment.Event) {
		switch e := e.(type) {
		case experiment.Started:
			if e.TookOver != nil {
				prog.Note(fmt.Sprintf("warning: took over experiment folder %s from %s, which ended without releasing it (killed or crashed)", e.Dir, e.TookOver.Who()))
			}
			if e.Done > 0 {
				prog.Note(fmt.Sprintf("resuming %s: %d of %d runs already finished", e.Dir, e.Done, e.Runs))
			}
		case experiment.RunStarted:
			how := ""
			if e.Resumed {
				how = " (resuming its folder)"
			}
			prog.Note(fmt.Sprintf("run %d/%d: %s%s", e.Index+1, e.Pending, e.Run.Folder(), how))
		case experiment.Step:
			prog.Handle(e.Step)
		case experiment.StageEnded:
			score := ""
			if e.Score != nil {
				score = fmt.Sprintf(", ToyEval %.3f", *e.Score)
			}
			prog.Note(fmt.Sprintf("%s: stage %d %s finished after %d steps%s", e.Run.Folder(), e.Stage, e.Name, e.Steps, score))
		case experiment.Warning:
			prog.Note(fmt.Sprintf("warning: %s: %s", e.Run.Folder(), e.Message))
		case experiment.RunDone:
			prog.Note(fmt.Sprintf("run %d/%d done: %s in %.0f s", e.Index+1, e.Pending, e.Run.Folder(), e.WallS))
		}
	}
}

// reportExperiment prints where the summary is and its main table.
func reportExperiment(w io.Writer, dir string, st *experiment.Stats, wall time.Duration) error {
	if st.Summary == nil {
		fmt.Fprintf(w, "shard done: %d runs in %s; when every shard has finished: lumina experiment collect %s\n", st.Runs, wall.Round(time.Second), dir)
		return nil
	}
	for i, v := range st.Summary.Variants {
		d := sweep.FormatDelta(v.Delta)
		if i == 0 {
			d = "reference"
		}
		fmt.Fprintf(w, "%-16s final loss %.4f  ToyEval %s  Δ %s\n", v.Name, v.FinalLoss.Mean, sweep.FormatInterval(v.Score), d)
	}
	fmt.Fprintf(w, "summary: %s, %s; plots %s, %s (%d runs trained in %s)\n", filepath.Join(dir, experiment.SummaryMD), filepath.Join(dir, experiment.SummaryCSV),
		filepath.Join(dir, plots.LossFile), filepath.Join(dir, plots.EvalFile), st.Runs, wall.Round(time.Second))
	return nil
}

// exportExperiment checks the experiment and the folder as a run would, then writes experiment.yaml and
// the job array.
func exportExperiment(w io.Writer, o experiment.Options, shards int) error {
	e := o.Exp
	if shards < 1 || shards > e.MaxShards() {
		return fmt.Errorf("--shards %d: want 1..%d (a shard is at least one of the experiment's %d runs)", shards, e.MaxShards(), len(e.Runs()))
	}
	return writeJobArray(w, jobArray{
		dir: o.Dir, tasks: shards, units: fmt.Sprintf("%d runs", len(e.Runs())), command: "experiment", file: experiment.SlurmFile,
		check: func(abs string) error {
			o.Dir, o.Shard, o.Resume = abs, sweep.Shard{Index: 0, Count: shards}, true
			return experiment.Check(o)
		},
		prepare: func(abs string) error { return experiment.WriteSource(abs, e) },
		script: func(abs, exe, wd string) string {
			return experiment.SlurmScript(e, experiment.Slurm{Dir: abs, Exe: exe, Workdir: wd, Shards: shards})
		},
	})
}
