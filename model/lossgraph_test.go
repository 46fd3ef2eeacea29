package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/flow"
)

// TestFlowLossIsTheFlowObjective checks the training graph against the objective as package flow
// defines it: x_t and the target from flow.Interpolate, a plain forward on x_t, and flow.Loss averaged
// over the batch; the aux half the same on flow.AvgPool of the data.
func TestFlowLossIsTheFlowObjective(t *testing.T) {
	cfg := gradConfig
	w, err := NewWeights(cfg, tensor.Float64, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, p := range cfg.ParamShapes() {
		d := w.T[p.Name].Data().([]float64)
		for i := range d {
			d[i] += 0.3 * rng.NormFloat64() // off the zero init, so v depends on every input
		}
	}
	randn := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	const B, H, W = 2, 8, 16
	s := Shape{Batch: B, Height: H, Width: W, CapLen: 3}
	fl, err := NewFlowLoss(w, s, true)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	x1, x0 := randn(B*cfg.Channels*H*W), randn(B*cfg.Channels*H*W)
	pooled, err := flow.AvgPool(x1, B, cfg.Channels, H, W)
	if err != nil {
		t.Fatal(err)
	}
	ax0 := randn(len(pooled))
	capf := make([]float64, B*3*cfg.CapDim)
	for i := range capf {
		capf[i] = rng.NormFloat64()
	}
	half := func(x1, x0 []float32, ts []float64, h, w int) (Batch, []float32, Shape) {
		xt, u, err := flow.Interpolate(x1, x0, ts)
		if err != nil {
			t.Fatal(err)
		}
		u32 := make([]float32, len(u))
		for i, v := range u {
			u32[i] = float32(v)
		}
		return Batch{X: xt, T: ts, Cap: capf, CapLens: []int{3, 2}}, u32, Shape{Batch: B, Height: h, Width: w, CapLen: 3}
	}
	main, u, ms := half(x1, x0, []float64{0.3, 0.8}, H, W)
	aux, au, as := half(pooled, ax0, []float64{0.6, 0.1}, H/flow.AuxPool, W/flow.AuxPool)
	lv, err := fl.Step(main, f64(u), &aux, f64(au))
	if err != nil {
		t.Fatal(err)
	}
	want := func(b Batch, u []float32, s Shape) float64 {
		f, err := NewForwardGraph(w, s)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		v, err := f.Run(b)
		if err != nil {
			t.Fatal(err)
		}
		v32 := make([]float32, len(v))
		for i, x := range v {
			v32[i] = float32(x)
		}
		per, err := flow.Loss(v32, u, B)
		if err != nil {
			t.Fatal(err)
		}
		return (per[0] + per[1]) / 2
	}
	// float32 rounding of v and u on the reference side bounds the agreement.
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"main", lv.Main, want(main, u, ms)}, {"aux", lv.Aux, want(aux, au, as)}} {
		if math.Abs(c.got-c.want) > 1e-5*c.want {
			t.Errorf("%s loss: graph %.9g, flow.Loss of a plain forward %.9g", c.name, c.got, c.want)
		}
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
