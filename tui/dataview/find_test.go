package dataview

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/internal/drive"
	"github.com/lumina-workbench/lumina/tui/internal/golden"
)

func press(t *testing.T, m *Model, keys ...string) {
	t.Helper()
	for _, k := range keys {
		drive.Settle(t, func(msg tea.Msg) tea.Cmd { _, next := m.Update(msg); return next }, func() tea.Msg { return drive.Key(k) })
	}
}

func typeIn(t *testing.T, m *Model, s string) {
	for _, r := range s {
		press(t, m, string(r))
	}
}

// g types a scene number: enter jumps there, a number out of range is refused with the range.
func TestGoTo(t *testing.T) {
	m, _ := newView(t, 80, 24)
	press(t, m, "g")
	if !m.Capturing() {
		t.Fatal("g did not open the scene number")
	}
	typeIn(t, m, "999")
	press(t, m, "enter")
	if out := ansi.Strip(m.View()); !m.going || !strings.Contains(out, "the scenes are #0–#199") {
		t.Errorf("999 not refused:\n%s", out)
	}
	press(t, m, "esc", "g")
	typeIn(t, m, "142")
	press(t, m, "enter")
	if m.going || m.index != 142 || m.loaded == nil || m.loaded.Index != 142 {
		t.Errorf("went to %d (loaded %+v)", m.index, m.loaded != nil)
	}
	if out := ansi.Strip(m.View()); !strings.Contains(out, "Scene #142") {
		t.Errorf("view:\n%s", out)
	}
}

// / keeps the scenes whose captions (any granularity, either language) hold every word; ↑/↓ walk
// the kept ones, esc shows all again.
func TestFilterScenes(t *testing.T) {
	m, ds := newView(t, 160, 48)
	press(t, m, "/")
	typeIn(t, m, "yellow triangle")
	press(t, m, "enter")
	if m.Capturing() || len(m.matches) == 0 || len(m.matches) == ds.Len() {
		t.Fatalf("capturing %v, %d of %d kept", m.Capturing(), len(m.matches), ds.Len())
	}
	holds := func(i int) bool {
		cs, err := ds.Captions(i)
		if err != nil {
			t.Fatal(err)
		}
		all := ""
		for g := range caption.NumGranularities {
			all += strings.ToLower(cs.Get(caption.Granularity(g), caption.En)) + " "
		}
		return strings.Contains(all, "yellow") && strings.Contains(all, "triangle")
	}
	kept := map[int]bool{}
	for _, i := range m.matches {
		kept[i] = true
	}
	for i := range ds.Len() {
		if kept[i] != holds(i) {
			t.Fatalf("scene %d kept %v, its English captions hold both words: %v", i, kept[i], holds(i))
		}
	}
	if m.index != m.matches[0] {
		t.Errorf("on scene %d, want the first kept %d", m.index, m.matches[0])
	}
	press(t, m, "down")
	if len(m.matches) > 1 && m.index != m.matches[1] {
		t.Errorf("down went to %d, want %d", m.index, m.matches[1])
	}
	if out := ansi.Strip(m.View()); !strings.Contains(out, fmt.Sprintf("%d of %d", len(m.matches), ds.Len())) {
		t.Errorf("the list does not say how many are kept:\n%s", out)
	}
	press(t, m, "esc")
	if m.matches != nil {
		t.Error("esc kept the filter")
	}
}

func TestFindGolden(t *testing.T) {
	ds, err := dataset.New(7, 200, world.DefaultSamplerConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range []struct {
		name string
		dark bool
	}{{"dark", true}, {"light", false}} {
		for _, sz := range [][2]int{{80, 24}, {160, 48}} {
			w, h := sz[0], sz[1]
			c := common.New()
			c.Styles.SetDark(th.dark)
			m := New(c, ds)
			m.SetSize(w, h)
			run(t, m, m.Init())
			press(t, m, "/")
			typeIn(t, m, "yellow triangle")
			press(t, m, "enter")
			golden.Assert(t, fmt.Sprintf("filter_%s_%dx%d", th.name, w, h), m.View(), w, h)
			press(t, m, "g")
			typeIn(t, m, "999")
			press(t, m, "enter")
			golden.Assert(t, fmt.Sprintf("goto_refused_%s_%dx%d", th.name, w, h), m.View(), w, h)
		}
	}
}
