package imgview

import (
	"image"
	"image/color"
	"math"
	"testing"
)

// A 2×1 pair differing by 10 in one red value: MSE = 10²/(2 px · 3 channels) = 100/6, so
// PSNR = 10·log10(65025 · 6 / 100) = 10·log10(3901.5) = 35.9123 dB.
func TestPSNRHandComputed(t *testing.T) {
	a := image.NewRGBA(image.Rect(0, 0, 2, 1))
	b := image.NewRGBA(image.Rect(0, 0, 2, 1))
	for x := range 2 {
		a.SetRGBA(x, 0, color.RGBA{0, 0, 0, 255})
		b.SetRGBA(x, 0, color.RGBA{0, 0, 0, 10}) // alpha does not count
	}
	b.SetRGBA(1, 0, color.RGBA{10, 0, 0, 255})
	got, err := PSNR(a, b)
	if err != nil || math.Abs(got-35.9123) > 1e-4 {
		t.Errorf("PSNR = %v, %v; want 35.9123", got, err)
	}
	if same, _ := PSNR(a, a); !math.IsInf(same, 1) {
		t.Errorf("identical images: %v, want +Inf", same)
	}
	if _, err := PSNR(a, image.NewRGBA(image.Rect(0, 0, 1, 2))); err == nil {
		t.Error("different sizes accepted")
	}
}

func TestMosaicLayout(t *testing.T) {
	img := func(side int, c uint8) image.Image {
		m := image.NewRGBA(image.Rect(0, 0, side, side))
		for i := range m.Pix {
			m.Pix[i] = c
		}
		return m
	}
	for _, c := range []struct{ n, w, h int }{{2, 2*16 + 2, 16}, {4, 4*16 + 3*2, 16}, {5, 3*16 + 2*2, 2*16 + 2}, {9, 3*16 + 2*2, 3*16 + 2*2}} {
		imgs := make([]image.Image, c.n)
		for i := range imgs {
			imgs[i] = img(8+8*(i%2), uint8(10*i+10))
		}
		out := Mosaic(imgs)
		if out.Rect.Dx() != c.w || out.Rect.Dy() != c.h {
			t.Errorf("%d images: %v, want %dx%d", c.n, out.Rect, c.w, c.h)
		}
		// The last image's top-left pixel, and a gap pixel after the first.
		cols := (c.w + 2) / 18
		last := c.n - 1
		if p := out.RGBAAt((last%cols)*18, (last/cols)*18); p.R != uint8(10*last+10) {
			t.Errorf("%d images: last image misplaced, pixel %v", c.n, p)
		}
		if p := out.RGBAAt(16, 0); p.R != 0 || p.A != 255 {
			t.Errorf("%d images: gap pixel %v, want opaque black", c.n, p)
		}
	}
}
