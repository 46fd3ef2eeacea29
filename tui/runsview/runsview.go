// Package runsview is the Runs view: the run folders with their checkpoints; enter on a run watches it
// live in the Train view, and a checkpoint loads into the Sample view. Listing and loading happen in
// tea.Cmds.
package runsview

import (
	"context"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/tui/backend"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/components/filter"
	imgview "github.com/lumina-workbench/lumina/tui/image"
)

// ListedMsg carries the run list.
type ListedMsg struct {
	Runs []train.RunInfo
	Err  error
}

// LoadedMsg says a checkpoint is loaded; the app hands Sampler to the Sample view and switches to it.
type LoadedMsg struct {
	Checkpoint string
	Sampler    backend.Sampler
}

// WatchMsg asks the app to follow the run folder Dir in the Train view.
type WatchMsg struct{ Dir string }

// loadFailedMsg says a checkpoint did not load.
type loadFailedMsg struct {
	Checkpoint string
	Err        error
}

// KeyMap is the view's keys.
type KeyMap struct {
	Up, Down, Switch, Open, Load, Refresh key.Binding
}

// DefaultKeyMap: ↑/↓ move, tab switches runs/checkpoints, enter watches a run (or loads a checkpoint),
// l loads the checkpoint under the cursor, r refreshes.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "move")),
		Down:    key.NewBinding(key.WithKeys("down", "j")),
		Switch:  key.NewBinding(key.WithKeys("tab", "shift+tab", "left", "right"), key.WithHelp("tab", "runs/checkpoints")),
		Open:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "watch run / load checkpoint")),
		Load:    key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "load into Sample")),
		Refresh: key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh")),
	}
}

// Model is the runs view.
type Model struct {
	common  common.Common
	keys    KeyMap
	store   backend.RunStore
	filter  *filter.Model
	all     []train.RunInfo // as listed
	runs    []train.RunInfo // those the filter keeps
	err     string
	loading string
	run     int
	ckpt    int
	onCkpts bool
	listed  bool
}

// New makes the view; store may be nil.
func New(c common.Common, store backend.RunStore) *Model {
	return &Model{common: c, keys: DefaultKeyMap(), store: store, filter: filter.New(c)}
}

// Title is the tab label.
func (m *Model) Title() string { return "Runs" }

// Capturing is true while the filter is typed.
func (m *Model) Capturing() bool { return m.filter.Typing() }

// Busy is false: a load in flight needs no stopping before quit.
func (m *Model) Busy() bool { return false }

// StopJob has nothing to stop.
func (m *Model) StopJob() tea.Cmd { return nil }

// ImageSlot: this view shows no image.
func (m *Model) ImageSlot() (image.Image, imgview.Box) { return nil, imgview.Box{} }

// Init lists the runs.
func (m *Model) Init() tea.Cmd { return m.list() }

func (m *Model) list() tea.Cmd {
	s := m.store
	if s == nil {
		return nil
	}
	return func() tea.Msg {
		runs, err := s.List(context.Background())
		return ListedMsg{Runs: runs, Err: err}
	}
}

// SetSize records the size.
func (m *Model) SetSize(w, h int) { m.common.SetSize(w, h) }

// Update dispatches.
func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case ListedMsg:
		m.listed = true
		m.all, m.err = msg.Runs, ""
		if msg.Err != nil {
			m.err = "listing runs: " + msg.Err.Error()
		}
		m.refilter()
		m.ckpt = 0
	case LoadedMsg:
		m.loading = ""
	case loadFailedMsg:
		m.loading = ""
		m.err = fmt.Sprintf("loading %s: %v", msg.Checkpoint, msg.Err)
		return m, common.Status(m.err, true)
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	case common.Click:
		return m, m.click(msg)
	case common.Wheel:
		if msg.Delta < 0 {
			return m, m.handleKey(tea.KeyPressMsg{Code: tea.KeyUp})
		}
		return m, m.handleKey(tea.KeyPressMsg{Code: tea.KeyDown})
	}
	return m, nil
}

// click selects the run or checkpoint on the clicked row; a click on the selected run watches it.
func (m *Model) click(c common.Click) tea.Cmd {
	leftW, _ := m.columns()
	row := c.Y - 1 // below the column titles
	if c.X < leftW && m.filter.View(leftW, 0, 0) != "" {
		row-- // below the filter line
	}
	if c.X < leftW {
		if row < 0 || row >= len(m.runs) {
			return nil
		}
		again := !m.onCkpts && row == m.run
		m.onCkpts, m.run, m.ckpt = false, row, 0
		if again {
			return m.open()
		}
		return nil
	}
	r, ok := m.selectedRun()
	row-- // below the table's header
	if !ok || row < 0 || row >= len(r.Checkpoints) {
		return nil
	}
	m.onCkpts, m.ckpt = true, row
	return nil
}

func (m *Model) columns() (leftW, rightW int) {
	leftW = min(40, max(24, m.common.Width/3))
	return leftW, max(0, m.common.Width-leftW-common.Gutter)
}

// open is enter: a run is watched, a checkpoint loaded.
func (m *Model) open() tea.Cmd {
	if m.onCkpts {
		return m.load()
	}
	r, ok := m.selectedRun()
	if !ok {
		return nil
	}
	return func() tea.Msg { return WatchMsg{Dir: r.Dir} }
}

// refilter keeps the runs whose folder or preset match the filter.
func (m *Model) refilter() {
	m.runs = m.runs[:0:0]
	for _, r := range m.all {
		if m.filter.Match(r.Dir + " " + r.Preset) {
			m.runs = append(m.runs, r)
		}
	}
	m.run = min(m.run, max(0, len(m.runs)-1))
}

func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if handled, changed, cmd := m.filter.Update(k); handled {
		if changed {
			m.run, m.ckpt, m.onCkpts = 0, 0, false
			m.refilter()
		}
		return cmd
	}
	switch {
	case key.Matches(k, m.keys.Refresh):
		return m.list()
	case key.Matches(k, m.keys.Switch):
		m.onCkpts = !m.onCkpts
	case key.Matches(k, m.keys.Up):
		if m.onCkpts {
			m.ckpt = max(0, m.ckpt-1)
		} else {
			m.run, m.ckpt = max(0, m.run-1), 0
		}
	case key.Matches(k, m.keys.Down):
		if m.onCkpts {
			if r, ok := m.selectedRun(); ok {
				m.ckpt = min(len(r.Checkpoints)-1, m.ckpt+1)
			}
		} else {
			m.run, m.ckpt = min(max(0, len(m.runs)-1), m.run+1), 0
		}
	case key.Matches(k, m.keys.Open):
		return m.open()
	case key.Matches(k, m.keys.Load):
		return m.load()
	}
	return nil
}

func (m *Model) selectedRun() (train.RunInfo, bool) {
	if m.run < 0 || m.run >= len(m.runs) {
		return train.RunInfo{}, false
	}
	return m.runs[m.run], true
}

// Selected is the checkpoint under the cursor: the chosen one in the checkpoint list, else the run's
// latest.
func (m *Model) Selected() (train.CheckpointInfo, bool) {
	r, ok := m.selectedRun()
	if !ok || len(r.Checkpoints) == 0 {
		return train.CheckpointInfo{}, false
	}
	if !m.onCkpts {
		return r.Checkpoints[len(r.Checkpoints)-1], true
	}
	return r.Checkpoints[min(m.ckpt, len(r.Checkpoints)-1)], true
}

func (m *Model) load() tea.Cmd {
	c, ok := m.Selected()
	if !ok || m.store == nil {
		return nil
	}
	m.loading, m.err = c.Path, ""
	s, path := m.store, c.Path
	return func() tea.Msg {
		smp, err := s.LoadSampler(context.Background(), path)
		if err != nil {
			return loadFailedMsg{Checkpoint: path, Err: err}
		}
		return LoadedMsg{Checkpoint: path, Sampler: smp}
	}
}

// View is exactly Width×Height cells.
func (m *Model) View() string {
	w, h := m.common.Width, m.common.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	st := m.common.Styles
	if m.store == nil {
		return common.FitBlock(st.Dim.Render("no run store wired into this binary"), w, h)
	}
	leftW, rightW := m.columns()
	title := func(s string, on bool) string {
		if on {
			return st.Focused.Render(s)
		}
		return st.Label.Render(s)
	}
	left := []string{title("Runs", !m.onCkpts)}
	if f := m.filter.View(leftW, len(m.runs), len(m.all)); f != "" {
		left = append(left, f)
	}
	switch {
	case !m.listed:
		left = append(left, st.Dim.Render("listing…"))
	case len(m.all) == 0:
		left = append(left, st.Dim.Render("no runs yet (train one in Train)"))
	case len(m.runs) == 0:
		left = append(left, st.Dim.Render("no run matches (esc clears)"))
	}
	for i, r := range m.runs {
		s := fmt.Sprintf("%s  %s · %d ckpt", filepath.Base(r.Dir), r.Preset, len(r.Checkpoints))
		if i == m.run {
			s = st.Selected.Render(common.FitLine(s, leftW))
		}
		left = append(left, s)
	}
	right := []string{title("Checkpoints", m.onCkpts)}
	if r, ok := m.selectedRun(); ok {
		right[0] += st.Dim.Render("  " + r.Dir)
		right = append(right, st.Label.Render(fmt.Sprintf("%-5s %-8s %-8s %-16s %s", "stage", "step", "loss", "saved", "file")))
		for i, c := range r.Checkpoints {
			loss := "–"
			if !math.IsNaN(c.Loss) {
				loss = fmt.Sprintf("%.4f", c.Loss)
			}
			s := fmt.Sprintf("%-5s %-8s %-8s %-16s %s", stageText(c), stepText(c), loss, c.Saved.Format("2006-01-02 15:04"), filepath.Base(c.Path))
			if m.onCkpts && i == m.ckpt {
				s = st.Selected.Render(common.FitLine(s, rightW))
			}
			right = append(right, s)
		}
	}
	right = append(right, "")
	switch {
	case m.loading != "":
		right = append(right, st.Warn.Render("loading "+m.loading+" …"))
	case m.err != "":
		right = append(right, st.Error.Render(common.Wrap(m.err, rightW)))
	default:
		if c, ok := m.Selected(); ok {
			hint := "enter watches the run live in Train; l loads " + filepath.Base(c.Path) + " into Sample"
			if m.onCkpts {
				hint = "enter loads " + filepath.Base(c.Path) + " into the Sample view"
			}
			right = append(right, st.Dim.Render(common.Wrap(hint, rightW)))
		}
	}
	return common.Split(h,
		common.Block{Text: strings.Join(left, "\n"), Width: leftW},
		common.Block{Text: strings.Join(right, "\n"), Width: rightW},
	)
}

// ShortHelp is the help bar's line.
func (m *Model) ShortHelp() []key.Binding {
	if m.filter.Typing() {
		return []key.Binding{m.filter.Keys.Apply, m.filter.Keys.Clear}
	}
	return []key.Binding{m.keys.Up, m.keys.Switch, m.keys.Open, m.keys.Load, m.keys.Refresh, m.filter.Keys.Start}
}

// FullHelp is every key of the view.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// stageText and stepText are a checkpoint's place in the run: the exported model of a finished run
// has none, and a stage's final checkpoint is named, not numbered.
func stageText(c train.CheckpointInfo) string {
	if c.Export {
		return "run"
	}
	return fmt.Sprint(c.Stage)
}

func stepText(c train.CheckpointInfo) string {
	switch {
	case c.Export:
		return "final"
	case c.Final:
		return "end"
	}
	return fmt.Sprint(c.Step)
}
