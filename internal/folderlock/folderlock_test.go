package folderlock

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var errTestInUse = errors.New("test folder is in use")

var testSpec = Spec{File: "lock.test", Noun: "test folder", InUse: errTestInUse, Advice: "Do something else."}

// A held lock refuses a second writer and the probe, naming the holder and the advice; released, the
// file is gone and the folder opens again.
func TestSecondWriterRefused(t *testing.T) {
	dir := t.TempDir()
	l, prev, err := Acquire(dir, testSpec)
	if err != nil || prev != nil {
		t.Fatalf("first Acquire: %v, prev %v", err, prev)
	}
	for name, try := range map[string]func() error{
		"Acquire": func() error { _, _, err := Acquire(dir, testSpec); return err },
		"Check":   func() error { return Check(dir, testSpec) },
	} {
		err := try()
		if !errors.Is(err, errTestInUse) {
			t.Fatalf("%s on a held folder: %v, want the spec's InUse", name, err)
		}
		for _, s := range []string{dir, "PID " + strconv.Itoa(os.Getpid()), "Do something else."} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not mention %q", name, err, s)
			}
		}
	}
	// Another spec's lock file in the same folder is independent.
	other := testSpec
	other.File = "lock.other"
	l2, _, err := Acquire(dir, other)
	if err != nil {
		t.Fatalf("a second lock file in the same folder: %v", err)
	}
	l2.Release()
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, testSpec.File)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock file outlived its release: %v", err)
	}
	if err := Check(dir, testSpec); err != nil {
		t.Errorf("Check after release: %v", err)
	}
}

// A record left by a writer that ended without releasing is taken over and reported; a cut record
// reports a zero holder.
func TestStaleLockTakenOver(t *testing.T) {
	since := time.Now().Add(-time.Hour).Round(time.Second)
	rec, _ := json.Marshal(Holder{PID: 999999, Host: "gone", Since: since})
	for _, c := range []struct {
		name, record string
		want         Holder
	}{
		{"record", string(rec), Holder{PID: 999999, Host: "gone", Since: since}},
		{"cut", string(rec[:7]), Holder{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, testSpec.File), []byte(c.record), 0o644)
			l, prev, err := Acquire(dir, testSpec)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			if prev == nil || prev.PID != c.want.PID || prev.Host != c.want.Host || !prev.Since.Equal(c.want.Since) {
				t.Fatalf("prev %+v, want %+v", prev, c.want)
			}
			if c.want.PID == 0 && prev.Who() != "a writer whose record is unreadable" {
				t.Errorf("Who of a cut record: %q", prev.Who())
			}
			b, _ := os.ReadFile(filepath.Join(dir, testSpec.File))
			var h Holder
			if json.Unmarshal(b, &h) != nil || h.PID != os.Getpid() {
				t.Errorf("the lock file records %q, want this process", b)
			}
		})
	}
}
