// Package app is the workbench's root model: the tabs (Sample, Train, Data, Runs, Ablate, Experiments), the status and
// help bars, terminal detection and the one image painter, the too-small message, the quit
// confirmation while training, and the graceful Ctrl-C that stops running jobs before quitting.
package app

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/experiment"
	"github.com/lumina-workbench/lumina/tui/ablateview"
	"github.com/lumina-workbench/lumina/tui/backend"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/components/devicestat"
	"github.com/lumina-workbench/lumina/tui/dataview"
	"github.com/lumina-workbench/lumina/tui/experimentview"
	imgview "github.com/lumina-workbench/lumina/tui/image"
	"github.com/lumina-workbench/lumina/tui/runsview"
	"github.com/lumina-workbench/lumina/tui/sampleview"
	"github.com/lumina-workbench/lumina/tui/state"
	"github.com/lumina-workbench/lumina/tui/termcap"
	"github.com/lumina-workbench/lumina/tui/trainview"
)

// Minimum terminal size; below it the app shows a message instead of the views.
const (
	MinWidth  = 70
	MinHeight = 20
)

// chrome is the rows the app takes: the tab bar, the status line and the help bar.
const chrome = 3

// Deps are the backends the views use; any may be nil (the view says what is missing).
type Deps struct {
	Sampler backend.Sampler
	Trainer backend.Trainer
	Runs    backend.RunStore
	Scenes  backend.SceneSource
	// Spawner starts training jobs that outlive the TUI; nil leaves that out of the Train view.
	Spawner backend.Spawner
	// Sweeper runs sampler sweeps for the Ablate view; nil leaves that view empty.
	Sweeper backend.Sweeper
	// Device reports the GPU the model runs on, shown at the right of the status line; nil (the CPU)
	// shows nothing there.
	Device backend.DeviceMonitor
	// RunsDir is the folder of run folders (lumina --runs): where the Train view puts new runs.
	RunsDir string
	// Watch, when set, is a run folder the Train view follows from the start.
	Watch string
	// Sweep, when set, is a sweep folder the Ablate view shows from the start.
	Sweep string
	// Experiment, when set, is an experiment folder the Experiments view shows from the start.
	Experiment string
	// Page is the view to open on (PageSample when 0); Notice a first status line, such as why the
	// Sample view has no model.
	Page   int
	Notice string
	// StateDir keeps the prompt, settings, sampled images and last view between runs (package
	// state); "" keeps nothing.
	StateDir string
	// Getenv reads the environment for terminal detection (os.Getenv); nil means an empty one.
	Getenv func(string) string
}

// Page indices.
const (
	PageSample = iota
	PageTrain
	PageData
	PageRuns
	PageAblate
	PageExperiments
)

// Model is the root model.
type Model struct {
	common common.Common
	deps   Deps

	pages  []common.Page
	dev    *devicestat.Model
	sample *sampleview.Model
	train  *trainview.Model
	ablate *ablateview.Model
	active int

	help     help.Model
	fullHelp bool

	det     *termcap.Detector
	painter *imgview.Painter
	getenv  func(string) string

	status    string
	statusErr bool
	// notice is what the start has to say (no checkpoint, state not restored); it outlasts the
	// terminal detection's report, which the tab bar shows too.
	notice string

	confirmQuit bool
	quitting    bool
	tooSmall    bool
}

// New builds the app.
func New(deps Deps) *Model {
	getenv := deps.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c := common.New()
	m := &Model{common: c, deps: deps, getenv: getenv}
	m.sample = sampleview.New(c, deps.Sampler)
	m.sample.SetOutDir(sampleview.DefaultOutDir(deps.RunsDir))
	m.train = trainview.New(c, deps.Trainer)
	m.train.SetRunsRoot(deps.RunsDir)
	m.train.SetSpawner(deps.Spawner)
	m.ablate = ablateview.New(c, deps.Sweeper)
	exps := experimentview.New(c, filepath.Join(runsRoot(deps.RunsDir), experiment.ExperimentsDir))
	if deps.Experiment != "" {
		exps.Open(deps.Experiment)
	}
	m.pages = []common.Page{m.sample, m.train, dataview.New(c, deps.Scenes), runsview.New(c, deps.Runs), m.ablate, exps}
	m.dev = devicestat.New(c, deps.Device)
	m.help = help.New()
	m.det = termcap.NewDetector(termcap.EnvFrom(getenv), 0)
	m.painter = imgview.NewPainter()
	m.status = "detecting terminal…"
	var notices []string
	if deps.StateDir != "" {
		m.sample.SetStateDir(deps.StateDir)
		st, notice := state.Load(deps.StateDir)
		if notice != "" {
			notices = append(notices, notice)
		}
		_, fields := m.sample.Saved()
		if st.Settings != nil {
			fields = st.Settings
		}
		m.sample.Restore(st.Prompt, fields, nil)
		if st.Page >= 0 && st.Page < len(m.pages) {
			m.active = st.Page
		}
	}
	if deps.Page > 0 && deps.Page < len(m.pages) {
		m.active = deps.Page
	}
	if deps.Watch != "" {
		m.active = PageTrain
	}
	if deps.Sweep != "" {
		m.active = PageAblate
	}
	if deps.Experiment != "" {
		m.active = PageExperiments
	}
	if deps.Notice != "" {
		notices = append([]string{deps.Notice}, notices...)
	}
	if len(notices) > 0 {
		m.notice = strings.Join(notices, "; ")
		m.status, m.statusErr = m.notice, true
	}
	return m
}

// historyMsg carries the sampled images kept in the state folder.
type historyMsg struct {
	imgs    []state.Image
	notices []string
}

func (m *Model) loadHistory() tea.Cmd {
	dir := m.deps.StateDir
	if dir == "" {
		return nil
	}
	return func() tea.Msg {
		imgs, notices := state.LoadHistory(dir)
		return historyMsg{imgs: imgs, notices: notices}
	}
}

// SaveState writes the prompt, settings and view on show to the state folder (the images are kept as
// they are made).
func (m *Model) SaveState() error {
	if m.deps.StateDir == "" {
		return nil
	}
	prompt, fields := m.sample.Saved()
	return state.Save(m.deps.StateDir, state.State{Prompt: prompt, Settings: fields, Page: m.active})
}

// Active is the index of the page on show.
func (m *Model) Active() int { return m.active }

// Page returns page i.
func (m *Model) Page(i int) common.Page { return m.pages[i] }

// Quitting reports that the app waits for jobs to stop before quitting.
func (m *Model) Quitting() bool { return m.quitting }

// Init starts terminal detection, asks the terminal for its background colour, and starts each page
// (and the watch of Deps.Watch, the sweep of Deps.Sweep).
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.det.Init(), tea.RequestBackgroundColor, m.loadHistory(), m.dev.Init()}
	for _, p := range m.pages {
		cmds = append(cmds, p.Init())
	}
	if m.deps.Watch != "" {
		cmds = append(cmds, m.train.Watch(m.deps.Watch))
	}
	if m.deps.Sweep != "" {
		cmds = append(cmds, m.ablate.Open(m.deps.Sweep))
	}
	return tea.Batch(cmds...)
}

// Update dispatches; the painter is synced after every message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmds := []tea.Cmd{m.det.Update(msg), m.painter.Update(msg), m.dev.Update(msg)}
	cmds = append(cmds, m.update(msg))
	if m.quitting && !m.anyBusy() {
		cmds = append(cmds, tea.Quit)
	}
	cmds = append(cmds, m.syncImage())
	return m, tea.Batch(cmds...)
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
		return nil
	case termcap.CapsMsg:
		return m.setImageMode(msg)
	case tea.ColorProfileMsg:
		// Half-block images need 24-bit colour; when the terminal's environment does not say it has it
		// (tmux, ssh without COLORTERM), ask the terminal itself.
		if msg.Profile != colorprofile.TrueColor && msg.Profile != colorprofile.NoTTY {
			return tea.Batch(tea.RequestCapability("RGB"), tea.RequestCapability("Tc"))
		}
		return nil
	case tea.BackgroundColorMsg:
		return m.setTheme(msg.IsDark())
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case tea.MouseClickMsg:
		return m.click(msg.Mouse())
	case tea.MouseWheelMsg:
		return m.wheel(msg.Mouse())
	case historyMsg:
		m.sample.Restore("", nil, msg.imgs)
		if len(msg.notices) > 0 {
			m.status, m.statusErr = strings.Join(msg.notices, "; "), true
		}
		return nil
	case runsview.WatchMsg:
		m.active = PageTrain
		return m.train.Watch(msg.Dir)
	case tea.InterruptMsg:
		return m.interrupt()
	case common.StatusMsg:
		m.status, m.statusErr = msg.Text, msg.Err
		return nil
	case sampleview.DoneMsg:
		// The Ablate view's time estimate uses the cost of a forward as the Sample view measured it.
		if g := msg.Gen; msg.Err == nil && g != nil && g.Result != nil && g.Result.Forwards > 0 && g.Spec.Width > 0 {
			scale := float64(32*32) / float64(g.Spec.Width*g.Spec.Height)
			m.ablate.NoteForward(time.Duration(float64(g.Result.Total)*scale/float64(g.Result.Forwards)), "measured in Sample")
		}
		return m.broadcast(msg)
	case runsview.LoadedMsg:
		m.sample.SetSampler(msg.Sampler)
		m.sample.SetSize(m.common.Width, m.pageHeight())
		m.active = PageSample
		m.status, m.statusErr = "loaded "+msg.Checkpoint, false
		return m.broadcast(msg)
	}
	return m.broadcast(msg)
}

// broadcast hands a message to every page: jobs report to their page whichever page is on show.
func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for _, p := range m.pages {
		_, cmd := p.Update(msg)
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

// setTheme repaints the shared palette for the terminal's background; components that copied styles
// into a bubble apply them again on the ThemeMsg.
func (m *Model) setTheme(dark bool) tea.Cmd {
	m.common.Styles.SetDark(dark)
	return m.broadcast(common.ThemeMsg{Dark: dark})
}

// click on the tab bar switches views; elsewhere it goes to the page, in the page's frame.
func (m *Model) click(ms tea.Mouse) tea.Cmd {
	if m.tooSmall || m.confirmQuit || m.quitting || ms.Button != tea.MouseLeft {
		return nil
	}
	if ms.Y == 0 {
		if i, ok := m.tabAt(ms.X); ok {
			m.active = i
		}
		return nil
	}
	if ms.Y > m.pageHeight() {
		return nil
	}
	_, cmd := m.pages[m.active].Update(common.Click{X: ms.X, Y: ms.Y - 1})
	return cmd
}

func (m *Model) wheel(ms tea.Mouse) tea.Cmd {
	if m.tooSmall || m.confirmQuit || m.quitting || ms.Y < 1 || ms.Y > m.pageHeight() {
		return nil
	}
	d := 0
	switch ms.Button {
	case tea.MouseWheelUp:
		d = -1
	case tea.MouseWheelDown:
		d = 1
	default:
		return nil
	}
	_, cmd := m.pages[m.active].Update(common.Wheel{X: ms.X, Y: ms.Y - 1, Delta: d})
	return cmd
}

// tabAt is the tab under column x of the tab bar.
func (m *Model) tabAt(x int) (int, bool) {
	at := lipgloss.Width(m.common.Styles.Title.Render("lumina") + " ")
	for i, p := range m.pages {
		w := lipgloss.Width(m.common.Styles.TabInactive.Render(m.tabLabel(i, p)))
		if x >= at && x < at+w {
			return i, true
		}
		at += w
	}
	return 0, false
}

func (m *Model) tabLabel(i int, p common.Page) string {
	label := fmt.Sprintf("%d %s", i+1, p.Title())
	if p.Busy() {
		label += " ●"
	}
	return label
}

func (m *Model) pageHeight() int { return max(0, m.common.Height-chrome) }

func (m *Model) setSize(w, h int) {
	m.common.SetSize(w, h)
	m.tooSmall = w < MinWidth || h < MinHeight
	m.help.SetWidth(w)
	for _, p := range m.pages {
		p.SetSize(w, m.pageHeight())
	}
}

func (m *Model) setImageMode(msg termcap.CapsMsg) tea.Cmd {
	m.painter.SetMode(msg.Mode, msg.Cell)
	m.common.ImageMode = msg.Mode
	m.status, m.statusErr = fmt.Sprintf("images: %s (%s)", msg.Mode, msg.Reason), false
	if msg.Err != nil {
		m.status, m.statusErr = "images: "+msg.Err.Error(), true
	}
	if m.notice != "" {
		m.status, m.statusErr = m.notice, true
		m.notice = ""
	}
	return m.broadcast(common.ImageModeMsg{Mode: msg.Mode})
}

func (m *Model) anyBusy() bool {
	for _, p := range m.pages {
		if p.Busy() {
			return true
		}
	}
	return false
}

// interrupt is Ctrl-C: stop every job gracefully, then quit; a second Ctrl-C quits at once.
func (m *Model) interrupt() tea.Cmd {
	if m.quitting {
		return tea.Quit
	}
	m.confirmQuit = false
	m.quitting = true
	if !m.anyBusy() {
		return nil
	}
	m.status, m.statusErr = "stopping jobs (saving a checkpoint) before quitting… ctrl+c again quits at once", false
	var cmds []tea.Cmd
	for _, p := range m.pages {
		if p.Busy() {
			cmds = append(cmds, p.StopJob())
		}
	}
	return tea.Batch(cmds...)
}

func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	keys := m.common.Keys
	if key.Matches(k, keys.ForceQuit) {
		return m.interrupt()
	}
	if m.confirmQuit {
		switch {
		case key.Matches(k, keys.Confirm):
			return m.interrupt()
		case key.Matches(k, keys.Cancel):
			m.confirmQuit = false
		}
		return nil
	}
	if m.quitting || m.tooSmall {
		return nil
	}
	page := m.pages[m.active]
	capturing := page.Capturing()
	if !capturing {
		switch {
		case key.Matches(k, keys.Quit):
			if m.train.Busy() {
				m.confirmQuit = true
				return nil
			}
			return m.interrupt()
		case key.Matches(k, keys.Help):
			m.fullHelp = !m.fullHelp
			return nil
		}
	}
	for i, b := range []key.Binding{keys.Page1, keys.Page2, keys.Page3, keys.Page4, keys.Page5, keys.Page6} {
		if key.Matches(k, b) && (!capturing || strings.HasPrefix(k.String(), "alt+")) {
			m.active = i
			return nil
		}
	}
	switch {
	case key.Matches(k, keys.NextPage):
		m.active = (m.active + 1) % len(m.pages)
		return nil
	case key.Matches(k, keys.PrevPage):
		m.active = (m.active + len(m.pages) - 1) % len(m.pages)
		return nil
	}
	_, cmd := page.Update(k)
	return cmd
}

// syncImage gives the painter the active page's image at its place on screen.
func (m *Model) syncImage() tea.Cmd {
	img, box := m.pages[m.active].ImageSlot()
	if m.tooSmall || m.fullHelp || m.confirmQuit {
		img = nil
	}
	box.Row++ // below the tab bar
	m.painter.SetImage(img)
	m.painter.SetBox(box)
	m.painter.NoteFrame(m.render())
	return m.painter.Sync()
}

// View is the frame in the alternate screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "lumina"
	return v
}

func (m *Model) render() string {
	w, h := m.common.Width, m.common.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	st := m.common.Styles
	if m.tooSmall {
		msg := fmt.Sprintf("The terminal is %d×%d; lumina needs at least %d×%d.\nEnlarge the window (ctrl+c quits).", w, h, MinWidth, MinHeight)
		return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, st.Warn.Render(msg))
	}
	body := m.pages[m.active].View()
	switch {
	case m.confirmQuit:
		dialog := st.Dialog.Render("Training is running.\n\nStop it (a checkpoint is saved) and quit?\n\n" +
			st.Value.Render("y") + st.Dim.Render(" stop & quit   ") + st.Value.Render("n") + st.Dim.Render(" keep working"))
		body = lipgloss.Place(w, m.pageHeight(), lipgloss.Center, lipgloss.Center, dialog)
	case m.fullHelp:
		groups := append(m.pages[m.active].FullHelp(), m.globalKeys())
		body = st.Title.Render("Keys") + "\n\n" + m.help.FullHelpView(groups)
	}
	statusStyle := st.StatusBar
	if m.statusErr {
		statusStyle = st.StatusError
	}
	return strings.Join([]string{
		m.tabBar(),
		common.FitBlock(body, w, m.pageHeight()),
		m.statusLine(statusStyle),
		common.FitLine(m.help.ShortHelpView(append(m.pages[m.active].ShortHelp(), m.shortGlobalKeys()...)), w),
	}, "\n")
}

// statusLine is the status text, and at its right the device segment (when the model runs on a GPU),
// which gives way to the text below a third of the width.
func (m *Model) statusLine(style lipgloss.Style) string {
	w := m.common.Width
	dev := m.dev.View(w / 3)
	if dev == "" {
		return common.FitLine(style.Render(m.status), w)
	}
	rest := w - ansi.StringWidth(dev) - 1
	return common.FitLine(style.Render(m.status), rest) + " " + dev
}

func (m *Model) globalKeys() []key.Binding {
	k := m.common.Keys
	return []key.Binding{k.Page1, k.NextPage, k.PrevPage, k.Help, k.Quit, k.ForceQuit}
}

func (m *Model) shortGlobalKeys() []key.Binding {
	k := m.common.Keys
	if m.pages[m.active].Capturing() {
		return []key.Binding{key.NewBinding(key.WithKeys("alt+1"), key.WithHelp("alt+1-6", "views")), k.ForceQuit}
	}
	return []key.Binding{k.Page1, k.Help, k.Quit}
}

func (m *Model) tabBar() string {
	st := m.common.Styles
	var tabs []string
	for i, p := range m.pages {
		label := m.tabLabel(i, p)
		if i == m.active {
			tabs = append(tabs, st.TabActive.Render(label))
		} else {
			tabs = append(tabs, st.TabInactive.Render(label))
		}
	}
	left := st.Title.Render("lumina") + " " + strings.Join(tabs, "")
	right := st.Header.Render("images: " + m.common.ImageMode.String())
	gap := m.common.Width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return common.FitLine(left, m.common.Width)
	}
	return left + strings.Repeat(" ", gap) + right
}

// Shutdown stops a job the program left running (it was killed, or quit some other way) and waits
// up to timeout for the trainer to finish saving.
func (m *Model) Shutdown(timeout time.Duration) {
	m.sample.StopJob()
	m.train.Shutdown(timeout)
}

// runsRoot is the runs folder, lumina's default ./runs when Deps leaves it empty.
func runsRoot(dir string) string {
	if dir == "" {
		return "runs"
	}
	return dir
}
