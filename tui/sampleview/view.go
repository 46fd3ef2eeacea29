package sampleview

import (
	"fmt"
	"math"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/components/history"
)

// View is exactly Width×Height cells.
func (m *Model) View() string {
	w, h := m.common.Width, m.common.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	l := m.layout()
	return common.Split(h,
		common.Block{Text: m.leftView(l), Width: l.leftW},
		common.Block{Text: m.rightView(l), Width: l.rightW},
	)
}

func (m *Model) leftView(l layout) string {
	st := m.common.Styles
	title := st.Label.Render("Prompt")
	if m.promptFocused {
		title = st.Focused.Render("Prompt")
	}
	settingsTitle := st.Label.Render("Settings")
	if !m.promptFocused && !m.hist.Focused() {
		settingsTitle = st.Focused.Render("Settings")
	}
	parts := []string{
		title,
		common.FitBlock(m.prompt.View(), l.leftW, l.promptH),
		settingsTitle,
		m.fields.View(),
		"",
		m.statusLine(l.leftW),
	}
	return strings.Join(parts, "\n")
}

func (m *Model) statusLine(w int) string {
	st := m.common.Styles
	switch {
	case m.histFilter.Typing() || m.histFilter.Active():
		return m.histFilter.View(w, m.hist.Shown(), m.hist.Len())
	case m.fields.EditError() != "":
		return st.Error.Render(common.Wrap(m.fields.EditError(), w))
	case m.fields.Editing():
		return st.Dim.Render("enter applies, esc cancels")
	case m.running:
		p := m.progress
		done, of := p.Step+1, max(p.Of, 1)
		s := fmt.Sprintf("sampling %d/%d", done, of)
		if el := m.now().Sub(m.started); done > 0 && el > 0 {
			// The mean step so far predicts the rest: steps cost the same at every t.
			s += fmt.Sprintf(" · ETA %s", history.Round(el/time.Duration(done)*time.Duration(max(0, of-done))))
		}
		bar := st.ProgressBar(w).ViewAs(float64(max(0, done)) / float64(of))
		return common.FitLine(st.Warn.Render(s), w) + "\n" + bar
	case m.err != "":
		return st.Error.Render(common.Wrap(m.err, w))
	}
	return ""
}

func (m *Model) rightView(l layout) string {
	st := m.common.Styles
	header := st.Title.Render("Image")
	if m.info.Name != "" {
		header += st.Dim.Render("  " + m.info.Name)
	}
	var info []string
	sel, ok := m.hist.Selected()
	switch {
	case m.compare:
		header = st.Title.Render("Compare")
		seeds := map[uint64]bool{}
		for _, e := range m.cmp {
			header += st.Title.Render(fmt.Sprintf(" #%d", e.ID))
			seeds[e.Gen.Spec.Options.Seed] = true
		}
		if len(seeds) == 1 {
			header += st.Dim.Render("  same seed")
		} else {
			header += st.Warn.Render("  different seeds")
		}
		info = m.compareLines()
	case ok:
		info = []string{st.Timing.Render(sel.Timing()), st.Dim.Render(fmt.Sprintf("#%d %s", sel.ID, sel.Settings()))}
	}
	parts := []string{common.FitLine(header, l.rightW), m.image.View()}
	for i := range l.infoH {
		line := ""
		if i < len(info) {
			line = info[i]
		}
		parts = append(parts, common.FitLine(line, l.rightW))
	}
	parts = append(parts, m.hist.View())
	return strings.Join(parts, "\n")
}

// compareLines is one line per compared sample: its PSNR against the first, its settings with the
// ones that differ among the samples first and highlighted, and what its toggles did.
func (m *Model) compareLines() []string {
	st := m.common.Styles
	fields := make([][]string, len(m.cmp))
	for i, e := range m.cmp {
		fields[i] = e.SettingFields()
	}
	differs := func(j int) bool {
		for _, f := range fields[1:] {
			if j >= len(f) || f[j] != fields[0][j] {
				return true
			}
		}
		return false
	}
	out := make([]string, len(m.cmp))
	for i, e := range m.cmp {
		q := "reference"
		switch p := m.psnr[i]; {
		case i == 0:
		case math.IsInf(p, 1):
			q = "identical"
		default:
			q = fmt.Sprintf("%.1f dB", p)
		}
		// Differing settings first: a narrow terminal cuts the line, and they are what the eye wants.
		var diff, same []string
		for j, f := range fields[i] {
			if differs(j) {
				diff = append(diff, st.Differs.Render(f))
			} else {
				same = append(same, st.Dim.Render(f))
			}
		}
		parts := append(diff, same...)
		out[i] = st.Label.Render(fmt.Sprintf("#%-3d %-9s ", e.ID, q)) + strings.Join(parts, " ") + "  " + st.Timing.Render(e.Timing())
	}
	return out
}

// ShortHelp is the help bar's line for the current focus.
func (m *Model) ShortHelp() []key.Binding {
	if m.promptFocused {
		return []key.Binding{m.keys.Generate, m.keys.Focus, m.keys.Blur}
	}
	if m.fields.Editing() {
		return []key.Binding{m.fields.Keys.Apply, m.fields.Keys.Cancel}
	}
	if m.histFilter.Typing() {
		return []key.Binding{m.histFilter.Keys.Apply, m.histFilter.Keys.Clear}
	}
	if m.hist.Focused() {
		return []key.Binding{m.histFilter.Keys.Start, m.hist.Keys.Prev, m.hist.Keys.Mark, m.keys.Compare, m.keys.Save, m.keys.CopyCmd, m.keys.Focus}
	}
	return []key.Binding{m.keys.Generate2, m.keys.Focus, m.fields.Keys.Up, m.fields.Keys.Inc, m.fields.Keys.Edit, m.keys.RandomSeed, m.hist.Keys.Prev, m.hist.Keys.Mark, m.keys.Compare}
}

// FullHelp is every key of the view.
func (m *Model) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{m.keys.Generate, m.keys.Generate2, m.keys.Cancel, m.keys.Focus, m.keys.Blur, m.keys.Clear},
		{m.fields.Keys.Up, m.fields.Keys.Inc, m.fields.Keys.BigInc, m.fields.Keys.Toggle, m.fields.Keys.Edit, m.keys.RandomSeed},
		{m.hist.Keys.Prev, m.hist.Keys.Mark, m.keys.Compare, m.keys.Save, m.keys.CopyCmd},
	}
}
