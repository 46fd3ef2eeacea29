package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/model/cuda"
	"github.com/lumina-workbench/lumina/train"
)

// Every command that runs a model refuses --device cuda in a CPU build, with the one-line message, before
// it reads a checkpoint or writes anything.
func TestDeviceCUDARefusedByCPUBuild(t *testing.T) {
	if device.CUDABuilt {
		t.Skip("a CUDA build accepts --device cuda")
	}
	dir := t.TempDir()
	ck := filepath.Join(dir, "missing.safetensors") // a missing checkpoint would be a different error
	cases := [][]string{
		{"train", "--preset", "tiny-cpu", "--run", filepath.Join(dir, "run")},
		{"sample", "--ckpt", ck, "--prompt", "a red circle", "--out", filepath.Join(dir, "a.png")},
		{"eval", "--ckpt", ck, "--suite", "quick", "--outdir", filepath.Join(dir, "eval")},
		{"bench", "train", "--no-ref"},
		{"bench", "sample", "--ckpt", ck, "--out", filepath.Join(dir, "bench")},
		{"--ckpt", ck, "--runs", filepath.Join(dir, "runs")}, // the TUI
		{"teacache", "fit", "--ckpt", ck},
	}
	for _, args := range cases {
		for _, dev := range []string{"cuda", "cuda:1"} {
			_, stderr, err := luminaRunStderr(t, append(args, "--device", dev)...)
			if !errors.Is(err, device.ErrNoCUDA) {
				t.Errorf("%s --device %s: %v, want the no-CUDA refusal", strings.Join(args, " "), dev, err)
			}
			if stderr != "" {
				t.Errorf("%s --device %s wrote to stderr: %q", args[0], dev, stderr)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused commands wrote %d entries, first %s", len(entries), entries[0].Name())
	}
}

// The binary exits non-zero with exactly that one line, and creates no run folder.
func TestDeviceCUDAExitStatusAndOneLine(t *testing.T) {
	if device.CUDABuilt {
		t.Skip("a CUDA build accepts --device cuda")
	}
	run := filepath.Join(t.TempDir(), "run")
	c := startChild(t, nil, "train", "--preset", "tiny-cpu", "--run", run, "--device", "cuda:0")
	<-c.done
	var exit interface{ ExitCode() int }
	if !errors.As(c.err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1; output %q", c.err, c.out.String())
	}
	out := strings.TrimRight(c.out.String(), "\n")
	if strings.Contains(out, "\n") || out != "lumina: "+device.ErrNoCUDA.Error() {
		t.Fatalf("output %q, want the one line %q", out, "lumina: "+device.ErrNoCUDA.Error())
	}
	if _, err := os.Stat(run); !os.IsNotExist(err) {
		t.Fatalf("the run folder exists after the refusal (%v)", err)
	}
}

func TestDeviceFlagValues(t *testing.T) {
	if d, err := parseDevice("cpu"); err != nil || d.IsCUDA() {
		t.Fatalf("cpu: %v, %v", d, err)
	}
	for _, bad := range []string{"gpu", "cuda:-1", "cuda:99"} {
		_, err := parseDevice(bad)
		if err == nil || errors.Is(err, device.ErrNoCUDA) || !strings.Contains(err.Error(), "--device") {
			t.Errorf("%q: %v, want a --device syntax error", bad, err)
		}
	}
	_, err := luminaRun(t, "sample", "--prompt", "x", "--device", "tpu")
	if err == nil || !strings.Contains(err.Error(), `--device "tpu"`) {
		t.Fatalf("sample --device tpu: %v", err)
	}
}

// A training job on a CUDA device, the device emulated: the job opens the backend, reports the device
// and the largest stage's exact memory need, trains the text encoder and the DiT stages (one with the
// aux loss) there to the end (checkpoints, final.safetensors), and closes the backend once.
func TestTrainJobOnDevice(t *testing.T) {
	closed := 0
	emu := cuda.NewEmulator()
	openBackend = func(d device.Device) (cuda.Backend, error) { return &countClose{emu, &closed}, nil }
	t.Cleanup(func() { openBackend = func(device.Device) (cuda.Backend, error) { return nil, device.ErrNoCUDA } })
	cfg := writeTrainConfig(t, `stages:
  - name: text-encoder
    steps: 2
    checkpoint_every: 0
    batch: 2
    warmup: 1
  - name: low-res
    steps: 2
    checkpoint_every: 0
    batch: 2
    warmup: 1
  - name: high-res
    steps: 2
    checkpoint_every: 0
    batch: 2
    warmup: 1
    resolution: 16
  - name: hq-tune
    skip: true
`)
	p, err := train.LoadPreset("", cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(t.TempDir(), "run")
	var out bytes.Buffer
	job, err := newTrainJob(train.Options{Preset: p, RunDir: run, Stage: train.AllStages, Device: device.Device{Kind: device.CUDA}}, memoryCheck{w: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := job.run(context.Background(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"device: emulator", "device memory: stage 2 (high-res) needs", "finished: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if closed != 1 {
		t.Errorf("the backend was closed %d times, want once", closed)
	}
	if emu.Steps == 0 {
		t.Error("the job ran nothing on the device")
	}
	r, err := train.ReadRun(run)
	if err != nil || len(r.Checkpoints) == 0 {
		t.Fatalf("run folder: %+v, %v", r, err)
	}
	if _, err := os.Stat(filepath.Join(run, train.FinalFile)); err != nil {
		t.Fatal(err)
	}
}

type countClose struct {
	cuda.Backend
	n *int
}

func (c *countClose) Close() error { *c.n++; return c.Backend.Close() }

// A device too small for the largest DiT stage refuses the run before anything is written, naming the
// stage, both sizes and the way out; the backend is closed.
func TestTrainJobRefusedByDeviceMemory(t *testing.T) {
	closed := 0
	openBackend = func(d device.Device) (cuda.Backend, error) {
		e := cuda.NewEmulator()
		e.Memory = 20 << 20
		return &countClose{e, &closed}, nil
	}
	t.Cleanup(func() { openBackend = func(device.Device) (cuda.Backend, error) { return nil, device.ErrNoCUDA } })
	p, err := train.LoadPreset("tiny-cpu", "")
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(t.TempDir(), "run")
	var out bytes.Buffer
	_, err = newTrainJob(train.Options{Preset: p, RunDir: run, Stage: train.AllStages, Device: device.Device{Kind: device.CUDA}}, memoryCheck{w: &out})
	if err == nil || !strings.Contains(err.Error(), "of device memory and emulator has 20 MiB free") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("err %v, want the device-memory refusal", err)
	}
	if closed != 1 {
		t.Errorf("the backend was closed %d times, want once", closed)
	}
	if _, err := os.Stat(run); !os.IsNotExist(err) {
		t.Fatalf("the refused run left %s (%v)", run, err)
	}
}
