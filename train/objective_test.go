package train

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/data"
)

func TestShiftHandCases(t *testing.T) {
	// s = 0.5, e^μ = 3: s' = 1.5 / (1.5 + 0.5) = 0.75, so t' = 0.25.
	if got := ShiftT(0.5, math.Log(3)); math.Abs(got-0.25) > 1e-15 {
		t.Errorf("ShiftT(0.5, ln 3) = %v, want 0.25", got)
	}
	// s = 0.2, e^μ = 2: s' = 0.4 / (0.4 + 0.8) = 1/3.
	if got := ShiftT(0.8, math.Log(2)); math.Abs(got-2.0/3) > 1e-15 {
		t.Errorf("ShiftT(0.8, ln 2) = %v, want 2/3", got)
	}
	for _, mu := range []float64{0, 0.5, 1.15, 3} {
		if ShiftT(0, mu) != 0 || ShiftT(1, mu) != 1 {
			t.Errorf("μ %v: endpoints move: %v %v", mu, ShiftT(0, mu), ShiftT(1, mu))
		}
		prev := -1.0
		for i := 0; i <= 100; i++ {
			v := ShiftT(float64(i)/100, mu)
			if v < prev || v < 0 || v > 1 {
				t.Fatalf("μ %v: not monotone in [0,1] at %d: %v after %v", mu, i, v, prev)
			}
			prev = v
		}
	}
	if got := ShiftT(0.3, 0); math.Abs(got-0.3) > 1e-15 {
		t.Errorf("μ = 0 is not the identity: %v", got)
	}
	for _, c := range []struct {
		n  int
		mu float64
	}{{256, 0.5}, {4096, 1.15}, {64, 0.4675}, {2176, 0.825}} {
		if got := MuForTokens(c.n); math.Abs(got-c.mu) > 1e-12 {
			t.Errorf("MuForTokens(%d) = %v, want %v", c.n, got, c.mu)
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
	// The shift moves mass toward noise: with μ, P(t' < 0.5) = P(t < ShiftT⁻¹(0.5)), and for the
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
	xt, u := make([]float32, 4), make([]float32, 4)
	if err := Interpolate(x1, x0, 0.25, xt, u); err != nil {
		t.Fatal(err)
	}
	wantXt := []float32{0.25, 0.5, -0.25, 1.5}
	wantU := []float32{1, -2, 1, -2}
	for i := range x1 {
		if xt[i] != wantXt[i] || u[i] != wantU[i] {
			t.Fatalf("i %d: xt %v u %v, want %v %v", i, xt[i], u[i], wantXt[i], wantU[i])
		}
	}
	// t = 0 is pure noise, t = 1 pure data.
	Interpolate(x1, x0, 0, xt, u)
	for i := range x0 {
		if xt[i] != x0[i] {
			t.Fatal("t = 0 is not noise")
		}
	}
	Interpolate(x1, x0, 1, xt, u)
	for i := range x1 {
		if xt[i] != x1[i] {
			t.Fatal("t = 1 is not data")
		}
	}
	if err := Interpolate(x1, x0[:3], 0.5, xt, u); err == nil {
		t.Error("length mismatch accepted")
	}
	l, err := FlowLoss([]float32{1, 2, 3, 4}, []float32{0, 0, 3, 6}, 2)
	if err != nil || l[0] != 2.5 || l[1] != 2 {
		t.Errorf("FlowLoss = %v %v, want [2.5 2]", l, err)
	}
	if _, err := FlowLoss([]float32{1, 2, 3}, []float32{0, 0, 3}, 2); err == nil {
		t.Error("batch that does not divide accepted")
	}
}

func TestAvgPool4(t *testing.T) {
	// Hand case: one 4×8 plane holding its own index: block means are the means of 0..31 split in two.
	src := make([]float32, 32)
	for i := range src {
		src[i] = float32(i)
	}
	out, err := AvgPool4(src, 1, 1, 4, 8)
	if err != nil {
		t.Fatal(err)
	}
	// Left block: columns 0–3 of rows 0–3: mean of (r·8 + c) = 12 + 1.5 = 13.5; right block 17.5.
	if len(out) != 2 || out[0] != 13.5 || out[1] != 17.5 {
		t.Fatalf("AvgPool4 = %v, want [13.5 17.5]", out)
	}
	// Against a scatter-add reference on random data of shape [2, 3, 8, 12].
	rng := rand.New(rand.NewPCG(3, 4))
	b, c, h, w := 2, 3, 8, 12
	src = make([]float32, b*c*h*w)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	out, err = AvgPool4(src, b, c, h, w)
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
	if _, err := AvgPool4(src, b, c, 6, 16); err == nil {
		t.Error("height 6 accepted")
	}
}

func testScene(domain data.Domain) data.Scene {
	return data.Scene{Domain: domain, Objects: []data.Object{{Shape: data.Circle, Colour: data.Red, Size: data.Medium, X: 0.5, Y: 0.5}}}
}

func TestCaptionDropoutAndSystemPrompts(t *testing.T) {
	cfg := CaptionConfig{Mix: CaptionMix{Detailed: 1, Medium: 1, Short: 1, Tag: 1}, ZhFrac: 0.3, Dropout: 0.1, SystemPrompt: SystemByDomain}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 40000
	dropped, zh := 0, 0
	for i := range n {
		dom := data.Domain(i % 2)
		s := testScene(dom)
		ch := ChooseCaption(cfg, s, i, nil, rng, func(g data.Granularity, l data.Lang, weak bool) string {
			return data.Caption(s, g, l, rng)
		})
		if ch.Dropped {
			dropped++
			if ch.Text != "" || ch.HasTemplate || ch.Key != "" {
				t.Fatalf("dropped caption %+v is not the bare empty string", ch)
			}
			continue
		}
		if ch.Lang == data.Zh {
			zh++
		}
		want := data.SystemPrompt(data.TemplateFor(dom))
		if !strings.HasPrefix(ch.Text, want) || len(ch.Text) == len(want) || ch.Template != data.TemplateFor(dom) {
			t.Fatalf("domain %v: caption %q lacks its system prompt %q", dom, ch.Text, want)
		}
	}
	sd := math.Sqrt(0.1 * 0.9 / n)
	if f := float64(dropped) / n; math.Abs(f-0.1) > 4*sd {
		t.Errorf("dropout frequency %v, want 0.1 ± %v", f, 4*sd)
	}
	kept := float64(n - dropped)
	if f := float64(zh) / kept; math.Abs(f-0.3) > 4*math.Sqrt(0.21/kept) {
		t.Errorf("Chinese frequency %v, want 0.3", f)
	}
	// Dual panel: Template C with the panel's name, whatever the domain rule says.
	cfg.Dropout = 0
	cfg.SystemPrompt = SystemNone
	k := data.EdgePanel
	ch := ChooseCaption(cfg, testScene(data.Photo), 1, &k, rng, func(data.Granularity, data.Lang, bool) string { return "x" })
	if ch.Text != data.DualPanelSystemPrompt(data.EdgeMapKind)+"x" || ch.Template != data.TemplateC {
		t.Errorf("dual-panel caption %q", ch.Text)
	}
	ch = ChooseCaption(cfg, testScene(data.Photo), 1, nil, rng, func(data.Granularity, data.Lang, bool) string { return "x" })
	if ch.Text != "x" || ch.HasTemplate {
		t.Errorf("system_prompt none gave %q", ch.Text)
	}
}

func TestGranularityMixFrequencies(t *testing.T) {
	cfg := CaptionConfig{Mix: CaptionMix{Detailed: 4, Medium: 3, Short: 0, Tag: 2, Weak: 1}, SystemPrompt: SystemNone}
	want := map[string]float64{"detailed": 0.4, "medium": 0.3, "short": 0, "tag": 0.2, "weak": 0.1}
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 50000
	got := map[string]float64{}
	s := testScene(data.Flat)
	for i := range n {
		ch := ChooseCaption(cfg, s, i, nil, rng, func(g data.Granularity, l data.Lang, weak bool) string {
			if weak {
				return "weak"
			}
			return g.String()
		})
		if ch.Text == "weak" != ch.Weak {
			t.Fatalf("weak flag %v for %q", ch.Weak, ch.Text)
		}
		got[ch.Text]++
	}
	for k, p := range want {
		f := got[k] / n
		if math.Abs(f-p) > 4*math.Sqrt(p*(1-p)/n)+1e-12 {
			t.Errorf("%s: frequency %v, want %v", k, f, p)
		}
	}
	bad := CaptionConfig{Mix: CaptionMix{}, SystemPrompt: SystemNone}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "mix") {
		t.Errorf("all-zero mix: %v", err)
	}
}
