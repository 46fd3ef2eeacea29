package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/ablation/plots"
	"github.com/lumina-workbench/lumina/internal/atomicfile"
	"github.com/lumina-workbench/lumina/model/ckpt/ckpttest"
	"github.com/lumina-workbench/lumina/sweep"
)

// ablateChildEnv marks this test binary, started by the job array's script through a wrapper, as
// `lumina` itself: TestAblateHelperProcess runs the arguments after "--".
const ablateChildEnv = "LUMINA_TEST_ABLATE_CHILD"

func TestAblateHelperProcess(t *testing.T) {
	if os.Getenv(ablateChildEnv) != "1" {
		t.Skip("the lumina command of the job-array test")
	}
	rootCmd.SetArgs(flag.Args())
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "lumina:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// testGridFile writes a small grid over the random test checkpoint: 4 cells × 3 prompts × 2 seeds at
// 16 px.
func testGridFile(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "grid.yaml")
	src := fmt.Sprintf(`method: grid
parameters:
  ckpt: {value: %s}
  res: {value: 16}
  steps: {values: [3, 5]}
  renorm: {values: [0, 1]}
prompts: [a red circle, two blue squares, a green triangle]
seeds: 2
reference: {steps: 5, renorm: 0}
`, ckpttest.Save(t))
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The Slurm export's job array, its tasks run here with SLURM_ARRAY_TASK_ID set as Slurm would, then
// collected, gives the summary of a single-machine run, byte for byte apart from the measured speed.
func TestSlurmArrayMatchesSingleRun(t *testing.T) {
	grid := testGridFile(t)
	root := t.TempDir()
	single, array := filepath.Join(root, "single"), filepath.Join(root, "array")
	out, err := luminaRun(t, "ablate", "--grid", grid, "--out", single)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "steps-5_renorm-0 (ref)") || !strings.Contains(out, "sampling") {
		t.Errorf("ablate printed:\n%s", out)
	}

	// The array's tasks run this test binary as lumina, through a wrapper that says so.
	wrapper := filepath.Join(root, "lumina")
	script := fmt.Sprintf("#!/bin/sh\n%s=1 exec %q -test.run='^TestAblateHelperProcess$' -- \"$@\"\n", ablateChildEnv, os.Args[0])
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	luminaExecutable = func() (string, error) { return wrapper, nil }
	defer func() { luminaExecutable = os.Executable }()
	if out, err := luminaRun(t, "ablate", "--grid", grid, "--out", array, "--export", "slurm", "--shards", "3"); err != nil || !strings.Contains(out, "sbatch") {
		t.Fatalf("export: %v\n%s", err, out)
	}
	sbatch, err := os.ReadFile(filepath.Join(array, ablation.SlurmFile))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^#SBATCH --array=0-2$`).Match(sbatch) ||
		!strings.Contains(string(sbatch), fmt.Sprintf("exec %s ablate --grid %s --out %s --shard \"${SLURM_ARRAY_TASK_ID}/3\" --resume",
			sweep.ShellWord(wrapper), sweep.ShellWord(filepath.Join(array, ablation.GridFile)), sweep.ShellWord(array))) {
		t.Fatalf("sweep.sbatch:\n%s", sbatch)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	outs := make([][]byte, 3)
	for k := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("bash", filepath.Join(array, ablation.SlurmFile))
			cmd.Env = append(os.Environ(), fmt.Sprintf("SLURM_ARRAY_TASK_ID=%d", k))
			outs[k], errs[k] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for k := range 3 {
		if errs[k] != nil || !strings.Contains(string(outs[k]), "shard done") {
			t.Fatalf("array task %d: %v\n%s", k, errs[k], outs[k])
		}
		if _, err := os.Stat(filepath.Join(array, fmt.Sprintf("results.shard-%d-of-3.jsonl", k))); err != nil {
			t.Errorf("task %d: %v", k, err)
		}
	}
	if _, err := luminaRun(t, "ablate", "collect", array); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ablation.SummaryMD, ablation.SummaryCSV} {
		a, err := os.ReadFile(filepath.Join(single, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(array, name))
		if err != nil {
			t.Fatal(err)
		}
		ua, err1 := ablation.Untimed(name, a)
		ub, err2 := ablation.Untimed(name, b)
		if err1 != nil || err2 != nil || ua != ub {
			t.Errorf("%s of the array differs from the single run's (%v, %v):\n%s\n---\n%s", name, err1, err2, ua, ub)
		}
	}
	for _, f := range []string{plots.ParetoFile, plots.AxisFile("steps"), plots.AxisFile("renorm"), plots.SheetFile("steps-3_renorm-1")} {
		if _, err := os.Stat(filepath.Join(array, f)); err != nil {
			t.Error(err)
		}
	}
}

// Bad flags are refused before anything is read or written.
func TestAblateFlagRefusals(t *testing.T) {
	grid := testGridFile(t)
	out := filepath.Join(t.TempDir(), "sweep")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ablate", "--out", out}, "give --grid FILE"},
		{[]string{"ablate", "--grid", "no-such-grid", "--out", out}, "no such file, nor a shipped grid"},
		{[]string{"ablate", "--grid", grid, "--out", out, "--shard", "3/3"}, "0 ≤ I < N"},
		{[]string{"ablate", "--grid", grid, "--out", out, "--shards", "2"}, "--shards goes with --export slurm"},
		{[]string{"ablate", "--grid", grid, "--out", out, "--export", "pbs"}, "the only export is slurm"},
		{[]string{"ablate", "--grid", grid, "--out", out, "--export", "slurm", "--shards", "7"}, "--shards 7: want 1..6"},
		{[]string{"ablate", "--grid", grid, "--out", out, "--export", "slurm", "--resume"}, "takes neither --shard nor --resume"},
		{[]string{"ablate", "view", out}, "is not a sweep folder (it has no grid.yaml)"},
	} {
		if _, err := luminaRun(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused command made %s", out)
	}
}

// bench sample is the shipped bench grid: on a checkpoint without a TeaCache polynomial, Renorm × Trunc,
// four cells against plain CFG.
func TestBenchSampleRunsTheBenchGrid(t *testing.T) {
	ck := ckpttest.Save(t)
	keep := filepath.Join(t.TempDir(), "bench")
	out, errOut, err := luminaRunStderr(t, "bench", "sample", "--ckpt", ck, "--res", "16", "--steps", "4", "--suite", "quick", "--out", keep)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "no fitted TeaCache polynomial") || !regexp.MustCompile(`ablate 72/72 images in `).MatchString(errOut) {
		t.Errorf("no note about TeaCache, or no progress, on stderr:\n%s", errOut)
	}
	for _, want := range []string{"renorm-0_trunc-1 (ref)", "renorm-1_trunc-0.25", "Euler 4"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench sample printed no %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 1+1+4 {
		t.Errorf("%d lines, want a header line, the table's head and 4 cells:\n%s", n, out)
	}
	if _, err := os.Stat(filepath.Join(keep, ablation.SummaryMD)); err != nil {
		t.Error(err)
	}
	if _, err := luminaRun(t, "bench", "sample", "--ckpt", ck, "--renorm", "0"); err == nil || !strings.Contains(err.Error(), "--renorm is swept or fixed by the bench grid") {
		t.Errorf("bench sample --renorm: %v", err)
	}
}

// A sweep killed with SIGKILL at random moments, each time followed by --resume, ends with the results
// of an uninterrupted run: every image once, no torn line, no temporary file left.
func TestKilledSweepResumes(t *testing.T) {
	kills := 6
	if testing.Short() {
		kills = 2
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	grid := testGridFile(t)
	ref := filepath.Join(t.TempDir(), "ref")
	if _, err := luminaRun(t, "ablate", "--grid", grid, "--out", ref); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "killed")
	killed := 0
	for i := 0; ; i++ {
		c := startChild(t, nil, "ablate", "--grid", grid, "--out", dir, "--resume")
		if killed == kills {
			if err := c.wait(t, 2*time.Minute); err != nil {
				t.Fatalf("the last resume: %v\n%s", err, c.out)
			}
			break
		}
		select {
		case <-c.done:
			// Finished before the kill: start again from scratch for the kills still to make.
			os.RemoveAll(dir)
		case <-time.After(time.Duration(50+rng.IntN(700)) * time.Millisecond):
			c.kill()
			killed++
			b, _ := os.ReadFile(filepath.Join(dir, ablation.ResultsFile))
			t.Logf("kill %d: %d images recorded", killed, strings.Count(string(b), "\n"))
		}
	}
	results := func(d string) []string {
		b, err := os.ReadFile(filepath.Join(d, ablation.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s ends in a cut line", d)
		}
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var r ablation.Result
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("%s: %v: %q", d, err, l)
			}
			r.WallMs = 0
			j, _ := json.Marshal(r)
			out = append(out, string(j))
		}
		slices.Sort(out)
		return out
	}
	if a, b := results(ref), results(dir); !slices.Equal(a, b) {
		t.Fatalf("after %d kills the results differ from an uninterrupted run's:\n%s\n---\n%s", killed, strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && atomicfile.IsTemp(d.Name()) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}
