package common

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestFitBlock(t *testing.T) {
	got := FitBlock("abcdef\n\x1b[1mxy\x1b[m\nz\nextra", 4, 3)
	lines := strings.Split(got, "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	want := []string{"abc…", "xy  ", "z   "}
	for i, l := range lines {
		if ansi.Strip(l) != want[i] {
			t.Errorf("line %d = %q, want %q", i, ansi.Strip(l), want[i])
		}
	}
}

func TestBar(t *testing.T) {
	s := DefaultStyles()
	for _, c := range []struct {
		w    int
		frac float64
		want string
	}{{4, 0, "░░░░"}, {4, 1, "████"}, {4, 0.5, "██░░"}, {4, 0.5 + 1.0/32, "██▏░"}, {2, 7, "██"}} {
		if got := ansi.Strip(s.Bar(c.w, c.frac)); got != c.want {
			t.Errorf("Bar(%d, %v) = %q, want %q", c.w, c.frac, got, c.want)
		}
	}
}
