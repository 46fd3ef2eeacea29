package dataset

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// fullDisk lets left bytes through, across every file written, then fails as a full disk does.
type fullDisk struct {
	w    io.Writer
	left *int
}

func (f fullDisk) Write(b []byte) (int, error) {
	if len(b) > *f.left {
		n, _ := f.w.Write(b[:*f.left])
		*f.left = 0
		return n, &os.PathError{Op: "write", Path: "file", Err: syscall.ENOSPC}
	}
	*f.left -= len(b)
	return f.w.Write(b)
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestExportFailureLeavesNothing: an export that runs out of disk space part-way leaves no partial folder,
// no temporary folder and no folder it created, and an existing folder as it was; the error names the
// file in the export's own folder and the cause.
func TestExportFailureLeavesNothing(t *testing.T) {
	d := mustDataset(t, 5, 20)
	root := t.TempDir()
	old := filepath.Join(root, "old")
	os.Mkdir(old, 0o755)
	os.WriteFile(filepath.Join(old, "keep.txt"), []byte("mine"), 0o644)
	for _, budget := range []int{0, 500, 4000} {
		for _, c := range []struct {
			dir       string
			overwrite bool
		}{{filepath.Join(root, "new", "world"), false}, {old, true}} {
			left := budget
			opt := ExportOptions{N: 5, Res: 32, Overwrite: c.overwrite, wrap: func(w io.Writer) io.Writer { return fullDisk{w, &left} }}
			_, err := Export(d, c.dir, opt, nil)
			if err == nil || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "export: write "+c.dir+string(filepath.Separator)) ||
				strings.Contains(err.Error(), ".tmp") {
				t.Errorf("budget %d, %s: error %v, want one naming a file in the folder and the full disk", budget, c.dir, err)
			}
			if got := names(t, root); !slices.Equal(got, []string{"old"}) {
				t.Errorf("budget %d, %s: left behind %v", budget, c.dir, got)
			}
			if got := names(t, old); !slices.Equal(got, []string{"keep.txt"}) {
				t.Errorf("budget %d: the existing folder now holds %v", budget, got)
			}
		}
	}
	// The same exports with room to spare: a new folder appears whole, an existing one gains the files.
	for _, c := range []struct {
		dir       string
		overwrite bool
		extra     int
	}{{filepath.Join(root, "new", "world"), false, 0}, {old, true, 1}} {
		if _, err := Export(d, c.dir, ExportOptions{N: 5, Res: 32, Overwrite: c.overwrite}, nil); err != nil {
			t.Fatal(err)
		}
		if got := names(t, c.dir); len(got) != 11+c.extra || !slices.Contains(got, MetadataFile) {
			t.Errorf("%s holds %v", c.dir, got)
		}
		if st, _ := os.Stat(c.dir); st.Mode().Perm() != 0o755 {
			t.Errorf("%s has mode %v", c.dir, st.Mode().Perm())
		}
	}
	if got := names(t, root); !slices.Equal(got, []string{"new", "old"}) {
		t.Errorf("temporary folders left behind: %v", got)
	}
	if _, err := Export(d, old, ExportOptions{N: 1, Res: 32}, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into a folder with files, without overwrite: %v", err)
	}
}
