package ablation

import (
	"os"
	"path/filepath"
	"testing"
)

// While a sweep runs, the summary covers the prompts (then the seeds) every cell has finished, with the
// intervals of that smaller grid; a finished sweep's is Summarize's.
func TestSummarizeSoFar(t *testing.T) {
	g := sweepGrid(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	if _, err := runSweep(t, Options{Grid: g, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	rs, _, err := readResults(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	cells, P := len(g.Cells()), len(g.Prompts)
	for _, c := range []struct {
		made, want, prompts, seeds int
	}{
		{0, 0, 0, 0},
		{cells - 1, 0, 0, 0}, // the first prompt lacks a cell
		{cells, cells, 1, 1}, // one prompt, seed 0
		{2*cells + 1, 2 * cells, 2, 1},
		{P*cells + 1, P * cells, P, 1}, // seed 0 done; seed 1 just begun
		{len(rs), len(rs), P, 2},
	} {
		s, n, err := SummarizeSoFar(g, rs[:c.made])
		if err != nil {
			t.Fatalf("%d images: %v", c.made, err)
		}
		if n != c.want || (s == nil) != (c.want == 0) {
			t.Fatalf("%d images: summary of %d (nil %v), want %d", c.made, n, s == nil, c.want)
		}
		if s != nil && (len(s.Grid.Prompts) != c.prompts || s.Grid.Seeds != c.seeds || len(s.Cells) != cells) {
			t.Errorf("%d images: %d prompts × %d seeds, %d cells", c.made, len(s.Grid.Prompts), s.Grid.Seeds, len(s.Cells))
		}
	}
	full, _ := Summarize(g, rs)
	so, _, _ := SummarizeSoFar(g, rs)
	if so.Cells[1].Score != full.Cells[1].Score {
		t.Errorf("a finished sweep: %v, Summarize says %v", so.Cells[1].Score, full.Cells[1].Score)
	}
	if len(g.Prompts) != P || g.Seeds != 2 {
		t.Error("SummarizeSoFar changed the grid")
	}
}

func TestListSweeps(t *testing.T) {
	root := t.TempDir()
	if l, err := ListSweeps(filepath.Join(root, "missing")); err != nil || l != nil {
		t.Fatalf("a missing root: %v %v", l, err)
	}
	g := sweepGrid(t)
	if _, err := runSweep(t, Options{Grid: g, Dir: filepath.Join(root, "b-done")}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "not-a-sweep"), 0o755)
	os.MkdirAll(filepath.Join(root, "a-broken"), 0o755)
	os.WriteFile(filepath.Join(root, "a-broken", GridFile), []byte("method: random\n"), 0o644)
	l, err := ListSweeps(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 2 || l[0].Name != "a-broken" || l[0].Err == nil || l[1].Name != "b-done" {
		t.Fatalf("listed %+v", l)
	}
	if d := l[1]; d.Err != nil || d.Images != g.Images() || d.Done != g.Images() || !d.Summarized {
		t.Errorf("finished sweep listed as %+v", d)
	}
}
