package experiment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/experiment"
	"github.com/lumina-workbench/lumina/experiment/plots"
	"github.com/lumina-workbench/lumina/internal/treestate"
	"github.com/lumina-workbench/lumina/sweep"
	"github.com/lumina-workbench/lumina/train"
)

// fake is a deterministic one-parameter model: it moves w toward the batch's mean value at the step's
// lr, and its loss is how far w was. Its checkpoint is w, so a resumed run continues exactly.
type fake struct{ w float64 }

func (f *fake) BeginStage(train.StageInfo) error { return nil }

func (f *fake) Step(ctx context.Context, b *train.Batch) (train.StepResult, error) {
	if err := ctx.Err(); err != nil {
		return train.StepResult{}, err
	}
	var m float64
	for _, v := range b.Images {
		m += float64(v) / float64(len(b.Images))
	}
	for _, c := range b.Captions {
		m += float64(len(c)) / 1000
	}
	loss := (f.w - m) * (f.w - m)
	f.w += 50 * b.LR * (m - f.w)
	return train.StepResult{Loss: loss, GradNorm: 1}, nil
}

func (f *fake) SaveCheckpoint(w io.Writer, meta map[string]string) error {
	return json.NewEncoder(w).Encode(map[string]any{"w": f.w, "meta": meta})
}

func (f *fake) LoadCheckpoint(r io.Reader) (map[string]string, error) {
	var v struct {
		W    float64
		Meta map[string]string
	}
	err := json.NewDecoder(r).Decode(&v)
	f.w = v.W
	return v.Meta, err
}

func (f *fake) Sample(_ context.Context, prompts []string, w, h int, _ uint64) ([]image.Image, error) {
	out := make([]image.Image, len(prompts))
	for i := range out {
		out[i] = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	return out, nil
}

const testFile = `name: t
base: tiny-cpu
common:
  data: {items: 200}
  samples: {prompts: []}
  eval: {suite: quick}
  checkpoints: {keep_last: 1}
  stages:
    - {name: low-res, checkpoint_every: 2}
    - {name: high-res, skip: true}
    - {name: hq-tune, skip: true}
steps:
  text-encoder: 3
  low-res: 6
seeds: [1, 2]
variants:
  fast:
    stages: [{name: low-res, lr: 0.002}]
  slow:
    stages: [{name: low-res, lr: 0.0005}]
`

func parse(t *testing.T) *experiment.Experiment {
	t.Helper()
	e, err := experiment.Parse([]byte(testFile), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func options(e *experiment.Experiment, dir string) experiment.Options {
	return experiment.Options{Exp: e, Dir: dir, NewModel: func(*train.Preset) (train.Model, error) { return &fake{}, nil },
		Report: plots.Writer(plots.Options{LogSteps: true})}
}

func run(t *testing.T, o experiment.Options) *experiment.Stats {
	t.Helper()
	st, err := experiment.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// untimed is a folder's summary files without their measured times.
func untimed(t *testing.T, dir string) string {
	t.Helper()
	var out string
	for _, name := range []string{experiment.SummaryMD, experiment.SummaryCSV} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		u, err := experiment.Untimed(name, b)
		if err != nil {
			t.Fatal(err)
		}
		out += u
	}
	return out
}

// curves are the runs' loss curves, bit for bit.
func curves(t *testing.T, dir string, e *experiment.Experiment) map[string][]float64 {
	t.Helper()
	out := map[string][]float64{}
	for _, r := range e.Runs() {
		recs, err := train.ReadMetrics(filepath.Join(dir, r.Folder(), train.MetricsFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range recs {
			out[r.Folder()] = append(out[r.Folder()], m.Loss)
		}
	}
	return out
}

// A whole run writes every file; a second run of the same file and seeds trains the same curves and
// summarises to the same bytes (timing aside).
func TestRunWritesEverythingAndIsDeterministic(t *testing.T) {
	e := parse(t)
	dir := t.TempDir()
	st := run(t, options(e, dir))
	if st.Runs != 4 || st.Summary == nil {
		t.Fatalf("stats %+v", st)
	}
	for _, f := range []string{experiment.SourceFile, "runs.jsonl", "progress.jsonl", experiment.SummaryMD, experiment.SummaryCSV, plots.LossFile, plots.EvalFile,
		"runs/fast-seed1/metrics.jsonl", "runs/slow-seed2/eval/s1-quick.json", "runs/fast-seed2/checkpoints/s1-final.safetensors"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, experiment.SummaryMD))
	for _, want := range []string{"# Experiment t", "| 1 | slow | 6 | stages[low-res].lr: 0.001 → 0.0005 |", "| 0 | fast |", "reference", "## Timing", "## Score at each evaluation"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	prog, _ := os.ReadFile(filepath.Join(dir, "progress.jsonl"))
	if n := strings.Count(string(prog), `"kind":"run_done"`); n != 4 {
		t.Errorf("progress.jsonl has %d run_done lines, want 4:\n%s", n, prog)
	}
	if c := curves(t, dir, e); slices.Equal(c["runs/fast-seed1"], c["runs/slow-seed1"]) || slices.Equal(c["runs/fast-seed1"], c["runs/fast-seed2"]) {
		t.Error("variants or seeds trained the same curve")
	}
	again := t.TempDir()
	run(t, options(e, again))
	a, b := curves(t, dir, e), curves(t, again, e)
	for k := range a {
		if !slices.Equal(a[k], b[k]) {
			t.Errorf("%s: the same file and seeds trained another curve", k)
		}
	}
	if untimed(t, dir) != untimed(t, again) {
		t.Error("two runs of the same experiment summarise differently")
	}
}

// An experiment cancelled mid-run leaves a checkpoint; --resume finishes it with the summary of an
// uninterrupted run.
func TestResumeAfterInterruption(t *testing.T) {
	e := parse(t)
	ref := t.TempDir()
	run(t, options(e, ref))
	for _, stopAt := range []int{4, 13} {
		t.Run(fmt.Sprint(stopAt), func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			o := options(e, dir)
			steps := 0
			o.OnEvent = func(ev experiment.Event) {
				if _, ok := ev.(experiment.Step); ok {
					if steps++; steps == stopAt {
						cancel()
					}
				}
			}
			_, err := experiment.Run(ctx, o)
			if !errors.Is(err, experiment.ErrInterrupted) {
				t.Fatalf("cancelled run: %v", err)
			}
			if _, err := experiment.Run(context.Background(), options(e, dir)); err == nil || !strings.Contains(err.Error(), "pass --resume") {
				t.Fatalf("a second run without --resume: %v", err)
			}
			o = options(e, dir)
			o.Resume = true
			run(t, o)
			if untimed(t, dir) != untimed(t, ref) {
				t.Error("the resumed experiment summarises differently from the uninterrupted one")
			}
			a, b := curves(t, dir, e), curves(t, ref, e)
			for k := range a {
				if !slices.Equal(a[k], b[k]) {
					t.Errorf("%s: resumed curve differs", k)
				}
			}
		})
	}
}

// Shards partition the runs, each trained once, and collect gives the whole run's summary.
func TestShardsAndCollect(t *testing.T) {
	e := parse(t)
	ref := t.TempDir()
	run(t, options(e, ref))
	dir := t.TempDir()
	const n = 3
	seen := map[string]int{}
	for i := range n {
		for _, r := range e.Shard(sweep.Shard{Index: i, Count: n}) {
			seen[r.Folder()]++
		}
		o := options(e, dir)
		o.Shard = sweep.Shard{Index: i, Count: n}
		if st := run(t, o); st.Summary != nil {
			t.Error("a shard wrote the summary")
		}
		if i < n-1 {
			if _, err := experiment.Collect(dir, nil); err == nil || !strings.Contains(err.Error(), "have not finished") {
				t.Errorf("collect before every shard finished: %v", err)
			}
		}
	}
	for _, r := range e.Runs() {
		if seen[r.Folder()] != 1 {
			t.Errorf("%s is in %d shards", r.Folder(), seen[r.Folder()])
		}
	}
	if _, err := experiment.Collect(dir, plots.Writer(plots.Options{})); err != nil {
		t.Fatal(err)
	}
	if untimed(t, dir) != untimed(t, ref) {
		t.Error("the collected shards summarise differently from the whole run")
	}
	o := options(e, dir)
	o.Resume = true
	if _, err := experiment.Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "holds the results of shards") {
		t.Errorf("a whole run over shards: %v", err)
	}
}

// Refusals come before anything is written.
func TestRefusalsWriteNothing(t *testing.T) {
	e := parse(t)
	done := t.TempDir()
	run(t, options(e, done))
	other, _ := experiment.Parse([]byte(strings.Replace(testFile, "lr: 0.0005", "lr: 0.0004", 1)), "o.yaml")
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	for _, c := range []struct {
		name string
		o    experiment.Options
		want string
	}{
		{"no resume", options(e, done), "pass --resume"},
		{"another experiment", func() experiment.Options { o := options(other, done); o.Resume = true; return o }(), "was started with another experiment file"},
		{"not a folder", options(e, file), "is not a folder"},
		{"model check", func() experiment.Options {
			o := options(e, filepath.Join(t.TempDir(), "new"))
			o.CheckModel = func(*train.Preset) error { return errors.New("too big") }
			return o
		}(), "t.yaml line 17: variant fast: too big"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, _ := treestate.Of(c.o.Dir)
			_, err := experiment.Run(context.Background(), c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			after, _ := treestate.Of(c.o.Dir)
			for _, d := range treestate.Diff(before, after) {
				t.Errorf("refused, yet: %s", d)
			}
		})
	}
}

func TestSlurmScript(t *testing.T) {
	e := parse(t)
	s := experiment.SlurmScript(e, experiment.Slurm{Dir: "/shared/exp t", Exe: "/opt/lumina", Workdir: "/home/me", Shards: 3})
	for _, want := range []string{
		"# Experiment t: 2 variants × 2 seeds = 4 runs, in 3 array tasks.\n",
		"#SBATCH --job-name=experiment-t\n",
		"#SBATCH --array=0-2\n",
		"cd /home/me\n",
		`exec /opt/lumina experiment '/shared/exp t/experiment.yaml' --out '/shared/exp t' --shard "${SLURM_ARRAY_TASK_ID}/3" --resume` + "\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}
