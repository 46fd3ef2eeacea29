package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/experiment"
	"github.com/lumina-workbench/lumina/experiment/plots"
	"github.com/lumina-workbench/lumina/infer"
)

// tinyExperiment is 2 variants × 2 seeds of the real networks, a few steps each: the text encoder and
// one 16 px stage.
func tinyExperiment(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.yaml")
	src := `name: tiny
base: tiny-cpu
common:
  data: {items: 200}
  samples: {prompts: []}
  eval: {suite: quick}
  checkpoints: {keep_last: 1}
  stages:
    - {name: text-encoder, batch: 4}
    - {name: low-res, batch: 4}
    - {name: high-res, skip: true}
    - {name: hq-tune, skip: true}
steps: {text-encoder: 2, low-res: 3}
seeds: [1, 2]
baseline: base
variants:
  tags:
    captions: {mix: {detailed: 0, medium: 0, short: 0, tag: 1, brief: 0}}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The command trains every run of a tiny experiment with the real networks and writes every file.
func TestExperimentCommandEndToEnd(t *testing.T) {
	// Evaluations sample in 2 steps without guidance: the test is of the experiment, not of the sampler.
	o := infer.DefaultSampleOptions()
	o.Steps, o.CFG = 2, 1
	experimentSampler = samplerWith(o)
	t.Cleanup(func() { experimentSampler = sampleBundle })
	file := tinyExperiment(t)
	out := filepath.Join(t.TempDir(), "exp")
	msg, err := luminaRun(t, "experiment", file, "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "tags") || !strings.Contains(msg, "summary: ") {
		t.Errorf("output:\n%s", msg)
	}
	for _, f := range []string{experiment.SourceFile, "runs.jsonl", "progress.jsonl", experiment.SummaryMD, experiment.SummaryCSV, plots.LossFile, plots.EvalFile,
		"runs/base-seed1/final.safetensors", "runs/tags-seed2/eval/s1-quick.json"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, experiment.SummaryMD))
	if !strings.Contains(string(md), "| 1 | tags | 3 | captions.mix.") {
		t.Errorf("summary.md:\n%s", md)
	}
	// Resuming a finished experiment trains nothing and writes the same summary.
	if _, err := luminaRun(t, "experiment", file, "--out", out, "--resume"); err != nil {
		t.Fatal(err)
	}
	md2, _ := os.ReadFile(filepath.Join(out, experiment.SummaryMD))
	a, _ := experiment.Untimed(experiment.SummaryMD, md)
	b, _ := experiment.Untimed(experiment.SummaryMD, md2)
	if a != b {
		t.Error("a resume of a finished experiment changed its summary")
	}
}

func TestExperimentFlagsAndExport(t *testing.T) {
	file := tinyExperiment(t)
	out := filepath.Join(t.TempDir(), "exp")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"experiment", file}, "give --out DIR"},
		{[]string{"experiment", "no-such", "--out", out}, "no such file, nor a shipped experiment"},
		{[]string{"experiment", file, "--out", out, "--shard", "4/4"}, "0 ≤ I < N"},
		{[]string{"experiment", file, "--out", out, "--shards", "2"}, "--shards goes with --export slurm"},
		{[]string{"experiment", file, "--out", out, "--export", "pbs"}, "the only export is slurm"},
		{[]string{"experiment", file, "--out", out, "--export", "slurm", "--shards", "5"}, "--shards 5: want 1..4"},
		{[]string{"experiment", file, "--out", out, "--export", "slurm", "--resume"}, "takes neither --shard nor --resume"},
	} {
		if _, err := luminaRun(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused command made %s", out)
	}
	if _, err := luminaRun(t, "experiment", file, "--out", out, "--export", "slurm", "--shards", "3"); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(out, experiment.SlurmFile))
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(out)
	for _, want := range []string{"#SBATCH --array=0-2\n", " experiment " + filepath.Join(abs, experiment.SourceFile) + " --out " + abs + ` --shard "${SLURM_ARRAY_TASK_ID}/3" --resume`} {
		if !strings.Contains(string(script), want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if src, _ := os.ReadFile(filepath.Join(out, experiment.SourceFile)); string(src) != mustRead(t, file) {
		t.Error("the exported folder's experiment.yaml is not the file given")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// experiment view refuses a folder that is not an experiment's before opening the TUI.
func TestExperimentViewRefusesOtherFolders(t *testing.T) {
	msg, err := luminaRun(t, "experiment", "view", t.TempDir())
	if err == nil || !strings.Contains(err.Error()+msg, "is not an experiment folder (it has no experiment.yaml)") {
		t.Errorf("got %v: %s", err, msg)
	}
}
