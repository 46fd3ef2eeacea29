package imgview

import (
	"bytes"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/termcap"
	"github.com/mattn/go-sixel"
)

// Palette colours from the product spec, easy to recognise in failures.
var (
	red    = color.RGBA{220, 40, 40, 255}
	green  = color.RGBA{40, 180, 70, 255}
	blue   = color.RGBA{40, 90, 230, 255}
	yellow = color.RGBA{235, 215, 40, 255}
	white  = color.RGBA{240, 240, 240, 255}
	black  = color.RGBA{15, 15, 15, 255}
	purple = color.RGBA{150, 60, 210, 255}
	cyan   = color.RGBA{40, 205, 215, 255}
)

// grid builds an image from rows of colours.
func grid(rows ...[]color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, len(rows[0]), len(rows)))
	for y, r := range rows {
		for x, c := range r {
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func checkPixels(t *testing.T, name string, got *image.RGBA, want [][]color.RGBA) {
	t.Helper()
	if got.Rect != image.Rect(0, 0, len(want[0]), len(want)) {
		t.Fatalf("%s: bounds %v, want %dx%d", name, got.Rect, len(want[0]), len(want))
	}
	for y, row := range want {
		for x, c := range row {
			if g := got.RGBAAt(x, y); g != c {
				t.Errorf("%s: pixel (%d,%d) = %v, want %v", name, x, y, g, c)
			}
		}
	}
}

func TestScaleNearestUp(t *testing.T) {
	src := grid(
		[]color.RGBA{red, green},
		[]color.RGBA{blue, white},
	)
	// 5x4 box: factor min(5/2, 4/2) = 2.
	r, g, b, w := red, green, blue, white
	checkPixels(t, "2x2 in 5x4", ScaleNearest(src, 5, 4), [][]color.RGBA{
		{r, r, g, g},
		{r, r, g, g},
		{b, b, w, w},
		{b, b, w, w},
	})
	// Exactly fitting box leaves the image alone.
	checkPixels(t, "2x2 in 3x3", ScaleNearest(src, 3, 3), [][]color.RGBA{{r, g}, {b, w}})

	// 3x1 in a 7x100 box: width limits, factor 2.
	wide := grid([]color.RGBA{red, green, blue})
	checkPixels(t, "3x1 in 7x100", ScaleNearest(wide, 7, 100), [][]color.RGBA{
		{r, r, g, g, b, b},
		{r, r, g, g, b, b},
	})
}

func TestScaleNearestDown(t *testing.T) {
	y, p, c, k := yellow, purple, cyan, black
	r, g, b, w := red, green, blue, white
	src := grid(
		[]color.RGBA{r, g, b, w},
		[]color.RGBA{y, p, c, k},
		[]color.RGBA{w, b, g, r},
		[]color.RGBA{k, c, p, y},
	)
	// 4x4 into 2x3: width limits → 2x2, sampling source 1 and 3 (centres of
	// the 2-pixel footprints, floor((x+0.5)*2)).
	checkPixels(t, "4x4 in 2x3", ScaleNearest(src, 2, 3), [][]color.RGBA{
		{p, k},
		{c, y},
	})
	// 4x4 into 3x3: factor 4/3, source floor((x+0.5)*4/3) = 0, 2, 3.
	checkPixels(t, "4x4 in 3x3", ScaleNearest(src, 3, 3), [][]color.RGBA{
		{r, b, w},
		{w, g, r},
		{k, p, y},
	})
}

func TestScaleNearestOffsetBoundsAndEmpty(t *testing.T) {
	big := grid(
		[]color.RGBA{black, black, black},
		[]color.RGBA{black, red, green},
	)
	sub := big.SubImage(image.Rect(1, 1, 3, 2)) // [red green], Min = (1,1)
	checkPixels(t, "subimage", ScaleNearest(sub, 4, 2), [][]color.RGBA{
		{red, red, green, green},
		{red, red, green, green},
	})
	for _, c := range []struct{ w, h int }{{0, 5}, {5, 0}, {-1, 3}} {
		if got := ScaleNearest(big, c.w, c.h); !got.Rect.Empty() {
			t.Errorf("box %dx%d: got %v, want empty", c.w, c.h, got.Rect)
		}
	}
	if got := ScaleNearest(nil, 4, 4); !got.Rect.Empty() {
		t.Errorf("nil image: got %v", got.Rect)
	}
}

// Scaling a paletted image keeps every index, even where the palette holds
// the same colour more than once (here every entry is black).
func TestScalePalettedKeepsIndices(t *testing.T) {
	src := image.NewPaletted(image.Rect(0, 0, 16, 16), make(color.Palette, 256))
	for i := range src.Palette {
		src.Palette[i] = color.Black
	}
	for i := range src.Pix {
		src.Pix[i] = uint8(i)
	}
	out := scalePaletted(src, 48, 48)
	for y := range 48 {
		for x := range 48 {
			if got, want := out.ColorIndexAt(x, y), uint8(16*(y/3)+x/3); got != want {
				t.Fatalf("index at (%d,%d) = %d, want %d", x, y, got, want)
			}
		}
	}
}

// goSixel is the reference encoding, straight from go-sixel.
func goSixel(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := sixel.NewEncoder(&b).Encode(img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSixelSequenceExact(t *testing.T) {
	src := grid(
		[]color.RGBA{red, green},
		[]color.RGBA{blue, white},
	)
	box := Box{Col: 3, Row: 2, Cols: 2, Rows: 1}
	cell := termcap.CellSize{W: 4, H: 8}
	// Box pixels: 8 wide, 8 high rounded down to a whole sixel band: 6.
	// 2x2 fits with factor min(8/2, 6/2) = 3 → 6x6, built here by hand.
	hand := image.NewRGBA(image.Rect(0, 0, 6, 6))
	for y := range 6 {
		for x := range 6 {
			hand.SetRGBA(x, y, [2][2]color.RGBA{{red, green}, {blue, white}}[y/3][x/3])
		}
	}
	want := []byte("\x1b7\x1b[3;4H") // save cursor; row 2+1, col 3+1
	want = append(want, goSixel(t, hand)...)
	want = append(want, "\x1b8"...)

	got := SixelSequence(src, box, cell)
	if !bytes.Equal(got, want) {
		t.Fatalf("SixelSequence:\n got %q\nwant %q", got, want)
	}
	if !bytes.Equal(SixelSequence(src, box, cell), got) {
		t.Error("SixelSequence is not deterministic")
	}

	// Decode the middle back and compare pixels: go-sixel stores colours
	// in percent, so allow the rounding that costs.
	mid := got[len("\x1b7\x1b[3;4H") : len(got)-len("\x1b8")]
	var dec image.Image
	if err := sixel.NewDecoder(bytes.NewReader(mid)).Decode(&dec); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if dec.Bounds().Dx() != 6 || dec.Bounds().Dy() != 6 {
		t.Fatalf("decoded %v, want 6x6", dec.Bounds())
	}
	for y := range 6 {
		for x := range 6 {
			gr, gg, gb, _ := dec.At(x, y).RGBA()
			w := hand.RGBAAt(x, y)
			if d := max(absDiff(gr>>8, w.R), absDiff(gg>>8, w.G), absDiff(gb>>8, w.B)); d > 3 {
				t.Errorf("decoded pixel (%d,%d) = %d,%d,%d, want %v", x, y, gr>>8, gg>>8, gb>>8, w)
			}
		}
	}
}

func absDiff(a uint32, b uint8) uint32 {
	if a > uint32(b) {
		return a - uint32(b)
	}
	return uint32(b) - a
}

// One red pixel, the whole wire format written out by hand: DECSC, CUP,
// DCS 0;0;8 q, raster 1;1;1;1, register 0 (go-sixel's transparent slot),
// register 1 = red in percent (220→86, 40→15), select 1, sixel '@' (bit 0:
// the top pixel of the band), ST, DECRC.
func TestSixelSequenceWire(t *testing.T) {
	got := SixelSequence(grid([]color.RGBA{red}), Box{Cols: 1, Rows: 1}, termcap.CellSize{W: 1, H: 6})
	want := "\x1b7\x1b[1;1H\x1bP0;0;8q\"1;1;1;1#0;2;0;0;0#1;2;86;15;15#1@\x1b\\\x1b8"
	if string(got) != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestSixelSequenceNothingToPaint(t *testing.T) {
	img := grid([]color.RGBA{red})
	cell := termcap.DefaultCellSize
	for _, b := range []Box{{Cols: 0, Rows: 3}, {Cols: 3, Rows: 0}, {Col: -1, Cols: 2, Rows: 2}} {
		if got := SixelSequence(img, b, cell); got != nil {
			t.Errorf("box %+v: got %q, want nil", b, got)
		}
	}
	if got := SixelSequence(nil, Box{Cols: 2, Rows: 2}, cell); got != nil {
		t.Errorf("nil image: got %q", got)
	}
	if got := SixelSequence(img, Box{Cols: 2, Rows: 2}, termcap.CellSize{}); got != nil {
		t.Errorf("zero cell: got %q", got)
	}
}

func TestBlankSequence(t *testing.T) {
	got := string(BlankSequence(Box{Col: 4, Row: 1, Cols: 3, Rows: 2}))
	want := "\x1b7\x1b[2;5H\x1b[3X\x1b[3;5H\x1b[3X\x1b8"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHalfBlockExact(t *testing.T) {
	// 2 wide, 4 tall → 2 cols x 2 rows, no scaling.
	img := grid(
		[]color.RGBA{red, green},
		[]color.RGBA{blue, white},
		[]color.RGBA{yellow, yellow},
		[]color.RGBA{black, black},
	)
	want := "\x1b[38;2;220;40;40;48;2;40;90;230m▀\x1b[38;2;40;180;70;48;2;240;240;240m▀\x1b[m\n" +
		"\x1b[38;2;235;215;40;48;2;15;15;15m▀▀\x1b[m"
	if got := HalfBlock(img, 2, 2); got != want {
		t.Errorf("HalfBlock 2x4:\n got %q\nwant %q", got, want)
	}
}

func TestHalfBlockPadding(t *testing.T) {
	// 1x3 in 2 cols x 2 rows (2x4 pixels): factor 1; the second column is
	// blank, and the last cell has an upper pixel only.
	img := grid([]color.RGBA{red}, []color.RGBA{green}, []color.RGBA{blue})
	want := "\x1b[38;2;220;40;40;48;2;40;180;70m▀\x1b[m \n" +
		"\x1b[38;2;40;90;230m▀\x1b[m "
	if got := HalfBlock(img, 2, 2); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Going from a two-colour cell to an upper-only cell must drop the
	// background: 2x3 image, 2 cols x 2 rows, second row's cells are
	// upper-only but identical, so one SGR.
	img = grid([]color.RGBA{red, red}, []color.RGBA{blue, green}, []color.RGBA{white, white})
	want = "\x1b[38;2;220;40;40;48;2;40;90;230m▀\x1b[38;2;220;40;40;48;2;40;180;70m▀\x1b[m\n" +
		"\x1b[38;2;240;240;240m▀▀\x1b[m"
	if got := HalfBlock(img, 2, 2); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// A 3x3 image in 3 cols x 2 rows: two-colour cells, then a line of
	// upper-only cells after the reset at the line's end.
	img = grid([]color.RGBA{red, green, blue}, []color.RGBA{white, white, white}, []color.RGBA{cyan, cyan, cyan})
	want = "\x1b[38;2;220;40;40;48;2;240;240;240m▀\x1b[38;2;40;180;70;48;2;240;240;240m▀\x1b[38;2;40;90;230;48;2;240;240;240m▀\x1b[m\n" +
		"\x1b[38;2;40;205;215m▀▀▀\x1b[m"
	if got := HalfBlock(img, 3, 2); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// Every output is exactly rows lines of exactly cols cells, whatever the
// image's shape.
func TestHalfBlockShape(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {3, 7}, {64, 64}, {100, 10}, {5, 40}} {
		img := image.NewRGBA(image.Rect(0, 0, sz[0], sz[1]))
		for i := range img.Pix {
			img.Pix[i] = byte(i * 37)
		}
		for _, box := range [][2]int{{1, 1}, {7, 3}, {32, 16}, {40, 5}} {
			s := HalfBlock(img, box[0], box[1])
			lines := strings.Split(s, "\n")
			if len(lines) != box[1] {
				t.Fatalf("image %v box %v: %d lines", sz, box, len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w != box[0] {
					t.Fatalf("image %v box %v: line %d is %d cells wide", sz, box, i, w)
				}
			}
		}
	}
	if HalfBlock(image.NewRGBA(image.Rect(0, 0, 2, 2)), 0, 3) != "" {
		t.Error("zero columns should render nothing")
	}
}

// gradient has far more than 256 colours, so go-sixel quantises it.
func gradient(n int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	for y := range n {
		for x := range n {
			img.SetRGBA(x, y, color.RGBA{uint8(4 * x), uint8(4 * y), uint8(2 * (x + y)), 255})
		}
	}
	return img
}

func TestSixelSequenceDeterministicQuantised(t *testing.T) {
	box, cell := Box{Col: 1, Row: 1, Cols: 32, Rows: 16}, termcap.CellSize{W: 8, H: 17}
	a := SixelSequence(gradient(64), box, cell)
	b := SixelSequence(gradient(64), box, cell)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("quantised encoding differs between runs (%d vs %d bytes)", len(a), len(b))
	}
}

// The many-colour path quantises the source and then upscales: decoded, the
// picture is made of uniform 4x4 blocks close to the source's colours.
func TestSixelSequenceQuantisedPixels(t *testing.T) {
	src := gradient(64)
	box, cell := Box{Cols: 32, Rows: 16}, termcap.CellSize{W: 8, H: 17}
	seq := SixelSequence(src, box, cell)
	mid := seq[len("\x1b7\x1b[1;1H") : len(seq)-len("\x1b8")]
	var dec image.Image
	if err := sixel.NewDecoder(bytes.NewReader(mid)).Decode(&dec); err != nil {
		t.Fatalf("decode: %v", err)
	}
	// 256x270 px box: factor min(256/64, 270/64) = 4.
	if dec.Bounds() != image.Rect(0, 0, 256, 256) {
		t.Fatalf("decoded %v, want 256x256", dec.Bounds())
	}
	var sum, n float64
	for y := range 256 {
		for x := range 256 {
			if dec.At(x, y) != dec.At(x/4*4, y/4*4) {
				t.Fatalf("pixel (%d,%d) differs from its block's corner", x, y)
			}
			r, g, b, _ := dec.At(x, y).RGBA()
			w := src.RGBAAt(x/4, y/4)
			sum += float64(absDiff(r>>8, w.R) + absDiff(g>>8, w.G) + absDiff(b>>8, w.B))
			n += 3
		}
	}
	t.Logf("mean colour error %.2f", sum/n)
	if mean := sum / n; mean > 6 {
		t.Errorf("mean colour error %.2f per channel, want <= 6", mean)
	}
}

func BenchmarkSixelSequence64(b *testing.B) {
	img := gradient(64)
	box, cell := Box{Col: 1, Row: 1, Cols: 32, Rows: 16}, termcap.CellSize{W: 10, H: 20}
	var n int
	for b.Loop() {
		n = len(SixelSequence(img, box, cell))
	}
	b.ReportMetric(float64(n), "bytes/op")
}

func BenchmarkHalfBlock64(b *testing.B) {
	img := gradient(64)
	for b.Loop() {
		_ = HalfBlock(img, 32, 16)
	}
}
