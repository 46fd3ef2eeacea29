package imgview

import (
	"image"
	"image/color"
	"strconv"
	"strings"
)

// HalfBlock renders img as exactly rows lines of exactly cols cells each,
// for use inside View(). Each cell is "▀" with the upper pixel as the
// true-colour foreground and the lower pixel as the background, so a cell
// holds two roughly square pixels. The image is scaled with ScaleNearest to
// cols×2·rows pixels and sits in the top-left corner; cells beyond it are
// plain spaces, and a cell whose lower pixel is beyond it keeps the
// terminal's background. Colours are raw SGR 38;2 / 48;2 (Bubble Tea
// downsamples them on terminals with fewer colours); the SGR is emitted only
// when it changes, and every line ends with the pen reset.
func HalfBlock(img image.Image, cols, rows int) string {
	if cols <= 0 || rows <= 0 {
		return ""
	}
	px := ScaleNearest(img, cols, 2*rows)
	iw, ih := px.Rect.Dx(), px.Rect.Dy()

	// pen is the SGR state; hasFG false means the default pen (after reset).
	type pen struct {
		hasFG, hasBG bool
		fg, bg       color.RGBA
	}
	var sb strings.Builder
	for r := range rows {
		if r > 0 {
			sb.WriteByte('\n')
		}
		var cur pen
		for c := range cols {
			var want pen
			if c < iw && 2*r < ih {
				want.hasFG, want.fg = true, rgbAt(px, c, 2*r)
				if 2*r+1 < ih {
					want.hasBG, want.bg = true, rgbAt(px, c, 2*r+1)
				}
			}
			if want != cur {
				switch {
				case !want.hasFG:
					sb.WriteString("\x1b[m")
				case cur.hasBG && !want.hasBG:
					// Drop the background with a reset, then set the
					// foreground: "0;" keeps it one sequence.
					sb.WriteString("\x1b[0;")
					writeRGB(&sb, "38;2;", want.fg)
					sb.WriteByte('m')
				default:
					sb.WriteString("\x1b[")
					writeRGB(&sb, "38;2;", want.fg)
					if want.hasBG {
						writeRGB(&sb, ";48;2;", want.bg)
					}
					sb.WriteByte('m')
				}
				cur = want
			}
			if want.hasFG {
				sb.WriteString("▀")
			} else {
				sb.WriteByte(' ')
			}
		}
		if cur.hasFG {
			sb.WriteString("\x1b[m")
		}
	}
	return sb.String()
}

func writeRGB(sb *strings.Builder, prefix string, c color.RGBA) {
	sb.WriteString(prefix)
	sb.WriteString(strconv.Itoa(int(c.R)))
	sb.WriteByte(';')
	sb.WriteString(strconv.Itoa(int(c.G)))
	sb.WriteByte(';')
	sb.WriteString(strconv.Itoa(int(c.B)))
}
