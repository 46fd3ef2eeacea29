package optim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/model/ckpt"
	"gorgonia.org/tensor"
)

func vec64(v ...float64) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(append([]float64{}, v...)))
}

func vec32(v ...float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(append([]float32{}, v...)))
}

func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(got[i] - want[i]); !(d <= tol*math.Max(1, math.Abs(want[i]))) {
			t.Errorf("%s[%d] = %.17g, want %.17g (diff %.3g)", what, i, got[i], want[i], d)
		}
	}
}

// TestAdamWTwoStepsByHand: two steps of a 3-element parameter, written out as textbook Adam with
// bias-corrected moments (m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ), p ← p·(1−lr·wd) − lr·m̂/(√v̂ + eps)), and
// the first element checked against numbers worked out on paper.
func TestAdamWTwoStepsByHand(t *testing.T) {
	const lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
	p0 := []float64{1, -2, 0.5}
	g := [][]float64{{0.1, -0.2, 0.3}, {-0.05, 0.4, 0}}
	for _, tc := range []struct {
		wd     float64
		paper1 float64 // element 0 after step 1 and 2, by hand
		paper2 float64
	}{
		// wd 0: step 1 moves each element by lr·sign(g); step 2 (element 0): m=0.004, v=1.249e-5,
		// m̂=0.004/0.19, v̂=1.249e-5/0.001999, update 0.1·0.0210526/0.0790449 = 0.0266337.
		{0, 0.9, 0.8733663},
		// wd 0.1: the weight shrinks by (1 − 0.01) before each update: 0.99 − 0.1, then 0.89·0.99 − 0.0266337.
		{0.1, 0.89, 0.8544663},
	} {
		t.Run(fmt.Sprint("wd=", tc.wd), func(t *testing.T) {
			param := vec64(p0...)
			opt, err := NewAdamW(AdamWConfig{LR: lr, Beta1: b1, Beta2: b2, Eps: eps, WeightDecay: tc.wd}, []*tensor.Dense{param})
			if err != nil {
				t.Fatal(err)
			}
			want := append([]float64{}, p0...)
			m, v := make([]float64, 3), make([]float64, 3)
			for s := 1; s <= 2; s++ {
				if err := opt.Step([]*tensor.Dense{param}, []*tensor.Dense{vec64(g[s-1]...)}); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					gi := g[s-1][i]
					m[i] = b1*m[i] + (1-b1)*gi
					v[i] = b2*v[i] + (1-b2)*gi*gi
					mh := m[i] / (1 - math.Pow(b1, float64(s)))
					vh := v[i] / (1 - math.Pow(b2, float64(s)))
					want[i] = want[i]*(1-lr*tc.wd) - lr*mh/(math.Sqrt(vh)+eps)
				}
				near(t, fmt.Sprintf("step %d param", s), param.Float64s(), want, 1e-14)
				gm, gv := opt.Moments(0)
				near(t, fmt.Sprintf("step %d m", s), gm.Float64s(), m, 1e-15)
				near(t, fmt.Sprintf("step %d v", s), gv.Float64s(), v, 1e-15)
				paper := tc.paper1
				if s == 2 {
					paper = tc.paper2
				}
				if d := math.Abs(param.Float64s()[0] - paper); d > 1e-6 {
					t.Errorf("step %d: element 0 = %.8f, worked by hand %.7f", s, param.Float64s()[0], paper)
				}
			}
			// A zero gradient with zero history leaves the element alone except for decay.
			if opt.StepCount() != 2 {
				t.Errorf("step count %d", opt.StepCount())
			}
		})
	}
}

func TestAdamWFloat32TracksFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 200
	p64 := make([]float64, n)
	for i := range p64 {
		p64[i] = float64(float32(r.NormFloat64()))
	}
	a, b := vec64(p64...), vec32(make([]float32, n)...)
	for i, v := range p64 {
		b.Float32s()[i] = float32(v)
	}
	cfg := AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.05}
	oa, _ := NewAdamW(cfg, []*tensor.Dense{a})
	ob, _ := NewAdamW(cfg, []*tensor.Dense{b})
	for s := 0; s < 20; s++ {
		g64 := make([]float64, n)
		g32 := make([]float32, n)
		for i := range g64 {
			g32[i] = float32(r.NormFloat64())
			g64[i] = float64(g32[i])
		}
		oa.Step([]*tensor.Dense{a}, []*tensor.Dense{vec64(g64...)})
		if err := ob.Step([]*tensor.Dense{b}, []*tensor.Dense{vec32(g32...)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range b.Float32s() {
		if d := math.Abs(float64(v) - a.Float64s()[i]); d > 1e-5 {
			t.Fatalf("float32 run drifts from float64 at %d: %v vs %v", i, v, a.Float64s()[i])
		}
	}
}

func TestAdamWRefusesMismatch(t *testing.T) {
	p := vec64(1, 2, 3)
	opt, _ := NewAdamW(PaperAdamW(), []*tensor.Dense{p})
	for name, g := range map[string][]*tensor.Dense{
		"count": {},
		"shape": {vec64(1, 2)},
		"dtype": {vec32(1, 2, 3)},
		"nil":   {nil},
	} {
		if err := opt.Step([]*tensor.Dense{p}, g); err == nil {
			t.Errorf("%s mismatch accepted", name)
		}
	}
	if p.Float64s()[0] != 1 || opt.StepCount() != 0 {
		t.Error("a refused step changed the state")
	}
	for _, c := range []AdamWConfig{{LR: -1, Beta1: .9, Beta2: .9}, {LR: 1, Beta1: 1, Beta2: .9}, {LR: 1, Beta1: .9, Beta2: -0.1},
		{LR: 1, Beta1: .9, Beta2: .9, Eps: math.NaN()}, {LR: 1, Beta1: .9, Beta2: .9, WeightDecay: -1}} {
		if _, err := NewAdamW(c, nil); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	tr := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1, 2, 3, 4}))
	tr.T()
	if _, err := NewAdamW(PaperAdamW(), []*tensor.Dense{tr}); err == nil || !strings.Contains(err.Error(), "transposed") {
		t.Errorf("transposed param: %v", err)
	}
}

func TestClipGradNorm(t *testing.T) {
	a, b := vec64(3, 0, -4), vec32(12)
	direct := math.Sqrt(9 + 16 + 144) // 13
	norm, err := ClipGradNorm([]*tensor.Dense{a, b}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if norm != direct {
		t.Fatalf("pre-clip norm %v, want %v", norm, direct)
	}
	coef := 2 / (13 + 1e-6)
	near(t, "clipped a", a.Float64s(), []float64{3 * coef, 0, -4 * coef}, 1e-15)
	if d := math.Abs(float64(b.Float32s()[0]) - 12*coef); d > 1e-6 {
		t.Errorf("clipped b %v, want %v", b.Float32s()[0], 12*coef)
	}
	after, _ := GlobalNorm([]*tensor.Dense{a, b})
	if math.Abs(after-2) > 1e-6 {
		t.Errorf("norm after clip %v, want ≈2", after)
	}
	// Under the threshold nothing changes.
	c := vec64(0.3, 0.4)
	if n, _ := ClipGradNorm([]*tensor.Dense{c}, 2); n != 0.5 || c.Float64s()[0] != 0.3 || c.Float64s()[1] != 0.4 {
		t.Errorf("unclipped: norm %v, grads %v", n, c.Float64s())
	}
	d := vec64(1, math.NaN())
	if _, err := ClipGradNorm([]*tensor.Dense{d}, 1); !errors.Is(err, ErrNonFiniteNorm) || d.Float64s()[0] != 1 {
		t.Errorf("NaN grad: %v, grads %v", err, d.Float64s())
	}
	if _, err := ClipGradNorm([]*tensor.Dense{c}, 0); err == nil {
		t.Error("max norm 0 accepted")
	}
}

func TestZeroGrads(t *testing.T) {
	a, b := vec64(1, 2), vec32(3)
	if err := ZeroGrads([]*tensor.Dense{a, b}); err != nil {
		t.Fatal(err)
	}
	if a.Float64s()[0] != 0 || a.Float64s()[1] != 0 || b.Float32s()[0] != 0 {
		t.Errorf("not zeroed: %v %v", a, b)
	}
}

func TestEMA(t *testing.T) {
	p := vec64(1, 2)
	e, err := NewEMA(0.9, []*tensor.Dense{p})
	if err != nil {
		t.Fatal(err)
	}
	steps := [][]float64{{3, -1}, {5, 0}}
	for _, s := range steps {
		copy(p.Float64s(), s)
		if err := e.Update([]*tensor.Dense{p}); err != nil {
			t.Fatal(err)
		}
	}
	// Unrolled: 0.9²·p0 + 0.9·0.1·p1 + 0.1·p2.
	want := []float64{0.81*1 + 0.09*3 + 0.1*5, 0.81*2 + 0.09*-1 + 0.1*0}
	w, _ := e.Weights()
	near(t, "ema", w[0].Float64s(), want, 1e-15)

	if err := e.SwapIn([]*tensor.Dense{p}); err != nil {
		t.Fatal(err)
	}
	near(t, "swapped-in params", p.Float64s(), want, 1e-15)
	if e.SwapIn([]*tensor.Dense{p}) == nil || e.Update([]*tensor.Dense{p}) == nil {
		t.Error("double swap-in or update while swapped accepted")
	}
	if _, _, err := e.State([]string{"p"}); err == nil {
		t.Error("state export while swapped accepted")
	}
	if err := e.SwapOut([]*tensor.Dense{p}); err != nil {
		t.Fatal(err)
	}
	near(t, "restored params", p.Float64s(), []float64{5, 0}, 0)
	if e.SwapOut([]*tensor.Dense{p}) == nil {
		t.Error("double swap-out accepted")
	}
	if _, err := NewEMA(1.5, nil); err == nil {
		t.Error("decay 1.5 accepted")
	}
	// float32 average follows the same formula.
	q := vec32(1)
	e32, _ := NewEMA(0.5, []*tensor.Dense{q})
	q.Float32s()[0] = 3
	e32.Update([]*tensor.Dense{q})
	if w, _ := e32.Weights(); w[0].Float32s()[0] != 2 {
		t.Errorf("float32 ema %v, want 2", w[0].Float32s()[0])
	}
}

// trainer is a toy run: a quadratic loss so gradients depend on the weights, as in real training.
type trainer struct {
	params []*tensor.Dense
	names  []string
	opt    *AdamW
	ema    *EMA
}

func newTrainer(t *testing.T) *trainer {
	tr := &trainer{names: []string{"w", "b"}}
	tr.params = []*tensor.Dense{
		tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, -1, 0.5, 2, 0, -3})),
		vec64(0.25, -0.75),
	}
	var err error
	if tr.opt, err = NewAdamW(AdamWConfig{LR: 0.05, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.01}, tr.params); err != nil {
		t.Fatal(err)
	}
	if tr.ema, err = NewEMA(0.8, tr.params); err != nil {
		t.Fatal(err)
	}
	return tr
}

func (tr *trainer) step(t *testing.T, k int) {
	w, b := tr.params[0].Float32s(), tr.params[1].Float64s()
	gw, gb := make([]float32, len(w)), make([]float64, len(b))
	for i := range w {
		gw[i] = 2*w[i] - float32(k%3) + 0.1*float32(i) // ∂/∂w of (w − target)², target moving with k
	}
	for i := range b {
		gb[i] = 3*b[i]*b[i] - 1
	}
	grads := []*tensor.Dense{tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(gw)), vec64(gb...)}
	if _, err := ClipGradNorm(grads, 1.5); err != nil {
		t.Fatal(err)
	}
	if err := tr.opt.Step(tr.params, grads); err != nil {
		t.Fatal(err)
	}
	if err := tr.ema.Update(tr.params); err != nil {
		t.Fatal(err)
	}
}

// TestResumeIsExact: 6 steps straight equal 3 steps, a save through ckpt, a load into fresh
// objects, and 3 more steps — to the bit.
func TestResumeIsExact(t *testing.T) {
	straight := newTrainer(t)
	for k := 0; k < 6; k++ {
		straight.step(t, k)
	}

	first := newTrainer(t)
	for k := 0; k < 3; k++ {
		first.step(t, k)
	}
	all := map[string]*tensor.Dense{}
	meta := map[string]string{}
	for i, n := range first.names {
		all[n] = first.params[i]
	}
	ots, ometa, err := first.opt.State(first.names)
	if err != nil {
		t.Fatal(err)
	}
	ets, emeta, err := first.ema.State(first.names)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]*tensor.Dense{ots, ets} {
		for k, v := range m {
			all[k] = v
		}
	}
	for _, m := range []map[string]string{ometa, emeta} {
		for k, v := range m {
			meta[k] = v
		}
	}
	path := filepath.Join(t.TempDir(), "resume.safetensors")
	if err := ckpt.Save(path, all, meta); err != nil {
		t.Fatal(err)
	}

	f, err := ckpt.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	resumed := newTrainer(t) // fresh weights, fresh state: everything must come from the file
	for i, n := range resumed.names {
		copyInto(resumed.params[i], f.Tensors[n])
	}
	if err := resumed.opt.LoadState(resumed.names, f.Tensors, f.Meta); err != nil {
		t.Fatal(err)
	}
	if err := resumed.ema.LoadState(resumed.names, f.Tensors); err != nil {
		t.Fatal(err)
	}
	if resumed.opt.StepCount() != 3 {
		t.Fatalf("resumed at step %d", resumed.opt.StepCount())
	}
	for k := 3; k < 6; k++ {
		resumed.step(t, k)
	}
	same := func(what string, a, b *tensor.Dense) {
		if a.Dtype() == tensor.Float32 {
			for i, v := range a.Float32s() {
				if math.Float32bits(v) != math.Float32bits(b.Float32s()[i]) {
					t.Fatalf("%s[%d]: resumed %v, straight %v", what, i, v, b.Float32s()[i])
				}
			}
			return
		}
		for i, v := range a.Float64s() {
			if math.Float64bits(v) != math.Float64bits(b.Float64s()[i]) {
				t.Fatalf("%s[%d]: resumed %v, straight %v", what, i, v, b.Float64s()[i])
			}
		}
	}
	ew1, _ := resumed.ema.Weights()
	ew2, _ := straight.ema.Weights()
	for i, n := range resumed.names {
		same(n, resumed.params[i], straight.params[i])
		m1, v1 := resumed.opt.Moments(i)
		m2, v2 := straight.opt.Moments(i)
		same("m."+n, m1, m2)
		same("v."+n, v1, v2)
		same("ema."+n, ew1[i], ew2[i])
	}

	// Incomplete state is refused and changes nothing.
	delete(f.Tensors, PrefixV+"b")
	fresh := newTrainer(t)
	if err := fresh.opt.LoadState(fresh.names, f.Tensors, f.Meta); err == nil || !strings.Contains(err.Error(), "optim.v.b") {
		t.Errorf("missing moment: %v", err)
	}
	if fresh.opt.StepCount() != 0 {
		t.Error("failed LoadState changed the step")
	}
	if err := fresh.opt.LoadState(fresh.names, f.Tensors, map[string]string{}); err == nil {
		t.Error("state without step accepted")
	}
}

// TestAgainstPyTorch runs torch.optim.AdamW and clip_grad_norm_ on the same numbers, when
// /usr/bin/python3 has torch (skipped otherwise).
func TestAgainstPyTorch(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skip("no /usr/bin/python3 with torch")
	}
	script := `
import torch
p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64))
opt = torch.optim.AdamW([p], lr=0.03, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
for s in range(5):
    p.grad = torch.tensor([0.1*s - 0.2, 0.5, -0.3*s, 4.0], dtype=torch.float64)
    n = torch.nn.utils.clip_grad_norm_([p], 2.0)
    opt.step()
    print(repr(float(n)), *[repr(float(x)) for x in p.detach()])
`
	out, err := exec.Command(py, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 5 {
		t.Fatalf("python printed %q", out)
	}
	p := vec64(1, -2, 0.5, 3)
	opt, _ := NewAdamW(AdamWConfig{LR: 0.03, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}, []*tensor.Dense{p})
	for s := 0; s < 5; s++ {
		g := vec64(0.1*float64(s)-0.2, 0.5, -0.3*float64(s), 4)
		n, err := ClipGradNorm([]*tensor.Dense{g}, 2)
		if err != nil {
			t.Fatal(err)
		}
		opt.Step([]*tensor.Dense{p}, []*tensor.Dense{g})
		var want []float64
		for _, f := range strings.Fields(lines[s]) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatalf("python line %q", lines[s])
			}
			want = append(want, v)
		}
		near(t, fmt.Sprintf("step %d norm", s), []float64{n}, want[:1], 1e-14)
		near(t, fmt.Sprintf("step %d param", s), p.Float64s(), want[1:], 1e-13)
	}
}
