package infer

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

var testShape = [3]int{2, 3, 4}

func opts(solver string, steps int) SampleOptions {
	o := DefaultSampleOptions()
	o.Solver = solver
	o.Steps = steps
	return o
}

func mustSample(t *testing.T, g *gaussFlow, req Request, o SampleOptions) *Result {
	t.Helper()
	res, err := Sample(context.Background(), g, req, o)
	if err != nil {
		t.Fatalf("sample %+v: %v", o, err)
	}
	return res
}

// rmsErr is the RMS over all values of got − want, in float64.
func rmsErr(got []float32, want []float64) float64 {
	var e float64
	for j := range want {
		d := float64(got[j]) - want[j]
		e += d * d
	}
	return math.Sqrt(e / float64(len(want)))
}

// slope is the least-squares slope of log(err) against log(steps).
func slope(steps []int, errs []float64) float64 {
	var sx, sy, sxx, sxy float64
	for i := range steps {
		x, y := math.Log(float64(steps[i])), math.Log(errs[i])
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	n := float64(len(steps))
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// endpointErrors samples the unguided Gaussian flow at each N and returns the solver steps and the
// RMS endpoint error against the exact ODE solution from the same starting latent.
func endpointErrors(t *testing.T, solver string, shift float64, ns []int, field func(x, t float64, j int) float64, exact func(x0 []float32, t0 float64) []float64) ([]int, []float64) {
	t.Helper()
	var steps []int
	var errs []float64
	for _, n := range ns {
		g := newGaussFlow(testShape)
		g.field = field
		o := opts(solver, n)
		o.CFG = 1
		o.Shift = shift
		noise := InitialNoise(11, 1, g.n)
		res := mustSample(t, g, Request{Prompts: []string{"a red circle"}, Shape: testShape, Noise: noise}, o)
		// FDPM starts at σ = shift(0.999), not at pure noise; the exact solution starts there too.
		t0 := 0.0
		if solver == SolverFDPM {
			t0 = 1 - SigmaGrid(n, shift)[0]
		}
		var want []float64
		if exact != nil {
			want = exact(noise[0], t0)
		} else {
			want = g.exactEndpoint(noise[0], t0, g.muC)
		}
		if res.NFE != o.NFE() {
			t.Fatalf("%s N=%d: NFE %d, want %d", solver, n, res.NFE, o.NFE())
		}
		st := n - 1
		if solver == SolverFDPM {
			st = n
		}
		steps = append(steps, st)
		errs = append(errs, rmsErr(res.Images[0], want))
	}
	return steps, errs
}

func TestConvergenceSlopes(t *testing.T) {
	cases := []struct {
		solver   string
		shift    float64
		ns       []int
		min, max float64
	}{
		// Euler is first order.
		{SolverEuler, 3, []int{9, 17, 33, 65, 129}, -1.15, -0.85},
		// Midpoint is at least second order; on this Gaussian flow it is superconvergent (≈ −3, also
		// in float64 outside this code), so the window is wide; the generic ODE below pins order 2.
		{SolverMidpoint, 3, []int{9, 17, 33, 65}, -3.5, -1.8},
		// FDPM is second order; with the σ grid starting at 0.999 its first, first-order step spans
		// h = log(1 + 999/N) in λ, so the asymptotic slope is only approached slowly.
		{SolverFDPM, 1, []int{32, 64, 128, 256}, -2.3, -1.5},
		{SolverFDPM, 3, []int{64, 128, 256}, -2.3, -1.4},
	}
	for _, c := range cases {
		steps, errs := endpointErrors(t, c.solver, c.shift, c.ns, nil, nil)
		sl := slope(steps, errs)
		t.Logf("%-8s shift %g steps %v errors %.3e slope %.3f", c.solver, c.shift, steps, errs, sl)
		if sl < c.min || sl > c.max {
			t.Errorf("%s shift %g: log-log slope %.3f outside [%g, %g] (errors %v)", c.solver, c.shift, sl, c.min, c.max, errs)
		}
		for i := 1; i < len(errs); i++ {
			if !(errs[i] < errs[i-1]) {
				t.Errorf("%s: error did not fall from N=%d to N=%d: %v", c.solver, c.ns[i-1], c.ns[i], errs)
			}
		}
	}
}

// TestMidpointSecondOrderGenericODE checks the midpoint rule's order on a field where it is not
// superconvergent: dx/dt = (1 + t)·x + cos(3t + j) in dimension j. Its closed form needs an error
// function, so the reference is RK4 in float64 with 4096 steps (error far below float32's).
func TestMidpointSecondOrderGenericODE(t *testing.T) {
	field := func(x, t float64, j int) float64 { return (1+t)*x + math.Cos(3*t+float64(j)) }
	exact := func(x0 []float32, t0 float64) []float64 {
		out := make([]float64, len(x0))
		const m = 4096
		for j := range x0 {
			f := func(x, t float64) float64 { return field(x, t, j) }
			x, h := float64(x0[j]), (1-t0)/m
			for i := 0; i < m; i++ {
				tt := t0 + float64(i)*h
				k1 := f(x, tt)
				k2 := f(x+h/2*k1, tt+h/2)
				k3 := f(x+h/2*k2, tt+h/2)
				k4 := f(x+h*k3, tt+h)
				x += h / 6 * (k1 + 2*k2 + 2*k3 + k4)
			}
			out[j] = x
		}
		return out
	}
	for _, c := range []struct {
		solver   string
		min, max float64
	}{{SolverEuler, -1.15, -0.85}, {SolverMidpoint, -2.2, -1.8}} {
		steps, errs := endpointErrors(t, c.solver, 1, []int{9, 17, 33, 65, 129}, field, exact)
		sl := slope(steps, errs)
		t.Logf("generic ODE %-8s steps %v errors %.3e slope %.3f", c.solver, steps, errs, sl)
		if sl < c.min || sl > c.max {
			t.Errorf("%s on the generic ODE: slope %.3f outside [%g, %g]", c.solver, sl, c.min, c.max)
		}
	}
}

func TestGrids(t *testing.T) {
	g := TimeGrid(5, 3)
	// t = 0.25 → 0.25 / (0.25 + 3 − 0.75) = 0.1; t = 0.5 → 0.5/2 = 0.25; ends fixed.
	want := []float64{0, 0.1, 0.25, 0.75 / 1.5, 1}
	for i := range want {
		if math.Abs(g[i]-want[i]) > 1e-15 {
			t.Errorf("TimeGrid(5, 3)[%d] = %v, want %v", i, g[i], want[i])
		}
	}
	sg := SigmaGrid(4, 3)
	if len(sg) != 5 || sg[4] != 0 {
		t.Fatalf("SigmaGrid(4, 3) = %v: want 5 points ending at 0", sg)
	}
	if w := 3 * 0.999 / (1 + 2*0.999); math.Abs(sg[0]-w) > 1e-15 {
		t.Errorf("SigmaGrid first σ %v, want shift(0.999) = %v", sg[0], w)
	}
	for i := 1; i < len(sg); i++ {
		if !(sg[i] < sg[i-1]) {
			t.Errorf("SigmaGrid not decreasing: %v", sg)
		}
	}
}

func TestGuideRenorm(t *testing.T) {
	vc := []float32{3, 4} // ‖v_c‖ = 5
	vu := []float32{0, 0}
	// w = 4: v = (12, 16), ‖v‖ = 20.
	cases := []struct {
		r    float64
		want []float32
	}{
		{0, []float32{12, 16}},   // off
		{1, []float32{3, 4}},     // clamp to 5
		{2, []float32{6, 8}},     // clamp to 10
		{4, []float32{12, 16}},   // m = 20 = ‖v‖: the clamp factor is exactly 1
		{5, []float32{12, 16}},   // m = 25 > 20: never enlarged
		{100, []float32{12, 16}}, // never enlarged
	}
	for _, c := range cases {
		got := Guide(vc, vu, 4, c.r)
		for i := range got {
			if math.Abs(float64(got[i]-c.want[i])) > 1e-6 {
				t.Errorf("Guide r=%v = %v, want %v", c.r, got, c.want)
				break
			}
		}
	}
	// Random vectors: ‖out‖ = min(‖v‖, r·‖v_c‖) and the direction is v's.
	noise := InitialNoise(3, 40, 50)
	for k := 0; k+1 < len(noise); k += 2 {
		a, b := noise[k], noise[k+1]
		w, r := 0.5+float64(k)/4, 0.3+float64(k)/20
		plain := Guide(a, b, w, 0)
		got := Guide(a, b, w, r)
		nv, nc := norm2(plain), norm2(a)
		want := math.Min(nv, r*nc)
		if math.Abs(norm2(got)-want) > 1e-5*want {
			t.Errorf("w=%v r=%v: ‖v‖ %v, want min(%v, %v)", w, r, norm2(got), nv, r*nc)
		}
		var dot float64
		for i := range got {
			dot += float64(got[i]) * float64(plain[i])
		}
		if math.Abs(dot/(norm2(got)*nv)-1) > 1e-6 {
			t.Errorf("w=%v r=%v: renorm changed the direction (cos %v)", w, r, dot/(norm2(got)*nv))
		}
		if norm2(got) > nv*(1+1e-6) {
			t.Errorf("renorm enlarged v: %v > %v", norm2(got), nv)
		}
	}
	// CFG itself: v_u + w(v_c − v_u), by hand.
	g := Guide([]float32{1, 2}, []float32{3, -1}, 2.5, 0)
	if g[0] != 3+2.5*(1-3) || g[1] != -1+2.5*(2+1) {
		t.Errorf("Guide = %v, want [-2 6.5]", g)
	}
}

// TestSamplerGuidancePerSample runs one Euler step for two prompts and checks it against the
// velocities computed by hand, renormalised per sample (a batch-wide norm would give other factors).
func TestSamplerGuidancePerSample(t *testing.T) {
	g := newGaussFlow(testShape)
	o := opts(SolverEuler, 2)
	o.Shift = 1
	o.CFG = 4
	o.Renorm = 1.3
	noise := InitialNoise(5, 2, g.n)
	noise[1] = append([]float32(nil), noise[1]...)
	for j := range noise[1] {
		noise[1][j] *= 3 // different norms, so the two clamp factors differ
	}
	res := mustSample(t, g, Request{Prompts: []string{"p0", "p1"}, Shape: testShape, Noise: noise}, o)
	if !slices.Equal(g.batches, []int{4}) {
		t.Fatalf("batches %v, want one forward of 4 (cond and uncond of 2 prompts)", g.batches)
	}
	var factors []float64
	for p := 0; p < 2; p++ {
		vc, vu := make([]float64, g.n), make([]float64, g.n)
		var nc, nv float64
		v := make([]float64, g.n)
		for j := range vc {
			x := float64(noise[p][j])
			vc[j] = exactVelocity(x, 0, g.muC[j], g.sd[j])
			vu[j] = exactVelocity(x, 0, g.muU[j], g.sd[j])
			v[j] = vu[j] + 4*(vc[j]-vu[j])
			nc += vc[j] * vc[j]
			nv += v[j] * v[j]
		}
		f := math.Min(1, 1.3*math.Sqrt(nc)/math.Sqrt(nv))
		factors = append(factors, f)
		for j := range v {
			want := float64(noise[p][j]) + v[j]*f // dt = 1
			if d := math.Abs(float64(res.Images[p][j]) - want); d > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("prompt %d value %d: %v, want %v", p, j, res.Images[p][j], want)
			}
		}
	}
	if math.Abs(factors[0]-factors[1]) < 1e-3 {
		t.Fatalf("test is blind: both prompts have clamp factor %v", factors)
	}
	t.Logf("per-sample renorm factors %v", factors)
}

func TestTrunc(t *testing.T) {
	for _, solver := range Solvers {
		g := newGaussFlow(testShape)
		o := opts(solver, 10)
		o.Shift = 2
		o.Trunc = 0.5
		res := mustSample(t, g, Request{Prompts: []string{"a"}, Shape: testShape}, o)
		if res.NFE != o.NFE() || len(g.batches) != o.NFE() {
			t.Fatalf("%s: NFE %d (denoiser saw %d forwards), want %d", solver, res.NFE, len(g.batches), o.NFE())
		}
		forwards, twos := 0, 0
		for k, b := range g.batches {
			want := 1
			if float64(g.times[k]) < 0.5 {
				want = 2
				twos++
			}
			if b != want {
				t.Errorf("%s: forward %d at t=%v had batch %d, want %d", solver, k, g.times[k], b, want)
			}
			forwards += b
		}
		if twos == 0 || twos == len(g.batches) {
			t.Errorf("%s: trunc test is blind: %d of %d forwards guided", solver, twos, len(g.batches))
		}
		if res.Forwards != forwards {
			t.Errorf("%s: Forwards %d, denoiser saw %d samples", solver, res.Forwards, forwards)
		}
		var fromSteps []int
		for _, s := range res.Steps {
			fromSteps = append(fromSteps, s.Batch...)
		}
		if !slices.Equal(fromSteps, g.batches) {
			t.Errorf("%s: per-step batches %v, denoiser saw %v", solver, fromSteps, g.batches)
		}
		t.Logf("%s trunc 0.5: batches %v (NFE %d, %d samples forwarded instead of %d)", solver, g.batches, res.NFE, forwards, 2*res.NFE)
	}
	// The switch's ends: trunc 1 always guides, trunc 0 never, CFG 1 never.
	for _, c := range []struct {
		trunc, cfg float64
		batch      int
	}{{1, 4, 2}, {0, 4, 1}, {1, 1, 1}} {
		g := newGaussFlow(testShape)
		o := opts(SolverEuler, 6)
		o.Trunc, o.CFG = c.trunc, c.cfg
		mustSample(t, g, Request{Prompts: []string{"a"}, Shape: testShape}, o)
		for _, b := range g.batches {
			if b != c.batch {
				t.Errorf("trunc %v cfg %v: batches %v, want all %d", c.trunc, c.cfg, g.batches, c.batch)
				break
			}
		}
	}
}

func teaOpts(solver string, steps int, thresh float64, coeffs []float64) SampleOptions {
	o := opts(solver, steps)
	o.TeaCache = thresh
	o.TeaCoeffs = coeffs
	return o
}

// identityPoly makes the accumulated indicator the plain sum of relative changes.
var identityPoly = []float64{1, 0}

func TestTeaCacheNoSkipIsBitIdentical(t *testing.T) {
	for _, solver := range Solvers {
		req := Request{Prompts: []string{"a", "b"}, Shape: testShape}
		plain := mustSample(t, newGaussFlow(testShape), req, opts(solver, 12))
		// Threshold 0 is off.
		off := mustSample(t, newGaussFlow(testShape), req, teaOpts(solver, 12, 0, identityPoly))
		// A threshold below every indicator runs the whole cache machinery and never skips.
		g := newGaussFlow(testShape)
		on := mustSample(t, g, req, teaOpts(solver, 12, 1e-12, identityPoly))
		if on.MainSkipped != 0 || on.MainComputed != on.Forwards {
			t.Fatalf("%s: threshold 1e-12 skipped %d main stacks", solver, on.MainSkipped)
		}
		if g.mods[1][0] == nil {
			t.Fatalf("%s: the cache never asked for the modulated input", solver)
		}
		for p := range plain.Images {
			if !slices.Equal(plain.Images[p], off.Images[p]) || !slices.Equal(plain.Images[p], on.Images[p]) {
				t.Errorf("%s: prompt %d differs with an inactive TeaCache", solver, p)
			}
		}
	}
}

// checkFirstLastComputed asserts that every forward of the first and last solver steps ran the main
// layers for every sample.
func checkFirstLastComputed(t *testing.T, label string, g *gaussFlow, res *Result) {
	t.Helper()
	first := len(res.Steps[0].Batch)
	last := len(res.Steps[len(res.Steps)-1].Batch)
	for k := range g.batches {
		if k >= first && k < len(g.batches)-last {
			continue
		}
		if len(g.mainRuns[k]) != g.batches[k] {
			t.Errorf("%s: forward %d (first or last step) ran main for %v of %d samples", label, k, g.mainRuns[k], g.batches[k])
		}
	}
}

func TestTeaCacheSkipsGrowWithThreshold(t *testing.T) {
	for _, solver := range Solvers {
		prev := -1
		var counts []int
		for _, th := range []float64{0.001, 0.01, 0.03, 0.1, 0.3, 1, 3} {
			g := newGaussFlow(testShape)
			o := teaOpts(solver, 20, th, identityPoly)
			res := mustSample(t, g, Request{Prompts: []string{"a"}, Shape: testShape}, o)
			if res.MainSkipped+res.MainComputed != res.Forwards {
				t.Errorf("%s %v: skipped %d + computed %d ≠ forwarded %d", solver, th, res.MainSkipped, res.MainComputed, res.Forwards)
			}
			checkFirstLastComputed(t, solver, g, res)
			if res.MainSkipped < prev {
				t.Errorf("%s: skips fell from %d to %d as the threshold rose to %v", solver, prev, res.MainSkipped, th)
			}
			prev = res.MainSkipped
			counts = append(counts, res.MainSkipped)
			for _, im := range res.Images {
				for _, v := range im {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("%s %v: non-finite output", solver, th)
					}
				}
			}
		}
		if counts[0] != 0 && counts[len(counts)-1] <= counts[0] {
			t.Errorf("%s: skips did not grow: %v", solver, counts)
		}
		if counts[len(counts)-1] == 0 {
			t.Errorf("%s: no skips even at threshold 3: %v", solver, counts)
		}
		t.Logf("%s skipped main stacks by threshold: %v", solver, counts)
	}
}

func TestTeaCacheSeparateBranchCaches(t *testing.T) {
	g := newGaussFlow(testShape)
	g.frozenUncond = true
	o := teaOpts(SolverEuler, 10, 1e-3, identityPoly)
	res := mustSample(t, g, Request{Prompts: []string{"a"}, Shape: testShape}, o)
	last := len(g.batches) - 1
	for k, run := range g.mainRuns {
		want := []int{0} // the conditional sample changes every step, the unconditional one never
		if k == 0 || k == last {
			want = []int{0, 1}
		}
		if !slices.Equal(run, want) {
			t.Errorf("forward %d ran main for %v, want %v", k, run, want)
		}
	}
	if res.MainSkipped != len(g.batches)-2 {
		t.Errorf("skipped %d, want %d (every unconditional pass but the first and last)", res.MainSkipped, len(g.batches)-2)
	}
}

// TestTeaCacheReusesResidual freezes every modulated input, so the middle forwards reuse the first
// forward's residual; the Euler result then follows by hand.
func TestTeaCacheReusesResidual(t *testing.T) {
	g := newGaussFlow(testShape)
	g.frozenAll = true
	o := teaOpts(SolverEuler, 6, 0.5, identityPoly)
	o.CFG = 1
	o.Shift = 2
	noise := InitialNoise(9, 1, g.n)
	res := mustSample(t, g, Request{Prompts: []string{"a"}, Shape: testShape, Noise: noise}, o)
	if res.MainSkipped != 3 {
		t.Fatalf("skipped %d of 5 forwards, want 3", res.MainSkipped)
	}
	grid := TimeGrid(6, 2)
	x := slices.Clone(noise[0])
	var r0 []float64
	for i := 0; i < 5; i++ {
		v := make([]float64, g.n)
		for j := range v {
			v[j] = exactVelocity(float64(x[j]), grid[i], g.muC[j], g.sd[j])
		}
		if i == 0 {
			r0 = v
		} else if i < 4 {
			v = r0 // the cached residual of forward 0
		}
		for j := range x {
			x[j] += float32(grid[i+1]-grid[i]) * float32(v[j])
		}
	}
	for j := range x {
		if d := math.Abs(float64(res.Images[0][j] - x[j])); d > 1e-5 {
			t.Fatalf("value %d: %v, hand-computed with the cached residual %v", j, res.Images[0][j], x[j])
		}
	}
}

func TestAllAccelerationsCombined(t *testing.T) {
	for _, solver := range Solvers {
		g := newGaussFlow(testShape)
		o := teaOpts(solver, 16, 0.2, identityPoly)
		o.CFG, o.Renorm, o.Trunc = 6, 1, 0.6
		res := mustSample(t, g, Request{Prompts: []string{"a", "b"}, Shape: testShape}, o)
		if res.NFE != o.NFE() || res.MainSkipped == 0 || res.Forwards >= 4*res.NFE || res.MainSkipped+res.MainComputed != res.Forwards {
			t.Errorf("%s: NFE %d forwards %d computed %d skipped %d", solver, res.NFE, res.Forwards, res.MainComputed, res.MainSkipped)
		}
		checkFirstLastComputed(t, solver, g, res)
		t.Logf("%s cfg+renorm+trunc+teacache: NFE %d, %d samples forwarded of %d, %d main stacks skipped",
			solver, res.NFE, res.Forwards, 4*res.NFE, res.MainSkipped)
	}
}

func TestDeterminism(t *testing.T) {
	o := teaOpts(SolverMidpoint, 8, 0.1, identityPoly)
	o.Trunc, o.Seed = 0.5, 42
	req := Request{Prompts: []string{"a", "b"}, Shape: testShape}
	a := mustSample(t, newGaussFlow(testShape), req, o)
	b := mustSample(t, newGaussFlow(testShape), req, o)
	for p := range a.Images {
		if !slices.Equal(a.Images[p], b.Images[p]) {
			t.Errorf("prompt %d: same seed, different output", p)
		}
	}
	o.Seed = 43
	c := mustSample(t, newGaussFlow(testShape), req, o)
	if slices.Equal(a.Images[0], c.Images[0]) {
		t.Error("seeds 42 and 43 gave the same image")
	}
	// A prompt's noise does not depend on how many prompts share the request.
	if !slices.Equal(InitialNoise(42, 3, 10)[1], InitialNoise(42, 2, 10)[1]) {
		t.Error("noise of prompt 1 depends on the prompt count")
	}
	// And it is standard Gaussian.
	x := InitialNoise(1, 1, 20000)[0]
	var m, v float64
	for _, e := range x {
		m += float64(e)
	}
	m /= float64(len(x))
	for _, e := range x {
		v += (float64(e) - m) * (float64(e) - m)
	}
	v /= float64(len(x))
	if math.Abs(m) > 0.03 || math.Abs(v-1) > 0.04 {
		t.Errorf("noise mean %v variance %v, want 0 and 1", m, v)
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultSampleOptions().Validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	nan := math.NaN()
	cases := []struct {
		mod  func(*SampleOptions)
		want string
	}{
		{func(o *SampleOptions) { o.Steps = 1 }, "--steps must be an integer in 2..1000, got 1"},
		{func(o *SampleOptions) { o.Steps = 1000000 }, "--steps must be an integer in 2..1000, got 1000000"},
		{func(o *SampleOptions) { o.CFG = -1 }, "--cfg must be a number in [0, 50]"},
		{func(o *SampleOptions) { o.CFG = nan }, "--cfg must be a number in [0, 50] (1 = no guidance), got NaN"},
		{func(o *SampleOptions) { o.CFG = math.Inf(1) }, "--cfg must be a number in [0, 50]"},
		{func(o *SampleOptions) { o.CFG = 1e308 }, "--cfg must be a number in [0, 50] (1 = no guidance), got 1e+308"},
		{func(o *SampleOptions) { o.Solver = "heun" }, `--solver must be one of euler, midpoint, fdpm, got "heun"`},
		{func(o *SampleOptions) { o.Shift = 0 }, "--shift must be a number in (0, 20], got 0"},
		{func(o *SampleOptions) { o.Shift = nan }, "--shift must be a number in (0, 20]"},
		{func(o *SampleOptions) { o.Shift = 1e9 }, "--shift must be a number in (0, 20], got 1e+09"},
		{func(o *SampleOptions) { o.Renorm = -0.5 }, "--renorm must be a number in [0, 10] (0 = off), got -0.5"},
		{func(o *SampleOptions) { o.Renorm = 1e300 }, "--renorm must be a number in [0, 10]"},
		{func(o *SampleOptions) { o.Trunc = 1.5 }, "--trunc must be a number in [0, 1] (1 = off), got 1.5"},
		{func(o *SampleOptions) { o.Trunc = -0.1 }, "--trunc must be a number in [0, 1]"},
		{func(o *SampleOptions) { o.Trunc = nan }, "--trunc must be a number in [0, 1]"},
		{func(o *SampleOptions) { o.TeaCache = -1 }, "--teacache must be a number in [0, 5] (0 = off), got -1"},
		{func(o *SampleOptions) { o.TeaCache, o.TeaCoeffs = 6, []float64{1, 0} }, "--teacache must be a number in [0, 5] (0 = off), got 6"},
		{func(o *SampleOptions) { o.TeaCache = 0.3 }, "--teacache 0.3 needs the model's TeaCache coefficients"},
		{func(o *SampleOptions) { o.TeaCache, o.TeaCoeffs = 0.3, []float64{1, nan} }, "coefficient 1 of the rescale polynomial is NaN"},
	}
	for _, c := range cases {
		o := DefaultSampleOptions()
		c.mod(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error containing %q", o, err, c.want)
		}
		// Sample refuses the same options before touching the denoiser.
		g := newGaussFlow(testShape)
		if _, err := Sample(context.Background(), g, Request{Prompts: []string{"a"}, Shape: testShape}, o); err == nil || len(g.batches) != 0 {
			t.Errorf("Sample ran with bad options %+v (err %v)", o, err)
		}
	}
	// Every bad flag is reported at once.
	o := SampleOptions{Steps: 0, CFG: -1, Solver: "x", Shift: -1, Renorm: -1, Trunc: 2, TeaCache: -1}
	msg := o.Validate().Error()
	for _, f := range []string{"--steps", "--cfg", "--solver", "--shift", "--renorm", "--trunc", "--teacache"} {
		if !strings.Contains(msg, f) {
			t.Errorf("joined error misses %s: %s", f, msg)
		}
	}
}

// badDenoiser returns a velocity of the wrong length.
type badDenoiser struct{ *gaussFlow }

func (b badDenoiser) Finish(s State) ([]float32, error) {
	out, err := b.gaussFlow.Finish(s)
	return out[:len(out)-1], err
}

func TestSampleErrors(t *testing.T) {
	g := newGaussFlow(testShape)
	o := opts(SolverEuler, 4)
	ok := Request{Prompts: []string{"a"}, Shape: testShape}
	for _, c := range []struct {
		d    Denoiser
		req  Request
		want string
	}{
		{g, Request{Shape: testShape}, "no prompts"},
		{g, Request{Prompts: []string{"a"}, Shape: [3]int{0, 3, 4}}, "must be positive"},
		{g, Request{Prompts: []string{"a", "b"}, Shape: testShape, Noise: InitialNoise(1, 1, 24)}, "1 starting latents for 2 prompts"},
		{g, Request{Prompts: []string{"a"}, Shape: testShape, Noise: InitialNoise(1, 1, 23)}, "has 23 values, want 24"},
		{badDenoiser{newGaussFlow(testShape)}, ok, "denoiser returned 47 values, want 48"},
	} {
		_, err := Sample(context.Background(), c.d, c.req, o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Sample(ctx, g, ok, o); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	// OnStep sees every step, in order.
	var seen []int
	req := ok
	req.OnStep = func(s StepInfo) { seen = append(seen, s.Step) }
	mustSample(t, newGaussFlow(testShape), req, o)
	if !slices.Equal(seen, []int{0, 1, 2}) {
		t.Errorf("OnStep saw steps %v, want [0 1 2]", seen)
	}
}

// BenchmarkSamplerOverhead times whole runs on the analytic denoiser at the workbench's default
// settings on a 16×32×32 latent; its float64 velocity dominates, so the TeaCache case mostly shows
// the main stacks it skips, not the sampler's bookkeeping.
func BenchmarkSamplerOverhead(b *testing.B) {
	shape := [3]int{16, 32, 32}
	for _, tea := range []float64{0, 0.2} {
		name := "teacache-off"
		if tea > 0 {
			name = "teacache-0.2"
		}
		b.Run(name, func(b *testing.B) {
			o := teaOpts(SolverEuler, 30, tea, identityPoly)
			for b.Loop() {
				if _, err := Sample(context.Background(), newGaussFlow(shape), Request{Prompts: []string{"a"}, Shape: shape}, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// constVel is a denoiser whose velocity is vel(t, uncond) everywhere, whatever the latent.
type constVel struct {
	n   int
	vel func(t float32, uncond bool) float32
}

type constState struct {
	t     float32
	conds []Cond
}

func (c constVel) Begin(_ []float32, _ [4]int, t []float32, cond []Cond) (State, error) {
	return constState{t[0], cond}, nil
}
func (constVel) Modulated(State, int) ([]float32, error)   { return nil, errors.New("not used") }
func (constVel) Main(State, []int) error                   { return nil }
func (constVel) Residual(State, int) ([]float32, error)    { return nil, errors.New("not used") }
func (constVel) ApplyResidual(State, int, []float32) error { return errors.New("not used") }
func (c constVel) Finish(s State) ([]float32, error) {
	st := s.(constState)
	out := make([]float32, len(st.conds)*c.n)
	for i, cd := range st.conds {
		for j := 0; j < c.n; j++ {
			out[i*c.n+j] = c.vel(st.t, cd.Text == "")
		}
	}
	return out, nil
}

// TestSampleStopsOnNonFinite: a NaN or ±Inf velocity or latent ends sampling with an error naming the
// step, instead of a black image; valid options cannot rule it out (CFG 50 on large velocities).
func TestSampleStopsOnNonFinite(t *testing.T) {
	n := testShape[0] * testShape[1] * testShape[2]
	big := make([]float32, n)
	for i := range big {
		big[i] = 3e38
	}
	o := DefaultSampleOptions()
	o.Steps, o.Shift, o.CFG, o.Renorm = 5, 1, 1, 0 // t = 0, 0.25, 0.5, 0.75: four Euler steps
	guided := o
	guided.CFG = MaxCFG
	for _, c := range []struct {
		name  string
		vel   func(t float32, uncond bool) float32
		opts  SampleOptions
		noise [][]float32
		want  string
	}{
		{"NaN from the model", func(t float32, _ bool) float32 {
			if t >= 0.5 {
				return float32(math.NaN())
			}
			return 1
		}, o, nil, "step 3 of 4 (t=0.5): the velocity of prompt 1 is NaN at element 0"},
		{"guidance overflows", func(_ float32, uncond bool) float32 {
			if uncond {
				return -1e37
			}
			return 1e37
		}, guided, nil, "step 1 of 4 (t=0): the velocity of prompt 1 is +Inf"},
		{"latent overflows", func(float32, bool) float32 { return 3e38 }, o, [][]float32{big}, "step 1 of 4 (t=0): the latent of prompt 1 is +Inf"},
	} {
		for _, solver := range Solvers {
			c.opts.Solver = solver
			_, err := Sample(context.Background(), constVel{n, c.vel}, Request{Prompts: []string{"a"}, Shape: testShape, Noise: c.noise}, c.opts)
			if err == nil || (solver == SolverEuler && !strings.Contains(err.Error(), c.want)) || !strings.Contains(err.Error(), "--cfg") {
				t.Errorf("%s, %s: got %v, want an error containing %q and advice", c.name, solver, err, c.want)
			}
		}
	}
}

func TestCheckPrompt(t *testing.T) {
	for _, ok := range []string{"a red circle", "two blue\tsquares\non the left\r\n", "一个红色圆形"} {
		if err := CheckPrompt(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for p, want := range map[string]string{
		"a red\x00 circle":      "U+0000 at byte 5",
		"\x1b[31mred circle":    "U+001B at byte 0",
		"a red circle\x7f":      "U+007F",
		"a red circle\u0085end": "U+0085",
		"   ":                   "empty",
		"caf\xe9":               "UTF-8",
	} {
		if err := CheckPrompt(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckPrompt(%q) = %v, want an error containing %q", p, err, want)
		}
	}
}
