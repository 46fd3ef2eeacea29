package experimentview

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/experiment/experimenttest"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/internal/drive"
	"github.com/lumina-workbench/lumina/tui/internal/golden"
)

func settle(t *testing.T, m *Model, cmd tea.Cmd) {
	t.Helper()
	drive.Settle(t, func(msg tea.Msg) tea.Cmd { _, next := m.Update(msg); return next }, cmd)
}

// fixture is a root with a finished experiment (a-lr) and a running one (b-lr: 1 of 4 runs).
func fixture(t *testing.T) string {
	root := t.TempDir()
	experimenttest.Write(t, filepath.Join(root, "a-lr"), 4)
	experimenttest.Write(t, filepath.Join(root, "b-lr"), 1)
	return root
}

func TestListAndSummary(t *testing.T) {
	m := New(common.New(), fixture(t))
	m.SetSize(160, 48)
	settle(t, m, m.Init())
	out := ansi.Strip(m.View())
	for _, want := range []string{"a-lr", "b-lr", "4/4 runs finished", "fast", "slow", "0.500 [", "reference", "+0.500 ["} {
		if !strings.Contains(out, want) {
			t.Errorf("finished experiment lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "●") || !strings.Contains(out, "▲") {
		t.Error("the two variants' curves are not both drawn")
	}
	settle(t, m, func() tea.Msg { return drive.Key("down") })
	out = ansi.Strip(m.View())
	for _, want := range []string{"1/4 runs finished", "at step 25 so far", "not started", "summary: not every run has finished", "last: run_done"} {
		if !strings.Contains(out, want) {
			t.Errorf("running experiment lacks %q:\n%s", want, out)
		}
	}
}

// A folder opened by path is listed first, wherever it lies.
func TestOpenByPath(t *testing.T) {
	other := filepath.Join(t.TempDir(), "elsewhere")
	experimenttest.Write(t, other, 2)
	m := New(common.New(), fixture(t))
	m.Open(other)
	m.SetSize(120, 30)
	settle(t, m, m.Init())
	if len(m.dirs) != 3 || m.dirs[0] != other || m.snap == nil || m.snap.Done != 2 {
		t.Errorf("dirs %v, snapshot %+v", m.dirs, m.snap)
	}
}

func TestGolden(t *testing.T) {
	root := fixture(t)
	for _, th := range []struct {
		name string
		dark bool
	}{{"dark", true}, {"light", false}} {
		for _, sz := range [][2]int{{80, 24}, {160, 48}} {
			w, h := sz[0], sz[1]
			name := func(state string) string { return fmt.Sprintf("%s_%s_%dx%d", state, th.name, w, h) }
			c := common.New()
			c.Styles.SetDark(th.dark)
			empty := New(c, filepath.Join("testdata", "no-such-folder"))
			empty.SetSize(w, h)
			settle(t, empty, empty.Init())
			golden.Assert(t, name("empty"), empty.View(), w, h)
			m := New(c, root)
			m.SetSize(w, h)
			settle(t, m, m.Init())
			golden.Assert(t, name("finished"), m.View(), w, h)
			settle(t, m, func() tea.Msg { return drive.Key("down") })
			golden.Assert(t, name("running"), m.View(), w, h)
		}
	}
}
