// Package raster is the float RGB image that the renderer draws on and the parser reads from, with the
// Gaussian blur both apply to it: a degradation for one, a noise filter for the other.
package raster

import (
	"image"
	"math"
)

// Canvas is a float RGB image in 0..255, what every drawing step works on before one final rounding.
type Canvas struct {
	W, H int
	Pix  []float32 // [H][W][3]
}

// New is a black w×h canvas.
func New(w, h int) *Canvas { return &Canvas{w, h, make([]float32, w*h*3)} }

// Fill sets every pixel to (r, g, b).
func (c *Canvas) Fill(r, g, b float32) {
	for i := 0; i < len(c.Pix); i += 3 {
		c.Pix[i], c.Pix[i+1], c.Pix[i+2] = r, g, b
	}
}

// RGBA rounds the canvas to an opaque 8-bit image, values clamped to 0..255.
func (c *Canvas) RGBA() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, c.W, c.H))
	for i, j := 0, 0; i < len(c.Pix); i, j = i+3, j+4 {
		img.Pix[j] = quant(c.Pix[i])
		img.Pix[j+1] = quant(c.Pix[i+1])
		img.Pix[j+2] = quant(c.Pix[i+2])
		img.Pix[j+3] = 255
	}
	return img
}

func quant(v float32) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v + 0.5)
}

// FromImage copies img's RGB (alpha dropped) into a canvas whose origin is img's top left.
func FromImage(img image.Image) *Canvas {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	c := New(w, h)
	if rgba, ok := img.(*image.RGBA); ok {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				si := rgba.PixOffset(b.Min.X+x, b.Min.Y+y)
				di := (y*w + x) * 3
				c.Pix[di], c.Pix[di+1], c.Pix[di+2] = float32(rgba.Pix[si]), float32(rgba.Pix[si+1]), float32(rgba.Pix[si+2])
			}
		}
		return c
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			di := (y*w + x) * 3
			c.Pix[di], c.Pix[di+1], c.Pix[di+2] = float32(r>>8), float32(g>>8), float32(bb>>8)
		}
	}
	return c
}

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

// Blur is a separable Gaussian blur with edges clamped (the border pixel repeats), so a flat image
// stays flat and the frame does not darken. sigma ≤ 0 returns c itself.
func Blur(c *Canvas, sigma float64) *Canvas {
	if !(sigma > 0) {
		return c
	}
	k := gaussKernel(sigma)
	rad := len(k) / 2
	w, h := c.W, c.H
	tmp := New(w, h)
	for y := 0; y < h; y++ {
		row := c.Pix[y*w*3 : (y+1)*w*3]
		out := tmp.Pix[y*w*3 : (y+1)*w*3]
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
	dst := New(w, h)
	for y := 0; y < h; y++ {
		out := dst.Pix[y*w*3 : (y+1)*w*3]
		for j, kv := range k {
			yy := min(max(y+j-rad, 0), h-1)
			src := tmp.Pix[yy*w*3 : (yy+1)*w*3]
			for i := range out {
				out[i] += kv * src[i]
			}
		}
	}
	return dst
}

// RGB is a colour's 8-bit channels as floats.
func RGB(c interface{ RGBA() (r, g, b, a uint32) }) [3]float64 {
	r, g, b, _ := c.RGBA()
	return [3]float64{float64(r >> 8), float64(g >> 8), float64(b >> 8)}
}

// Dist is the Euclidean distance between two RGB colours.
func Dist(a, b [3]float64) float64 {
	dr, dg, db := a[0]-b[0], a[1]-b[1], a[2]-b[2]
	return math.Sqrt(dr*dr + dg*dg + db*db)
}
