package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/internal/device"
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
