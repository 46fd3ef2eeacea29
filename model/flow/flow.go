// Package flow is the flow-matching objective of Lumina-Image 2.0 in one place: the time t and how it is
// drawn, the resolution shift that both training and sampling apply to it, the interpolant x_t and its
// velocity target, the per-sample loss, and the auxiliary loss's pooling. The convention throughout is
// the reference code's: x1 is the data, x0 the noise, t = 0 is noise and t = 1 is data.
//
// It is plain Go on slices, with no graph library: the batch source, the sampler's time grids and the
// tests use it directly, and the training graph (model.FlowLoss) computes Loss on the tensors this
// package prepares.
package flow

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Shift applies the time shift s > 0 to t in [0, 1]: t' = t / (s·(1−t) + t). On the noise level
// σ = 1 − t it is σ' = s·σ / (1 + (s−1)·σ) (ShiftSigma). s > 1 spends more of the schedule at high noise.
// Sampling uses s directly (the --shift flag); training uses s = e^μ with μ from the token count. Written
// this way both ends are exact (0 ↦ 0, 1 ↦ 1) and nothing divides by zero for s > 0.
func Shift(t, s float64) float64 {
	return t / (s*(1-t) + t)
}

// ShiftSigma is Shift on the noise level: σ' = s·σ / (1 + (s−1)·σ).
func ShiftSigma(sigma, s float64) float64 {
	return s * sigma / (1 + (s-1)*sigma)
}

// The two anchor points of the resolution shift: μ is linear in the image token count through
// (256 tokens, 0.5) and (4096 tokens, 1.15), as the reference code does for 256² and 1024² images.
const (
	shiftTokensLo, shiftMuLo = 256, 0.5
	shiftTokensHi, shiftMuHi = 4096, 1.15
)

// MuForTokens is the resolution shift's μ (shift s = e^μ) for an image of n tokens.
//
// Images of this workbench are tiny: a 32×32 image in patches of 4 is 64 tokens, far below the
// 256-token anchor. The line is extrapolated rather than clamped, because the line is what the recipe
// defines and its slope is gentle: μ(0) = 0.457, μ(16) = 0.459, μ(64) = 0.4675, μ(256) = 0.5. Every tiny
// image therefore gets about the 256² shift (e^μ ≈ 1.6, median t 0.5 → 0.39), which is what the paper
// trains its low-resolution stage with; the shift only starts to grow at GPU-sized images.
func MuForTokens(n int) float64 {
	return shiftMuLo + (shiftMuHi-shiftMuLo)*float64(n-shiftTokensLo)/float64(shiftTokensHi-shiftTokensLo)
}

// Tokens is the image token count of a w×h image in patches of p.
func Tokens(w, h, p int) int {
	if p <= 0 {
		return 0
	}
	return (w / p) * (h / p)
}

// TimeDist is how the training time t is drawn before any shift.
type TimeDist string

const (
	// Uniform draws t from U[0, 1).
	Uniform TimeDist = "uniform"
	// LogitNormal draws t = sigmoid(z), z ~ N(0, 1): most mass near t = 0.5.
	LogitNormal TimeDist = "logit-normal"
)

// Validate names the allowed values.
func (d TimeDist) Validate() error {
	switch d {
	case Uniform, LogitNormal:
		return nil
	}
	return fmt.Errorf("unknown t distribution %q (allowed: %s, %s)", string(d), Uniform, LogitNormal)
}

// SampleT draws one t in [0, 1].
func SampleT(d TimeDist, rng *rand.Rand) float64 {
	if d == LogitNormal {
		return 1 / (1 + math.Exp(-rng.NormFloat64()))
	}
	return rng.Float64()
}

// TimeSampler draws the per-sample t of a training step.
type TimeSampler struct {
	Dist TimeDist
	// Shift turns the resolution shift on; Mu is its μ (MuForTokens of the stage's token count, or a
	// preset's override), so the shift is s = e^μ.
	Shift bool
	Mu    float64
}

// Sample draws one (shifted) t.
func (ts TimeSampler) Sample(rng *rand.Rand) float64 {
	t := SampleT(ts.Dist, rng)
	if ts.Shift {
		t = Shift(t, math.Exp(ts.Mu))
	}
	return t
}

// Interpolate builds the flow-matching pair of a batch: x_t = t·x1 + (1−t)·x0 and the velocity target
// u = x1 − x0, per sample i with its own t[i]. x1 (the data) and x0 (the noise) hold len(t) samples one
// after another; the results are float64, the graphs' input precision.
func Interpolate(x1, x0 []float32, t []float64) (xt, u []float64, err error) {
	b := len(t)
	if b == 0 || len(x1) != len(x0) || len(x1)%b != 0 {
		return nil, nil, fmt.Errorf("interpolate: %d data values, %d noise values, %d times", len(x1), len(x0), b)
	}
	per := len(x1) / b
	xt = make([]float64, len(x1))
	u = make([]float64, len(x1))
	for i, ti := range t {
		for j := i * per; j < (i+1)*per; j++ {
			a, z := float64(x1[j]), float64(x0[j])
			xt[j] = ti*a + (1-ti)*z
			u[j] = a - z
		}
	}
	return xt, u, nil
}

// Loss is the per-sample loss: the mean over C, H, W of (v − u)², for b samples laid out one after
// another, accumulated in float64. A training step's loss is its batch mean (model.FlowLoss computes the
// same on the graph, and its test compares the two).
func Loss(v, u []float32, b int) ([]float64, error) {
	if b <= 0 || len(v) != len(u) || len(v)%b != 0 {
		return nil, fmt.Errorf("flow loss: %d predictions, %d targets, batch %d", len(v), len(u), b)
	}
	per := len(v) / b
	out := make([]float64, b)
	for i := range b {
		var sum float64
		for k := i * per; k < (i+1)*per; k++ {
			d := float64(v[k]) - float64(u[k])
			sum += d * d
		}
		out[i] = sum / float64(per)
	}
	return out, nil
}

// AuxPool is the auxiliary loss's downsampling factor (the paper's AvgPool4): a second, independent
// forward on AvgPool(x1) with fresh noise and t and the same caption features, added with weight 1.
const AuxPool = 4

// AvgPool averages non-overlapping AuxPool×AuxPool blocks of a [b, c, h, w] image batch into
// [b, c, h/AuxPool, w/AuxPool]: the data of the auxiliary loss.
func AvgPool(src []float32, b, c, h, w int) ([]float32, error) {
	const k = AuxPool
	if b <= 0 || c <= 0 || h <= 0 || w <= 0 || h%k != 0 || w%k != 0 {
		return nil, fmt.Errorf("avgpool%d: shape [%d, %d, %d, %d] needs positive sizes and h, w divisible by %d", k, b, c, h, w, k)
	}
	if len(src) != b*c*h*w {
		return nil, fmt.Errorf("avgpool%d: %d values for shape [%d, %d, %d, %d]", k, len(src), b, c, h, w)
	}
	oh, ow := h/k, w/k
	out := make([]float32, b*c*oh*ow)
	for p := range b * c {
		plane := src[p*h*w : (p+1)*h*w]
		dst := out[p*oh*ow : (p+1)*oh*ow]
		for y := range oh {
			for x := range ow {
				var sum float32
				for dy := range k {
					row := plane[(k*y+dy)*w+k*x:]
					rs := row[0]
					for dx := 1; dx < k; dx++ {
						rs += row[dx]
					}
					sum += rs
				}
				dst[y*ow+x] = sum / (k * k)
			}
		}
	}
	return out, nil
}
