package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type failAfter struct {
	w io.Writer
	n int
}

func (f *failAfter) Write(b []byte) (int, error) {
	if len(b) > f.n {
		f.w.Write(b[:f.n])
		return f.n, errors.New("no space left on device")
	}
	f.n -= len(b)
	return f.w.Write(b)
}

func TestWriteReplacesOrLeavesIntact(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	write := func(s string, wrap func(io.Writer) io.Writer) error {
		return Write(path, wrap, func(w io.Writer) error { _, err := io.WriteString(w, s); return err })
	}
	if err := write("first", nil); err != nil {
		t.Fatal(err)
	}
	if err := write("second, much longer", func(w io.Writer) io.Writer { return &failAfter{w, 3} }); err == nil {
		t.Fatal("a failing write reported success")
	}
	if b, _ := os.ReadFile(path); string(b) != "first" {
		t.Fatalf("failed write damaged the file: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	if err := write("second", nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "second" {
		t.Fatalf("got %q", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", st.Mode())
	}
	if err := Write(filepath.Join(dir, "missing", "f"), nil, func(io.Writer) error { return nil }); err == nil {
		t.Fatal("write into a missing folder succeeded")
	}
}

// TestErrorsNameNoTemporaryFile: a failed write names the target and the cause, never the temporary
// file it removed.
func TestErrorsNameNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "taken")
	os.Mkdir(blocker, 0o755)
	os.WriteFile(filepath.Join(blocker, "x"), nil, 0o644) // a non-empty folder: renaming over it fails
	for _, c := range []struct{ path, cause string }{
		{filepath.Join(dir, "missing", "x.png"), "no such file or directory"},
		{blocker, "rename into " + blocker},
	} {
		err := Write(c.path, nil, func(w io.Writer) error { _, err := io.WriteString(w, "data"); return err })
		if err == nil || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.cause) || strings.Contains(err.Error(), ".tmp") {
			t.Errorf("%s: error %v, want one naming the path and %q and no temporary file", c.path, err, c.cause)
		}
		if c.cause == "no such file or directory" && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%v is not os.ErrNotExist", err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

// IsTemp recognises the temporary file of a write in progress (what a killed process leaves) and
// nothing else.
func TestIsTemp(t *testing.T) {
	dir := t.TempDir()
	var seen []string
	err := Write(filepath.Join(dir, "s1-final.safetensors"), nil, func(w io.Writer) error {
		ents, err := os.ReadDir(dir)
		for _, e := range ents {
			seen = append(seen, e.Name())
		}
		return err
	})
	if err != nil || len(seen) != 1 || !IsTemp(seen[0]) {
		t.Fatalf("during a write the folder held %v (%v), want one temporary file", seen, err)
	}
	for _, name := range []string{"s1-final.safetensors", "config.yaml", ".probe", ".tmp123", ".x.tmp", "x.tmp123", ".x.tmp12a", ".x.tmpfile"} {
		if IsTemp(name) {
			t.Errorf("%q taken for a temporary file", name)
		}
	}
}
