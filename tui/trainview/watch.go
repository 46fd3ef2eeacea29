package trainview

// Watching a run folder that any process writes (a `lumina train` in another terminal, a job this
// TUI started detached, one started before the TUI was): train.Follower reads the folder every
// pollInterval in a tea.Cmd and hands back the runner's events, which the view draws as its own
// job's. Nothing here locks or writes the folder.

import (
	"context"
	"fmt"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/tui/common"
)

// pollInterval is how often a watched folder is read: the writer flushes its metrics about as often.
const pollInterval = 500 * time.Millisecond

type watchState struct {
	dir     string
	f       *train.Follower
	gen     int
	writer  train.Writer
	probed  bool
	done    bool // the run trained its last stage
	err     string
	spawned bool // started by this TUI, detached
}

// pollMsg asks for the next poll of watch generation gen; polledMsg is its result.
type pollMsg struct{ gen int }

type polledMsg struct {
	gen int
	evs []train.Event
	err error
	// grid is the newest sample grid among evs, already decoded (off the UI goroutine).
	grid *gridMsg
}

// spawnedMsg says whether a detached job's process started.
type spawnedMsg struct {
	dir string
	err error
}

// watchGen numbers watches, so the polls of a folder no longer watched are dropped.
var watchGen int

// Watch follows dir from the start of its history; the view's own job, if any, must have ended.
func (m *Model) Watch(dir string) tea.Cmd {
	if m.Busy() {
		m.addNote(2, "a job of this TUI is running: stop it before watching another run")
		return nil
	}
	if dir == "" {
		m.addNote(2, "the run folder is empty")
		return nil
	}
	watchGen++
	m.watch = &watchState{dir: dir, f: train.NewFollower(dir), gen: watchGen}
	m.state = Idle
	m.resetJob(nil, train.AllStages)
	m.runDir.SetValue(dir)
	m.addNote(0, "watching "+dir)
	return m.poll(m.watch.gen)
}

// Watching is the folder being watched ("" when none).
func (m *Model) Watching() string {
	if m.watch == nil {
		return ""
	}
	return m.watch.dir
}

// Unwatch stops following the folder; the run itself goes on.
func (m *Model) Unwatch() tea.Cmd {
	if m.watch == nil {
		return nil
	}
	m.addNote(0, "stopped watching "+m.watch.dir)
	m.watch = nil
	return nil
}

func (m *Model) poll(gen int) tea.Cmd {
	w := m.watch
	if w == nil || w.gen != gen {
		return nil
	}
	f := w.f
	return func() tea.Msg {
		evs, err := f.Poll()
		msg := polledMsg{gen: gen, evs: evs, err: err}
		for _, ev := range evs {
			if s, ok := ev.(train.SampleEvent); ok {
				g := decodeGrid(s)
				msg.grid = &g
			}
		}
		return msg
	}
}

// PollForTest is the command that reads the watched folder now (tests drive the polls by hand).
func (m *Model) PollForTest() tea.Cmd {
	if m.watch == nil {
		return nil
	}
	return m.poll(m.watch.gen)
}

func (m *Model) polled(msg polledMsg) tea.Cmd {
	w := m.watch
	if w == nil || w.gen != msg.gen {
		return nil
	}
	w.err = ""
	if msg.err != nil {
		w.err = msg.err.Error()
	}
	var cmds []tea.Cmd
	for _, ev := range msg.evs {
		if _, ok := ev.(train.SampleEvent); ok {
			continue // decoded with the poll
		}
		cmds = append(cmds, m.handleEvent(ev))
	}
	if msg.grid != nil {
		m.Update(*msg.grid)
	}
	m.syncPlot()
	gen := msg.gen
	cmds = append(cmds, tea.Tick(pollInterval, func(time.Time) tea.Msg { return pollMsg{gen: gen} }))
	return tea.Batch(cmds...)
}

// followEvent handles the events only a watched folder has.
func (m *Model) followEvent(ev train.Event) tea.Cmd {
	w := m.watch
	if w == nil {
		return nil
	}
	switch ev := ev.(type) {
	case train.FollowStarted:
		m.resetJob(ev.Preset, train.AllStages)
	case train.HistoryReset:
		m.hist = nil
		m.last = train.StepEvent{}
		for _, s := range m.stages {
			s.step, s.done = 0, false
		}
	case train.WriterChanged:
		before, wasProbed := w.writer, w.probed
		w.writer, w.probed, w.done = ev.Writer, true, ev.Complete
		switch ev.Writer.State {
		case train.WriterAlive:
			m.addNote(0, fmt.Sprintf("writer PID %d on %s", ev.Writer.Holder.PID, ev.Writer.Holder.Host))
			if wasProbed && before.State != train.WriterAlive {
				return common.Status("training resumed in "+w.dir, false)
			}
		case train.WriterGone:
			m.addNote(2, fmt.Sprintf("the writer (PID %d) ended without releasing the folder: killed or crashed", ev.Writer.Holder.PID))
			return common.Status("training stopped: the writer of "+w.dir+" was killed", true)
		case train.WriterUnknown:
			m.addNote(1, "the folder's writer is on another host or unreadable; it cannot be checked from here")
		case train.NoWriter:
			switch {
			case ev.Complete:
				m.addNote(0, "the run is finished")
				if wasProbed {
					return common.Status("training finished: "+w.dir, false)
				}
			case wasProbed && before.State == train.WriterAlive:
				m.addNote(1, "training stopped (a checkpoint was saved)")
				return common.Status("training stopped: "+w.dir, false)
			}
		}
	}
	return nil
}

// watchStatus is the watched run's state as a word or two, and how alarming it is (0–2).
func (m *Model) watchStatus() (text string, level int) {
	w := m.watch
	switch {
	case w.err != "" && !w.probed:
		return "no run here yet", 1
	case !w.probed:
		return "reading…", 0
	}
	switch w.writer.State {
	case train.WriterAlive:
		return "training", 0
	case train.WriterGone:
		return "stopped (writer killed)", 2
	case train.WriterUnknown:
		return "writer unknown", 1
	}
	switch {
	case w.done:
		return "finished", 0
	case len(m.hist) == 0:
		return "no writer", 1
	}
	return "stopped", 1
}

// startDetached starts the pickers' job in a process of its own and watches its folder.
func (m *Model) startDetached() tea.Cmd {
	switch {
	case m.spawner == nil:
		m.addNote(2, "starting a detached job is not available in this build")
		return nil
	case m.Busy():
		return nil
	case m.watch != nil && m.watch.writer.State == train.WriterAlive:
		m.addNote(2, "the watched run is training: stop it (x) or stop watching (d) first")
		return nil
	}
	opt := m.Options()
	if opt.Preset == nil || opt.RunDir == "" {
		m.addNote(2, "pick a preset and a run folder first")
		return nil
	}
	m.addNote(0, fmt.Sprintf("starting %s in its own process in %s (it keeps training after the TUI quits)", opt.Preset.Name, opt.RunDir))
	sp := m.spawner
	return func() tea.Msg {
		return spawnedMsg{dir: opt.RunDir, err: sp.Spawn(context.Background(), opt)}
	}
}

func (m *Model) spawned(msg spawnedMsg) tea.Cmd {
	if msg.err != nil {
		m.addNote(2, "start failed: "+msg.err.Error())
		return common.Status("training did not start: "+msg.err.Error(), true)
	}
	cmd := m.Watch(msg.dir)
	if m.watch != nil {
		m.watch.spawned = true
	}
	return cmd
}

// stopWatched asks the watched run's writer to stop, as Ctrl-C in its terminal would.
func (m *Model) stopWatched() tea.Cmd {
	w := m.watch
	host, _ := os.Hostname()
	switch {
	case w.writer.State != train.WriterAlive:
		m.addNote(1, "nothing to stop: the watched run is not training")
		return nil
	case m.spawner == nil || w.writer.Holder.Host != host:
		m.addNote(2, "this TUI cannot stop that writer: "+w.writer.Holder.String())
		return nil
	}
	pid, sp := w.writer.Holder.PID, m.spawner
	m.addNote(0, fmt.Sprintf("asked PID %d to stop (it saves a checkpoint first)", pid))
	return func() tea.Msg {
		if err := sp.Interrupt(pid); err != nil {
			return common.StatusMsg{Text: fmt.Sprintf("stop PID %d: %v", pid, err), Err: true}
		}
		return nil
	}
}
