// Package experimentview is the Experiments view: the folders `lumina experiment` writes (under
// RUNS/experiments, or one opened by path), each variant's loss curve overlaid on one step axis, and the
// summary table with its intervals once every run has finished. It only reads the folders; reading
// happens in tea.Cmds.
package experimentview

import (
	"image"
	"path/filepath"
	"slices"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/experiment"
	"github.com/lumina-workbench/lumina/tui/common"
	imgview "github.com/lumina-workbench/lumina/tui/image"
)

// listedMsg carries the experiment folders under the root.
type listedMsg struct {
	dirs []string
	err  error
}

// inspectedMsg carries one folder's snapshot.
type inspectedMsg struct {
	dir  string
	snap *experiment.Snapshot
	err  error
}

// KeyMap is the view's keys.
type KeyMap struct {
	Up, Down, Refresh key.Binding
}

// DefaultKeyMap: ↑/↓ pick an experiment, r reads the folders again (a running experiment moves on).
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "experiment")),
		Down:    key.NewBinding(key.WithKeys("down", "j")),
		Refresh: key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh")),
	}
}

// Model is the Experiments view.
type Model struct {
	common common.Common
	keys   KeyMap
	root   string
	// extra is a folder opened by path; it is listed first even when it lies outside root.
	extra string
	dirs  []string
	sel   int
	snap  *experiment.Snapshot
	err   string
}

// New makes the view on the experiment folders under root.
func New(c common.Common, root string) *Model {
	return &Model{common: c, keys: DefaultKeyMap(), root: root}
}

// Open shows the experiment folder dir, wherever it is.
func (m *Model) Open(dir string) { m.extra = filepath.Clean(dir) }

// Title is the tab label.
func (m *Model) Title() string { return "Experiments" }

// Capturing is false: no text input.
func (m *Model) Capturing() bool { return false }

// Busy is false: reading needs no stopping.
func (m *Model) Busy() bool { return false }

// StopJob has nothing to stop.
func (m *Model) StopJob() tea.Cmd { return nil }

// ImageSlot: this view shows no image.
func (m *Model) ImageSlot() (image.Image, imgview.Box) { return nil, imgview.Box{} }

// SetSize records the size.
func (m *Model) SetSize(w, h int) { m.common.SetSize(w, h) }

// Init lists the folders.
func (m *Model) Init() tea.Cmd { return m.list() }

func (m *Model) list() tea.Cmd {
	root, extra := m.root, m.extra
	return func() tea.Msg {
		dirs, err := experiment.Folders(root)
		if extra != "" && !slices.Contains(dirs, extra) {
			dirs = append([]string{extra}, dirs...)
		}
		return listedMsg{dirs: dirs, err: err}
	}
}

func (m *Model) inspect() tea.Cmd {
	if m.sel >= len(m.dirs) {
		return nil
	}
	dir := m.dirs[m.sel]
	return func() tea.Msg {
		s, err := experiment.Inspect(dir)
		return inspectedMsg{dir: dir, snap: s, err: err}
	}
}

// Update dispatches.
func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case listedMsg:
		m.err = ""
		if msg.err != nil {
			m.err = "listing " + m.root + ": " + msg.err.Error()
		}
		cur := ""
		if m.sel < len(m.dirs) {
			cur = m.dirs[m.sel]
		}
		m.dirs, m.sel = msg.dirs, 0
		if i := slices.Index(m.dirs, cur); i >= 0 {
			m.sel = i
		}
		return m, m.inspect()
	case inspectedMsg:
		if m.sel >= len(m.dirs) || msg.dir != m.dirs[m.sel] {
			return m, nil // the selection moved on meanwhile
		}
		m.snap, m.err = msg.snap, ""
		if msg.err != nil {
			m.err = msg.err.Error()
		}
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	case common.Wheel:
		if msg.Delta < 0 {
			return m, m.move(-1)
		}
		return m, m.move(1)
	}
	return m, nil
}

func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.Up):
		return m.move(-1)
	case key.Matches(k, m.keys.Down):
		return m.move(1)
	case key.Matches(k, m.keys.Refresh):
		return m.list()
	}
	return nil
}

func (m *Model) move(d int) tea.Cmd {
	n := max(0, min(len(m.dirs)-1, m.sel+d))
	if n == m.sel {
		return nil
	}
	m.sel, m.snap = n, nil
	return m.inspect()
}

// ShortHelp is the help bar's line.
func (m *Model) ShortHelp() []key.Binding { return []key.Binding{m.keys.Up, m.keys.Refresh} }

// FullHelp is every key of the view.
func (m *Model) FullHelp() [][]key.Binding {
	return [][]key.Binding{{m.keys.Up, m.keys.Down, m.keys.Refresh}}
}
