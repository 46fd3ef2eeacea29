package experiment_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/lumina-workbench/lumina/experiment"
	"github.com/lumina-workbench/lumina/experiment/experimenttest"
)

// A running experiment shows its finished runs' curves and no summary; a finished one its summary.
func TestInspect(t *testing.T) {
	root := t.TempDir()
	experimenttest.Write(t, filepath.Join(root, "b-running"), 1)
	experimenttest.Write(t, filepath.Join(root, "a-done"), 4)
	dirs, err := experiment.Folders(root)
	if err != nil || len(dirs) != 2 || filepath.Base(dirs[0]) != "a-done" {
		t.Fatalf("folders %v, %v", dirs, err)
	}
	if d, err := experiment.Folders(filepath.Join(root, "none")); err != nil || d != nil {
		t.Errorf("a missing root: %v, %v", d, err)
	}
	run, err := experiment.Inspect(dirs[1])
	if err != nil {
		t.Fatal(err)
	}
	if run.Done != 1 || run.Summary != nil || run.SummaryErr == nil || run.Curves[0] == nil || run.Curves[1] != nil {
		t.Errorf("running: done %d summary %v (%v) curves %v/%v", run.Done, run.Summary, run.SummaryErr, run.Curves[0] != nil, run.Curves[1] != nil)
	}
	// Seed 1's fast run: step 25's 20-step mean is 0.1 + mean over s = 6..25 of 2/s.
	want := 0.1
	for s := 6; s <= 25; s++ {
		want += 2 / float64(s) / 20
	}
	if c := run.Curves[0]; len(c) != 25 || math.Abs(c[24].Loss.Mean-want) > 1e-12 {
		t.Errorf("curve of %d points ending %v, want 25 ending %v", len(c), c[len(c)-1].Loss, want)
	}
	if run.Last.Kind != "run_done" {
		t.Errorf("last progress line %+v", run.Last)
	}
	done, err := experiment.Inspect(dirs[0])
	if err != nil || done.Summary == nil || done.Done != 4 {
		t.Fatalf("finished: %+v, %v", done, err)
	}
	if v := done.Summary.Variants; v[1].Score.Est != 1 || v[0].Score.Est != 0.5 {
		t.Errorf("scores %v and %v, want 0.5 and 1", v[0].Score, v[1].Score)
	}
}
