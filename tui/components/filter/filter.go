// Package filter is the lists' "/" filter: a one-line input whose words must all appear, in any case,
// in an item's text for the item to stay listed. Enter keeps the filter and gives the keys back to the
// list; esc clears it.
package filter

import (
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/tui/common"
)

// KeyMap is the filter's keys.
type KeyMap struct {
	Start, Apply, Clear key.Binding
}

// DefaultKeyMap: / starts typing a filter, enter keeps it, esc clears it.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Start: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Apply: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
		Clear: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
	}
}

// Model is one list's filter.
type Model struct {
	Keys   KeyMap
	styles *common.Styles
	input  textinput.Model
	typing bool
}

// New makes an empty filter.
func New(c common.Common) *Model {
	return &Model{Keys: DefaultKeyMap(), styles: c.Styles, input: common.NewTextInput(c.Styles, "/")}
}

// Typing reports whether the filter has the keyboard.
func (m *Model) Typing() bool { return m.typing }

// Query is the filter's text.
func (m *Model) Query() string { return m.input.Value() }

// Active reports whether the filter hides anything (its words are not all blank).
func (m *Model) Active() bool { return strings.TrimSpace(m.input.Value()) != "" }

// Match reports whether text holds every word of the filter, ignoring case.
func (m *Model) Match(text string) bool { return Match(m.input.Value(), text) }

// Match reports whether text holds every space-separated word of query, ignoring case.
func Match(query, text string) bool {
	text = strings.ToLower(text)
	for _, w := range strings.Fields(strings.ToLower(query)) {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// Update handles a key. It reports whether the filter took it and whether the query changed; the
// list refilters on changed.
func (m *Model) Update(k tea.KeyPressMsg) (handled, changed bool, cmd tea.Cmd) {
	before := m.input.Value()
	switch {
	case !m.typing && key.Matches(k, m.Keys.Start):
		m.typing = true
		return true, false, m.input.Focus()
	case !m.typing && m.Active() && key.Matches(k, m.Keys.Clear):
		m.input.SetValue("")
		return true, true, nil
	case !m.typing:
		return false, false, nil
	case key.Matches(k, m.Keys.Apply):
		m.typing = false
		m.input.Blur()
		return true, false, nil
	case key.Matches(k, m.Keys.Clear):
		m.typing = false
		m.input.Blur()
		m.input.SetValue("")
		return true, before != "", nil
	}
	m.input, cmd = m.input.Update(k)
	return true, m.input.Value() != before, cmd
}

// View is the filter's line, w cells wide: the input while typing, the kept query after; "" when
// there is neither.
func (m *Model) View(w int, shown, total int) string {
	if !m.typing && !m.Active() {
		return ""
	}
	m.input.SetWidth(max(1, w-12))
	count := m.styles.Dim.Render(" " + strconv.Itoa(shown) + "/" + strconv.Itoa(total))
	if m.typing {
		return common.FitLine(m.input.View()+count, w)
	}
	return common.FitLine(m.styles.Warn.Render("/"+m.input.Value())+count, w)
}
