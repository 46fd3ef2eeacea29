package common

import (
	"fmt"
	"strings"
	"time"

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

// Gutter is the blank cells between the two columns of a Split.
const Gutter = 2

// Split puts two fitted blocks side by side with a Gutter between them; each block gets its width
// and the common height h.
func Split(h int, left, right Block) string {
	return lipgloss.JoinHorizontal(lipgloss.Top, FitBlock(left.Text, left.Width, h), FitBlock("", Gutter, h), FitBlock(right.Text, right.Width, h))
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

// Duration is a time span as a person reads it: 45s, 3m07s, 2h05m.
func Duration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm", h, m)
	}
	if m > 0 {
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
