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
	pendingOnly := map[string]bool{"bias_add": true}
	for _, k := range cuda.Kernels {
		if !covered[k.Name] && !pendingOnly[k.Name] {
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
	if !strings.Contains(out, "SKIP") {
		t.Error("dry run hides the pending checks")
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
