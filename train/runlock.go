package train

// The run-folder lock: one writer per run folder. A writer (a `lumina train`, a TUI train job, anything
// that opens the folder through OpenRunFolder) holds an OS file lock on DIR/lock for its whole life and
// writes who it is into the file. The OS drops the lock when the process ends, however it ends, so a
// lock file whose lock nobody holds was left by a writer that was killed or crashed; the next writer
// takes it over and says so. Readers (ReadRun, ListRuns, sampling from a checkpoint) never lock.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// LockFile is the run folder's lock, written by the writer that holds it.
const LockFile = "lock"

// ErrRunInUse is the error of a writer refused because another one holds the run folder.
var ErrRunInUse = errors.New("run folder is in use by another writer")

// LockHolder is what a writer records in the lock file.
type LockHolder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
	// Command is the holder's command line, to tell a person which process it is.
	Command string `json:"command,omitempty"`
}

func (h LockHolder) String() string {
	s := fmt.Sprintf("PID %d on host %s", h.PID, h.Host)
	if h.Command != "" {
		s += fmt.Sprintf(" (%s)", h.Command)
	}
	if !h.Since.IsZero() {
		s += fmt.Sprintf(", since %s", h.Since.Local().Format("2006-01-02 15:04:05"))
	}
	return s
}

func currentHolder() LockHolder {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	cmd := strings.Join(os.Args, " ")
	if len(cmd) > 200 {
		cmd = cmd[:200] + "…"
	}
	return LockHolder{PID: os.Getpid(), Host: host, Since: time.Now().Round(time.Second), Command: cmd}
}

// runLock is a held run-folder lock.
type runLock struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// readHolder reads a lock file's holder; ok is false when the file is empty or not a holder record.
func readHolder(f *os.File) (h LockHolder, ok bool) {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if err != nil || len(b) == 0 || json.Unmarshal(b, &h) != nil {
		return h, false
	}
	return h, true
}

func inUse(dir string, f *os.File) error {
	msg := "another writer (its record is unreadable)"
	if h, ok := readHolder(f); ok {
		msg = h.String()
		if !h.Since.IsZero() {
			msg += fmt.Sprintf(" (%s ago)", time.Since(h.Since).Round(time.Second))
		}
	}
	return fmt.Errorf("%w: %s is being written by %s. Wait for that run to end, or stop it (Ctrl-C in its terminal, or Stop in its TUI, saves a checkpoint), then continue with --resume; or choose another run folder",
		ErrRunInUse, dir, msg)
}

// acquireLock takes dir's lock (dir must exist). prev is the holder recorded by a writer that ended
// without releasing the lock (nil when there was none); an error wrapping ErrRunInUse names the
// current holder.
func acquireLock(dir string) (l *runLock, prev *LockHolder, err error) {
	path := filepath.Join(dir, LockFile)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("run folder %s: lock: %w", dir, err)
		}
		held, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("run folder %s: lock %s: %w", dir, path, err)
		}
		if !held {
			err := inUse(dir, f)
			f.Close()
			return nil, nil, err
		}
		// A holder that was releasing removed the file between our open and our lock: the lock that
		// counts is on the file at the path now.
		st, err1 := f.Stat()
		cur, err2 := os.Stat(path)
		if err1 != nil || err2 != nil || !os.SameFile(st, cur) {
			f.Close()
			continue
		}
		if h, ok := readHolder(f); ok {
			prev = &h
		} else if st.Size() > 0 {
			prev = &LockHolder{} // a record cut short by a crash
		}
		b, _ := json.Marshal(currentHolder())
		if err := f.Truncate(0); err == nil {
			_, err = f.WriteAt(append(b, '\n'), 0)
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("run folder %s: write %s: %w", dir, path, err)
		}
		f.Sync()
		return &runLock{f: f, path: path}, prev, nil
	}
}

// checkLock refuses, writing nothing, when another writer holds dir's lock.
func checkLock(dir string) error {
	f, err := os.Open(filepath.Join(dir, LockFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("run folder %s: lock: %w", dir, err)
	}
	defer f.Close()
	held, err := tryLock(f)
	if err != nil {
		return fmt.Errorf("run folder %s: lock: %w", dir, err)
	}
	if !held {
		return inUse(dir, f)
	}
	return nil // closing f drops the probe's lock
}

// release removes the lock file, then drops the lock: a writer that opened the file before the
// removal finds it gone once it gets the lock, and retries on a new file.
func (l *runLock) release() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := os.Remove(l.path)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("release %s: %w", l.path, err)
	}
	return nil
}

func tookOverMessage(dir string, h LockHolder) string {
	who := "a writer whose record is unreadable"
	if h.PID != 0 {
		who = h.String()
	}
	return fmt.Sprintf("took over run folder %s from %s, which ended without releasing it (killed or crashed); the files it had not finished writing are removed",
		dir, who)
}
