// Package settings is a vertical list of labelled values edited with the arrow keys: choices, numbers
// with a step and bounds, and on/off toggles that keep their value while off (CFG-Renorm, CFG-Trunc
// and TeaCache are "a switch and a number" in the paper's ablations).
package settings

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/tui/common"
)

// Kind is what a field holds.
type Kind int

const (
	// Choice picks one of Choices.
	Choice Kind = iota
	// Number is a value in [Min, Max] changed by Step (Big with shift).
	Number
	// Toggle is a Number that can be switched off; Off is then reported instead of Value.
	Toggle
)

// Field is one row.
type Field struct {
	Label   string
	Kind    Kind
	Choices []string
	Index   int // Choice: the chosen one
	Value   float64
	Min     float64
	Max     float64
	Step    float64
	Big     float64
	// Decimals is how many decimals Value keeps (0 for integers); stepping rounds to it so repeated
	// steps do not drift.
	Decimals int
	On       bool    // Toggle: switched on
	Off      float64 // Toggle: the value reported while off
	// Disabled, when set, is why the field cannot change; it is shown instead of the value's hint.
	Disabled string
	Hint     string
}

// Current is the value in effect: Value, or Off for a toggle that is off.
func (f Field) Current() float64 {
	if f.Kind == Toggle && !f.On {
		return f.Off
	}
	return f.Value
}

// Choice is the chosen string of a Choice field.
func (f Field) Chosen() string {
	if f.Index < 0 || f.Index >= len(f.Choices) {
		return ""
	}
	return f.Choices[f.Index]
}

// Text is the value as shown.
func (f Field) Text() string {
	switch f.Kind {
	case Choice:
		return f.Chosen()
	case Toggle:
		v := strconv.FormatFloat(f.Value, 'f', f.Decimals, 64)
		if !f.On {
			return "off (" + v + ")"
		}
		return "on  " + v
	}
	return strconv.FormatFloat(f.Value, 'f', f.Decimals, 64)
}

func (f *Field) step(dir int, big bool) {
	if f.Disabled != "" {
		return
	}
	switch f.Kind {
	case Choice:
		if n := len(f.Choices); n > 0 {
			f.Index = ((f.Index+dir)%n + n) % n
		}
	case Number, Toggle:
		d := f.Step
		if big && f.Big > 0 {
			d = f.Big
		}
		v := f.Value + float64(dir)*d
		p := math.Pow(10, float64(f.Decimals))
		v = math.Round(v*p) / p
		f.Value = math.Min(math.Max(v, f.Min), f.Max)
	}
}

// KeyMap is the list's keys.
type KeyMap struct {
	Up, Down, Inc, Dec, BigInc, BigDec, Toggle key.Binding
}

// DefaultKeyMap: ↑/↓ pick, ←/→ change (shift for big steps), space switches a toggle.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:     key.NewBinding(key.WithKeys("up"), key.WithHelp("↑/↓", "field")),
		Down:   key.NewBinding(key.WithKeys("down")),
		Inc:    key.NewBinding(key.WithKeys("right"), key.WithHelp("←/→", "change")),
		Dec:    key.NewBinding(key.WithKeys("left")),
		BigInc: key.NewBinding(key.WithKeys("shift+right", "pgup"), key.WithHelp("shift+←/→", "big step")),
		BigDec: key.NewBinding(key.WithKeys("shift+left", "pgdown")),
		Toggle: key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "on/off")),
	}
}

// ChangedMsg reports that a field's value changed (Index is the field's position).
type ChangedMsg struct {
	Index int
}

// Model is the list.
type Model struct {
	common.Common
	Keys    KeyMap
	Fields  []Field
	Cursor  int
	focused bool
}

// New makes a list of fields.
func New(c common.Common, fields []Field) *Model {
	return &Model{Common: c, Keys: DefaultKeyMap(), Fields: fields}
}

// Focus gives the list the keyboard; Blur takes it away.
func (m *Model) Focus()        { m.focused = true }
func (m *Model) Blur()         { m.focused = false }
func (m *Model) Focused() bool { return m.focused }

// Update handles keys while focused.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok || !m.focused || len(m.Fields) == 0 {
		return nil
	}
	f := &m.Fields[m.Cursor]
	before := *f
	switch {
	case key.Matches(k, m.Keys.Up):
		m.Cursor = max(0, m.Cursor-1)
	case key.Matches(k, m.Keys.Down):
		m.Cursor = min(len(m.Fields)-1, m.Cursor+1)
	case key.Matches(k, m.Keys.BigInc):
		f.step(1, true)
	case key.Matches(k, m.Keys.BigDec):
		f.step(-1, true)
	case key.Matches(k, m.Keys.Inc):
		f.step(1, false)
	case key.Matches(k, m.Keys.Dec):
		f.step(-1, false)
	case key.Matches(k, m.Keys.Toggle):
		if f.Kind == Toggle && f.Disabled == "" {
			f.On = !f.On
		}
	default:
		return nil
	}
	if f.Value != before.Value || f.On != before.On || f.Index != before.Index {
		i := m.Cursor
		return func() tea.Msg { return ChangedMsg{Index: i} }
	}
	return nil
}

// View is one line per field: label, value, hint; the cursor row is highlighted when focused.
func (m *Model) View() string {
	labelW := 0
	for _, f := range m.Fields {
		labelW = max(labelW, len(f.Label))
	}
	var b strings.Builder
	for i, f := range m.Fields {
		if i > 0 {
			b.WriteByte('\n')
		}
		marker := "  "
		if i == m.Cursor && m.focused {
			marker = m.Styles.Focused.Render("▸ ")
		}
		val := f.Text()
		valStyle := m.Styles.Value
		if f.Kind == Toggle && !f.On {
			valStyle = m.Styles.Dim
		}
		hint := f.Hint
		if f.Disabled != "" {
			val, hint, valStyle = "n/a", f.Disabled, m.Styles.Dim
		}
		line := marker + m.Styles.Label.Render(fmt.Sprintf("%-*s ", labelW, f.Label)) + valStyle.Render(val)
		if hint != "" {
			line += " " + m.Styles.Dim.Render(hint)
		}
		if i == m.Cursor && m.focused {
			line = marker + m.Styles.Selected.Render(fmt.Sprintf("%-*s %s", labelW, f.Label, val))
			if hint != "" {
				line += " " + m.Styles.Dim.Render(hint)
			}
		}
		b.WriteString(line)
	}
	return common.FitBlock(b.String(), m.Width, m.Height)
}
