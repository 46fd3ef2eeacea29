// Package paretochart draws a sweep's speed-up against score as text: each cell a mark at its place,
// the Pareto front (no other cell both faster and better) in the front colour, the reference marked. It
// is the Ablate view's plot where the terminal shows no images, and while a sweep still runs (its
// pareto.png is drawn at the end).
package paretochart

import (
	"fmt"
	"math"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/common"
)

// Point is one cell.
type Point struct {
	Mark  rune
	Speed float64 // x: speed-up over the reference
	Score float64 // y
	Ref   bool
}

// Front reports, for each point, whether no other point is at least as fast and as good and better in
// one of the two.
func Front(pts []Point) []bool {
	out := make([]bool, len(pts))
	for i, p := range pts {
		out[i] = true
		for j, q := range pts {
			if i != j && q.Speed >= p.Speed && q.Score >= p.Score && (q.Speed > p.Speed || q.Score > p.Score) {
				out[i] = false
				break
			}
		}
	}
	return out
}

// View is the chart in exactly w×h cells: a score axis on the left, the speed-up axis below.
func View(st *common.Styles, pts []Point, w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	const yLabel = 6 // "0.350 "
	pw, ph := w-yLabel-1, h-2
	if pw < 4 || ph < 2 || len(pts) == 0 {
		msg := "no cells summarised yet"
		if len(pts) > 0 {
			msg = "too small for the chart"
		}
		return common.FitBlock(st.Dim.Render(msg), w, h)
	}
	x0, x1 := span(pts, func(p Point) float64 { return p.Speed })
	y0, y1 := span(pts, func(p Point) float64 { return p.Score })
	grid := make([][]string, ph)
	for r := range grid {
		grid[r] = make([]string, pw)
		for c := range grid[r] {
			grid[r][c] = " "
		}
	}
	front := Front(pts)
	for i, p := range pts {
		c := int(math.Round((p.Speed - x0) / (x1 - x0) * float64(pw-1)))
		r := ph - 1 - int(math.Round((p.Score-y0)/(y1-y0)*float64(ph-1)))
		style := st.Dim
		if front[i] {
			style = st.Good
		}
		if p.Ref {
			style = style.Bold(true).Underline(true)
		}
		if grid[r][c] != " " {
			// Two cells on one spot: the later one beside it, where there is room.
			for _, d := range []int{1, -1, 2, -2} {
				if c+d >= 0 && c+d < pw && grid[r][c+d] == " " {
					c += d
					break
				}
			}
		}
		grid[r][c] = style.Render(string(p.Mark))
	}
	var b strings.Builder
	for r := range ph {
		label := strings.Repeat(" ", yLabel)
		switch r {
		case 0:
			label = fmt.Sprintf("%5.3f ", y1)
		case ph - 1:
			label = fmt.Sprintf("%5.3f ", y0)
		case ph / 2:
			label = "score "
		}
		b.WriteString(st.Label.Render(label) + st.Dim.Render("│") + strings.Join(grid[r], "") + "\n")
	}
	b.WriteString(strings.Repeat(" ", yLabel) + st.Dim.Render("└"+strings.Repeat("─", pw)) + "\n")
	lo, hi := fmt.Sprintf("%.2f×", x0), fmt.Sprintf("%.2f×", x1)
	mid := "speed-up"
	gap := pw + 1 - ansi.StringWidth(lo) - ansi.StringWidth(hi) - len(mid)
	axis := lo + strings.Repeat(" ", max(1, gap/2)) + mid + strings.Repeat(" ", max(1, gap-gap/2)) + hi
	b.WriteString(strings.Repeat(" ", yLabel) + st.Label.Render(axis))
	return common.FitBlock(b.String(), w, h)
}

// span is the range of f over pts, widened a little (and around a single value) so no point sits on
// the frame and a flat range still has a width.
func span(pts []Point, f func(Point) float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		lo, hi = min(lo, f(p)), max(hi, f(p))
	}
	if hi-lo < 1e-9 {
		d := math.Max(math.Abs(lo)*0.05, 0.01)
		return lo - d, hi + d
	}
	return lo, hi
}
