package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// trainConfig is a --config for a long stage 0 of quick text-encoder steps (batch 2) on small data,
// without sample grids or ToyEval: a run that advances several steps a second until it is stopped.
const trainConfig = `base: tiny-cpu
name: e2e-watch
data:
  items: 200
samples:
  prompts: []
eval:
  suite: ""
stages:
  - name: text-encoder
    steps: 100000
    minutes: 0
    batch: 2
    warmup: 1
`

// TestWatchInTmux starts `lumina train` headless on a tiny config, opens `lumina watch` on its run
// folder in tmux, sees the step count advance on screen, stops the trainer (Ctrl-C, which saves a
// checkpoint) and sees the stop reported.
func TestWatchInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	if testing.Short() {
		t.Skip("trains in a child process")
	}
	bin := buildLumina(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(cfg, []byte(trainConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	trainer := exec.Command(bin, "train", "--config", cfg, "--run", run, "--stage", "0")
	log, err := os.Create(filepath.Join(dir, "train.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	trainer.Stdout, trainer.Stderr = log, log
	if err := trainer.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- trainer.Wait() }()
	defer func() {
		trainer.Process.Kill()
		<-exited
	}()
	// The folder exists once the trainer holds it.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(run, "metrics.jsonl")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("the trainer wrote no metrics; its output:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}

	s := startSession(t, 120, 40, "env LUMINA_IMAGES=none "+bin+" watch '"+run+"'; sleep 30")
	s.waitFor("the watched run training", regexp.MustCompile(`Run  training`), 30*time.Second)
	step := regexp.MustCompile(`step +(\d+)/100000 \(stage 0\)`)
	first, _ := strconv.Atoi(s.waitFor("the step count", step, 30*time.Second)[1])
	deadline = time.Now().Add(30 * time.Second)
	for {
		n, _ := strconv.Atoi(s.waitFor("the step count", step, 10*time.Second)[1])
		if n > first {
			t.Logf("the step count went from %d to %d on screen", first, n)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the step count stayed at %d; pane:\n%s", first, s.pane())
		}
		time.Sleep(300 * time.Millisecond)
	}

	if err := trainer.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		exited <- nil // for the deferred wait
	case <-time.After(time.Minute):
		t.Fatal("the trainer did not stop within a minute of Ctrl-C")
	}
	s.waitFor("the stop", regexp.MustCompile(`Run  stopped`), 10*time.Second)
	s.waitFor("the stop in the status line", regexp.MustCompile(`training stopped: `), 5*time.Second)
	s.keys("q")
}
