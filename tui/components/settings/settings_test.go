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
