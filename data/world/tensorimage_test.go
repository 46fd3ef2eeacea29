package world

import (
	"image"
	"image/color"
	"testing"
)

// TestCHWRoundTrip checks the [-1, 1] mapping on hand-picked levels and that every 8-bit level survives
// a round trip, and that out-of-range values clamp.
func TestCHWRoundTrip(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := 0; i < 256; i++ {
		img.Set(i%16, i/16, color.RGBA{uint8(i), uint8(255 - i), uint8(i / 2), 255})
	}
	chw := make([]float32, 3*16*16)
	ImageToCHW(img, chw)
	if chw[0] != -1 || chw[256] != 1 || chw[255] != 1 {
		t.Fatalf("levels 0 and 255 map to %g, %g, %g; want -1, 1, 1", chw[0], chw[256], chw[255])
	}
	back := CHWToImage(chw, 16, 16)
	for i := range img.Pix {
		if img.Pix[i] != back.Pix[i] {
			t.Fatalf("byte %d: %d became %d", i, img.Pix[i], back.Pix[i])
		}
	}
	chw[0], chw[1] = 7, -7
	if c := CHWToImage(chw, 16, 16); c.Pix[0] != 255 || c.Pix[4] != 0 {
		t.Fatalf("out-of-range values not clamped: %d %d", c.Pix[0], c.Pix[4])
	}
}
