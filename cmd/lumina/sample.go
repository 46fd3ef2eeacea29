package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/infer/pipeline"
	"github.com/lumina-workbench/lumina/model/ckpt"
)

// DefaultCheckpoint is the shipped checkpoint that sampling, eval and the TUI use unless told otherwise.
const DefaultCheckpoint = "assets/lumina-tiny.safetensors"

// sampleFlags are the sampling settings shared by sample, eval and the benchmarks.
type sampleFlags struct {
	ckpt     string
	system   string
	res      int
	steps    int
	cfg      float64
	solver   string
	shift    float64
	renorm   float64
	trunc    float64
	teacache float64
	seed     uint64
}

func (f *sampleFlags) register(cmd *cobra.Command) {
	d := infer.DefaultSampleOptions()
	fs := cmd.Flags()
	fs.StringVar(&f.ckpt, "ckpt", DefaultCheckpoint, "checkpoint bundle (DiT + text encoder + tokenizer)")
	fs.StringVar(&f.system, "system", "A", "system prompt: A (flat style), B (photo style), C (dual panel) or none")
	fs.IntVar(&f.res, "res", 32, "image side in pixels: 16..256, a multiple of the model's patch size")
	fs.IntVar(&f.steps, "steps", d.Steps, "time-grid points (Euler/midpoint: steps−1 solver steps) or FDPM steps; ≥ 2")
	fs.Float64Var(&f.cfg, "cfg", d.CFG, "classifier-free guidance scale w ≥ 0 (1 = no guidance)")
	fs.StringVar(&f.solver, "solver", d.Solver, "ODE solver: euler, midpoint or fdpm (Flow-DPM-Solver)")
	fs.Float64Var(&f.shift, "shift", d.Shift, "time shift s > 0 (larger spends more steps at high noise)")
	fs.Float64Var(&f.renorm, "renorm", d.Renorm, "CFG-Renorm ratio r ≥ 0 (clamp ‖v‖ to r·‖v_cond‖); 0 = off")
	fs.Float64Var(&f.trunc, "trunc", d.Trunc, "CFG-Trunc threshold α in [0,1]: guidance stops at t ≥ α; 1 = off")
	fs.Float64Var(&f.teacache, "teacache", d.TeaCache, "TeaCache threshold ≥ 0; 0 = off (needs the checkpoint's fitted polynomial)")
	fs.Uint64Var(&f.seed, "seed", 0, "noise seed: the same seed, settings and checkpoint give the same image")
}

// options validates the flags, before any model is loaded, and returns the sampler settings.
func (f *sampleFlags) options() (infer.SampleOptions, infer.System, error) {
	o := infer.SampleOptions{Steps: f.steps, CFG: f.cfg, Solver: f.solver, Shift: f.shift, Renorm: f.renorm,
		Trunc: f.trunc, TeaCache: f.teacache, Seed: f.seed}
	sys, err := infer.ParseSystem(f.system)
	if err != nil {
		return o, sys, err
	}
	if f.res < 16 || f.res > 256 {
		return o, sys, fmt.Errorf("--res must be in 16..256, got %d", f.res)
	}
	if f.teacache > 0 {
		// The coefficients come with the checkpoint; Validate only needs to know some will be there.
		o.TeaCoeffs = []float64{1, 0}
	}
	if err := o.Validate(); err != nil {
		return o, sys, err
	}
	if _, err := os.Stat(f.ckpt); err != nil {
		return o, sys, fmt.Errorf("--ckpt %s: %w (train one with `lumina train`, or pass the shipped %s)", f.ckpt, errors.Unwrap(err), DefaultCheckpoint)
	}
	return o, sys, nil
}

// load opens the checkpoint and fills in its TeaCache polynomial when TeaCache is on.
func (f *sampleFlags) load(o *infer.SampleOptions) (*pipeline.Pipeline, error) {
	p, err := pipeline.Load(f.ckpt)
	if err != nil {
		return nil, err
	}
	if o.TeaCache > 0 {
		coeffs, err := infer.TeaCoeffsFromMeta(p.Bundle.Meta[ckpt.MetaTeaCache])
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("--teacache: %w (run `lumina teacache fit --ckpt %s` first)", err, f.ckpt)
		}
		o.TeaCoeffs = coeffs
	}
	return p, nil
}

func init() {
	var f sampleFlags
	var prompt, prompts, out, outdir string
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Generate images from prompts with the paper's samplers and accelerations",
		Long: `Generates an image for --prompt (or one per line of --prompts FILE into --outdir) and writes a PNG with a
JSON sidecar beside it: the prompt, every setting, the seed, NFE and the wall time per step and in total.
The same seed, settings and checkpoint give the same PNG bytes.`,
		Example: `  lumina sample --prompt "a red circle to the left of a blue square" --out red.png
  lumina sample --prompt "two green squares" --solver fdpm --steps 16 --trunc 0.5 --out fast.png
  lumina sample --prompts prompts.txt --outdir out/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, sys, err := f.options()
			if err != nil {
				return err
			}
			jobs, err := sampleJobs(prompt, prompts, out, outdir)
			if err != nil {
				return err
			}
			p, err := f.load(&o)
			if err != nil {
				return err
			}
			defer p.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			for i, j := range jobs {
				oj := o
				if len(jobs) > 1 {
					oj.Seed = o.Seed + uint64(i)
				}
				g, err := infer.Generate(ctx, p, infer.Spec{Prompt: j.prompt, System: sys, Width: f.res, Height: f.res, Options: oj})
				if err != nil {
					return fmt.Errorf("prompt %d (%q): %w", i+1, short(j.prompt), err)
				}
				g.Sidecar.Settings["checkpoint"] = f.ckpt
				if err := writeGenerated(j.out, g); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s  NFE %d, %.1f ms/step, %.0f ms total\n", j.out, g.Result.NFE,
					g.Sidecar.Settings["wall_ms_total"].(float64)/float64(max(1, len(g.Result.Steps))), g.Sidecar.Settings["wall_ms_total"])
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&prompt, "prompt", "", "the prompt (without system prompt; --system adds it)")
	cmd.Flags().StringVar(&prompts, "prompts", "", "a UTF-8 file with one prompt per line (blank lines and # comments skipped)")
	cmd.Flags().StringVar(&out, "out", "sample.png", "output PNG for --prompt (a .json sidecar is written beside it)")
	cmd.Flags().StringVar(&outdir, "outdir", "", "output folder for --prompts (NNN.png + NNN.json)")
	rootCmd.AddCommand(cmd)
}

type sampleJob struct{ prompt, out string }

func sampleJobs(prompt, promptsFile, out, outdir string) ([]sampleJob, error) {
	switch {
	case prompt != "" && promptsFile != "":
		return nil, errors.New("give either --prompt or --prompts, not both")
	case promptsFile != "":
		if outdir == "" {
			return nil, errors.New("--prompts needs --outdir DIR for its images")
		}
		b, err := os.ReadFile(promptsFile)
		if err != nil {
			return nil, fmt.Errorf("--prompts: %w", err)
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("--prompts %s is not UTF-8 text: re-save it as UTF-8", promptsFile)
		}
		var jobs []sampleJob
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		line := 0
		for sc.Scan() {
			line++
			t := strings.TrimSpace(sc.Text())
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			if err := infer.CheckPrompt(t); err != nil {
				return nil, fmt.Errorf("--prompts %s line %d: %w", promptsFile, line, err)
			}
			jobs = append(jobs, sampleJob{t, filepath.Join(outdir, fmt.Sprintf("%03d.png", len(jobs)))})
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("--prompts %s: %w", promptsFile, err)
		}
		if len(jobs) == 0 {
			return nil, fmt.Errorf("--prompts %s holds no prompts", promptsFile)
		}
		if err := os.MkdirAll(outdir, 0o755); err != nil {
			return nil, fmt.Errorf("--outdir: %w", err)
		}
		return jobs, nil
	default:
		if err := infer.CheckPrompt(prompt); err != nil {
			return nil, fmt.Errorf("--prompt: %w", err)
		}
		if !strings.EqualFold(filepath.Ext(out), ".png") {
			return nil, fmt.Errorf("--out %s must end in .png", out)
		}
		return []sampleJob{{prompt, out}}, nil
	}
}

// writeGenerated writes the PNG and its sidecar, each atomically.
func writeGenerated(out string, g *infer.Generated) error {
	if err := dataset.WritePNG(out, g.Image); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	side := strings.TrimSuffix(out, filepath.Ext(out)) + ".json"
	if err := toyeval.WriteImageSidecar(side, g.Sidecar); err != nil {
		return fmt.Errorf("write %s: %w", side, err)
	}
	return nil
}

func short(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
