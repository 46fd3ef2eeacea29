// Package ablateview is the Ablate view: build a sweep's grid by choosing values of each sampler
// setting, the prompts and the seeds, see its size and an estimate of its time, run it through the
// ablation engine (backend.Sweeper, the engine of `lumina ablate`, into RUNS/sweeps/NAME), and watch the
// table of cells fill with intervals as images arrive, with the Pareto plot and each cell's contact
// sheet. Existing sweep folders open read-only. All reading, summarising and sampling happens in
// tea.Cmds.
package ablateview

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/table"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/tui/backend"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/components/imagebox"
	imgview "github.com/lumina-workbench/lumina/tui/image"
	"github.com/lumina-workbench/lumina/tui/termcap"
)

// KeyMap is the view's keys.
type KeyMap struct {
	Up, Down, Left, Right, Toggle, Add, Start, Switch, Open, Refresh, Back, Stop, Resume, Sheet, ViewRun key.Binding
}

// DefaultKeyMap: arrows move, space chooses a value, a types one, g starts the sweep, tab moves to the
// list of sweeps, enter opens one (or a cell's contact sheet), esc goes back to the grid.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "move")),
		Down:    key.NewBinding(key.WithKeys("down", "j")),
		Left:    key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/→", "value")),
		Right:   key.NewBinding(key.WithKeys("right", "l")),
		Toggle:  key.NewBinding(key.WithKeys("space", "x"), key.WithHelp("space", "choose")),
		Add:     key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add value")),
		Start:   key.NewBinding(key.WithKeys("g", "ctrl+r"), key.WithHelp("g", "start sweep")),
		Switch:  key.NewBinding(key.WithKeys("tab", "shift+tab"), key.WithHelp("tab", "grid/sweeps")),
		Open:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Refresh: key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh")),
		Back:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back to grid")),
		Stop:    key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop sweep")),
		Resume:  key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "resume")),
		Sheet:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "contact sheet / plot")),
		ViewRun: key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "view running sweep")),
	}
}

// Messages of the view's commands.
type (
	listedMsg struct {
		sweeps []ablation.SweepInfo
		err    error
	}
	// EventMsg is one event of the running sweep.
	EventMsg struct {
		Job   int
		Event ablation.Event
	}
	eventsClosedMsg struct{ job int }
	// DoneMsg ends a sweep run.
	DoneMsg struct {
		Job   int
		Stats *ablation.Stats
		Err   error
	}
	summaryMsg struct {
		dir  string
		seq  int
		sum  *ablation.Summary
		n    int
		have int
		err  error
	}
	openedMsg struct {
		dir     string
		grid    *ablation.Grid
		results []ablation.Result
		sum     *ablation.Summary
		n       int
		pareto  image.Image
		err     error
	}
	sheetMsg struct {
		dir, cell string
		img       image.Image
		err       error
	}
)

// sweep is the sweep on show: running here, or a folder opened read-only.
type sweep struct {
	dir     string
	grid    *ablation.Grid
	results []ablation.Result
	// sum summarises n images (ablation.SummarizeSoFar); seq numbers the requests so a late one is
	// dropped, and summarising says one is in flight.
	sum         *ablation.Summary
	n           int
	seq         int
	summarising bool
	pareto      image.Image
	// readOnly is a folder opened from the list; here is a sweep this view started.
	readOnly bool
	// Progress of the run: done of pending images of this run, elapsed since it started.
	done, pending int
	elapsed       time.Duration
	state         string // running, stopped, finished, or the error
	failed        bool
}

func (s *sweep) complete() bool { return s.grid != nil && len(s.results) == s.grid.Images() }

// Model is the Ablate view.
type Model struct {
	common  common.Common
	keys    KeyMap
	sweeper backend.Sweeper

	setup     *Setup
	row, col  int
	focusList bool
	adding    bool
	input     textinput.Model
	err       string

	sweeps  []ablation.SweepInfo
	listCur int
	listed  bool
	listErr string

	perForward time.Duration
	measured   string

	sw        *sweep
	onSweep   bool
	table     table.Model
	image     *imagebox.Model
	showSheet bool
	sheetCell string
	sheetErr  string

	job     int
	running bool
	runDir  string
	cancel  context.CancelFunc
	events  chan ablation.Event
}

// New makes the view; sweeper may be nil (the view then says sweeps are not wired in).
func New(c common.Common, sweeper backend.Sweeper) *Model {
	m := &Model{common: c, keys: DefaultKeyMap(), sweeper: sweeper, perForward: DefaultPerForward}
	def := ablation.DefaultSetting("")
	if sweeper != nil {
		def = sweeper.Defaults()
	}
	m.setup = NewSetup(def)
	m.input = common.NewTextInput(c.Styles, "value: ")
	m.image = imagebox.New(c)
	m.table = table.New(table.WithFocused(true))
	m.styleTable()
	return m
}

func (m *Model) styleTable() {
	st := m.common.Styles
	m.table.SetStyles(table.Styles{
		Header:   st.Label.Bold(true).Padding(0, 1),
		Cell:     st.Value.Padding(0, 1),
		Selected: st.Selected,
	})
}

// Title is the tab label.
func (m *Model) Title() string { return "Ablate" }

// Capturing is true while a value is being typed.
func (m *Model) Capturing() bool { return m.adding }

// Busy reports a running sweep.
func (m *Model) Busy() bool { return m.running }

// StopJob stops the running sweep; the folder stays resumable and DoneMsg still arrives.
func (m *Model) StopJob() tea.Cmd {
	if m.cancel != nil {
		m.cancel()
	}
	return nil
}

// Init lists the sweeps.
func (m *Model) Init() tea.Cmd { return m.list() }

// NoteForward records a measured cost of one forward of one 32 px sample (from the Sample view's last
// image or the sweep's), which the time estimate uses from then on.
func (m *Model) NoteForward(d time.Duration, source string) {
	if d > 0 {
		m.perForward, m.measured = d, source
	}
}

func (m *Model) root() string {
	if m.sweeper == nil {
		return ""
	}
	return m.sweeper.Root()
}

func (m *Model) list() tea.Cmd {
	root := m.root()
	if root == "" {
		return nil
	}
	return func() tea.Msg {
		l, err := ablation.ListSweeps(root)
		return listedMsg{sweeps: l, err: err}
	}
}

// SetSize lays the view out.
func (m *Model) SetSize(w, h int) {
	m.common.SetSize(w, h)
	m.layoutSweep()
}

// Update dispatches.
func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case common.ImageModeMsg:
		m.common.ImageMode = msg.Mode
		m.layoutSweep()
		return m, m.image.Update(msg)
	case common.ThemeMsg:
		common.StyleTextInput(&m.input, m.common.Styles)
		m.styleTable()
		m.fillTable()
		return m, nil
	case listedMsg:
		m.listed = true
		m.sweeps, m.listErr = msg.sweeps, ""
		if msg.err != nil {
			m.listErr = msg.err.Error()
		}
		m.listCur = min(m.listCur, max(0, len(m.sweeps)-1))
		return m, nil
	case EventMsg:
		return m, tea.Batch(m.event(msg), m.listen())
	case eventsClosedMsg:
		return m, nil
	case DoneMsg:
		return m, m.finish(msg)
	case summaryMsg:
		return m, m.summarised(msg)
	case openedMsg:
		return m, m.opened(msg)
	case sheetMsg:
		if m.sw == nil || msg.dir != m.sw.dir || msg.cell != m.sheetCell {
			return m, nil
		}
		m.sheetErr = ""
		if msg.err != nil {
			m.sheetErr = msg.err.Error()
		}
		m.image.SetImage(msg.img)
		return m, nil
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	case tea.PasteMsg:
		if m.adding {
			var cmd tea.Cmd
			m.input, cmd = m.input.Update(msg)
			return m, cmd
		}
	case common.Click:
		return m, m.click(msg)
	case common.Wheel:
		k := m.keys.Down.Keys()[0]
		if msg.Delta < 0 {
			k = m.keys.Up.Keys()[0]
		}
		return m, m.handleKey(keyPress(k))
	}
	return m, nil
}

func keyPress(k string) tea.KeyPressMsg {
	switch k {
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	}
	return tea.KeyPressMsg{Code: rune(k[0]), Text: k}
}

func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case m.adding:
		return m.typeValue(k)
	case m.onSweep:
		return m.sweepKey(k)
	case m.focusList:
		return m.listKey(k)
	}
	return m.setupKey(k)
}

func (m *Model) setupKey(k tea.KeyPressMsg) tea.Cmd {
	rows := m.setup.Rows
	switch {
	case key.Matches(k, m.keys.Up):
		m.row = max(0, m.row-1)
		m.col = min(m.col, len(rows[m.row].Values)-1)
	case key.Matches(k, m.keys.Down):
		m.row = min(len(rows)-1, m.row+1)
		m.col = min(m.col, len(rows[m.row].Values)-1)
	case key.Matches(k, m.keys.Toggle) && rows[m.row].Single:
		row := rows[m.row]
		m.setup.Toggle(m.row, (row.Index+1)%len(row.Values))
	case key.Matches(k, m.keys.Left), key.Matches(k, m.keys.Right):
		d := 1
		if key.Matches(k, m.keys.Left) {
			d = -1
		}
		if row := rows[m.row]; row.Single {
			// A one-value row cycles through its values.
			m.setup.Toggle(m.row, (row.Index+d+len(row.Values))%len(row.Values))
			return nil
		}
		m.col = max(0, min(len(rows[m.row].Values)-1, m.col+d))
	case key.Matches(k, m.keys.Toggle):
		m.setup.Toggle(m.row, m.col)
		m.err = ""
	case key.Matches(k, m.keys.Add):
		if rows[m.row].Single {
			m.err = rows[m.row].Label + " takes one of the values listed"
			return nil
		}
		m.adding, m.err = true, ""
		m.input.SetValue("")
		m.input.Prompt = rows[m.row].Key + ": "
		return m.input.Focus()
	case key.Matches(k, m.keys.Start):
		return m.start()
	case key.Matches(k, m.keys.Switch):
		m.focusList = true
	case key.Matches(k, m.keys.Refresh):
		return m.list()
	case key.Matches(k, m.keys.ViewRun):
		return m.viewRunning()
	}
	return nil
}

func (m *Model) typeValue(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "enter":
		if err := m.setup.Add(m.row, m.input.Value()); err != nil {
			m.err = err.Error()
			return nil
		}
		m.adding, m.err = false, ""
		m.input.Blur()
		m.col = len(m.setup.Rows[m.row].Values) - 1
		if i := slices.Index(m.setup.Rows[m.row].Values, m.input.Value()); i >= 0 {
			m.col = i
		}
		return nil
	case "esc":
		m.adding, m.err = false, ""
		m.input.Blur()
		return nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return cmd
}

func (m *Model) listKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.Up):
		m.listCur = max(0, m.listCur-1)
	case key.Matches(k, m.keys.Down):
		m.listCur = min(max(0, len(m.sweeps)-1), m.listCur+1)
	case key.Matches(k, m.keys.Switch), key.Matches(k, m.keys.Back):
		m.focusList = false
	case key.Matches(k, m.keys.Open):
		if m.listCur < len(m.sweeps) {
			return m.open(m.sweeps[m.listCur].Dir)
		}
	case key.Matches(k, m.keys.Refresh):
		return m.list()
	case key.Matches(k, m.keys.ViewRun):
		return m.viewRunning()
	case key.Matches(k, m.keys.Start):
		return m.start()
	}
	return nil
}

func (m *Model) sweepKey(k tea.KeyPressMsg) tea.Cmd {
	here := m.running && m.sw != nil && m.sw.dir == m.runDir
	switch {
	case key.Matches(k, m.keys.Back):
		m.onSweep, m.showSheet = false, false
		return m.list()
	case here && key.Matches(k, m.keys.Stop):
		return m.StopJob()
	case key.Matches(k, m.keys.Resume):
		return m.resume()
	case key.Matches(k, m.keys.Sheet):
		return m.toggleSheet()
	case key.Matches(k, m.keys.Refresh) && !here:
		return m.open(m.sw.dir)
	case key.Matches(k, m.keys.Up):
		m.table.MoveUp(1)
	case key.Matches(k, m.keys.Down):
		m.table.MoveDown(1)
	default:
		return nil
	}
	if m.showSheet {
		return m.loadSheet()
	}
	return nil
}

// click picks a grid value, a listed sweep or a table row.
func (m *Model) click(c common.Click) tea.Cmd {
	if m.adding {
		return nil
	}
	if m.onSweep {
		top := m.sweepLayout().tableRow + 1 // below the table's header
		if i := c.Y - top; i >= 0 && i < len(m.table.Rows()) && c.X < m.sweepLayout().tableW {
			m.table.SetCursor(i)
			if m.showSheet {
				return m.loadSheet()
			}
		}
		return nil
	}
	leftW, _ := m.setupColumns()
	if c.X < leftW {
		r := c.Y - 1
		if r < 0 || r >= len(m.setup.Rows) {
			return nil
		}
		m.focusList, m.row = false, r
		if row := m.setup.Rows[r]; row.Single {
			if c.X >= labelW {
				m.setup.Toggle(r, (row.Index+1)%len(row.Values))
			}
			return nil
		}
		if i, ok := m.valueAt(r, c.X); ok {
			m.col = i
			m.setup.Toggle(r, i)
		}
		return nil
	}
	if i := c.Y - m.listTop(); i >= 0 && i < len(m.sweeps) {
		again := m.focusList && m.listCur == i
		m.focusList, m.listCur = true, i
		if again {
			return m.open(m.sweeps[i].Dir)
		}
	}
	return nil
}

// start runs the grid as chosen, into a new folder under the sweeps root.
func (m *Model) start() tea.Cmd {
	switch {
	case m.sweeper == nil:
		m.err = "no sweep engine wired into this binary"
		return nil
	case m.running:
		m.err = "a sweep is running (v views it, x there stops it)"
		return nil
	}
	name := m.uniqueName()
	g, err := m.setup.Grid(name)
	if err != nil {
		m.err = gridMessage(err).Error()
		return nil
	}
	m.err = ""
	return m.run(&sweep{dir: filepath.Join(m.root(), name), grid: g}, false)
}

// resume continues the sweep on show (stopped here, or an unfinished folder) with --resume.
func (m *Model) resume() tea.Cmd {
	s := m.sw
	switch {
	case m.sweeper == nil || s == nil || s.grid == nil:
		return nil
	case m.running:
		m.err = "a sweep is running: stop it (x) first"
		return nil
	case s.complete():
		m.err = "this sweep is finished: nothing to resume"
		return nil
	}
	m.err = ""
	return m.run(&sweep{dir: s.dir, grid: s.grid, results: s.results, sum: s.sum, n: s.n}, true)
}

func (m *Model) run(s *sweep, resume bool) tea.Cmd {
	s.state = "starting"
	m.sw, m.onSweep, m.showSheet = s, true, false
	m.image.SetImage(nil)
	m.job++
	m.running, m.runDir = true, s.dir
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	ch := make(chan ablation.Event, 64)
	m.events = ch
	job, sw := m.job, m.sweeper
	o := ablation.Options{Grid: s.grid, Dir: s.dir, Resume: resume, OnEvent: func(e ablation.Event) { ch <- e }}
	m.fillTable()
	return tea.Batch(func() tea.Msg {
		defer close(ch)
		st, err := sw.Run(ctx, o)
		return DoneMsg{Job: job, Stats: st, Err: err}
	}, m.listen())
}

func (m *Model) listen() tea.Cmd {
	ch, job := m.events, m.job
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return eventsClosedMsg{job: job}
		}
		return EventMsg{Job: job, Event: e}
	}
}

// event takes the running sweep's progress: the table's cells fill as their images are recorded.
func (m *Model) event(msg EventMsg) tea.Cmd {
	s := m.running2(msg.Job)
	if s == nil {
		return nil
	}
	switch e := msg.Event.(type) {
	case ablation.Started:
		s.state, s.done, s.pending = "running", 0, e.Pending
		if e.Done > 0 {
			s.state = fmt.Sprintf("running (resumed with %d of %d images done)", e.Done, e.Total)
		}
	case ablation.ImageDone:
		s.results = append(s.results, e.Result)
		s.done, s.pending, s.elapsed = e.Done, e.Pending, e.Elapsed
		if r := e.Result; r.Forwards > 0 {
			scale := float64(32*32) / float64(r.Settings.Res*r.Settings.Res)
			m.NoteForward(time.Duration(r.WallMs*scale/float64(r.Forwards)*float64(time.Millisecond)), "measured by this sweep")
		}
		m.fillTable()
		return m.summarise()
	}
	return nil
}

// running2 is the sweep on show when it is the one job runs, else nil.
func (m *Model) running2(job int) *sweep {
	if job != m.job || m.sw == nil || m.sw.dir != m.runDir {
		return nil
	}
	return m.sw
}

// summarise re-summarises the sweep on show in a command, one request at a time.
func (m *Model) summarise() tea.Cmd {
	s := m.sw
	if s == nil || s.summarising || len(s.results) == s.n {
		return nil
	}
	s.summarising = true
	s.seq++
	g, rs, dir, seq := s.grid, slices.Clone(s.results), s.dir, s.seq
	return func() tea.Msg {
		sum, n, err := ablation.SummarizeSoFar(g, rs)
		return summaryMsg{dir: dir, seq: seq, sum: sum, n: n, have: len(rs), err: err}
	}
}

func (m *Model) summarised(msg summaryMsg) tea.Cmd {
	s := m.sw
	if s == nil || s.dir != msg.dir || msg.seq != s.seq {
		return nil
	}
	s.summarising = false
	if msg.err != nil {
		s.state, s.failed = "summary: "+msg.err.Error(), true
		return nil
	}
	if msg.sum != nil {
		s.sum, s.n = msg.sum, msg.n
	}
	m.fillTable()
	if msg.have < len(s.results) {
		return m.summarise()
	}
	return nil
}

func (m *Model) finish(msg DoneMsg) tea.Cmd {
	if msg.Job != m.job {
		return nil
	}
	m.running, m.cancel = false, nil
	dir := m.runDir
	s := m.sw
	onShow := s != nil && s.dir == dir
	var status tea.Cmd
	switch {
	case msg.Err != nil && errors.Is(msg.Err, context.Canceled):
		text := "sweep stopped: R resumes it (or `lumina ablate --grid " + filepath.Join(dir, ablation.GridFile) + " --out " + dir + " --resume`)"
		if onShow {
			s.state = "stopped: R resumes"
		}
		status = common.Status(text, false)
	case msg.Err != nil:
		text := "sweep failed: " + msg.Err.Error()
		if onShow {
			s.state, s.failed = text, true
		}
		status = common.Status(text, true)
	default:
		if onShow {
			s.state = "finished"
		}
		status = common.Status("sweep finished: "+dir, false)
	}
	return tea.Batch(status, m.list(), m.reopen(dir, onShow && msg.Err == nil))
}

// reopen reads a finished sweep back (its summary and pareto.png) when it is on show.
func (m *Model) reopen(dir string, ok bool) tea.Cmd {
	if !ok {
		return nil
	}
	return m.read(dir)
}

// Open shows the sweep folder dir, read-only (`lumina ablate view`).
func (m *Model) Open(dir string) tea.Cmd { return m.open(dir) }

// open shows a sweep folder read-only.
func (m *Model) open(dir string) tea.Cmd {
	if m.running && dir == m.runDir {
		return m.viewRunning()
	}
	m.sw = &sweep{dir: dir, readOnly: true, state: "reading…"}
	m.onSweep, m.showSheet = true, false
	m.image.SetImage(nil)
	m.fillTable()
	return m.read(dir)
}

func (m *Model) read(dir string) tea.Cmd {
	return func() tea.Msg {
		g, err := ablation.ReadGrid(filepath.Join(dir, ablation.GridFile), ablation.DefaultSetting(""))
		if err != nil {
			return openedMsg{dir: dir, err: err}
		}
		rs, err := ablation.ReadAll(dir)
		if err != nil {
			return openedMsg{dir: dir, grid: g, err: err}
		}
		sum, n, err := ablation.SummarizeSoFar(g, rs)
		if err != nil {
			return openedMsg{dir: dir, grid: g, results: rs, err: err}
		}
		var pareto image.Image
		if len(rs) == g.Images() {
			pareto, _ = readImage(filepath.Join(dir, ablation.ParetoFile))
		}
		return openedMsg{dir: dir, grid: g, results: rs, sum: sum, n: n, pareto: pareto}
	}
}

func (m *Model) opened(msg openedMsg) tea.Cmd {
	s := m.sw
	if s == nil || s.dir != msg.dir {
		return nil
	}
	s.grid, s.results, s.sum, s.n, s.pareto = msg.grid, msg.results, msg.sum, msg.n, msg.pareto
	s.failed = msg.err != nil
	switch {
	case msg.err != nil:
		s.state = msg.err.Error()
	case m.running && s.dir == m.runDir:
	case s.readOnly && s.complete():
		s.state = "finished (read-only)"
	case s.readOnly:
		s.state = fmt.Sprintf("unfinished, %d of %d images (read-only; R resumes it here)", len(s.results), s.grid.Images())
	}
	m.fillTable()
	return nil
}

func (m *Model) viewRunning() tea.Cmd {
	if !m.running {
		m.err = "no sweep is running"
		return nil
	}
	if m.sw == nil || m.sw.dir != m.runDir {
		return nil // the running sweep is always the one on show: starting or opening one replaces it
	}
	m.onSweep = true
	return nil
}

// toggleSheet switches the picture between the Pareto plot and the selected cell's contact sheet.
func (m *Model) toggleSheet() tea.Cmd {
	m.showSheet = !m.showSheet
	if !m.showSheet {
		m.image.SetImage(nil)
		return nil
	}
	return m.loadSheet()
}

func (m *Model) selectedCell() (ablation.Cell, bool) {
	if m.sw == nil || m.sw.grid == nil {
		return ablation.Cell{}, false
	}
	cells := m.sw.grid.Cells()
	i := m.table.Cursor()
	if i < 0 || i >= len(cells) {
		return ablation.Cell{}, false
	}
	return cells[i], true
}

func (m *Model) loadSheet() tea.Cmd {
	c, ok := m.selectedCell()
	if !ok {
		return nil
	}
	m.sheetCell, m.sheetErr = c.ID, ""
	m.image.SetImage(nil)
	dir := m.sw.dir
	if !m.sw.complete() {
		m.sheetErr = "the contact sheets are drawn when the sweep finishes"
		return nil
	}
	return func() tea.Msg {
		img, err := readImage(filepath.Join(dir, ablation.SheetFile(c.ID)))
		return sheetMsg{dir: dir, cell: c.ID, img: img, err: err}
	}
}

func readImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// uniqueName is the setup's name, numbered when the sweeps root already has a folder of that name.
func (m *Model) uniqueName() string {
	base := m.setup.Name()
	taken := func(n string) bool {
		_, err := os.Stat(filepath.Join(m.root(), n))
		return err == nil
	}
	name := base
	for i := 2; taken(name); i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name
}

// ImageSlot is the picture on show: a cell's contact sheet, or the Pareto plot when the terminal
// draws sixel images (elsewhere the text chart stands in for it).
func (m *Model) ImageSlot() (image.Image, imgview.Box) {
	if !m.onSweep || m.sw == nil {
		return nil, imgview.Box{}
	}
	l := m.sweepLayout()
	box := m.image.Box(l.picCol, l.picRow)
	switch {
	case m.showSheet:
		return m.image.Image(), box
	case m.common.ImageMode == termcap.Sixel && m.sw.pareto != nil:
		return m.sw.pareto, box
	}
	return nil, imgview.Box{}
}
