// Package lossplot draws a run's loss history with asciigraph: every stage on one step axis, the
// raw points faint behind TensorBoard-style debiased exponential smoothing, the auxiliary loss when a
// stage has one, stage boundaries marked, an optional log scale, and a zoom on the latest stage.
package lossplot

import (
	"fmt"
	"math"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/guptarohit/asciigraph"
	"github.com/lumina-workbench/lumina/tui/common"
)

// Point is one step of the history.
type Point struct {
	// X is the step on the plot's axis: steps counted from the start of the first stage shown, across
	// stages.
	X float64
	// Loss and Aux are the step's losses; Aux is 0 in a stage without the auxiliary loss.
	Loss, Aux float64
}

// Mark is the start of a stage on the step axis: the stage's first step is the first point after X.
type Mark struct {
	X     float64
	Label string
}

// KeyMap is the plot's own keys.
type KeyMap struct {
	LogScale   key.Binding
	MoreSmooth key.Binding
	LessSmooth key.Binding
	Zoom       key.Binding
}

// DefaultKeyMap: l toggles the log scale, +/- change the smoothing, z zooms on the latest stage.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		LogScale:   key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "log scale")),
		MoreSmooth: key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+/-", "smoothing")),
		LessSmooth: key.NewBinding(key.WithKeys("-", "_")),
		Zoom:       key.NewBinding(key.WithKeys("z"), key.WithHelp("z", "all stages/latest")),
	}
}

// smoothingSteps are the smoothing weights offered, as TensorBoard's slider would set them.
var smoothingSteps = []float64{0, 0.6, 0.8, 0.9, 0.95, 0.99}

// Model holds the series; smoothing, scale and zoom apply only when drawing.
type Model struct {
	common.Common
	Keys   KeyMap
	pts    []Point
	marks  []Mark
	smooth int // index into smoothingSteps
	log    bool
	zoom   bool
}

// New makes an empty plot with smoothing 0.6.
func New(c common.Common) *Model { return &Model{Common: c, Keys: DefaultKeyMap(), smooth: 1} }

// SetSeries replaces the history: points in step order, and the stage boundaries among them.
func (m *Model) SetSeries(pts []Point, marks []Mark) { m.pts, m.marks = pts, marks }

// Reset forgets the history.
func (m *Model) Reset() { m.pts, m.marks = nil, nil }

// Len is the number of points.
func (m *Model) Len() int { return len(m.pts) }

// Smoothing is the current EMA weight.
func (m *Model) Smoothing() float64 { return smoothingSteps[m.smooth] }

// LogScale reports whether the y axis is logarithmic.
func (m *Model) LogScale() bool { return m.log }

// Zoomed reports whether only the latest stage is drawn.
func (m *Model) Zoomed() bool { return m.zoom }

// Update handles the plot's keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, m.Keys.LogScale):
		m.log = !m.log
	case key.Matches(k, m.Keys.MoreSmooth):
		m.smooth = min(m.smooth+1, len(smoothingSteps)-1)
	case key.Matches(k, m.Keys.LessSmooth):
		m.smooth = max(m.smooth-1, 0)
	case key.Matches(k, m.Keys.Zoom):
		m.zoom = !m.zoom
	}
	return nil
}

// Smooth is TensorBoard's debiased EMA: s_t = w·s_{t−1} + (1−w)·x_t, divided by 1 − w^t so the first
// points are not pulled towards zero. Non-finite points are carried over without updating the average.
func Smooth(xs []float64, w float64) []float64 {
	out := make([]float64, len(xs))
	var acc, norm float64
	for i, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			out[i] = x
			continue
		}
		acc = w*acc + (1-w)*x
		norm = w*norm + (1 - w)
		out[i] = acc / norm
	}
	return out
}

// shown is the points and marks the view draws: all, or those of the latest stage when zoomed.
func (m *Model) shown() ([]Point, []Mark) {
	pts, marks := m.pts, m.marks
	if m.zoom && len(marks) > 0 {
		from := marks[len(marks)-1].X
		i := len(pts)
		for i > 0 && pts[i-1].X > from {
			i--
		}
		pts, marks = pts[i:], marks[len(marks)-1:]
	}
	return pts, marks
}

// smoothedBy applies Smooth stage by stage: a stage's losses are on their own scale (the text
// encoder's cross-entropy is not the flow loss), so the average starts afresh at each mark.
func smoothedBy(pts []Point, marks []Mark, w float64, get func(Point) float64) []float64 {
	out := make([]float64, 0, len(pts))
	start := 0
	for i := 0; i <= len(pts); i++ {
		boundary := i == len(pts)
		for _, mk := range marks {
			if i > start && i < len(pts) && pts[i].X > mk.X && pts[i-1].X <= mk.X {
				boundary = true
			}
		}
		if !boundary {
			continue
		}
		xs := make([]float64, i-start)
		for j := start; j < i; j++ {
			xs[j-start] = get(pts[j])
		}
		out = append(out, Smooth(xs, w)...)
		start = i
	}
	return out
}

// columns resamples ys (at pts' X) to n columns over [x0, x1]: the mean of the points in each
// column, gaps filled linearly between the columns on either side.
func columns(pts []Point, ys []float64, x0, x1 float64, n int) []float64 {
	sum := make([]float64, n)
	cnt := make([]int, n)
	for i, p := range pts {
		y := ys[i]
		if math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		c := column(p.X, x0, x1, n)
		sum[c] += y
		cnt[c]++
	}
	out := make([]float64, n)
	last := -1
	for c := range n {
		if cnt[c] == 0 {
			out[c] = math.NaN()
			continue
		}
		out[c] = sum[c] / float64(cnt[c])
		if last >= 0 && c-last > 1 {
			for g := last + 1; g < c; g++ {
				f := float64(g-last) / float64(c-last)
				out[g] = out[last] + f*(out[c]-out[last])
			}
		}
		last = c
	}
	return out
}

// column is the plot column of step x.
func column(x, x0, x1 float64, n int) int {
	if x1 <= x0 || n <= 1 {
		return 0
	}
	return max(0, min(n-1, int(math.Round((x-x0)/(x1-x0)*float64(n-1)))))
}

// chrome is the rows the view takes besides the plot body: the title line above, asciigraph's x-axis
// line and its labels below.
const chrome = 3

// yLabelWidth is the width asciigraph gives the axis labels with the formatter below, plus its axis.
const yLabelWidth = 10

// View is exactly Width×Height cells: title line, plot, step axis.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	st := m.Styles
	pts, marks := m.shown()
	hasAux := false
	for _, p := range pts {
		if p.Aux != 0 {
			hasAux = true
			break
		}
	}
	scale := "linear"
	if m.log {
		scale = "log"
	}
	legend := st.PlotLine.Render("━") + st.Dim.Render(fmt.Sprintf(" smoothed %.2f  ", m.Smoothing())) + st.PlotRaw.Render("─") + st.Dim.Render(" raw  ")
	if hasAux {
		legend += st.PlotAux.Render("━") + st.Dim.Render(" aux  ")
	}
	if len(marks) > 0 {
		legend += st.PlotMark.Render("┊") + st.Dim.Render(" stage  ")
	}
	span := "all stages"
	if m.zoom {
		span = "latest stage"
	}
	title := st.Title.Render("Loss") + "  " + legend + st.Dim.Render(fmt.Sprintf("%s · %s · %d steps", scale, span, len(pts)))
	plotH := h - chrome
	// Two cells to spare on the right: the last step label is centred on the axis' end.
	cols := w - yLabelWidth - 3
	if len(pts) < 2 || plotH < 2 || cols < 8 {
		return common.FitBlock(title+"\n\n"+st.Dim.Render("  waiting for steps…"), w, h)
	}
	x0, x1 := pts[0].X, pts[len(pts)-1].X
	if x1 <= x0 {
		x1 = x0 + 1
	}
	tf := func(v float64) float64 { return v }
	if m.log {
		// Losses are positive; a zero or negative point sits at the floor instead of -Inf.
		tf = func(v float64) float64 { return math.Log10(math.Max(v, 1e-8)) }
	}
	series := func(get func(Point) float64, smooth float64) []float64 {
		ys := smoothedBy(pts, marks, smooth, get)
		for i := range ys {
			ys[i] = tf(ys[i])
		}
		return columns(pts, ys, x0, x1, cols)
	}
	loss := func(p Point) float64 { return p.Loss }
	layers := []layer{{series(loss, 0), st.PlotRaw}}
	if hasAux {
		layers = append(layers, layer{series(func(p Point) float64 { return p.Aux }, m.Smoothing()), st.PlotAux})
	}
	layers = append(layers, layer{series(loss, m.Smoothing()), st.PlotLine})
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range layers {
		for _, v := range l.ys {
			if !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 0) {
		return common.FitBlock(title+"\n\n"+st.Dim.Render("  no finite losses yet"), w, h)
	}
	format := func(v float64) string { return fmt.Sprintf("%8.4g", v) }
	if m.log {
		format = func(v float64) string { return fmt.Sprintf("%8.3g", math.Pow(10, v)) }
	}
	opts := []asciigraph.Option{
		asciigraph.Height(plotH - 1), // asciigraph draws Height+1 rows
		asciigraph.Width(cols),
		asciigraph.LowerBound(lo), asciigraph.UpperBound(hi),
		asciigraph.YAxisValueFormatter(format),
		asciigraph.XAxisRange(x0, x1),
		asciigraph.XAxisTickCount(max(2, min(6, cols/14))),
		asciigraph.XAxisValueFormatter(stepLabel),
	}
	grids := make([][][]rune, len(layers))
	for i, l := range layers {
		grids[i] = grid(asciigraph.Plot(l.ys, opts...))
	}
	markCols := map[int]string{}
	for _, mk := range marks {
		if mk.X > x0 {
			markCols[column(mk.X, x0, x1, cols)] = mk.Label
		}
	}
	return common.FitBlock(title+"\n"+m.merge(grids, layers, markCols, plotH, cols), w, h)
}

type layer struct {
	ys    []float64
	style lipgloss.Style
}

// stepLabel is a step-axis tick: 900, 1.2k, 15k.
func stepLabel(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.0fk", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.1fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}

func grid(s string) [][]rune {
	lines := strings.Split(s, "\n")
	out := make([][]rune, len(lines))
	for i, l := range lines {
		out[i] = []rune(l)
	}
	return out
}

// merge lays the layers' plots (drawn alone, on the same axes) over each other, later layers on top,
// styles each cell by the layer that drew it, and marks stage boundaries where no curve passes: one
// styled string of the plot's body and axis rows.
func (m *Model) merge(grids [][][]rune, layers []layer, markCols map[int]string, bodyRows, cols int) string {
	st := m.Styles
	base := grids[0]
	// The body's rows start with the y labels and the axis (┤ or ┼); the curves start after it.
	left := 0
	for i, r := range base[0] {
		if r == '┤' || r == '┼' {
			left = i + 1
			break
		}
	}
	cell := func(g [][]rune, row, col int) rune {
		if row < len(g) && col < len(g[row]) {
			return g[row][col]
		}
		return ' '
	}
	var b strings.Builder
	for row := range base {
		if row > 0 {
			b.WriteByte('\n')
		}
		if row >= bodyRows {
			// The step axis and its labels, with the stage boundaries on the axis line.
			line := []rune(string(base[row]))
			for c := range markCols {
				if row == bodyRows && left+c < len(line) && line[left+c] == '─' {
					line[left+c] = '┴'
				}
			}
			b.WriteString(st.Dim.Render(string(line)))
			continue
		}
		b.WriteString(st.Dim.Render(string(base[row][:min(left, len(base[row]))])))
		var label []rune
		labelAt := -1
		// Every column is written, blank or not: asciigraph trims its rows, and a mark right of a row's
		// last curve cell must stay in its column.
		for col := left; col < left+cols; col++ {
			c := col - left
			if l, ok := markCols[c]; ok && row == 0 {
				label, labelAt = []rune(l), col+1
			}
			var r rune = ' '
			style := st.Dim
			for i := len(grids) - 1; i >= 0; i-- {
				if x := cell(grids[i], row, col); x != ' ' {
					r, style = x, layers[i].style
					break
				}
			}
			if r == ' ' {
				if _, ok := markCols[c]; ok {
					r, style = '┊', st.PlotMark
				} else if labelAt >= 0 && col >= labelAt && col-labelAt < len(label) {
					r, style = label[col-labelAt], st.PlotMark
				}
			}
			b.WriteString(style.Render(string(r)))
		}
	}
	return b.String()
}
