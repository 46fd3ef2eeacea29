package train

// A test hook for the crash test: a writer told to stop for good at a chosen point of its writes, so
// that the test can kill it exactly there.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PauseEnv, when set, makes the run folder's writer stop for good at one point and say so on stderr
// (a line starting with PauseEnv): "write:N" in the middle of its Nth atomic write (the temporary
// file part-written), "wrote:N" just after the Nth atomic write is in place, "line:N" in the middle of
// the Nth metrics line (half of it in the file). "write:N:TEXT" and "wrote:N:TEXT" count only the
// writes of files whose name contains TEXT. Counts are per process. Only tests set it.
const PauseEnv = "LUMINA_TEST_PAUSE"

type pausePoint struct {
	kind     string // write, wrote or line
	match    string // what a counted write's file name contains
	at, seen int
}

func pauseFromEnv() (*pausePoint, error) {
	v := os.Getenv(PauseEnv)
	if v == "" {
		return nil, nil
	}
	kind, rest, _ := strings.Cut(v, ":")
	n, match, _ := strings.Cut(rest, ":")
	at, err := strconv.Atoi(n)
	if (kind != "write" && kind != "wrote" && kind != "line") || err != nil || at < 1 || (kind == "line" && match != "") {
		return nil, fmt.Errorf("%s=%q: want write:N[:TEXT], wrote:N[:TEXT] or line:N with N ≥ 1", PauseEnv, v)
	}
	return &pausePoint{kind: kind, match: match, at: at}, nil
}

// hit counts one event of kind for the file at path ("write" counts atomic writes for both write and
// wrote) and reports whether the writer stops at this one.
func (p *pausePoint) hit(kind, path string) bool {
	if p == nil || (p.kind != kind && !(kind == "write" && p.kind == "wrote")) || !strings.Contains(filepath.Base(path), p.match) {
		return false
	}
	p.seen++
	return p.seen == p.at
}

// stopHere announces the pause and never returns.
func (p *pausePoint) stopHere(what string) {
	fmt.Fprintf(os.Stderr, "%s: stopped at %s:%d%s, %s\n", PauseEnv, p.kind, p.at, strings.TrimSuffix(":"+p.match, ":"), what)
	for {
		time.Sleep(time.Hour)
	}
}

// aroundWrite counts an atomic write of path. At the chosen one it returns a wrap that stops in the
// middle of the write ("write") or a done that stops after it ("wrote"); otherwise wrap as it is and a
// done that does nothing.
func (p *pausePoint) aroundWrite(path string, wrap func(io.Writer) io.Writer) (func(io.Writer) io.Writer, func()) {
	switch {
	case !p.hit("write", path):
		return wrap, func() {}
	case p.kind == "wrote":
		return wrap, func() { p.stopHere("after writing " + path) }
	}
	return func(w io.Writer) io.Writer {
		if wrap != nil {
			w = wrap(w)
		}
		return pausingWriter{w: w, p: p, path: path}
	}, func() {}
}

// inLine counts a metrics line; at the chosen one it writes half of it to the file and stops.
func (p *pausePoint) inLine(m *metricsWriter, line []byte) {
	if p.hit("line", "") {
		m.w.Flush()
		m.f.Write(line[:len(line)/2])
		p.stopHere("half of a line in " + m.f.Name())
	}
}

// pausingWriter stops after its first write has reached the file.
type pausingWriter struct {
	w    io.Writer
	p    *pausePoint
	path string
}

func (pw pausingWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.stopHere(fmt.Sprintf("%d bytes into %s", n, pw.path))
	return n, err
}
