package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/model/cuda"
)

// Every kernel the executor can launch is exercised by a check that runs (not one marked pending), or
// is named here as reached only through a pending one.
func TestChecksCoverEveryKernel(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range checks {
		if c.Pending == "" {
			for _, k := range c.Kernels {
				covered[k] = true
			}
		}
	}
	for _, k := range cuda.Kernels {
		if !covered[k.Name] {
			t.Errorf("kernel %s is checked by no runnable check", k.Name)
		}
	}
}

func TestDryRunListsEveryCheck(t *testing.T) {
	var b bytes.Buffer
	list(&b)
	out := b.String()
	for _, c := range checks {
		if !strings.Contains(out, c.Name) {
			t.Errorf("dry run does not list %s", c.Name)
		}
	}
	for _, c := range checks {
		if c.Pending != "" && !strings.Contains(out, "SKIP: "+c.Pending) {
			t.Errorf("dry run hides that %s is pending", c.Name)
		}
	}
}

// The checks of whole programs pass on the emulated device: what a GPU run compares is computed the
// same way here, so a failure there is the CUDA code's, not the check's (the loss curve is cut to 3
// steps here).
func TestProgramChecksPassOnTheEmulator(t *testing.T) {
	tol := map[string]float64{}
	for _, c := range checks {
		tol[c.Name] = c.Tol
	}
	for name, pc := range programChecks {
		if name == "loss-curve" {
			pc = func(be cuda.Backend, seed uint64) (float64, error) { return checkLossCurve(be, 3, seed) }
		}
		rel, err := pc(cuda.NewEmulator(), 1)
		if err != nil || !(rel <= tol[name]) {
			t.Errorf("%s on the emulator: relative error %.3g (tolerance %g), %v", name, rel, tol[name], err)
		}
		t.Logf("%s: %.2g", name, rel)
	}
}

func TestTableCountsFailuresAndNeverPassesASkip(t *testing.T) {
	var b bytes.Buffer
	failed := printTable(&b, []result{
		{name: "a", relErr: 1e-7, tol: 1e-5},
		{name: "b", relErr: 1e-3, tol: 1e-5},
		{name: "c", relErr: nan(), tol: 1e-5},
		{name: "d", err: errors.New("launch failed"), tol: 1e-5},
		{name: "e", skip: "pending"},
	})
	if failed != 3 || !strings.Contains(b.String(), "1 passed, 3 failed") {
		t.Fatalf("failed %d:\n%s", failed, b.String())
	}
}

func nan() float64 { var z float64; return z / z }
