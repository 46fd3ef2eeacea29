package imgview

import (
	"bytes"
	"image"
	"strconv"

	"image/color"

	"github.com/lumina-workbench/lumina/tui/termcap"
	"github.com/mattn/go-sixel"
	"github.com/soniakeys/quant/median"
)

// Box is a rectangle of terminal cells, 0-based from the top-left corner of
// the screen (the app must run in the alternate screen for these to be
// absolute positions).
type Box struct {
	Col, Row, Cols, Rows int
}

// Empty reports whether the box holds no cells.
func (b Box) Empty() bool { return b.Cols <= 0 || b.Rows <= 0 || b.Col < 0 || b.Row < 0 }

// PixelSize is the pixel area available to an image in the box. The height
// is rounded down to a multiple of 6 because sixel data comes in bands of 6
// pixel rows and some terminals paint the whole last band: rounding down
// keeps it from spilling into the row below the box.
func (b Box) PixelSize(cell termcap.CellSize) (w, h int) {
	if b.Empty() || !cell.Valid() {
		return 0, 0
	}
	w, h = b.Cols*cell.W, b.Rows*cell.H
	if h >= 6 {
		h -= h % 6
	}
	return w, h
}

// Sequence framing: DECSC, CUP, the sixel image, DECRC. DECSC/DECRC also
// save and restore SGR attributes, so the renderer's idea of the cursor
// and pen is intact afterwards.
const (
	saveCursor    = "\x1b7"
	restoreCursor = "\x1b8"
)

func appendCUP(b []byte, row, col int) []byte {
	b = append(b, "\x1b["...)
	b = strconv.AppendInt(b, int64(row+1), 10)
	b = append(b, ';')
	b = strconv.AppendInt(b, int64(col+1), 10)
	return append(b, 'H')
}

// SixelSequence is the bytes that paint img into box: save cursor, move to
// the box's top-left cell, the go-sixel encoding of img scaled with
// ScaleNearest to the box's pixel size, restore cursor. The image sits in
// the box's top-left corner. The output is a pure function of its inputs.
// It is nil when there is nothing to paint (no image, empty box).
func SixelSequence(img image.Image, box Box, cell termcap.CellSize) []byte {
	w, h := box.PixelSize(cell)
	src := toRGBA(img)
	ow, oh := fitSize(src.Rect.Dx(), src.Rect.Dy(), w, h)
	if ow == 0 || oh == 0 {
		return nil
	}
	// An image of at most 255 colours is encoded exactly (go-sixel keeps
	// one register for transparency). A richer one must be quantised; doing
	// it on the source rather than the upscaled image (16–25× more pixels
	// at the usual factors) is the same result for nearest upscaling at a
	// fraction of the cost, and go-sixel then takes the paletted image as
	// is. Median cut and nearest-colour mapping are both deterministic.
	var scaled image.Image
	if tooManyColours(src, 255) {
		pal := median.Quantizer(0).Quantize(make(color.Palette, 0, 255), src)
		q := image.NewPaletted(src.Rect, pal)
		for y := range src.Rect.Dy() {
			for x := range src.Rect.Dx() {
				q.Pix[y*q.Stride+x] = uint8(pal.Index(rgbAt(src, x, y)))
			}
		}
		scaled = scalePaletted(q, ow, oh)
	} else {
		scaled = ScaleNearest(src, w, h)
	}
	var enc bytes.Buffer
	// Errors come only from the writer, and a bytes.Buffer does not fail.
	if err := sixel.NewEncoder(&enc).Encode(scaled); err != nil {
		return nil
	}
	out := make([]byte, 0, enc.Len()+32)
	out = append(out, saveCursor...)
	out = appendCUP(out, box.Row, box.Col)
	out = append(out, enc.Bytes()...)
	return append(out, restoreCursor...)
}

// BlankSequence erases the box's cells (ECH on every row, which also removes
// sixel pixels there) without moving the cursor or changing the pen.
// Whatever the renderer had drawn in those cells is erased too, so use it
// only where the app keeps the box blank; the Painter instead asks Bubble
// Tea for a full redraw.
func BlankSequence(box Box) []byte {
	if box.Empty() {
		return nil
	}
	out := []byte(saveCursor)
	for r := range box.Rows {
		out = appendCUP(out, box.Row+r, box.Col)
		out = append(out, "\x1b["...)
		out = strconv.AppendInt(out, int64(box.Cols), 10)
		out = append(out, 'X')
	}
	return append(out, restoreCursor...)
}

// tooManyColours reports whether img has more than n distinct opaque
// colours, stopping as soon as it knows.
func tooManyColours(img *image.RGBA, n int) bool {
	seen := make(map[uint32]struct{}, n+1)
	for y := range img.Rect.Dy() {
		row := img.Pix[y*img.Stride : y*img.Stride+4*img.Rect.Dx()]
		for i := 0; i < len(row); i += 4 {
			seen[uint32(row[i])<<24|uint32(row[i+1])<<16|uint32(row[i+2])<<8|uint32(row[i+3])] = struct{}{}
			if len(seen) > n {
				return true
			}
		}
	}
	return false
}
