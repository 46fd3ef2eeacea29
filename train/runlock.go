package train

// The run-folder lock: one writer per run folder (internal/folderlock). A writer (a `lumina train`, a
// TUI train job, anything that opens the folder through OpenRunFolder) holds DIR/lock for its whole life;
// readers (ReadRun, ListRuns, sampling from a checkpoint) never lock.

import (
	"errors"
	"fmt"

	"github.com/lumina-workbench/lumina/internal/folderlock"
)

// LockFile is the run folder's lock, written by the writer that holds it.
const LockFile = "lock"

// ErrRunInUse is the error of a writer refused because another one holds the run folder.
var ErrRunInUse = errors.New("run folder is in use by another writer")

// LockHolder is what a writer records in the lock file.
type LockHolder = folderlock.Holder

var runLockSpec = folderlock.Spec{
	File:   LockFile,
	Noun:   "run folder",
	InUse:  ErrRunInUse,
	Advice: "Wait for that run to end, or stop it (Ctrl-C in its terminal, or Stop in its TUI, saves a checkpoint), then continue with --resume; or choose another run folder",
}

// acquireLock takes dir's lock (dir must exist); see folderlock.Acquire.
func acquireLock(dir string) (*folderlock.Lock, *LockHolder, error) {
	return folderlock.Acquire(dir, runLockSpec)
}

// checkLock refuses, writing nothing, when another writer holds dir's lock.
func checkLock(dir string) error { return folderlock.Check(dir, runLockSpec) }

func tookOverMessage(dir string, h LockHolder) string {
	return fmt.Sprintf("took over run folder %s from %s, which ended without releasing it (killed or crashed); the files it had not finished writing are removed",
		dir, h.Who())
}
