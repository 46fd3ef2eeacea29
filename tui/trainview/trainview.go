// Package trainview is the Train view: pick a preset, a stage and a run folder; start, pause, resume
// and stop a job; watch the loss history of every stage (asciigraph), throughput, stage and whole-job
// ETA, learning rate, gradient norm and a progress bar per stage; see the latest sample grid inline and
// the ToyEval report at each stage end. A job runs in this process behind backend.Trainer, whose
// train.Events arrive one per tea.Cmd, or in a process of its own (backend.Spawner) that outlives the
// TUI; any run folder, whoever writes it, can be watched (watch.go), its files read by train.Follower.
package trainview

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/tui/backend"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/components/imagebox"
	"github.com/lumina-workbench/lumina/tui/components/lossplot"
	"github.com/lumina-workbench/lumina/tui/components/settings"
	imgview "github.com/lumina-workbench/lumina/tui/image"
)

// StartedMsg says the trainer accepted the job; events follow on Events. History is what the run
// folder's metrics held before the job started (a job continues the run its folder holds).
type StartedMsg struct {
	Events  <-chan train.Event
	History []train.MetricsRecord
}

// StartFailedMsg says the trainer refused the job.
type StartFailedMsg struct{ Err error }

// EventMsg carries one trainer event.
type EventMsg struct{ Event train.Event }

// gridMsg is a sample grid read from the run folder (or the error reading it).
type gridMsg struct {
	img   image.Image
	label string
	err   error
}

// EndedMsg says the trainer closed its event channel: the job is over (finished, stopped or failed).
type EndedMsg struct{}

// State is the job's state.
type State int

const (
	Idle State = iota
	Starting
	Running
	Paused
	Stopping
	Finished
	Failed
)

var stateNames = [...]string{"idle", "starting", "running", "paused", "stopping (saving checkpoint)", "finished", "failed"}

func (s State) String() string { return stateNames[s] }

// KeyMap is the view's keys.
type KeyMap struct {
	Start, Background, Watch, Detach, Pause, Stop, Focus, Blur key.Binding
}

// DefaultKeyMap: s start, b start in the background, w watch the run folder, d stop watching, p
// pause/resume, x stop, tab to the run folder.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Start:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "start")),
		Background: key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "start detached")),
		Watch:      key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "watch folder")),
		Detach:     key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "stop watching")),
		Pause:      key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause/resume")),
		Stop:       key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop")),
		Focus:      key.NewBinding(key.WithKeys("tab", "shift+tab"), key.WithHelp("tab", "run folder")),
		Blur:       key.NewBinding(key.WithKeys("esc", "enter"), key.WithHelp("esc", "done")),
	}
}

const (
	fPreset = iota
	fStage
)

// stageProgress is what the view knows about one stage of the job.
type stageProgress struct {
	index int
	info  train.Stage
	step  int
	done  bool
	eval  *toyeval.Report
}

// Model is the train view.
type Model struct {
	common   common.Common
	keys     KeyMap
	trainer  backend.Trainer
	spawner  backend.Spawner
	presets  []*train.Preset
	runsRoot string

	fields    *settings.Model
	runDir    textarea.Model
	dirFocus  bool
	plot      *lossplot.Model
	grid      *imagebox.Model
	gridLabel string

	state   State
	events  <-chan train.Event
	stages  []*stageProgress
	current int // index into stages of the running stage, -1 before the first
	last    train.StepEvent
	notes   []note
	hist    []histPoint
	// resumedAt is the step the latest (re)start of the job continued from (0: from the beginning).
	resumedAt, resumedStage int

	watch *watchState
}

type note struct {
	text  string
	level int // 0 info, 1 warning, 2 error
}

// New makes the view; trainer may be nil (training unavailable in this build). New run folders go
// under runs/ until SetRunsRoot says otherwise.
func New(c common.Common, trainer backend.Trainer) *Model {
	m := &Model{common: c, keys: DefaultKeyMap(), trainer: trainer, current: -1, runsRoot: "runs"}
	if trainer != nil {
		m.presets = trainer.Presets()
	}
	presetNames := []string{}
	for _, p := range m.presets {
		presetNames = append(presetNames, p.Name)
	}
	m.fields = settings.New(c, []settings.Field{
		fPreset: {Label: "Preset", Kind: settings.Choice, Choices: presetNames},
		fStage:  {Label: "Stage", Kind: settings.Choice},
	})
	m.fields.Focus()
	m.runDir = common.NewTextarea(c.Styles)
	m.runDir.KeyMap.InsertNewline.SetEnabled(false)
	m.runDir.CharLimit = 400
	m.plot = lossplot.New(c)
	m.grid = imagebox.New(c)
	m.grid.SetPlaceholder("no samples yet")
	m.presetChanged()
	return m
}

func (m *Model) preset() (*train.Preset, bool) {
	i := m.fields.Fields[fPreset].Index
	if i < 0 || i >= len(m.presets) {
		return nil, false
	}
	return m.presets[i], true
}

// presetChanged refreshes the stage choices and the default run folder.
func (m *Model) presetChanged() {
	p, ok := m.preset()
	choices := []string{"all"}
	if ok {
		for i, s := range p.Stages {
			choices = append(choices, fmt.Sprintf("%d %s", i, s.Name))
		}
		m.runDir.SetValue(filepath.ToSlash(filepath.Join(m.runsRoot, p.Name)))
	}
	f := &m.fields.Fields[fStage]
	f.Choices, f.Index = choices, 0
}

// SetRunsRoot is the folder new run folders go in (lumina --runs).
func (m *Model) SetRunsRoot(dir string) {
	if dir == "" {
		dir = "runs"
	}
	m.runsRoot = dir
	m.presetChanged()
}

// SetSpawner wires the starting of jobs in processes of their own; nil leaves b unavailable.
func (m *Model) SetSpawner(s backend.Spawner) { m.spawner = s }

// Options is the job the pickers describe (Preset nil when there is none to pick).
func (m *Model) Options() train.Options {
	p, ok := m.preset()
	if !ok {
		return train.Options{Stage: train.AllStages, RunDir: m.runDir.Value()}
	}
	stage := train.AllStages
	if i := m.fields.Fields[fStage].Index; i > 0 && i <= len(p.Stages) {
		stage = i - 1
	}
	return train.Options{Preset: p, Stage: stage, RunDir: m.runDir.Value()}
}

// State is the job's state.
func (m *Model) State() State { return m.state }

// Title is the tab label.
func (m *Model) Title() string { return "Train" }

// Capturing is true while the run folder is being edited.
func (m *Model) Capturing() bool { return m.dirFocus }

// Busy reports a job of this process that has not ended; a watched run is not one (it goes on, or
// not, whether the TUI quits).
func (m *Model) Busy() bool {
	return m.state == Starting || m.state == Running || m.state == Paused || m.state == Stopping
}

// StopJob asks the trainer to stop (it saves a checkpoint); EndedMsg follows when it has.
func (m *Model) StopJob() tea.Cmd {
	if !m.Busy() || m.state == Stopping || m.trainer == nil {
		return nil
	}
	m.state = Stopping
	t := m.trainer
	return func() tea.Msg { t.Stop(); return nil }
}

// Init has nothing to start.
func (m *Model) Init() tea.Cmd { return nil }

// SetSize lays the view out.
func (m *Model) SetSize(w, h int) {
	m.common.SetSize(w, h)
	l := m.layout()
	m.fields.SetSize(l.leftW, 2)
	m.runDir.SetWidth(l.leftW)
	m.runDir.SetHeight(1)
	m.plot.SetSize(l.rightW, l.plotH)
	m.grid.SetSize(l.gridCols, l.gridRows)
}

type layout struct {
	leftW, rightW      int
	plotH              int
	gridRow            int
	gridCols, gridRows int
	evalW              int
}

func (m *Model) layout() layout {
	w, h := m.common.Width, m.common.Height
	var l layout
	l.leftW = min(40, max(28, w/3))
	l.rightW = max(0, w-l.leftW-common.Gutter)
	l.plotH = max(6, h*11/20)
	l.gridRow = l.plotH + 1 // a title line above the grid
	l.gridRows = max(1, h-l.gridRow)
	l.gridCols = min(2*l.gridRows, l.rightW/2)
	l.evalW = max(0, l.rightW-l.gridCols-common.Gutter)
	return l
}

// ImageSlot is the latest sample grid and its box.
func (m *Model) ImageSlot() (image.Image, imgview.Box) {
	l := m.layout()
	return m.grid.Image(), m.grid.Box(l.leftW+common.Gutter, l.gridRow)
}

// Update dispatches.
func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case common.ImageModeMsg:
		m.common.ImageMode = msg.Mode
		return m, m.grid.Update(msg)
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	case tea.PasteMsg:
		if m.dirFocus {
			return m, m.editRunDir(msg)
		}
	case StartedMsg:
		m.events = msg.Events
		m.loadHistory(msg.History)
		if m.state == Starting {
			m.state = Running
		}
		return m, m.listen()
	case StartFailedMsg:
		m.state = Failed
		m.addNote(2, "start failed: "+msg.Err.Error())
		return m, common.Status("training did not start: "+msg.Err.Error(), true)
	case EventMsg:
		cmd := m.handleEvent(msg.Event)
		m.syncPlot()
		return m, tea.Batch(cmd, m.listen())
	case polledMsg:
		return m, m.polled(msg)
	case pollMsg:
		return m, m.poll(msg.gen)
	case spawnedMsg:
		return m, m.spawned(msg)
	case common.ThemeMsg:
		common.StyleTextarea(&m.runDir, m.common.Styles)
		return m, m.fields.Update(msg)
	case gridMsg:
		if msg.err != nil {
			m.addNote(1, msg.err.Error())
			return m, nil
		}
		m.grid.SetImage(msg.img)
		m.gridLabel = msg.label
	case EndedMsg:
		m.events = nil
		if m.state != Failed {
			m.state = Finished
		}
		return m, common.Status("training job ended", false)
	case settings.ChangedMsg:
		if msg.Index == fPreset {
			m.presetChanged()
		}
	}
	return m, nil
}

func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if m.dirFocus {
		if key.Matches(k, m.keys.Blur) || key.Matches(k, m.keys.Focus) {
			m.setDirFocus(false)
			return nil
		}
		return m.editRunDir(k)
	}
	if m.fields.Editing() {
		return m.fields.Update(k)
	}
	switch {
	case key.Matches(k, m.keys.Focus):
		if !m.Busy() && m.watch == nil {
			m.setDirFocus(true)
		}
		return nil
	case key.Matches(k, m.keys.Start):
		if m.watch != nil {
			return nil
		}
		return m.start()
	case key.Matches(k, m.keys.Background):
		return m.startDetached()
	case key.Matches(k, m.keys.Watch):
		if m.Busy() {
			return nil
		}
		return m.Watch(m.runDir.Value())
	case key.Matches(k, m.keys.Detach):
		return m.Unwatch()
	case key.Matches(k, m.keys.Pause):
		return m.togglePause()
	case key.Matches(k, m.keys.Stop):
		if m.watch != nil {
			return m.stopWatched()
		}
		return m.StopJob()
	}
	if m.Busy() || m.watch != nil {
		// The pickers are frozen while a job runs; the plot keys still work.
		return m.plot.Update(k)
	}
	if cmd := m.fields.Update(k); cmd != nil {
		return cmd
	}
	return m.plot.Update(k)
}

func (m *Model) editRunDir(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	m.runDir, cmd = m.runDir.Update(msg)
	return cmd
}

func (m *Model) setDirFocus(on bool) {
	m.dirFocus = on
	if on {
		m.fields.Blur()
		m.runDir.Focus()
	} else {
		m.runDir.Blur()
		m.fields.Focus()
	}
}

func (m *Model) start() tea.Cmd {
	if m.trainer == nil {
		m.addNote(2, "training is not available in this build")
		return nil
	}
	if m.Busy() {
		return nil
	}
	opt := m.Options()
	if opt.Preset == nil {
		m.addNote(2, "no preset to train")
		return nil
	}
	if opt.RunDir == "" {
		m.addNote(2, "the run folder is empty")
		return nil
	}
	m.state = Starting
	m.resetJob(opt.Preset, opt.Stage)
	m.addNote(0, fmt.Sprintf("starting %s stage %s in %s", opt.Preset.Name, m.fields.Fields[fStage].Chosen(), opt.RunDir))
	t := m.trainer
	return func() tea.Msg {
		// A folder that already holds a run continues it: its history so far is in its metrics, read
		// before the trainer cuts them back to its checkpoint.
		hist, _ := train.ReadMetrics(filepath.Join(opt.RunDir, train.MetricsFile))
		ch, err := t.Start(context.Background(), opt)
		if err != nil {
			return StartFailedMsg{Err: err}
		}
		return StartedMsg{Events: ch, History: hist}
	}
}

// resetJob forgets the last job and lays out the stages of p that stage (or all) selects.
func (m *Model) resetJob(p *train.Preset, stage int) {
	m.stages, m.current, m.last, m.hist = nil, -1, train.StepEvent{}, nil
	m.resumedAt, m.resumedStage = 0, 0
	if p != nil {
		for _, i := range train.PlanStages(p, stage) {
			if i >= 0 && i < len(p.Stages) {
				m.stages = append(m.stages, &stageProgress{index: i, info: p.Stages[i]})
			}
		}
	}
	m.grid.SetImage(nil)
	m.gridLabel = ""
	m.syncPlot()
}

func (m *Model) togglePause() tea.Cmd {
	t := m.trainer
	switch m.state {
	case Running:
		m.state = Paused
		return func() tea.Msg { t.Pause(); return nil }
	case Paused:
		m.state = Running
		return func() tea.Msg { t.Resume(); return nil }
	}
	return nil
}

// listen waits for the next event; EndedMsg when the channel closes.
func (m *Model) listen() tea.Cmd {
	ch := m.events
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return EndedMsg{}
		}
		return EventMsg{Event: ev}
	}
}

func (m *Model) stage(idx int) *stageProgress {
	for i, s := range m.stages {
		if s.index == idx {
			m.current = i
			return s
		}
	}
	// A stage the preset did not announce: track it anyway.
	s := &stageProgress{index: idx, info: train.Stage{Name: fmt.Sprintf("stage %d", idx)}}
	m.stages = append(m.stages, s)
	m.current = len(m.stages) - 1
	return s
}

func (m *Model) handleEvent(ev train.Event) tea.Cmd {
	switch ev := ev.(type) {
	case train.StageStarted:
		s := m.stage(ev.Stage)
		s.info.Name, s.info.Kind = ev.Name, ev.Kind
		if ev.Steps > 0 {
			s.info.Steps = ev.Steps
		}
		s.step, s.done = ev.FromStep, false
		text := fmt.Sprintf("stage %d (%s", ev.Stage, ev.Name)
		if s.info.Resolution > 0 {
			text += fmt.Sprintf(", %dpx", s.info.Resolution)
		}
		text += ") started"
		if ev.FromStep > 0 {
			text += fmt.Sprintf(", resumed at step %d", ev.FromStep)
			m.resumedAt, m.resumedStage = ev.FromStep, ev.Stage
			m.cutHistory(ev.Stage, ev.FromStep)
		}
		m.addNote(0, text)
	case train.StepEvent:
		s := m.stage(ev.Stage)
		s.step = ev.Step
		if ev.Steps > 0 {
			s.info.Steps = ev.Steps
		}
		m.last = ev
		m.addPoint(ev.Stage, ev.Step, ev.Loss, ev.AuxLoss)
	case train.SampleEvent:
		return readGrid(ev)
	case train.StageFinished:
		s := m.stage(ev.Stage)
		wasDone := s.done
		s.done = true
		if ev.Eval != nil {
			s.eval = ev.Eval
		}
		if s.info.Steps > 0 {
			s.step = s.info.Steps
		}
		switch {
		case ev.Eval != nil:
			m.addNote(0, fmt.Sprintf("stage %d ToyEval overall %.3f", ev.Stage, ev.Eval.Overall))
		case !wasDone:
			m.addNote(0, fmt.Sprintf("stage %d finished", ev.Stage))
		}
	case train.CheckpointSaved:
		m.addNote(0, "checkpoint "+ev.Path)
	case train.WarningEvent:
		m.addNote(1, ev.Message)
	case train.PausedEvent:
		m.addNote(0, fmt.Sprintf("paused at stage %d step %d", ev.Stage, ev.Step))
	case train.ResumedEvent:
		m.addNote(0, fmt.Sprintf("resumed at stage %d step %d", ev.Stage, ev.Step))
	case train.ErrorEvent:
		m.state = Failed
		msg := "training failed: " + ev.Err.Error()
		m.addNote(2, msg)
		return common.Status(msg, true)
	case train.RunFinished:
		if ev.Final != "" {
			m.addNote(0, "finished: "+ev.Final)
		}
	case train.FollowStarted, train.HistoryReset, train.WriterChanged:
		return m.followEvent(ev)
	}
	return nil
}

// readGrid reads a sample grid the runner wrote, off the UI goroutine.
func readGrid(ev train.SampleEvent) tea.Cmd {
	return func() tea.Msg { return decodeGrid(ev) }
}

func decodeGrid(ev train.SampleEvent) gridMsg {
	{
		f, err := os.Open(ev.Path)
		if err != nil {
			return gridMsg{err: fmt.Errorf("sample grid: %w", err)}
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			return gridMsg{err: fmt.Errorf("sample grid %s: %w", ev.Path, err)}
		}
		return gridMsg{img: img, label: fmt.Sprintf("samples at stage %d step %d", ev.Stage, ev.Step)}
	}
}

func (m *Model) addNote(level int, text string) {
	if m.watch != nil {
		// A watched folder's history is read again after a resume: its stages start again, once.
		for _, n := range m.notes {
			if n.text == text {
				return
			}
		}
	}
	m.notes = append(m.notes, note{text: text, level: level})
	if len(m.notes) > 50 {
		m.notes = m.notes[len(m.notes)-50:]
	}
}

// Shutdown is for after the program has ended: it stops a running job and drains its events until the
// trainer closes the channel or timeout passes.
func (m *Model) Shutdown(timeout time.Duration) {
	if m.events == nil || m.trainer == nil {
		return
	}
	if m.state != Stopping {
		m.trainer.Stop()
	}
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-m.events:
			if !ok {
				m.events = nil
				return
			}
		case <-deadline:
			return
		}
	}
}

// ListenForTest is the command that delivers the job's next event (tests drive it by hand).
func (m *Model) ListenForTest() tea.Cmd { return m.listen() }
