package world

import "image"

// ImageToCHW writes img's RGB as [3, H, W] float32 in [-1, 1] into dst (len 3·W·H): the pixel-space
// "latent" the model diffuses.
func ImageToCHW(img *image.RGBA, dst []float32) {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	plane := w * h
	for y := range h {
		row := img.Pix[img.PixOffset(r.Min.X, r.Min.Y+y):]
		for x := range w {
			p := row[4*x:]
			k := y*w + x
			dst[k] = float32(p[0])/127.5 - 1
			dst[plane+k] = float32(p[1])/127.5 - 1
			dst[2*plane+k] = float32(p[2])/127.5 - 1
		}
	}
}

// CHWToImage is ImageToCHW's inverse, values clamped to [-1, 1] and rounded to the nearest level.
func CHWToImage(src []float32, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	plane := w * h
	conv := func(v float32) uint8 {
		f := (v + 1) * 127.5
		if f <= 0 {
			return 0
		}
		if f >= 255 {
			return 255
		}
		return uint8(f + 0.5)
	}
	for y := range h {
		for x := range w {
			k := y*w + x
			o := y*img.Stride + 4*x
			img.Pix[o] = conv(src[k])
			img.Pix[o+1] = conv(src[plane+k])
			img.Pix[o+2] = conv(src[2*plane+k])
			img.Pix[o+3] = 255
		}
	}
	return img
}
