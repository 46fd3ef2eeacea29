// Package history is the sample view's strip of earlier samples: one line each with the settings
// that made it and its timing, a selection to look at one again, and a mark for side-by-side
// comparison.
package history

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/components/filter"
)

// Entry is one finished sample.
type Entry struct {
	ID  int
	Gen *infer.Generated
}

// Settings is the entry's settings in one short line, the toggles spelled so two lines can be
// compared by eye: R renorm, T trunc, C TeaCache, "–" off.
func (e Entry) Settings() string { return strings.Join(e.SettingFields(), " ") }

// SettingFields are Settings' parts, one per setting, so a comparison can mark the ones that differ.
func (e Entry) SettingFields() []string {
	sp := e.Gen.Spec
	o := sp.Options
	r, t, c := "–", "–", "–"
	if o.Renorm > 0 {
		r = trim(o.Renorm)
	}
	if o.Trunc < 1 {
		t = trim(o.Trunc)
	}
	if o.TeaCache > 0 {
		c = trim(o.TeaCache)
	}
	return []string{fmt.Sprintf("seed %d", o.Seed), sp.System.String(), fmt.Sprintf("%dpx", sp.Width),
		fmt.Sprintf("%s×%d", o.Solver, o.Steps), "cfg " + trim(o.CFG), "shift " + trim(o.Shift), "R" + r, "T" + t, "C" + c}
}

// Timing is what the entry's toggles did: model evaluations (NFE), samples forwarded (CFG-Trunc
// lowers it), main stacks TeaCache skipped when it was on, and the wall times.
func (e Entry) Timing() string {
	r := e.Gen.Result
	s := fmt.Sprintf("NFE %d · fwd %d", r.NFE, r.Forwards)
	if e.Gen.Spec.Options.TeaCache > 0 {
		s += fmt.Sprintf(" · skip %d/%d", r.MainSkipped, r.MainSkipped+r.MainComputed)
	}
	return s + " · " + TimingLine(len(r.Steps), r.Total)
}

// TimingLine formats the wall times every sample reports: mean time per solver step, total.
func TimingLine(steps int, total time.Duration) string {
	per := time.Duration(0)
	if steps > 0 {
		per = total / time.Duration(steps)
	}
	return fmt.Sprintf("%s/step · total %s", Round(per), Round(total))
}

// Round keeps durations readable: 3 significant figures.
func Round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func trim(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

// KeyMap is the strip's keys.
type KeyMap struct {
	Prev, Next, Mark key.Binding
}

// DefaultKeyMap: [ and ] walk the history, m marks an entry for comparison. With the strip focused,
// ↑/↓ walk it too and space marks.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Prev: key.NewBinding(key.WithKeys("["), key.WithHelp("[/]", "history")),
		Next: key.NewBinding(key.WithKeys("]")),
		Mark: key.NewBinding(key.WithKeys("m"), key.WithHelp("m/space", "mark for compare")),
	}
}

// MaxMarks is how many entries a comparison holds: a 3×3 mosaic is the most a terminal shows legibly.
const MaxMarks = 9

// SelectedMsg says the selection moved to entry index Index.
type SelectedMsg struct{ Index int }

// Model is the strip; the newest entry is last.
type Model struct {
	common.Common
	Keys    KeyMap
	entries []Entry
	sel     int   // -1 when empty
	marks   []int // marked entries, in the order they were marked
	focused bool
	// query hides the entries whose text (FilterText) lacks one of its words.
	query string
	// Full is set when a mark was refused because MaxMarks are marked already.
	Full bool
}

// New makes an empty strip.
func New(c common.Common) *Model { return &Model{Common: c, Keys: DefaultKeyMap(), sel: -1} }

// SetFocused gives the strip ↑/↓ and space.
func (m *Model) SetFocused(on bool) { m.focused = on }

// Focused reports whether the strip has ↑/↓ and space.
func (m *Model) Focused() bool { return m.focused }

// Add appends an entry and selects it.
func (m *Model) Add(e Entry) {
	m.entries = append(m.entries, e)
	m.sel = len(m.entries) - 1
}

// FilterText is what the history's filter searches: the number, the prompt and the settings.
func (e Entry) FilterText() string {
	return fmt.Sprintf("#%d %s %s", e.ID, e.Gen.Spec.Prompt, e.Settings())
}

// SetQuery shows only the entries matching q (filter.Match); a hidden selection moves to the newest
// shown entry.
func (m *Model) SetQuery(q string) {
	m.query = q
	if m.sel >= 0 && !m.shown(m.sel) {
		for i := len(m.entries) - 1; i >= 0; i-- {
			if m.shown(i) {
				m.sel = i
				break
			}
		}
	}
}

// Shown is how many entries the query keeps.
func (m *Model) Shown() int {
	n := 0
	for i := range m.entries {
		if m.shown(i) {
			n++
		}
	}
	return n
}

func (m *Model) shown(i int) bool { return filter.Match(m.query, m.entries[i].FilterText()) }

// step is the next shown entry from the selection in direction d, or the selection itself.
func (m *Model) step(d int) int {
	for i := m.sel + d; i >= 0 && i < len(m.entries); i += d {
		if m.shown(i) {
			return i
		}
	}
	return m.sel
}

// Len is the number of entries.
func (m *Model) Len() int { return len(m.entries) }

// Selected is the selected entry.
func (m *Model) Selected() (Entry, bool) {
	if m.sel < 0 {
		return Entry{}, false
	}
	return m.entries[m.sel], true
}

// Marked are the entries marked for comparison, in the order they were marked.
func (m *Model) Marked() []Entry {
	out := make([]Entry, len(m.marks))
	for i, j := range m.marks {
		out[i] = m.entries[j]
	}
	return out
}

// ClearMarks unmarks every entry.
func (m *Model) ClearMarks() { m.marks = nil }

// toggleMark marks the selected entry, or unmarks it; Full says when MaxMarks refused it.
func (m *Model) toggleMark() {
	m.Full = false
	for i, j := range m.marks {
		if j == m.sel {
			m.marks = append(m.marks[:i], m.marks[i+1:]...)
			return
		}
	}
	if len(m.marks) >= MaxMarks {
		m.Full = true
		return
	}
	m.marks = append(m.marks, m.sel)
}

func (m *Model) markOf(i int) int {
	for n, j := range m.marks {
		if j == i {
			return n + 1
		}
	}
	return 0
}

// Update handles the strip's keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok || len(m.entries) == 0 {
		return nil
	}
	old := m.sel
	ks := k.String()
	switch {
	case key.Matches(k, m.Keys.Prev) || m.focused && ks == "up":
		m.sel = m.step(-1)
	case key.Matches(k, m.Keys.Next) || m.focused && ks == "down":
		m.sel = m.step(1)
	case key.Matches(k, m.Keys.Mark) || m.focused && ks == "space":
		m.toggleMark()
		return nil
	}
	if m.sel != old {
		i := m.sel
		return func() tea.Msg { return SelectedMsg{Index: i} }
	}
	return nil
}

// View shows the entries around the selection, newest at the bottom, in exactly Height lines.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	label := fmt.Sprintf("History (%d)", len(m.entries))
	var shown []int
	for i := range m.entries {
		if m.shown(i) {
			shown = append(shown, i)
		}
	}
	if len(shown) < len(m.entries) {
		label = fmt.Sprintf("History (%d of %d)", len(shown), len(m.entries))
	}
	head := m.Styles.Label.Render(label)
	if m.focused {
		head = m.Styles.Focused.Render(label) + m.Styles.Dim.Render("  space marks, c compares")
	}
	if len(m.entries) == 0 {
		return common.FitBlock(head+"\n"+m.Styles.Dim.Render("  no samples yet"), w, h)
	}
	rows := h - 1
	at := max(0, slices.Index(shown, m.sel))
	start := max(0, min(at-rows/2, len(shown)-rows))
	lines := []string{head}
	if len(shown) == 0 {
		lines = append(lines, m.Styles.Dim.Render("  no sample matches the filter"))
	}
	for _, i := range shown[min(start, len(shown)):] {
		if len(lines) >= h {
			break
		}
		e := m.entries[i]
		mark := "  "
		if n := m.markOf(i); n > 0 {
			mark = m.Styles.Warn.Render(fmt.Sprintf("%d ", n))
		}
		text := fmt.Sprintf("#%d %s · %s", e.ID, e.Settings(), Round(e.Gen.Result.Total))
		if i == m.sel {
			text = m.Styles.Selected.Render(text)
		} else {
			text = m.Styles.Dim.Render(text)
		}
		lines = append(lines, mark+text)
	}
	return common.FitBlock(strings.Join(lines, "\n"), w, h)
}
