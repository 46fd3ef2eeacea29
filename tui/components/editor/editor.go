// Package editor is a small multi-line text input for the prompt. (Bubbles' textarea would do, but it
// pulls in a clipboard module the workspace does not carry; this one needs nothing and draws a steady
// cursor, which keeps golden snapshots deterministic.)
package editor

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/common"
)

// KeyMap is the editor's keys; printable text is inserted as typed.
type KeyMap struct {
	Newline, Backspace, Delete, Left, Right, Up, Down, Home, End, Clear key.Binding
}

// DefaultKeyMap is the usual editing keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Newline:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "new line")),
		Backspace: key.NewBinding(key.WithKeys("backspace", "ctrl+h")),
		Delete:    key.NewBinding(key.WithKeys("delete", "ctrl+d")),
		Left:      key.NewBinding(key.WithKeys("left", "ctrl+b")),
		Right:     key.NewBinding(key.WithKeys("right", "ctrl+f")),
		Up:        key.NewBinding(key.WithKeys("up")),
		Down:      key.NewBinding(key.WithKeys("down")),
		Home:      key.NewBinding(key.WithKeys("home", "ctrl+a")),
		End:       key.NewBinding(key.WithKeys("end", "ctrl+e")),
		Clear:     key.NewBinding(key.WithKeys("ctrl+u"), key.WithHelp("ctrl+u", "clear")),
	}
}

// Model is the editor: runes and a cursor position in them.
type Model struct {
	common.Common
	Keys        KeyMap
	Placeholder string
	CharLimit   int

	text    []rune
	cur     int
	focused bool
}

// New makes an empty editor.
func New(c common.Common) *Model { return &Model{Common: c, Keys: DefaultKeyMap(), CharLimit: 2000} }

// Value is the text.
func (m *Model) Value() string { return string(m.text) }

// SetValue replaces the text and puts the cursor at its end.
func (m *Model) SetValue(s string) {
	m.text = []rune(s)
	if m.CharLimit > 0 && len(m.text) > m.CharLimit {
		m.text = m.text[:m.CharLimit]
	}
	m.cur = len(m.text)
}

// Cursor is the cursor's rune offset.
func (m *Model) Cursor() int { return m.cur }

// Focus, Blur and Focused manage the keyboard.
func (m *Model) Focus()        { m.focused = true }
func (m *Model) Blur()         { m.focused = false }
func (m *Model) Focused() bool { return m.focused }

func (m *Model) insert(rs []rune) {
	if m.CharLimit > 0 {
		rs = rs[:max(0, min(len(rs), m.CharLimit-len(m.text)))]
	}
	m.text = append(m.text[:m.cur], append(append([]rune(nil), rs...), m.text[m.cur:]...)...)
	m.cur += len(rs)
}

// lineBounds returns the start and end (exclusive, at the newline) of the logical line holding pos.
func (m *Model) lineBounds(pos int) (int, int) {
	s := pos
	for s > 0 && m.text[s-1] != '\n' {
		s--
	}
	e := pos
	for e < len(m.text) && m.text[e] != '\n' {
		e++
	}
	return s, e
}

// Update edits the text while focused.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	if !m.focused {
		return nil
	}
	switch msg := msg.(type) {
	case tea.PasteMsg:
		m.insert([]rune(strings.ReplaceAll(msg.Content, "\r\n", "\n")))
	case tea.KeyPressMsg:
		m.key(msg)
	}
	return nil
}

func (m *Model) key(k tea.KeyPressMsg) {
	switch {
	case key.Matches(k, m.Keys.Newline):
		m.insert([]rune{'\n'})
	case key.Matches(k, m.Keys.Backspace):
		if m.cur > 0 {
			m.text = append(m.text[:m.cur-1], m.text[m.cur:]...)
			m.cur--
		}
	case key.Matches(k, m.Keys.Delete):
		if m.cur < len(m.text) {
			m.text = append(m.text[:m.cur], m.text[m.cur+1:]...)
		}
	case key.Matches(k, m.Keys.Left):
		m.cur = max(0, m.cur-1)
	case key.Matches(k, m.Keys.Right):
		m.cur = min(len(m.text), m.cur+1)
	case key.Matches(k, m.Keys.Home):
		m.cur, _ = m.lineBounds(m.cur)
	case key.Matches(k, m.Keys.End):
		_, m.cur = m.lineBounds(m.cur)
	case key.Matches(k, m.Keys.Up):
		s, _ := m.lineBounds(m.cur)
		if s > 0 {
			ps, pe := m.lineBounds(s - 1)
			m.cur = min(ps+(m.cur-s), pe)
		} else {
			m.cur = 0
		}
	case key.Matches(k, m.Keys.Down):
		s, e := m.lineBounds(m.cur)
		if e < len(m.text) {
			ns, ne := m.lineBounds(e + 1)
			m.cur = min(ns+(m.cur-s), ne)
		} else {
			m.cur = len(m.text)
		}
	case key.Matches(k, m.Keys.Clear):
		m.text, m.cur = nil, 0
	default:
		if k.Text != "" {
			m.insert([]rune(k.Text))
		}
	}
}

// View wraps the text to Width−2 cells behind a bar, scrolls so the cursor line is visible, and is
// exactly Width×Height cells.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	if w <= 2 || h <= 0 {
		return common.FitBlock("", w, h)
	}
	tw := w - 2
	bar := m.Styles.Dim.Render("│ ")
	if m.focused {
		bar = m.Styles.Focused.Render("│ ")
	}
	if len(m.text) == 0 {
		ph := m.Styles.Dim.Render(ansi.Truncate(m.Placeholder, tw-1, "…"))
		if m.focused {
			ph = cursorStyle.Render(" ") + ph
		}
		lines := []string{bar + ph}
		for len(lines) < h {
			lines = append(lines, bar)
		}
		return common.FitBlock(strings.Join(lines, "\n"), w, h)
	}
	// Hard-wrap by cells; the cursor is a cell of its own at its rune.
	type cell struct {
		r   rune
		cur bool
	}
	var rows [][]cell
	var row []cell
	width := 0
	curRow := 0
	flush := func() { rows = append(rows, row); row, width = nil, 0 }
	for i := 0; i <= len(m.text); i++ {
		isCur := i == m.cur && m.focused
		if isCur {
			curRow = len(rows)
		}
		if i == len(m.text) {
			if isCur {
				if width+1 > tw {
					flush()
					curRow = len(rows)
				}
				row = append(row, cell{' ', true})
			}
			break
		}
		r := m.text[i]
		if r == '\n' {
			if isCur {
				row = append(row, cell{' ', true})
			}
			flush()
			continue
		}
		rw := max(1, ansi.StringWidth(string(r)))
		if width+rw > tw {
			flush()
			if isCur {
				curRow = len(rows)
			}
		}
		row = append(row, cell{r, isCur})
		width += rw
	}
	flush()
	start := max(0, min(curRow-h+1, len(rows)-h))
	if !m.focused {
		start = 0
	}
	var lines []string
	for i := start; i < len(rows) && len(lines) < h; i++ {
		var b strings.Builder
		for _, c := range rows[i] {
			if c.cur {
				b.WriteString(cursorStyle.Render(string(c.r)))
			} else {
				b.WriteRune(c.r)
			}
		}
		lines = append(lines, bar+b.String())
	}
	for len(lines) < h {
		lines = append(lines, bar)
	}
	return common.FitBlock(strings.Join(lines, "\n"), w, h)
}

var cursorStyle = lipgloss.NewStyle().Reverse(true)
