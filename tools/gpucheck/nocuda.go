//go:build !cuda

package main

import (
	"errors"
	"io"
)

func run(io.Writer, int, map[string]bool, uint64) error {
	return errors.New("built without CUDA: build with `make cuda` (bin/gpucheck), or pass --dry-run to list the checks")
}
