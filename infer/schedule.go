package infer

import (
	"math"
	"math/rand/v2"

	"github.com/lumina-workbench/lumina/model/flow"
)

// linspace matches torch.linspace: n points from a to b, both ends included exactly.
func linspace(a, b float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = a
		return out
	}
	step := (b - a) / float64(n-1)
	for i := range out {
		out[i] = a + float64(i)*step
	}
	out[n-1] = b
	return out
}

// TimeGrid is the Euler/midpoint grid: t = linspace(0, 1, n) shifted by s.
func TimeGrid(n int, s float64) []float64 {
	g := linspace(0, 1, n)
	for i, t := range g {
		g[i] = flow.Shift(t, s)
	}
	return g
}

// SigmaGrid is the Flow-DPM-Solver grid of noise levels, n+1 points from high noise down to 0:
// σ = linspace(0, 0.999, n+1) shifted by s, then reversed.
func SigmaGrid(n int, s float64) []float64 {
	g := linspace(0, 0.999, n+1)
	out := make([]float64, n+1)
	for i, sg := range g {
		out[n-i] = flow.ShiftSigma(sg, s)
	}
	return out
}

// InitialNoise draws the starting latents, count of them with n values each: latent p is standard
// Gaussian from PCG(seed, p), so a prompt's noise does not depend on the others in its request.
func InitialNoise(seed uint64, count, n int) [][]float32 {
	out := make([][]float32, count)
	for p := range out {
		r := rand.New(rand.NewPCG(seed, uint64(p)))
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		out[p] = x
	}
	return out
}

// sumSq is Σx² in float64, for norms that do not lose precision on large latents.
func sumSq(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}

func norm2(x []float32) float64 { return math.Sqrt(sumSq(x)) }
