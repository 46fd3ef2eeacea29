package sweep

// Intervals for a sweep's means: a percentile bootstrap over prompts and seeds, stratified by ToyEval
// category (the overall score is the mean of the category means, so each resample keeps every category's
// prompt count), and the paired difference to the reference cell on the same resamples. The resamples
// come from a fixed seed and depend only on the grid's shape, so the same results give the same
// intervals, and two cells are resampled alike (which is what pairs them). DESIGN.md §14.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/lumina-workbench/lumina/data/toyeval"
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

// Design is the layout of one cell's images: prompt p, seed s is value p·seeds + s.
type Design struct {
	Prompts, Seeds int
	// Cats holds each category's prompts, in report order.
	Cats [][]int
}

// NewDesign lays out prompts whose categories are given, in order, each with seeds values: the
// categories in ToyEval's report order, then custom prompts, then any other category in order of
// appearance. names are the categories in Design.Cats order.
func NewDesign(categories []string, seeds int) (d Design, names []string) {
	d = Design{Prompts: len(categories), Seeds: seeds}
	order := append(toyeval.Categories(), toyeval.CatCustom)
	for _, c := range categories {
		if !slices.Contains(order, c) {
			order = append(order, c)
		}
	}
	for _, name := range order {
		var ps []int
		for p, c := range categories {
			if c == name {
				ps = append(ps, p)
			}
		}
		if len(ps) > 0 {
			names = append(names, name)
			d.Cats = append(d.Cats, ps)
		}
	}
	return d, names
}

// Resampler holds the bootstrap's resamples as weights: how often each image is drawn.
type Resampler struct {
	d Design
	w [][]float64
}

// NewResampler draws n resamples: within each category, as many prompts as it has, with replacement;
// for each prompt drawn, as many seeds as there are, with replacement.
func NewResampler(d Design, n int, seed uint64) *Resampler {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	r := &Resampler{d: d, w: make([][]float64, n)}
	for b := range r.w {
		w := make([]float64, d.Prompts*d.Seeds)
		for _, ps := range d.Cats {
			for range ps {
				p := ps[rng.IntN(len(ps))]
				for range d.Seeds {
					w[p*d.Seeds+rng.IntN(d.Seeds)]++
				}
			}
		}
		r.w[b] = w
	}
	return r
}

// ones is the original sample as weights.
func (d Design) Ones() []float64 {
	w := make([]float64, d.Prompts*d.Seeds)
	for i := range w {
		w[i] = 1
	}
	return w
}

// CatMeans is each category's weighted mean of v, and their mean (the overall score).
func (d Design) CatMeans(v, w []float64) (overall float64, cats []float64) {
	cats = make([]float64, len(d.Cats))
	for c, ps := range d.Cats {
		var s, n float64
		for _, p := range ps {
			for k := p * d.Seeds; k < (p+1)*d.Seeds; k++ {
				s += w[k] * v[k]
				n += w[k]
			}
		}
		cats[c] = s / n
		overall += cats[c]
	}
	return overall / float64(len(d.Cats)), cats
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
func (r *Resampler) intervals(stat func(w []float64) []float64) []Interval {
	est := stat(r.d.Ones())
	draws := make([][]float64, len(est))
	for _, w := range r.w {
		for i, v := range stat(w) {
			draws[i] = append(draws[i], v)
		}
	}
	out := make([]Interval, len(est))
	for i := range est {
		slices.Sort(draws[i])
		out[i] = Interval{Est: est[i], Lo: Quantile(draws[i], 0.025), Hi: Quantile(draws[i], 0.975)}
	}
	return out
}

// ScoreIntervals is the overall score and each category's mean, with intervals.
func (r *Resampler) ScoreIntervals(v []float64) (overall Interval, cats []Interval) {
	ivs := r.intervals(func(w []float64) []float64 {
		o, cs := r.d.CatMeans(v, w)
		return append([]float64{o}, cs...)
	})
	return ivs[0], ivs[1:]
}

// PairedIntervals is ScoreIntervals of the per-image difference v − ref (same prompt, same seed): on
// each resample the two cells draw the same images.
func (r *Resampler) PairedIntervals(v, ref []float64) (overall Interval, cats []Interval) {
	return r.ScoreIntervals(diff(v, ref))
}

// diff is v − ref, image by image.
func diff(v, ref []float64) []float64 {
	d := make([]float64, len(v))
	for i := range v {
		d[i] = v[i] - ref[i]
	}
	return d
}

// MeanInterval is the mean of v over every image, with its interval.
func (r *Resampler) MeanInterval(v []float64) Interval {
	return r.intervals(func(w []float64) []float64 { return []float64{mean(v, w)} })[0]
}

// PairedMeanInterval is MeanInterval of the per-image difference v − ref.
func (r *Resampler) PairedMeanInterval(v, ref []float64) Interval {
	return r.MeanInterval(diff(v, ref))
}

// RatioInterval is mean(num) / mean(den) on the same images, with its interval (a speed-up).
func (r *Resampler) RatioInterval(num, den []float64) Interval {
	return r.intervals(func(w []float64) []float64 { return []float64{mean(num, w) / mean(den, w)} })[0]
}

// quantile is the q-quantile of sorted xs, linear between order statistics (R's type 7, NumPy's default).
func Quantile(xs []float64, q float64) float64 {
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

// FormatInterval writes a score in [0, 1] with its interval: "0.500 [0.400, 0.600]".
func FormatInterval(iv Interval) string {
	return fmt.Sprintf("%s [%s, %s]", formatScore(iv.Est), formatScore(iv.Lo), formatScore(iv.Hi))
}

// FormatDelta writes a difference with its interval, signed, and * when the interval excludes 0:
// "+0.100 [+0.020, +0.180] *".
func FormatDelta(iv Interval) string {
	s := fmt.Sprintf("%s [%s, %s]", formatSigned(iv.Est), formatSigned(iv.Lo), formatSigned(iv.Hi))
	if iv.ExcludesZero() {
		s += " *"
	}
	return s
}

func formatScore(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func formatSigned(v float64) string {
	if v == 0 {
		v = 0 // no "-0.000"
	}
	s := strconv.FormatFloat(v, 'f', 3, 64)
	if v >= 0 || s == "-0.000" {
		s = "+" + strings.TrimPrefix(s, "-")
	}
	return s
}
