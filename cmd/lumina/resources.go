package main

import (
	"fmt"
	"io"

	"github.com/lumina-workbench/lumina/internal/sysmem"
)

// memoryError is the margin of the memory estimates (docs/DESIGN.md §13): measured peaks came within
// it, so a job whose estimate times it exceeds what is available may not fit.
const memoryError = 1.1

// memAvailable is the machine's available memory (a variable for tests).
var memAvailable = sysmem.Available

// checkMemory refuses what is about to run, unless force, when its estimated peak memory is more than
// the machine has available; it prints the estimate when it is at least a quarter of that.
func checkMemory(w io.Writer, what string, need int64, force bool) error {
	avail, ok := memAvailable()
	if !ok {
		fmt.Fprintf(w, "memory: %s needs about %s at peak (available memory unknown)\n", what, gib(need))
		return nil
	}
	if need >= avail/4 {
		fmt.Fprintf(w, "memory: %s needs about %s at peak; %s available\n", what, gib(need), gib(avail))
	}
	switch {
	case need > avail && !force:
		return fmt.Errorf("%s needs about %s of memory and %s is available: free memory, or lower the batch, resolution or caption length; --force tries anyway", what, gib(need), gib(avail))
	case need > avail:
		fmt.Fprintf(w, "memory: going ahead (--force); the machine may swap or kill the process\n")
	case float64(need)*memoryError > float64(avail):
		fmt.Fprintf(w, "memory: close to the limit: the estimate may be low by up to %.0f%%\n", 100*(memoryError-1))
	}
	return nil
}

// gib formats a byte count as a person reads memory sizes: MiB below a gibibyte, GiB above.
func gib(b int64) string {
	if b < 1<<30 {
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
}
