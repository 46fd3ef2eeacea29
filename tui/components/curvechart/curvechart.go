// Package curvechart draws several loss curves on one step axis as text, one colour and mark per
// series, so variants trained side by side can be compared at a glance (the Experiments view).
package curvechart

import (
	"fmt"
	"math"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/common"
)

// Series is one curve: Y[i] is the value at step i+1; NaN is no value.
type Series struct {
	Name string
	Y    []float64
}

// Marks are the series' marks in order; a series past the last reuses them.
const Marks = "●▲■◆✚✖○△□◇"

// Style is series i's colour on the palette.
func Style(st *common.Styles, i int) lipgloss.Style {
	all := []lipgloss.Style{st.Focused, st.Good, st.Warn, st.Error, st.Title, st.PlotAux}
	return all[i%len(all)]
}

// Mark is series i's mark.
func Mark(i int) string {
	r := []rune(Marks)
	return string(r[i%len(r)])
}

// View is the chart in exactly w×h cells: a loss axis on the left, the step axis below. Each column
// shows every series' mean over the steps it covers; where two series meet, the later one is drawn.
func View(st *common.Styles, series []Series, w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	const yLabel = 7 // "0.0123 "
	pw, ph := w-yLabel-1, h-1
	n := 0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		n = max(n, len(s.Y))
		for _, y := range s.Y {
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				lo, hi = min(lo, y), max(hi, y)
			}
		}
	}
	if pw < 4 || ph < 2 || n == 0 || lo > hi {
		msg := "no losses yet"
		if n > 0 && lo <= hi {
			msg = "too small for the chart"
		}
		return common.FitBlock(st.Dim.Render(msg), w, h)
	}
	if hi-lo < 1e-12 {
		d := math.Max(math.Abs(lo)*0.05, 1e-3)
		lo, hi = lo-d, hi+d
	}
	grid := make([][]string, ph)
	for r := range grid {
		grid[r] = slicesRepeat(" ", pw)
	}
	for si, s := range series {
		style := Style(st, si)
		for c, y := range Columns(s.Y, n, pw) {
			if math.IsNaN(y) {
				continue
			}
			r := ph - 1 - int(math.Round((y-lo)/(hi-lo)*float64(ph-1)))
			grid[r][c] = style.Render(Mark(si))
		}
	}
	var b strings.Builder
	for r := range ph {
		label := strings.Repeat(" ", yLabel)
		switch r {
		case 0:
			label = fmt.Sprintf("%6.4g ", hi)
		case ph - 1:
			label = fmt.Sprintf("%6.4g ", lo)
		case ph / 2:
			label = "  loss "
		}
		b.WriteString(st.Label.Render(label) + st.Dim.Render("│") + strings.Join(grid[r], "") + "\n")
	}
	axisLo, axisHi, mid := "1", fmt.Sprint(n), "DiT step"
	gap := pw + 1 - len(axisLo) - len(axisHi) - len(mid)
	axis := axisLo + strings.Repeat(" ", max(1, gap/2)) + mid + strings.Repeat(" ", max(1, gap-gap/2)) + axisHi
	b.WriteString(strings.Repeat(" ", yLabel) + st.Label.Render(ansi.Truncate(axis, pw+1, "")))
	return common.FitBlock(b.String(), w, h)
}

// Columns is ys (steps 1..n) averaged into cols columns: column c covers steps c·n/cols up to the
// next column's; NaNs are left out, and a column with no value is NaN. With fewer steps than columns a
// step spans several columns.
func Columns(ys []float64, n, cols int) []float64 {
	out := make([]float64, cols)
	for c := range cols {
		a, b := c*n/cols, (c+1)*n/cols
		if b == a {
			b = a + 1
		}
		sum, k := 0.0, 0
		for i := a; i < b && i < len(ys); i++ {
			if !math.IsNaN(ys[i]) {
				sum += ys[i]
				k++
			}
		}
		out[c] = math.NaN()
		if k > 0 {
			out[c] = sum / float64(k)
		}
	}
	return out
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
