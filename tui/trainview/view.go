package trainview

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"github.com/lumina-workbench/lumina/tui/common"
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
	if m.trainer == nil {
		return st.Title.Render("Training") + "\n\n" + st.Dim.Render(common.Wrap("Training is not available: no trainer was wired into this binary.", l.leftW))
	}
	dirLabel := st.Label.Render("Run folder")
	if m.dirFocus {
		dirLabel = st.Focused.Render("Run folder")
	}
	lines := []string{
		st.Title.Render("Job") + "  " + m.stateText(),
		m.fields.View(),
		dirLabel,
		m.runDir.View(),
		"",
	}
	if w := m.watch; w != nil {
		// The pickers' rows show the watched folder and its writer instead.
		who := st.Dim.Render("nobody writes it now")
		switch {
		case w.err != "":
			who = st.Error.Render(w.err)
		case w.writer.HolderOK:
			who = st.Dim.Render(fmt.Sprintf("writer PID %d on %s", w.writer.Holder.PID, w.writer.Holder.Host))
		}
		origin := "started elsewhere"
		if w.spawned {
			origin = "started here, detached"
		}
		lines = []string{
			st.Title.Render("Run") + "  " + m.stateText(),
			st.Label.Render("watching ") + st.Value.Render(w.dir),
			who,
			st.Dim.Render(origin),
			"",
		}
	}
	lm := m.last
	val := func(label, v string) string {
		return st.Label.Render(fmt.Sprintf("%-10s", label)) + st.Value.Render(v)
	}
	dash := "–"
	stepText, ips, eta, lr, gn := dash, dash, dash, dash, dash
	if lm.Step > 0 {
		stepText = fmt.Sprintf("%d/%d (stage %d)", lm.Step, lm.Steps, lm.Stage)
		ips = fmt.Sprintf("%.1f", lm.ImagesPerSec)
		lr = fmt.Sprintf("%.3g", lm.LR)
		gn = fmt.Sprintf("%.3g", lm.GradNorm)
		if lm.ETA > 0 {
			eta = common.Duration(lm.ETA)
		}
		if job, ok := m.jobETA(); ok {
			eta += st.Dim.Render(" (job ") + st.Value.Render(common.Duration(job)) + st.Dim.Render(")")
		}
	}
	lines = append(lines, val("step", stepText))
	if m.resumedAt > 0 {
		lines = append(lines, val("", st.Warn.Render(fmt.Sprintf("resumed at step %d", m.resumedAt))))
	}
	lines = append(lines,
		val("images/s", ips),
		val("ETA", eta),
		val("lr", lr),
		val("grad norm", gn),
		"",
		st.Label.Render("Stages"),
	)
	// A stage line is an 8-cell label, a space, and the bar with its percentage in the rest.
	bar := st.ProgressBar(max(9, l.leftW-9))
	for _, s := range m.stages {
		pct := 0.0
		if s.info.Steps > 0 {
			pct = float64(s.step) / float64(s.info.Steps)
		}
		label := fmt.Sprintf("%d %-6s", s.index, truncate(s.info.Name, 6))
		lines = append(lines, st.Dim.Render(label)+" "+bar.ViewAs(pct))
	}
	if len(m.stages) == 0 {
		lines = append(lines, st.Dim.Render("  no job yet (s starts)"))
	}
	lines = append(lines, "")
	// The latest notes fill what is left, wrapped, newest last.
	room := m.common.Height - (strings.Count(strings.Join(lines, "\n"), "\n") + 1)
	var noteLines []string
	for i := len(m.notes) - 1; i >= 0 && len(noteLines) < room; i-- {
		n := m.notes[i]
		style := st.Dim
		switch n.level {
		case 1:
			style = st.Warn
		case 2:
			style = st.Error
		}
		wrapped := strings.Split(common.Wrap(n.text, l.leftW), "\n")
		for j := range wrapped {
			wrapped[j] = style.Render(wrapped[j])
		}
		noteLines = append(wrapped, noteLines...)
	}
	if len(noteLines) > room {
		noteLines = noteLines[len(noteLines)-room:]
	}
	lines = append(lines, noteLines...)
	return strings.Join(lines, "\n")
}

func (m *Model) stateText() string {
	st := m.common.Styles
	if m.watch != nil {
		text, level := m.watchStatus()
		switch {
		case text == "training":
			return st.Good.Render(text)
		case level == 2:
			return st.Error.Render(text)
		case level == 1:
			return st.Warn.Render(text)
		}
		return st.Dim.Render(text)
	}
	switch m.state {
	case Running:
		return st.Good.Render(m.state.String())
	case Paused, Stopping, Starting:
		return st.Warn.Render(m.state.String())
	case Failed:
		return st.Error.Render(m.state.String())
	}
	return st.Dim.Render(m.state.String())
}

func (m *Model) rightView(l layout) string {
	st := m.common.Styles
	label := "Latest samples"
	if m.gridLabel != "" {
		label += st.Dim.Render("  " + m.gridLabel)
	}
	bottom := common.Split(l.gridRows,
		common.Block{Text: m.grid.View(), Width: l.gridCols},
		common.Block{Text: m.evalView(l.evalW), Width: l.evalW},
	)
	return strings.Join([]string{m.plot.View(), common.FitLine(st.Title.Render(label), l.rightW), bottom}, "\n")
}

// evalView is the ToyEval report of the last stage that has one.
func (m *Model) evalView(w int) string {
	st := m.common.Styles
	for i := len(m.stages) - 1; i >= 0; i-- {
		s := m.stages[i]
		if s.eval == nil {
			continue
		}
		lines := []string{st.Label.Render(fmt.Sprintf("ToyEval, stage %d", s.index)),
			st.Value.Render(fmt.Sprintf("overall %.3f", s.eval.Overall))}
		for _, c := range s.eval.Categories {
			lines = append(lines, fmt.Sprintf("%-*s %.2f", max(1, w-6), truncate(c.Name, max(1, w-6)), c.Mean))
		}
		return strings.Join(lines, "\n")
	}
	return st.Dim.Render("ToyEval runs at stage ends")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}

// ShortHelp is the help bar's line.
func (m *Model) ShortHelp() []key.Binding {
	switch {
	case m.dirFocus:
		return []key.Binding{m.keys.Blur}
	case m.watch != nil:
		return []key.Binding{m.keys.Stop, m.keys.Detach, m.plot.Keys.LogScale, m.plot.Keys.MoreSmooth, m.plot.Keys.Zoom}
	}
	return []key.Binding{m.keys.Start, m.keys.Background, m.keys.Watch, m.keys.Pause, m.keys.Stop, m.keys.Focus, m.fields.Keys.Up, m.plot.Keys.LogScale}
}

// FullHelp is every key of the view.
func (m *Model) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{m.keys.Start, m.keys.Background, m.keys.Pause, m.keys.Stop},
		{m.keys.Watch, m.keys.Detach, m.keys.Focus, m.keys.Blur},
		{m.fields.Keys.Up, m.fields.Keys.Inc, m.fields.Keys.Edit},
		{m.plot.Keys.LogScale, m.plot.Keys.MoreSmooth, m.plot.Keys.Zoom},
	}
}
