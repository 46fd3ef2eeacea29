package experiment

// Progress: the events an experiment run reports to its caller (OnEvent) and, all but the training
// steps, appends to the folder's progress file, one JSON line each, for a display that tails it (the
// runs' own metrics.jsonl carry the steps).

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/lumina-workbench/lumina/internal/folderlock"
	"github.com/lumina-workbench/lumina/sweep"
	"github.com/lumina-workbench/lumina/train"
)

// Event is one of the types below.
type Event interface{ kind() string }

// Started opens a call of Run: Done of the shard's Runs had finished before.
type Started struct {
	Dir   string
	Shard sweep.Shard
	Runs  int
	Done  int
	// TookOver is the writer that held the folder before and ended without releasing it, nil if none.
	TookOver *folderlock.Holder
}

// RunStarted opens run Index (0-based) of the Pending this call trains; Resumed when its folder existed.
type RunStarted struct {
	Run            RunID
	Index, Pending int
	Resumed        bool
}

// Step is a training step of the run (not written to the progress file).
type Step struct {
	Run  RunID
	Step train.StepEvent
}

// StageEnded is a stage of the run finished; Score is its ToyEval overall score, nil when none ran.
type StageEnded struct {
	Run   RunID
	Stage int
	Name  string
	Steps int
	Score *float64
}

// Warning is a problem the run survives.
type Warning struct {
	Run     RunID
	Message string
}

// RunDone closes a run: every stage trained and the record written.
type RunDone struct {
	Run            RunID
	Index, Pending int
	WallS          float64
	Cuts           []Cut
}

func (Started) kind() string    { return "started" }
func (RunStarted) kind() string { return "run_started" }
func (Step) kind() string       { return "step" }
func (StageEnded) kind() string { return "stage_ended" }
func (Warning) kind() string    { return "warning" }
func (RunDone) kind() string    { return "run_done" }

// ProgressLine is a line of the progress file: the event's kind, when it happened, and its fields.
type ProgressLine struct {
	Time  time.Time       `json:"time"`
	Kind  string          `json:"kind"`
	Event json.RawMessage `json:"event"`
}

// progressFile appends events to the progress file (a log for displays: not synced per line).
type progressFile struct{ f *os.File }

func openProgress(path string) (*progressFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("progress file: %w", err)
	}
	return &progressFile{f}, nil
}

func (p *progressFile) write(e Event) error {
	if _, ok := e.(Step); ok {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("progress: %w", err)
	}
	line, err := json.Marshal(ProgressLine{Time: time.Now().UTC(), Kind: e.kind(), Event: b})
	if err != nil {
		return fmt.Errorf("progress: %w", err)
	}
	if _, err := p.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("progress %s: %w", p.f.Name(), err)
	}
	return nil
}

func (p *progressFile) Close() error { return p.f.Close() }
