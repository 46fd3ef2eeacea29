package train

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/data/toyeval"
)

// describe is an event as the tests compare it.
func describe(ev Event) string {
	switch ev := ev.(type) {
	case FollowStarted:
		return "follow " + ev.Preset.Name
	case HistoryReset:
		return "reset"
	case WriterChanged:
		return fmt.Sprintf("writer %v complete=%v", ev.Writer.State, ev.Complete)
	case StageStarted:
		return fmt.Sprintf("start s%d %s from %d", ev.Stage, ev.Name, ev.FromStep)
	case StageFinished:
		return fmt.Sprintf("finish s%d eval=%v", ev.Stage, ev.Eval != nil)
	case StepEvent:
		return fmt.Sprintf("step s%d %d/%d", ev.Stage, ev.Step, ev.Steps)
	case SampleEvent:
		return "sample " + filepath.Base(ev.Path)
	case CheckpointSaved:
		return "ckpt " + filepath.Base(ev.Path)
	}
	return fmt.Sprintf("%T", ev)
}

// A follower reads a run as another process writes it, and resumes: it lays out the recipe, sends each
// step once with the stage's budget and an ETA from the steps' times, marks stage ends, the newest sample
// grid and ToyEval reports, says when the writer stops (stopped or finished), and recognises a resume by
// the new writer's first step: the history it rewrote comes again after a reset, then the stage restarts
// from the checkpoint's step.
func TestFollower(t *testing.T) {
	dir := t.TempDir()
	p := testPreset(t)
	host, _ := os.Hostname()
	elsewhere := host + "-elsewhere" // a writer this host cannot probe, so the test sets who holds the folder
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rf := &RunFolder{Dir: dir, Ext: DefaultCheckpointExt}
	if err := rf.prepare(); err != nil {
		t.Fatal(err)
	}
	if err := rf.WriteConfig(p); err != nil {
		t.Fatal(err)
	}
	f := NewFollower(dir)
	poll := func(what string, want ...string) []Event {
		t.Helper()
		evs, err := f.Poll()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var got []string
		for _, ev := range evs {
			got = append(got, describe(ev))
		}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("%s:\n got %s\nwant %s", what, strings.Join(got, "; "), strings.Join(want, "; "))
		}
		return evs
	}
	line := func(stage, step int, at time.Time) string {
		b, _ := MetricsRecord{Time: at, Stage: stage, StageName: p.Stages[stage].Name, Step: step, Loss: 1}.MarshalJSON()
		return string(b) + "\n"
	}
	metrics := filepath.Join(dir, MetricsFile)

	poll("a new run folder", "follow tiny-cpu", "writer no writer complete=false")
	writeLock(t, dir, LockHolder{PID: 4242, Host: elsewhere, Since: t0})
	appendFile(t, metrics, line(0, 1, t0.Add(time.Second))+line(0, 2, t0.Add(2*time.Second))+line(0, 3, t0.Add(3*time.Second)))
	evs := poll("three steps", "start s0 text-encoder from 0", "step s0 1/5", "step s0 2/5", "step s0 3/5", "writer writer unknown complete=false")
	if eta := evs[3].(StepEvent).ETA; eta != 2*time.Second {
		t.Errorf("ETA at step 3 of 5 at 1 s a step: %v", eta)
	}
	poll("nothing new")

	// Stage 0 ends with its final checkpoint and a report; stage 1 starts; a sample grid is written.
	for _, rel := range []string{filepath.Join(CheckpointDir, "s0-final.safetensors"), filepath.Join(CheckpointDir, "s0-00000002.safetensors")} {
		if err := os.WriteFile(filepath.Join(dir, rel), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := rf.WriteJSON(filepath.Join(dir, EvalDir, "s0-quick.json"), toyeval.Report{Overall: 0.25}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"s1-00000001.png", "s0-00000005.png"} {
		if err := rf.WritePNG(filepath.Join(dir, SamplesDir, name), image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
			t.Fatal(err)
		}
	}
	appendFile(t, metrics, line(0, 4, t0.Add(4*time.Second))+line(0, 5, t0.Add(5*time.Second))+line(1, 1, t0.Add(6*time.Second))+line(1, 2, t0.Add(7*time.Second)))
	evs = poll("stage 1 begins", "step s0 4/5", "step s0 5/5", "finish s0 eval=false", "start s1 low-res from 0", "step s1 1/7", "step s1 2/7",
		"ckpt s0-00000002.safetensors", "ckpt s0-final.safetensors", "finish s0 eval=true", "sample s1-00000001.png")
	if r := evs[8].(StageFinished).Eval; r.Overall != 0.25 {
		t.Errorf("report %+v", r)
	}

	// The writer is killed; a new one resumes from stage 1's checkpoint at step 1 and rewrites the metrics.
	appendFile(t, metrics, line(1, 3, t0.Add(8*time.Second)))
	writeLock(t, dir, LockHolder{PID: 4343, Host: elsewhere, Since: t0.Add(time.Minute)})
	poll("a new writer", "step s1 3/7", "writer writer unknown complete=false")
	if err := rf.TruncateMetrics(1, 1); err != nil {
		t.Fatal(err)
	}
	appendFile(t, metrics, line(1, 2, t0.Add(61*time.Second)))
	poll("the resume", "reset", "start s0 text-encoder from 0", "step s0 1/5", "step s0 2/5", "step s0 3/5", "step s0 4/5", "step s0 5/5",
		"finish s0 eval=false", "start s1 low-res from 0", "step s1 1/7", "start s1 low-res from 1", "step s1 2/7")

	// A clean stop removes the lock file; a finished run has its exported checkpoint.
	os.Remove(filepath.Join(dir, LockFile))
	poll("stopped", "writer no writer complete=false")
	if err := os.WriteFile(filepath.Join(dir, FinalFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	writeLock(t, dir, LockHolder{PID: 4444, Host: elsewhere, Since: t0.Add(2 * time.Minute)})
	poll("resumed again", "writer writer unknown complete=false")
	os.Remove(filepath.Join(dir, LockFile))
	poll("finished", "writer no writer complete=true")

	if _, err := NewFollower(filepath.Join(dir, "missing")).Poll(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing folder: %v", err)
	}
}
