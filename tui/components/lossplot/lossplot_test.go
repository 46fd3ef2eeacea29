package lossplot

import (
	"math"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/common"
)

func TestSmoothByHand(t *testing.T) {
	// w = 0.5: s1 = 0.5·2/0.5 = 2; s2 = (0.5·1 + 0.5·4)/(0.75) = 10/3 ... computed below by hand:
	// acc1 = 1, norm1 = 0.5 → 2; acc2 = 0.5 + 2 = 2.5, norm2 = 0.75 → 10/3.
	got := Smooth([]float64{2, 4}, 0.5)
	if math.Abs(got[0]-2) > 1e-12 || math.Abs(got[1]-10.0/3) > 1e-12 {
		t.Errorf("Smooth = %v, want [2 3.333…]", got)
	}
	if got := Smooth([]float64{1, math.NaN(), 3}, 0); got[2] != 3 || !math.IsNaN(got[1]) {
		t.Errorf("w=0 must be the identity (NaN kept): %v", got)
	}
}

func TestViewAndKeys(t *testing.T) {
	m := New(common.New())
	m.SetSize(60, 14)
	if !strings.Contains(ansi.Strip(m.View()), "waiting for steps") {
		t.Error("empty plot")
	}
	var pts []Point
	for i := 1; i <= 50; i++ {
		pts = append(pts, Point{X: float64(i), Loss: 10 / float64(i)})
	}
	m.SetSeries(pts, nil)
	out := m.View()
	lines := strings.Split(out, "\n")
	if len(lines) != 14 || ansi.StringWidth(lines[3]) != 60 {
		t.Fatalf("view not 60×14")
	}
	if strings.Contains(ansi.Strip(out), " aux ") {
		t.Error("aux legend although aux is all zero")
	}
	m.Update(tea.KeyPressMsg{Code: 'l', Text: "l"})
	m.Update(tea.KeyPressMsg{Code: '-', Text: "-"})
	if !m.LogScale() || m.Smoothing() != 0 {
		t.Errorf("log %v smoothing %v", m.LogScale(), m.Smoothing())
	}
	// On the log scale with no smoothing the axis spans the raw values: the top label is 10 (10/1).
	if !strings.Contains(ansi.Strip(m.View()), "      10 ┼") {
		t.Errorf("log axis:\n%s", ansi.Strip(m.View()))
	}
	m.SetSeries(append(pts, Point{X: 51, Loss: 0.1, Aux: 0.05}), nil)
	if !strings.Contains(ansi.Strip(m.View()), " aux ") {
		t.Error("aux legend missing")
	}
}

// Two stages on one step axis: the second stage's start is marked on the plot and the axis, its label
// is drawn, the step labels run across both stages, and z shows the latest stage alone.
func TestStagesOnOneAxis(t *testing.T) {
	m := New(common.New())
	m.SetSize(80, 14)
	var pts []Point
	for i := 1; i <= 100; i++ {
		pts = append(pts, Point{X: float64(i), Loss: 5 / float64(i)})
	}
	for i := 1; i <= 100; i++ {
		pts = append(pts, Point{X: float64(100 + i), Loss: 1 / float64(i)})
	}
	m.SetSeries(pts, []Mark{{X: 0, Label: "s0"}, {X: 100, Label: "s1 low-res"}})
	out := ansi.Strip(m.View())
	if !strings.Contains(out, "┊") || !strings.Contains(out, "┴") || !strings.Contains(out, "s1 low-res") {
		t.Errorf("no stage boundary:\n%s", out)
	}
	// The boundary is one column, from the top row to the axis.
	lines := strings.Split(out, "\n")
	axis := lines[len(lines)-2]
	runeAt := func(s string, r rune) int {
		for i, c := range []rune(s) {
			if c == r {
				return i
			}
		}
		return -1
	}
	at := runeAt(axis, '┴')
	if top := runeAt(lines[1], '┊'); top != at || at < 0 {
		t.Errorf("the mark is in column %d on the top row and %d on the axis:\n%s", top, at, out)
	}
	if !strings.Contains(out, "200") || !strings.Contains(out, "200 steps") {
		t.Errorf("the step axis does not reach step 200:\n%s", out)
	}
	m.Update(tea.KeyPressMsg{Code: 'z', Text: "z"})
	out = ansi.Strip(m.View())
	if !m.Zoomed() || !strings.Contains(out, "latest stage") || !strings.Contains(out, "100 steps") {
		t.Errorf("zoom:\n%s", out)
	}
}

func TestStepLabel(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 950: "950", 1200: "1.2k", 15000: "15k"} {
		if got := stepLabel(v); got != want {
			t.Errorf("stepLabel(%v) = %q, want %q", v, got, want)
		}
	}
}
