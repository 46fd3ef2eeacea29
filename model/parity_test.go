package model_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/ckpt"
	gu "github.com/lumina-workbench/lumina/model/graphutil"
)

// parityConfig is the architecture of testdata/parity, exported by the PyTorch reference
// (tools/reference/nextdit.py) with the flags in testdata/parity/gen.sh; testdata/parity-cross is the
// same with text_injection: cross.
var parityConfig = arch.Config{Name: "parity", Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, AxesDims: [3]int{4, 6, 6},
	MultipleOf: 32, Refiners: 1, Patch: 4, Channels: 3, CapDim: 64, FreqDim: 256, AdaLNMax: 1024, NormEps: 1e-5}

// TestParityWithReference loads the PyTorch reference's random weights into the Go Next-DiT and compares
// its output on the reference's inputs (two samples, the second with a padded caption) with the
// reference's float64 output, for both text injections. This pins the architecture: every name,
// layout, norm, rotation and mask must agree.
func TestParityWithReference(t *testing.T) {
	cross := parityConfig
	cross.TextInjection = arch.TextCross
	for _, fx := range []struct {
		dir string
		cfg arch.Config
	}{{"parity", parityConfig}, {"parity-cross", cross}} {
		t.Run(fx.dir, func(t *testing.T) { parity(t, filepath.Join("testdata", fx.dir), fx.cfg) })
	}
}

func parity(t *testing.T, dir string, cfg arch.Config) {
	var desc struct {
		Arch   arch.Config `json:"arch"`
		Params int64       `json:"params"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &desc); err != nil {
		t.Fatal(err)
	}
	desc.Arch.Name = cfg.Name
	if desc.Arch != cfg || desc.Params != cfg.ParamCount() {
		t.Fatalf("fixture architecture %+v with %d parameters, the test's %+v has %d", desc.Arch, desc.Params, cfg, cfg.ParamCount())
	}
	io, err := ckpt.Load(filepath.Join(dir, "io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	rope, err := ckpt.Load(filepath.Join(dir, "rope.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	want := gu.Float64s(io.Tensors["v"])
	x := io.Tensors["x"]
	b := model.Batch{X: gu.Float64s(x), T: gu.Float64s(io.Tensors["t"]), Cap: gu.Float64s(io.Tensors["cap"])}
	mask := gu.Float64s(io.Tensors["cap_mask"])
	capLen := io.Tensors["cap"].Shape()[1]
	for i := 0; i < x.Shape()[0]; i++ {
		n := 0
		for _, m := range mask[i*capLen : (i+1)*capLen] {
			if m > 0.5 {
				n++
			}
		}
		b.CapLens = append(b.CapLens, n)
	}
	if b.CapLens[0] == b.CapLens[1] {
		t.Fatalf("fixture should have two caption lengths, got %v", b.CapLens)
	}
	s := model.Shape{Batch: x.Shape()[0], Height: x.Shape()[2], Width: x.Shape()[3], CapLen: capLen}

	for _, tc := range []struct {
		file string
		dt   tensor.Dtype
		tol  float64
	}{
		{"weights64.safetensors", tensor.Float64, 1e-9},
		{"weights.safetensors", tensor.Float32, 1e-4},
	} {
		t.Run(tc.dt.String(), func(t *testing.T) {
			ts, _, err := ckpt.LoadModel(filepath.Join(dir, tc.file), cfg, tc.dt)
			if err != nil {
				t.Fatal(err)
			}
			f, err := model.NewForwardGraph(&model.Weights{Cfg: cfg, Dtype: tc.dt, T: ts}, s)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.In.Set(cfg, b); err != nil {
				t.Fatal(err)
			}
			// The reference rounds its rotary tables to float32; feed its exact tables (Set's own,
			// computed in float64, differ by ~1e-8 and are checked against these below).
			ownCos := gu.Float64s(f.In.ImgRope.Cos.Value().(*tensor.Dense))
			refCos := gu.Float64s(rope.Tensors["img_cos"])
			if e := relErr(ownCos, refCos); e > 1e-6 {
				t.Fatalf("image rope tables differ from the reference's by %.3g", e)
			}
			joint := func(c, i string) []float64 {
				cc, ic := gu.Float64s(rope.Tensors[c]), gu.Float64s(rope.Tensors[i])
				per, peri := len(cc)/s.Batch, len(ic)/s.Batch
				var out []float64
				for bi := 0; bi < s.Batch; bi++ {
					out = append(append(out, cc[bi*per:(bi+1)*per]...), ic[bi*peri:(bi+1)*peri]...)
				}
				return out
			}
			for _, fill := range []struct {
				r        model.Rope
				cos, sin []float64
			}{
				{f.In.CapRope, gu.Float64s(rope.Tensors["cap_cos"]), gu.Float64s(rope.Tensors["cap_sin"])},
				{f.In.ImgRope, gu.Float64s(rope.Tensors["img_cos"]), gu.Float64s(rope.Tensors["img_sin"])},
				{f.In.Joint, joint("cap_cos", "img_cos"), joint("cap_sin", "img_sin")},
			} {
				if fill.r.Cos == nil {
					continue // the cross-injection model has no joint sequence
				}
				if err := gu.Fill(fill.r.Cos, fill.cos); err != nil {
					t.Fatal(err)
				}
				if err := gu.Fill(fill.r.Sin, fill.sin); err != nil {
					t.Fatal(err)
				}
			}
			got, err := f.RunSet()
			if err != nil {
				t.Fatal(err)
			}
			e := relErr(got, want)
			t.Logf("%v: relative error %.3g (tolerance %g)", tc.dt, e, tc.tol)
			if e > tc.tol {
				t.Fatalf("output differs from the reference: relative error %.3g > %g", e, tc.tol)
			}
		})
	}
}

func relErr(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range a {
		num += (a[i] - b[i]) * (a[i] - b[i])
		den += b[i] * b[i]
	}
	return math.Sqrt(num / den)
}
