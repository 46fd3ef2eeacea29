package dataset

// The contact sheet: a grid of renders from a dataset, flat and photo domains and dual panels, each with
// its captions in English and Chinese underneath — the quickest way to see what the model will train on.
// Its layout (LayoutSheet) also lays out a sweep's images.

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"

	xdraw "golang.org/x/image/draw"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/world"
)

// SheetOptions lays out a contact sheet.
type SheetOptions struct {
	// N is the number of tiles (1..MaxSheetTiles).
	N int
	// Tile is the side of each render in pixels (MinRenderSide..MaxRenderSide); 0 means 160.
	Tile int
	// Cols is the number of tiles per row; 0 means min(N, 4).
	Cols int
	// Granularity of the captions drawn under each tile.
	Granularity caption.Granularity
}

// MaxSheetTiles bounds a sheet to what is worth looking at in one image.
const MaxSheetTiles = 64

const (
	sheetPad     = 8
	sheetTextGap = 4
)

var (
	sheetBackground = color.RGBA{250, 250, 248, 255}
	sheetLabel      = color.RGBA{110, 110, 110, 255}
	sheetEnglish    = color.RGBA{20, 20, 20, 255}
	sheetChinese    = color.RGBA{30, 60, 140, 255}
)

// SheetTile is what one tile of a sheet shows: a label above the image, lines of text under it.
type SheetTile struct {
	Image image.Image
	Label string
	// Lines are drawn under the image, those from index Second on in the second text colour (a contact
	// sheet's Chinese captions) after a small gap; Second ≥ len(Lines) draws them all in the first.
	Lines  []string
	Second int
}

// ContactSheet renders the first N items of d. Tiles alternate between the flat and photo domains (the
// item's scene with its domain set), and the last tiles of a sheet of three or more are dual panels
// (depth map, then edge map), so one sheet shows every kind of image the model trains on.
func ContactSheet(d *Dataset, opt SheetOptions) (*image.RGBA, error) {
	if opt.N < 1 || opt.N > MaxSheetTiles {
		return nil, fmt.Errorf("contact sheet: %d tiles outside 1..%d", opt.N, MaxSheetTiles)
	}
	if opt.N > d.Len() {
		return nil, fmt.Errorf("contact sheet: %d tiles from a %d-item dataset", opt.N, d.Len())
	}
	if opt.Tile == 0 {
		opt.Tile = 160
	}
	if opt.Tile < world.MinRenderSide || opt.Tile > world.MaxRenderSide || opt.Tile%2 != 0 {
		return nil, fmt.Errorf("contact sheet: tile side %d must be even and in %d..%d", opt.Tile, world.MinRenderSide, world.MaxRenderSide)
	}
	if opt.Cols == 0 {
		opt.Cols = min(opt.N, 4)
	}
	if opt.Cols < 1 || opt.Cols > MaxSheetTiles {
		return nil, fmt.Errorf("contact sheet: %d columns outside 1..%d", opt.Cols, MaxSheetTiles)
	}
	if int(opt.Granularity) >= caption.NumGranularities {
		return nil, fmt.Errorf("contact sheet: unknown caption granularity %d", opt.Granularity)
	}
	at, err := Atlas()
	if err != nil {
		return nil, fmt.Errorf("contact sheet: %w", err)
	}
	nDual := 0
	if opt.N >= 3 {
		nDual = min(2, opt.N/3)
	}
	tiles := make([]SheetTile, opt.N)
	for i := range opt.N {
		s, err := d.Scene(i)
		if err != nil {
			return nil, fmt.Errorf("contact sheet: %w", err)
		}
		s.Domain = world.Domain(i % world.NumDomains)
		var t SheetTile
		var img *image.RGBA
		if dual := i - (opt.N - nDual); dual >= 0 {
			kind := world.PanelKind(dual % world.NumPanelKinds)
			img, err = world.RenderDualPanel(s, opt.Tile, opt.Tile, kind)
			t.Label = fmt.Sprintf("#%d  dual panel: %s", i, kind)
		} else {
			img, err = world.Render(s, opt.Tile, opt.Tile)
			t.Label = fmt.Sprintf("#%d  %s  q=%.2f", i, s.Domain, s.Quality())
		}
		if err != nil {
			return nil, fmt.Errorf("contact sheet item %d: %w", i, err)
		}
		t.Image = img
		// The tile's domain was overridden to show both styles, so the captions describe s as drawn
		// (the dataset's stored captions would name the sampled style).
		en, zh := d.caption(s, i, opt.Granularity, caption.En), d.caption(s, i, opt.Granularity, caption.Zh)
		t.Lines = at.Wrap(en, opt.Tile)
		t.Second = len(t.Lines)
		t.Lines = append(t.Lines, at.Wrap(zh, opt.Tile)...)
		tiles[i] = t
	}
	return LayoutSheet(tiles, opt.Cols, opt.Tile)
}

// LayoutSheet draws tiles on a light background, cols to a row, each image scaled (nearest neighbour,
// so pixels stay sharp) to a square of side tile.
func LayoutSheet(tiles []SheetTile, cols, tile int) (*image.RGBA, error) {
	if len(tiles) == 0 || cols < 1 || tile < 1 {
		return nil, fmt.Errorf("sheet: %d tiles, %d columns, tile side %d: need at least one of each", len(tiles), cols, tile)
	}
	at, err := Atlas()
	if err != nil {
		return nil, fmt.Errorf("sheet: %w", err)
	}
	maxLines := 0
	for _, t := range tiles {
		maxLines = max(maxLines, len(t.Lines))
	}
	lh := at.LineHeight
	cellW := tile + sheetPad
	cellH := lh + tile + sheetTextGap + maxLines*lh + sheetTextGap + sheetPad
	rows := (len(tiles) + cols - 1) / cols
	sheet := image.NewRGBA(image.Rect(0, 0, cols*cellW+sheetPad, rows*cellH+sheetPad))
	draw.Draw(sheet, sheet.Rect, image.NewUniform(sheetBackground), image.Point{}, draw.Src)
	for i, t := range tiles {
		x := sheetPad + (i%cols)*cellW
		y := sheetPad + (i/cols)*cellH
		at.Draw(sheet, x, y, t.Label, sheetLabel)
		y += lh
		dst := image.Rect(x, y, x+tile, y+tile)
		if b := t.Image.Bounds(); b.Dx() == tile && b.Dy() == tile {
			draw.Draw(sheet, dst, t.Image, b.Min, draw.Src)
		} else {
			xdraw.NearestNeighbor.Scale(sheet, dst, t.Image, b, draw.Src, nil)
		}
		y += tile + sheetTextGap
		for k, line := range t.Lines {
			c := sheetEnglish
			if k >= t.Second {
				c = sheetChinese
			}
			if k == t.Second {
				y += sheetTextGap
			}
			at.Draw(sheet, x, y, line, c)
			y += lh
		}
	}
	return sheet, nil
}
