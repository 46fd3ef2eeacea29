package editor

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/common"
)

func TestEditing(t *testing.T) {
	m := New(common.New())
	m.SetSize(12, 3)
	m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	if m.Value() != "" {
		t.Fatal("typed while blurred")
	}
	m.Focus()
	for _, r := range "ab" {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	m.Update(tea.PasteMsg{Content: "cd"})
	m.Update(tea.KeyPressMsg{Code: tea.KeyUp})
	m.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
	if m.Value() != "a\ncd" {
		t.Fatalf("value %q, want %q", m.Value(), "a\ncd")
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnd})
	m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	// End of "a" is column 1; down keeps the column: "cd" offset 2 + 1.
	if m.Cursor() != 3 {
		t.Errorf("cursor %d, want 3", m.Cursor())
	}
	out := m.View()
	lines := strings.Split(out, "\n")
	if len(lines) != 3 || ansi.StringWidth(lines[0]) != 12 {
		t.Fatalf("view not 12×3: %q", out)
	}
	if !strings.Contains(ansi.Strip(out), "│ a") || !strings.Contains(ansi.Strip(out), "│ cd") {
		t.Errorf("view %q", ansi.Strip(out))
	}
}

func TestWrapAndScroll(t *testing.T) {
	m := New(common.New())
	m.SetSize(7, 2) // 5 text cells
	m.Focus()
	m.SetValue("abcdefghijklm")
	out := ansi.Strip(m.View())
	// Three rows (abcde fghij klm+cursor); the cursor's row must be visible.
	if !strings.Contains(out, "klm") || strings.Contains(out, "abcde") {
		t.Errorf("did not scroll to the cursor: %q", out)
	}
	m.CharLimit = 14
	m.Update(tea.PasteMsg{Content: "xyz"})
	if m.Value() != "abcdefghijklmx" {
		t.Errorf("char limit: %q", m.Value())
	}
}
