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
