package train

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeClock advances only when told to.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// capRun runs p in dir on a fresh fake model whose every step takes 10 s on a fake clock; stopAt > 0
// stops the run after that many steps of this call. It returns the events.
func capRun(t *testing.T, p *Preset, dir string, resume bool, stopAt int64) (Summary, []Event) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := newFake()
	r, err := NewRunner(m, Options{Preset: p, RunDir: dir, Stage: AllStages, Resume: resume, Clock: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	m.after = func(*Batch) {
		clock.t = clock.t.Add(10 * time.Second)
		if stopAt > 0 && m.applied.Load() == stopAt {
			r.Stop()
		}
	}
	evs := r.Events()
	var got []Event
	done := make(chan struct{})
	go func() {
		for e := range evs {
			got = append(got, e)
		}
		close(done)
	}()
	sum, err := r.Run(context.Background())
	<-done
	if err != nil {
		t.Fatal(err)
	}
	return sum, got
}

// TestStageCutByCapIsReported: a stage whose wall-clock cap (30 s, three 10-second steps on the runner's
// clock) ends it before its 7 steps says so in a warning, in its StageFinished event and in the run
// folder, where ReadRun finds it; the stages without a cap train every step however long they take.
// A run stopped inside the capped stage and resumed (with a clock started afresh) counts the time the
// stage had spent and ends it at the same step, with the same records and loss curve. A Follower of
// the folder reports the cut too.
func TestStageCutByCapIsReported(t *testing.T) {
	p := testPreset(t)
	p.Stages[1].Minutes = 0.5
	dir := t.TempDir()
	sum, evs := capRun(t, p, dir, false, 0)
	if sum.Stopped {
		t.Fatalf("run stopped: %+v", sum)
	}
	const want = "stage 1 (low-res) cut at step 3 of 7 by its 0.5-minute cap"
	var warned bool
	finished := map[int]StageFinished{}
	for _, e := range evs {
		switch e := e.(type) {
		case WarningEvent:
			if e.Stage == 1 && e.Step == 3 && strings.HasPrefix(e.Message, want) && strings.Contains(e.Message, "minutes") {
				warned = true
			} else {
				t.Errorf("unexpected warning %+v", e)
			}
		case StageFinished:
			finished[e.Stage] = e
		}
	}
	if !warned {
		t.Errorf("no warning %q", want)
	}
	for stage, s := range p.Stages[:3] {
		e := finished[stage]
		wantSteps, cut := s.Steps, stage == 1
		if cut {
			wantSteps = 3
		}
		if e.Steps != wantSteps || e.CutByCap != cut {
			t.Errorf("stage %d finished with %d steps, cut %v; want %d, %v", stage, e.Steps, e.CutByCap, wantSteps, cut)
		}
	}

	run, err := ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Stages) != len(p.Stages) {
		t.Fatalf("%d stage records, want %d: %+v", len(run.Stages), len(p.Stages), run.Stages)
	}
	cut := run.CutStages()
	if len(cut) != 1 || cut[0].String() != want || cut[0].ElapsedS != 30 || cut[0].Budget != 7 {
		t.Fatalf("cut stages %+v, want one: %q after 30 s", cut, want)
	}
	if got := run.Stages[2].String(); got != "stage 2 (high-res) trained all 6 steps" {
		t.Errorf("uncut stage reads %q", got)
	}
	// A view following the folder sees the cut as the runner's own view does.
	fevs, err := NewFollower(dir).Poll()
	if err != nil {
		t.Fatal(err)
	}
	var fwarned, fcut bool
	for _, e := range fevs {
		switch e := e.(type) {
		case WarningEvent:
			fwarned = fwarned || (e.Stage == 1 && strings.HasPrefix(e.Message, want))
		case StageFinished:
			if e.Stage == 1 {
				fcut = e.CutByCap && e.Steps == 3 && e.Elapsed == 30*time.Second
			} else if e.CutByCap {
				t.Errorf("follower: stage %d cut", e.Stage)
			}
		}
	}
	if !fwarned || !fcut {
		t.Errorf("follower: warned %v, stage 1 finished cut at step 3 after 30 s %v", fwarned, fcut)
	}
	lowRes := 0
	for _, c := range readCurve(t, dir) {
		if c.stage == 1 {
			lowRes++
		}
	}
	if lowRes != 3 {
		t.Errorf("metrics.jsonl has %d low-res steps, want 3", lowRes)
	}

	// Stopped at the second step of the capped stage (the text encoder's 5, then 2), then resumed.
	dir2 := t.TempDir()
	if sum, _ := capRun(t, p, dir2, false, 7); !sum.Stopped || sum.Stage != 1 || sum.Step != 2 {
		t.Fatalf("first part: %+v, want a stop at stage 1 step 2", sum)
	}
	if recs, err := ReadStages(filepath.Join(dir2, StagesFile)); err != nil || len(recs) != 1 {
		t.Fatalf("records after the stop: %+v, %v; want stage 0's alone", recs, err)
	}
	capRun(t, p, dir2, true, 0)
	run2, err := ReadRun(dir2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(run2.Stages, run.Stages) {
		t.Errorf("resumed run's records %+v, uninterrupted %+v", run2.Stages, run.Stages)
	}
	sameCurve(t, readCurve(t, dir), readCurve(t, dir2))
}

// TestTruncateStages: a run that trains a stage again drops that stage's record and every later one.
func TestTruncateStages(t *testing.T) {
	dir := t.TempDir()
	rf, err := OpenRunFolder(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	for _, s := range []int{2, 0, 1} {
		if err := rf.RecordStage(StageRecord{Stage: s, StageName: "s", Steps: s, Budget: 3}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rf.RecordStage(StageRecord{Stage: 1, StageName: "again", Steps: 3, Budget: 3}); err != nil {
		t.Fatal(err)
	}
	recs, _ := ReadStages(filepath.Join(dir, StagesFile))
	if len(recs) != 3 || recs[0].Stage != 0 || recs[1].StageName != "again" || recs[2].Stage != 2 {
		t.Fatalf("records %+v, want stages 0, 1 (replaced), 2 in order", recs)
	}
	if err := rf.TruncateStages(1); err != nil {
		t.Fatal(err)
	}
	if recs, _ = ReadStages(filepath.Join(dir, StagesFile)); len(recs) != 1 || recs[0].Stage != 0 {
		t.Fatalf("after truncating from 1: %+v", recs)
	}
	if err := os.Remove(filepath.Join(dir, StagesFile)); err != nil {
		t.Fatal(err)
	}
	if err := rf.TruncateStages(0); err != nil {
		t.Fatalf("missing file: %v", err)
	}
}
