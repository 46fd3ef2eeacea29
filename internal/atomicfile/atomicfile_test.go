package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
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
