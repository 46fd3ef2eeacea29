package common

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
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

func TestProgressBar(t *testing.T) {
	s := DefaultStyles()
	// Nine cells: a four-cell bar and the five-cell percentage.
	for _, c := range []struct {
		frac        float64
		want        string
		full, empty int
	}{
		{0, "░░░░   0%", 0, 4},
		{0.5, "██░░  50%", 2, 2},
		{1, "████ 100%", 4, 0},
		{0.6, "██░░  60%", 2, 2},
		{0.65, "███░  65%", 3, 1},
		{7, "████ 100%", 4, 0},
	} {
		got := s.ProgressBar(9).ViewAs(c.frac)
		if plain := ansi.Strip(got); plain != c.want {
			t.Errorf("ViewAs(%v) = %q, want %q", c.frac, plain, c.want)
		}
		// The filled part takes the Good colour, the rest the Dim one.
		if c.full > 0 && !strings.Contains(got, s.Good.Render(strings.Repeat("█", c.full))) {
			t.Errorf("ViewAs(%v): filled part not in the Good style: %q", c.frac, got)
		}
		if c.empty > 0 && !strings.Contains(got, s.Dim.Render(strings.Repeat("░", c.empty))) {
			t.Errorf("ViewAs(%v): empty part not in the Dim style: %q", c.frac, got)
		}
	}
	if w := ansi.StringWidth(s.ProgressBar(30).ViewAs(0.3)); w != 30 {
		t.Errorf("a 30-cell bar is %d cells wide", w)
	}
}

func TestTextarea(t *testing.T) {
	ta := NewTextarea(DefaultStyles())
	ta.SetWidth(12)
	ta.SetHeight(3)
	if cmd := ta.Focus(); cmd != nil {
		t.Error("focus started a cursor blink")
	}
	for _, k := range []tea.KeyPressMsg{
		{Code: 'a', Text: "a"}, {Code: 'b', Text: "b"}, {Code: tea.KeyEnter}, {Code: 'c', Text: "c"},
	} {
		var cmd tea.Cmd
		ta, cmd = ta.Update(k)
		if cmd != nil {
			if msg := cmd(); msg != nil {
				t.Errorf("key %v: the text area asked for %T", k, msg)
			}
		}
	}
	if ta.Value() != "ab\nc" {
		t.Fatalf("value %q", ta.Value())
	}
	out := ta.View()
	lines := strings.Split(out, "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3: %q", len(lines), out)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w != 12 {
			t.Errorf("line %d is %d cells wide, want 12: %q", i, w, l)
		}
	}
	want := []string{"│ ab", "│ c ", "│   "}
	for i, l := range lines {
		if !strings.HasPrefix(ansi.Strip(l), want[i]) {
			t.Errorf("line %d = %q, want it to start with %q", i, ansi.Strip(l), want[i])
		}
	}
	// The cursor is a steady reverse-video cell after "c", and goes with the focus.
	if !strings.Contains(lines[1], "c\x1b[7m \x1b[m") {
		t.Errorf("no steady cursor after the text: %q", lines[1])
	}
	ta.Blur()
	if strings.Contains(ta.View(), "\x1b[7m") {
		t.Error("cursor drawn while blurred")
	}
}

func TestDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{0, "0s"}, {1499 * time.Millisecond, "1s"}, {45 * time.Second, "45s"}, {187 * time.Second, "3m07s"}, {2*time.Hour + 5*time.Minute + 40*time.Second, "2h05m"}} {
		if got := Duration(c.d); got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
