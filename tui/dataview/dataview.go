// Package dataview is the Data view: browse the procedural dataset's scenes, their renders at a chosen
// resolution, and their captions at each granularity in both languages. Loading a scene (render and
// captions) happens in a tea.Cmd.
package dataview

import (
	"fmt"
	"image"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/tui/backend"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/components/filter"
	"github.com/lumina-workbench/lumina/tui/components/imagebox"
	imgview "github.com/lumina-workbench/lumina/tui/image"
)

// LoadedMsg carries one scene's render and captions.
type LoadedMsg struct {
	Index, Res int
	Scene      world.Scene
	Image      image.Image
	Captions   dataset.CaptionSet
	Quality    float64
	Err        error
}

// KeyMap is the view's keys.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Res, Lang, GoTo key.Binding
}

// DefaultKeyMap: ↑/↓ scene, pgup/pgdn by ten, r resolution, l language, g goes to a scene by number.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "scene")),
		Down:     key.NewBinding(key.WithKeys("down", "j")),
		PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup/pgdn", "±10")),
		PageDown: key.NewBinding(key.WithKeys("pgdown")),
		Res:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "resolution")),
		Lang:     key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "language")),
		GoTo:     key.NewBinding(key.WithKeys("g", ":"), key.WithHelp("g", "go to #")),
	}
}

// Resolutions offered for the render.
var Resolutions = []int{16, 32, 64, 128}

// Model is the data view.
type Model struct {
	common common.Common
	keys   KeyMap
	src    backend.SceneSource

	index  int
	res    int // index into Resolutions
	lang   caption.Lang
	image  *imagebox.Model
	loaded *LoadedMsg

	// goTo is the "go to scene #" input, open while going.
	goTo   textinput.Model
	going  bool
	goErr  string
	filter *filter.Model
	// texts are every scene's captions (all granularities, both languages), indexed once in a
	// tea.Cmd when the filter is first used; matches the scenes the filter keeps (nil: no filter).
	texts    []string
	indexing bool
	matches  []int
}

// indexedMsg carries every scene's caption text for the filter.
type indexedMsg struct {
	texts []string
	err   error
}

// New makes the view; src may be nil.
func New(c common.Common, src backend.SceneSource) *Model {
	m := &Model{common: c, keys: DefaultKeyMap(), src: src, res: 2, image: imagebox.New(c),
		goTo: common.NewTextInput(c.Styles, "go to #"), filter: filter.New(c)}
	m.image.SetPlaceholder("loading…")
	return m
}

// Title is the tab label.
func (m *Model) Title() string { return "Data" }

// Capturing is true while the filter or the scene number is typed.
func (m *Model) Capturing() bool { return m.going || m.filter.Typing() }

// Busy is false: loads are short and need no stopping.
func (m *Model) Busy() bool { return false }

// StopJob has nothing to stop.
func (m *Model) StopJob() tea.Cmd { return nil }

// Init loads the first scene.
func (m *Model) Init() tea.Cmd { return m.load() }

func (m *Model) load() tea.Cmd {
	src, i, res := m.src, m.index, Resolutions[m.res]
	if src == nil {
		return nil
	}
	return func() tea.Msg {
		msg := LoadedMsg{Index: i, Res: res}
		var err error
		if msg.Scene, err = src.Scene(i); err != nil {
			msg.Err = err
			return msg
		}
		img, err := src.Image(i, res, res)
		if err != nil {
			msg.Err = err
			return msg
		}
		msg.Image = img
		if msg.Captions, err = src.Captions(i); err != nil {
			msg.Err = err
			return msg
		}
		msg.Quality, msg.Err = src.Quality(i)
		return msg
	}
}

type layout struct {
	listW, rightW, imgCols, imgRows, factsW, capH int
}

func (m *Model) layout() layout {
	w, h := m.common.Width, m.common.Height
	var l layout
	l.listW = 12
	l.rightW = max(0, w-l.listW-common.Gutter)
	l.imgRows = max(4, min(h/2, h-8))
	l.imgCols = min(2*l.imgRows, l.rightW/2)
	l.factsW = max(0, l.rightW-l.imgCols-common.Gutter)
	l.capH = h - l.imgRows - 1
	return l
}

// SetSize lays the view out.
func (m *Model) SetSize(w, h int) {
	m.common.SetSize(w, h)
	l := m.layout()
	m.image.SetSize(l.imgCols, l.imgRows)
}

// ImageSlot is the render and its box.
func (m *Model) ImageSlot() (image.Image, imgview.Box) {
	l := m.layout()
	return m.image.Image(), m.image.Box(l.listW+common.Gutter, 1)
}

// Update dispatches.
func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case common.ImageModeMsg:
		m.common.ImageMode = msg.Mode
		return m, m.image.Update(msg)
	case LoadedMsg:
		if msg.Index == m.index && msg.Res == Resolutions[m.res] {
			m.loaded = &msg
			m.image.SetImage(msg.Image)
			if msg.Err != nil {
				m.image.SetImage(nil)
				m.image.SetPlaceholder("error")
			}
		}
	case indexedMsg:
		m.indexing = false
		if msg.err != nil {
			m.goErr = "indexing captions: " + msg.err.Error()
			return m, nil
		}
		m.texts = msg.texts
		return m, m.refilter()
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	}
	return m, nil
}

// indexCaptions reads every scene's captions, off the UI goroutine.
func (m *Model) indexCaptions() tea.Cmd {
	if m.texts != nil || m.indexing {
		return nil
	}
	m.indexing = true
	src := m.src
	return func() tea.Msg {
		texts := make([]string, src.Len())
		for i := range texts {
			cs, err := src.Captions(i)
			if err != nil {
				return indexedMsg{err: err}
			}
			var b strings.Builder
			for g := range caption.NumGranularities {
				for l := range caption.NumLangs {
					b.WriteString(cs.Get(caption.Granularity(g), caption.Lang(l)))
					b.WriteByte('\n')
				}
			}
			texts[i] = b.String()
		}
		return indexedMsg{texts: texts}
	}
}

// refilter keeps the scenes whose captions match the filter and moves to the first kept one when
// the scene on show is not; the list's scrolling follows.
func (m *Model) refilter() tea.Cmd {
	if !m.filter.Active() || m.texts == nil {
		m.matches = nil
		return nil
	}
	m.matches = []int{}
	for i, t := range m.texts {
		if m.filter.Match(t) {
			m.matches = append(m.matches, i)
		}
	}
	if len(m.matches) > 0 && !slices.Contains(m.matches, m.index) {
		m.index = m.matches[0]
		return m.load()
	}
	return nil
}

// stepMatch is the scene d kept scenes away from the one on show (d = ±1, ±10).
func (m *Model) stepMatch(d int) int {
	if len(m.matches) == 0 {
		return m.index
	}
	at, found := slices.BinarySearch(m.matches, m.index)
	if !found && d > 0 {
		at-- // BinarySearch gives the insertion point: the next one up
	}
	return m.matches[max(0, min(len(m.matches)-1, at+d))]
}

func (m *Model) handleGoTo(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "enter":
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(m.goTo.Value(), "#")))
		if err != nil || n < 0 || n >= m.src.Len() {
			m.goErr = fmt.Sprintf("no scene %q: the scenes are #0–#%d", m.goTo.Value(), m.src.Len()-1)
			return nil
		}
		m.going, m.goErr = false, ""
		m.goTo.Blur()
		if n == m.index {
			return nil
		}
		m.index = n
		return m.load()
	case "esc":
		m.going, m.goErr = false, ""
		m.goTo.Blur()
		return nil
	}
	var cmd tea.Cmd
	m.goTo, cmd = m.goTo.Update(k)
	return cmd
}

func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if m.src == nil {
		return nil
	}
	if m.going {
		return m.handleGoTo(k)
	}
	if handled, changed, cmd := m.filter.Update(k); handled {
		if key.Matches(k, m.filter.Keys.Start) {
			return tea.Batch(cmd, m.indexCaptions())
		}
		if changed {
			return tea.Batch(cmd, m.refilter())
		}
		return cmd
	}
	old, oldRes := m.index, m.res
	n := m.src.Len()
	move := func(d int) int {
		if m.matches != nil {
			return m.stepMatch(d)
		}
		return max(0, min(n-1, m.index+d))
	}
	switch {
	case key.Matches(k, m.keys.GoTo):
		m.going, m.goErr = true, ""
		m.goTo.SetValue("")
		return m.goTo.Focus()
	case key.Matches(k, m.keys.Up):
		m.index = move(-1)
	case key.Matches(k, m.keys.Down):
		m.index = move(1)
	case key.Matches(k, m.keys.PageUp):
		m.index = move(-10)
	case key.Matches(k, m.keys.PageDown):
		m.index = move(10)
	case key.Matches(k, m.keys.Res):
		m.res = (m.res + 1) % len(Resolutions)
	case key.Matches(k, m.keys.Lang):
		m.lang = caption.Lang((int(m.lang) + 1) % caption.NumLangs)
	}
	if m.index != old || m.res != oldRes {
		return m.load()
	}
	return nil
}

// View is exactly Width×Height cells.
func (m *Model) View() string {
	w, h := m.common.Width, m.common.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	st := m.common.Styles
	if m.src == nil {
		return common.FitBlock(st.Dim.Render("no dataset"), w, h)
	}
	l := m.layout()
	// The list: indices around the selection.
	n := m.src.Len()
	ids := m.matches
	if ids == nil {
		ids = make([]int, n)
		for i := range ids {
			ids[i] = i
		}
	}
	list := []string{st.Label.Render(fmt.Sprintf("Scenes %d", n))}
	if m.matches != nil {
		list[0] = st.Label.Render(fmt.Sprintf("%d of %d", len(m.matches), n))
	}
	rows := h - 1
	at, _ := slices.BinarySearch(ids, m.index)
	start := max(0, min(at-rows/2, len(ids)-rows))
	if len(ids) == 0 {
		list = append(list, st.Dim.Render(" none"))
	}
	for _, i := range ids[min(start, len(ids)):] {
		if len(list) >= h {
			break
		}
		s := fmt.Sprintf(" #%-6d", i)
		if i == m.index {
			s = st.Selected.Render(s)
		} else {
			s = st.Dim.Render(s)
		}
		list = append(list, s)
	}
	head := st.Title.Render(fmt.Sprintf("Scene #%d", m.index)) + st.Dim.Render(fmt.Sprintf("  render %dpx · captions %s", Resolutions[m.res], m.lang))
	switch {
	case m.going:
		m.goTo.SetWidth(8) // room for the error beside it
		head = m.goTo.View()
		if m.goErr != "" {
			head += "  " + st.Error.Render(m.goErr)
		}
	case m.goErr != "":
		head += "  " + st.Error.Render(m.goErr)
	case m.filter.Typing() || m.filter.Active():
		f := m.filter.View(max(10, l.rightW/2), len(m.matches), n)
		if m.indexing {
			f = st.Dim.Render("/" + m.filter.Query() + " indexing captions…")
		}
		head = st.Title.Render(fmt.Sprintf("Scene #%d", m.index)) + "  " + f
	}
	top := common.Split(l.imgRows,
		common.Block{Text: m.image.View(), Width: l.imgCols},
		common.Block{Text: m.factsView(), Width: l.factsW},
	)
	right := strings.Join([]string{common.FitLine(head, l.rightW), top, m.captionsView(l.rightW, l.capH)}, "\n")
	return common.Split(h,
		common.Block{Text: strings.Join(list, "\n"), Width: l.listW},
		common.Block{Text: right, Width: l.rightW},
	)
}

func (m *Model) factsView() string {
	st := m.common.Styles
	ld := m.loaded
	if ld == nil || ld.Index != m.index {
		return st.Dim.Render("loading…")
	}
	if ld.Err != nil {
		return st.Error.Render(ld.Err.Error())
	}
	s := ld.Scene
	lines := []string{
		st.Label.Render("style      ") + s.Domain.String(),
		st.Label.Render("background ") + s.Background.String(),
		st.Label.Render("quality    ") + fmt.Sprintf("%.3f", ld.Quality),
		st.Label.Render(fmt.Sprintf("objects    %d", len(s.Objects))),
	}
	for _, o := range s.Objects {
		lines = append(lines, fmt.Sprintf("  %s %s %s at %s", o.Size, o.Colour, o.Shape, o.Cell()))
	}
	return strings.Join(lines, "\n")
}

// captionsView shares h lines among every granularity (and language), so each gets a few lines and
// the longer captions end in "…" when the terminal is small.
func (m *Model) captionsView(w, h int) string {
	st := m.common.Styles
	ld := m.loaded
	if ld == nil || ld.Index != m.index || ld.Err != nil {
		return ""
	}
	langs := []caption.Lang{m.lang}
	if w >= 140 {
		langs = []caption.Lang{caption.En, caption.Zh}
	}
	share := max(1, h/(caption.NumGranularities*len(langs)))
	var lines []string
	for g := range caption.NumGranularities {
		for _, lang := range langs {
			label := fmt.Sprintf("%-8s %s ", caption.Granularity(g), lang)
			text := ld.Captions.Get(caption.Granularity(g), lang)
			wrapped := strings.Split(common.Wrap(text, max(10, w-len(label))), "\n")
			if len(wrapped) > share {
				wrapped = wrapped[:share]
				wrapped[share-1] = ansi.Truncate(wrapped[share-1], max(10, w-len(label))-1, "") + "…"
			}
			for i, wl := range wrapped {
				if i == 0 {
					lines = append(lines, st.Label.Render(label)+wl)
				} else {
					lines = append(lines, strings.Repeat(" ", len(label))+wl)
				}
			}
		}
	}
	return strings.Join(lines, "\n")
}

// ShortHelp is the help bar's line.
func (m *Model) ShortHelp() []key.Binding {
	switch {
	case m.going:
		return []key.Binding{m.filter.Keys.Apply, m.filter.Keys.Clear}
	case m.filter.Typing():
		return []key.Binding{m.filter.Keys.Apply, m.filter.Keys.Clear}
	}
	return []key.Binding{m.keys.Up, m.keys.PageUp, m.keys.Res, m.keys.Lang, m.keys.GoTo, m.filter.Keys.Start}
}

// FullHelp is every key of the view.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
