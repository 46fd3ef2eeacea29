package common

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// FitLine cuts or pads s (one line, styled or not) to exactly w cells.
func FitLine(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	if pad := w - ansi.StringWidth(s); pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}

// FitBlock makes s exactly h lines of exactly w cells: long lines are cut, short ones padded, extra
// lines dropped, missing ones added blank.
func FitBlock(s string, w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	for i, l := range lines {
		lines[i] = FitLine(l, w)
	}
	return strings.Join(lines, "\n")
}

// Columns joins fitted blocks side by side; each block gets its width and the common height.
func Columns(h int, blocks ...Block) string {
	parts := make([]string, len(blocks))
	for i, b := range blocks {
		parts[i] = FitBlock(b.Text, b.Width, h)
	}
	return lipgloss.JoinHorizontal(lipgloss.Top, parts...)
}

// Block is a piece of text with the width it must take.
type Block struct {
	Text  string
	Width int
}

// Wrap word-wraps plain or styled text to w cells.
func Wrap(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return ansi.Wrap(s, w, "")
}
