package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/infer/pipeline"
	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/model/cuda"
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
	force    bool
	device   string
}

func (f *sampleFlags) register(cmd *cobra.Command) {
	d := infer.DefaultSampleOptions()
	fs := cmd.Flags()
	fs.StringVar(&f.ckpt, "ckpt", DefaultCheckpoint, "checkpoint bundle (DiT + text encoder + tokenizer)")
	fs.StringVar(&f.system, "system", "A", "system prompt: A (flat style), B (photo style), C (dual panel) or none")
	fs.IntVar(&f.res, "res", 32, fmt.Sprintf("image side in pixels: %d..%d, a multiple of the model's patch size", infer.MinSide, infer.MaxSide))
	fs.IntVar(&f.steps, "steps", d.Steps, fmt.Sprintf("time-grid points (Euler/midpoint: steps−1 solver steps) or FDPM steps; 2..%d", infer.MaxSteps))
	fs.Float64Var(&f.cfg, "cfg", d.CFG, fmt.Sprintf("classifier-free guidance scale w in [0, %d] (1 = no guidance)", infer.MaxCFG))
	fs.StringVar(&f.solver, "solver", d.Solver, "ODE solver: euler, midpoint or fdpm (Flow-DPM-Solver)")
	fs.Float64Var(&f.shift, "shift", d.Shift, fmt.Sprintf("time shift s in (0, %d] (larger spends more steps at high noise)", infer.MaxShift))
	fs.Float64Var(&f.renorm, "renorm", d.Renorm, fmt.Sprintf("CFG-Renorm ratio r in [0, %d] (clamp ‖v‖ to r·‖v_cond‖); 0 = off", infer.MaxRenorm))
	fs.Float64Var(&f.trunc, "trunc", d.Trunc, "CFG-Trunc threshold α in [0,1]: guidance stops at t ≥ α; 1 = off")
	fs.Float64Var(&f.teacache, "teacache", d.TeaCache, fmt.Sprintf("TeaCache threshold in [0, %d]; 0 = off (needs the checkpoint's fitted polynomial)", infer.MaxTeaCache))
	fs.Uint64Var(&f.seed, "seed", 0, "noise seed: the same seed, settings and checkpoint give the same image")
	fs.BoolVar(&f.force, "force", false, "sample even when the memory estimate exceeds the available memory")
	fs.StringVar(&f.device, "device", "cpu", device.Flag)
}

// options validates the flags, before any model is loaded, and returns the sampler settings.
func (f *sampleFlags) options() (infer.SampleOptions, infer.System, error) {
	o := infer.SampleOptions{Steps: f.steps, CFG: f.cfg, Solver: f.solver, Shift: f.shift, Renorm: f.renorm,
		Trunc: f.trunc, TeaCache: f.teacache, Seed: f.seed}
	dev, err := parseDevice(f.device)
	if err != nil {
		return o, infer.System{}, err
	}
	o.Device = dev
	sys, err := infer.ParseSystem(f.system)
	if err != nil {
		return o, sys, err
	}
	if f.res < infer.MinSide || f.res > infer.MaxSide {
		return o, sys, fmt.Errorf("--res must be in %d..%d, got %d", infer.MinSide, infer.MaxSide, f.res)
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

// load opens the checkpoint, fills in its TeaCache polynomial when TeaCache is on, and warns on warn
// when --res is outside the resolutions the checkpoint was trained at.
func (f *sampleFlags) load(o *infer.SampleOptions, warn io.Writer) (*pipeline.Pipeline, error) {
	var fits func(free int64) error
	if o.Device.IsCUDA() {
		fits = func(free int64) error { return f.checkDeviceMemory(warn, free) }
	} else if err := f.checkMemory(warn); err != nil {
		return nil, err
	}
	p, err := loadPipeline(f.ckpt, o.Device, fits)
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
	f.warnResolution(warn, ckpt.Resolutions(p.Bundle.Meta))
	return p, nil
}

// checkDeviceMemory refuses a sampling forward at --res (a batch of 2 under guidance) that the device's
// free memory cannot hold, unless --force; the planner counts the weights and one block's activations.
func (f *sampleFlags) checkDeviceMemory(w io.Writer, free int64) error {
	cfg, capLen, err := f.forwardShape()
	if err != nil {
		return err
	}
	plan, err := cuda.SamplePlan(cfg, 2, f.res, f.res, capLen)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "device memory: %s needs about %s; %s free\n", plan.Job, gib(plan.Total()), gib(free))
	return cuda.CheckFits(plan, free, f.force)
}

// checkMemory estimates a sampling forward at --res (a batch of 2 under guidance, captions as long as
// the checkpoint allows) from the checkpoint's header alone, and refuses it when the machine has too
// little memory, unless --force.
func (f *sampleFlags) checkMemory(w io.Writer) error {
	cfg, capLen, err := f.forwardShape()
	if err != nil {
		return err
	}
	return checkMemory(w, fmt.Sprintf("sampling at %d px", f.res), cfg.ForwardBytes(2, f.res, f.res, capLen), f.force)
}

// forwardShape is the checkpoint's DiT config and longest caption, from its header alone.
func (f *sampleFlags) forwardShape() (arch.Config, int, error) {
	meta, err := ckpt.ReadMeta(f.ckpt)
	if err != nil {
		return arch.Config{}, 0, err
	}
	cfg, err := ckpt.DiTConfig(meta)
	if err != nil {
		return arch.Config{}, 0, fmt.Errorf("--ckpt %s: %w", f.ckpt, err)
	}
	capLen := pipeline.MaxCaptionTokens
	if n, err := strconv.Atoi(meta[ckpt.MetaCaptionTokens]); err == nil && n > 0 {
		capLen = min(n, capLen)
	}
	return cfg, capLen, nil
}

// warnResolution warns when --res lies outside the resolutions the checkpoint was trained at (trained,
// ascending; nothing is said when the checkpoint does not record them): the images come out poor, and
// above them every step costs more, with the square of the image tokens in attention.
func (f *sampleFlags) warnResolution(w io.Writer, trained []int) {
	if len(trained) == 0 || (f.res >= trained[0] && f.res <= trained[len(trained)-1]) {
		return
	}
	sides := make([]string, len(trained))
	for i, r := range trained {
		sides[i] = strconv.Itoa(r)
	}
	cost := ""
	if top := trained[len(trained)-1]; f.res > top {
		cost = fmt.Sprintf(", and each step takes %.3g× the image tokens of %d px, so far more time and memory", float64(f.res*f.res)/float64(top*top), top)
	}
	fmt.Fprintf(w, "warning: --res %d is outside the resolutions %s was trained at (%s px): expect poor images%s\n",
		f.res, f.ckpt, strings.Join(sides, ", "), cost)
}

// warnCut warns about prompts that, with their system prompt, are longer than the captions the
// checkpoint was trained on: the model is given their first tokens only.
func warnCut(w io.Writer, p *pipeline.Pipeline, sys infer.System, jobs []sampleJob) error {
	for i, j := range jobs {
		kept, total, err := p.CaptionTokens(sys.Full(j.prompt))
		if err != nil {
			return fmt.Errorf("prompt %d (%q): %w", i+1, short(j.prompt), err)
		}
		if kept < total {
			fmt.Fprintf(w, "warning: prompt %d (%q): the model is given %d of its %d caption tokens (the checkpoint was trained on "+
				"captions of at most %d); the rest is cut: shorten it\n", i+1, short(j.prompt), kept, total, p.MaxCaption())
		}
	}
	return nil
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
			p, err := f.load(&o, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer p.Close()
			if err := warnCut(cmd.ErrOrStderr(), p, sys, jobs); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			prog := NewProgress(cmd.ErrOrStderr())
			defer prog.Close()
			start := time.Now()
			for i, j := range jobs {
				oj := o
				if len(jobs) > 1 {
					oj.Seed = o.Seed + uint64(i)
					prog.Images("sample", i, len(jobs), time.Since(start))
				}
				g, err := infer.Generate(ctx, p, infer.Spec{Prompt: j.prompt, System: sys, Width: f.res, Height: f.res, Options: oj})
				if err != nil {
					return fmt.Errorf("prompt %d (%q): %w", i+1, short(j.prompt), err)
				}
				g.Sidecar.Settings["checkpoint"] = f.ckpt
				if err := writeGenerated(j.out, g); err != nil {
					return err
				}
				prog.Clear()
				fmt.Fprintf(cmd.OutOrStdout(), "%s  NFE %d, %.1f ms/step, %.0f ms total\n", j.out, g.Result.NFE,
					g.Sidecar.Settings["wall_ms_total"].(float64)/float64(max(1, len(g.Result.Steps))), g.Sidecar.Settings["wall_ms_total"])
			}
			if len(jobs) > 1 {
				prog.Images("sample", len(jobs), len(jobs), time.Since(start))
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
		if err := makeOutFolder("--outdir", outdir); err != nil {
			return nil, err
		}
		return jobs, nil
	default:
		if err := infer.CheckPrompt(prompt); err != nil {
			return nil, fmt.Errorf("--prompt: %w", err)
		}
		if !strings.EqualFold(filepath.Ext(out), ".png") {
			return nil, fmt.Errorf("--out %s must end in .png", out)
		}
		if err := checkOutFile("--out", out); err != nil {
			return nil, err
		}
		return []sampleJob{{prompt, out}}, nil
	}
}

// writeGenerated writes the PNG and its sidecar, each atomically (the errors name the file).
func writeGenerated(out string, g *infer.Generated) error {
	if err := dataset.WritePNG(out, g.Image); err != nil {
		return err
	}
	return toyeval.WriteImageSidecar(strings.TrimSuffix(out, filepath.Ext(out))+".json", g.Sidecar)
}

func short(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
