package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lumina-workbench/lumina/internal/atomicfile"
)

// checkOutFolder refuses, before any work, an output folder that is missing, not a folder or not
// writable, so that a run never fails at its end for want of a place to put what it made.
func checkOutFolder(flag, dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: folder %s does not exist: create it first, or choose another", flag, dir)
	case err != nil:
		return fmt.Errorf("%s: %w", flag, err)
	case !st.IsDir():
		return fmt.Errorf("%s: %s is not a folder", flag, dir)
	}
	if err := atomicfile.CheckWritable(dir); err != nil {
		return fmt.Errorf("%s: cannot write into folder %s (%w): choose another folder or change its permissions", flag, dir, err)
	}
	return nil
}

// checkOutFile is checkOutFolder for the folder path goes into; path itself must not be a folder.
func checkOutFile(flag, path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s %s is a folder: give a file name", flag, path)
	}
	return checkOutFolder(flag, filepath.Dir(path))
}

// makeOutFolder creates dir and its parents when missing, then checks it as checkOutFolder does.
func makeOutFolder(flag, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	return checkOutFolder(flag, dir)
}
