package trainview

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/train"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/internal/drive"
	"github.com/lumina-workbench/lumina/tui/internal/fake"
)

// folderWriter writes a run folder as a trainer in another process would, and says who holds it.
type folderWriter struct {
	dir    string
	rf     *train.RunFolder
	p      *train.Preset
	t0     time.Time
	writer train.Writer
}

func (fw *folderWriter) lines(t *testing.T, stage, from, to int, start time.Time) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(fw.dir, train.MetricsFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for s := from; s <= to; s++ {
		// A loss that falls with the step, with a wobble, so the raw and smoothed curves differ.
		loss := 2/math.Sqrt(float64(s)) + 0.1*math.Sin(float64(s))
		b, _ := train.MetricsRecord{Time: start.Add(time.Duration(s-from) * 200 * time.Millisecond), Stage: stage,
			StageName: fw.p.Stages[stage].Name, Step: s, Loss: loss, GradNorm: 0.5, LR: 3e-4, ImagesPerSec: 80}.MarshalJSON()
		fmt.Fprintf(f, "%s\n", b)
	}
}

// poll runs one poll of the view's follower and hands its result to the view; the view's next poll
// (a timer) is not run.
func poll(t *testing.T, m *Model) {
	t.Helper()
	cmd := m.PollForTest()
	if cmd == nil {
		t.Fatal("not watching")
	}
	m.Update(cmd())
}

// watchedRun is a view watching a run that trained stage 0 (200 steps), is 60 steps into stage 1 and
// has a sample grid and stage 0's ToyEval report; its writer, PID 4242, is alive.
func watchedRun(t *testing.T, w, h int, dark bool) (*Model, *folderWriter) {
	t.Helper()
	// A relative folder, so the views (and goldens) do not show the temporary folder's name.
	t.Chdir(t.TempDir())
	dir := filepath.Join("runs", "tiny")
	p, err := train.LoadPreset("tiny-cpu", "")
	if err != nil {
		t.Fatal(err)
	}
	p.Stages[0].Steps, p.Stages[1].Steps = 200, 300
	fw := &folderWriter{dir: dir, p: p, rf: &train.RunFolder{Dir: dir, Ext: train.DefaultCheckpointExt},
		t0: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	for _, sub := range []string{train.SamplesDir, train.EvalDir, train.CheckpointDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.rf.WriteConfig(p); err != nil {
		t.Fatal(err)
	}
	fw.writer = train.Writer{State: train.WriterAlive, HolderOK: true, Holder: train.LockHolder{PID: 4242, Host: "lab", Since: fw.t0}}
	fw.lines(t, 0, 1, 200, fw.t0.Add(time.Second))
	if err := os.WriteFile(filepath.Join(dir, train.CheckpointDir, "s0-final.safetensors"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := toyeval.Report{Overall: 0.31, Categories: []toyeval.CategoryScore{{Name: "single_object", Mean: 0.5, N: 4}, {Name: "colors", Mean: 0.25, N: 4}}}
	if err := fw.rf.WriteJSON(filepath.Join(dir, train.EvalDir, "s0-quick.json"), rep); err != nil {
		t.Fatal(err)
	}
	fw.lines(t, 1, 1, 60, fw.t0.Add(time.Minute))
	if err := fw.rf.WritePNG(filepath.Join(dir, train.SamplesDir, "s1-00000050.png"), fake.Image(64, 32)); err != nil {
		t.Fatal(err)
	}
	c := common.New()
	c.Styles.SetDark(dark)
	m := New(c, fake.NewTrainer())
	m.SetSize(w, h)
	m.Watch(dir)
	m.watch.f.Probe = func(string) (train.Writer, error) { return fw.writer, nil }
	poll(t, m)
	return m, fw
}

// stop is a clean stop: the lock file goes.
func (fw *folderWriter) stop(t *testing.T, m *Model) {
	t.Helper()
	fw.writer = train.Writer{State: train.NoWriter}
	poll(t, m)
}

// resume is a new writer that continues stage 1 from its checkpoint at step 40 and trains two steps.
func (fw *folderWriter) resume(t *testing.T, m *Model) {
	t.Helper()
	since := fw.t0.Add(time.Hour)
	fw.writer = train.Writer{State: train.WriterAlive, HolderOK: true, Holder: train.LockHolder{PID: 4343, Host: "lab", Since: since}}
	poll(t, m)
	if err := fw.rf.TruncateMetrics(1, 40); err != nil {
		t.Fatal(err)
	}
	fw.lines(t, 1, 41, 42, since.Add(10*time.Second))
	poll(t, m)
}

// Watching a run another process writes: its whole history on one axis with the stage boundary, the
// step count, both ETAs, the sample grid, the stage's report; a stop, then a resume from an earlier
// checkpoint, are reported.
func TestWatchRun(t *testing.T) {
	m, fw := watchedRun(t, 160, 48, true)
	if m.plot.Len() != 260 {
		t.Errorf("the plot has %d points, want both stages' 260", m.plot.Len())
	}
	out := ansi.Strip(m.View())
	// 0.2 s a step: 240 steps left in stage 1 is 48 s.
	for _, want := range []string{"Run  training", "watching " + fw.dir, "writer PID 4242 on lab", "60/300 (stage 1)", "48s (job ", "┊", "s1",
		"overall 0.310", "samples at stage 1 step 50", "260 steps"} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q:\n%s", want, out)
		}
	}
	if img, _ := m.ImageSlot(); img == nil {
		t.Error("no sample grid")
	}
	if _, ok := m.jobETA(); !ok {
		t.Error("no whole-job ETA")
	}
	if m.Busy() {
		t.Error("a watched run must not hold the TUI from quitting")
	}

	fw.writer = train.Writer{State: train.NoWriter}
	cmd := m.PollForTest()
	_, next := m.Update(cmd())
	if !strings.Contains(ansi.Strip(m.View()), "Run  stopped") {
		t.Errorf("a stop is not reported:\n%s", ansi.Strip(m.View()))
	}
	if !statusSays(next, "training stopped") {
		t.Error("no status note for the stop")
	}

	fw.resume(t, m)
	out = ansi.Strip(m.View())
	if !strings.Contains(out, "Run  training") || !strings.Contains(out, "42/300 (stage 1)") || !strings.Contains(out, "resumed at step 40") {
		t.Errorf("the resume is not reported:\n%s", out)
	}
	if m.plot.Len() != 242 {
		t.Errorf("after the resume the plot has %d points, want 242 (the steps after the checkpoint are gone)", m.plot.Len())
	}

	fw.writer = train.Writer{State: train.WriterGone, HolderOK: true, Holder: fw.writer.Holder}
	poll(t, m)
	if !strings.Contains(ansi.Strip(m.View()), "stopped (writer killed)") {
		t.Errorf("a killed writer is not reported:\n%s", ansi.Strip(m.View()))
	}
	if err := os.WriteFile(filepath.Join(fw.dir, train.FinalFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fw.writer = train.Writer{State: train.NoWriter}
	poll(t, m)
	if !strings.Contains(ansi.Strip(m.View()), "Run  finished") {
		t.Errorf("a finished run is not reported:\n%s", ansi.Strip(m.View()))
	}
	m.Unwatch()
	if m.Watching() != "" || m.PollForTest() != nil {
		t.Error("still watching after d")
	}
}

// statusSays runs cmd's messages (the next poll's timer included) and looks for a status note with s.
func statusSays(cmd tea.Cmd, s string) bool {
	for _, msg := range drive.Messages(cmd) {
		if st, ok := msg.(common.StatusMsg); ok && strings.Contains(st.Text, s) {
			return true
		}
	}
	return false
}

// A folder that is not there yet (a job about to create it) is waited for, not an error that ends the
// watch.
func TestWatchMissingFolder(t *testing.T) {
	m, _ := newView(80, 24)
	dir := filepath.Join(t.TempDir(), "later")
	m.Watch(dir)
	poll(t, m)
	if !strings.Contains(ansi.Strip(m.View()), "no run here yet") {
		t.Errorf("a missing folder:\n%s", ansi.Strip(m.View()))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	poll(t, m)
	if !strings.Contains(ansi.Strip(m.View()), "no writer") {
		t.Errorf("an empty folder:\n%s", ansi.Strip(m.View()))
	}
}
