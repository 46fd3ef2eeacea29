package paretochart

import (
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/common"
)

func TestFront(t *testing.T) {
	pts := []Point{{Speed: 1, Score: 0.5}, {Speed: 2, Score: 0.4}, {Speed: 1.5, Score: 0.3}, {Speed: 2, Score: 0.4}}
	if got := Front(pts); !slices.Equal(got, []bool{true, true, false, true}) {
		t.Errorf("front %v: the slower, worse cell is on it, or a tie is not", got)
	}
}

// The fastest cell sits in the last column, the best in the first row, and the frame is exactly w×h.
func TestView(t *testing.T) {
	st := common.DefaultStyles()
	pts := []Point{{Mark: 'a', Speed: 1, Score: 0.5, Ref: true}, {Mark: 'b', Speed: 3, Score: 0.2}}
	out := View(st, pts, 30, 8)
	lines := strings.Split(ansi.Strip(out), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		if ansi.StringWidth(l) != 30 {
			t.Errorf("line %d is %d wide: %q", i, ansi.StringWidth(l), l)
		}
	}
	if !strings.HasSuffix(strings.TrimRight(lines[5], " "), "b") || !strings.Contains(lines[0], "│a") {
		t.Errorf("points misplaced:\n%s", strings.Join(lines, "\n"))
	}
	if !strings.Contains(lines[7], "1.00×") || !strings.Contains(lines[7], "3.00×") || !strings.HasPrefix(lines[0], "0.500") {
		t.Errorf("axes:\n%s", strings.Join(lines, "\n"))
	}
	if got := ansi.Strip(View(st, nil, 20, 3)); !strings.Contains(got, "no cells") {
		t.Errorf("empty chart: %q", got)
	}
}
