package world

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/data/internal/raster"
)

func TestRenderRejectsBadSizes(t *testing.T) {
	s := Scene{Objects: []Object{{Shape: Circle, Colour: Red, Size: Medium, X: 0.5, Y: 0.5}}}
	for _, wh := range [][2]int{{15, 32}, {32, 15}, {0, 0}, {-32, 32}, {257, 64}, {64, 1000}} {
		img, err := Render(s, wh[0], wh[1])
		if err == nil || img != nil {
			t.Errorf("Render %dx%d: no error", wh[0], wh[1])
			continue
		}
		if !strings.Contains(err.Error(), "16..256") {
			t.Errorf("Render %dx%d: error %q does not state the allowed range", wh[0], wh[1], err)
		}
	}
	for _, wh := range [][2]int{{16, 16}, {256, 256}, {64, 32}, {17, 200}} {
		img, err := Render(s, wh[0], wh[1])
		if err != nil {
			t.Fatalf("Render %dx%d: %v", wh[0], wh[1], err)
		}
		if b := img.Bounds(); b.Dx() != wh[0] || b.Dy() != wh[1] {
			t.Fatalf("Render %dx%d gave %v", wh[0], wh[1], b)
		}
	}
	if _, err := Render(Scene{}, 32, 32); err == nil || !strings.Contains(err.Error(), "0 objects") {
		t.Errorf("empty scene: error %v", err)
	}
	bad := Scene{Objects: []Object{{Colour: Colour(9), X: 0.5, Y: 0.5}}}
	if _, err := Render(bad, 32, 32); err == nil {
		t.Error("out-of-range colour rendered without error")
	}
	if _, err := RenderDualPanel(s, 32, 33, MaskPanel); err == nil || !strings.Contains(err.Error(), "even") {
		t.Errorf("odd dual panel height: error %v", err)
	}
	if _, err := RenderDualPanel(s, 32, 300, MaskPanel); err == nil || !strings.Contains(err.Error(), "16..256") {
		t.Errorf("dual panel too tall: error %v", err)
	}
	if _, err := RenderDualPanel(s, 32, 32, PanelKind(7)); err == nil {
		t.Error("unknown panel kind accepted")
	}
}

func px(img *image.RGBA, x, y int) color.RGBA {
	i := img.PixOffset(x, y)
	return color.RGBA{img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3]}
}

// insideProbe returns a point well inside the object (in pixels) and whether its shape has one: the
// triangle's widest interior point is below the box centre.
func insideProbe(o Object, w, h int) (int, int) {
	x, y := o.X*float64(w), o.Y*float64(h)
	if o.Shape == Triangle {
		y += o.Size.Frac() * float64(min(w, h)) / 6
	}
	return int(x), int(y)
}

func TestRenderPaletteWhereObjectsAre(t *testing.T) {
	cfg := DefaultSamplerConfig()
	cfg.DegradeFrac = 0
	cfg.PhotoFrac = 0.5
	rng := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 300; i++ {
		s := SampleScene(rng, cfg)
		w, h := 32+16*(i%3), 32+16*((i/3)%3) // squares and rectangles
		img, err := Render(s, w, h)
		if err != nil {
			t.Fatal(err)
		}
		for j, o := range s.Objects {
			x, y := insideProbe(o, w, h)
			got := px(img, x, y)
			want := o.Colour.RGB()
			if s.Domain == Flat {
				if got != want {
					t.Fatalf("scene %d (%dx%d) object %d %s: pixel (%d,%d) = %v, want exactly %v", i, w, h, j, o.Shape, x, y, got, want)
				}
			} else if c := nearestColour(raster.RGB(got)); c != o.Colour {
				t.Fatalf("photo scene %d object %d: pixel %v reads as %s, want %s", i, j, got, c, o.Colour)
			}
		}
		// A corner far from every object shows the background.
		free := true
		for _, o := range s.Objects {
			if o.X < 0.4 && o.Y < 0.4 {
				free = false
			}
		}
		if free {
			got := raster.RGB(px(img, 1, 1))
			if d := raster.Dist(got, raster.RGB(s.Background.RGB())); (s.Domain == Flat && d != 0) || d > 25 {
				t.Fatalf("scene %d: corner pixel %v is %.1f from background %s", i, got, d, s.Background)
			}
		}
	}
}

func TestRenderDeterministicAndScaleConsistent(t *testing.T) {
	cfg := DefaultSamplerConfig()
	cfg.DegradeFrac = 1
	rng := rand.New(rand.NewPCG(2, 2))
	for i := 0; i < 50; i++ {
		s := SampleScene(rng, cfg)
		a, _ := Render(s, 48, 32)
		b, _ := Render(s, 48, 32)
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("scene %d renders differently twice", i)
		}
	}
	// The square of side e covers e² pixels (anti-aliasing keeps the sum exact up to rounding).
	s := Scene{Objects: []Object{{Shape: Square, Colour: White, Size: Large, X: 0.5, Y: 0.5}}}
	for _, n := range []int{16, 32, 64, 100} {
		img, _ := Render(s, n, n)
		var sum float64
		for y := 0; y < n; y++ {
			for x := 0; x < n; x++ {
				sum += (float64(px(img, x, y).R) - 15) / (240 - 15)
			}
		}
		e := 0.45 * float64(n)
		if math.Abs(sum-e*e) > 0.02*e*e+1 {
			t.Errorf("%d px: square covers %.1f px², want %.1f", n, sum, e*e)
		}
	}
}

func TestRenderShapesHaveTheirGeometry(t *testing.T) {
	// Coverage area against the closed form, for each shape, measured at 128 px.
	const n = 128
	for _, tc := range []struct {
		shape Shape
		area  func(e float64) float64
	}{
		{Circle, func(e float64) float64 { return math.Pi * e * e / 4 }},
		{Square, func(e float64) float64 { return e * e }},
		{Triangle, func(e float64) float64 { return e * e / 2 }},
	} {
		s := Scene{Objects: []Object{{Shape: tc.shape, Colour: White, Size: Medium, X: 0.5, Y: 0.5}}}
		img, _ := Render(s, n, n)
		var sum, top, bottom float64
		for y := 0; y < n; y++ {
			for x := 0; x < n; x++ {
				a := (float64(px(img, x, y).R) - 15) / (240 - 15)
				sum += a
				if y < n/2 {
					top += a
				} else {
					bottom += a
				}
			}
		}
		want := tc.area(0.3 * n)
		if math.Abs(sum-want) > 0.02*want {
			t.Errorf("%s: area %.1f, want %.1f", tc.shape, sum, want)
		}
		// Apex up: the lower half of the box holds 3/4 of the triangle.
		if tc.shape == Triangle && math.Abs(bottom/sum-0.75) > 0.02 {
			t.Errorf("triangle: lower half holds %.3f of the area, want 0.75", bottom/sum)
		}
		if tc.shape != Triangle && math.Abs(bottom-top) > 0.01*sum {
			t.Errorf("%s: top %.1f and bottom %.1f differ", tc.shape, top, bottom)
		}
	}
}

func TestRenderDegradationsChangePixels(t *testing.T) {
	base := Scene{Background: Black, Objects: []Object{{Shape: Square, Colour: Red, Size: Medium, X: 0.5, Y: 0.5}}}
	clean, _ := Render(base, 32, 32)
	for name, d := range map[string]Degradation{
		"noise": {Noise: 0.5}, "blur": {Blur: 0.5}, "clutter": {Clutter: 0.5},
	} {
		s := base
		s.Degradation = d
		img, _ := Render(s, 32, 32)
		changed := 0
		for i := range img.Pix {
			if img.Pix[i] != clean.Pix[i] {
				changed++
			}
		}
		if changed == 0 {
			t.Errorf("%s degradation changed no pixel", name)
		}
	}
	// Clutter greys are not palette colours and not the background.
	s := base
	s.Degradation.Clutter = 1
	img, _ := Render(s, 64, 64)
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			p := px(img, x, y)
			if p.R == p.G && p.G == p.B && p.R > 20 {
				if p.R >= 200 {
					t.Fatalf("clutter pixel %v could read as white", p)
				}
			}
		}
	}
}

func TestRenderDualPanel(t *testing.T) {
	s := Scene{Background: Gray, Domain: Photo, Objects: []Object{
		{Shape: Circle, Colour: Blue, Size: Large, X: 0.25, Y: 0.3},
		{Shape: Square, Colour: Yellow, Size: Small, X: 0.8, Y: 0.8},
	}}
	top, _ := Render(s, 64, 32)
	for _, kind := range []PanelKind{DepthPanel, EdgePanel, MaskPanel} {
		img, err := RenderDualPanel(s, 64, 64, kind)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(img.Pix[:len(top.Pix)], top.Pix) {
			t.Errorf("%s: upper half is not the 64×32 render", kind)
		}
		centre := px(img, 16, 32+10) // inside the large circle in the lower half
		small := px(img, 51, 32+26)  // inside the small square
		corner := px(img, 63, 32)
		switch kind {
		case DepthPanel:
			if !(centre.R > small.R && small.R > corner.R) {
				t.Errorf("depth: large %v, small %v, background %v: want large nearer (brighter) than small, background far", centre, small, corner)
			}
		case MaskPanel:
			if centre.R != 255 || small.R != 255 || corner.R != 0 {
				t.Errorf("mask: objects %v %v, background %v", centre, small, corner)
			}
		case EdgePanel:
			if centre.R != 0 || corner.R != 0 {
				t.Errorf("edge: interior %v and background %v should be black", centre, corner)
			}
			// The circle's left outline at x = 0.25·64 − 0.45·32/2 = 8.8.
			if edge := px(img, 8, 32+10); edge.R < 128 {
				t.Errorf("edge: outline pixel %v is dark", edge)
			}
		}
		k, err := ParsePanelKind(kind.String())
		if err != nil || k != kind {
			t.Errorf("ParsePanelKind(%q) = %v, %v", kind.String(), k, err)
		}
	}
	if _, err := ParsePanelKind("normals"); err == nil || !strings.Contains(err.Error(), "depth, edge, mask") {
		t.Errorf("ParsePanelKind(normals) error %v", err)
	}
}

// TestGaussianBlurMatchesDirectConvolution checks the separable float32 blur against a direct 2-D
// convolution in float64 over the same square 3σ window with clamped edges, so a mistake in either pass
// shows.
func TestGaussianBlurMatchesDirectConvolution(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const w, h = 19, 13
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	for _, sigma := range []float64{0.7, 1, 2.5} {
		got := GaussianBlur(img, sigma)
		rad := int(math.Ceil(3 * sigma))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for ch := 0; ch < 3; ch++ {
					var sum, norm float64
					for dy := -rad; dy <= rad; dy++ {
						for dx := -rad; dx <= rad; dx++ {
							k := math.Exp(-float64(dx*dx+dy*dy) / (2 * sigma * sigma))
							xx := min(max(x+dx, 0), w-1)
							yy := min(max(y+dy, 0), h-1)
							sum += k * float64(img.Pix[img.PixOffset(xx, yy)+ch])
							norm += k
						}
					}
					want := sum / norm
					if d := math.Abs(float64(got.Pix[got.PixOffset(x, y)+ch]) - want); d > 0.51 {
						t.Fatalf("σ=%g (%d,%d,%d): got %d, want %.2f", sigma, x, y, ch, got.Pix[got.PixOffset(x, y)+ch], want)
					}
				}
				if got.Pix[got.PixOffset(x, y)+3] != img.Pix[img.PixOffset(x, y)+3] {
					t.Fatal("alpha changed")
				}
			}
		}
	}
	same := GaussianBlur(img, 0)
	if !bytes.Equal(same.Pix, img.Pix) || &same.Pix[0] == &img.Pix[0] {
		t.Error("σ = 0 must return an unblurred copy")
	}
}

// TestDumpRenders writes sample PNGs for a person to look at when LUMINA_DUMP_DIR is set.
func TestDumpRenders(t *testing.T) {
	dir := os.Getenv("LUMINA_DUMP_DIR")
	if dir == "" {
		t.Skip("set LUMINA_DUMP_DIR to write sample renders")
	}
	cfg := DefaultSamplerConfig()
	cfg.PhotoFrac = 0.5
	cfg.DegradeFrac = 0.4
	rng := rand.New(rand.NewPCG(1, 1))
	const n, side = 8, 64
	sheet := image.NewRGBA(image.Rect(0, 0, n*side, n*side))
	for i := 0; i < n*n; i++ {
		s := SampleScene(rng, cfg)
		var img *image.RGBA
		var err error
		if i%8 == 7 {
			img, err = RenderDualPanel(s, side, side, PanelKind(i/8%3))
		} else {
			img, err = Render(s, side, side)
		}
		if err != nil {
			t.Fatal(err)
		}
		ox, oy := (i%n)*side, (i/n)*side
		for y := 0; y < side; y++ {
			copy(sheet.Pix[sheet.PixOffset(ox, oy+y):sheet.PixOffset(ox+side, oy+y)], img.Pix[img.PixOffset(0, y):img.PixOffset(side, y)])
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, sheet); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "renders.png"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// nearestColour is the plain nearest palette colour, for checking single pixels.
func nearestColour(p [3]float64) Colour {
	best, bestD := Colour(0), math.Inf(1)
	for i := range NumColours {
		if d := raster.Dist(p, raster.RGB(Colour(i).RGB())); d < bestD {
			best, bestD = Colour(i), d
		}
	}
	return best
}
