package train

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPruneKeepsFinalsAndNewest(t *testing.T) {
	rf, err := OpenRunFolder(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	write := func(stage, step int, final bool) {
		if _, err := rf.SaveCheckpoint(stage, step, final, func(w io.Writer) error { _, err := w.Write([]byte("x")); return err }); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 10, false)
	write(0, 20, false)
	write(0, 0, true)
	write(1, 5, false)
	write(1, 15, false)
	write(1, 100, false)
	// A temporary file of an interrupted write is not a checkpoint.
	os.WriteFile(filepath.Join(rf.Dir, CheckpointDir, ".s1-00000200.safetensors.tmp123"), []byte("half"), 0o644)
	if err := rf.Prune(2); err != nil {
		t.Fatal(err)
	}
	ck, _ := rf.Checkpoints()
	var names []string
	for _, c := range ck {
		names = append(names, filepath.Base(c.Path))
	}
	if want := "s0-final.safetensors s1-00000015.safetensors s1-00000100.safetensors"; strings.Join(names, " ") != want {
		t.Errorf("after prune: %v, want %s", names, want)
	}
}

func TestAtomicWriteFailureLeavesTarget(t *testing.T) {
	rf, err := OpenRunFolder(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(rf.Dir, "f.bin")
	if err := rf.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write([]byte("good")); return err }); err != nil {
		t.Fatal(err)
	}
	err = rf.WriteFileAtomic(path, func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("bad"), 1<<20)) // more than the buffer: reaches the file
		return errors.New("boom")
	})
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "f.bin") {
		t.Fatalf("error %v", err)
	}
	b, _ := os.ReadFile(path)
	ents, _ := os.ReadDir(rf.Dir)
	if string(b) != "good" || len(ents) != 5 { // f.bin, lock, samples, checkpoints, eval, and nothing else
		t.Errorf("target %q, %d entries", b, len(ents))
	}
}

func TestTruncateMetrics(t *testing.T) {
	rf, _ := OpenRunFolder(t.TempDir(), "")
	mw, err := rf.openMetrics()
	if err != nil {
		t.Fatal(err)
	}
	for st := range 3 {
		for s := 1; s <= 4; s++ {
			mw.write(MetricsRecord{Stage: st, Step: s, Loss: float64(10*st + s), AuxLoss: math.NaN()})
		}
	}
	mw.close()
	if err := rf.TruncateMetrics(1, 2); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadMetrics(filepath.Join(rf.Dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 || recs[5].Stage != 1 || recs[5].Step != 2 || recs[5].Loss != 12 || !math.IsNaN(recs[5].AuxLoss) {
		t.Fatalf("after truncation: %+v", recs)
	}
}

func TestListRuns(t *testing.T) {
	root := t.TempDir()
	run := filepath.Join(root, "tiny")
	rf, err := OpenRunFolder(run, "")
	if err != nil {
		t.Fatal(err)
	}
	p := testPreset(t)
	if err := rf.WriteConfig(p); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"s1-final.safetensors", "s0-00000150.safetensors", "s1-00000200.safetensors", "s1-00000003.other", "notes.txt"} {
		os.WriteFile(filepath.Join(run, CheckpointDir, n), []byte("x"), 0o644)
	}
	os.WriteFile(filepath.Join(run, FinalFile), []byte("x"), 0o644)
	// Losses: stage 0 steps 1..150 at 1, stage 1 steps 1..200 at the step number.
	mw, err := rf.openMetrics()
	if err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 150; step++ {
		mw.write(MetricsRecord{Stage: 0, Step: step, Loss: 1})
	}
	for step := 1; step <= 210; step++ {
		mw.write(MetricsRecord{Stage: 1, Step: step, Loss: float64(step)})
	}
	if err := mw.close(); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "not-a-run"), 0o755)
	os.WriteFile(filepath.Join(root, "stray.yaml"), []byte("x"), 0o644)

	runs, err := ListRuns(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Preset != p.Name || runs[0].Dir != run {
		t.Fatalf("runs %+v", runs)
	}
	var got []string
	for _, c := range runs[0].Checkpoints {
		got = append(got, fmt.Sprintf("%s %.1f", filepath.Base(c.Path), c.Loss))
		if c.Saved.IsZero() {
			t.Errorf("%s: no modification time", c.Path)
		}
	}
	// Each loss is the mean of the 20 steps up to the checkpoint: 1 in stage 0, 181..200 → 190.5 at
	// step 200, and 191..210 → 200.5 at the stage's end and for the exported model.
	want := []string{"s0-00000150.safetensors 1.0", "s1-00000200.safetensors 190.5", "s1-final.safetensors 200.5", FinalFile + " 200.5"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("checkpoints %v, want %v", got, want)
	}
	if c := runs[0].Checkpoints[3]; !c.Export || c.Final {
		t.Errorf("%s: export %v final %v", c.Path, c.Export, c.Final)
	}
	if runs, err := ListRuns(filepath.Join(root, "missing")); err != nil || len(runs) != 0 {
		t.Fatalf("missing root: %v %v", runs, err)
	}
	// Reading creates nothing.
	before, _ := os.ReadDir(root)
	ReadRun(filepath.Join(root, "not-a-run"))
	if after, _ := os.ReadDir(root); len(after) != len(before) {
		t.Error("reading a run folder wrote to it")
	}
	if _, err := ReadRun(filepath.Join(root, "not-a-run")); err == nil {
		t.Error("a folder without config.yaml read as a run")
	}
}
