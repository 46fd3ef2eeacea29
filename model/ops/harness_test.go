package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The test harness runs an op inside a real Gorgonia graph, through G.Grad and a TapeMachine, the way the
// model uses it; gradients are checked against central finite differences of that same graph's cost.

// tin is one graph input: its shape, float64 values and whether the gradient check perturbs it.
type tin struct {
	name  string
	shape []int
	vals  []float64
	diff  bool
}

// graphFn builds the op under test from the input nodes.
type graphFn func(in []*G.Node) (*G.Node, error)

type harness struct {
	g     *G.ExprGraph
	m     G.VM
	dt    tensor.Dtype
	ins   []tin
	nodes []*G.Node
	out   *G.Node
	cost  *G.Node
	grads G.Nodes // gradient node of each differentiable input, in input order
	wrt   []int   // input index of each grads entry
}

func randn(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * rng.NormFloat64()
	}
	return v
}

func prod(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

func castTo(dt tensor.Dtype, v []float64) any {
	if dt == tensor.Float32 {
		return f32s(v)
	}
	return append([]float64(nil), v...)
}

func asF64(v G.Value) []float64 {
	switch t := v.(type) {
	case *G.F64:
		return []float64{float64(*t)}
	case *G.F32:
		return []float64{float64(*t)}
	case *tensor.Dense:
		if t.RequiresIterator() {
			t = t.Materialize().(*tensor.Dense)
		}
		n := t.Shape().TotalSize()
		if t.Shape().IsScalar() {
			n = 1
		}
		out := make([]float64, n)
		if t.Dtype() == tensor.Float32 {
			for i, x := range t.Float32s()[:n] {
				out[i] = float64(x)
			}
		} else {
			copy(out, t.Float64s()[:n])
		}
		return out
	}
	panic(fmt.Sprintf("asF64: unexpected value %T", v))
}

// newHarness builds inputs → f → cost. A scalar output is the cost itself; otherwise the cost is
// Σ out⊙R with a fixed random R, so that every output element carries a different weight. withGrad adds
// that cost and G.Grad w.r.t. the inputs marked diff.
func newHarness(dt tensor.Dtype, ins []tin, f graphFn, withGrad bool) (*harness, error) {
	h := &harness{g: G.NewGraph(), dt: dt, ins: ins}
	for _, in := range ins {
		if len(in.vals) != prod(in.shape) {
			return nil, fmt.Errorf("input %s: %d values for shape %v", in.name, len(in.vals), in.shape)
		}
		t := tensor.New(tensor.WithShape(in.shape...), tensor.WithBacking(castTo(dt, in.vals)))
		h.nodes = append(h.nodes, G.NewTensor(h.g, dt, len(in.shape), G.WithShape(in.shape...), G.WithName(in.name), G.WithValue(t)))
	}
	out, err := f(h.nodes)
	if err != nil {
		return nil, err
	}
	h.out = out
	h.cost = out
	// Without gradients the output is read back, so no cost is added: stock HadamardProd would overwrite
	// the output in place (its register is dead after it).
	if !out.IsScalar() && withGrad {
		r := randn(rand.New(rand.NewPCG(7, 7)), out.Shape().TotalSize(), 1)
		rt := tensor.New(tensor.WithShape(out.Shape().Clone()...), tensor.WithBacking(castTo(dt, r)))
		rn := G.NewTensor(h.g, dt, out.Dims(), G.WithShape(out.Shape().Clone()...), G.WithName("R"), G.WithValue(rt))
		prod, err := G.HadamardProd(out, rn)
		if err != nil {
			return nil, err
		}
		if h.cost, err = G.Sum(prod); err != nil {
			return nil, err
		}
	}
	if withGrad {
		var wrt G.Nodes
		for i, in := range ins {
			if in.diff {
				wrt = append(wrt, h.nodes[i])
				h.wrt = append(h.wrt, i)
			}
		}
		if h.grads, err = G.Grad(h.cost, wrt...); err != nil {
			return nil, fmt.Errorf("grad: %w", err)
		}
	}
	h.m = G.NewTapeMachine(h.g)
	return h, nil
}

func (h *harness) run() error {
	h.m.Reset()
	return h.m.RunAll()
}

func (h *harness) costValue() float64 { return asF64(h.cost.Value())[0] }

// set changes element j of input i in place (the machine reads the bound tensor on every run).
func (h *harness) set(i, j int, v float64) {
	t := h.nodes[i].Value().(*tensor.Dense)
	if h.dt == tensor.Float32 {
		t.Float32s()[j] = float32(v)
	} else {
		t.Float64s()[j] = v
	}
}

// gradReport is the worst disagreement between analytic and finite-difference gradients.
type gradReport struct {
	worst           float64 // max |a−n| / (|a| + |n| + floor)
	where           string
	checked         int
	analyticNonzero bool
}

// checkGrads compares every differentiable input's analytic gradient with central differences, on up
// to maxPer elements of each input (a seeded random subset when larger).
func checkGrads(dt tensor.Dtype, ins []tin, f graphFn, maxPer int) (gradReport, error) {
	var rep gradReport
	h, err := newHarness(dt, ins, f, true)
	if err != nil {
		return rep, err
	}
	defer h.m.Close()
	if err := h.run(); err != nil {
		return rep, err
	}
	analytic := make([][]float64, len(h.grads))
	for k, gn := range h.grads {
		analytic[k] = asF64(gn.Value())
	}
	const step = 1e-5
	rng := rand.New(rand.NewPCG(3, 11))
	for k, i := range h.wrt {
		in := ins[i]
		idx := make([]int, len(in.vals))
		for j := range idx {
			idx[j] = j
		}
		if len(idx) > maxPer {
			rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
			idx = idx[:maxPer]
		}
		scale := 0.0
		for _, a := range analytic[k] {
			scale = math.Max(scale, math.Abs(a))
		}
		if len(analytic[k]) != len(in.vals) {
			return rep, fmt.Errorf("gradient of %s has %d elements, want %d", in.name, len(analytic[k]), len(in.vals))
		}
		for _, j := range idx {
			x := in.vals[j]
			h.set(i, j, x+step)
			if err := h.run(); err != nil {
				return rep, err
			}
			cp := h.costValue()
			h.set(i, j, x-step)
			if err := h.run(); err != nil {
				return rep, err
			}
			cm := h.costValue()
			h.set(i, j, x)
			num := (cp - cm) / (2 * step)
			a := analytic[k][j]
			if a != 0 {
				rep.analyticNonzero = true
			}
			// The floor, 1e-4 of the largest gradient, absorbs the O(step²) truncation error of central
			// differences on near-zero gradients (≈1e-10 here).
			rel := math.Abs(a-num) / (math.Abs(a) + math.Abs(num) + 1e-4*math.Max(scale, 1e-3))
			rep.checked++
			if rel > rep.worst || math.IsNaN(rel) {
				rep.worst = rel
				rep.where = fmt.Sprintf("d/d%s[%d]: analytic %.10g, numeric %.10g", in.name, j, a, num)
			}
		}
	}
	return rep, nil
}

// requireGrads runs checkGrads in float64 and fails above tol.
func requireGrads(t *testing.T, ins []tin, f graphFn, maxPer int, tol float64) {
	t.Helper()
	rep, err := checkGrads(tensor.Float64, ins, f, maxPer)
	if err != nil {
		t.Fatal(err)
	}
	if rep.checked == 0 || !rep.analyticNonzero {
		t.Fatalf("gradient check did nothing: %d elements checked, analytic all zero = %t", rep.checked, !rep.analyticNonzero)
	}
	if rep.worst > tol || math.IsNaN(rep.worst) {
		t.Fatalf("gradient mismatch %.3g > %.3g at %s", rep.worst, tol, rep.where)
	}
	t.Logf("%d gradient elements, worst relative error %.2g", rep.checked, rep.worst)
}

// forwardOf runs the graph once (no gradient) in dtype dt and returns the op's output.
func forwardOf(t *testing.T, dt tensor.Dtype, ins []tin, f graphFn) ([]float64, tensor.Shape) {
	t.Helper()
	h, err := newHarness(dt, ins, f, false)
	if err != nil {
		t.Fatal(err)
	}
	defer h.m.Close()
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	return asF64(h.out.Value()), h.out.Shape().Clone()
}

// requireClose fails when max|got−want| / max(max|want|, floor) exceeds tol.
func requireClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	if d := relDiff(got, want, 1e-3); d > tol || math.IsNaN(d) {
		t.Fatalf("%s: max relative difference %.3g > %.3g", what, d, tol)
	}
}

// checkForward runs f in float64 against a reference, and in float32 against float64.
func checkForward(t *testing.T, ins []tin, f graphFn, want []float64, wantShape tensor.Shape) {
	t.Helper()
	got64, s := forwardOf(t, tensor.Float64, ins, f)
	if !s.Eq(wantShape) {
		t.Fatalf("output shape %v, want %v", s, wantShape)
	}
	requireClose(t, "float64 forward vs reference", got64, want, 1e-12)
	got32, _ := forwardOf(t, tensor.Float32, ins, f)
	requireClose(t, "float32 forward vs float64", got32, got64, 1e-5)
}

func f32s(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

// relDiff is max|a−b| / max(max|b|, floor).
func relDiff(a, b []float64, floor float64) float64 {
	num, den := 0.0, floor
	for i := range a {
		num = math.Max(num, math.Abs(a[i]-b[i]))
		den = math.Max(den, math.Abs(b[i]))
	}
	return num / den
}
