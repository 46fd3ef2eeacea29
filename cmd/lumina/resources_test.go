package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/model/ckpt/ckpttest"
)

func TestCheckMemory(t *testing.T) {
	defer func(f func() (int64, bool)) { memAvailable = f }(memAvailable)
	memAvailable = func() (int64, bool) { return 4 << 30, true }
	var out bytes.Buffer
	if err := checkMemory(&out, "stage 2", 8<<30, false); err == nil || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "8.0 GiB") {
		t.Errorf("8 GiB on a 4 GiB machine: %v", err)
	}
	out.Reset()
	if err := checkMemory(&out, "stage 2", 8<<30, true); err != nil || !strings.Contains(out.String(), "--force") {
		t.Errorf("forced: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := checkMemory(&out, "stage 2", 3900<<20, false); err != nil || !strings.Contains(out.String(), "close to the limit") {
		t.Errorf("3.8 of 4 GiB: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := checkMemory(&out, "stage 2", 3<<30, false); err != nil || strings.Contains(out.String(), "close") {
		t.Errorf("3 of 4 GiB is within the estimates' margin: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := checkMemory(&out, "stage 2", 1<<30, false); err != nil || strings.Contains(out.String(), "close") || !strings.Contains(out.String(), "1.0 GiB at peak; 4.0 GiB available") {
		t.Errorf("1 of 4 GiB: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := checkMemory(&out, "sampling", 100<<20, false); err != nil || out.Len() != 0 {
		t.Errorf("100 MiB of 4 GiB should pass quietly: %v\n%s", err, out.String())
	}
	memAvailable = func() (int64, bool) { return 0, false }
	out.Reset()
	if err := checkMemory(&out, "stage 2", 1<<40, false); err != nil || !strings.Contains(out.String(), "unknown") {
		t.Errorf("unknown availability: %v\n%s", err, out.String())
	}
}

// Sampling that would not fit in memory is refused before the model loads, and writes nothing;
// --force samples anyway.
func TestSampleRefusedWhenMemoryIsShort(t *testing.T) {
	defer func(f func() (int64, bool)) { memAvailable = f }(memAvailable)
	memAvailable = func() (int64, bool) { return 1 << 20, true }
	ck := ckpttest.Save(t)
	out := filepath.Join(t.TempDir(), "x.png")
	_, stderr, err := luminaRunStderr(t, "sample", "--ckpt", ck, "--prompt", "a red circle", "--res", "16", "--steps", "3", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("1 MiB available: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a refused sample wrote %s", out)
	}
	if _, stderr, err := luminaRunStderr(t, "sample", "--ckpt", ck, "--prompt", "a red circle", "--res", "16", "--steps", "3", "--out", out, "--force"); err != nil || !strings.Contains(stderr, "--force") {
		t.Fatalf("--force: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
}

// A training run whose largest stage would not fit is refused before the model trains and before the
// run folder exists; --force starts it.
func TestTrainRefusedWhenMemoryIsShort(t *testing.T) {
	defer func(f func() (int64, bool)) { memAvailable = f }(memAvailable)
	memAvailable = func() (int64, bool) { return 64 << 20, true }
	run := filepath.Join(t.TempDir(), "run")
	_, err := luminaRun(t, "train", "--preset", "tiny-cpu", "--stage", "0", "--run", run)
	if err == nil || !strings.Contains(err.Error(), "stage 0 (text-encoder)") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("64 MiB available: %v", err)
	}
	if _, err := os.Stat(run); !os.IsNotExist(err) {
		t.Fatalf("a refused run created %s", run)
	}
}
