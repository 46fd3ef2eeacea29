package dataset

import (
	"bytes"
	"image"
	"image/color"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lumina-workbench/lumina/assets/fonts"
	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/world"
)

func mustAtlas(t *testing.T) *GlyphAtlas {
	t.Helper()
	a, err := Atlas()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Every character of a caption corpus the atlas was not built from has a glyph (another seed, so a
// character that only rare scenes produce is caught here rather than printed as '?').
func TestGlyphCoverage(t *testing.T) {
	a := mustAtlas(t)
	missing := map[rune]bool{}
	var zh, total int
	for _, s := range GlyphCorpus(2, 3000) {
		for _, r := range s {
			total++
			if isWide(r) {
				zh++
			}
			if !a.Has(r) {
				missing[r] = true
			}
		}
	}
	if zh < total/10 {
		t.Fatalf("corpus has %d CJK characters of %d: the Chinese captions are missing", zh, total)
	}
	if len(missing) > 0 {
		var rs []string
		for r := range missing {
			rs = append(rs, string(r))
		}
		slices.Sort(rs)
		t.Errorf("%d characters have no glyph: %s (run go run ./tools/genglyphs)", len(rs), strings.Join(rs, " "))
	}
	if len(fonts.AtlasPNG) > 400<<10 {
		t.Errorf("atlas is %d bytes, want a few hundred KB at most", len(fonts.AtlasPNG))
	}
}

// ink is the total coverage of a glyph's bitmap.
func ink(a *GlyphAtlas, r rune) int {
	g := a.Glyphs[r]
	s := 0
	for y := g.Src.Min.Y; y < g.Src.Max.Y; y++ {
		for x := g.Src.Min.X; x < g.Src.Max.X; x++ {
			s += int(a.Mask.AlphaAt(x, y).A)
		}
	}
	return s
}

func bitmap(a *GlyphAtlas, r rune) []byte {
	g := a.Glyphs[r]
	var b []byte
	for y := g.Src.Min.Y; y < g.Src.Max.Y; y++ {
		b = append(b, a.Mask.Pix[y*a.Mask.Stride+g.Src.Min.X:y*a.Mask.Stride+g.Src.Max.X]...)
	}
	return b
}

func TestGlyphAtlasContent(t *testing.T) {
	a := mustAtlas(t)
	if a.LineHeight < 10 || a.Ascent <= 0 || a.Ascent >= a.LineHeight {
		t.Fatalf("metrics: height %d ascent %d", a.LineHeight, a.Ascent)
	}
	// Real glyphs: a space is blank, letters and characters have ink, a complex character more than a
	// simple one, and no two characters share a bitmap.
	if ink(a, ' ') != 0 || a.Glyphs[' '].Advance <= 0 {
		t.Error("space has ink or no advance")
	}
	for _, r := range "Aa?圆形红" {
		if ink(a, r) < 255*5 {
			t.Errorf("%q has almost no ink (%d)", r, ink(a, r))
		}
	}
	if ink(a, '纵') <= ink(a, '一') && a.Has('纵') {
		t.Error("a complex character has no more ink than 一")
	}
	if a.Has('一') && ink(a, '角') <= ink(a, '一') {
		t.Error("角 has no more ink than 一")
	}
	if bytes.Equal(bitmap(a, '红'), bitmap(a, '绿')) || bytes.Equal(bitmap(a, 'b'), bitmap(a, 'd')) {
		t.Error("distinct characters share a bitmap")
	}
	// CJK characters are about twice as wide as Latin letters.
	if w, l := a.Glyphs['圆'].Advance, a.Glyphs['n'].Advance; w < l*3/2 {
		t.Errorf("圆 advance %d vs n %d", w, l)
	}
}

func TestGlyphAtlasParseErrors(t *testing.T) {
	for _, c := range []struct {
		idx, want string
	}{
		{"height 12 ascent 9\n65 0 0 1 1 0 0\n", "want 8 fields"},
		{"height x ascent 9\n", "bad metrics"},
		{"65 0 0 1 1 0 0 5\n", `no "height" line`},
		{"height 12 ascent 9\n65 0 0 9999 1 0 0 5\n", "outside"},
		{"height 12 ascent 9\n65 0 0 1 1 0 0 z\n", "field 8"},
	} {
		if _, err := ParseGlyphAtlas(fonts.AtlasPNG, []byte(c.idx)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.idx, err, c.want)
		}
	}
	if _, err := ParseGlyphAtlas([]byte("not png"), fonts.AtlasIndex); err == nil || !strings.Contains(err.Error(), "image") {
		t.Errorf("bad png: %v", err)
	}
}

func TestWrap(t *testing.T) {
	a := mustAtlas(t)
	en := "a large red circle sits in the top left corner, left of a small blue square on a gray background"
	zh := "左上角有一个大的红色圆形，在一个小的蓝色正方形的左边，背景是灰色。"
	// A word wider than the line is split where it must be; no letter is lost.
	if lines := a.Wrap("background", a.Width("background")/2); len(lines) < 2 || strings.Join(lines, "") != "background" {
		t.Errorf("long word: %q", lines)
	}
	for _, w := range []int{a.Width("background"), 100, 160} {
		lines := a.Wrap(en, w)
		if strings.Join(lines, " ") != en {
			t.Errorf("width %d: English lines %q do not rejoin", w, lines)
		}
		for _, l := range lines {
			if a.Width(l) > w && strings.Contains(l, " ") {
				t.Errorf("width %d: line %q is %d px", w, l, a.Width(l))
			}
		}
		lines = a.Wrap(zh, w)
		if strings.Join(lines, "") != zh {
			t.Errorf("width %d: Chinese lines %q do not rejoin", w, lines)
		}
		for i, l := range lines {
			// Closing punctuation may hang one glyph past the edge instead of starting a line.
			r, _ := utf8.DecodeRuneInString(l)
			if i > 0 && strings.ContainsRune("，。", r) {
				t.Errorf("width %d: line %d starts with %q", w, i, r)
			}
			if a.Width(l) > w+a.Glyphs['，'].Advance {
				t.Errorf("width %d: line %q is %d px", w, l, a.Width(l))
			}
		}
		if len(lines) < 2 && w < 200 {
			t.Errorf("width %d: Chinese not wrapped: %q", w, lines)
		}
	}
}

func TestDrawText(t *testing.T) {
	a := mustAtlas(t)
	img := image.NewRGBA(image.Rect(0, 0, 100, 30))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	end := a.Draw(img, 5, 2, "Hi 圆", color.RGBA{0, 0, 0, 255})
	if end != 5+a.Width("Hi 圆") {
		t.Errorf("pen ends at %d, want %d", end, 5+a.Width("Hi 圆"))
	}
	dark, outside := 0, 0
	for y := range 30 {
		for x := range 100 {
			if img.RGBAAt(x, y).R < 128 {
				dark++
				if x < 4 || x > end+1 || y < 2 || y >= 2+a.LineHeight {
					outside++
				}
			}
		}
	}
	if dark < 20 || outside > 0 {
		t.Errorf("%d dark pixels, %d outside the text box", dark, outside)
	}
}

func TestContactSheet(t *testing.T) {
	d := mustDataset(t, 3, 20)
	const n, tile, cols = 6, 64, 3
	sheet, err := ContactSheet(d, SheetOptions{N: n, Tile: tile, Cols: cols, Granularity: caption.Short})
	if err != nil {
		t.Fatal(err)
	}
	a := mustAtlas(t)
	if sheet.Rect.Dx() != cols*(tile+sheetPad)+sheetPad {
		t.Errorf("width %d", sheet.Rect.Dx())
	}
	cellH := (sheet.Rect.Dy() - sheetPad) / 2
	domains := map[world.Domain]bool{}
	for i := range n {
		x := sheetPad + (i%cols)*(tile+sheetPad)
		y := sheetPad + (i/cols)*cellH + a.LineHeight
		s, _ := d.Scene(i)
		s.Domain = world.Domain(i % world.NumDomains)
		var want *image.RGBA
		if i >= n-2 { // six tiles end with two dual panels: depth, then edge
			want, _ = world.RenderDualPanel(s, tile, tile, world.PanelKind(i-(n-2)))
		} else {
			want, _ = world.Render(s, tile, tile)
			domains[s.Domain] = true
		}
		got := sheet.SubImage(image.Rect(x, y, x+tile, y+tile)).(*image.RGBA)
		for yy := range tile {
			row := got.Pix[yy*got.Stride : yy*got.Stride+tile*4]
			if !bytes.Equal(row, want.Pix[yy*want.Stride:yy*want.Stride+tile*4]) {
				t.Fatalf("tile %d: row %d is not the render", i, yy)
			}
		}
		// Under the tile, English (near black) and Chinese (blue) text were drawn.
		var enInk, zhInk int
		for yy := y + tile; yy < (i/cols+1)*cellH+sheetPad; yy++ {
			for xx := x; xx < x+tile; xx++ {
				c := sheet.RGBAAt(xx, yy)
				if c.R < 80 && c.G < 80 && c.B < 80 {
					enInk++
				}
				if c.B > c.R+60 {
					zhInk++
				}
			}
		}
		if enInk < 20 || zhInk < 20 {
			t.Errorf("tile %d: English ink %d, Chinese ink %d", i, enInk, zhInk)
		}
	}
	if !domains[world.Flat] || !domains[world.Photo] {
		t.Errorf("sheet domains %v, want both", domains)
	}
	for _, o := range []SheetOptions{{N: 0}, {N: 65}, {N: 30}, {N: 2, Tile: 15}, {N: 2, Tile: 512}, {N: 2, Cols: -1}, {N: 2, Granularity: 9}} {
		if _, err := ContactSheet(d, o); err == nil || !strings.Contains(err.Error(), "contact sheet") {
			t.Errorf("%+v: err %v", o, err)
		}
	}
}
