package ablation

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestQuantile(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5}
	// R's type 7: h = (n−1)·q; 0.025·4 = 0.1 → 1.1; 0.975·4 = 3.9 → 4.9.
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.025, 1.1}, {0.5, 3}, {0.975, 4.9}, {1, 5}} {
		if got := quantile(xs, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

// Category means and their mean, by hand: category A has prompts scoring 1 and 0, B one scoring 1 (one
// seed each): A = 0.5, B = 1, overall 0.75, not the image mean 2/3.
func TestCategoryMeans(t *testing.T) {
	d := design{prompts: 3, seeds: 1, cats: [][]int{{0, 1}, {2}}}
	o, cats := d.catMeans([]float64{1, 0, 1}, d.ones())
	if o != 0.75 || cats[0] != 0.5 || cats[1] != 1 {
		t.Fatalf("overall %v, categories %v; want 0.75, [0.5 1]", o, cats)
	}
}

// One prompt with two seeds scoring 0 and 1: a resample draws two seeds with replacement, so its mean is
// 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4, and the 95% interval is [0, 1].
func TestBootstrapDistributionByHand(t *testing.T) {
	d := design{prompts: 1, seeds: 2, cats: [][]int{{0}}}
	r := newResampler(d, Resamples, BootstrapSeed)
	v := []float64{0, 1}
	counts := map[float64]int{}
	for _, w := range r.w {
		counts[mean(v, w)]++
	}
	for m, p := range map[float64]float64{0: 0.25, 0.5: 0.5, 1: 0.25} {
		if got := float64(counts[m]) / Resamples; math.Abs(got-p) > 0.04 {
			t.Errorf("P(mean = %v) = %.3f, want %.2f ± 0.04", m, got, p)
		}
	}
	if iv := r.meanInterval(v); iv != (Interval{Est: 0.5, Lo: 0, Hi: 1}) {
		t.Errorf("interval %+v, want 0.5 [0, 1]", iv)
	}
}

// Every resample keeps each category's number of images: the overall score stays a mean of category
// means with the same weights.
func TestResamplesAreStratified(t *testing.T) {
	d := design{prompts: 5, seeds: 3, cats: [][]int{{0, 3}, {1, 2, 4}}}
	r := newResampler(d, 200, 1)
	for b, w := range r.w {
		for c, ps := range d.cats {
			var n float64
			for _, p := range ps {
				for s := range d.seeds {
					n += w[p*d.seeds+s]
				}
			}
			if n != float64(len(ps)*d.seeds) {
				t.Fatalf("resample %d draws %v images of category %d, want %d", b, n, c, len(ps)*d.seeds)
			}
		}
	}
}

// A constant paired difference has a zero-width interval however noisy the scores are; the same
// differences with the pairs shuffled (the cell's images matched with the reference's at random) have a
// wide one, since the per-image noise no longer cancels.
func TestPairedDifference(t *testing.T) {
	const P, S = 12, 4
	d := design{prompts: P, seeds: S, cats: [][]int{{0, 1, 2, 3, 4, 5}, {6, 7, 8, 9, 10, 11}}}
	r := newResampler(d, Resamples, BootstrapSeed)
	rng := rand.New(rand.NewPCG(7, 7))
	ref := make([]float64, P*S)
	cell := make([]float64, P*S)
	for i := range ref {
		ref[i] = float64(rng.IntN(3)) / 4 // 0, 0.25, 0.5: exact in binary
		cell[i] = ref[i] + 0.25
	}
	paired, cats := r.pairedIntervals(cell, ref)
	if paired != (Interval{0.25, 0.25, 0.25}) {
		t.Errorf("constant difference: %+v, want 0.25 [0.25, 0.25]", paired)
	}
	for i, c := range cats {
		if c != (Interval{0.25, 0.25, 0.25}) {
			t.Errorf("category %d: %+v", i, c)
		}
	}
	if !paired.ExcludesZero() {
		t.Error("a difference of 0.25 everywhere should exclude 0")
	}
	shuffled := append([]float64(nil), cell...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	unpaired, _ := r.pairedIntervals(shuffled, ref)
	if math.Abs(unpaired.Est-0.25) > 1e-12 {
		t.Errorf("shuffling changed the mean difference: %v", unpaired.Est)
	}
	if w := unpaired.Hi - unpaired.Lo; w < 0.1 {
		t.Errorf("shuffled pairs: interval %+v (width %.3f), want it wide", unpaired, w)
	}
	// A cell that is the reference with independent noise: its interval holds 0.
	noisy := make([]float64, P*S)
	for i := range noisy {
		noisy[i] = float64(rng.IntN(3)) / 4
	}
	if iv, _ := r.pairedIntervals(noisy, noisy); iv != (Interval{}) {
		t.Errorf("a cell against itself: %+v, want 0 [0, 0]", iv)
	}
}

// syntheticResults are a complete sweep's results with chosen scores and wall times.
func syntheticResults(g *Grid, score func(c Cell, p, s int) float64) []Result {
	var rs []Result
	for _, c := range g.Cells() {
		for pi, pr := range g.Prompts {
			for s := range g.Seeds {
				rs = append(rs, Result{Cell: c.ID, Settings: c.Setting, PromptID: pr.ID, Category: pr.Category, Seed: s,
					NFE: c.Setting.Steps - 1, Forwards: 2 * (c.Setting.Steps - 1), WallMs: float64(10 * c.Setting.Steps),
					Score: score(c, pi, s), Clipped: float64(c.Index) / 10, Image: ImagePath(Key{c.ID, pr.ID, s})})
			}
		}
	}
	return rs
}

func testGrid(t *testing.T) *Grid {
	t.Helper()
	g, err := ParseGrid([]byte("method: grid\nparameters:\n  steps: {values: [10, 20]}\n  renorm: {values: [0, 1]}\nprompts: quick\nseeds: 3\nreference: {steps: 20, renorm: 0}\n"), "t.yaml", testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// The summary is a function of the results' content, not their order, and refuses an incomplete sweep.
func TestSummaryDeterministic(t *testing.T) {
	g := testGrid(t)
	rs := syntheticResults(g, func(c Cell, p, s int) float64 { return float64((c.Index*7+p*3+s)%4) / 4 })
	write := func(rs []Result) (string, string) {
		s, err := Summarize(g, rs)
		if err != nil {
			t.Fatal(err)
		}
		var md, csv bytes.Buffer
		s.WriteMarkdown(&md)
		s.WriteCSV(&csv)
		return md.String(), csv.String()
	}
	md, csv := write(rs)
	shuffled := append([]Result(nil), rs...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	md2, csv2 := write(shuffled)
	if md != md2 || csv != csv2 {
		t.Error("the same results in another order summarise differently")
	}
	for _, want := range []string{"| 2 | steps-20_renorm-0 | 20 | 0 | 19 | 38 | 0.0 |", "## Speed", "2.00× [2.00, 2.00]",
		"| 1 | steps-10_renorm-1 | 0.1000 [0.1000, 0.1000] | -0.1000 [-0.1000, -0.1000] * | 0.0000 [0.0000, 0.0000] | +0.0000 [+0.0000, +0.0000] |"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	// Other wall times change the speed section and the wall columns only.
	slower := append([]Result(nil), rs...)
	for i := range slower {
		slower[i].WallMs *= 1 + float64(i%5)/10
	}
	md3, csv3 := write(slower)
	for _, f := range []struct{ name, a, b string }{{SummaryMD, md, md3}, {SummaryCSV, csv, csv3}} {
		ua, _ := Untimed(f.name, []byte(f.a))
		ub, _ := Untimed(f.name, []byte(f.b))
		if f.a == f.b || ua != ub || len(ua) < len(f.a)/3 {
			t.Errorf("%s: other wall times should change the file but not its untimed part", f.name)
		}
	}
	if _, err := Summarize(g, rs[1:]); err == nil || !strings.Contains(err.Error(), "1 of 216 images are not made yet") {
		t.Errorf("incomplete results: %v", err)
	}
}
