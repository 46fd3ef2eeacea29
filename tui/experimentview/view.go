package experimentview

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/lumina-workbench/lumina/experiment"
	"github.com/lumina-workbench/lumina/sweep"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/components/curvechart"
)

// View is exactly Width×Height cells: the folders on the left, the selected experiment on the right.
func (m *Model) View() string {
	w, h := m.common.Width, m.common.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	leftW := min(32, max(20, w/4))
	rightW := max(0, w-leftW-common.Gutter)
	return common.Split(h,
		common.Block{Text: m.listView(leftW, h), Width: leftW},
		common.Block{Text: m.detailView(rightW, h), Width: rightW},
	)
}

func (m *Model) listView(w, h int) string {
	st := m.common.Styles
	lines := []string{st.Title.Render("Experiments")}
	if len(m.dirs) == 0 {
		lines = append(lines, st.Dim.Render(common.Wrap("none under "+m.root+": run `lumina experiment FILE --out "+filepath.Join(m.root, "NAME")+"`", w)))
		return common.FitBlock(strings.Join(lines, "\n"), w, h)
	}
	rows := h - 1
	start := max(0, min(m.sel-rows/2, len(m.dirs)-rows))
	for i := start; i < len(m.dirs) && len(lines) < h; i++ {
		name := filepath.Base(m.dirs[i])
		if i == m.sel {
			lines = append(lines, st.Selected.Render(common.FitLine("› "+name, w)))
		} else {
			lines = append(lines, st.Value.Render("  "+name))
		}
	}
	return common.FitBlock(strings.Join(lines, "\n"), w, h)
}

func (m *Model) detailView(w, h int) string {
	st := m.common.Styles
	s := m.snap
	switch {
	case m.err != "":
		return common.FitBlock(st.Error.Render(common.Wrap(m.err, w)), w, h)
	case len(m.dirs) == 0:
		return common.FitBlock(st.Dim.Render("no experiment to show"), w, h)
	case s == nil:
		return common.FitBlock(st.Dim.Render("reading…"), w, h)
	}
	e := s.Exp
	total := len(e.Runs())
	head := st.Title.Render(e.Name) + st.Dim.Render(fmt.Sprintf("  %d variants × %d seeds  ", len(e.Variants), len(e.Seeds)))
	if s.Done == total {
		head += st.Good.Render(fmt.Sprintf("%d/%d runs finished", s.Done, total))
	} else {
		head += st.Warn.Render(fmt.Sprintf("%d/%d runs finished", s.Done, total))
	}
	lines := []string{common.FitLine(head, w)}
	sub := e.Description
	if s.Last.Kind != "" {
		sub += st.Dim.Render(fmt.Sprintf("  last: %s at %s", s.Last.Kind, s.Last.Time.UTC().Format("2006-01-02 15:04:05")))
	}
	lines = append(lines, common.FitLine(st.Dim.Render(sub), w))
	table := m.table(w)
	chartH := max(4, h-len(lines)-len(table)-1)
	series := make([]curvechart.Series, len(e.Variants))
	for i, v := range e.Variants {
		series[i] = curvechart.Series{Name: v.Name}
		for _, p := range s.Curves[i] {
			series[i].Y = append(series[i].Y, p.Loss.Mean)
		}
	}
	lines = append(lines, curvechart.View(st, series, w, chartH), "")
	lines = append(lines, table...)
	return common.FitBlock(strings.Join(lines, "\n"), w, h)
}

// table is a line per variant: its mark in the chart, then (once summarised) the final and best loss
// over seeds with their range, ToyEval's score and the paired difference to the first variant, each
// with its interval; a difference whose interval excludes 0 is highlighted.
func (m *Model) table(w int) []string {
	st := m.common.Styles
	s := m.snap
	nameW := 8
	for _, v := range s.Exp.Variants {
		nameW = max(nameW, len(v.Name))
	}
	// Narrow terminals get the mean final loss and two-decimal intervals: the columns that decide.
	wide := w >= 2+nameW+2*25+23+24
	head := fmt.Sprintf("  %-*s %-24s %-24s %-22s %s", nameW, "variant", "final loss", "best loss", "ToyEval score", "Δ score vs first")
	if !wide {
		head = fmt.Sprintf("  %-*s %-7s %-17s %s", nameW, "variant", "final", "score", "Δ vs first")
	}
	out := []string{st.Label.Render(common.FitLine(head, w))}
	for i, v := range s.Exp.Variants {
		mark := curvechart.Style(st, i).Render(curvechart.Mark(i))
		line := mark + " " + st.Value.Render(fmt.Sprintf("%-*s", nameW, v.Name))
		switch {
		case s.Summary != nil:
			vs := s.Summary.Variants[i]
			delta := st.Dim.Render("reference")
			if i > 0 {
				delta = interval(vs.Delta, true)
				if !wide {
					delta = short(vs.Delta, true)
				}
				if vs.Delta.ExcludesZero() {
					delta = st.Differs.Render(delta)
				}
			}
			if wide {
				line += " " + fmt.Sprintf("%-24s %-24s %-22s ", spread(vs.FinalLoss), spread(vs.BestLoss), interval(vs.Score, false)) + delta
			} else {
				line += " " + fmt.Sprintf("%-7.4f %-17s ", vs.FinalLoss.Mean, short(vs.Score, false)) + delta
			}
		case s.Curves[i] != nil:
			last := s.Curves[i][len(s.Curves[i])-1]
			line += " " + st.Dim.Render(fmt.Sprintf("loss %.4g at step %d so far", last.Loss.Mean, last.Step))
		default:
			line += " " + st.Dim.Render("not started")
		}
		out = append(out, common.FitLine(line, w))
	}
	if s.Summary == nil && s.SummaryErr != nil {
		out = append(out, st.Dim.Render(common.FitLine("summary: "+s.SummaryErr.Error(), w)))
	}
	return out
}

func spread(s experiment.Spread) string {
	if math.IsNaN(s.Mean) {
		return "–"
	}
	return fmt.Sprintf("%.4f [%.4f, %.4f]", s.Mean, s.Min, s.Max)
}

// interval is an estimate with its interval; signed for differences.
func interval(iv sweep.Interval, signed bool) string {
	if signed {
		return fmt.Sprintf("%+.3f [%+.3f, %+.3f]", iv.Est, iv.Lo, iv.Hi)
	}
	return fmt.Sprintf("%.3f [%.3f, %.3f]", iv.Est, iv.Lo, iv.Hi)
}

// short is interval with two decimals, for narrow terminals.
func short(iv sweep.Interval, signed bool) string {
	if signed {
		return fmt.Sprintf("%+.2f [%+.2f, %+.2f]", iv.Est, iv.Lo, iv.Hi)
	}
	return fmt.Sprintf("%.2f [%.2f, %.2f]", iv.Est, iv.Lo, iv.Hi)
}
