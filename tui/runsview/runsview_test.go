package runsview

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/internal/fake"
	"github.com/lumina-workbench/lumina/tui/internal/golden"
)

func run(t *testing.T, m *Model, cmd tea.Cmd) tea.Msg {
	t.Helper()
	var last tea.Msg
	for cmd != nil {
		msg := cmd()
		if msg == nil {
			break
		}
		last = msg
		_, cmd = m.Update(msg)
	}
	return last
}

func hit(t *testing.T, m *Model, k tea.KeyPressMsg) tea.Msg {
	_, cmd := m.Update(k)
	return run(t, m, cmd)
}

var (
	down  = tea.KeyPressMsg{Code: tea.KeyDown}
	tab   = tea.KeyPressMsg{Code: tea.KeyTab}
	enter = tea.KeyPressMsg{Code: tea.KeyEnter}
)

func newView(w, h int) (*Model, *fake.Runs) {
	r := fake.NewRuns()
	m := New(common.New(), r)
	m.SetSize(w, h)
	return m, r
}

func TestListAndLoad(t *testing.T) {
	m, _ := newView(80, 24)
	run(t, m, m.Init())
	// Enter on a run watches it; l loads its latest checkpoint.
	if msg := hit(t, m, enter); msg != (WatchMsg{Dir: "runs/tiny-001"}) {
		t.Fatalf("enter on a run: %#v", msg)
	}
	msg := hit(t, m, tea.KeyPressMsg{Code: 'l', Text: "l"})
	lm, ok := msg.(LoadedMsg)
	if !ok || lm.Checkpoint != "runs/tiny-001/stage1-000050.safetensors" || lm.Sampler == nil {
		t.Fatalf("got %#v", msg)
	}
	// In the checkpoint list, the chosen one.
	hit(t, m, tab)
	msg = hit(t, m, enter)
	if lm := msg.(LoadedMsg); lm.Checkpoint != "runs/tiny-001/stage0-000100.safetensors" {
		t.Errorf("loaded %s", lm.Checkpoint)
	}
	hit(t, m, tab)
	hit(t, m, down)
	if c, _ := m.Selected(); c.Path != "runs/small-002/stage0-001000.safetensors" {
		t.Errorf("selected %s", c.Path)
	}
}

func TestErrors(t *testing.T) {
	m, r := newView(160, 48)
	r.Err = errors.New("permission denied")
	run(t, m, m.Init())
	if !strings.Contains(ansi.Strip(m.View()), "listing runs: permission denied") {
		t.Errorf("list error not shown:\n%s", ansi.Strip(m.View()))
	}
	r.Err = nil
	hit(t, m, tea.KeyPressMsg{Code: 'r', Text: "r"})
	r.Err = errors.New("bad header")
	hit(t, m, tea.KeyPressMsg{Code: 'l', Text: "l"})
	if !strings.Contains(ansi.Strip(m.View()), "bad header") {
		t.Errorf("load error not shown:\n%s", ansi.Strip(m.View()))
	}
}

// A click selects a run, a second click on it watches it; a click in the table picks a checkpoint; the
// wheel moves the cursor.
func TestMouse(t *testing.T) {
	m, _ := newView(80, 24)
	run(t, m, m.Init())
	if _, cmd := m.Update(common.Click{X: 3, Y: 2}); cmd != nil || m.run != 1 {
		t.Fatalf("click on the second run: run %d", m.run)
	}
	_, cmd := m.Update(common.Click{X: 3, Y: 2})
	if msg := run(t, m, cmd); msg != (WatchMsg{Dir: "runs/small-002"}) {
		t.Errorf("second click: %#v", msg)
	}
	m.Update(common.Wheel{Y: 3, Delta: -1})
	if m.run != 0 {
		t.Errorf("wheel up: run %d", m.run)
	}
	m.Update(common.Click{X: 40, Y: 3})
	if c, _ := m.Selected(); !m.onCkpts || c.Path != "runs/tiny-001/stage1-000050.safetensors" {
		t.Errorf("click on the second checkpoint: %v %s", m.onCkpts, c.Path)
	}
}

func TestGolden(t *testing.T) {
	for _, th := range []struct {
		name string
		dark bool
	}{{"dark", true}, {"light", false}} {
		for _, sz := range [][2]int{{80, 24}, {160, 48}} {
			c := common.New()
			c.Styles.SetDark(th.dark)
			m := New(c, fake.NewRuns())
			m.SetSize(sz[0], sz[1])
			run(t, m, m.Init())
			golden.Assert(t, fmt.Sprintf("runs_%s_%dx%d", th.name, sz[0], sz[1]), m.View(), sz[0], sz[1])
			hit(t, m, tab)
			golden.Assert(t, fmt.Sprintf("checkpoints_%s_%dx%d", th.name, sz[0], sz[1]), m.View(), sz[0], sz[1])
		}
	}
}

func typeKeys(t *testing.T, m *Model, s string) {
	for _, r := range s {
		hit(t, m, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// / filters the runs by folder and preset; while typing the view has the keyboard, enter keeps the
// filter, esc clears it; enter and l then act on the filtered list.
func TestFilter(t *testing.T) {
	m, _ := newView(80, 24)
	run(t, m, m.Init())
	typeKeys(t, m, "/SMA")
	if !m.Capturing() || len(m.runs) != 1 || m.runs[0].Dir != "runs/small-002" {
		t.Fatalf("capturing %v, runs %v", m.Capturing(), m.runs)
	}
	hit(t, m, enter)
	if m.Capturing() {
		t.Fatal("enter did not keep the filter")
	}
	out := ansi.Strip(m.View())
	if !strings.Contains(out, "/SMA 1/2") || strings.Contains(out, "tiny-001") {
		t.Errorf("filtered view:\n%s", out)
	}
	if msg := hit(t, m, enter); msg != (WatchMsg{Dir: "runs/small-002"}) {
		t.Errorf("enter on the filtered run: %#v", msg)
	}
	typeKeys(t, m, "/x")
	hit(t, m, enter)
	if out := ansi.Strip(m.View()); !strings.Contains(out, "no run matches") {
		t.Errorf("no match not said:\n%s", out)
	}
	hit(t, m, tea.KeyPressMsg{Code: tea.KeyEscape})
	if len(m.runs) != 2 || m.filter.Active() {
		t.Errorf("esc left %d runs", len(m.runs))
	}
}

func TestFilterGolden(t *testing.T) {
	for _, th := range []struct {
		name string
		dark bool
	}{{"dark", true}, {"light", false}} {
		for _, sz := range [][2]int{{80, 24}, {160, 48}} {
			c := common.New()
			c.Styles.SetDark(th.dark)
			m := New(c, fake.NewRuns())
			m.SetSize(sz[0], sz[1])
			run(t, m, m.Init())
			typeKeys(t, m, "/tiny")
			golden.Assert(t, fmt.Sprintf("filter_%s_%dx%d", th.name, sz[0], sz[1]), m.View(), sz[0], sz[1])
		}
	}
}
