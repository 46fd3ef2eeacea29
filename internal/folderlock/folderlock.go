// Package folderlock gives a folder one writer at a time. A writer holds an OS file lock (flock) on a
// lock file in the folder for its whole life and writes who it is into the file. The OS drops the lock
// when the process ends, however it ends, so a lock file whose lock nobody holds was left by a writer
// that was killed or crashed; the next writer takes it over and is told whose it was. Readers never lock.
//
// Training run folders (train), sweep folders (ablation) and experiment folders (experiment) use it.
package folderlock

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

// Spec says which lock file a kind of folder has and how its refusals read.
type Spec struct {
	// File is the lock file's name inside the folder.
	File string
	// Noun names the kind of folder in messages, e.g. "run folder".
	Noun string
	// InUse is the sentinel every refusal wraps, so callers can test for it with errors.Is.
	InUse error
	// Advice ends a refusal: what the refused writer's user should do.
	Advice string
}

// Holder is what a writer records in the lock file.
type Holder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
	// Command is the holder's command line, to tell a person which process it is.
	Command string `json:"command,omitempty"`
}

func (h Holder) String() string {
	s := fmt.Sprintf("PID %d on host %s", h.PID, h.Host)
	if h.Command != "" {
		s += fmt.Sprintf(" (%s)", h.Command)
	}
	if !h.Since.IsZero() {
		s += fmt.Sprintf(", since %s", h.Since.Local().Format("2006-01-02 15:04:05"))
	}
	return s
}

// Who names the holder for a takeover message; a record cut short by a crash has no PID.
func (h Holder) Who() string {
	if h.PID == 0 {
		return "a writer whose record is unreadable"
	}
	return h.String()
}

func current() Holder {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	cmd := strings.Join(os.Args, " ")
	if len(cmd) > 200 {
		cmd = cmd[:200] + "…"
	}
	return Holder{PID: os.Getpid(), Host: host, Since: time.Now().Round(time.Second), Command: cmd}
}

// Lock is a held folder lock.
type Lock struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// readHolder reads a lock file's holder; ok is false when the file is empty or not a holder record.
func readHolder(f *os.File) (h Holder, ok bool) {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if err != nil || len(b) == 0 || json.Unmarshal(b, &h) != nil {
		return h, false
	}
	return h, true
}

func inUse(dir string, s Spec, f *os.File) error {
	msg := "another writer (its record is unreadable)"
	if h, ok := readHolder(f); ok {
		msg = h.String()
		if !h.Since.IsZero() {
			msg += fmt.Sprintf(" (%s ago)", time.Since(h.Since).Round(time.Second))
		}
	}
	return fmt.Errorf("%w: %s is being written by %s. %s", s.InUse, dir, msg, s.Advice)
}

// Acquire takes dir's lock (dir must exist). prev is the holder recorded by a writer that ended without
// releasing the lock (nil when there was none; a zero Holder when its record was cut short); an error
// wrapping s.InUse names the current holder.
func Acquire(dir string, s Spec) (l *Lock, prev *Holder, err error) {
	path := filepath.Join(dir, s.File)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: lock: %w", s.Noun, dir, err)
		}
		held, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s %s: lock %s: %w", s.Noun, dir, path, err)
		}
		if !held {
			err := inUse(dir, s, f)
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
			prev = &Holder{} // a record cut short by a crash
		}
		b, _ := json.Marshal(current())
		if err := f.Truncate(0); err == nil {
			_, err = f.WriteAt(append(b, '\n'), 0)
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s %s: write %s: %w", s.Noun, dir, path, err)
		}
		f.Sync()
		return &Lock{f: f, path: path}, prev, nil
	}
}

// Check refuses, writing nothing, when another writer holds dir's lock. A missing folder or lock file
// is free.
func Check(dir string, s Spec) error {
	f, err := os.Open(filepath.Join(dir, s.File))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: lock: %w", s.Noun, dir, err)
	}
	defer f.Close()
	held, err := tryLock(f)
	if err != nil {
		return fmt.Errorf("%s %s: lock: %w", s.Noun, dir, err)
	}
	if !held {
		return inUse(dir, s, f)
	}
	return nil // closing f drops the probe's lock
}

// Release removes the lock file, then drops the lock: a writer that opened the file before the removal
// finds it gone once it gets the lock, and retries on a new file. It may be called more than once, and
// on a nil Lock.
func (l *Lock) Release() error {
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
