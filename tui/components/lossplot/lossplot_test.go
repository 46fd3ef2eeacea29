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
	for i := 1; i <= 50; i++ {
		m.Push(10/float64(i), 0)
	}
	out := m.View()
	lines := strings.Split(out, "\n")
	if len(lines) != 14 || ansi.StringWidth(lines[3]) != 60 {
		t.Fatalf("view not 60×14")
	}
	if strings.Contains(ansi.Strip(out), "aux loss") {
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
	m.Push(0.1, 0.05)
	if !strings.Contains(ansi.Strip(m.View()), "aux loss") {
		t.Error("aux legend missing")
	}
}
