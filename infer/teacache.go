package infer

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// DefaultTeaDegree is the degree of the rescale polynomial TeaCache fits (4, as the public coefficients).
const DefaultTeaDegree = 4

// relL1 is TeaCache's relative L1 change, mean|cur − prev| / mean|prev|, in float64. It is +Inf when
// prev is all zeros or the lengths differ (no meaningful comparison: the caller must compute).
func relL1(cur, prev []float32) float64 {
	if len(cur) != len(prev) || len(prev) == 0 {
		return math.Inf(1)
	}
	var num, den float64
	for i := range cur {
		num += math.Abs(float64(cur[i]) - float64(prev[i]))
		den += math.Abs(float64(prev[i]))
	}
	if den == 0 {
		return math.Inf(1)
	}
	return num / den
}

// polyval evaluates coeffs (highest power first) at x by Horner's rule.
func polyval(coeffs []float64, x float64) float64 {
	var y float64
	for _, c := range coeffs {
		y = y*x + c
	}
	return y
}

// branchKey names one cache: a prompt's conditional or unconditional pass.
type branchKey struct {
	prompt int
	uncond bool
}

// teaEntry is one branch's TeaCache state.
type teaEntry struct {
	prevMod  []float32 // modulated input of this branch's previous evaluation
	residual []float32 // main-stack residual of its last computed evaluation
	acc      float64   // accumulated rescaled indicator since that computation
}

// teaCache holds a cache per branch, so cond and uncond never reuse each other's residuals.
type teaCache struct {
	thresh float64
	coeffs []float64
	byKey  map[branchKey]*teaEntry
}

func newTeaCache(thresh float64, coeffs []float64) *teaCache {
	return &teaCache{thresh: thresh, coeffs: coeffs, byKey: map[branchKey]*teaEntry{}}
}

// decide updates the branch's indicator with its new modulated input and reports whether the main
// layers must run. force is set on the first and last steps, which always compute.
func (c *teaCache) decide(k branchKey, mod []float32, force bool) bool {
	e := c.byKey[k]
	if e == nil {
		e = &teaEntry{}
		c.byKey[k] = e
	}
	compute := true
	if !force && e.prevMod != nil && e.residual != nil {
		// A non-finite indicator (a zero or re-shaped previous input) cannot justify a skip.
		if inc := polyval(c.coeffs, relL1(mod, e.prevMod)); finite(inc) {
			e.acc += inc
			compute = !(e.acc < c.thresh)
		}
	}
	if compute {
		e.acc = 0
	}
	e.prevMod = append(e.prevMod[:0], mod...)
	return compute
}

// store keeps the residual of a branch's computed evaluation for the skips that follow.
func (c *teaCache) store(k branchKey, r []float32) {
	e := c.byKey[k]
	e.residual = append(e.residual[:0], r...)
}

func (c *teaCache) cached(k branchKey) []float32 { return c.byKey[k].residual }

// CalibPair is one TeaCache calibration point: between two consecutive evaluations of one branch,
// the relative L1 change of the modulated input (In) and of the main-stack residual (Out).
type CalibPair struct {
	Eval   int  // index of the later of the two evaluations
	Prompt int  // which prompt of the request
	Uncond bool // the unconditional branch
	In     float64
	Out    float64
}

// calibRecorder follows each branch's previous modulated input and residual during a full run.
type calibRecorder struct {
	prev  map[branchKey][2][]float32
	pairs []CalibPair
}

func (r *calibRecorder) record(eval int, k branchKey, mod, res []float32) {
	if p, ok := r.prev[k]; ok {
		in, out := relL1(mod, p[0]), relL1(res, p[1])
		if finite(in) && finite(out) {
			r.pairs = append(r.pairs, CalibPair{Eval: eval, Prompt: k.prompt, Uncond: k.uncond, In: in, Out: out})
		}
	}
	r.prev[k] = [2][]float32{append([]float32(nil), mod...), append([]float32(nil), res...)}
}

// FitTeaCache fits TeaCache's rescale polynomial, rel output change ≈ poly(rel input change), by least
// squares over the pairs, and returns its coefficients highest power first (the order Validate and
// the sampler expect). degree ≤ 0 means DefaultTeaDegree.
func FitTeaCache(pairs []CalibPair, degree int) ([]float64, error) {
	if degree <= 0 {
		degree = DefaultTeaDegree
	}
	distinct := map[float64]bool{}
	var scale float64
	for i, p := range pairs {
		if !finite(p.In) || !finite(p.Out) {
			return nil, fmt.Errorf("fit TeaCache: calibration pair %d is not finite (in %v, out %v)", i, p.In, p.Out)
		}
		distinct[p.In] = true
		scale = math.Max(scale, math.Abs(p.In))
	}
	if len(distinct) < degree+1 {
		return nil, fmt.Errorf("fit TeaCache: a degree-%d polynomial needs at least %d distinct input changes, got %d", degree, degree+1, len(distinct))
	}
	// Fitting in u = In/scale keeps the Vandermonde matrix well conditioned (the changes are small
	// numbers, so their fourth powers would be tiny); coefficient k of u maps back as c_k/scale^k.
	n, m := len(pairs), degree+1
	a := mat.NewDense(n, m, nil) // [n, degree+1], column j holds u^(degree−j)
	b := mat.NewVecDense(n, nil) // [n]
	for i, p := range pairs {
		u := p.In / scale
		pow := 1.0
		for j := m - 1; j >= 0; j-- {
			a.Set(i, j, pow)
			pow *= u
		}
		b.SetVec(i, p.Out)
	}
	var c mat.VecDense
	if err := c.SolveVec(a, b); err != nil {
		return nil, fmt.Errorf("fit TeaCache: least squares over %d pairs: %w", n, err)
	}
	out := make([]float64, m)
	for j := range out {
		power := degree - j
		out[j] = c.AtVec(j) / math.Pow(scale, float64(power))
	}
	return out, nil
}
