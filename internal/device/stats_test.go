package device

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSMI(t *testing.T) {
	d := Device{Kind: CUDA, Index: 1}
	s, err := parseSMI(d, "NVIDIA H100 80GB HBM3, 12389, 81559, 45\n")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "NVIDIA H100 80GB HBM3" || s.MemUsed != 12389<<20 || s.MemTotal != 81559<<20 || s.Util != 45 {
		t.Fatalf("%+v", s)
	}
	if got, want := s.String(), "cuda:1 NVIDIA H100 80GB HBM3 · 12.1/79.6 GiB · 45%"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got, want := s.Short(), "cuda:1 · 12.1/79.6 GiB · 45%"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if s, err := parseSMI(d, "GPU, 1, 2, [N/A]"); err != nil || s.Util != 0 {
		t.Errorf("N/A utilisation: %+v %v", s, err)
	}
	for _, bad := range []string{"", "No devices were found", "a, b, c, d", "x, 1, 2"} {
		if _, err := parseSMI(d, bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// NvidiaSMI runs the nvidia-smi on PATH with the device's index.
func TestNvidiaSMIRunsTheTool(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\nfor a in \"$@\"; do last=$a; done\necho \"Fake GPU $last, 100, 1000, 7\"\n"
	if err := os.WriteFile(filepath.Join(dir, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	s, err := NvidiaSMI(context.Background(), Device{Kind: CUDA, Index: 3})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "Fake GPU 3" || s.Util != 7 {
		t.Fatalf("%+v", s)
	}
	if _, err := NvidiaSMI(context.Background(), Device{}); err == nil {
		t.Error("stats of the CPU")
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := NvidiaSMI(context.Background(), Device{Kind: CUDA}); err == nil || !strings.Contains(err.Error(), "nvidia-smi") {
		t.Errorf("without nvidia-smi: %v", err)
	}
}
