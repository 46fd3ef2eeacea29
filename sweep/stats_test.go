package sweep

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestQuantile(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5}
	// R's type 7: h = (n−1)·q; 0.025·4 = 0.1 → 1.1; 0.975·4 = 3.9 → 4.9.
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.025, 1.1}, {0.5, 3}, {0.975, 4.9}, {1, 5}} {
		if got := Quantile(xs, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

// Category means and their mean, by hand: category A has prompts scoring 1 and 0, B one scoring 1 (one
// seed each): A = 0.5, B = 1, overall 0.75, not the image mean 2/3.
func TestCategoryMeans(t *testing.T) {
	d := Design{Prompts: 3, Seeds: 1, Cats: [][]int{{0, 1}, {2}}}
	o, cats := d.CatMeans([]float64{1, 0, 1}, d.Ones())
	if o != 0.75 || cats[0] != 0.5 || cats[1] != 1 {
		t.Fatalf("overall %v, categories %v; want 0.75, [0.5 1]", o, cats)
	}
}

// One prompt with two seeds scoring 0 and 1: a resample draws two seeds with replacement, so its mean is
// 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4, and the 95% interval is [0, 1].
func TestBootstrapDistributionByHand(t *testing.T) {
	d := Design{Prompts: 1, Seeds: 2, Cats: [][]int{{0}}}
	r := NewResampler(d, Resamples, BootstrapSeed)
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
	if iv := r.MeanInterval(v); iv != (Interval{Est: 0.5, Lo: 0, Hi: 1}) {
		t.Errorf("interval %+v, want 0.5 [0, 1]", iv)
	}
}

// Every resample keeps each category's number of images: the overall score stays a mean of category
// means with the same weights.
func TestResamplesAreStratified(t *testing.T) {
	d := Design{Prompts: 5, Seeds: 3, Cats: [][]int{{0, 3}, {1, 2, 4}}}
	r := NewResampler(d, 200, 1)
	for b, w := range r.w {
		for c, ps := range d.Cats {
			var n float64
			for _, p := range ps {
				for s := range d.Seeds {
					n += w[p*d.Seeds+s]
				}
			}
			if n != float64(len(ps)*d.Seeds) {
				t.Fatalf("resample %d draws %v images of category %d, want %d", b, n, c, len(ps)*d.Seeds)
			}
		}
	}
}

// A constant paired difference has a zero-width interval however noisy the scores are; the same
// differences with the pairs shuffled (the cell's images matched with the reference's at random) have a
// wide one, since the per-image noise no longer cancels.
func TestPairedDifference(t *testing.T) {
	const P, S = 12, 4
	d := Design{Prompts: P, Seeds: S, Cats: [][]int{{0, 1, 2, 3, 4, 5}, {6, 7, 8, 9, 10, 11}}}
	r := NewResampler(d, Resamples, BootstrapSeed)
	rng := rand.New(rand.NewPCG(7, 7))
	ref := make([]float64, P*S)
	cell := make([]float64, P*S)
	for i := range ref {
		ref[i] = float64(rng.IntN(3)) / 4 // 0, 0.25, 0.5: exact in binary
		cell[i] = ref[i] + 0.25
	}
	paired, cats := r.PairedIntervals(cell, ref)
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
	unpaired, _ := r.PairedIntervals(shuffled, ref)
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
	if iv, _ := r.PairedIntervals(noisy, noisy); iv != (Interval{}) {
		t.Errorf("a cell against itself: %+v, want 0 [0, 0]", iv)
	}
}
