package data

import (
	"image"
	"math"
)

// gaussKernel is a normalised 1-D Gaussian truncated at 3σ.
func gaussKernel(sigma float64) []float32 {
	rad := int(math.Ceil(3 * sigma))
	k := make([]float32, 2*rad+1)
	var sum float64
	for i := range k {
		x := float64(i - rad)
		v := math.Exp(-x * x / (2 * sigma * sigma))
		k[i] = float32(v)
		sum += v
	}
	for i := range k {
		k[i] = float32(float64(k[i]) / sum)
	}
	return k
}

// blurCanvas is a separable Gaussian blur with edges clamped (the border pixel repeats), so a flat image
// stays flat and the frame does not darken.
func blurCanvas(c *canvas, sigma float64) *canvas {
	if !(sigma > 0) {
		return c
	}
	k := gaussKernel(sigma)
	rad := len(k) / 2
	w, h := c.w, c.h
	tmp := newCanvas(w, h)
	for y := 0; y < h; y++ {
		row := c.pix[y*w*3 : (y+1)*w*3]
		out := tmp.pix[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x++ {
			var r, g, b float32
			for j, kv := range k {
				xx := min(max(x+j-rad, 0), w-1) * 3
				r += kv * row[xx]
				g += kv * row[xx+1]
				b += kv * row[xx+2]
			}
			out[x*3], out[x*3+1], out[x*3+2] = r, g, b
		}
	}
	dst := newCanvas(w, h)
	for y := 0; y < h; y++ {
		out := dst.pix[y*w*3 : (y+1)*w*3]
		for j, kv := range k {
			yy := min(max(y+j-rad, 0), h-1)
			src := tmp.pix[yy*w*3 : (yy+1)*w*3]
			for i := range out {
				out[i] += kv * src[i]
			}
		}
	}
	return dst
}

// GaussianBlur returns a copy of img blurred by a Gaussian of standard deviation sigma pixels (edges
// clamped, alpha kept). sigma ≤ 0 returns an unblurred copy.
func GaussianBlur(img *image.RGBA, sigma float64) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	c := newCanvas(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			si := img.PixOffset(b.Min.X+x, b.Min.Y+y)
			di := (y*w + x) * 3
			c.pix[di] = float32(img.Pix[si])
			c.pix[di+1] = float32(img.Pix[si+1])
			c.pix[di+2] = float32(img.Pix[si+2])
		}
	}
	out := blurCanvas(c, sigma).toRGBA()
	out.Rect = b
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			out.Pix[(y*w+x)*4+3] = img.Pix[img.PixOffset(b.Min.X+x, b.Min.Y+y)+3]
		}
	}
	return out
}
