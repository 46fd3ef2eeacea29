package settings

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/common"
)

func fields() []Field {
	return []Field{
		{Label: "Solver", Kind: Choice, Choices: []string{"euler", "midpoint", "fdpm"}},
		{Label: "CFG", Kind: Number, Value: 4, Min: 0, Max: 5, Step: 0.1, Big: 2, Decimals: 1},
		{Label: "Trunc", Kind: Toggle, Value: 0.8, Min: 0, Max: 0.99, Step: 0.05, Decimals: 2, Off: 1},
	}
}

func TestKeys(t *testing.T) {
	m := New(common.New(), fields())
	m.SetSize(40, 3)
	m.Update(tea.KeyPressMsg{Code: tea.KeyRight})
	if m.Fields[0].Index != 0 {
		t.Fatal("changed while blurred")
	}
	m.Focus()
	m.Update(tea.KeyPressMsg{Code: tea.KeyLeft}) // wraps around
	if m.Fields[0].Chosen() != "fdpm" {
		t.Errorf("choice %q", m.Fields[0].Chosen())
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	for range 3 {
		if cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyRight}); cmd == nil {
			t.Error("no ChangedMsg")
		}
	}
	// 4 + 3×0.1 without float drift.
	if m.Fields[1].Value != 4.3 {
		t.Errorf("value %v, want exactly 4.3", m.Fields[1].Value)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyRight, Mod: tea.ModShift})
	if m.Fields[1].Value != 5 {
		t.Errorf("big step past Max: %v, want clamped 5", m.Fields[1].Value)
	}
	if cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyRight}); cmd != nil {
		t.Error("ChangedMsg at the bound although nothing changed")
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	if m.Fields[2].Current() != 1 {
		t.Errorf("toggle off reports %v, want Off=1", m.Fields[2].Current())
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
	if m.Fields[2].Current() != 0.8 {
		t.Errorf("toggle on reports %v", m.Fields[2].Current())
	}
	out := ansi.Strip(m.View())
	if !strings.Contains(out, "▸ Trunc  on  0.80") || !strings.Contains(out, "CFG    5.0") {
		t.Errorf("view:\n%s", out)
	}
	m.Fields[2].Disabled = "no"
	m.Update(tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
	if !m.Fields[2].On {
		t.Error("a disabled field changed")
	}
}

func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

var enter = tea.KeyPressMsg{Code: tea.KeyEnter}

// Enter opens an editor that shows the allowed range, refuses what is outside it (saying why, and
// keeping the editor open), applies what is inside, and leaves the value alone on esc.
func TestTypedValues(t *testing.T) {
	m := New(common.New(), fields())
	m.SetSize(60, 3)
	m.Focus()
	m.Update(enter)
	if m.Editing() || m.Fields[0].Chosen() != "midpoint" {
		t.Fatalf("enter on a choice should step it, not edit: editing %v, %q", m.Editing(), m.Fields[0].Chosen())
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	m.Update(tea.KeyPressMsg{Code: 'e', Text: "e"})
	if !m.Editing() {
		t.Fatal("e did not open the editor")
	}
	if out := ansi.Strip(m.View()); !strings.Contains(out, "CFG    [") || !strings.Contains(out, "0.0–5.0") {
		t.Errorf("editor row without its range:\n%s", out)
	}
	typeText(m, "7.5")
	if cmd := m.Update(enter); cmd != nil || !m.Editing() || m.Fields[1].Value != 4 {
		t.Fatalf("7.5 > Max was applied: editing %v value %v", m.Editing(), m.Fields[1].Value)
	}
	if msg := m.EditError(); msg != "CFG must be in 0.0–5.0" {
		t.Errorf("refusal %q", msg)
	}
	if out := m.View(); !strings.Contains(out, m.Styles.Error.Render("0.0–5.0")) {
		t.Errorf("the range is not in the error colour:\n%q", out)
	}
	for range 3 {
		m.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
	}
	typeText(m, "2.25")
	cmd := m.Update(enter)
	if cmd == nil || m.Editing() || m.Fields[1].Value != 2.25 {
		t.Fatalf("2.25 not applied: editing %v value %v", m.Editing(), m.Fields[1].Value)
	}
	if msg, ok := cmd().(ChangedMsg); !ok || msg.Index != 1 {
		t.Errorf("changed message %#v", cmd())
	}
	if out := ansi.Strip(m.View()); !strings.Contains(out, "CFG    2.25") {
		t.Errorf("a typed value loses its decimals:\n%s", out)
	}
	m.Update(enter)
	typeText(m, "abc")
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	if m.Editing() || m.Fields[1].Value != 2.25 {
		t.Errorf("esc: editing %v value %v", m.Editing(), m.Fields[1].Value)
	}

	// A toggle takes a value (and switches on) or its off value.
	m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	m.Update(enter)
	typeText(m, "0.3")
	m.Update(enter)
	if f := m.Fields[2]; !f.On || f.Value != 0.3 {
		t.Errorf("toggle after 0.3: %+v", f)
	}
	m.Update(enter)
	typeText(m, "off")
	m.Update(enter)
	if f := m.Fields[2]; f.On || f.Current() != 1 {
		t.Errorf("toggle after off: %+v", f)
	}
}

func TestParse(t *testing.T) {
	seed := Field{Label: "Seed", Kind: Number, Min: 0, Max: 100}
	for _, c := range []struct {
		in, err string
	}{{"12", ""}, {" 7 ", ""}, {"1.5", "whole number"}, {"-1", "must be in 0–100"}, {"NaN", "not a number"}, {"", "not a number"}} {
		_, err := seed.Parse(c.in)
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("Parse(%q) = %v, want %q", c.in, err, c.err)
		}
	}
}
