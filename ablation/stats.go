package ablation

// Intervals for a sweep's means: a percentile bootstrap over prompts and seeds, stratified by ToyEval
// category (the overall score is the mean of the category means, so each resample keeps every category's
// prompt count), and the paired difference to the reference cell on the same resamples. The resamples
// come from a fixed seed and depend only on the grid's shape, so the same results give the same
// intervals, and two cells are resampled alike (which is what pairs them). DESIGN.md §14.

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Bootstrap settings: 2000 resamples put the 2.5% and 97.5% percentiles within about ±0.01 of their
// limit for scores in [0, 1]; the seed is fixed so that a summary is a function of its results.
const (
	Resamples     = 2000
	BootstrapSeed = 20250101
)

// Interval is an estimate with its 95% interval.
type Interval struct {
	Est, Lo, Hi float64
}

// ExcludesZero reports whether the interval lies wholly on one side of 0.
func (iv Interval) ExcludesZero() bool { return iv.Lo > 0 || iv.Hi < 0 }

// design is the layout of one cell's images: prompt p, seed s is value p·seeds + s.
type design struct {
	prompts, seeds int
	// cats holds each category's prompts, in report order.
	cats [][]int
}

// resampler holds the bootstrap's resamples as weights: how often each image is drawn.
type resampler struct {
	d design
	w [][]float64
}

// newResampler draws n resamples: within each category, as many prompts as it has, with replacement;
// for each prompt drawn, as many seeds as there are, with replacement.
func newResampler(d design, n int, seed uint64) *resampler {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	r := &resampler{d: d, w: make([][]float64, n)}
	for b := range r.w {
		w := make([]float64, d.prompts*d.seeds)
		for _, ps := range d.cats {
			for range ps {
				p := ps[rng.IntN(len(ps))]
				for range d.seeds {
					w[p*d.seeds+rng.IntN(d.seeds)]++
				}
			}
		}
		r.w[b] = w
	}
	return r
}

// ones is the original sample as weights.
func (d design) ones() []float64 {
	w := make([]float64, d.prompts*d.seeds)
	for i := range w {
		w[i] = 1
	}
	return w
}

// catMeans is each category's weighted mean of v, and their mean (the overall score).
func (d design) catMeans(v, w []float64) (overall float64, cats []float64) {
	cats = make([]float64, len(d.cats))
	for c, ps := range d.cats {
		var s, n float64
		for _, p := range ps {
			for k := p * d.seeds; k < (p+1)*d.seeds; k++ {
				s += w[k] * v[k]
				n += w[k]
			}
		}
		cats[c] = s / n
		overall += cats[c]
	}
	return overall / float64(len(d.cats)), cats
}

// mean is the weighted mean of v over every image.
func mean(v, w []float64) float64 {
	var s, n float64
	for k := range v {
		s += w[k] * v[k]
		n += w[k]
	}
	return s / n
}

// intervals computes a vector statistic on the original sample and on every resample, and returns its
// estimate with the 95% percentile interval of each component.
func (r *resampler) intervals(stat func(w []float64) []float64) []Interval {
	est := stat(r.d.ones())
	draws := make([][]float64, len(est))
	for _, w := range r.w {
		for i, v := range stat(w) {
			draws[i] = append(draws[i], v)
		}
	}
	out := make([]Interval, len(est))
	for i := range est {
		slices.Sort(draws[i])
		out[i] = Interval{Est: est[i], Lo: quantile(draws[i], 0.025), Hi: quantile(draws[i], 0.975)}
	}
	return out
}

// scoreIntervals is the overall score and each category's mean, with intervals.
func (r *resampler) scoreIntervals(v []float64) (overall Interval, cats []Interval) {
	ivs := r.intervals(func(w []float64) []float64 {
		o, cs := r.d.catMeans(v, w)
		return append([]float64{o}, cs...)
	})
	return ivs[0], ivs[1:]
}

// pairedIntervals is scoreIntervals of the per-image difference v − ref (same prompt, same seed): on
// each resample the two cells draw the same images.
func (r *resampler) pairedIntervals(v, ref []float64) (overall Interval, cats []Interval) {
	return r.scoreIntervals(diff(v, ref))
}

// diff is v − ref, image by image.
func diff(v, ref []float64) []float64 {
	d := make([]float64, len(v))
	for i := range v {
		d[i] = v[i] - ref[i]
	}
	return d
}

// meanInterval is the mean of v over every image, with its interval.
func (r *resampler) meanInterval(v []float64) Interval {
	return r.intervals(func(w []float64) []float64 { return []float64{mean(v, w)} })[0]
}

// pairedMeanInterval is meanInterval of the per-image difference v − ref.
func (r *resampler) pairedMeanInterval(v, ref []float64) Interval {
	return r.meanInterval(diff(v, ref))
}

// ratioInterval is mean(num) / mean(den) on the same images, with its interval (a speed-up).
func (r *resampler) ratioInterval(num, den []float64) Interval {
	return r.intervals(func(w []float64) []float64 { return []float64{mean(num, w) / mean(den, w)} })[0]
}

// quantile is the q-quantile of sorted xs, linear between order statistics (R's type 7, NumPy's default).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	h := float64(len(xs)-1) * q
	lo := int(math.Floor(h))
	if lo+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[lo] + (h-float64(lo))*(xs[lo+1]-xs[lo])
}
