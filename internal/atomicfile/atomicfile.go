// Package atomicfile writes files so that a reader never sees a half-written one and a failed write
// never damages what was there: a temporary file in the same folder, synced, renamed over the target,
// then the folder synced. Checkpoints, run-folder files, exported datasets and images all go through it.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tempMark is in every temporary file's name: "." + the target's name + tempMark + random digits.
const tempMark = ".tmp"

// IsTemp reports whether name (without its folder) is one of Write's temporary files, which a process
// killed in the middle of a write leaves behind.
func IsTemp(name string) bool {
	i := strings.LastIndex(name, tempMark)
	if !strings.HasPrefix(name, ".") || i < 2 || i+len(tempMark) == len(name) {
		return false
	}
	return strings.Trim(name[i+len(tempMark):], "0123456789") == ""
}

// Write streams path's contents through fill. wrap, if not nil, wraps the file writer (tests use it to
// fail a write half-way, as a full disk would). On any failure the temporary file is removed and path is
// left as it was. The file ends up 0644 (CreateTemp makes 0600; these files are meant to be shared).
// Errors name path, never the temporary file, which is gone by the time anyone reads them.
func Write(path string, wrap func(io.Writer) io.Writer, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempMark+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, bare(err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var w io.Writer = bareWriter{f}
	if wrap != nil {
		w = wrap(w)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err = fill(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", path, bare(err))
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, bare(err))
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, bare(err))
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, bare(err))
	}
	// The rename is durable only once the folder entry is; not every filesystem can sync a folder,
	// and the rename is atomic either way.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// bare strips the file names from an os error (*PathError, *LinkError), keeping its cause: here they
// name the temporary file.
func bare(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// bareWriter is the temporary file with bare write errors, so that what fill reports names no temporary
// file either.
type bareWriter struct{ f *os.File }

func (b bareWriter) Write(p []byte) (int, error) {
	n, err := b.f.Write(p)
	if err != nil {
		err = bare(err)
	}
	return n, err
}

// CheckWritable reports whether files can be created in dir, by creating and removing a temporary one:
// the only test that also holds for root and for read-only mounts. The error names no temporary file.
func CheckWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".write-check*")
	if err != nil {
		return bare(err)
	}
	f.Close()
	return os.Remove(f.Name())
}
