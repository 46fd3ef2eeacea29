package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/model/cuda"
)

// The default --ref is the repository's own reference, found from any directory inside the repository.
func TestBenchFindsReference(t *testing.T) {
	p := findUp(refScript)
	if p == "" {
		t.Fatalf("%s not found above the working directory", refScript)
	}
	if filepath.Base(filepath.Dir(p)) != "reference" {
		t.Errorf("found %s", p)
	}
}

// runRef's flags and the timing line it parses are the reference's interface: one short run checks both.
func TestRunRefTimingLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PyTorch")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		t.Skip("no /usr/bin/python3 with torch")
	}
	r, err := runRef("", findUp(refScript), []string{"--batch", "1", "--steps", "1"})
	if err != nil {
		t.Fatal(err)
	}
	if !(r.trainMs > 0 && r.fwdMs > 0) {
		t.Errorf("timings %+v, want positive", r)
	}
}

// bench train on the emulated device times the device path (the trainer and the resident forward) and
// hands the reference the same model and shapes, on the same device.
func TestBenchTrainOnDevice(t *testing.T) {
	openBackend = func(device.Device) (cuda.Backend, error) { return cuda.NewEmulator(), nil }
	t.Cleanup(func() { openBackend = func(device.Device) (cuda.Backend, error) { return nil, device.ErrNoCUDA } })
	o := trainBenchOpts{batch: 2, steps: 1, model: "tiny", res: 16, noRef: true, device: "cpu"}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	o.dev = device.Device{Kind: device.CUDA}
	var out bytes.Buffer
	if err := runTrainBench(&out, o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "16 px, emulator): train step") {
		t.Fatalf("output %q", out.String())
	}
	args := strings.Join(refArgs(o, 1), " ")
	for _, want := range []string{"--dim 128", "--layers 4", "--patch 4", "--res 16", "--batch 2", "--device cuda:0", "--axes 8,12,12"} {
		if !strings.Contains(args, want) {
			t.Errorf("reference flags %q lack %q", args, want)
		}
	}
	bad := trainBenchOpts{batch: 2, steps: 1, model: "base", res: 33, device: "cpu"}
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), "--res 33") {
		t.Errorf("--res 33 with patch 2: %v", err)
	}
}
