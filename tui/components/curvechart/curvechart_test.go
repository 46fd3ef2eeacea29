package curvechart

import (
	"math"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/common"
)

func TestColumns(t *testing.T) {
	got := Columns([]float64{1, 3, math.NaN(), 5, 7, 9}, 6, 3)
	if got[0] != 2 || got[1] != 5 || got[2] != 8 {
		t.Errorf("columns %v, want [2 5 8] (the NaN left out)", got)
	}
	// Fewer steps than columns: each step fills the columns it spans; a shorter series leaves NaN.
	got = Columns([]float64{4}, 2, 4)
	if got[0] != 4 || got[1] != 4 || !math.IsNaN(got[2]) || !math.IsNaN(got[3]) {
		t.Errorf("columns %v, want [4 4 NaN NaN]", got)
	}
}

func TestView(t *testing.T) {
	st := common.NewStyles(true)
	out := View(st, []Series{{Name: "a", Y: []float64{2, 1.5, 1}}, {Name: "b", Y: []float64{3, 3, 3}}}, 40, 8)
	lines := strings.Split(ansi.Strip(out), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		if ansi.StringWidth(l) != 40 {
			t.Errorf("line %d is %d wide", i, ansi.StringWidth(l))
		}
	}
	// b (constant 3, the top) draws its mark across the first row; a ends at the bottom row.
	if !strings.Contains(lines[0], "▲▲▲") || !strings.HasPrefix(lines[0], "     3 ") {
		t.Errorf("top row %q", lines[0])
	}
	if !strings.HasSuffix(strings.TrimRight(lines[6], " "), "●") || !strings.HasPrefix(lines[6], "     1 ") {
		t.Errorf("bottom row %q", lines[6])
	}
	if !strings.Contains(lines[7], "DiT step") {
		t.Errorf("axis %q", lines[7])
	}
	if s := ansi.Strip(View(st, nil, 30, 5)); !strings.Contains(s, "no losses yet") {
		t.Errorf("empty chart %q", s)
	}
}
