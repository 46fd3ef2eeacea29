package trainview

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/internal/drive"
	"github.com/lumina-workbench/lumina/tui/internal/fake"
	"github.com/lumina-workbench/lumina/tui/internal/golden"
)

// pump feeds n trainer events through the view's listener.
func pump(t *testing.T, m *Model, n int) {
	t.Helper()
	for range n {
		cmd := m.listen()
		if cmd == nil {
			t.Fatal("no listener")
		}
		// The returned command holds the next listen (and status notes); the loop listens itself.
		m.Update(cmd())
	}
}

func hit(t *testing.T, m *Model, k string) {
	t.Helper()
	// The messages of the key's commands go back to the view, but not the commands those return: the
	// fake trainer's listener would wait for events the test has not sent.
	_, cmd := m.Update(drive.Key(k))
	for _, msg := range drive.Messages(cmd) {
		if msg != nil {
			m.Update(msg)
		}
	}
}

func newView(w, h int) (*Model, *fake.Trainer) {
	tr := fake.NewTrainer()
	m := New(common.New(), tr)
	m.SetSize(w, h)
	return m, tr
}

func feed(t *testing.T, m *Model, tr *fake.Trainer, evs ...train.Event) {
	t.Helper()
	for _, ev := range evs {
		tr.Send(ev)
	}
	pump(t, m, len(evs))
}

// metrics is a step at 0.1 s a step: the runner's ETA is the steps left at that pace.
func metrics(stage, step, steps int) train.StepEvent {
	return train.StepEvent{Stage: stage, Step: step, Steps: steps, Loss: 1 / float64(step+1), AuxLoss: 0.5 / float64(step+1),
		LR: 1e-4, GradNorm: 0.8, ImagesPerSec: 42.5, ETA: time.Duration(steps-step) * 100 * time.Millisecond}
}

// showGrid hands the view a sample grid written where the runner writes them and runs the command
// that reads it back.
func showGrid(t *testing.T, m *Model, stage, step int, img image.Image) {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("s%d-%08d.png", stage, step))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := m.handleEvent(train.SampleEvent{Stage: stage, Step: step, Path: path})
	if cmd == nil {
		t.Fatal("a sample event should read its grid")
	}
	m.Update(cmd())
}

func stageStarted(i int) train.StageStarted {
	return train.StageStarted{Stage: i, Name: "low-res", Kind: train.KindDiT, Steps: 100}
}

func TestPickersBuildRequest(t *testing.T) {
	m, _ := newView(80, 24)
	r := m.Options()
	if r.Preset == nil || r.Preset.Name != "tiny" || r.Stage != train.AllStages || r.RunDir != "runs/tiny" {
		t.Errorf("default options %+v", r)
	}
	hit(t, m, "down")  // to Stage
	hit(t, m, "right") // stage 0
	hit(t, m, "right") // stage 1
	if r := m.Options(); r.Stage != 1 {
		t.Errorf("stage %d, want 1", r.Stage)
	}
	hit(t, m, "tab")
	if !m.Capturing() {
		t.Fatal("tab should give the run folder the keyboard")
	}
	hit(t, m, "backspace")
	for _, r := range "-b" {
		hit(t, m, string(r))
	}
	hit(t, m, "esc")
	if r := m.Options(); r.RunDir != "runs/tin-b" {
		t.Errorf("run dir %q", r.RunDir)
	}
	// Changing the preset resets the stage and the folder.
	hit(t, m, "up")
	hit(t, m, "right")
	if r := m.Options(); r.Preset.Name != "small" || r.Stage != train.AllStages || r.RunDir != "runs/small" {
		t.Errorf("after preset change %+v", r)
	}
}

func TestJobLifecycle(t *testing.T) {
	m, tr := newView(160, 48)
	hit(t, m, "s")
	if m.State() != Running || tr.Opt.Preset.Name != "tiny" {
		t.Fatalf("state %v options %+v", m.State(), tr.Opt)
	}
	feed(t, m, tr, stageStarted(0))
	for i := 1; i <= 40; i++ {
		feed(t, m, tr, metrics(0, i, 100))
	}
	if m.plot.Len() != 40 {
		t.Errorf("plot has %d points, want 40", m.plot.Len())
	}
	out := ansi.Strip(m.View())
	// 40 steps in 4 s: 60 more at 0.1 s each is 6 s.
	for _, want := range []string{"40/100 (stage 0)", "42.5", "6s", "0.0001", "0.8", " 40%"} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q:\n%s", want, out)
		}
	}
	hit(t, m, "p")
	if m.State() != Paused || tr.Paused != 1 {
		t.Errorf("pause: state %v, trainer paused %d", m.State(), tr.Paused)
	}
	hit(t, m, "p")
	if m.State() != Running || tr.Resumed != 1 {
		t.Errorf("resume: state %v, trainer resumed %d", m.State(), tr.Resumed)
	}
	showGrid(t, m, 0, 40, fake.Image(64, 32))
	if img, box := m.ImageSlot(); img == nil || img.Bounds().Dx() != 64 || box.Empty() {
		t.Errorf("sample grid not shown: %v %+v", img != nil, box)
	}
	if !strings.Contains(ansi.Strip(m.View()), "samples at stage 0 step 40") {
		t.Error("sample grid not labelled")
	}
	rep := toyeval.Report{Overall: 0.625, Categories: []toyeval.CategoryScore{{Name: "single_object", Mean: 0.9, N: 4}, {Name: "colors", Mean: 0.35, N: 4}}}
	feed(t, m, tr, train.StageFinished{Stage: 0, Eval: &rep})
	out = ansi.Strip(m.View())
	if !strings.Contains(out, "overall 0.625") || !strings.Contains(out, "0.35") {
		t.Errorf("ToyEval not shown:\n%s", out)
	}
	hit(t, m, "x")
	if m.State() != Stopping || tr.Stopped != 1 {
		t.Fatalf("stop: state %v, trainer stopped %d", m.State(), tr.Stopped)
	}
	// The checkpoint and end events, then the close.
	pump(t, m, 3)
	if m.State() != Finished || m.Busy() {
		t.Errorf("after the channel closed: %v", m.State())
	}
	if !strings.Contains(ansi.Strip(m.View()), "checkpoint runs/tiny/ckpt-") {
		t.Errorf("checkpoint note missing:\n%s", ansi.Strip(m.View()))
	}
}

func TestStartFailureAndFailedEvent(t *testing.T) {
	m, tr := newView(160, 48)
	tr.StartErr = errors.New("run folder not writable")
	hit(t, m, "s")
	if m.State() != Failed || !strings.Contains(ansi.Strip(m.View()), "not writable") {
		t.Errorf("start failure not shown: %v", m.State())
	}
	tr.StartErr = nil
	hit(t, m, "s")
	feed(t, m, tr, train.ErrorEvent{Err: errors.New("NaN loss")})
	if m.State() != Failed || !strings.Contains(ansi.Strip(m.View()), "NaN loss") {
		t.Errorf("failure event not shown: %v", m.State())
	}
}

func TestNoTrainer(t *testing.T) {
	m := New(common.New(), nil)
	m.SetSize(80, 24)
	hit(t, m, "s")
	if m.Busy() || !strings.Contains(ansi.Strip(m.View()), "not available") {
		t.Error("a missing trainer should be explained")
	}
}

// themes are the backgrounds every golden is drawn on.
var themes = []struct {
	name string
	dark bool
}{{"dark", true}, {"light", false}}

func newThemedView(w, h int, dark bool) (*Model, *fake.Trainer) {
	tr := fake.NewTrainer()
	c := common.New()
	c.Styles.SetDark(dark)
	m := New(c, tr)
	m.SetSize(w, h)
	return m, tr
}

func TestGolden(t *testing.T) {
	for _, th := range themes {
		for _, sz := range [][2]int{{80, 24}, {160, 48}} {
			w, h := sz[0], sz[1]
			name := func(state string) string { return fmt.Sprintf("%s_%s_%dx%d", state, th.name, w, h) }
			m, tr := newThemedView(w, h, th.dark)
			golden.Assert(t, name("idle"), m.View(), w, h)
			hit(t, m, "s")
			feed(t, m, tr, stageStarted(0))
			for i := 1; i <= 60; i++ {
				feed(t, m, tr, metrics(0, i, 100))
			}
			rep := toyeval.Report{Overall: 0.625, Categories: []toyeval.CategoryScore{{Name: "single_object", Mean: 0.9, N: 4}, {Name: "colors", Mean: 0.35, N: 4}}}
			showGrid(t, m, 0, 60, fake.Image(64, 32))
			feed(t, m, tr, train.StageFinished{Stage: 0, Eval: &rep})
			golden.Assert(t, name("running"), m.View(), w, h)
			hit(t, m, "l")
			golden.Assert(t, name("logscale"), m.View(), w, h)

			wm, fw := watchedRun(t, w, h, th.dark)
			golden.Assert(t, name("watch_training"), wm.View(), w, h)
			fw.stop(t, wm)
			golden.Assert(t, name("watch_stopped"), wm.View(), w, h)
			fw.resume(t, wm)
			golden.Assert(t, name("watch_resumed"), wm.View(), w, h)
		}
	}
}
