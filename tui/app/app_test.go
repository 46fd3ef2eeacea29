package app

import (
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/tui/internal/fake"
	"github.com/lumina-workbench/lumina/tui/internal/golden"
	"github.com/lumina-workbench/lumina/tui/state"
	"github.com/lumina-workbench/lumina/tui/termcap"
	"github.com/lumina-workbench/lumina/tui/trainview"
)

type harness struct {
	t    *testing.T
	m    *Model
	s    *fake.Sampler
	tr   *fake.Trainer
	quit bool
}

// newHarness builds the app with fakes, forces half-block images through LUMINA_IMAGES (so detection
// decides at once), sizes it and runs Init.
func newHarness(t *testing.T, w, h int) *harness {
	t.Helper()
	return newHarnessWith(t, w, h, Deps{})
}

// newHarnessWith is newHarness with some Deps set (the fakes fill the rest).
func newHarnessWith(t *testing.T, w, h int, deps Deps) *harness {
	t.Helper()
	ds, err := dataset.New(7, 50, world.DefaultSamplerConfig())
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LUMINA_IMAGES": "halfblock", "TERM": "xterm-256color"}
	hs := &harness{t: t, s: fake.NewSampler(), tr: fake.NewTrainer()}
	deps.Sampler, deps.Trainer, deps.Runs, deps.Scenes = hs.s, hs.tr, fake.NewRuns(), ds
	deps.Getenv = func(k string) string { return env[k] }
	hs.m = New(deps)
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(hs.m.Init())
	return hs
}

// run executes commands breadth-first, feeding their messages to the app; commands that would
// block (listeners on open channels) or wait (ticks) are skipped after a short timeout.
func (hs *harness) run(cmd tea.Cmd) {
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0 && n < 5000; n++ {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		done := make(chan tea.Msg, 1)
		go func() { done <- c() }()
		var msg tea.Msg
		select {
		case msg = <-done:
		case <-time.After(200 * time.Millisecond):
			continue
		}
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		case tea.QuitMsg:
			hs.quit = true
		default:
			if fmt.Sprintf("%T", msg) == "tea.sequenceMsg" {
				continue
			}
			_, next := hs.m.Update(msg)
			queue = append(queue, next)
		}
	}
}

func (hs *harness) send(msg tea.Msg) {
	_, cmd := hs.m.Update(msg)
	hs.run(cmd)
}

func (hs *harness) keys(s string) {
	for _, r := range s {
		hs.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func (hs *harness) screen() string { return ansi.Strip(hs.m.render()) }

var (
	ctrlC  = tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	ctrlR  = tea.KeyPressMsg{Code: 'r', Mod: tea.ModCtrl}
	escape = tea.KeyPressMsg{Code: tea.KeyEscape}
	enter  = tea.KeyPressMsg{Code: tea.KeyEnter}
)

func TestGenerateFromTheApp(t *testing.T) {
	hs := newHarness(t, 80, 24)
	hs.keys("a red circle")
	hs.send(ctrlR)
	out := hs.screen()
	if !strings.Contains(out, "NFE 29 · fwd 58 · 12ms/step · total 348ms") {
		t.Errorf("timing line missing:\n%s", out)
	}
	if !strings.Contains(hs.m.render(), "▀") {
		t.Error("no half-block image")
	}
	if !strings.Contains(out, "images: halfblock") {
		t.Error("image mode not shown")
	}
}

func TestTypingQDoesNotQuit(t *testing.T) {
	hs := newHarness(t, 80, 24)
	hs.keys("q1")
	if hs.quit || hs.m.Active() != PageSample {
		t.Fatal("q and 1 in the prompt must be typed, not obeyed")
	}
	hs.send(escape)
	hs.keys("2")
	if hs.m.Active() != PageTrain {
		t.Fatalf("page %d, want Train", hs.m.Active())
	}
	hs.keys("q")
	if !hs.quit {
		t.Error("q outside a text field with nothing running should quit")
	}
}

// A value being typed in the settings has the keyboard: q and digits are typed into it.
func TestTypingInASettingDoesNotQuit(t *testing.T) {
	hs := newHarness(t, 80, 24)
	hs.send(escape)
	hs.send(tea.KeyPressMsg{Code: tea.KeyDown})
	hs.send(enter)
	hs.keys("q2")
	if hs.quit || hs.m.Active() != PageSample {
		t.Fatalf("q and 2 in a value editor were obeyed: quit %v page %d", hs.quit, hs.m.Active())
	}
	hs.send(escape)
	hs.keys("q")
	if !hs.quit {
		t.Error("q after the editor closed should quit")
	}
}

// The prompt, settings, sampled images and view come back after a restart; a corrupt state file is
// ignored with a notice.
func TestStateRestored(t *testing.T) {
	dir := t.TempDir()
	hs := newHarnessWith(t, 80, 24, Deps{StateDir: dir})
	hs.keys("a red circle")
	hs.send(ctrlR)
	hs.send(escape)
	hs.send(tea.KeyPressMsg{Code: tea.KeyDown})
	hs.send(enter)
	hs.keys("12345")
	hs.send(enter)
	hs.keys("3")
	if err := hs.m.SaveState(); err != nil {
		t.Fatal(err)
	}
	again := newHarnessWith(t, 80, 24, Deps{StateDir: dir})
	if again.m.Active() != PageData {
		t.Errorf("page %d, want Data", again.m.Active())
	}
	if sp := again.m.sample.Spec(); sp.Prompt != "a red circle" || sp.Options.Seed != 12345 {
		t.Errorf("prompt %q seed %d", sp.Prompt, sp.Options.Seed)
	}
	again.keys("1")
	if out := again.screen(); !strings.Contains(out, "History (1)") || !strings.Contains(out, "NFE 29") {
		t.Errorf("history not restored:\n%s", out)
	}
	if err := os.WriteFile(filepath.Join(dir, state.File), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := newHarnessWith(t, 80, 24, Deps{StateDir: dir})
	if out := broken.screen(); !strings.Contains(out, "state not restored") {
		t.Errorf("no notice for a corrupt state file:\n%s", out)
	}
}

func TestQuitAsksWhileTraining(t *testing.T) {
	hs := newHarness(t, 80, 24)
	hs.send(escape)
	hs.keys("2s")
	if !hs.m.train.Busy() {
		t.Fatal("training did not start")
	}
	hs.keys("q")
	if hs.quit || !strings.Contains(hs.screen(), "Stop it (a checkpoint is saved) and quit?") {
		t.Fatalf("no confirmation:\n%s", hs.screen())
	}
	hs.keys("n")
	if strings.Contains(hs.screen(), "and quit?") || hs.tr.Stopped != 0 {
		t.Fatal("n should dismiss the dialog and keep training")
	}
	hs.keys("q")
	hs.keys("y")
	// Stop closes the fake's channel after a checkpoint event; the listener delivers both.
	hs.run(hs.m.train.ListenForTest())
	hs.run(hs.m.train.ListenForTest())
	if hs.tr.Stopped != 1 || !hs.quit {
		t.Errorf("y should stop training (stopped %d) and then quit (%v)", hs.tr.Stopped, hs.quit)
	}
}

func TestCtrlCStopsTrainingThenQuits(t *testing.T) {
	hs := newHarness(t, 80, 24)
	hs.send(escape)
	hs.keys("2s")
	hs.tr.Send(train.StepEvent{Stage: 0, Step: 1, Steps: 100, Loss: 1})
	hs.run(hs.m.train.ListenForTest())
	hs.send(ctrlC)
	if hs.quit {
		t.Fatal("quit before the trainer stopped")
	}
	if hs.tr.Stopped != 1 || hs.m.train.State() != trainview.Stopping {
		t.Fatalf("ctrl+c did not stop training: stopped %d state %v", hs.tr.Stopped, hs.m.train.State())
	}
	hs.run(hs.m.train.ListenForTest()) // checkpoint
	hs.run(hs.m.train.ListenForTest()) // close
	if !hs.quit {
		t.Error("no quit after the trainer stopped")
	}
}

func TestTooSmallAndResize(t *testing.T) {
	hs := newHarness(t, 60, 15)
	if !strings.Contains(hs.screen(), "needs at least 70×20") {
		t.Errorf("no too-small message:\n%s", hs.screen())
	}
	hs.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	lines := strings.Split(hs.m.render(), "\n")
	if len(lines) != 30 || ansi.StringWidth(lines[5]) != 100 {
		t.Errorf("after resize: %d lines, %d wide", len(lines), ansi.StringWidth(lines[5]))
	}
}

func TestLoadCheckpointSwitchesToSample(t *testing.T) {
	hs := newHarness(t, 80, 24)
	hs.send(escape)
	hs.keys("4")
	hs.keys("l")
	if hs.m.Active() != PageSample || !strings.Contains(hs.screen(), "loaded runs/tiny-001/stage1-000050.safetensors") {
		t.Errorf("checkpoint load did not switch to Sample:\n%s", hs.screen())
	}
}

// Enter on a run in Runs opens the Train view watching it.
func TestEnterOnRunWatchesIt(t *testing.T) {
	hs := newHarness(t, 80, 24)
	hs.send(escape)
	hs.keys("4")
	hs.send(enter)
	if hs.m.Active() != PageTrain || hs.m.train.Watching() != "runs/tiny-001" {
		t.Errorf("enter on a run: page %d, watching %q", hs.m.Active(), hs.m.train.Watching())
	}
}

// A click on a tab switches to it; the mouse does nothing while the quit dialog is up.
func TestClickOnTab(t *testing.T) {
	hs := newHarness(t, 80, 24)
	screen := hs.screen()
	first := strings.Split(screen, "\n")[0]
	x := strings.Index(first, "3 Data")
	if x < 0 {
		t.Fatalf("no Data tab: %q", first)
	}
	hs.send(tea.MouseClickMsg{X: len([]rune(first[:x])) + 1, Y: 0, Button: tea.MouseLeft})
	if hs.m.Active() != PageData {
		t.Errorf("click on the Data tab: page %d", hs.m.Active())
	}
}

// The palette follows the terminal's background.
func TestBackgroundColour(t *testing.T) {
	hs := newHarness(t, 80, 24)
	hs.send(tea.BackgroundColorMsg{Color: color.White})
	if hs.m.common.Styles.Dark {
		t.Error("a white background kept the dark palette")
	}
	hs.send(tea.BackgroundColorMsg{Color: color.Black})
	if !hs.m.common.Styles.Dark {
		t.Error("a black background kept the light palette")
	}
}

func TestSixelModeLeavesCellsBlank(t *testing.T) {
	hs := newHarness(t, 80, 24)
	hs.send(termcap.CapsMsg{Decision: termcap.Decision{Mode: termcap.Sixel, Cell: termcap.CellSize{W: 10, H: 20}}})
	hs.keys("a red circle")
	hs.send(ctrlR)
	if strings.Contains(hs.m.render(), "▀") {
		t.Error("half-block cells drawn in sixel mode")
	}
	if hs.m.painter.PaintBytes() == nil {
		t.Error("the painter has nothing to paint")
	}
	if b := hs.m.painter.Box(); b.Row < 1 {
		t.Errorf("painter box %+v not below the tab bar", b)
	}
}

func TestHelpToggle(t *testing.T) {
	hs := newHarness(t, 80, 24)
	hs.send(escape)
	hs.keys("?")
	if !strings.Contains(hs.screen(), "Keys") || !strings.Contains(hs.screen(), "generate") {
		t.Errorf("full help missing:\n%s", hs.screen())
	}
}

func TestGolden(t *testing.T) {
	t.Chdir(t.TempDir()) // the Ablate view shows its sweeps folder: the same relative path every run
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		w, h := sz[0], sz[1]
		hs := newHarnessWith(t, w, h, Deps{Sweeper: fake.NewSweeper("runs/sweeps")})
		hs.keys("a red circle left of a blue square")
		hs.send(ctrlR)
		golden.Assert(t, fmt.Sprintf("sample_%dx%d", w, h), hs.m.render(), w, h)
		hs.send(escape)
		hs.keys("2")
		golden.Assert(t, fmt.Sprintf("train_%dx%d", w, h), hs.m.render(), w, h)
		hs.keys("3")
		golden.Assert(t, fmt.Sprintf("data_%dx%d", w, h), hs.m.render(), w, h)
		hs.keys("4")
		golden.Assert(t, fmt.Sprintf("runs_%dx%d", w, h), hs.m.render(), w, h)
		hs.keys("5")
		golden.Assert(t, fmt.Sprintf("ablate_%dx%d", w, h), hs.m.render(), w, h)
		hs.keys("6")
		golden.Assert(t, fmt.Sprintf("experiments_%dx%d", w, h), hs.m.render(), w, h)
		hs.keys("2s")
		hs.keys("q")
		golden.Assert(t, fmt.Sprintf("confirmquit_%dx%d", w, h), hs.m.render(), w, h)

		// Every view again on a light background.
		hs = newHarnessWith(t, w, h, Deps{Sweeper: fake.NewSweeper("runs/sweeps")})
		hs.send(tea.BackgroundColorMsg{Color: color.White})
		hs.keys("a red circle left of a blue square")
		hs.send(ctrlR)
		golden.Assert(t, fmt.Sprintf("sample_light_%dx%d", w, h), hs.m.render(), w, h)
		hs.send(escape)
		for i, name := range []string{"train", "data", "runs", "ablate", "experiments"} {
			hs.keys(fmt.Sprint(i + 2))
			golden.Assert(t, fmt.Sprintf("%s_light_%dx%d", name, w, h), hs.m.render(), w, h)
		}
	}
	hs := newHarness(t, 60, 15)
	golden.Assert(t, "toosmall_60x15", hs.m.render(), 60, 15)
}

// Deps.Sweep opens on the Ablate view showing that sweep folder.
func TestOpensOnASweep(t *testing.T) {
	t.Chdir(t.TempDir())
	sw := fake.NewSweeper("runs/sweeps")
	os.MkdirAll("runs/sweeps/s", 0o755)
	os.WriteFile("runs/sweeps/s/grid.yaml", []byte("method: grid\nparameters:\n  cfg: {values: [4, 8]}\nprompts: [a red circle]\nreference: {cfg: 4}\n"), 0o644)
	hs := newHarnessWith(t, 80, 24, Deps{Sweeper: sw, Sweep: "runs/sweeps/s"})
	if hs.m.Active() != PageAblate || !strings.Contains(hs.screen(), "Sweep s  runs/sweeps/s  unfinished, 0 of 2 images") {
		t.Errorf("page %d:\n%s", hs.m.Active(), hs.screen())
	}
}

// --runs reaches the Sample view: s saves under RUNS/samples, and the Experiments view lists
// RUNS/experiments.
func TestRunsDirReachesViews(t *testing.T) {
	t.Chdir(t.TempDir()) // a short relative path, so the view's message does not wrap it
	runs := "myruns"
	hs := newHarnessWith(t, 120, 40, Deps{RunsDir: runs})
	hs.keys("a red circle")
	hs.send(ctrlR)
	hs.send(escape)
	hs.keys("s")
	if _, err := os.Stat(filepath.Join(runs, "samples", "sample-000001-seed0.png")); err != nil {
		t.Errorf("s did not save under --runs: %v", err)
	}
	hs.keys("6")
	if out := hs.screen(); !strings.Contains(out, filepath.Join(runs, "experiments")) {
		t.Errorf("the Experiments view does not look under --runs:\n%s", out)
	}
}

// With the model on a GPU the status line ends with the device, its memory and utilisation (goldens at
// two sizes on both backgrounds); a failing monitor says why in the same place.
func TestDeviceInStatusLine(t *testing.T) {
	t.Chdir(t.TempDir())
	dev := &fake.Device{Answer: device.Stats{Device: device.Device{Kind: device.CUDA}, Name: "NVIDIA H100 80GB HBM3",
		MemUsed: 12389 << 20, MemTotal: 81559 << 20, Util: 45}}
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		w, h := sz[0], sz[1]
		for _, dark := range []bool{true, false} {
			hs := newHarnessWith(t, w, h, Deps{Device: dev})
			name := fmt.Sprintf("device_%dx%d", w, h)
			if !dark {
				hs.send(tea.BackgroundColorMsg{Color: color.White})
				name = fmt.Sprintf("device_light_%dx%d", w, h)
			}
			golden.Assert(t, name, hs.m.render(), w, h)
		}
	}
	hs := newHarnessWith(t, 160, 48, Deps{Device: dev})
	if !strings.Contains(hs.screen(), "cuda:0 NVIDIA H100 80GB HBM3 · 12.1/79.6 GiB · 45%") {
		t.Errorf("no device segment:\n%s", hs.screen())
	}
	failing := &fake.Device{Answer: device.Stats{Device: device.Device{Kind: device.CUDA, Index: 1}}, Err: errors.New("nvidia-smi: not found")}
	hs = newHarnessWith(t, 160, 48, Deps{Device: failing})
	if !strings.Contains(hs.screen(), "cuda:1: nvidia-smi: not found") {
		t.Errorf("no failure in the device segment:\n%s", hs.screen())
	}
	hs = newHarness(t, 160, 48)
	if strings.Contains(hs.screen(), "cuda") {
		t.Errorf("a CPU run shows a device:\n%s", hs.screen())
	}
}
