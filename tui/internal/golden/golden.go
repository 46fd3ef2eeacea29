// Package golden compares a view's output with testdata/<name>.golden; `go test -update` rewrites the
// files. The output is stored as rendered, escape sequences included (colours and the half-block
// image are part of what a view draws), and the comparison also checks the frame's size.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// pkgDir is the test's package folder, taken before any test changes the working folder.
var pkgDir, _ = os.Getwd()

// Assert checks that got is exactly w×h cells and equals the golden file.
func Assert(t *testing.T, name, got string, w, h int) {
	t.Helper()
	lines := strings.Split(got, "\n")
	if len(lines) != h {
		t.Errorf("%s: %d lines, want %d", name, len(lines), h)
	}
	for i, l := range lines {
		if cw := ansi.StringWidth(l); cw != w {
			t.Errorf("%s: line %d is %d cells wide, want %d: %q", name, i, cw, w, ansi.Strip(l))
			break
		}
	}
	path := filepath.Join(pkgDir, "testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run go test -update to create it)", name, err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s (go test -update rewrites it); got, without styles:\n%s\nwant:\n%s",
			name, path, ansi.Strip(got), ansi.Strip(string(want)))
	}
}
