package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/ablation/plots"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/model/cuda"
	"github.com/lumina-workbench/lumina/model/optim"
)

func init() {
	var o trainBenchOpts
	train := &cobra.Command{
		Use:   "train",
		Short: "Time one training step and one sampling forward of the Go Next-DiT against the PyTorch reference",
		Long: `Times a training step (forward + backward + AdamW, float32) of the Go Next-DiT and, in the same run,
the repository's PyTorch reference (tools/reference/nextdit.py) on identical shapes (by default the tiny config:
dim 128, 4 layers, 4 heads, 2 KV heads, 1+1 refiners, 32×32 pixels, patch 4, 48 caption tokens; --model and
--res choose others), then the sampling forward at batch 2, and prints the ratios Go/PyTorch and the Go
process's peak RSS. On the CPU PyTorch runs with 1 and 2 threads and its best is kept; with --device cuda both
run on that GPU (the Go step keeps everything on the device: weights, gradients, AdamW, the gradient-norm
clip). Without /usr/bin/python3 and torch, only the Go figures are printed.`,
		Example: "  lumina bench train\n  lumina bench train --device cuda --batch 64\n  lumina bench train --device cuda --model base --res 64 --batch 16",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return runTrainBench(cmd.OutOrStdout(), o)
		},
	}
	train.Flags().IntVar(&o.batch, "batch", 16, "training batch size (≥ 1)")
	train.Flags().IntVar(&o.steps, "steps", 10, "timed steps (≥ 1); the sampling forward is timed 3× as often")
	train.Flags().StringVar(&o.model, "model", "tiny", "model config: "+strings.Join(arch.ConfigNames(), ", "))
	train.Flags().IntVar(&o.res, "res", benchShape.res, "image side in pixels (a multiple of the model's patch)")
	train.Flags().StringVar(&o.ref, "ref", "", "path of the PyTorch reference (default: "+refScript+" in the working directory or a parent)")
	train.Flags().BoolVar(&o.noRef, "no-ref", false, "skip the PyTorch reference")
	train.Flags().StringVar(&o.python, "python", "", "Python with torch that runs the reference (default: /usr/bin/python3, else python3 on PATH)")
	train.Flags().StringVar(&o.device, "device", "cpu", device.Flag)
	bench := &cobra.Command{Use: "bench", Short: "Benchmarks that print a ratio against a reference measured in the same run"}
	bench.AddCommand(train, newBenchSampleCmd())
	rootCmd.AddCommand(bench)
}

type trainBenchOpts struct {
	batch, steps int
	model        string
	res          int
	ref, python  string
	noRef        bool
	device       string
	dev          device.Device
	cfg          arch.Config
}

func (o *trainBenchOpts) validate() error {
	var err error
	if o.dev, err = parseDevice(o.device); err != nil {
		return err
	}
	if o.batch < 1 || o.batch > 256 {
		return fmt.Errorf("--batch %d out of range: want 1..256", o.batch)
	}
	if o.steps < 1 || o.steps > 10000 {
		return fmt.Errorf("--steps %d out of range: want 1..10000", o.steps)
	}
	if o.cfg, err = arch.LookupConfig(o.model); err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	o.cfg.CapDim = o.cfg.Dim // the reference feeds caption features of the model's width
	if o.res < o.cfg.Patch || o.res > infer.MaxSide || o.res%o.cfg.Patch != 0 {
		return fmt.Errorf("--res %d: want a multiple of the patch %d up to %d", o.res, o.cfg.Patch, infer.MaxSide)
	}
	return nil
}

// refScript is the PyTorch reference, relative to the repository root.
var refScript = filepath.Join("tools", "reference", "nextdit.py")

// benchShape is the reference's default problem: 32×32, patch 4, 48 caption tokens of which 3/4 are real.
var benchShape = struct{ res, capLen, capReal int }{32, 48, 36}

func runTrainBench(out io.Writer, o trainBenchOpts) error {
	cfg := o.cfg
	s := model.Shape{Batch: o.batch, Height: o.res, Width: o.res, CapLen: benchShape.capLen}
	var trainMs, fwdMs float64
	var err error
	where := "CPU"
	if o.dev.IsCUDA() {
		var be cuda.Backend
		if be, err = openBackend(o.dev); err != nil {
			return err
		}
		defer be.Close()
		where = be.Name()
		if trainMs, err = deviceTrainStep(be, cfg, s, o.steps); err != nil {
			return err
		}
		if fwdMs, err = deviceSampleForward(be, cfg, o.res, o.steps*3); err != nil {
			return err
		}
	} else {
		if trainMs, err = goTrainStep(cfg, s, o.steps); err != nil {
			return err
		}
		if fwdMs, err = goSampleForward(cfg, o.res, o.steps*3); err != nil {
			return err
		}
	}
	rss := peakRSSMiB()
	fmt.Fprintf(out, "Go   (%s, %d params, float32, batch %d, %d px, %s): train step %.1f ms, sampling forward (batch 2) %.2f ms, peak RSS %.0f MiB\n",
		cfg.Name, cfg.ParamCount(), o.batch, o.res, where, trainMs, fwdMs, rss)
	if o.noRef {
		return nil
	}
	ref := o.ref
	if ref == "" {
		ref = findUp(refScript)
	}
	if ref == "" {
		fmt.Fprintln(out, "PyTorch reference not found (pass --ref PATH); ratios not computed")
		return nil
	}
	best := refResult{trainMs: -1}
	threadSettings := []int{1, 2}
	if o.dev.IsCUDA() {
		threadSettings = []int{1} // the GPU does the work
	}
	for _, threads := range threadSettings {
		r, err := runRef(o.python, ref, refArgs(o, threads))
		if err != nil {
			fmt.Fprintf(out, "PyTorch reference (%d threads) did not run: %v\n", threads, err)
			continue
		}
		fmt.Fprintf(out, "PyTorch (%s, %d thread(s)): train step %.1f ms, sampling forward (batch 2) %.2f ms\n", refDevice(o.dev), threads, r.trainMs, r.fwdMs)
		if best.trainMs < 0 || r.trainMs < best.trainMs {
			best.trainMs = r.trainMs
		}
		if best.fwdMs <= 0 || r.fwdMs < best.fwdMs {
			best.fwdMs = r.fwdMs
		}
	}
	if best.trainMs < 0 {
		return nil
	}
	fmt.Fprintf(out, "ratio Go/PyTorch (best PyTorch thread setting): train step %.2f, sampling forward %.2f\n",
		trainMs/best.trainMs, fwdMs/best.fwdMs)
	return nil
}

// refDevice is the reference's --device for ours.
func refDevice(d device.Device) string {
	if d.IsCUDA() {
		return d.String()
	}
	return "cpu"
}

// refArgs are the reference's flags for the benchmark's model and shapes.
func refArgs(o trainBenchOpts, threads int) []string {
	c := o.cfg
	axes := fmt.Sprintf("%d,%d,%d", c.AxesDims[0], c.AxesDims[1], c.AxesDims[2])
	return []string{"--dim", strconv.Itoa(c.Dim), "--layers", strconv.Itoa(c.Layers), "--heads", strconv.Itoa(c.Heads),
		"--kv", strconv.Itoa(c.KVHeads), "--refiners", strconv.Itoa(c.Refiners), "--axes", axes,
		"--multiple-of", strconv.Itoa(c.MultipleOf), "--patch", strconv.Itoa(c.Patch), "--channels", strconv.Itoa(c.Channels),
		"--res", strconv.Itoa(o.res), "--cap", strconv.Itoa(benchShape.capLen), "--cap-real", strconv.Itoa(benchShape.capReal),
		"--batch", strconv.Itoa(o.batch), "--steps", strconv.Itoa(o.steps), "--threads", strconv.Itoa(threads),
		"--device", refDevice(o.dev)}
}

// deviceTrainStep times a training step on the device (cuda.Trainer: forward, backward, the global
// norm, AdamW; no EMA, as the reference keeps none), after three warm-up steps.
func deviceTrainStep(be cuda.Backend, cfg arch.Config, s model.Shape, steps int) (float64, error) {
	w, err := model.NewWeights(cfg, tensor.Float32, 1)
	if err != nil {
		return 0, err
	}
	fl, err := model.NewFlowLoss(w, s, false)
	if err != nil {
		return 0, err
	}
	defer fl.Close()
	params := w.Tensors()
	tr, err := cuda.NewTrainer(be, params, false)
	if err != nil {
		return 0, err
	}
	defer tr.Close()
	if err := tr.Load(nil, nil, nil); err != nil {
		return 0, err
	}
	opt, err := optim.NewAdamW(optim.AdamWConfig{LR: 2e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, params)
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b := randomBatch(rng, cfg, s)
	if err := fl.Set(b, randn(rng, len(b.X)), nil, nil); err != nil {
		return 0, err
	}
	step := func() error {
		if _, _, err := tr.Grads(cuda.FlowGraph(fl), math.Inf(1)); err != nil {
			return err
		}
		k, err := opt.Advance()
		if err != nil {
			return err
		}
		return tr.Update(k, 0)
	}
	return timeSteps(step, steps)
}

// deviceSampleForward times one sampling forward at batch 2 with the weights resident on the device.
func deviceSampleForward(be cuda.Backend, cfg arch.Config, res, runs int) (float64, error) {
	f, b, err := benchForward(cfg, res)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := cuda.NewResident(be, f.Model.W.Tensors())
	if err != nil {
		return 0, err
	}
	pr, err := r.Lower([]*G.Node{f.V}, f.Model.Params)
	if err != nil {
		return 0, err
	}
	if err := f.In.Set(cfg, b); err != nil {
		return 0, err
	}
	return timeSteps(func() error { _, err := r.Run(pr, f.V); return err }, runs)
}

// benchForward is a sampling forward graph of cfg at batch 2 and res px, with a random batch for it.
func benchForward(cfg arch.Config, res int) (*model.ForwardGraph, model.Batch, error) {
	w, err := model.NewWeights(cfg, tensor.Float32, 1)
	if err != nil {
		return nil, model.Batch{}, err
	}
	s := model.Shape{Batch: 2, Height: res, Width: res, CapLen: benchShape.capLen}
	f, err := model.NewForwardGraph(w, s)
	if err != nil {
		return nil, model.Batch{}, err
	}
	return f, randomBatch(rand.New(rand.NewPCG(3, 4)), cfg, s), nil
}

// timeSteps runs step three times to warm up, then n times, and returns the mean time in ms.
func timeSteps(step func() error, n int) (float64, error) {
	for i := 0; i < 3; i++ {
		if err := step(); err != nil {
			return 0, err
		}
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if err := step(); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(t0).Microseconds()) / 1000 / float64(n), nil
}

// goTrainStep times forward + backward + AdamW on random data (timeSteps).
func goTrainStep(cfg arch.Config, s model.Shape, steps int) (float64, error) {
	w, err := model.NewWeights(cfg, tensor.Float32, 1)
	if err != nil {
		return 0, err
	}
	fl, err := model.NewFlowLoss(w, s, false)
	if err != nil {
		return 0, err
	}
	defer fl.Close()
	params := w.Tensors()
	opt, err := optim.NewAdamW(optim.AdamWConfig{LR: 2e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, params)
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b := randomBatch(rng, cfg, s)
	target := randn(rng, len(b.X))
	step := func() error {
		if _, err := fl.Step(b, target, nil, nil); err != nil {
			return err
		}
		return opt.Step(params, fl.Grads())
	}
	return timeSteps(step, steps)
}

// goSampleForward times a sampling forward at batch 2 on the CPU (timeSteps).
func goSampleForward(cfg arch.Config, res, runs int) (float64, error) {
	f, b, err := benchForward(cfg, res)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return timeSteps(func() error { _, err := f.Run(b); return err }, runs)
}

func randomBatch(rng *rand.Rand, cfg arch.Config, s model.Shape) model.Batch {
	b := model.Batch{
		X:   randn(rng, s.Batch*cfg.Channels*s.Height*s.Width),
		Cap: randn(rng, s.Batch*s.CapLen*cfg.CapDim),
	}
	for i := 0; i < s.Batch; i++ {
		b.T = append(b.T, rng.Float64())
		b.CapLens = append(b.CapLens, benchShape.capReal)
	}
	return b
}

func randn(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

type refResult struct{ trainMs, fwdMs float64 }

var refLine = regexp.MustCompile(`train_step_ms=([0-9.]+) sample_fwd_b2_ms=([0-9.]+)`)

func runRef(py, path string, args []string) (refResult, error) {
	if py == "" {
		py = "/usr/bin/python3"
		if _, err := os.Stat(py); err != nil {
			if py, err = exec.LookPath("python3"); err != nil {
				return refResult{}, errors.New("no /usr/bin/python3 and no python3 on PATH (pass --python)")
			}
		}
	}
	cmd := exec.Command(py, append([]string{path}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		return refResult{}, fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
	}
	m := refLine.FindSubmatch(outb)
	if m == nil {
		return refResult{}, errors.New("no timing line in its output")
	}
	tr, _ := strconv.ParseFloat(string(m[1]), 64)
	fw, _ := strconv.ParseFloat(string(m[2]), 64)
	return refResult{tr, fw}, nil
}

// peakRSSMiB reads the process's high-water resident set from /proc (Linux); 0 elsewhere.
func peakRSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// findUp looks for rel in the working directory and its parents.
func findUp(rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func newBenchSampleCmd() *cobra.Command {
	var (
		sf       sampleFlags
		suite    string
		tea      []float64
		seeds    int
		out      string
		markdown bool
	)
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Time the inference accelerations on a checkpoint and score them: speed against quality",
		Long: `Runs the shipped grid "bench" through ` + "`lumina ablate`" + `: Euler with --steps grid points, CFG-Renorm (0, 1) ×
CFG-Trunc (off, 0.25) × TeaCache (off and each of --teacache-thresholds, with the checkpoint's fitted polynomial;
left out when it has none, see ` + "`lumina teacache fit`" + `), on the same prompts and seeds; the reference is plain CFG.
It prints one row per cell: NFE, samples forwarded, TeaCache skips, wall time per image, speed-up over the
reference, the ToyEval score with its 95% bootstrap interval, the paired difference to the reference with its
interval, and the PSNR to the reference's images. --out keeps the sweep folder (summary, plots, images).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, name := range []string{"solver", "renorm", "trunc", "teacache", "seed"} {
				if cmd.Flags().Changed(name) {
					return fmt.Errorf("--%s is swept or fixed by the bench grid; for other settings run `lumina ablate` with a grid of your own", name)
				}
			}
			prompts, err := toyeval.Suite(suite)
			if err != nil {
				return fmt.Errorf("--suite: %w", err)
			}
			if seeds < 1 || seeds > ablation.MaxSeeds {
				return fmt.Errorf("--seeds %d outside 1..%d", seeds, ablation.MaxSeeds)
			}
			teaVals := []string{"0"}
			for _, t := range tea {
				if !(t > 0) || t > infer.MaxTeaCache {
					return fmt.Errorf("--teacache-thresholds: each must be a number in (0, %d], got %v", infer.MaxTeaCache, t)
				}
				teaVals = append(teaVals, strconv.FormatFloat(t, 'g', -1, 64))
			}
			so, _, err := sf.options()
			if err != nil {
				return err
			}
			meta, err := ckpt.ReadMeta(sf.ckpt)
			if err != nil {
				return err
			}
			if _, err := infer.TeaCoeffsFromMeta(meta[ckpt.MetaTeaCache]); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: the checkpoint has no fitted TeaCache polynomial; TeaCache is left out")
				teaVals = teaVals[:1]
			}
			base, err := ablation.ShippedGrid("bench", ablation.DefaultSetting(sf.ckpt))
			if err != nil {
				return err
			}
			f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
			g, err := base.With(map[string][]string{
				ablation.KeyCkpt: {sf.ckpt}, ablation.KeySystem: {sf.system}, ablation.KeyRes: {strconv.Itoa(sf.res)},
				ablation.KeySteps: {strconv.Itoa(sf.steps)}, ablation.KeyCFG: {f(sf.cfg)}, ablation.KeyShift: {f(sf.shift)},
				ablation.KeyTeaCache: teaVals,
			})
			if err != nil {
				return err
			}
			g.Suite, g.Prompts, g.Seeds = suite, prompts, seeds
			dir := out
			if dir == "" {
				if dir, err = os.MkdirTemp("", "lumina-bench-"); err != nil {
					return err
				}
				defer os.RemoveAll(dir)
			}
			prog := NewProgress(cmd.ErrOrStderr())
			defer prog.Close()
			var report ablation.ReportFunc
			if out != "" {
				report = plots.Write
			}
			st, err := ablation.Run(cmd.Context(), ablation.Options{Grid: g, Dir: dir, Loader: &ckptLoader{force: sf.force, warn: cmd.ErrOrStderr(), device: so.Device},
				OnEvent: sweepProgress(prog), Report: report})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "checkpoint %s, suite %s (%d prompts) × %d seeds, %d×%d, Euler %d, CFG %g, shift %g, GOMAXPROCS %d\n",
				sf.ckpt, suite, len(prompts), seeds, sf.res, sf.res, sf.steps, sf.cfg, sf.shift, runtime.GOMAXPROCS(0))
			if markdown {
				var b bytes.Buffer
				if err := st.Summary.WriteMarkdown(&b); err != nil {
					return err
				}
				_, err := cmd.OutOrStdout().Write(b.Bytes())
				return err
			}
			return st.Summary.WriteTable(cmd.OutOrStdout())
		},
	}
	sf.register(cmd)
	for _, name := range []string{"solver", "renorm", "trunc", "teacache", "seed"} {
		cmd.Flags().MarkHidden(name)
	}
	cmd.Flags().Lookup("steps").DefValue = "50"
	cmd.Flags().Set("steps", "50")
	cmd.Flags().StringVar(&suite, "suite", "quick", "ToyEval suite: "+strings.Join(toyeval.SuiteNames(), ", "))
	cmd.Flags().Float64SliceVar(&tea, "teacache-thresholds", []float64{0.05, 0.1}, "TeaCache thresholds to time (besides off)")
	cmd.Flags().IntVar(&seeds, "seeds", 1, "seeds per prompt (more narrow the intervals)")
	cmd.Flags().StringVar(&out, "out", "", "keep the sweep folder here (summary, plots, images); default: a temporary folder, removed")
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the summary as Markdown")
	return cmd
}
