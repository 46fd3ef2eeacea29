package sweep

// Records: one JSON line per finished unit of work, appended whole and synced only after the unit's
// files are on disk, so a records file always lists exactly the units that are complete; a line cut
// short by a crash is the last one and is dropped on the next read.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// ReadRecords reads a records file of T. A last line cut short by a crash (no newline, not JSON, or not
// valid) is left out, and good is the length of the file without it, which a writer truncates to before
// appending. A damaged line before the last is an error: the file was changed by something else. A
// missing file has no records.
func ReadRecords[T any](path string, valid func(T) bool) (rs []T, good int64, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read records: %w", err)
	}
	line := 0
	for off := 0; off < len(b); {
		line++
		end := bytes.IndexByte(b[off:], '\n')
		if end < 0 {
			return rs, int64(off), nil // cut short: no newline
		}
		last := off+end+1 == len(b)
		var r T
		if err := json.Unmarshal(b[off:off+end], &r); err != nil || !valid(r) {
			if last {
				return rs, int64(off), nil
			}
			return nil, 0, fmt.Errorf("records %s line %d are damaged (%v): restore the file or remove that line, then resume", path, line, err)
		}
		rs = append(rs, r)
		off += end + 1
	}
	return rs, int64(len(b)), nil
}

// Appender appends record lines to a file, each in one write and synced.
type Appender struct {
	f *os.File
	// Cut, when set, is called with each encoded line and may return fewer bytes to write and an error
	// to stop with (the crash tests' way to tear a line).
	Cut func(line []byte) ([]byte, error)
}

// OpenAppender opens path for appending after truncating it to good bytes (dropping a torn last line).
func OpenAppender(path string, good int64) (*Appender, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open records: %w", err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("records %s: drop the line cut short: %w", path, err)
	}
	if _, err := f.Seek(good, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("records %s: %w", path, err)
	}
	return &Appender{f: f}, nil
}

// Append writes v as one line and syncs it.
func (a *Appender) Append(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	b = append(b, '\n')
	var stop error
	if a.Cut != nil {
		b, stop = a.Cut(b)
	}
	if _, err := a.f.Write(b); err != nil {
		return fmt.Errorf("append to %s: %w", a.f.Name(), err)
	}
	if err := a.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", a.f.Name(), err)
	}
	return stop
}

// Close closes the file.
func (a *Appender) Close() error { return a.f.Close() }

// ReadAllRecords reads every records file of a kind (stem, ext as in Shard.FileName) in dir, the whole
// sweep's and every shard's, and refuses a unit recorded twice: dup describes it, naming both files.
func ReadAllRecords[T any, K comparable](dir, stem, ext string, valid func(T) bool, key func(T) K, dup func(r T, first, second string) error) ([]T, error) {
	whole, shards, err := ListFiles(dir, stem, ext)
	if err != nil {
		return nil, fmt.Errorf("folder %s: %w", dir, err)
	}
	var names []string
	if whole {
		names = append(names, stem+ext)
	}
	slices.SortFunc(shards, func(a, b Shard) int { return a.Index - b.Index })
	for _, s := range shards {
		names = append(names, s.FileName(stem, ext))
	}
	var all []T
	from := map[K]string{}
	for _, n := range names {
		rs, _, err := ReadRecords(filepath.Join(dir, n), valid)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if prev, seen := from[key(r)]; seen {
				return nil, dup(r, prev, n)
			}
			from[key(r)] = n
			all = append(all, r)
		}
	}
	return all, nil
}
