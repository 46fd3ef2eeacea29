package main

import (
	"os/exec"
	"path/filepath"
	"testing"
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
	r, err := runRef(findUp(refScript), 1, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !(r.trainMs > 0 && r.fwdMs > 0) {
		t.Errorf("timings %+v, want positive", r)
	}
}
