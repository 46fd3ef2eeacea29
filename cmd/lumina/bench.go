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
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/model/optim"
)

func init() {
	var o trainBenchOpts
	train := &cobra.Command{
		Use:   "train",
		Short: "Time one training step and one sampling forward of the Go Next-DiT against the PyTorch reference",
		Long: `Times a training step (forward + backward + AdamW, float32) of the Go Next-DiT and, in the same run,
the repository's PyTorch reference (tools/reference/nextdit.py) on identical shapes (the tiny config: dim 128,
4 layers, 4 heads, 2 KV heads, 1+1 refiners, 32×32 pixels, patch 4, 48 caption tokens), then the sampling
forward at batch 2, and prints the ratios Go/PyTorch and the Go process's peak RSS. PyTorch runs with 1 and 2
threads and its best is kept. Without /usr/bin/python3 and torch, only the Go figures are printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return runTrainBench(cmd.OutOrStdout(), o)
		},
	}
	train.Flags().IntVar(&o.batch, "batch", 16, "training batch size (≥ 1)")
	train.Flags().IntVar(&o.steps, "steps", 10, "timed steps (≥ 1); the sampling forward is timed 3× as often")
	train.Flags().StringVar(&o.ref, "ref", "", "path of the PyTorch reference (default: "+refScript+" in the working directory or a parent)")
	train.Flags().BoolVar(&o.noRef, "no-ref", false, "skip the PyTorch reference")
	bench := &cobra.Command{Use: "bench", Short: "Benchmarks that print a ratio against a reference measured in the same run"}
	bench.AddCommand(train, newBenchSampleCmd())
	rootCmd.AddCommand(bench)
}

type trainBenchOpts struct {
	batch, steps int
	ref          string
	noRef        bool
}

func (o trainBenchOpts) validate() error {
	if o.batch < 1 || o.batch > 256 {
		return fmt.Errorf("--batch %d out of range: want 1..256", o.batch)
	}
	if o.steps < 1 || o.steps > 10000 {
		return fmt.Errorf("--steps %d out of range: want 1..10000", o.steps)
	}
	return nil
}

// refScript is the PyTorch reference, relative to the repository root.
var refScript = filepath.Join("tools", "reference", "nextdit.py")

// benchShape is the reference's default problem: 32×32, patch 4, 48 caption tokens of which 3/4 are real.
var benchShape = struct{ res, capLen, capReal int }{32, 48, 36}

func runTrainBench(out io.Writer, o trainBenchOpts) error {
	cfg, err := arch.LookupConfig("tiny")
	if err != nil {
		return err
	}
	cfg.CapDim = cfg.Dim // the reference feeds caption features of the model's width
	trainMs, err := goTrainStep(cfg, o.batch, o.steps)
	if err != nil {
		return err
	}
	fwdMs, err := goSampleForward(cfg, o.steps*3)
	if err != nil {
		return err
	}
	rss := peakRSSMiB()
	fmt.Fprintf(out, "Go   (tiny, %d params, float32, batch %d): train step %.1f ms, sampling forward (batch 2) %.2f ms, peak RSS %.0f MiB\n",
		cfg.ParamCount(), o.batch, trainMs, fwdMs, rss)
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
	for _, threads := range []int{1, 2} {
		r, err := runRef(ref, o.batch, o.steps, threads)
		if err != nil {
			fmt.Fprintf(out, "PyTorch reference (%d threads) did not run: %v\n", threads, err)
			continue
		}
		fmt.Fprintf(out, "PyTorch (%d thread(s)): train step %.1f ms, sampling forward (batch 2) %.2f ms\n", threads, r.trainMs, r.fwdMs)
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

// goTrainStep times forward + backward + AdamW on random data, after three warm-up steps.
func goTrainStep(cfg arch.Config, batch, steps int) (float64, error) {
	w, err := model.NewWeights(cfg, tensor.Float32, 1)
	if err != nil {
		return 0, err
	}
	s := model.Shape{Batch: batch, Height: benchShape.res, Width: benchShape.res, CapLen: benchShape.capLen}
	fl, err := model.NewFlowLoss(w, s, false)
	if err != nil {
		return 0, err
	}
	defer fl.Close()
	params := paramTensors(w, cfg)
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
	for i := 0; i < 3; i++ {
		if err := step(); err != nil {
			return 0, err
		}
	}
	t0 := time.Now()
	for i := 0; i < steps; i++ {
		if err := step(); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(t0).Microseconds()) / 1000 / float64(steps), nil
}

func goSampleForward(cfg arch.Config, runs int) (float64, error) {
	w, err := model.NewWeights(cfg, tensor.Float32, 1)
	if err != nil {
		return 0, err
	}
	s := model.Shape{Batch: 2, Height: benchShape.res, Width: benchShape.res, CapLen: benchShape.capLen}
	f, err := model.NewForwardGraph(w, s)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b := randomBatch(rand.New(rand.NewPCG(3, 4)), cfg, s)
	for i := 0; i < 3; i++ {
		if _, err := f.Run(b); err != nil {
			return 0, err
		}
	}
	t0 := time.Now()
	for i := 0; i < runs; i++ {
		if _, err := f.Run(b); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(t0).Microseconds()) / 1000 / float64(runs), nil
}

func paramTensors(w *model.Weights, cfg arch.Config) []*tensor.Dense {
	var ps []*tensor.Dense
	for _, p := range cfg.ParamShapes() {
		ps = append(ps, w.T[p.Name])
	}
	return ps
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

func runRef(path string, batch, steps, threads int) (refResult, error) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		return refResult{}, fmt.Errorf("%s not found", py)
	}
	cmd := exec.Command(py, path, "--batch", strconv.Itoa(batch), "--steps", strconv.Itoa(steps), "--threads", strconv.Itoa(threads))
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
		markdown bool
	)
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Time every inference strategy on a checkpoint and score it: speed against quality",
		Long: `Runs the baseline (Euler, --steps grid points, full CFG, no renorm) and, on the same prompts and seeds,
+Renorm, +Trunc, Renorm+Trunc, Flow-DPM-Solver at 14 and 20 NFE, TeaCache at the --teacache-thresholds (with
the checkpoint's fitted polynomial; see ` + "`lumina teacache fit`" + `) and everything combined, then prints one table:
NFE, samples forwarded, wall time per image, speed-up over the baseline, ToyEval overall, and the PSNR to the
baseline's image for the same seed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			prompts, err := toyeval.Suite(suite)
			if err != nil {
				return fmt.Errorf("--suite: %w", err)
			}
			for _, t := range tea {
				if !(t > 0) || math.IsInf(t, 0) {
					return fmt.Errorf("--teacache-thresholds must be positive numbers, got %v", t)
				}
			}
			o, sys, err := sf.options()
			if err != nil {
				return err
			}
			p, err := sf.load(&o, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer p.Close()
			coeffs, _ := infer.TeaCoeffsFromMeta(p.Bundle.Meta[ckpt.MetaTeaCache])
			if coeffs == nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: the checkpoint has no fitted TeaCache polynomial; TeaCache rows are left out")
			}
			strategies := ablation.DefaultStrategies(sf.steps, coeffs, tea)
			for i := range strategies {
				strategies[i].Options.CFG, strategies[i].Options.Shift = o.CFG, o.Shift
			}
			prog := NewProgress(cmd.ErrOrStderr())
			defer prog.Close()
			total, done, start := len(strategies)*len(prompts), 0, time.Now()
			prog.Images("bench", 0, total, 0)
			rows, err := ablation.Compare(cmd.Context(), p, ablation.Config{Prompts: prompts, System: sys, Width: sf.res, Height: sf.res, Seed: sf.seed,
				OnImage: func(int, int, *infer.Generated) {
					done++
					prog.Images("bench", done, total, time.Since(start))
				}}, strategies)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "checkpoint %s, suite %s (%d prompts), %d×%d, CFG %g, shift %g, GOMAXPROCS %d\n",
				sf.ckpt, suite, len(prompts), sf.res, sf.res, o.CFG, o.Shift, runtime.GOMAXPROCS(0))
			return ablation.WriteTable(cmd.OutOrStdout(), rows, markdown)
		},
	}
	sf.register(cmd)
	cmd.Flags().Lookup("steps").DefValue = "50"
	cmd.Flags().Set("steps", "50")
	cmd.Flags().StringVar(&suite, "suite", "quick", "ToyEval suite: "+strings.Join(toyeval.SuiteNames(), ", "))
	cmd.Flags().Float64SliceVar(&tea, "teacache-thresholds", []float64{0.1, 0.3, 0.6}, "TeaCache thresholds to time")
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print a Markdown table")
	return cmd
}
