package sampleview

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/internal/drive"
	"github.com/lumina-workbench/lumina/tui/internal/fake"
	"github.com/lumina-workbench/lumina/tui/internal/golden"
)

// collect runs cmd and feeds what it yields into the view, keeping every message it saw.
func collect(t *testing.T, m *Model, cmd tea.Cmd) []tea.Msg {
	t.Helper()
	var seen []tea.Msg
	drive.Settle(t, func(msg tea.Msg) tea.Cmd {
		seen = append(seen, msg)
		_, next := m.Update(msg)
		return next
	}, cmd)
	return seen
}

func press(t *testing.T, m *Model, k string) []tea.Msg {
	return collect(t, m, func() tea.Msg { return drive.Key(k) })
}

func statusOf(msgs []tea.Msg) (common.StatusMsg, bool) {
	for _, msg := range msgs {
		if s, ok := msg.(common.StatusMsg); ok {
			return s, true
		}
	}
	return common.StatusMsg{}, false
}

// TeaCache on shows how many main stacks it skipped, next to the forwards CFG cost.
func TestTogglesShowTheirCounts(t *testing.T) {
	m, _ := newView(160, 48)
	typeText(t, m, "a red circle")
	hit(t, m, "tab")
	for range fTea {
		hit(t, m, "down")
	}
	hit(t, m, "space")
	hit(t, m, "g")
	// 30 points: 29 steps, the fake skips every third (9 of 29).
	if out := ansi.Strip(m.View()); !strings.Contains(out, "NFE 29 · fwd 58 · skip 18/58 · 12ms/step") {
		t.Errorf("the view lacks the TeaCache counts:\n%s", out)
	}
}

// s saves the selected image and its sidecar in the samples folder, names it in a notice, and never
// replaces an earlier save.
func TestSaveImage(t *testing.T) {
	m, _ := newView(80, 24)
	dir := filepath.Join(t.TempDir(), "runs", SamplesDir)
	m.SetOutDir(dir)
	hit(t, m, "tab")
	press(t, m, "s")
	if !strings.Contains(ansi.Strip(m.View()), "no image to save yet") {
		t.Error("s before any sample should say there is nothing to save")
	}
	hit(t, m, "shift+tab")
	typeText(t, m, "a red circle")
	hit(t, m, "ctrl+r")
	hit(t, m, "tab")
	var paths []string
	for range 2 {
		st, ok := statusOf(press(t, m, "s"))
		want := filepath.Join(dir, "sample-000001-seed0.png")
		if len(paths) == 1 {
			want = filepath.Join(dir, "sample-000001-seed0-2.png")
		}
		if !ok || st.Err || !strings.Contains(st.Text, want) {
			t.Fatalf("notice %+v, want one naming %s", st, want)
		}
		paths = append(paths, want)
	}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err != nil || len(b) < 8 || string(b[1:4]) != "PNG" {
			t.Fatalf("%s is not a PNG: %v", p, err)
		}
		sc, err := toyeval.ReadImageSidecar(strings.TrimSuffix(p, ".png") + ".json")
		if err != nil {
			t.Fatal(err)
		}
		spec, res, err := infer.FromSidecar(sc)
		if err != nil || spec.Prompt != "a red circle" || res.NFE != 29 || sc.Settings["checkpoint"] != m.info.Checkpoint {
			t.Errorf("sidecar %+v: spec %+v, err %v", sc, spec, err)
		}
	}
	m.SetOutDir(filepath.Join(paths[0], "not-a-dir"))
	if st, ok := statusOf(press(t, m, "s")); !ok || !st.Err || !strings.Contains(st.Text, "image not saved") {
		t.Errorf("a failed save gave %+v", st)
	}
}

// y puts the selected image's `lumina sample` line on the clipboard (OSC 52) and says so.
func TestCopyCommand(t *testing.T) {
	m, _ := newView(80, 24)
	typeText(t, m, "it's red")
	hit(t, m, "ctrl+r")
	hit(t, m, "tab")
	msgs := press(t, m, "y")
	want := `lumina sample --ckpt runs/tiny/ckpt-000200.safetensors --prompt 'it'\''s red' --system A --res 32 --steps 30 ` +
		"--cfg 4 --solver euler --shift 3 --renorm 1 --trunc 1 --teacache 0 --seed 0"
	var clip string
	for _, msg := range msgs {
		if fmt.Sprintf("%T", msg) == "tea.setClipboardMsg" {
			clip = fmt.Sprint(msg)
		}
	}
	if clip != want {
		t.Errorf("clipboard %q, want %q", clip, want)
	}
	if st, ok := statusOf(msgs); !ok || !strings.Contains(st.Text, "copied") {
		t.Errorf("no notice: %+v", st)
	}
}

// While a sample runs, the status shows the step, an ETA from the mean step so far, and a bar.
func TestProgressGolden(t *testing.T) {
	for _, th := range []struct {
		name string
		dark bool
	}{{"dark", true}, {"light", false}} {
		for _, sz := range [][2]int{{80, 24}, {160, 48}} {
			w, h := sz[0], sz[1]
			c := common.New()
			c.Styles.SetDark(th.dark)
			s := fake.NewSampler()
			s.Block = make(chan struct{})
			m := New(c, s)
			m.SetSize(w, h)
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			m.now = func() time.Time { return t0 }
			typeText(t, m, "a red circle")
			_, cmd := m.Update(drive.Key("ctrl+r"))
			// Step 10 of 29 done after 2 s: 19 steps left at 0.2 s each.
			m.now = func() time.Time { return t0.Add(2 * time.Second) }
			m.Update(ProgressMsg{Job: m.job, Step: infer.StepInfo{Step: 9, Of: 29}})
			out := m.View()
			if !strings.Contains(ansi.Strip(out), "sampling 10/29 · ETA 3.8s") {
				t.Errorf("no step and ETA:\n%s", ansi.Strip(out))
			}
			golden.Assert(t, fmt.Sprintf("progress_%s_%dx%d", th.name, w, h), out, w, h)
			close(s.Block)
			drain(t, m, cmd)
		}
	}
}
