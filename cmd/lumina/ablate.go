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

	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/ablation/plots"
	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/infer/pipeline"
	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/model/ckpt"
)

func init() {
	var (
		gridArg, out, shard, export string
		shards                      int
		resume, force               bool
	)
	cmd := &cobra.Command{
		Use:   "ablate",
		Short: "Run a sampler sweep: a grid of settings × prompts × seeds, scored, with intervals and plots",
		Long: `Runs every cell of a grid (sampler settings, and checkpoints) on every prompt and seed, scores each image
with ToyEval and compares it with the reference cell's image of the same prompt and seed, then writes
into --out: grid.yaml (the grid, every setting spelled out), results.jsonl (one line per image), the images
with their sidecars, summary.md and summary.csv (per cell: the mean score and per-category means with 95%
bootstrap intervals, the paired difference to the reference with its interval, PSNR, wall time and
speed-up), pareto.png, one line plot per swept numeric setting, and a contact sheet per cell.

A grid file follows the Weights & Biases sweep convention:

  method: grid
  parameters:
    cfg: {values: [4, 8]}        # keys: ` + strings.Join(ablation.Keys, ", ") + `
    renorm: {values: [0, 1]}
    steps: {value: 30}
  prompts: quick                 # a ToyEval suite, a prompt file (relative to the grid), or a list
  seeds: 4
  reference: {cfg: 4, renorm: 0}

--grid also takes a shipped grid's name: ` + strings.Join(ablation.Shipped(), ", ") + `.
Keys left out take the sampler's defaults and ckpt the shipped checkpoint.

--resume continues a folder, skipping every image it already records; a killed sweep loses at most the
images in flight (the one being written and the one being made). --shard I/N runs the images of every N-th (prompt, seed) pair from the I-th (I from 0);
--export slurm --shards N writes --out/sweep.sbatch, a Slurm job array of N such shards, and
` + "`lumina ablate collect DIR`" + ` merges the shards' results into the summary and plots.`,
		Example: "  lumina ablate --grid renorm-trunc-cfg --out sweeps/rtc\n  lumina ablate --grid my.yaml --out sweeps/my --resume\n" +
			"  lumina ablate --grid fdpm-vs-euler --out /shared/fdpm --export slurm --shards 8\n  lumina ablate collect /shared/fdpm",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			if gridArg == "" || out == "" {
				return errors.New("give --grid FILE (or a shipped grid: " + strings.Join(ablation.Shipped(), ", ") + ") and --out DIR")
			}
			g, err := ablation.LoadGrid(gridArg, ablation.DefaultSetting(DefaultCheckpoint))
			if err != nil {
				return err
			}
			loader := &ckptLoader{force: force, warn: cmd.ErrOrStderr()}
			if slurm, err := exportMode(cmd, export, resume); err != nil {
				return err
			} else if slurm {
				return exportSlurm(cmd.OutOrStdout(), g, out, shards, loader)
			}
			o := ablation.Options{Grid: g, Dir: out, Resume: resume, Loader: loader, Report: plots.Write}
			if shard != "" {
				if o.Shard, err = ablation.ParseShard(shard); err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			prog := NewProgress(cmd.ErrOrStderr())
			defer prog.Close()
			o.OnEvent = sweepProgress(prog)
			stats, err := ablation.Run(ctx, o)
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted: %w; continue with the same command and --resume", err)
				}
				return err
			}
			return reportSweep(cmd.OutOrStdout(), out, stats, time.Since(start))
		},
	}
	f := cmd.Flags()
	f.StringVar(&gridArg, "grid", "", "grid file (YAML), or a shipped grid's name: "+strings.Join(ablation.Shipped(), ", "))
	f.StringVar(&out, "out", "", "sweep folder (created if missing)")
	f.BoolVar(&resume, "resume", false, "continue the sweep in --out, skipping the images it already holds")
	f.StringVar(&shard, "shard", "", "run only shard I/N (0 ≤ I < N) of the grid; collect the shards with `lumina ablate collect`")
	f.StringVar(&export, "export", "", "slurm: write --out/sweep.sbatch, a job array of --shards tasks, instead of running")
	f.IntVar(&shards, "shards", 4, "with --export slurm: the number of array tasks")
	f.BoolVar(&force, "force", false, "sample even when the memory estimate exceeds the available memory")

	collect := &cobra.Command{
		Use:   "collect DIR",
		Short: "Merge a sweep's shards and write its summary and plots",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			s, err := ablation.Collect(args[0], plots.Write)
			if err != nil {
				return err
			}
			return reportSweep(cmd.OutOrStdout(), args[0], &ablation.Stats{Summary: s}, time.Since(start))
		},
	}
	grids := &cobra.Command{
		Use:   "grids",
		Short: "List the shipped grids",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, n := range ablation.Shipped() {
				g, err := ablation.ShippedGrid(n, ablation.DefaultSetting(DefaultCheckpoint))
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-18s %3d cells, %5d images: %s\n", n, len(g.Cells()), g.Images(), g.Description)
			}
			return nil
		},
	}
	view := &cobra.Command{
		Use:   "view DIR",
		Short: "Open the TUI's Ablate view on a sweep folder: its table, Pareto plot and contact sheets",
		Long: `Opens the workbench on the Ablate view showing the sweep folder DIR (written by ` + "`lumina ablate`" + ` or the
view itself), read-only: the table of cells with their intervals, the Pareto plot (inline where the terminal
shows sixel images, as a text chart elsewhere) and each cell's contact sheet. An unfinished sweep shows the
images made so far; R resumes it.`,
		Example: "  lumina ablate view runs/sweeps/cfg-renorm",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if _, err := os.Stat(filepath.Join(dir, ablation.GridFile)); err != nil {
				return fmt.Errorf("DIR %s is not a sweep folder (it has no %s): %w", dir, ablation.GridFile, err)
			}
			deps := tuiDeps(device.Device{})
			deps.Sweep = dir
			return runTUI(deps)
		},
	}
	cmd.AddCommand(collect, grids, view)
	rootCmd.AddCommand(cmd)
}

// sweepProgress renders a sweep's events: notes for what a person should know, the bar for the images.
func sweepProgress(prog *Progress) func(ablation.Event) {
	return func(e ablation.Event) {
		switch e := e.(type) {
		case ablation.Started:
			if e.TookOver != nil {
				prog.Note(fmt.Sprintf("warning: took over sweep folder %s from %s, which ended without releasing it (killed or crashed)", e.Dir, e.TookOver.Who()))
			}
			if e.DroppedTornLine {
				prog.Note("the last results line was cut short by a crash: dropped, its image is made again")
			}
			if e.Done > 0 {
				prog.Note(fmt.Sprintf("resuming %s: %d of %d images already done", e.Dir, e.Done, e.Total))
			}
			prog.Images("ablate", 0, e.Pending, 0)
		case ablation.ImageDone:
			prog.Images("ablate", e.Done, e.Pending, e.Elapsed)
		}
	}
}

// reportSweep prints where the results are, the main table and where the time went.
func reportSweep(w io.Writer, dir string, st *ablation.Stats, wall time.Duration) error {
	if st.Summary == nil {
		fmt.Fprintf(w, "shard done: %d images in %s (sampling %s); when every shard has finished: lumina ablate collect %s\n",
			st.Images, wall.Round(time.Millisecond), st.Sampling.Round(time.Millisecond), dir)
		return nil
	}
	if err := st.Summary.WriteTable(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "summary: %s, %s; plots and contact sheets in %s\n", filepath.Join(dir, ablation.SummaryMD), filepath.Join(dir, ablation.SummaryCSV), dir)
	if st.Images > 0 {
		rest := wall - st.Sampling
		fmt.Fprintf(w, "%d images in %s: sampling %s, the rest %s (%.1f%%: loading, scoring, writing images and records, summary and plots)\n",
			st.Images, wall.Round(time.Millisecond), st.Sampling.Round(time.Millisecond), rest.Round(time.Millisecond), 100*rest.Seconds()/wall.Seconds())
	}
	return nil
}

// exportSlurm checks the grid and the folder as a run would, then writes grid.yaml and the job array.
func exportSlurm(w io.Writer, g *ablation.Grid, dir string, shards int, loader ablation.Loader) error {
	if shards < 1 || shards > g.MaxShardsFor() {
		return fmt.Errorf("--shards %d: want 1..%d (a shard is at least one prompt and seed of the grid's %d)", shards, g.MaxShardsFor(), len(g.Prompts)*g.Seeds)
	}
	return writeJobArray(w, jobArray{
		dir: dir, tasks: shards, units: fmt.Sprintf("%d images", g.Images()), command: "ablate", file: ablation.SlurmFile,
		check: func(abs string) error {
			return ablation.Check(ablation.Options{Grid: g, Dir: abs, Shard: ablation.Shard{Index: 0, Count: shards}, Resume: true, Loader: loader})
		},
		prepare: func(abs string) error { return ablation.WriteGrid(abs, g) },
		script: func(abs, exe, wd string) string {
			return ablation.SlurmScript(g, ablation.Slurm{Dir: abs, Exe: exe, Workdir: wd, Shards: shards})
		},
	})
}

// exportMode reads --export with the flags it excludes: slurm is true for --export slurm, which runs
// nothing, so it takes neither --shard nor --resume; --shards goes only with it.
func exportMode(cmd *cobra.Command, export string, resume bool) (slurm bool, err error) {
	switch export {
	case "":
		if cmd.Flags().Changed("shards") {
			return false, errors.New("--shards goes with --export slurm; to run one shard here, use --shard I/N")
		}
		return false, nil
	case "slurm":
		if cmd.Flags().Changed("shard") || resume {
			return false, errors.New("--export slurm writes the job array and runs nothing: it takes neither --shard nor --resume")
		}
		return true, nil
	}
	return false, fmt.Errorf("--export %q: the only export is slurm", export)
}

// jobArray is an --export slurm of one command: the checks a run would make, what the folder needs
// before its tasks run, and the script.
type jobArray struct {
	dir     string
	tasks   int
	units   string // what the tasks make, for the message
	command string // the lumina subcommand whose collect merges the tasks
	file    string // the script's name in the folder
	check   func(abs string) error
	prepare func(abs string) error
	script  func(abs, exe, wd string) string
}

// writeJobArray checks, makes the folder, writes what the tasks read and the script, and says how to
// submit it and collect the results.
func writeJobArray(w io.Writer, a jobArray) error {
	abs, err := filepath.Abs(a.dir)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := a.check(abs); err != nil {
		return err
	}
	exe, err := luminaExecutable()
	if err != nil {
		return fmt.Errorf("--export slurm: the path of this lumina binary: %w", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("--export slurm: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := a.prepare(abs); err != nil {
		return err
	}
	script := filepath.Join(abs, a.file)
	if err := dataset.WriteFileAtomic(script, []byte(a.script(abs, exe, wd))); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s: %d array tasks for %s. Submit it with\n  sbatch %s\nand when every task has finished:\n  %s %s collect %s\n",
		script, a.tasks, a.units, script, exe, a.command, abs)
	return nil
}

// luminaExecutable is the binary the job array runs (tests point it elsewhere).
var luminaExecutable = os.Executable

// ckptLoader opens checkpoints for a sweep: Check reads only the header, Load builds the pipeline.
type ckptLoader struct {
	force bool
	warn  io.Writer
	// device is where the checkpoints sample (bench sample --device).
	device device.Device
}

func (l *ckptLoader) Check(path string, settings []ablation.Setting) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w (train one with `lumina train`, or use the shipped %s)", err, DefaultCheckpoint)
	}
	meta, err := ckpt.ReadMeta(path)
	if err != nil {
		return err
	}
	cfg, err := ckpt.DiTConfig(meta)
	if err != nil {
		return err
	}
	_, teaErr := infer.TeaCoeffsFromMeta(meta[ckpt.MetaTeaCache])
	largest := 0
	warned := map[int]bool{}
	for _, s := range settings {
		if s.Res%cfg.Patch != 0 {
			return fmt.Errorf("res %d is not a multiple of the model's patch size %d", s.Res, cfg.Patch)
		}
		if s.TeaCache > 0 && teaErr != nil {
			return fmt.Errorf("teacache %g: %w (run `lumina teacache fit --ckpt %s` first, or sweep teacache only on checkpoints that have one)", s.TeaCache, teaErr, path)
		}
		if !warned[s.Res] {
			warned[s.Res] = true
			(&sampleFlags{ckpt: path, res: s.Res}).warnResolution(l.warn, ckpt.Resolutions(meta))
		}
		largest = max(largest, s.Res)
	}
	return (&sampleFlags{ckpt: path, res: largest, force: l.force}).checkMemory(l.warn)
}

func (l *ckptLoader) Load(path string) (ablation.Checkpoint, error) {
	p, err := loadPipeline(path, l.device, nil)
	if err != nil {
		return nil, err
	}
	coeffs, _ := infer.TeaCoeffsFromMeta(p.Bundle.Meta[ckpt.MetaTeaCache])
	return pipelineCheckpoint{p, coeffs}, nil
}

// pipelineCheckpoint is a pipeline as a sweep's Checkpoint.
type pipelineCheckpoint struct {
	*pipeline.Pipeline
	coeffs []float64
}

func (p pipelineCheckpoint) TeaCoeffs() []float64 { return p.coeffs }

func (p pipelineCheckpoint) Close() error {
	p.Pipeline.Close()
	return nil
}
