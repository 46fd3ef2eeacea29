package world

import (
	"image"

	"github.com/lumina-workbench/lumina/data/internal/raster"
)

// GaussianBlur returns a copy of img blurred by a Gaussian of standard deviation sigma pixels (edges
// clamped, alpha kept). sigma ≤ 0 returns an unblurred copy.
func GaussianBlur(img *image.RGBA, sigma float64) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := raster.Blur(raster.FromImage(img), sigma).RGBA()
	out.Rect = b
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			out.Pix[(y*w+x)*4+3] = img.Pix[img.PixOffset(b.Min.X+x, b.Min.Y+y)+3]
		}
	}
	return out
}
