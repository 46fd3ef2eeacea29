// Package imgview shows images in the terminal: sixel graphics painted
// outside Bubble Tea's renderer into a reserved box of cells, or a
// half-block true-colour rendering that lives inside View().
//
// The directory is tui/image; the package is named imgview so that it does
// not shadow the standard library's image package in callers.
package imgview

import (
	"image"
	"image/color"

	"golang.org/x/image/draw"
)

// toRGBA returns img as an *image.RGBA whose bounds start at (0,0), copying
// only when it has to; nil becomes an empty image.
func toRGBA(img image.Image) *image.RGBA {
	if img == nil {
		return image.NewRGBA(image.Rectangle{})
	}
	if r, ok := img.(*image.RGBA); ok && r.Rect.Min == (image.Point{}) {
		return r
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	return out
}

// fitSize is the size ScaleNearest produces for an iw×ih image in a w×h
// box: the largest integer multiple that fits when the image is no larger
// than the box (so every source pixel becomes an equal square block), else
// the largest size of the same aspect that fits.
func fitSize(iw, ih, w, h int) (int, int) {
	if iw <= 0 || ih <= 0 || w <= 0 || h <= 0 {
		return 0, 0
	}
	if iw <= w && ih <= h {
		f := min(w/iw, h/ih)
		return iw * f, ih * f
	}
	// Compare w/iw with h/ih without floating point.
	if w*ih <= h*iw {
		return w, max(1, ih*w/iw)
	}
	return max(1, iw*h/ih), h
}

// ScaleNearest scales img with nearest-neighbour sampling to fit a w×h
// pixel box, keeping its aspect ratio and never exceeding the box. Small
// images grow by an integer factor (crisp square pixels, as a sample from a
// 32 px model should look); images larger than the box shrink to fit. Each
// output pixel takes the source pixel whose footprint holds its centre. The
// result starts at (0,0); it is empty (0×0) when the image or box is empty.
func ScaleNearest(img image.Image, w, h int) *image.RGBA {
	if img == nil {
		return image.NewRGBA(image.Rectangle{})
	}
	b := img.Bounds()
	ow, oh := fitSize(b.Dx(), b.Dy(), w, h)
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	if ow > 0 && oh > 0 {
		draw.NearestNeighbor.Scale(out, out.Rect, img, b, draw.Src, nil)
	}
	return out
}

// scalePaletted is ScaleNearest for a paletted image (bounds from (0,0)).
// The indices are scaled as grey levels (index i becomes the RGBA grey
// i,i,i), which takes x/image's RGBA fast path and keeps every index; a
// paletted destination would look each output colour up in the palette
// again, slowly, and take the first of two equal entries.
func scalePaletted(src *image.Paletted, ow, oh int) *image.Paletted {
	grey := &image.Gray{Pix: src.Pix, Stride: src.Stride, Rect: src.Rect}
	rgba := image.NewRGBA(image.Rect(0, 0, ow, oh))
	draw.NearestNeighbor.Scale(rgba, rgba.Rect, grey, grey.Rect, draw.Src, nil)
	out := image.NewPaletted(rgba.Rect, src.Palette)
	for i := range out.Pix {
		out.Pix[i] = rgba.Pix[4*i] // R = G = B = the index
	}
	return out
}

// rgbAt reads a pixel of an RGBA image as 8-bit colour; premultiplied
// values are what a pixel looks like composited over black.
func rgbAt(img *image.RGBA, x, y int) color.RGBA {
	i := img.PixOffset(x, y)
	return color.RGBA{R: img.Pix[i], G: img.Pix[i+1], B: img.Pix[i+2], A: 255}
}
