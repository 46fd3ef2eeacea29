package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/internal/treestate"
	"github.com/lumina-workbench/lumina/train"
)

// tinyTrainConfig is a --config file for a run of stage 0 that takes a second: two text-encoder
// steps of batch 2, checkpoints only at the stage's end (checkpoint_every: 0, a zero where tiny-cpu
// has 100). extra adds top-level keys.
func tinyTrainConfig(t *testing.T, extra string) string {
	t.Helper()
	return writeTrainConfig(t, `stages:
  - name: text-encoder
    steps: 2
    checkpoint_every: 0
    batch: 2
    warmup: 1
`+extra)
}

// writeTrainConfig writes a --config file over tiny-cpu with small data and no samples or ToyEval.
func writeTrainConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.yaml")
	head := "base: tiny-cpu\nname: cli-test\ndata:\n  items: 200\nsamples:\n  prompts: []\neval:\n  suite: \"\"\n"
	if err := os.WriteFile(path, []byte(head+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is an output several goroutines write while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls out until it contains s; it returns how long that took.
func waitFor(t *testing.T, out interface{ String() string }, s string, limit time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	for !strings.Contains(out.String(), s) {
		if time.Since(t0) > limit {
			t.Fatalf("%q did not appear within %v; output:\n%s", s, limit, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(t0)
}

// withSignals makes the train command hear its signals from the returned channel, and record a quit
// on the second one instead of exiting.
func withSignals(t *testing.T) (sigs chan os.Signal, quit chan struct{}) {
	t.Helper()
	sigs, quit = make(chan os.Signal, 2), make(chan struct{}, 1)
	oldSigs, oldQuit := trainSignals, quitNow
	trainSignals = func() (<-chan os.Signal, func()) { return sigs, func() {} }
	quitNow = func() { quit <- struct{}{} }
	t.Cleanup(func() { trainSignals, quitNow = oldSigs, oldQuit })
	return sigs, quit
}

// stoppedRun starts a run of cfg's stage 0 into a new folder and presses Ctrl-C as its first step
// begins: the run stops at step 0 with a checkpoint.
func stoppedRun(t *testing.T, cfg string) string {
	t.Helper()
	sigs, _ := withSignals(t)
	wrapTrainModel = func(m train.Model) train.Model { return &interrupter{Model: m, sigs: sigs} }
	defer func() { wrapTrainModel = nil }()
	run := filepath.Join(t.TempDir(), "run")
	if out, err := luminaRun(t, "train", "--config", cfg, "--run", run, "--stage", "0"); err != nil || !strings.Contains(out, "stopped at stage 0 step 0") {
		t.Fatalf("%v\n%s", err, out)
	}
	return run
}

type interrupter struct {
	train.Model
	sigs chan os.Signal
	done bool
}

func (m *interrupter) Step(ctx context.Context, b *train.Batch) (train.StepResult, error) {
	if !m.done {
		m.done = true
		m.sigs <- os.Interrupt
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
	return m.Model.Step(ctx, b)
}

// A refused train prints its error once: main prints the returned error, the progress does not.
func TestTrainErrorsPrintedOnce(t *testing.T) {
	cfg := tinyTrainConfig(t, "")
	run := filepath.Join(t.TempDir(), "run")
	if out, err := luminaRun(t, "train", "--config", cfg, "--run", run, "--stage", "0"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := luminaRun(t, "train", "--config", cfg, "--run", run, "--stage", "0")
	if err == nil || !strings.Contains(err.Error(), "already has checkpoints") {
		t.Fatalf("a second fresh run into the folder: %v", err)
	}
	if strings.Contains(out, "already has checkpoints") {
		t.Errorf("the refusal is printed by the command too (main prints it again):\n%s", out)
	}

	// An error during the run: the stage's final checkpoint cannot be renamed into place.
	run = filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(filepath.Join(run, train.CheckpointDir, "s0-final.safetensors"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = luminaRun(t, "train", "--config", cfg, "--run", run, "--stage", "0")
	if err == nil || !strings.Contains(err.Error(), "save checkpoint") {
		t.Fatalf("a failing final save: %v\n%s", err, out)
	}
	if strings.Contains(out, "save checkpoint") {
		t.Errorf("the error is printed by the command too (main prints it again):\n%s", out)
	}
}

// A refused train creates no folder and leaves an existing one exactly as it was.
func TestTrainRefusalsWriteNothing(t *testing.T) {
	cfg := tinyTrainConfig(t, "")
	other := tinyTrainConfig(t, "seed: 5\n")
	run := stoppedRun(t, cfg)
	fresh := filepath.Join(t.TempDir(), "fresh")
	for _, c := range []struct {
		name string
		dir  string
		args []string
		want string
	}{
		{"stage out of range, new folder", fresh, []string{"--preset", "tiny-cpu", "--stage", "9"}, "stage 9 outside 0..4"},
		{"unknown preset, new folder", fresh, []string{"--preset", "nope"}, "unknown preset"},
		{"stage out of range", run, []string{"--config", cfg, "--stage", "9", "--resume"}, "stage 9 outside 0..4"},
		{"checkpoints without --resume", run, []string{"--config", cfg, "--stage", "0"}, "pass --resume"},
		{"another config", run, []string{"--config", other, "--stage", "0", "--resume"}, "differs from the preset given"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, err := treestate.Of(c.dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = luminaRun(t, append([]string{"train", "--run", c.dir}, c.args...)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a refusal mentioning %q", err, c.want)
			}
			after, err := treestate.Of(c.dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range treestate.Diff(before, after) {
				t.Error(d)
			}
		})
	}
}

// A run started with --config whose file sets checkpoint_every: 0 (tiny-cpu has 100) continues with
// either command the refusal advises, and from the TUI.
func TestTrainResumesAConfigWithZeros(t *testing.T) {
	cfg := tinyTrainConfig(t, "")
	run := stoppedRun(t, cfg)
	_, err := luminaRun(t, "train", "--preset", "tiny-cpu", "--run", run, "--resume", "--stage", "0")
	own := filepath.Join(run, train.ConfigFile)
	if !errors.Is(err, train.ErrConfigChanged) || !strings.Contains(err.Error(), "--run "+run+" --resume") || !strings.Contains(err.Error(), "--config "+own) {
		t.Fatalf("resume with the bare preset: %v, want ErrConfigChanged advising --run %s --resume or --config %s", err, run, own)
	}
	for _, ownConfig := range []bool{true, false} {
		t.Run(fmt.Sprintf("--config RUN/config.yaml %v", ownConfig), func(t *testing.T) {
			run := stoppedRun(t, cfg)
			args := []string{"train", "--run", run, "--resume", "--stage", "0"}
			if ownConfig {
				args = append(args, "--config", filepath.Join(run, train.ConfigFile))
			}
			out, err := luminaRun(t, args...)
			if err != nil || !strings.Contains(out, "stage 0 text-encoder finished: 2 steps") {
				t.Fatalf("%v\n%s", err, out)
			}
			if p, _, err := train.ReadConfig(run); err != nil || p.Stages[0].CheckpointEvery != 0 {
				t.Fatalf("config.yaml after the resume: %+v %v", p, err)
			}
		})
	}
	t.Run("TUI", func(t *testing.T) {
		run := stoppedRun(t, cfg)
		picked, err := train.LoadPreset(train.DefaultPreset, "")
		if err != nil {
			t.Fatal(err)
		}
		evs, err := (&trainerAdapter{}).Start(context.Background(), train.Options{Preset: picked, Stage: 0, RunDir: run})
		if err != nil {
			t.Fatal(err)
		}
		finished := 0
		for ev := range evs {
			switch e := ev.(type) {
			case train.ErrorEvent:
				t.Fatal(e.Err)
			case train.StageFinished:
				finished = e.Steps
			}
		}
		if finished != 2 {
			t.Fatalf("the TUI's resume finished with %d steps, want 2", finished)
		}
	})
}

// slowModel stands in for a model whose step takes seconds and cannot be cut short (one long
// forward and backward).
type slowModel struct {
	d       time.Duration
	started chan struct{}
}

func (m *slowModel) BeginStage(train.StageInfo) error { return nil }

func (m *slowModel) Step(ctx context.Context, b *train.Batch) (train.StepResult, error) {
	m.started <- struct{}{}
	time.Sleep(m.d)
	return train.StepResult{Loss: 1, GradNorm: 1}, nil
}

func (m *slowModel) SaveCheckpoint(w io.Writer, meta map[string]string) error {
	_, err := fmt.Fprint(w, meta)
	return err
}

func (m *slowModel) LoadCheckpoint(io.Reader) (map[string]string, error) {
	return nil, errors.New("slowModel does not load")
}

// Ctrl-C during a long step is answered at once with what will happen and how long the step has run;
// the run then saves a checkpoint when the step ends.
func TestCtrlCAnsweredDuringALongStep(t *testing.T) {
	sigs, _ := withSignals(t)
	p, err := train.LoadPreset("", tinyTrainConfig(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	m := &slowModel{d: 2 * time.Second, started: make(chan struct{}, 8)}
	dir := filepath.Join(t.TempDir(), "run")
	job, err := newTrainJobWith(m, train.Options{Preset: p, RunDir: dir, Stage: 0})
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- job.run(context.Background(), out) }()
	<-m.started
	time.Sleep(300 * time.Millisecond)
	sigs <- os.Interrupt
	took := waitFor(t, out, "press Ctrl-C again to quit now without saving", 5*time.Second)
	t.Logf("Ctrl-C answered in %v", took)
	if took > time.Second {
		t.Errorf("Ctrl-C answered after %v, want within a second", took)
	}
	if !regexp.MustCompile(`Ctrl-C: stopping after the current step \(stage 0 text-encoder, step 1, running for [0-9]+\.[0-9]s\)`).MatchString(out.String()) {
		t.Errorf("the answer does not say which step runs and for how long:\n%s", out)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "stopped at stage 0 step 1") {
		t.Errorf("the run did not stop after the step:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, train.CheckpointDir, "s0-00000001.safetensors")); err != nil {
		t.Error(err)
	}
}
