package train

// Reading a run folder while another process writes it: the metrics as they grow (MetricsTail), whether
// the writer is still there (ProbeWriter), and whether the run is complete (RunComplete). None of it
// takes the folder's lock or writes anything, so a reader can follow a run from any process, however
// the writer was started (the CLI, a TUI, a batch job).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// MetricsTail reads a metrics.jsonl file as it grows. The zero value with Path set starts at the
// beginning of the file.
type MetricsTail struct {
	Path string
	// Bad counts complete lines that did not parse, which are skipped.
	Bad int

	off  int64       // bytes consumed: the start of the first line not yet returned
	file os.FileInfo // the file read so far, to notice it being replaced
}

// maxTailRead bounds one Read, so a reader that starts on a long run catches up over a few reads
// instead of holding the whole file at once.
const maxTailRead = 16 << 20

// Read returns the records appended since the last Read. reset is true when the file was replaced or
// cut since then (a resumed run rewrites it to the steps its checkpoint had seen, and a new run in the
// same folder starts it again): recs then start from the beginning of the file, and what earlier Reads
// returned no longer holds. A last line without its newline is being written: it is left for the next
// Read. A missing file has no records; a file that disappears after being read is a reset.
func (t *MetricsTail) Read() (recs []MetricsRecord, reset bool, err error) {
	f, err := os.Open(t.Path)
	if errors.Is(err, fs.ErrNotExist) {
		if t.file != nil {
			t.off, t.file = 0, nil
			return nil, true, nil
		}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read metrics: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("read metrics: %w", err)
	}
	if t.file != nil && (!os.SameFile(t.file, st) || st.Size() < t.off) {
		t.off, reset = 0, true
	}
	t.file = st
	n := min(st.Size()-t.off, maxTailRead)
	if n <= 0 {
		return nil, reset, nil
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, t.off); err != nil && !errors.Is(err, io.EOF) {
		return nil, reset, fmt.Errorf("read metrics: %w", err)
	}
	end := bytes.LastIndexByte(buf, '\n')
	if end < 0 {
		if n == maxTailRead {
			// One line longer than a whole read is not a metrics line: skip it rather than stall.
			t.off += n
			t.Bad++
		}
		return nil, reset, nil
	}
	for _, line := range bytes.Split(buf[:end], []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r MetricsRecord
		if json.Unmarshal(line, &r) != nil {
			t.Bad++
			continue
		}
		recs = append(recs, r)
	}
	t.off += int64(end + 1)
	return recs, reset, nil
}

// WriterState is what a reader can tell about a run folder's writer.
type WriterState int

const (
	// NoWriter: there is no lock file, so nobody writes the folder and the last writer released it.
	NoWriter WriterState = iota
	// WriterAlive: the process named in the lock file holds the lock.
	WriterAlive
	// WriterGone: the lock file names a process that has ended without releasing it (killed or crashed).
	WriterGone
	// WriterUnknown: the lock file names a process on another host (or none at all), which this host
	// cannot check.
	WriterUnknown
)

var writerStateNames = [...]string{"no writer", "writing", "writer gone", "writer unknown"}

func (s WriterState) String() string { return writerStateNames[s] }

// Writer is a run folder's writer as a reader sees it.
type Writer struct {
	State WriterState
	// Holder is the lock file's record; HolderOK is false when there is no lock file or its record does
	// not parse (a writer that is just starting, or one cut short by a crash).
	Holder   LockHolder
	HolderOK bool
}

// ProbeWriter looks at dir's lock file without taking the lock: a holder on this host is alive when its
// process exists and holds a lock (on Linux, /proc/locks says which).
func ProbeWriter(dir string) (Writer, error) {
	b, err := os.ReadFile(filepath.Join(dir, LockFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Writer{State: NoWriter}, nil
	}
	if err != nil {
		return Writer{}, fmt.Errorf("run folder %s: %w", dir, err)
	}
	var w Writer
	w.HolderOK = len(b) > 0 && json.Unmarshal(b, &w.Holder) == nil && w.Holder.PID > 0
	host, _ := os.Hostname()
	if !w.HolderOK || w.Holder.Host != host {
		w.State = WriterUnknown
		return w, nil
	}
	w.State = WriterGone
	if processAlive(w.Holder.PID) && holdsLock(filepath.Join(dir, LockFile), w.Holder.PID) {
		w.State = WriterAlive
	}
	return w, nil
}

// RunComplete reports whether the run in dir trained p's last stage to the end: FinalFile exists, or
// the final checkpoint of the last stage that is not skipped does (a model that exports nothing).
func RunComplete(dir string, p *Preset) bool {
	if st, err := os.Stat(filepath.Join(dir, FinalFile)); err == nil && st.Mode().IsRegular() {
		return true
	}
	if p == nil {
		return false
	}
	last := -1
	for i, s := range p.Stages {
		if !s.Skip {
			last = i
		}
	}
	if last < 0 {
		return false
	}
	ckpts, _ := listCheckpoints(dir, DefaultCheckpointExt)
	for _, c := range ckpts {
		if c.Final && c.Stage == last {
			return true
		}
	}
	return false
}
