package flow

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestShiftHandCases(t *testing.T) {
	// σ = 0.5, s = 3: σ' = 1.5 / (1.5 + 0.5) = 0.75, so t' = 0.25.
	if got := Shift(0.5, 3); math.Abs(got-0.25) > 1e-15 {
		t.Errorf("Shift(0.5, 3) = %v, want 0.25", got)
	}
	// σ = 0.2, s = 2: σ' = 0.4 / (0.4 + 0.8) = 1/3.
	if got := Shift(0.8, 2); math.Abs(got-2.0/3) > 1e-15 {
		t.Errorf("Shift(0.8, 2) = %v, want 2/3", got)
	}
	for _, s := range []float64{1, 1.6, 3.16, 20} {
		if Shift(0, s) != 0 || Shift(1, s) != 1 {
			t.Errorf("s %v: endpoints move: %v %v", s, Shift(0, s), Shift(1, s))
		}
		prev := -1.0
		for i := 0; i <= 100; i++ {
			v := Shift(float64(i)/100, s)
			if v < prev || v < 0 || v > 1 {
				t.Fatalf("s %v: not monotone in [0,1] at %d: %v after %v", s, i, v, prev)
			}
			prev = v
		}
	}
	if got := Shift(0.3, 1); math.Abs(got-0.3) > 1e-15 {
		t.Errorf("s = 1 is not the identity: %v", got)
	}
	for _, c := range []struct {
		n  int
		mu float64
	}{{256, 0.5}, {4096, 1.15}, {64, 0.4675}, {2176, 0.825}} {
		if got := MuForTokens(c.n); math.Abs(got-c.mu) > 1e-12 {
			t.Errorf("MuForTokens(%d) = %v, want %v", c.n, got, c.mu)
		}
	}
	for _, sig := range []float64{0.1, 0.5, 0.9} {
		if a, b := ShiftSigma(sig, 6), 1-Shift(1-sig, 6); math.Abs(a-b) > 1e-15 {
			t.Errorf("σ-shift %v and t-shift %v disagree at σ=%v", a, b, sig)
		}
	}
	if Tokens(32, 32, 4) != 64 || Tokens(32, 64, 4) != 128 {
		t.Error("Tokens")
	}
}

func TestTSamplingStatistics(t *testing.T) {
	const n = 200000
	rng := rand.New(rand.NewPCG(1, 2))
	stats := func(ts TimeSampler) (mean, below float64) {
		for range n {
			v := ts.Sample(rng)
			if v < 0 || v > 1 {
				t.Fatalf("t %v outside [0,1]", v)
			}
			mean += v
			if v < 0.5 {
				below++
			}
		}
		return mean / n, below / n
	}
	// Uniform: mean 1/2, sd of the mean sqrt(1/12/n).
	mu, _ := stats(TimeSampler{Dist: Uniform})
	if math.Abs(mu-0.5) > 4*math.Sqrt(1.0/12/n) {
		t.Errorf("uniform mean %v", mu)
	}
	// Logit-normal: symmetric about 1/2 (sigmoid(−z) = 1 − sigmoid(z)), so mean 1/2 and median 1/2;
	// its variance is below the uniform's.
	mu, below := stats(TimeSampler{Dist: LogitNormal})
	if math.Abs(mu-0.5) > 4*math.Sqrt(1.0/12/n) || math.Abs(below-0.5) > 4*math.Sqrt(0.25/n) {
		t.Errorf("logit-normal mean %v, P(t<0.5) %v", mu, below)
	}
	// The shift moves mass toward noise: with μ, P(t' < 0.5) = P(t < Shift⁻¹(0.5)), and for the
	// logit-normal that is Φ(μ) (t' < 1/2 ⇔ s' > 1/2 ⇔ e^μ·s > 1 − s ⇔ logit(t) < μ).
	shifted := TimeSampler{Dist: LogitNormal, Shift: true, Mu: 1.15}
	mu2, below2 := stats(shifted)
	want := 0.5 * (1 + math.Erf(1.15/math.Sqrt2))
	if mu2 >= mu || math.Abs(below2-want) > 4*math.Sqrt(want*(1-want)/n) {
		t.Errorf("shifted: mean %v (unshifted %v), P(t<0.5) %v, want %v", mu2, mu, below2, want)
	}
}

func TestInterpolateAndLoss(t *testing.T) {
	x1 := []float32{1, -1, 0.5, 0}
	x0 := []float32{0, 1, -0.5, 2}
	// Two samples of two values: t = 0.25 for the first, 1 (pure data) for the second.
	xt, u, err := Interpolate(x1, x0, []float64{0.25, 1})
	if err != nil {
		t.Fatal(err)
	}
	wantXt := []float64{0.25, 0.5, 0.5, 0}
	wantU := []float64{1, -2, 1, -2}
	for i := range x1 {
		if xt[i] != wantXt[i] || u[i] != wantU[i] {
			t.Fatalf("i %d: xt %v u %v, want %v %v", i, xt[i], u[i], wantXt[i], wantU[i])
		}
	}
	// t = 0 is pure noise.
	xt, _, _ = Interpolate(x1, x0, []float64{0})
	for i := range x0 {
		if xt[i] != float64(x0[i]) {
			t.Fatal("t = 0 is not noise")
		}
	}
	if _, _, err := Interpolate(x1, x0[:3], []float64{0.5}); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, _, err := Interpolate(x1, x0, []float64{0.5, 0.5, 0.5}); err == nil {
		t.Error("a batch that does not divide the values accepted")
	}
	l, err := Loss([]float32{1, 2, 3, 4}, []float32{0, 0, 3, 6}, 2)
	if err != nil || l[0] != 2.5 || l[1] != 2 {
		t.Errorf("Loss = %v %v, want [2.5 2]", l, err)
	}
	if _, err := Loss([]float32{1, 2, 3}, []float32{0, 0, 3}, 2); err == nil {
		t.Error("batch that does not divide accepted")
	}
}

func TestAvgPool(t *testing.T) {
	// Hand case: one 4×8 plane holding its own index: block means are the means of 0..31 split in two.
	src := make([]float32, 32)
	for i := range src {
		src[i] = float32(i)
	}
	out, err := AvgPool(src, 1, 1, 4, 8)
	if err != nil {
		t.Fatal(err)
	}
	// Left block: columns 0–3 of rows 0–3: mean of (r·8 + c) = 12 + 1.5 = 13.5; right block 17.5.
	if len(out) != 2 || out[0] != 13.5 || out[1] != 17.5 {
		t.Fatalf("AvgPool = %v, want [13.5 17.5]", out)
	}
	// Against a scatter-add reference on random data of shape [2, 3, 8, 12].
	rng := rand.New(rand.NewPCG(3, 4))
	b, c, h, w := 2, 3, 8, 12
	src = make([]float32, b*c*h*w)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	out, err = AvgPool(src, b, c, h, w)
	if err != nil {
		t.Fatal(err)
	}
	ref := make([]float64, len(out))
	for i, v := range src {
		x, y, p := i%w, (i/w)%h, i/(w*h)
		ref[p*(h/4)*(w/4)+(y/4)*(w/4)+x/4] += float64(v) / 16
	}
	for i := range out {
		if math.Abs(float64(out[i])-ref[i]) > 1e-5 {
			t.Fatalf("pooled %d: %v, reference %v", i, out[i], ref[i])
		}
	}
	if _, err := AvgPool(src, b, c, 6, 16); err == nil {
		t.Error("height 6 accepted")
	}
}
