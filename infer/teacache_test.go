package infer

import (
	"context"
	"math"
	"strings"
	"testing"
)

// refRelL1 is TeaCache's indicator written out independently of relL1.
func refRelL1(cur, prev []float32) float64 {
	var a, b float64
	for i := range cur {
		a += math.Abs(float64(cur[i]) - float64(prev[i]))
		b += math.Abs(float64(prev[i]))
	}
	return (a / float64(len(cur))) / (b / float64(len(prev)))
}

func TestFitTeaCacheRecoversPolynomial(t *testing.T) {
	want := Lumina2TeaCoeffs
	var pairs []CalibPair
	for i := 0; i < 60; i++ {
		x := 0.005 + 0.4*float64(i)/59
		y := 0.0
		for _, c := range want {
			y = y*x + c
		}
		pairs = append(pairs, CalibPair{In: x, Out: y})
	}
	got, err := FitTeaCache(pairs, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-6*math.Abs(want[i]) {
			t.Errorf("coefficient %d: %v, want %v (all %v)", i, got[i], want[i], got)
		}
	}
	// A noisy line comes back close to the line (degree 1), and a degree-2 fit of it has a tiny
	// quadratic term.
	pairs = pairs[:0]
	noise := InitialNoise(2, 1, 200)[0]
	for i, e := range noise {
		x := 0.01 + 0.5*float64(i)/199
		pairs = append(pairs, CalibPair{In: x, Out: 3*x - 0.2 + 1e-3*float64(e)})
	}
	line, err := FitTeaCache(pairs, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(line[0]-3) > 0.01 || math.Abs(line[1]+0.2) > 0.005 {
		t.Errorf("noisy line fit %v, want [3 -0.2]", line)
	}
	// Degree 0 or less means the default.
	if def, err := FitTeaCache(pairs, 0); err != nil || len(def) != DefaultTeaDegree+1 {
		t.Errorf("default degree: %v, %v", def, err)
	}
}

func TestFitTeaCacheErrors(t *testing.T) {
	few := []CalibPair{{In: 0.1, Out: 1}, {In: 0.2, Out: 2}, {In: 0.2, Out: 2.1}}
	if _, err := FitTeaCache(few, 4); err == nil || !strings.Contains(err.Error(), "at least 5 distinct") {
		t.Errorf("too few points: %v", err)
	}
	bad := []CalibPair{{In: 0.1, Out: 1}, {In: math.NaN(), Out: 2}}
	if _, err := FitTeaCache(bad, 1); err == nil || !strings.Contains(err.Error(), "pair 1 is not finite") {
		t.Errorf("NaN pair: %v", err)
	}
}

func TestCollectTeaCache(t *testing.T) {
	g := newGaussFlow(testShape)
	o := opts(SolverEuler, 20)
	o.TeaCache, o.TeaCoeffs = 0.5, identityPoly // must be ignored: calibration runs uncached
	pairs, res, err := CollectTeaCache(context.Background(), g, Request{Prompts: []string{"a"}, Shape: testShape}, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.MainSkipped != 0 {
		t.Fatalf("calibration skipped %d main stacks", res.MainSkipped)
	}
	// Cond and uncond each give one pair per consecutive pair of forwards.
	if want := 2 * (res.NFE - 1); len(pairs) != want {
		t.Fatalf("%d pairs, want %d", len(pairs), want)
	}
	for _, p := range pairs {
		i := 0
		if p.Uncond {
			i = 1
		}
		k := p.Eval
		in := refRelL1(g.mods[k][i], g.mods[k-1][i])
		out := refRelL1(g.resids[k][i], g.resids[k-1][i])
		if math.Abs(p.In-in) > 1e-12*in || math.Abs(p.Out-out) > 1e-12*out {
			t.Errorf("pair %+v, recomputed in %v out %v", p, in, out)
		}
	}
	coeffs, err := FitTeaCache(pairs, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fitted rescale polynomial on the Gaussian flow (degree 2): %v", coeffs)
	// The fitted polynomial drives a cached run.
	o.TeaCoeffs = coeffs
	o.TeaCache = 0.3
	cached := mustSample(t, newGaussFlow(testShape), Request{Prompts: []string{"a"}, Shape: testShape}, o)
	t.Logf("threshold 0.3 with the fitted polynomial: %d of %d main stacks skipped", cached.MainSkipped, cached.Forwards)
}
