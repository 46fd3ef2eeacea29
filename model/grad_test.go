package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/model/arch"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gradConfig is small enough to finite-difference every parameter tensor of the whole model.
var gradConfig = arch.Config{Name: "grad", Dim: 24, Layers: 1, Heads: 4, KVHeads: 2, AxesDims: [3]int{2, 2, 2}, MultipleOf: 16,
	Refiners: 1, Patch: 2, Channels: 3, CapDim: 8, FreqDim: 16, AdaLNMax: 1024, NormEps: 1e-5}

// TestWholeModelGradients checks the flow loss with the aux forward against central finite differences
// in float64, for two entries of every parameter tensor, in both text injections. Every parameter is
// perturbed away from the reference init first, since zero-initialised adaLN and final layers would
// block most gradient paths.
func TestWholeModelGradients(t *testing.T) {
	for _, inj := range []string{arch.TextJoint, arch.TextCross} {
		t.Run(inj, func(t *testing.T) {
			cfg := gradConfig
			cfg.TextInjection, _ = arch.ParseTextInjection(inj)
			wholeModelGradients(t, cfg)
		})
	}
}

func wholeModelGradients(t *testing.T, cfg arch.Config) {
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	w, err := NewWeights(cfg, tensor.Float64, 7)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, p := range cfg.ParamShapes() {
		d := w.T[p.Name].Data().([]float64)
		for i := range d {
			d[i] += 0.3 * rng.NormFloat64()
		}
	}
	s := Shape{Batch: 2, Height: 8, Width: 16, CapLen: 3}
	fl, err := NewFlowLoss(w, s, true)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	randn := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	// The second caption has one real token and two of padding, which the masks must hide.
	main := Batch{X: randn(2 * 3 * 8 * 16), T: []float64{0.2, 0.7}, Cap: randn(2 * 3 * 8), CapLens: []int{3, 1}}
	aux := Batch{X: randn(2 * 3 * 2 * 4), T: []float64{0.5, 0.9}, Cap: main.Cap, CapLens: main.CapLens}
	target, auxTarget := randn(len(main.X)), randn(len(aux.X))
	loss := func() float64 {
		lv, err := fl.Step(main, target, &aux, auxTarget)
		if err != nil {
			t.Fatal(err)
		}
		return lv.Total
	}
	lv, err := fl.Step(main, target, &aux, auxTarget)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(lv.Total-lv.Main-lv.Aux) > 1e-12 || lv.Aux == 0 {
		t.Fatalf("total %g should be main %g + aux %g, aux non-zero", lv.Total, lv.Main, lv.Aux)
	}
	var grads [][]float64
	for _, g := range fl.Grads() {
		grads = append(grads, append([]float64(nil), g.Data().([]float64)...))
	}
	// A second step must give the same gradients: the tape machine would otherwise accumulate them.
	loss()
	for i, g := range fl.Grads() {
		for j, v := range g.Data().([]float64) {
			if v != grads[i][j] {
				t.Fatalf("gradient of %s changed on a repeated step (%g then %g): gradients accumulate", cfg.ParamShapes()[i].Name, grads[i][j], v)
			}
		}
	}
	const h = 1e-5
	worst := 0.0
	for pi, p := range cfg.ParamShapes() {
		d := w.T[p.Name].Data().([]float64)
		for _, j := range []int{0, rng.IntN(len(d))} {
			orig := d[j]
			d[j] = orig + h
			up := loss()
			d[j] = orig - h
			down := loss()
			d[j] = orig
			num := (up - down) / (2 * h)
			got := grads[pi][j]
			// Relative where gradients are large, absolute (1e-8) where they are tiny and the central
			// difference itself has only ~1e-9 of precision.
			err := math.Abs(num-got) / math.Max(1e-3, math.Abs(num)+math.Abs(got))
			worst = math.Max(worst, err)
			if err > 1e-5 {
				t.Errorf("%s[%d]: analytic %.9g, finite difference %.9g (rel %.2g)", p.Name, j, got, num, err)
			}
		}
	}
	t.Logf("worst relative gradient error over %d parameter tensors: %.2g", len(cfg.ParamShapes()), worst)
}

// TestCaptionPaddingIsHidden: the velocity of a sample does not depend on the features of its caption's
// padding, in either text injection (the key masks hide padding from every attention that reads it).
func TestCaptionPaddingIsHidden(t *testing.T) {
	for _, inj := range []string{"", arch.TextCross} {
		cfg := gradConfig
		cfg.TextInjection = inj
		w, err := NewWeights(cfg, tensor.Float64, 3)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(5, 6))
		for _, p := range cfg.ParamShapes() {
			d := w.T[p.Name].Data().([]float64)
			for i := range d {
				d[i] += 0.3 * rng.NormFloat64()
			}
		}
		f, err := NewForwardGraph(w, Shape{Batch: 1, Height: 8, Width: 8, CapLen: 4})
		if err != nil {
			t.Fatal(err)
		}
		b := Batch{X: make([]float64, 3*8*8), T: []float64{0.4}, Cap: make([]float64, 4*8), CapLens: []int{2}}
		for i := range b.X {
			b.X[i] = rng.NormFloat64()
		}
		for i := range b.Cap {
			b.Cap[i] = rng.NormFloat64()
		}
		v1, err := f.Run(b)
		if err != nil {
			t.Fatal(err)
		}
		v1 = append([]float64(nil), v1...)
		for i := 2 * 8; i < len(b.Cap); i++ {
			b.Cap[i] = 10 * rng.NormFloat64()
		}
		v2, err := f.Run(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range v1 {
			if v1[i] != v2[i] {
				t.Fatalf("injection %q: velocity %d changes with the caption padding: %g, then %g", cfg.Injection(), i, v1[i], v2[i])
			}
		}
		b.Cap[0] += 1 // a real token does matter
		v3, err := f.Run(b)
		if err != nil {
			t.Fatal(err)
		}
		same := true
		for i := range v1 {
			same = same && v1[i] == v3[i]
		}
		if same {
			t.Fatalf("injection %q: the velocity ignores the caption", cfg.Injection())
		}
		f.Close()
	}
}

// TestBuiltGraphParamCount counts the parameters of a built tiny graph from the graph itself (every
// input node that is not a data input) and compares it with the analytic count.
func TestBuiltGraphParamCount(t *testing.T) {
	for _, name := range []string{"tiny", "small", "tiny-cross"} {
		cfg, err := arch.LookupConfig(strings.TrimSuffix(name, "-cross"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "-cross") {
			cfg.TextInjection = arch.TextCross
		}
		w, err := NewWeights(cfg, tensor.Float32, 1)
		if err != nil {
			t.Fatal(err)
		}
		f, err := NewForwardGraph(w, Shape{Batch: 1, Height: 32, Width: 32, CapLen: 4})
		if err != nil {
			t.Fatal(err)
		}
		data := map[string]bool{}
		for _, n := range []*G.Node{f.In.X, f.In.TFreq, f.In.Cap} {
			data[n.Name()] = true
		}
		for _, r := range []Rope{f.In.CapRope, f.In.ImgRope, f.In.Joint} {
			if r.Cos != nil {
				data[r.Cos.Name()], data[r.Sin.Name()], data[r.Mask.Name()] = true, true, true
			}
		}
		var built int64
		for _, n := range f.Graph.Inputs() {
			if !data[n.Name()] {
				built += int64(n.Shape().TotalSize())
			}
		}
		if built != cfg.ParamCount() {
			t.Errorf("%s: built graph holds %d parameters, analytic count %d", name, built, cfg.ParamCount())
		}
		f.Close()
	}
}
