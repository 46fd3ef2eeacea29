package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/cuda"
	"github.com/lumina-workbench/lumina/model/ops"
	"github.com/lumina-workbench/lumina/model/optim"
	"github.com/lumina-workbench/lumina/model/textenc"
)

// The checks of whole programs: what the model's graphs compute on a Backend against the CPU. They take
// a Backend, so the same code runs on the GPU (bin/gpucheck) and, in this package's tests, on the
// emulator.

// stepShape is the training step the model checks run: the tiny config, a batch of 2 at 16 px with
// the aux loss, captions of 8 tokens.
var stepShape = model.Shape{Batch: 2, Height: 16, Width: 16, CapLen: 8}

// compareProgram is cuda.CompareWithHost's worst relative error.
func compareProgram(be cuda.Backend, outs []*G.Node) (float64, error) {
	worst, _, err := cuda.CompareWithHost(be, outs)
	return worst, err
}

// checkLinear is Linear with a bias, forward and backward, through cuBLAS: y = x·Wᵀ + b on x [3, 37, 96]
// and W [80, 96], its loss against a random target, and the gradients of x, W and b.
func checkLinear(be cuda.Backend, seed uint64) (float64, error) {
	rng := rand.New(rand.NewPCG(seed, 11))
	g := G.NewGraph()
	in := func(name string, shape ...int) *G.Node {
		n := G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name))
		d := make([]float32, tensor.Shape(shape).TotalSize())
		for i := range d {
			d[i] = float32(rng.NormFloat64())
		}
		if err := G.Let(n, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))); err != nil {
			panic(err)
		}
		return n
	}
	x, w, b, target := in("x", 3, 37, 96), in("w", 80, 96), in("b", 80), in("target", 3, 37, 80)
	y, err := ops.Linear(x, w, b)
	if err != nil {
		return 0, err
	}
	loss, err := ops.MSE(y, target)
	if err != nil {
		return 0, err
	}
	grads, err := G.Grad(loss, x, w, b)
	if err != nil {
		return 0, err
	}
	return compareProgram(be, append(G.Nodes{y, loss}, grads...))
}

// checkModelGrads is a whole training step of the tiny model (model.RandomStep): the loss and every
// parameter's gradient.
func checkModelGrads(be cuda.Backend, seed uint64) (float64, error) {
	cfg, err := arch.LookupConfig("tiny")
	if err != nil {
		return 0, err
	}
	fl, err := model.RandomStep(cfg, tensor.Float32, stepShape, seed)
	if err != nil {
		return 0, err
	}
	defer fl.Close()
	return compareProgram(be, fl.Outputs())
}

// checkCrossGrads is checkModelGrads for the cross-injection model, whose cross-attention reads keys of
// the caption (8 tokens, one sample's last 3 padded) from queries of the image (16 tokens).
func checkCrossGrads(be cuda.Backend, seed uint64) (float64, error) {
	cfg, err := arch.LookupConfig("tiny")
	if err != nil {
		return 0, err
	}
	cfg.TextInjection = arch.TextCross
	fl, err := model.RandomStep(cfg, tensor.Float32, stepShape, seed)
	if err != nil {
		return 0, err
	}
	defer fl.Close()
	return compareProgram(be, fl.Outputs())
}

// checkLMGrads is a training step of the text encoder (embedding, causal attention, next-token
// cross-entropy over a padded batch of 2 × 24 tokens): the loss and every parameter's gradient.
func checkLMGrads(be cuda.Backend, seed uint64) (float64, error) {
	c, err := arch.LookupLMConfig("tiny", 500)
	if err != nil {
		return 0, err
	}
	lm, err := textenc.RandomLMStep(c, tensor.Float32, 24, seed)
	if err != nil {
		return 0, err
	}
	defer lm.Close()
	return compareProgram(be, lm.Outputs())
}

// checkSampleForward is a sampling forward of the tiny model at batch 2 with its weights resident on
// the device, against Gorgonia's machine.
func checkSampleForward(be cuda.Backend, seed uint64) (float64, error) {
	cfg, err := arch.LookupConfig("tiny")
	if err != nil {
		return 0, err
	}
	fl, err := model.RandomStep(cfg, tensor.Float32, stepShape, seed) // weights off the init
	if err != nil {
		return 0, err
	}
	defer fl.Close()
	w := &model.Weights{Cfg: cfg, Dtype: tensor.Float32, T: map[string]*tensor.Dense{}}
	for i, p := range cfg.ParamShapes() {
		w.T[p.Name] = fl.Model.Params[i].Value().(*tensor.Dense)
	}
	f, err := model.NewForwardGraph(w, stepShape)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(seed, 12))
	randn := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	b := model.Batch{X: randn(2 * cfg.Channels * 16 * 16), T: []float64{0.2, 0.7}, Cap: randn(2 * 8 * cfg.CapDim), CapLens: []int{8, 5}}
	want, err := f.Run(b)
	if err != nil {
		return 0, err
	}
	r, err := cuda.NewResident(be, w.Tensors())
	if err != nil {
		return 0, err
	}
	pr, err := r.Lower([]*G.Node{f.V}, f.Model.Params)
	if err != nil {
		return 0, err
	}
	got, err := r.Run(pr, f.V)
	if err != nil {
		return 0, err
	}
	return relErr([2][]float64{f64(got[0]), want}), nil
}

// checkLossCurve trains two copies of the tiny model the same way for steps steps, one on the CPU (the
// tape machine, optim.ClipGradNorm, AdamW, EMA) and one with cuda.Trainer on be, and returns the worst
// relative difference of their losses over the curve.
func checkLossCurve(be cuda.Backend, steps int, seed uint64) (float64, error) {
	cfg, err := arch.LookupConfig("tiny")
	if err != nil {
		return 0, err
	}
	cpu, err := model.RandomStep(cfg, tensor.Float32, stepShape, seed)
	if err != nil {
		return 0, err
	}
	defer cpu.Close()
	dev, err := model.RandomStep(cfg, tensor.Float32, stepShape, seed)
	if err != nil {
		return 0, err
	}
	defer dev.Close()
	cp, dp := cpu.Model.W.Tensors(), dev.Model.W.Tensors()
	conf := optim.AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8}
	const clip, decay = 1.0, 0.99
	cOpt, err := optim.NewAdamW(conf, cp)
	if err != nil {
		return 0, err
	}
	cEMA, err := optim.NewEMA(decay, cp)
	if err != nil {
		return 0, err
	}
	dOpt, err := optim.NewAdamW(conf, dp)
	if err != nil {
		return 0, err
	}
	tr, err := cuda.NewTrainer(be, dp, true)
	if err != nil {
		return 0, err
	}
	defer tr.Close()
	if err := tr.Load(nil, nil, nil); err != nil {
		return 0, err
	}
	worst := 0.0
	for k := range steps {
		want, err := cpu.RunSet()
		if err != nil {
			return 0, err
		}
		if _, err := optim.ClipGradNorm(cpu.Grads(), clip); err != nil {
			return 0, err
		}
		if err := cOpt.Step(cp, cpu.Grads()); err != nil {
			return 0, err
		}
		if err := cEMA.Update(cp); err != nil {
			return 0, err
		}
		ls, _, err := tr.Grads(cuda.FlowGraph(dev), clip)
		if err != nil {
			return 0, err
		}
		got := cuda.FlowLosses(ls)
		c, err := dOpt.Advance()
		if err != nil {
			return 0, err
		}
		if err := tr.Update(c, decay); err != nil {
			return 0, err
		}
		d := math.Abs(got.Total-want.Total) / math.Abs(want.Total)
		if math.IsNaN(d) {
			return 0, fmt.Errorf("step %d: loss %v on the device, %v on the CPU", k, got.Total, want.Total)
		}
		worst = max(worst, d)
	}
	return worst, nil
}

// relErr is max|got − want| / max|want| over pairs of outputs, the worst pair.
func relErr(pairs ...[2][]float64) float64 {
	worst := 0.0
	for _, p := range pairs {
		var num, den float64
		if len(p[0]) != len(p[1]) {
			return math.Inf(1)
		}
		for i := range p[1] {
			num = max(num, math.Abs(p[0][i]-p[1][i]))
			den = max(den, math.Abs(p[1][i]))
		}
		if math.IsNaN(num) {
			return math.Inf(1)
		}
		worst = max(worst, num/max(den, 1e-30))
	}
	return worst
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func pair(got, want []float32) [2][]float64 { return [2][]float64{f64(got), f64(want)} }
