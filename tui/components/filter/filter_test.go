package filter

import (
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/common"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		q, text string
		want    bool
	}{{"", "anything", true}, {"TINY", "tiny-cpu run", true}, {"tiny run", "run tiny-cpu", true}, {"tiny gpu", "tiny-cpu", false}} {
		if got := Match(c.q, c.text); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.q, c.text, got)
		}
	}
}

func TestTypingKeepingClearing(t *testing.T) {
	m := New(common.New())
	press := func(code rune, text string) (bool, bool) {
		h, c, _ := m.Update(tea.KeyPressMsg{Code: code, Text: text})
		return h, c
	}
	if h, _ := press('x', "x"); h {
		t.Error("a key taken before /")
	}
	press('/', "/")
	if !m.Typing() {
		t.Fatal("/ did not start the filter")
	}
	if _, changed := press('a', "a"); !changed || m.Query() != "a" {
		t.Errorf("typing: query %q", m.Query())
	}
	press(tea.KeyEnter, "")
	if m.Typing() || !m.Active() || !m.Match("cat") || m.Match("dog") {
		t.Error("enter did not keep the filter")
	}
	if got := ansi.Strip(m.View(20, 3, 9)); got != "/a 3/9"+"              " {
		t.Errorf("kept view %q", got)
	}
	if _, changed := press(tea.KeyEscape, ""); !changed || m.Active() {
		t.Error("esc did not clear the kept filter")
	}
	if m.View(20, 9, 9) != "" {
		t.Error("an empty filter draws a line")
	}
}
