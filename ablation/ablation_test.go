package ablation

import (
	"image"
	"math"
	"testing"
)

func TestMSEAndPSNR(t *testing.T) {
	a := image.NewRGBA(image.Rect(0, 0, 2, 1))
	b := image.NewRGBA(image.Rect(0, 0, 2, 1))
	b.Pix[0] = 255 // one channel of six differs by 1.0
	if got := MSE(a, b); math.Abs(got-1.0/6) > 1e-12 {
		t.Fatalf("MSE %g, want 1/6", got)
	}
	if got := psnr(1.0 / 6); math.Abs(got-10*math.Log10(6)) > 1e-9 {
		t.Fatalf("PSNR %g", got)
	}
}

// Two of the six RGB values sit at the ends of the range; alpha does not count.
func TestClipped(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	copy(img.Pix, []uint8{0, 128, 255, 255, 10, 20, 30, 0})
	if got := Clipped(img); math.Abs(got-2.0/6) > 1e-12 {
		t.Fatalf("Clipped %g, want 1/3", got)
	}
}

// Neighbours in a 2×2 image: each channel of the top row differs by 255 from the row below, and not
// within a row: 6 vertical differences of 1, 6 horizontal of 0, so 0.5.
func TestSharpness(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	for i := 0; i < 8; i++ {
		img.Pix[i] = 255
	}
	if got := Sharpness(img); math.Abs(got-0.5) > 1e-12 {
		t.Fatalf("Sharpness %g, want 0.5", got)
	}
}
