// Package settings is a vertical list of labelled values: choices, numbers with a step and bounds, and
// on/off toggles that keep their value while off (CFG-Renorm, CFG-Trunc and TeaCache are "a switch and
// a number" in the paper's ablations). The arrow keys step a value; enter (or e) opens a text input to
// type one, checked against the field's range, which the input shows.
package settings

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
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
		v := f.number(f.Value)
		if !f.On {
			return "off (" + v + ")"
		}
		return "on  " + v
	}
	return f.number(f.Value)
}

// number formats v with the field's decimals, or more when a typed value has more.
func (f Field) number(v float64) string {
	s := strconv.FormatFloat(v, 'f', f.Decimals, 64)
	if exact := strconv.FormatFloat(v, 'f', -1, 64); len(exact) > len(s) {
		return exact
	}
	return s
}

// Range is the values the field accepts, as the editor shows them: "0–50", "0.01–5 or off".
func (f Field) Range() string {
	r := f.number(f.Min) + "–" + f.number(f.Max)
	if f.Kind == Toggle {
		r += " or off"
	}
	return r
}

// Parse checks a typed value against the field and returns the field with it set. A toggle also takes
// "off", or its Off value (0 switches TeaCache off, as on the command line).
func (f Field) Parse(text string) (Field, error) {
	text = strings.TrimSpace(text)
	if f.Kind == Toggle && (strings.EqualFold(text, "off") || text == f.number(f.Off)) {
		f.On = false
		return f, nil
	}
	v, err := strconv.ParseFloat(text, 64)
	switch {
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
		return f, fmt.Errorf("%q is not a number; %s takes %s", text, f.Label, f.Range())
	case f.Decimals == 0 && v != math.Trunc(v):
		return f, fmt.Errorf("%s takes a whole number in %s", f.Label, f.Range())
	case v < f.Min || v > f.Max:
		return f, fmt.Errorf("%s must be in %s", f.Label, f.Range())
	}
	f.Value = v
	if f.Kind == Toggle {
		f.On = true
	}
	return f, nil
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
	Up, Down, Inc, Dec, BigInc, BigDec, Toggle, Edit, Apply, Cancel key.Binding
}

// DefaultKeyMap: ↑/↓ pick, ←/→ change (shift for big steps), space switches a toggle, enter or e types
// a value (a choice steps to the next one), and in the editor enter applies and esc cancels.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Edit:   key.NewBinding(key.WithKeys("enter", "e"), key.WithHelp("enter", "type value")),
		Apply:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
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

	editing bool
	input   textinput.Model
	editErr string
}

// New makes a list of fields.
func New(c common.Common, fields []Field) *Model {
	m := &Model{Common: c, Keys: DefaultKeyMap(), Fields: fields}
	m.input = common.NewTextInput(c.Styles, "")
	m.input.CharLimit = 32
	return m
}

// Focus gives the list the keyboard; Blur takes it away (and drops an unfinished edit).
func (m *Model) Focus() { m.focused = true }
func (m *Model) Blur() {
	m.focused = false
	m.stopEdit()
}
func (m *Model) Focused() bool { return m.focused }

// Editing reports that the value editor has the keyboard: every key, q and digits included, is typed.
func (m *Model) Editing() bool { return m.editing }

// Select moves the cursor to field i (a click on its row).
func (m *Model) Select(i int) {
	if i >= 0 && i < len(m.Fields) && !m.editing {
		m.Cursor = i
	}
}

// Update handles keys while focused, and the theme.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.ThemeMsg:
		common.StyleTextInput(&m.input, m.Styles)
		return nil
	case tea.PasteMsg:
		if m.editing {
			var cmd tea.Cmd
			m.input, cmd = m.input.Update(msg)
			return cmd
		}
		return nil
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok || !m.focused || len(m.Fields) == 0 {
		return nil
	}
	if m.editing {
		return m.edit(k)
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
	case key.Matches(k, m.Keys.Edit):
		if f.Disabled != "" {
			return nil
		}
		if f.Kind == Choice {
			f.step(1, false)
			break
		}
		m.startEdit()
		return nil
	default:
		return nil
	}
	return m.changed(before)
}

func (m *Model) changed(before Field) tea.Cmd {
	f := m.Fields[m.Cursor]
	if f.Value != before.Value || f.On != before.On || f.Index != before.Index {
		i := m.Cursor
		return func() tea.Msg { return ChangedMsg{Index: i} }
	}
	return nil
}

// startEdit opens the editor on the cursor's field, empty, with the current value as its placeholder:
// typing replaces the value, and enter on nothing keeps it.
func (m *Model) startEdit() {
	m.editing, m.editErr = true, ""
	m.input.Reset()
	m.input.Placeholder = m.Fields[m.Cursor].number(m.Fields[m.Cursor].Value)
	m.input.Focus()
}

func (m *Model) stopEdit() {
	m.editing, m.editErr = false, ""
	m.input.Blur()
}

func (m *Model) edit(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.Keys.Cancel):
		m.stopEdit()
		return nil
	case key.Matches(k, m.Keys.Apply):
		text := m.input.Value()
		if strings.TrimSpace(text) == "" {
			m.stopEdit()
			return nil
		}
		before := m.Fields[m.Cursor]
		f, err := before.Parse(text)
		if err != nil {
			m.editErr = err.Error()
			return nil
		}
		m.Fields[m.Cursor] = f
		m.stopEdit()
		return m.changed(before)
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	m.editErr = ""
	return cmd
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
		if i == m.Cursor && m.editing {
			line = m.editLine(marker, labelW, f)
		}
		b.WriteString(line)
	}
	return common.FitBlock(b.String(), m.Width, m.Height)
}

// EditError is why the typed value was refused ("" when it was not): the row shows the range in the
// error colour, and the view around the list, which has the room, says why.
func (m *Model) EditError() string {
	if !m.editing {
		return ""
	}
	return m.editErr
}

// editLine is the cursor's row while a value is typed: the label, the input, and the allowed range
// (in the error colour after a refusal).
func (m *Model) editLine(marker string, labelW int, f Field) string {
	note := m.Styles.Dim.Render(f.Range())
	if m.editErr != "" {
		note = m.Styles.Error.Render(f.Range())
	}
	w := max(6, min(12, m.Width-labelW-3-len(f.Range())-2))
	m.input.SetWidth(w)
	return marker + m.Styles.Focused.Render(fmt.Sprintf("%-*s ", labelW, f.Label)) + m.Styles.Dim.Render("[") +
		m.input.View() + m.Styles.Dim.Render("]") + " " + note
}
