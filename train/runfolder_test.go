package train

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	if string(b) != "good" || len(ents) != 4 { // f.bin, samples, checkpoints, eval, and nothing else
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

func TestProgressOutput(t *testing.T) {
	var buf bytes.Buffer
	p := &Progress{W: &buf, TTY: false, LogEvery: time.Hour, Width: 10}
	p.Handle(StageStarted{Stage: 1, Name: "low-res", Kind: KindDiT, Steps: 10})
	p.Handle(StepEvent{Stage: 1, StageName: "low-res", Step: 1, Steps: 10, Loss: 0.5, ETA: 90 * time.Second})
	p.Handle(StepEvent{Stage: 1, StageName: "low-res", Step: 2, Steps: 10, Loss: 0.4}) // within LogEvery: quiet
	p.Handle(StepEvent{Stage: 1, StageName: "low-res", Step: 10, Steps: 10, Loss: 0.3})
	out := buf.String()
	if strings.Contains(out, "\r") || strings.Count(out, "\n") != 3 || !strings.Contains(out, "ETA 1m30s") || strings.Contains(out, "step 2/10") {
		t.Errorf("plain output:\n%s", out)
	}
	buf.Reset()
	p = &Progress{W: &buf, TTY: true, Width: 10}
	p.Handle(StepEvent{Stage: 1, StageName: "low-res", Step: 5, Steps: 10, Loss: 0.5, ETA: time.Minute})
	if out := buf.String(); !strings.HasPrefix(out, "\r") || !strings.Contains(out, "█████░░░░░") || strings.Contains(out, "\n") {
		t.Errorf("terminal output %q", out)
	}
}
