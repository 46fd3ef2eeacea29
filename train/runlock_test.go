package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/internal/treestate"
)

// treeState records root; sameTree fails the test for every difference.
func treeState(t *testing.T, root string) treestate.State {
	t.Helper()
	st, err := treestate.Of(root)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func sameTree(t *testing.T, what string, want, got treestate.State) {
	t.Helper()
	for _, d := range treestate.Diff(want, got) {
		t.Errorf("%s: %s", what, d)
	}
}

// stoppedRun leaves a run folder with checkpoints of stage 0: a run stopped after three steps.
func stoppedRun(t *testing.T, p *Preset) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := newFake()
	m.after = func(*Batch) {
		if m.applied.Load() == 3 {
			cancel()
		}
	}
	if sum, err := newRunner(t, m, p, dir, AllStages, false).Run(ctx); err != nil || !sum.Stopped {
		t.Fatalf("%+v %v", sum, err)
	}
	return dir
}

// A second writer on a run folder is refused while the first holds it, naming the holder and what to
// do, and writes nothing; readers still read; once the first ends, the folder opens again.
func TestSecondWriterRefused(t *testing.T) {
	p := testPreset(t)
	dir := stoppedRun(t, p)
	m := newFake()
	release := make(chan struct{})
	inStep := make(chan struct{}, 1)
	m.before = func(*Batch) error {
		select {
		case inStep <- struct{}{}:
			<-release
		default:
		}
		return nil
	}
	first := newRunner(t, m, p, dir, AllStages, true)
	done := make(chan error, 1)
	go func() {
		_, err := first.Run(context.Background())
		done <- err
	}()
	<-inStep
	before := treeState(t, dir)
	host, _ := os.Hostname()
	for name, open := range map[string]func() error{
		"NewRunner": func() error {
			_, err := NewRunner(newFake(), Options{Preset: p, RunDir: dir, Stage: AllStages, Resume: true})
			return err
		},
		"CheckOptions": func() error {
			return CheckOptions(Options{Preset: p, RunDir: dir, Stage: AllStages, Resume: true})
		},
		"OpenRunFolder": func() error {
			_, err := OpenRunFolder(dir, "")
			return err
		},
	} {
		err := open()
		if !errors.Is(err, ErrRunInUse) {
			t.Fatalf("%s on a folder being written: %v, want ErrRunInUse", name, err)
		}
		for _, s := range []string{dir, "PID " + strconv.Itoa(os.Getpid()), "host " + host, "since", "--resume", "another run folder"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not mention %q", name, err, s)
			}
		}
	}
	sameTree(t, "refused writers", before, treeState(t, dir))
	if run, err := ReadRun(dir); err != nil || len(run.Checkpoints) == 0 {
		t.Errorf("reading a run folder being written: %+v %v", run, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the lock file outlived the run: %v", err)
	}
	r, err := NewRunner(newFake(), Options{Preset: p, RunDir: dir, Stage: AllStages, Resume: true})
	if err != nil {
		t.Fatalf("after the first writer ended: %v", err)
	}
	r.Close()
}

// exitedPID is the PID of a process that has ended.
func exitedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// A lock file left by a writer that was killed (its process is gone, so the OS lock is too) is taken
// over with a warning naming it, and the temporary files of its unfinished writes are removed.
func TestStaleLockTakenOver(t *testing.T) {
	p := testPreset(t)
	dir := stoppedRun(t, p)
	pid := exitedPID(t)
	since := time.Now().Add(-time.Hour).Round(time.Second)
	rec, _ := json.Marshal(LockHolder{PID: pid, Host: "crashed-host", Since: since, Command: "lumina train"})
	for _, c := range []struct{ name, lock, want string }{
		{"record", string(rec), fmt.Sprintf("PID %d on host crashed-host (lumina train), since %s", pid, since.Local().Format("2006-01-02 15:04:05"))},
		{"cut-record", string(rec[:10]), "a writer whose record is unreadable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, LockFile), []byte(c.lock), 0o644); err != nil {
				t.Fatal(err)
			}
			tmp := filepath.Join(dir, CheckpointDir, ".s1-00000002.safetensors.tmp12345")
			if err := os.WriteFile(tmp, []byte("half a checkpoint"), 0o644); err != nil {
				t.Fatal(err)
			}
			r := newRunner(t, newFake(), p, dir, AllStages, true)
			if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the interrupted write %s is still there", tmp)
			}
			var warnings []string
			done := make(chan struct{})
			evs := r.Events()
			go func() {
				for ev := range evs {
					if w, ok := ev.(WarningEvent); ok {
						warnings = append(warnings, w.Message)
					}
				}
				close(done)
			}()
			if _, err := r.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			<-done
			if len(warnings) == 0 || !strings.Contains(warnings[0], "took over run folder "+dir+" from "+c.want) ||
				!strings.Contains(warnings[0], "ended without releasing it") {
				t.Fatalf("warnings %q, want the takeover from %s first", warnings, c.want)
			}
		})
	}
}

// A refused run leaves its folder exactly as it was, and does not create a new one.
func TestRefusalsWriteNothing(t *testing.T) {
	p := testPreset(t)
	existing := stoppedRun(t, p)
	changed := p.Clone()
	changed.Stages[1].LR = 0.04
	invalid := p.Clone()
	invalid.Stages[0].Batch = 0
	held := stoppedRun(t, p)
	holder, err := OpenRunFolder(held, "")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	for _, c := range []struct {
		name string
		opt  Options
		want string
	}{
		{"new folder, stage out of range", Options{Preset: p, Stage: 9}, "stage 9 outside 0..3"},
		{"new folder, invalid preset", Options{Preset: invalid, Stage: AllStages}, "batch 0"},
		{"new folder, stage without its previous stage", Options{Preset: p, Stage: 2}, "no final checkpoint"},
		{"new folder, resume without a preset", Options{Stage: AllStages, Resume: true}, "has no config.yaml"},
		{"existing, stage out of range", Options{RunDir: existing, Preset: p, Stage: 9, Resume: true}, "stage 9"},
		{"existing, checkpoints without resume", Options{RunDir: existing, Preset: p, Stage: AllStages}, "pass --resume"},
		{"existing, config differs", Options{RunDir: existing, Preset: changed, Stage: AllStages, Resume: true}, "differs from the preset given"},
		{"existing, later stage without its previous stage", Options{RunDir: existing, Preset: p, Stage: 2, Resume: true}, "no final checkpoint"},
		{"existing, held by another writer", Options{RunDir: held, Preset: p, Stage: AllStages, Resume: true}, "is being written by"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.opt.RunDir == "" {
				c.opt.RunDir = filepath.Join(t.TempDir(), "new")
			}
			before := treeState(t, c.opt.RunDir)
			_, err := NewRunner(newFake(), c.opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a refusal mentioning %q", err, c.want)
			}
			sameTree(t, c.name, before, treeState(t, c.opt.RunDir))
		})
	}
}
