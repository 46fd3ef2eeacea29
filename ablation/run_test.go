package ablation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/internal/folderlock"
	"github.com/lumina-workbench/lumina/internal/treestate"
)

// sweepGrid is a small grid over a fake checkpoint: 4 cells (TeaCache among them) × 3 prompts × 2 seeds.
func sweepGrid(t *testing.T) *Grid {
	t.Helper()
	dir := t.TempDir()
	ck := filepath.Join(dir, "fake.safetensors")
	os.WriteFile(ck, []byte("x"), 0o644)
	src := fmt.Sprintf(`method: grid
parameters:
  ckpt: {value: %s}
  res: {value: 16}
  steps: {values: [4, 6]}
  teacache: {values: [0, 0.5]}
prompts: [a red circle, two blue squares, a green triangle above a yellow square]
seeds: 2
reference: {steps: 6, teacache: 0}
`, ck)
	g, err := ParseGrid([]byte(src), filepath.Join(dir, "grid.yaml"), testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func runSweep(t *testing.T, o Options) (*Stats, error) {
	t.Helper()
	if o.Loader == nil {
		o.Loader = &fakeLoader{}
	}
	return Run(context.Background(), o)
}

// comparable is a results file's lines without the wall times, keyed and sorted.
func comparable(t *testing.T, dir string, shard Shard) []string {
	t.Helper()
	rs, good, err := readResults(filepath.Join(dir, resultsName(shard)))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, resultsName(shard))); fi.Size() != good {
		t.Errorf("%s ends in a torn line", resultsName(shard))
	}
	var out []string
	seen := map[Key]bool{}
	for _, r := range rs {
		if seen[r.Key()] {
			t.Errorf("image %v recorded twice", r.Key())
		}
		seen[r.Key()] = true
		r.WallMs = 0
		b, _ := json.Marshal(r)
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

func TestRunWritesEverything(t *testing.T) {
	g := sweepGrid(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	l := &fakeLoader{}
	var events []Event
	st, err := runSweep(t, Options{Grid: g, Dir: dir, Loader: l, OnEvent: func(e Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Images != g.Images() || st.Summary == nil || l.loads.Load() != 1 || l.closed.Load() != 1 {
		t.Fatalf("stats %+v, %d loads, %d closes; want %d images, a summary, one checkpoint opened and closed", st, l.loads.Load(), l.closed.Load(), g.Images())
	}
	if s, ok := events[0].(Started); !ok || s.Pending != g.Images() || s.Done != 0 {
		t.Errorf("first event %+v", events[0])
	}
	if d, ok := events[len(events)-1].(ImageDone); !ok || d.Done != g.Images() || d.Pending != g.Images() {
		t.Errorf("last event %+v", events[len(events)-1])
	}
	lines := comparable(t, dir, Shard{})
	if len(lines) != g.Images() {
		t.Fatalf("%d result lines, want %d", len(lines), g.Images())
	}
	rs, _, _ := readResults(filepath.Join(dir, ResultsFile))
	// Pair after pair, every cell, the reference's image first; it compares identical with itself.
	ref := g.Cells()[g.Reference].ID
	cells := len(g.Cells())
	for i, r := range rs {
		first := rs[i-i%cells]
		if (i%cells == 0) != (r.Cell == ref) || r.PromptID != first.PromptID || r.Seed != first.Seed {
			t.Fatalf("line %d is %s/%s seed %d: want the cells of one prompt and seed together, the reference first", i, r.Cell, r.PromptID, r.Seed)
		}
		if r.Cell == ref && (r.MSE != 0 || r.PSNR != nil) {
			t.Errorf("a reference image compared with itself: MSE %v", r.MSE)
		}
		if r.Cell != ref && (r.MSE <= 0 || r.PSNR == nil) {
			t.Errorf("%v: MSE %v to the reference, want > 0", r.Key(), r.MSE)
		}
		if r.Cell == "steps-6_teacache-0.5" && r.Skips == 0 {
			t.Errorf("%v: TeaCache 0.5 skipped nothing", r.Key())
		}
		png := filepath.Join(dir, r.Image)
		if _, err := os.Stat(png); err != nil {
			t.Error(err)
		}
		b, err := os.ReadFile(strings.TrimSuffix(png, ".png") + ".json")
		if err != nil || !bytes.Contains(b, []byte(`"cell": "`+r.Cell+`"`)) || !bytes.Contains(b, []byte(`"facts"`)) {
			t.Errorf("sidecar of %s: %v\n%s", png, err, b)
		}
	}
	for _, f := range []string{GridFile, SummaryMD, SummaryCSV} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock outlived the run: %v", err)
	}
	// Run again with --resume: nothing to do, nothing changes but the summary's timestamps.
	before := comparable(t, dir, Shard{})
	if st, err := runSweep(t, Options{Grid: g, Dir: dir, Resume: true}); err != nil || st.Images != 0 {
		t.Fatalf("resume of a finished sweep: %+v %v", st, err)
	}
	if !slices.Equal(before, comparable(t, dir, Shard{})) {
		t.Error("resuming a finished sweep changed its results")
	}
}

// A sweep killed at each write of an image (after the image, after the sidecar, half-way through its
// line, after its line) resumes to exactly the results of an uninterrupted run: no image lost, none
// recorded twice, no torn line, the same pixels.
func TestResumeAfterCrashAtEveryWritePoint(t *testing.T) {
	g := sweepGrid(t)
	clean := filepath.Join(t.TempDir(), "clean")
	if _, err := runSweep(t, Options{Grid: g, Dir: clean}); err != nil {
		t.Fatal(err)
	}
	want := comparable(t, clean, Shard{})
	for _, point := range []string{"image", "sidecar", "half-line", "line"} {
		for _, at := range []int{0, 7, g.Images() - 1} { // the first reference image, a later one, the last
			t.Run(fmt.Sprintf("%s-%d", point, at), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "sweep")
				n := 0
				crash := func(p string, _ Key) bool {
					if p != point {
						return false
					}
					n++
					return n == at+1
				}
				_, err := runSweep(t, Options{Grid: g, Dir: dir, crashAt: crash})
				if !errors.Is(err, errCrash) {
					t.Fatalf("the crashed run: %v", err)
				}
				rs, good, _ := readResults(filepath.Join(dir, ResultsFile))
				fi, _ := os.Stat(filepath.Join(dir, ResultsFile))
				wantLines := at
				if point == "line" {
					wantLines = at + 1
				}
				if len(rs) != wantLines || (point == "half-line") != (fi.Size() > good) {
					t.Fatalf("after the crash: %d complete lines (want %d), torn tail %v", len(rs), wantLines, fi.Size() > good)
				}
				if _, err := runSweep(t, Options{Grid: g, Dir: dir}); err == nil || !strings.Contains(err.Error(), "pass --resume") {
					t.Fatalf("a run without --resume on the crashed folder: %v", err)
				}
				var started Started
				st, err := runSweep(t, Options{Grid: g, Dir: dir, Resume: true, OnEvent: func(e Event) {
					if s, ok := e.(Started); ok {
						started = s
					}
				}})
				if err != nil {
					t.Fatal(err)
				}
				if st.Images != g.Images()-wantLines || started.DroppedTornLine != (point == "half-line") {
					t.Errorf("resume made %d images (want %d), reported a torn line %v", st.Images, g.Images()-wantLines, started.DroppedTornLine)
				}
				if got := comparable(t, dir, Shard{}); !slices.Equal(got, want) {
					t.Fatalf("resumed results differ from an uninterrupted run's:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				for _, r := range want {
					var res Result
					json.Unmarshal([]byte(r), &res)
					a, _ := os.ReadFile(filepath.Join(dir, res.Image))
					b, _ := os.ReadFile(filepath.Join(clean, res.Image))
					if !bytes.Equal(a, b) {
						t.Fatalf("%s differs from the uninterrupted run's", res.Image)
					}
				}
			})
		}
	}
}

// Shards of every count split the grid's images with no overlap and nothing left out; a pair's images
// (every cell of one prompt and seed) stay in one shard.
func TestShardsPartitionTheGrid(t *testing.T) {
	g := sweepGrid(t)
	all := map[Key]bool{}
	for _, j := range g.jobs(Shard{}) {
		all[j.key()] = true
	}
	if len(all) != g.Images() {
		t.Fatalf("%d distinct images, want %d", len(all), g.Images())
	}
	for n := 1; n <= g.MaxShardsFor(); n++ {
		seen := map[Key]int{}
		for i := range n {
			pairs := map[[2]string]bool{}
			for _, j := range g.jobs(Shard{Index: i, Count: n}) {
				if prev, dup := seen[j.key()]; dup {
					t.Fatalf("%d shards: %v in shards %d and %d", n, j.key(), prev, i)
				}
				seen[j.key()] = i
				pairs[[2]string{j.prompt.ID, fmt.Sprint(j.seed)}] = true
			}
			for p := range pairs {
				for _, c := range g.Cells() {
					if seen[Key{c.ID, p[0], atoi(p[1])}] != i {
						t.Fatalf("%d shards: pair %v split across shards", n, p)
					}
				}
			}
		}
		if len(seen) != len(all) {
			t.Fatalf("%d shards cover %d of %d images", n, len(seen), len(all))
		}
	}
}

func atoi(s string) int {
	var i int
	fmt.Sscan(s, &i)
	return i
}

// Shards run into one folder and collected give the summary of one whole run, byte for byte apart
// from the measured speed.
func TestShardsCollectToTheWholeRun(t *testing.T) {
	g := sweepGrid(t)
	whole := filepath.Join(t.TempDir(), "whole")
	if _, err := runSweep(t, Options{Grid: g, Dir: whole}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "shards")
	for i := range 3 {
		st, err := runSweep(t, Options{Grid: g, Dir: dir, Shard: Shard{Index: i, Count: 3}, Resume: i == 2})
		if err != nil || st.Summary != nil {
			t.Fatalf("shard %d: %+v %v (a shard writes no summary)", i, st, err)
		}
		if i == 1 {
			if _, err := Collect(dir, nil); err == nil || !strings.Contains(err.Error(), "are not made yet") {
				t.Fatalf("collect with a shard missing: %v", err)
			}
		}
	}
	if _, err := Collect(dir, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{SummaryMD, SummaryCSV} {
		a, _ := os.ReadFile(filepath.Join(whole, name))
		b, _ := os.ReadFile(filepath.Join(dir, name))
		ua, err1 := Untimed(name, a)
		ub, err2 := Untimed(name, b)
		if err1 != nil || err2 != nil || ua != ub {
			t.Errorf("%s of the shards differs from the whole run's (%v, %v):\n%s\n%s", name, err1, err2, ua, ub)
		}
	}
}

// Refusals come before anything is written: a folder held by another sweep, results without --resume,
// another grid's folder, shards and a whole run mixed, a checkpoint the loader rejects.
func TestRefusalsWriteNothing(t *testing.T) {
	g := sweepGrid(t)
	done := filepath.Join(t.TempDir(), "done")
	if _, err := runSweep(t, Options{Grid: g, Dir: done}); err != nil {
		t.Fatal(err)
	}
	sharded := filepath.Join(t.TempDir(), "sharded")
	if _, err := runSweep(t, Options{Grid: g, Dir: sharded, Shard: Shard{Index: 0, Count: 2}}); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(t.TempDir(), "held")
	os.MkdirAll(held, 0o755)
	lock, _, err := folderlock.Acquire(held, lockSpec(Shard{}))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	other, err := g.With(map[string][]string{KeySteps: {"6", "8"}, KeyTeaCache: {"0"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"held", Options{Grid: g, Dir: held}, "is being written by PID"},
		{"held, shard", Options{Grid: g, Dir: held, Shard: Shard{Index: 1, Count: 2}}, "is being written by PID"},
		{"results without resume", Options{Grid: g, Dir: done}, "pass --resume"},
		{"another grid", Options{Grid: other, Dir: done, Resume: true}, "was started with another grid"},
		{"whole run on shards", Options{Grid: g, Dir: sharded, Resume: true}, "holds the results of shards"},
		{"shards on a whole run", Options{Grid: g, Dir: done, Shard: Shard{Index: 0, Count: 2}, Resume: true}, "holds a whole run's"},
		{"another shard count", Options{Grid: g, Dir: sharded, Shard: Shard{Index: 0, Count: 3}, Resume: true}, "holds shards of 2"},
		{"loader refuses", Options{Grid: g, Dir: filepath.Join(t.TempDir(), "new"), Loader: &fakeLoader{checkErr: errors.New("has no TeaCache polynomial")}}, "grid.yaml line 3: ckpt "},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, _ := treestate.Of(c.o.Dir)
			_, err := runSweep(t, c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a refusal mentioning %q", err, c.want)
			}
			if c.name == "held" && !errors.Is(err, ErrFolderInUse) {
				t.Errorf("%v does not wrap ErrFolderInUse", err)
			}
			after, _ := treestate.Of(c.o.Dir)
			for _, d := range treestate.Diff(before, after) {
				t.Errorf("refused, yet: %s", d)
			}
		})
	}
}

func TestSlurmScript(t *testing.T) {
	g := sweepGrid(t)
	s := SlurmScript(g, Slurm{Dir: "/shared/it's here", Exe: "/opt/lumina", Workdir: "/home/me", Shards: 5})
	for _, want := range []string{
		"#SBATCH --array=0-4\n",
		"#SBATCH --output=/shared/it's here/slurm-%A_%a.out\n",
		"cd /home/me\n",
		`exec /opt/lumina ablate --grid '/shared/it'\''s here/grid.yaml' --out '/shared/it'\''s here' --shard "${SLURM_ARRAY_TASK_ID}/5" --resume` + "\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}
