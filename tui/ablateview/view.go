package ablateview

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/table"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/components/paretochart"
	"github.com/lumina-workbench/lumina/tui/termcap"
)

// View is exactly Width×Height cells.
func (m *Model) View() string {
	w, h := m.common.Width, m.common.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	if m.sweeper == nil {
		return common.FitBlock(m.common.Styles.Dim.Render("no sweep engine wired into this binary"), w, h)
	}
	if m.onSweep && m.sw != nil {
		return m.sweepView()
	}
	leftW, rightW := m.setupColumns()
	return common.Split(h,
		common.Block{Text: m.gridView(leftW), Width: leftW},
		common.Block{Text: m.planView(rightW), Width: rightW},
	)
}

func (m *Model) setupColumns() (leftW, rightW int) {
	leftW = min(70, max(44, m.common.Width*11/20))
	return leftW, max(0, m.common.Width-leftW-common.Gutter)
}

const labelW = 9

// valueAt is the value of row r under column x of the grid column.
func (m *Model) valueAt(r, x int) (int, bool) {
	at := labelW
	for i, v := range m.setup.Rows[r].Values {
		w := ansi.StringWidth(v) + 2 // the marker and a space
		if x >= at && x < at+w {
			return i, true
		}
		at += w
	}
	return 0, false
}

func (m *Model) gridView(w int) string {
	st := m.common.Styles
	title := st.Label.Render("Grid")
	if !m.focusList {
		title = st.Focused.Render("Grid")
	}
	lines := []string{title + st.Dim.Render("  space chooses values, a types one")}
	for r, row := range m.setup.Rows {
		var b strings.Builder
		label := fmt.Sprintf("%-*s", labelW, row.Label)
		if r == m.row && !m.focusList {
			b.WriteString(st.Focused.Render(label))
		} else {
			b.WriteString(st.Label.Render(label))
		}
		cursor := r == m.row && !m.focusList
		if row.Single {
			// One value, cycled with ←/→: the row stays short however many choices there are.
			text := "‹ " + m.singleText(row) + " ›"
			if cursor {
				b.WriteString(st.Selected.Render(text))
			} else {
				b.WriteString(st.Good.Render(text))
			}
			lines = append(lines, b.String())
			continue
		}
		for i, v := range row.Values {
			text := "○" + v
			if row.On[i] {
				text = "●" + v
			}
			switch {
			case cursor && i == m.col:
				b.WriteString(st.Selected.Render(text))
			case row.On[i]:
				b.WriteString(st.Good.Render(text))
			default:
				b.WriteString(st.Dim.Render(text))
			}
			b.WriteString(" ")
		}
		lines = append(lines, b.String())
	}
	lines = append(lines, "")
	switch {
	case m.adding:
		lines = append(lines, m.input.View(), st.Dim.Render("enter adds, esc cancels"))
	}
	if m.err != "" {
		lines = append(lines, st.Error.Render(common.Wrap(m.err, w)))
	}
	return strings.Join(lines, "\n")
}

// singleText is a one-value row's value as the grid shows it: a prompt set with its size.
func (m *Model) singleText(row Row) string {
	v := row.Values[row.Index]
	if row.Key != keyPrompts {
		return v
	}
	return fmt.Sprintf("%s (%d)", v, m.setup.PromptCount())
}

// planView is the sweep the grid makes (size, reference, estimate, folder) and the sweeps already there.
func (m *Model) planView(w int) string {
	st := m.common.Styles
	lines := []string{st.Title.Render("Sweep")}
	name := m.uniqueName()
	g, err := m.setup.Grid(name)
	if err != nil {
		lines = append(lines, st.Error.Render(common.Wrap(err.Error(), w)))
	} else {
		swept := m.setup.Swept()
		what := "one cell"
		if len(swept) > 0 {
			what = strings.Join(swept, " × ")
		}
		kv := func(k, v string) string { return st.Label.Render(fmt.Sprintf("%-10s", k)) + st.Value.Render(v) }
		lines = append(lines,
			kv("cells", fmt.Sprintf("%d (%s)", len(g.Cells()), what)),
			kv("images", fmt.Sprintf("%d (%d cells × %d prompts × %d seeds)", g.Images(), len(g.Cells()), len(g.Prompts), g.Seeds)),
			kv("reference", refText(g)),
			kv("estimate", "≈ "+common.Duration(Estimate(g, m.perForward))),
			st.Dim.Render(common.Wrap(m.costText(), w)),
			kv("folder", filepath.Join(m.root(), name)),
		)
	}
	if m.running {
		lines = append(lines, st.Warn.Render("a sweep is running: v views it"))
	} else {
		lines = append(lines, st.Dim.Render("g starts it"))
	}
	lines = append(lines, "")
	title := st.Label.Render("Sweeps")
	if m.focusList {
		title = st.Focused.Render("Sweeps")
	}
	lines = append(lines, title+st.Dim.Render("  "+m.root()))
	switch {
	case m.listErr != "":
		lines = append(lines, st.Error.Render(common.Wrap(m.listErr, w)))
	case !m.listed:
		lines = append(lines, st.Dim.Render("listing…"))
	case len(m.sweeps) == 0:
		lines = append(lines, st.Dim.Render("none yet (`lumina ablate --out "+m.root()+"/NAME` writes one too)"))
	}
	for i, s := range m.sweeps {
		text := s.Name + "  " + st.Dim.Render(sweepState(s))
		if m.focusList && i == m.listCur {
			text = s.Name + "  " + sweepState(s)
		}
		if m.focusList && i == m.listCur {
			text = st.Selected.Render(common.FitLine(text, w))
		}
		lines = append(lines, text)
	}
	return strings.Join(lines, "\n")
}

// listTop is the row of the first listed sweep in the plan column.
func (m *Model) listTop() int {
	return strings.Count(m.planView(max(1, m.common.Width)), "\n") - max(len(m.sweeps), 1) + 1
}

func sweepState(s ablation.SweepInfo) string {
	switch {
	case s.Err != nil:
		return "unreadable: " + s.Err.Error()
	case s.Summarized && s.Done == s.Images:
		return fmt.Sprintf("%d images, finished", s.Images)
	}
	return fmt.Sprintf("%d/%d images", s.Done, s.Images)
}

func (m *Model) costText() string {
	if m.measured == "" {
		return fmt.Sprintf("at %s per 32 px forward (assumed until one is measured)", m.perForward.Round(100*time.Microsecond))
	}
	return fmt.Sprintf("at %s per 32 px forward (%s)", m.perForward.Round(100*time.Microsecond), m.measured)
}

func refText(g *ablation.Grid) string {
	swept := g.Swept()
	if len(swept) == 0 {
		return "the one cell"
	}
	ref := g.Cells()[g.Reference].Setting
	var parts []string
	for _, a := range swept {
		parts = append(parts, a.Key+" "+ref.Format(a.Key))
	}
	return strings.Join(parts, ", ")
}

// sweepLayout places the sweep's parts: two header lines, the table, and below it the picture (plot
// or sheet) with its title line. A wide screen gets the table's extra columns.
type sweepLayout struct {
	tableW, tableH, tableRow int
	picCol, picRow           int
	picW, picH               int
	wide                     bool
}

func (m *Model) sweepLayout() sweepLayout {
	w, h := m.common.Width, m.common.Height
	cells := 1
	if m.sw != nil && m.sw.grid != nil {
		cells = len(m.sw.grid.Cells())
	}
	l := sweepLayout{tableRow: 2, wide: w >= 120, tableW: w}
	body := max(1, h-l.tableRow)
	l.tableH = max(2, min(cells+1, body/2))
	l.picCol, l.picRow = 0, l.tableRow+l.tableH+1
	l.picW, l.picH = w, max(1, h-l.picRow)
	return l
}

func (m *Model) layoutSweep() { m.fillTable() }

// fillTable puts the sweep's cells into the table: the images made so far per cell, then the summary's
// intervals once every cell has an image of the same prompts.
func (m *Model) fillTable() {
	l := m.sweepLayout()
	type col struct {
		title string
		w     int
		wide  bool
	}
	cols := []col{{"", 3, false}, {"cell", 0, false}, {"n", 5, false}, {"NFE", 4, false}, {"fwd", 4, true}, {"skips", 5, true},
		{"ms/img", 6, false}, {"speed", 6, false}, {"score [95% CI]", 17, false}, {"Δ vs ref", 8, false}, {"PSNR", 6, true}}
	if l.wide {
		cols[9].w = 22
	}
	used := 0
	var keep []col
	for _, c := range cols {
		if c.wide && !l.wide {
			continue
		}
		keep = append(keep, c)
		used += c.w + 2
	}
	cellW := min(30, max(8, l.tableW-used-2))
	var tc []table.Column
	for _, c := range keep {
		if c.title == "cell" {
			c.w = cellW
		}
		tc = append(tc, table.Column{Title: c.title, Width: c.w})
	}
	var rows []table.Row
	if m.sw != nil && m.sw.grid != nil {
		rows = m.rows(l.wide)
	}
	// The picture keeps the plot's and the sheets' aspect (cells are twice as tall as wide).
	m.image.SetSize(min(l.picW, 3*l.picH), l.picH)
	m.table.SetWidth(l.tableW)
	m.table.SetHeight(l.tableH)
	cur := m.table.Cursor()
	m.table.SetRows(nil) // columns first: rows are rendered against them
	m.table.SetColumns(tc)
	m.table.SetRows(rows)
	m.table.SetCursor(max(0, min(cur, len(rows)-1)))
}

// Mark is cell i's point in the text chart: its number, as pareto.png and the table number cells, in
// base 36 past 9 (a = #10), which keeps every point one character.
func Mark(i int) rune {
	const marks = "0123456789abcdefghijklmnopqrstuvwxyz"
	if i < len(marks) {
		return rune(marks[i])
	}
	return '*'
}

func (m *Model) rows(wide bool) []table.Row {
	s := m.sw
	g := s.grid
	n := map[string]int{}
	wall := map[string]float64{}
	for _, r := range s.results {
		n[r.Cell]++
		wall[r.Cell] += r.WallMs
	}
	per := len(g.Prompts) * g.Seeds
	var rows []table.Row
	for i, c := range g.Cells() {
		row := table.Row{fmt.Sprintf("#%d", i), c.ID, fmt.Sprintf("%d/%d", n[c.ID], per), fmt.Sprint(c.Setting.Options().NFE())}
		if wide {
			row = append(row, "–", "–")
		}
		ms := "–"
		if n[c.ID] > 0 {
			ms = fmt.Sprintf("%.0f", wall[c.ID]/float64(n[c.ID]))
		}
		row = append(row, ms, "–", "–", "–")
		if wide {
			row = append(row, "–")
		}
		if s.sum != nil && i < len(s.sum.Cells) {
			cs := s.sum.Cells[i]
			k := 4
			if wide {
				row[4], row[5] = fmt.Sprint(cs.Forwards), fmt.Sprintf("%.1f", cs.Skips)
				k = 6
			}
			row[k+1] = fmt.Sprintf("%.2f×", cs.Speedup.Est)
			row[k+2] = fmt.Sprintf("%.3f [%.2f,%.2f]", cs.Score.Est, cs.Score.Lo, cs.Score.Hi)
			row[k+3] = deltaText(cs, i == g.Reference, wide)
			if wide {
				row[k+4] = psnrText(cs)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func deltaText(cs ablation.CellSummary, ref, wide bool) string {
	if ref {
		return "ref"
	}
	star := ""
	if cs.Delta.ExcludesZero() {
		star = " *"
	}
	if wide {
		return fmt.Sprintf("%+.3f [%+.2f,%+.2f]%s", cs.Delta.Est, cs.Delta.Lo, cs.Delta.Hi, star)
	}
	return fmt.Sprintf("%+.3f%s", cs.Delta.Est, star)
}

func psnrText(cs ablation.CellSummary) string {
	switch {
	case cs.MSE < 0:
		return "n/a"
	case math.IsInf(cs.PSNR, 1):
		return "same"
	}
	return fmt.Sprintf("%.1f", cs.PSNR)
}

func (m *Model) sweepView() string {
	w, h := m.common.Width, m.common.Height
	st := m.common.Styles
	s := m.sw
	l := m.sweepLayout()
	head := st.Title.Render("Sweep "+filepath.Base(s.dir)) + st.Dim.Render("  "+s.dir+"  ")
	stateStyle := st.Warn
	switch {
	case s.failed:
		stateStyle = st.Error
	case strings.HasPrefix(s.state, "finished"):
		stateStyle = st.Good
	}
	head += stateStyle.Render(s.state)
	lines := []string{common.FitLine(head, w), common.FitLine(m.progressLine(w), w)}
	lines = append(lines, common.FitBlock(m.table.View(), l.tableW, l.tableH), m.pictureView(l))
	return common.FitBlock(strings.Join(lines, "\n"), w, h)
}

// progressLine is the run's bar and time left, or how much of the grid the folder holds.
func (m *Model) progressLine(w int) string {
	st := m.common.Styles
	s := m.sw
	if s.grid == nil {
		return ""
	}
	total := s.grid.Images()
	have := len(s.results)
	text := fmt.Sprintf(" %d/%d images", have, total)
	if s.n > 0 && s.n < total {
		text += fmt.Sprintf(" · intervals over %d", s.n)
	}
	if m.running && s.dir == m.runDir && s.done > 0 && s.pending > s.done {
		left := time.Duration(float64(s.elapsed) / float64(s.done) * float64(s.pending-s.done))
		text += " · " + common.Duration(left) + " left"
	}
	barW := max(10, min(40, w-ansi.StringWidth(text)-2))
	return st.ProgressBar(barW).ViewAs(float64(have)/float64(max(total, 1))) + st.Dim.Render(text)
}

// pictureView is the plot's or sheet's title and box: the text chart where no image is drawn.
func (m *Model) pictureView(l sweepLayout) string {
	st := m.common.Styles
	s := m.sw
	if m.showSheet {
		title := st.Label.Render("Contact sheet " + m.sheetCell)
		if m.sheetErr != "" {
			return title + "\n" + st.Dim.Render(common.Wrap(m.sheetErr, l.picW))
		}
		if m.image.Image() == nil {
			return title + "\n" + st.Dim.Render("reading…")
		}
		return title + "\n" + common.FitBlock(m.image.View(), l.picW, l.picH)
	}
	title := st.Label.Render("Pareto: speed-up × score") + st.Dim.Render("  enter: the selected cell's contact sheet")
	if s.pareto != nil && m.common.ImageMode == termcap.Sixel {
		return title + "\n" + common.FitBlock(m.image.View(), l.picW, l.picH)
	}
	var pts []paretochart.Point
	if s.sum != nil {
		for i, c := range s.sum.Cells {
			pts = append(pts, paretochart.Point{Mark: Mark(i), Speed: c.Speedup.Est, Score: c.Score.Est, Ref: i == s.grid.Reference})
		}
	}
	return title + "\n" + paretochart.View(st, pts, min(l.picW, 100), l.picH)
}

// ShortHelp is the help bar's line for the current mode.
func (m *Model) ShortHelp() []key.Binding {
	k := m.keys
	switch {
	case m.adding:
		return []key.Binding{key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "add")), key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))}
	case m.onSweep:
		b := []key.Binding{k.Up, k.Sheet, k.Back}
		if m.running && m.sw != nil && m.sw.dir == m.runDir {
			return append(b, k.Stop)
		}
		if m.sw != nil && m.sw.grid != nil && !m.sw.complete() {
			b = append(b, k.Resume)
		}
		return append(b, k.Refresh)
	case m.focusList:
		return []key.Binding{k.Up, k.Open, k.Switch, k.Refresh}
	}
	return []key.Binding{k.Up, k.Left, k.Toggle, k.Add, k.Start, k.Switch}
}

// FullHelp is every key of the view.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.keys
	return [][]key.Binding{
		{k.Up, k.Left, k.Toggle, k.Add, k.Start, k.Switch, k.Open, k.Refresh},
		{k.Sheet, k.Back, k.Stop, k.Resume, k.ViewRun},
	}
}
