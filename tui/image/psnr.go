package imgview

import (
	"fmt"
	"image"
	"math"
)

// PSNR is the peak signal-to-noise ratio of b against a in dB, over the 8-bit R, G and B channels
// (alpha ignored): 10·log10(255² / MSE). Identical images give +Inf. The images must be the same size;
// scale one first to compare images sampled at different resolutions.
func PSNR(a, b image.Image) (float64, error) {
	ra, rb := a.Bounds(), b.Bounds()
	if ra.Dx() != rb.Dx() || ra.Dy() != rb.Dy() {
		return 0, fmt.Errorf("psnr: sizes %dx%d and %dx%d differ", ra.Dx(), ra.Dy(), rb.Dx(), rb.Dy())
	}
	if ra.Empty() {
		return 0, fmt.Errorf("psnr: empty image")
	}
	ia, ib := toRGBA(a), toRGBA(b)
	var sum float64
	for y := 0; y < ra.Dy(); y++ {
		for x := 0; x < ra.Dx(); x++ {
			pa := ia.Pix[ia.PixOffset(ia.Rect.Min.X+x, ia.Rect.Min.Y+y):]
			pb := ib.Pix[ib.PixOffset(ib.Rect.Min.X+x, ib.Rect.Min.Y+y):]
			for c := range 3 {
				d := float64(pa[c]) - float64(pb[c])
				sum += d * d
			}
		}
	}
	mse := sum / float64(3*ra.Dx()*ra.Dy())
	if mse == 0 {
		return math.Inf(1), nil
	}
	return 10 * math.Log10(255*255/mse), nil
}

// Mosaic lays imgs out in rows, each scaled (nearest neighbour) to the largest side among them, with
// dark gaps of an eighth of a side, so a comparison goes through one painter: one row for up to 4,
// then 2 rows up to 8, and 3×3 for 9.
func Mosaic(imgs []image.Image) *image.RGBA {
	n := len(imgs)
	if n == 0 {
		return image.NewRGBA(image.Rect(0, 0, 0, 0))
	}
	side := 1
	for _, im := range imgs {
		side = max(side, im.Bounds().Dx(), im.Bounds().Dy())
	}
	rows := (n + 3) / 4
	cols := (n + rows - 1) / rows
	gap := max(1, side/8)
	out := image.NewRGBA(image.Rect(0, 0, cols*side+(cols-1)*gap, rows*side+(rows-1)*gap))
	for i := 0; i < len(out.Pix); i += 4 {
		out.Pix[i+3] = 255
	}
	for i, im := range imgs {
		s := ScaleNearest(im, side, side)
		x0, y0 := (i%cols)*(side+gap), (i/cols)*(side+gap)
		for y := 0; y < s.Rect.Dy(); y++ {
			copy(out.Pix[out.PixOffset(x0, y0+y):out.PixOffset(x0+s.Rect.Dx(), y0+y)], s.Pix[s.PixOffset(0, y):s.PixOffset(s.Rect.Dx(), y)])
		}
	}
	return out
}
