package main

// Tests that run `lumina train` in a child process (this test binary again, as TestTrainHelperProcess):
// real signals, the run-folder lock between processes, and SIGKILL at chosen and random moments.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/internal/atomicfile"
	"github.com/lumina-workbench/lumina/train"
)

const (
	// childArgsEnv holds the child's command line (JSON), childSlowEnv a pause added to each of its
	// steps.
	childArgsEnv = "LUMINA_TEST_TRAIN_ARGS"
	childSlowEnv = "LUMINA_TEST_SLOW_STEP"
	// CrashKillsEnv sets how many kills the crash test makes (20 by default, 6 with -short), and
	// CrashSeedEnv the seed that picks where (a new one each run; the test logs it).
	CrashKillsEnv = "LUMINA_CRASH_KILLS"
	CrashSeedEnv  = "LUMINA_CRASH_SEED"
)

// TestTrainHelperProcess is the child: `lumina train` with the arguments in childArgsEnv.
func TestTrainHelperProcess(t *testing.T) {
	raw := os.Getenv(childArgsEnv)
	if raw == "" {
		t.Skip("the child process of the tests that train in a child process")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if d, err := time.ParseDuration(os.Getenv(childSlowEnv)); err == nil {
		wrapTrainModel = func(m train.Model) train.Model { return slowSteps{Model: m, d: d} }
	}
	rootCmd.SetArgs(args)
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "lumina:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// slowSteps adds d before each step, which no context cuts short (a long forward and backward).
type slowSteps struct {
	train.Model
	d time.Duration
}

func (m slowSteps) Step(ctx context.Context, b *train.Batch) (train.StepResult, error) {
	time.Sleep(m.d)
	return m.Model.Step(ctx, b)
}

// child is a running `lumina train`.
type child struct {
	cmd  *exec.Cmd
	out  *syncBuffer // stdout and stderr
	done chan struct{}
	err  error
}

func startChild(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	b, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestTrainHelperProcess$")
	cmd.Env = append(append(os.Environ(), childArgsEnv+"="+string(b)), env...)
	c := &child{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(c.kill)
	return c
}

// kill sends SIGKILL (nothing when the child has ended) and waits for the end.
func (c *child) kill() {
	select {
	case <-c.done:
	default:
		c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.done
	}
}

func (c *child) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(limit):
		t.Fatalf("the child did not end within %v; output:\n%s", limit, c.out)
		return nil
	}
}

// A real Ctrl-C during a long step is answered within a second; a second one ends the process at
// once, without a checkpoint, and the run continues from the folder as it was.
func TestCtrlCInAChildProcess(t *testing.T) {
	cfg := tinyTrainConfig(t, "")
	run := filepath.Join(t.TempDir(), "run")
	c := startChild(t, []string{childSlowEnv + "=4s"}, "train", "--config", cfg, "--run", run, "--stage", "0")
	waitFor(t, c.out, "stage 0 text-encoder (text-encoder) started", time.Minute)
	time.Sleep(500 * time.Millisecond)
	c.cmd.Process.Signal(os.Interrupt)
	took := waitFor(t, c.out, "press Ctrl-C again to quit now without saving", 5*time.Second)
	t.Logf("Ctrl-C answered in %v", took)
	if took > time.Second {
		t.Errorf("Ctrl-C answered after %v, want within a second", took)
	}
	t0 := time.Now()
	c.cmd.Process.Signal(os.Interrupt)
	err := c.wait(t, 5*time.Second)
	t.Logf("the second Ctrl-C ended the process in %v", time.Since(t0))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 || time.Since(t0) > 2*time.Second {
		t.Errorf("after the second Ctrl-C: %v after %v, want exit status 130 at once; output:\n%s", err, time.Since(t0), c.out)
	}
	ents, _ := os.ReadDir(filepath.Join(run, train.CheckpointDir))
	if len(ents) != 0 {
		t.Errorf("quitting without saving left %v", ents)
	}
	if _, err := os.Stat(filepath.Join(run, train.LockFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("quitting left the lock file: %v", err)
	}
	out, err := luminaRun(t, "train", "--config", cfg, "--run", run, "--resume", "--stage", "0")
	if err != nil || !strings.Contains(out, "finished: 2 steps") || strings.Contains(out, "took over") {
		t.Fatalf("resume after quitting: %v\n%s", err, out)
	}
}

// A folder another process is training is refused, naming that process; once it is killed, the next
// train takes the folder over, says from whom, and drops the metrics line the kill cut.
func TestRunFolderLockAcrossProcesses(t *testing.T) {
	cfg := tinyTrainConfig(t, "")
	run := filepath.Join(t.TempDir(), "run")
	c := startChild(t, []string{train.PauseEnv + "=line:2"}, "train", "--config", cfg, "--run", run, "--stage", "0")
	waitFor(t, c.out, train.PauseEnv+": stopped", time.Minute)
	pid := "PID " + strconv.Itoa(c.cmd.Process.Pid)
	_, err := luminaRun(t, "train", "--config", cfg, "--run", run, "--resume", "--stage", "0")
	if !errors.Is(err, train.ErrRunInUse) || !strings.Contains(err.Error(), pid) {
		t.Fatalf("a second train on the folder: %v, want ErrRunInUse naming %s", err, pid)
	}
	p, err := train.LoadPreset("", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&trainerAdapter{}).Start(t.Context(), train.Options{Preset: p, Stage: 0, RunDir: run}); !errors.Is(err, train.ErrRunInUse) {
		t.Fatalf("a TUI train job on the folder: %v, want ErrRunInUse", err)
	}
	c.kill()
	out, err := luminaRun(t, "train", "--config", cfg, "--run", run, "--resume", "--stage", "0")
	if err != nil || !strings.Contains(out, "warning: took over run folder "+run+" from "+pid) {
		t.Fatalf("after the kill: %v\n%s", err, out)
	}
	checkMetricsWhole(t, run)
}

// metricsLines reads metrics.jsonl, requiring every line whole; the timing fields are dropped.
func checkMetricsWhole(t *testing.T, dir string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("%s: the last line is cut", dir)
	}
	var out []map[string]any
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("%s line %d %q: %v", dir, i+1, line, err)
		}
		delete(rec, "time")
		delete(rec, "images_per_s")
		out = append(out, rec)
	}
	return out
}

// crashConfig is a run through stages 0–2 (the last with the aux loss) with a checkpoint every other
// step, so that a child killed often still gets through it.
func crashConfig(t *testing.T) string {
	stage := func(name string, extra string) string {
		return "  - name: " + name + "\n    steps: 4\n    batch: 2\n    warmup: 1\n    checkpoint_every: 2\n" + extra
	}
	return writeTrainConfig(t, "checkpoints:\n  keep_last: 2\nstages:\n"+stage("text-encoder", "")+
		stage("low-res", "    sample_every: 0\n")+stage("high-res", "    resolution: 16\n    sample_every: 0\n")+
		"  - name: hq-tune\n    skip: true\n")
}

// A training run killed with SIGKILL at least 20 times, inside checkpoint writes, just after them,
// inside metrics lines, inside the export and at random moments, each time followed by --resume, ends
// with the weights and metrics of an uninterrupted run, and with no temporary file or cut line.
func TestCrashedTrainingResumesExactly(t *testing.T) {
	kills := 20
	if testing.Short() {
		kills = 6
	}
	if v := os.Getenv(CrashKillsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", CrashKillsEnv, v, err)
		}
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(CrashSeedEnv); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("%d kills, %s=%d", kills, CrashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	cfg := crashConfig(t)

	t0 := time.Now()
	ref := filepath.Join(t.TempDir(), "ref")
	if c := startChild(t, nil, "train", "--config", cfg, "--run", ref); c.wait(t, 3*time.Minute) != nil {
		t.Fatalf("uninterrupted run: %v\n%s", c.err, c.out)
	}
	t.Logf("uninterrupted run: %v", time.Since(t0).Round(time.Millisecond))

	points := []func() string{
		func() string { return fmt.Sprintf("write:%d:.safetensors", 1+rng.IntN(2)) }, // inside a checkpoint
		func() string { return fmt.Sprintf("wrote:%d:.safetensors", 1+rng.IntN(2)) }, // just after one
		func() string { return "wrote:1:-final" },                                    // a stage just ended
		func() string { return "write:1:" + train.FinalFile },                        // inside the export
		func() string { return fmt.Sprintf("line:%d", 1+rng.IntN(3)) },               // inside a metrics line
		func() string { return "write:1:" + train.MetricsFile },                      // the metrics cut back on resume
		func() string { return "write:1:.probe" },
		func() string { return "" }, // a random moment
		func() string { return "" },
	}
	killed := map[string]int{}
	var order []int
	t1 := time.Now()
	round := 0
	for sum(killed) < kills {
		round++
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("crash-%d", round))
		heldLock := false // the previous child was killed holding the folder's lock
		for i := 0; ; i++ {
			last := sum(killed) >= kills // the last resume runs to the end
			point := ""
			switch {
			case last:
			case i == 0:
				point = "write:1:" + train.ConfigFile
			default:
				// Every kind of point in turn, in a new random order each time round.
				if len(order) == 0 {
					order = rng.Perm(len(points))
				}
				point, order = points[order[0]](), order[1:]
			}
			var env []string
			if point != "" {
				env = append(env, train.PauseEnv+"="+point)
			}
			c := startChild(t, env, "train", "--config", cfg, "--run", dir, "--resume")
			how := ""
			if last {
				c.wait(t, 3*time.Minute)
			} else {
				how = c.killAt(t, point, rng)
			}
			started := strings.Contains(c.out.String(), ") started")
			if heldLock && (started || how == "") && !strings.Contains(c.out.String(), "warning: took over run folder "+dir) {
				t.Errorf("round %d: the child after a kill did not report the takeover:\n%s", round, c.out)
			}
			if how == "" {
				if c.err != nil {
					t.Fatalf("round %d: a resume failed: %v\n%s", round, c.err, c.out)
				}
				break
			}
			killed[how]++
			// A random kill may land before the lock is taken or after it is released: a lock file
			// still holding a record says that a killed child (this one or one before) held it.
			holder, recorded := lockHolder(dir)
			heldLock = recorded
			if how != "random" && holder != c.cmd.Process.Pid {
				t.Errorf("round %d: killed at %s, and the lock file names PID %d, not the child's %d", round, how, holder, c.cmd.Process.Pid)
			}
		}
		sameRun(t, ref, dir)
	}
	t.Logf("%d kills (%v) and the resumes after them, %d runs to the end, in %v", sum(killed), killed, round, time.Since(t1).Round(time.Millisecond))
}

// lockHolder reads the PID recorded in dir's lock file; ok is false when there is no record.
func lockHolder(dir string) (pid int, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, train.LockFile))
	var h train.LockHolder
	if err != nil || json.Unmarshal(b, &h) != nil {
		return 0, false
	}
	return h.PID, true
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// killAt kills the child where point stops it (at a random moment when point is "", or when it is not
// reached within seconds) and says which: the point, "random", or "" when the child ended by itself
// (a point it never reached).
func (c *child) killAt(t *testing.T, point string, rng *rand.Rand) string {
	t.Helper()
	limit := 8 * time.Second
	if point == "" {
		limit = time.Duration(300+rng.IntN(1700)) * time.Millisecond
	}
	deadline := time.After(limit)
	for {
		select {
		case <-c.done:
			return ""
		case <-deadline:
			c.kill()
			return "random"
		case <-time.After(5 * time.Millisecond):
		}
		if point != "" && strings.Contains(c.out.String(), train.PauseEnv+": stopped") {
			c.kill()
			return point
		}
	}
}

// sameRun requires dir to end as the uninterrupted run ref did: the same metrics (timings aside),
// the same export, the same checkpoints kept, and nothing left of interrupted writes.
func sameRun(t *testing.T, ref, dir string) {
	t.Helper()
	want, got := checkMetricsWhole(t, ref), checkMetricsWhole(t, dir)
	if len(want) != len(got) {
		t.Fatalf("%s: %d metrics lines, the uninterrupted run %d", dir, len(got), len(want))
	}
	for i := range want {
		a, _ := json.Marshal(want[i])
		b, _ := json.Marshal(got[i])
		if !bytes.Equal(a, b) {
			t.Fatalf("%s metrics line %d: %s, the uninterrupted run %s", dir, i+1, b, a)
		}
	}
	a, err1 := os.ReadFile(filepath.Join(ref, train.FinalFile))
	b, err2 := os.ReadFile(filepath.Join(dir, train.FinalFile))
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
		t.Fatalf("%s differs from the uninterrupted run's (%v, %v)", train.FinalFile, err1, err2)
	}
	names := func(d string) []string {
		var out []string
		filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				rel, _ := filepath.Rel(d, path)
				out = append(out, rel)
				if atomicfile.IsTemp(e.Name()) {
					t.Errorf("%s: an interrupted write is left: %s", d, rel)
				}
			}
			return nil
		})
		slices.Sort(out)
		return out
	}
	if w, g := names(ref), names(dir); !slices.Equal(w, g) {
		t.Errorf("%s holds %v, the uninterrupted run %v", dir, g, w)
	}
}
