// Package ablation runs sampler sweeps: a grid of sampler settings (and checkpoints) × prompts × seeds,
// read from a grid file in the Weights & Biases sweep convention, each image scored by ToyEval and
// compared with the reference cell's image of the same prompt and seed; then a summary with bootstrap
// intervals that tells a real difference from the noise of a few prompts. The paper's inference claims
// (CFG-Renorm, CFG-Trunc, Flow-DPM-Solver, TeaCache) come as shipped grids (Shipped).
//
// The package builds no graphs: it samples through infer.Model and opens checkpoints through a Loader
// that the command line supplies, so the TUI can run sweeps with the same types.
package ablation

import (
	"image"
	"math"
)

// MSE is the mean squared error of two same-sized images' RGB in [0, 1].
func MSE(a, b *image.RGBA) float64 {
	var s float64
	n := 0
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		d := (float64(a.Pix[i]) - float64(b.Pix[i])) / 255
		s += d * d
		n++
	}
	return s / float64(n)
}

// Clipped is the share of an image's RGB values at 0 or 255: pixels the sampler pushed past the
// colour range, which the image cannot show (guidance's over-saturation).
func Clipped(img *image.RGBA) float64 {
	n, c := 0, 0
	for i, v := range img.Pix {
		if i%4 == 3 {
			continue
		}
		n++
		if v == 0 || v == 255 {
			c++
		}
	}
	return float64(c) / float64(n)
}

// Sharpness is the mean absolute difference between horizontally and vertically neighbouring RGB values,
// in [0, 1]: edges and texture raise it, blur lowers it.
func Sharpness(img *image.RGBA) float64 {
	b := img.Rect
	var s float64
	n := 0
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			i := y*img.Stride + 4*x
			for c := range 3 {
				v := float64(img.Pix[i+c])
				if x+1 < b.Dx() {
					s += math.Abs(v - float64(img.Pix[i+4+c]))
					n++
				}
				if y+1 < b.Dy() {
					s += math.Abs(v - float64(img.Pix[i+img.Stride+c]))
					n++
				}
			}
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n) / 255
}

func psnr(mse float64) float64 {
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(1/mse)
}
