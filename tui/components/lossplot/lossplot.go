// Package lossplot draws the train view's loss curves with asciigraph: the loss and, when the stage
// has one, the auxiliary loss, with TensorBoard-style debiased exponential smoothing and an optional
// log scale.
package lossplot

import (
	"fmt"
	"math"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/guptarohit/asciigraph"
	"github.com/lumina-workbench/lumina/tui/common"
)

// KeyMap is the plot's own keys.
type KeyMap struct {
	LogScale   key.Binding
	MoreSmooth key.Binding
	LessSmooth key.Binding
}

// DefaultKeyMap: l toggles the log scale, +/- change the smoothing.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		LogScale:   key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "log scale")),
		MoreSmooth: key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+/-", "smoothing")),
		LessSmooth: key.NewBinding(key.WithKeys("-", "_")),
	}
}

// smoothingSteps are the smoothing weights offered, as TensorBoard's slider would set them.
var smoothingSteps = []float64{0, 0.6, 0.8, 0.9, 0.95, 0.99}

// Model holds the raw series; smoothing and scale apply only when drawing.
type Model struct {
	common.Common
	Keys   KeyMap
	loss   []float64
	aux    []float64
	hasAux bool
	smooth int // index into smoothingSteps
	log    bool
}

// New makes an empty plot with smoothing 0.6.
func New(c common.Common) *Model { return &Model{Common: c, Keys: DefaultKeyMap(), smooth: 1} }

// Push appends one step's losses; aux is ignored until a non-zero value shows the stage has one.
func (m *Model) Push(loss, aux float64) {
	m.loss = append(m.loss, loss)
	m.aux = append(m.aux, aux)
	if aux != 0 {
		m.hasAux = true
	}
}

// Reset forgets the series (a new stage).
func (m *Model) Reset() { m.loss, m.aux, m.hasAux = nil, nil, false }

// Len is the number of points.
func (m *Model) Len() int { return len(m.loss) }

// Smoothing is the current EMA weight.
func (m *Model) Smoothing() float64 { return smoothingSteps[m.smooth] }

// LogScale reports whether the y axis is logarithmic.
func (m *Model) LogScale() bool { return m.log }

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

// yLabelWidth is the width asciigraph gives the axis labels with the formatter below, plus its axis.
const yLabelWidth = 10

func (m *Model) series() [][]float64 {
	ss := [][]float64{m.loss}
	if m.hasAux {
		ss = append(ss, m.aux)
	}
	out := make([][]float64, len(ss))
	for i, s := range ss {
		s = Smooth(s, m.Smoothing())
		if m.log {
			t := make([]float64, len(s))
			for j, v := range s {
				// Losses are positive; a zero or negative point sits at the floor instead of -Inf.
				t[j] = math.Log10(math.Max(v, 1e-8))
			}
			s = t
		}
		out[i] = s
	}
	return out
}

// View is exactly Width×Height cells: title line, plot, legend line.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	scale := "linear"
	if m.log {
		scale = "log"
	}
	title := m.Styles.Title.Render("Loss") + m.Styles.Dim.Render(fmt.Sprintf("  smoothing %.2f · %s · %d steps", m.Smoothing(), scale, len(m.loss)))
	// The title line above, asciigraph's blank line and legend line below.
	plotH := h - 3
	if len(m.loss) < 2 || plotH < 2 || w < yLabelWidth+8 {
		return common.FitBlock(title+"\n\n"+m.Styles.Dim.Render("  waiting for steps…"), w, h)
	}
	format := func(v float64) string { return fmt.Sprintf("%8.4g", v) }
	if m.log {
		format = func(v float64) string { return fmt.Sprintf("%8.3g", math.Pow(10, v)) }
	}
	legends := []string{"loss"}
	colours := []asciigraph.AnsiColor{asciigraph.SkyBlue}
	if m.hasAux {
		legends = append(legends, "aux loss")
		colours = append(colours, asciigraph.Orange)
	}
	plot := asciigraph.PlotMany(m.series(),
		asciigraph.Height(plotH-1), // asciigraph draws Height+1 rows
		asciigraph.Width(w-yLabelWidth-1),
		asciigraph.YAxisValueFormatter(format),
		asciigraph.SeriesColors(colours...),
		asciigraph.SeriesLegends(legends...),
	)
	plot = strings.TrimRight(plot, "\n")
	return common.FitBlock(title+"\n"+plot, w, h)
}
