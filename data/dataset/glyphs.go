package dataset

// Text drawing from the embedded glyph atlas (assets/fonts), so the contact sheet can print Chinese
// captions without a system font.

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/lumina-workbench/lumina/assets/fonts"
	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/data/world"
)

// Glyph is one character in the atlas: its bitmap's rectangle in the atlas, where that bitmap goes
// relative to the pen (x) and the top of the line (y), and how far the pen then moves.
type Glyph struct {
	Rune    rune
	Src     image.Rectangle
	DX, DY  int
	Advance int
}

// GlyphAtlas is a parsed atlas: a coverage mask and the glyphs in it.
type GlyphAtlas struct {
	Mask       *image.Alpha
	Glyphs     map[rune]Glyph
	LineHeight int
	Ascent     int
}

// ParseGlyphAtlas reads an atlas image (grey level = coverage) and its index. The index is text:
// lines starting with '#' are comments; "height H ascent A" sets the line metrics; every other line is
// "RUNE X Y W H DX DY ADVANCE" with RUNE in decimal.
func ParseGlyphAtlas(pngData, index []byte) (*GlyphAtlas, error) {
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return nil, fmt.Errorf("glyph atlas image: %w", err)
	}
	b := img.Bounds()
	mask := image.NewAlpha(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			g := color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
			mask.Pix[y*mask.Stride+x] = g.Y
		}
	}
	a := &GlyphAtlas{Mask: mask, Glyphs: map[rune]Glyph{}}
	sc := bufio.NewScanner(bytes.NewReader(index))
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Fields(t)
		if f[0] == "height" {
			if len(f) != 4 || f[2] != "ascent" {
				return nil, fmt.Errorf("glyph index line %d: want \"height H ascent A\"", line)
			}
			if a.LineHeight, err = strconv.Atoi(f[1]); err == nil {
				a.Ascent, err = strconv.Atoi(f[3])
			}
			if err != nil || a.LineHeight <= 0 {
				return nil, fmt.Errorf("glyph index line %d: bad metrics %q", line, t)
			}
			continue
		}
		if len(f) != 8 {
			return nil, fmt.Errorf("glyph index line %d: want 8 fields, got %d", line, len(f))
		}
		var v [8]int
		for i, s := range f {
			if v[i], err = strconv.Atoi(s); err != nil {
				return nil, fmt.Errorf("glyph index line %d: field %d: %w", line, i+1, err)
			}
		}
		g := Glyph{Rune: rune(v[0]), Src: image.Rect(v[1], v[2], v[1]+v[3], v[2]+v[4]), DX: v[5], DY: v[6], Advance: v[7]}
		if !g.Src.In(mask.Rect) && !g.Src.Empty() {
			return nil, fmt.Errorf("glyph index line %d: rune %q lies outside the %v atlas", line, g.Rune, mask.Rect.Size())
		}
		a.Glyphs[g.Rune] = g
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("glyph index: %w", err)
	}
	if a.LineHeight == 0 {
		return nil, fmt.Errorf("glyph index: no \"height\" line")
	}
	return a, nil
}

var (
	atlasOnce sync.Once
	atlas     *GlyphAtlas
	atlasErr  error
)

// Atlas returns the embedded atlas, parsed on first use.
func Atlas() (*GlyphAtlas, error) {
	atlasOnce.Do(func() {
		atlas, atlasErr = ParseGlyphAtlas(fonts.AtlasPNG, fonts.AtlasIndex)
		if atlasErr != nil {
			atlasErr = fmt.Errorf("embedded glyph atlas (regenerate with go run ./tools/genglyphs): %w", atlasErr)
		}
	})
	return atlas, atlasErr
}

// glyph finds r, falling back to '?' so that a character missing from the atlas shows as a mark
// rather than vanishing (the glyph test keeps the captioner's characters all present).
func (a *GlyphAtlas) glyph(r rune) Glyph {
	if g, ok := a.Glyphs[r]; ok {
		return g
	}
	if unicode.IsSpace(r) {
		return a.Glyphs[' ']
	}
	return a.Glyphs['?']
}

// Has reports whether r has its own glyph.
func (a *GlyphAtlas) Has(r rune) bool { _, ok := a.Glyphs[r]; return ok }

// Width is the advance of s in pixels.
func (a *GlyphAtlas) Width(s string) int {
	w := 0
	for _, r := range s {
		w += a.glyph(r).Advance
	}
	return w
}

// Draw writes s with its line top at (x, y) in colour c and returns the pen's final x.
func (a *GlyphAtlas) Draw(dst draw.Image, x, y int, s string, c color.Color) int {
	src := image.NewUniform(c)
	for _, r := range s {
		g := a.glyph(r)
		if !g.Src.Empty() {
			at := image.Rect(x+g.DX, y+g.DY, x+g.DX+g.Src.Dx(), y+g.DY+g.Src.Dy())
			draw.DrawMask(dst, at, src, image.Point{}, a.Mask, g.Src.Min, draw.Over)
		}
		x += g.Advance
	}
	return x
}

// Wrap breaks s into lines at most maxWidth pixels wide. Latin text breaks at spaces; Chinese breaks
// between any two characters, but never puts a closing punctuation mark at the start of a line. A
// word wider than a line is split wherever it must be.
func (a *GlyphAtlas) Wrap(s string, maxWidth int) []string {
	var lines []string
	var cur []rune
	curW := 0
	lastBreak := -1 // index in cur after which a break may go
	flush := func(upto int) {
		lines = append(lines, strings.TrimRight(string(cur[:upto]), " "))
		rest := cur[upto:]
		for len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:]
		}
		cur = append([]rune(nil), rest...)
		curW = a.Width(string(cur))
		lastBreak = -1
		for i, r := range cur {
			if r == ' ' || isWide(r) {
				lastBreak = i
			}
		}
	}
	for _, r := range s {
		if r == '\n' {
			flush(len(cur))
			continue
		}
		w := a.glyph(r).Advance
		// Closing punctuation hangs past the edge rather than starting a line.
		hang := strings.ContainsRune(closingPunct, r)
		if curW+w > maxWidth && len(cur) > 0 && r != ' ' && !hang {
			switch {
			case isWide(r):
				flush(len(cur))
			case lastBreak >= 0:
				flush(lastBreak + 1)
			default:
				flush(len(cur))
			}
		}
		cur = append(cur, r)
		curW += w
		if r == ' ' || isWide(r) {
			lastBreak = len(cur) - 1
		}
	}
	if len(cur) > 0 || len(lines) == 0 {
		lines = append(lines, strings.TrimRight(string(cur), " "))
	}
	return lines
}

// closingPunct never starts a line.
const closingPunct = "，。、；：！？）”』」…,.;:!?)"

// isWide reports whether r is a CJK character or full-width mark, after which a line may break.
func isWide(r rune) bool {
	return unicode.Is(unicode.Han, r) || (r >= 0x3000 && r <= 0x303f) || (r >= 0xff00 && r <= 0xffef) || r == '…' || r == '“' || r == '”'
}

// GlyphCorpus is every kind of text the workbench draws: for n scenes sampled from seed, the captions at
// every granularity and perspective in both languages and the weak captioner's; n lines of the text
// encoder's caption corpus; the vocabulary in both languages, the system prompts and the ToyEval
// prompts. tools/genglyphs builds the atlas from it; the glyph test checks another seed.
func GlyphCorpus(seed uint64, n int) []string {
	var out []string
	cfg := world.DefaultSamplerConfig()
	rng := rand.New(rand.NewPCG(seed, 0x61797068))
	weak := caption.WeakCaptioner{ErrorRate: 0.3, OmissionRate: 0.2}
	for range n {
		s := world.SampleScene(rng, cfg)
		for l := range caption.NumLangs {
			for g := range caption.NumGranularities {
				out = append(out, caption.Write(s, caption.Granularity(g), caption.Lang(l), rng))
			}
			for p := range caption.NumPerspectives {
				out = append(out, caption.WritePerspective(s, caption.Perspective(p), caption.Lang(l), rng))
			}
		}
		out = append(out, weak.Caption(s, rng))
	}
	out = append(out, caption.Corpus(n, seed)...)
	for t := range caption.NumTemplates {
		out = append(out, caption.SystemPrompt(caption.Template(t)))
	}
	for k := range world.NumPanelKinds {
		out = append(out, caption.DualPanelSystemPrompt(caption.PanelPromptKind(world.PanelKind(k))))
	}
	for i := range world.NumColours {
		out = append(out, world.Colour(i).String(), world.Colour(i).Zh())
	}
	for i := range world.NumShapes {
		out = append(out, world.Shape(i).String(), world.Shape(i).Plural(), world.Shape(i).Zh())
	}
	for i := range world.NumSizes {
		out = append(out, world.Size(i).String(), world.Size(i).Zh())
	}
	for i := range world.NumCells {
		out = append(out, world.Cell(i).String(), world.Cell(i).Zh())
	}
	for i := range world.NumBackgrounds {
		out = append(out, world.Background(i).String(), world.Background(i).Zh())
	}
	for i := range world.NumRelationKinds {
		out = append(out, world.RelationKind(i).String(), world.RelationKind(i).Zh())
	}
	all, _ := toyeval.Suite("all") // "all" always exists
	for _, p := range all {
		out = append(out, p.Text)
	}
	return out
}
