package train

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func metricsLine(stage, step int) string {
	b, _ := MetricsRecord{Stage: stage, Step: step, Loss: 1 / float64(step)}.MarshalJSON()
	return string(b) + "\n"
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func steps(recs []MetricsRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%d:%d", r.Stage, r.Step))
	}
	return out
}

// The tail returns each line once, waits for a line's newline, skips a line that does not parse, and
// starts again from the top when the file is replaced (a resume), cut short, or removed.
func TestMetricsTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	tail := MetricsTail{Path: path}
	read := func(what string, want []string, wantReset bool) {
		t.Helper()
		recs, reset, err := tail.Read()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := steps(recs); fmt.Sprint(got) != fmt.Sprint(want) || reset != wantReset {
			t.Errorf("%s: got %v reset %v, want %v reset %v", what, got, reset, want, wantReset)
		}
	}
	read("no file yet", nil, false)
	appendFile(t, path, metricsLine(0, 1)+metricsLine(0, 2))
	read("two lines", []string{"0:1", "0:2"}, false)
	read("nothing new", nil, false)
	third := metricsLine(0, 3)
	appendFile(t, path, third[:20])
	read("a torn line", nil, false)
	appendFile(t, path, third[20:]+"{not json\n"+metricsLine(0, 4))
	read("the line completed, a bad one, another", []string{"0:3", "0:4"}, false)
	if tail.Bad != 1 {
		t.Errorf("Bad = %d, want 1", tail.Bad)
	}

	// A resume from the checkpoint at step 2 rewrites the file atomically (a new file).
	rf := &RunFolder{Dir: dir, Ext: DefaultCheckpointExt}
	if err := rf.TruncateMetrics(0, 2); err != nil {
		t.Fatal(err)
	}
	read("replaced by a resume", []string{"0:1", "0:2"}, true)
	appendFile(t, path, metricsLine(0, 3))
	read("the resumed run goes on", []string{"0:3"}, false)

	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, metricsLine(1, 1))
	read("cut in place", []string{"1:1"}, true)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	read("removed", nil, true)
	read("still missing", nil, false)
}

// exitedProcess is a PID that no process has any more.
func exitedProcess(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func writeLock(t *testing.T, dir string, h LockHolder) {
	t.Helper()
	b, _ := json.Marshal(h)
	if err := os.WriteFile(filepath.Join(dir, LockFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A reader tells a live writer from one that was killed, from a clean end, and from a writer it cannot
// check, without taking the lock.
func TestProbeWriter(t *testing.T) {
	host, _ := os.Hostname()
	probe := func(dir string) WriterState {
		t.Helper()
		w, err := ProbeWriter(dir)
		if err != nil {
			t.Fatal(err)
		}
		return w.State
	}

	dir := t.TempDir()
	if s := probe(dir); s != NoWriter {
		t.Errorf("no lock file: %v", s)
	}
	rf, err := OpenRunFolder(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if s := probe(dir); s != WriterAlive {
		t.Errorf("while this process holds the folder: %v", s)
	}
	// The reader took no lock: the writer still has it, and a second writer is still refused.
	if _, err := OpenRunFolder(dir, ""); err == nil && runtime.GOOS == "linux" {
		t.Error("a second writer opened the folder after a probe")
	}
	rf.Close()
	if s := probe(dir); s != NoWriter {
		t.Errorf("after a clean release: %v", s)
	}

	writeLock(t, dir, LockHolder{PID: exitedProcess(t), Host: host, Since: time.Now()})
	if s := probe(dir); s != WriterGone {
		t.Errorf("a killed writer's lock file: %v", s)
	}
	writeLock(t, dir, LockHolder{PID: 4242, Host: host + "-elsewhere", Since: time.Now()})
	if s := probe(dir); s != WriterUnknown {
		t.Errorf("a writer on another host: %v", s)
	}
	if err := os.WriteFile(filepath.Join(dir, LockFile), []byte(`{"pid":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := probe(dir); s != WriterUnknown {
		t.Errorf("a record cut short: %v", s)
	}

	// A live process that holds no lock is a recycled PID, where /proc/locks can tell.
	if _, err := os.Stat("/proc/locks"); err != nil {
		t.Skip("no /proc/locks")
	}
	ctx, cancel := context.WithCancel(context.Background())
	sleeper := exec.CommandContext(ctx, "sleep", "30")
	if err := sleeper.Start(); err != nil {
		cancel()
		t.Skip("no sleep command:", err)
	}
	defer func() { cancel(); sleeper.Wait() }()
	writeLock(t, dir, LockHolder{PID: sleeper.Process.Pid, Host: host, Since: time.Now()})
	if s := probe(dir); s != WriterGone {
		t.Errorf("a live PID that holds no lock: %v", s)
	}
}

// A run is complete with its exported checkpoint, or with the final checkpoint of its last stage
// that runs; a stage's final checkpoint before that is not enough.
func TestRunComplete(t *testing.T) {
	p := testPreset(t)
	p.Stages[len(p.Stages)-1].Skip = true
	last := len(p.Stages) - 2
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, CheckpointDir), 0o755); err != nil {
		t.Fatal(err)
	}
	touch := func(rel string) {
		if err := os.WriteFile(filepath.Join(dir, rel), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	touch(filepath.Join(CheckpointDir, fmt.Sprintf("s%d-final.safetensors", last-1)))
	if RunComplete(dir, p) {
		t.Error("complete after a stage before the last")
	}
	touch(filepath.Join(CheckpointDir, fmt.Sprintf("s%d-final.safetensors", last)))
	if !RunComplete(dir, p) {
		t.Error("not complete after the last stage that runs")
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, FinalFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !RunComplete(other, nil) {
		t.Error("not complete with the exported checkpoint")
	}
}
