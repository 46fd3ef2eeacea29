package experiment

// The engine: every variant × seed of an experiment (or of one shard of them), one run folder each,
// trained through train.Runner, so a run cut short continues exactly with --resume. The experiment
// folder:
//
//	DIR/experiment.yaml        the experiment file as given (a resume or collect compares and reads it)
//	DIR/lock                   who writes the folder now (lock.shard-I-of-N for a shard)
//	DIR/runs/<variant>-seed<k>/ the run folders (train's layout: config.yaml, metrics.jsonl, eval/, …)
//	DIR/runs.jsonl             one line per finished run (runs.shard-I-of-N.jsonl for a shard)
//	DIR/progress.jsonl         what happened, one event a line, for a display to tail
//	DIR/summary.md, summary.csv, loss.png, eval.png   once every run has finished

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/internal/folderlock"
	"github.com/lumina-workbench/lumina/sweep"
	"github.com/lumina-workbench/lumina/train"
)

// Experiment folder names.
const (
	SourceFile = "experiment.yaml"
	RunsDir    = "runs"
	SummaryMD  = "summary.md"
	SummaryCSV = "summary.csv"
	SlurmFile  = "experiment.sbatch"

	recordsStem, recordsExt = "runs", ".jsonl"
	progressStem            = "progress"
)

// RecordsName is the shard's file of finished runs: runs.jsonl, or runs.shard-I-of-N.jsonl.
func RecordsName(s sweep.Shard) string { return s.FileName(recordsStem, recordsExt) }

// ProgressName is the shard's progress file: progress.jsonl, or progress.shard-I-of-N.jsonl.
func ProgressName(s sweep.Shard) string { return s.FileName(progressStem, recordsExt) }

// Options are an experiment run's inputs.
type Options struct {
	Exp *Experiment
	Dir string
	// Shard is the part of the runs to train; the zero Shard is all of them.
	Shard sweep.Shard
	// Resume continues the folder: finished runs are skipped, interrupted ones continue from their
	// newest checkpoint. Without it a folder that holds runs is refused.
	Resume bool
	// NewModel builds a run's model (cmd/lumina builds the real networks). CheckModel, if set, vets a
	// run's preset before any work (memory).
	NewModel   func(p *train.Preset) (train.Model, error)
	CheckModel func(p *train.Preset) error
	// OnEvent, if set, sees the experiment's progress, training steps included.
	OnEvent func(Event)
	// Report, if set, draws the plots once summary.md and summary.csv are written.
	Report ReportFunc
}

// ReportFunc draws a finished experiment's pictures into dir.
type ReportFunc func(dir string, s *Summary) error

// ErrFolderInUse is the error of a run refused because another writer holds the experiment folder.
var ErrFolderInUse = errors.New("experiment folder is in use by another writer")

func lockSpec(s sweep.Shard) folderlock.Spec {
	return folderlock.Spec{File: s.LockName(), Noun: "experiment folder", InUse: ErrFolderInUse,
		Advice: "Wait for that experiment to end, or stop it (Ctrl-C), then continue with --resume; or choose another --out"}
}

// Record is a line of runs.jsonl: a run that finished every stage.
type Record struct {
	Variant string  `json:"variant"`
	Seed    uint64  `json:"seed"`
	Dir     string  `json:"dir"` // relative to the experiment folder
	WallS   float64 `json:"wall_s"`
	// Cuts are the stages a wall-clock cap ended before their step budget.
	Cuts []Cut `json:"cuts,omitempty"`
}

func (r Record) key() [2]string { return [2]string{r.Variant, fmt.Sprint(r.Seed)} }

func validRecord(r Record) bool { return r.Variant != "" && r.Dir != "" }

// Shards lists the runs of shard s.
func (e *Experiment) Shard(s sweep.Shard) []RunID {
	var out []RunID
	for _, r := range e.Runs() {
		if s.Owns(r.Group) {
			out = append(out, r)
		}
	}
	return out
}

// Check refuses, writing nothing, what would make the run fail or damage a folder: a folder of another
// experiment, results of the other mode (whole vs shards), a folder with runs without Resume, a held
// lock, a run folder train would refuse, a model the caller's check refuses.
func Check(o Options) error {
	if o.Exp == nil || o.Dir == "" || o.NewModel == nil {
		return errors.New("experiment: a run needs an experiment, a folder and a model builder")
	}
	dir := o.Dir
	exists, err := sweep.StatOut(dir)
	if err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(dir, SourceFile)); err == nil {
		if !bytes.Equal(b, o.Exp.Source) {
			src := filepath.Join(dir, SourceFile)
			return fmt.Errorf("experiment folder %s was started with another experiment file (%s): continue it with `lumina experiment %s --out %s --resume`, or choose another --out",
				dir, src, src, dir)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("experiment folder %s: %w", dir, err)
	}
	if err := sweep.CheckMode(dir, recordsStem, recordsExt, o.Shard, "lumina experiment collect"); err != nil {
		return err
	}
	runs := o.Exp.Shard(o.Shard)
	if !o.Resume {
		if _, err := os.Stat(filepath.Join(dir, RecordsName(o.Shard))); err == nil {
			return fmt.Errorf("experiment folder %s already holds runs (%s): pass --resume to continue it, or choose another --out", dir, RecordsName(o.Shard))
		}
		for _, r := range runs {
			if _, err := os.Stat(filepath.Join(dir, r.Folder())); err == nil {
				return fmt.Errorf("experiment folder %s already holds run %s: pass --resume to continue it, or choose another --out", dir, r.Folder())
			}
		}
	}
	if err := folderlock.Check(dir, lockSpec(o.Shard)); err != nil {
		return err
	}
	if !o.Shard.Whole() {
		// A collect (or a whole run) holds the folder's own lock while it writes the summary.
		if err := folderlock.Check(dir, lockSpec(sweep.Shard{})); err != nil {
			return err
		}
	}
	for _, r := range runs {
		p := o.Exp.Preset(r)
		if err := train.CheckOptions(train.Options{Preset: p, RunDir: filepath.Join(dir, r.Folder()), Stage: train.AllStages, Resume: true}); err != nil {
			return fmt.Errorf("run %s: %w", r.Folder(), err)
		}
	}
	if o.CheckModel != nil {
		for _, v := range o.Exp.Variants {
			if err := o.CheckModel(v.Preset); err != nil {
				return &Error{File: o.Exp.File, Line: v.Line, Msg: fmt.Sprintf("variant %s: %v", v.Name, err)}
			}
		}
	}
	// Last, since probing creates and removes a file: a refusal for any other reason touches nothing.
	return sweep.CheckOut(dir, exists)
}

// WriteSource writes the experiment file into its folder (dir must exist) unless it holds it already
// (Check has compared them).
func WriteSource(dir string, e *Experiment) error {
	path := filepath.Join(dir, SourceFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return dataset.WriteFileAtomic(path, e.Source)
}

// Stats is what a call of Run did.
type Stats struct {
	Runs    int
	Elapsed time.Duration
	// Summary is the whole experiment's, written when the call completed it; nil for a shard.
	Summary *Summary
}

// ErrInterrupted ends a run stopped by its context; every run folder holds a checkpoint to resume from.
var ErrInterrupted = errors.New("experiment interrupted")

// Run trains every run of the shard that the folder has not finished, then (for the whole experiment)
// writes the summary and o.Report's plots.
func Run(ctx context.Context, o Options) (*Stats, error) {
	t0 := time.Now()
	if err := Check(o); err != nil {
		return nil, err
	}
	dir := o.Dir
	if err := os.MkdirAll(filepath.Join(dir, RunsDir), 0o755); err != nil {
		return nil, fmt.Errorf("experiment folder %s: %w", dir, err)
	}
	lock, prev, err := folderlock.Acquire(dir, lockSpec(o.Shard))
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	if err := WriteSource(dir, o.Exp); err != nil {
		return nil, err
	}
	recPath := filepath.Join(dir, RecordsName(o.Shard))
	have, good, err := sweep.ReadRecords(recPath, validRecord)
	if err != nil {
		return nil, err
	}
	done := map[[2]string]bool{}
	for _, r := range have {
		done[r.key()] = true
	}
	var pending []RunID
	all := o.Exp.Shard(o.Shard)
	for _, r := range all {
		if !done[Record{Variant: r.Variant, Seed: r.Seed}.key()] {
			pending = append(pending, r)
		}
	}
	recs, err := sweep.OpenAppender(recPath, good)
	if err != nil {
		return nil, err
	}
	defer recs.Close()
	prog, err := openProgress(filepath.Join(dir, ProgressName(o.Shard)))
	if err != nil {
		return nil, err
	}
	defer prog.Close()
	emit := func(e Event) error {
		if o.OnEvent != nil {
			o.OnEvent(e)
		}
		return prog.write(e)
	}
	if err := emit(Started{Dir: dir, Shard: o.Shard, Runs: len(all), Done: len(all) - len(pending), TookOver: prev}); err != nil {
		return nil, err
	}
	stats := &Stats{}
	for i, r := range pending {
		rec, err := trainRun(ctx, o, r, i, len(pending), emit)
		if err != nil {
			return stats, err
		}
		if err := recs.Append(rec); err != nil {
			return stats, err
		}
		stats.Runs++
		if err := emit(RunDone{Run: r, Index: i, Pending: len(pending), WallS: rec.WallS, Cuts: rec.Cuts}); err != nil {
			return stats, err
		}
	}
	if o.Shard.Whole() {
		all, err := sweep.ReadAllRecords(dir, recordsStem, recordsExt, validRecord, Record.key, dupRecord(dir))
		if err != nil {
			return stats, err
		}
		if stats.Summary, err = report(dir, o.Exp, all, o.Report); err != nil {
			return stats, err
		}
	}
	stats.Elapsed = time.Since(t0)
	return stats, nil
}

func dupRecord(dir string) func(r Record, first, second string) error {
	return func(r Record, first, second string) error {
		return fmt.Errorf("experiment folder %s: run %s seed %d is recorded in both %s and %s: shards must not overlap (were two shard counts mixed?); remove one of the files and resume",
			dir, r.Variant, r.Seed, first, second)
	}
}

// trainRun trains one run to its end (resuming its folder) and returns its record.
func trainRun(ctx context.Context, o Options, r RunID, i, n int, emit func(Event) error) (Record, error) {
	t0 := time.Now()
	p := o.Exp.Preset(r)
	runDir := filepath.Join(o.Dir, r.Folder())
	_, statErr := os.Stat(runDir)
	resumed := statErr == nil
	m, err := o.NewModel(p)
	if err != nil {
		return Record{}, fmt.Errorf("run %s: %w", r.Folder(), err)
	}
	runner, err := train.NewRunner(m, train.Options{Preset: p, RunDir: runDir, Stage: train.AllStages, Resume: true})
	if err != nil {
		return Record{}, fmt.Errorf("run %s: %w", r.Folder(), err)
	}
	if err := emit(RunStarted{Run: r, Index: i, Pending: n, Resumed: resumed}); err != nil {
		runner.Close()
		return Record{}, err
	}
	evs := runner.Events()
	forwarded := make(chan error, 1)
	go func() { forwarded <- forward(evs, r, emit) }()
	sum, err := runner.Run(ctx)
	ferr := <-forwarded
	switch {
	case err != nil:
		return Record{}, fmt.Errorf("run %s: %w", r.Folder(), err)
	case sum.Stopped:
		return Record{}, fmt.Errorf("%w: run %s stopped at stage %d step %d with a checkpoint; continue with --resume", ErrInterrupted, r.Folder(), sum.Stage, sum.Step)
	case ferr != nil:
		return Record{}, ferr
	}
	cuts, err := ReadCuts(runDir)
	if err != nil {
		return Record{}, err
	}
	return Record{Variant: r.Variant, Seed: r.Seed, Dir: r.Folder(), WallS: time.Since(t0).Seconds(), Cuts: cuts}, nil
}

// forward passes the runner's events on as the experiment's, until the channel closes (which the
// runner's end guarantees); the first write error is kept and returned.
func forward(evs <-chan train.Event, r RunID, emit func(Event) error) error {
	var first error
	for ev := range evs {
		var e Event
		switch ev := ev.(type) {
		case train.StepEvent:
			e = Step{Run: r, Step: ev}
		case train.StageFinished:
			se := StageEnded{Run: r, Stage: ev.Stage, Name: ev.Name, Steps: ev.Steps}
			if ev.Eval != nil {
				v := ev.Eval.Overall
				se.Score = &v
			}
			e = se
		case train.WarningEvent:
			e = Warning{Run: r, Message: ev.Message}
		default:
			continue
		}
		if err := emit(e); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Collect merges the folder's records (the whole experiment's or every shard's) and writes the summary
// and draw's pictures. It holds the folder's lock while it writes.
func Collect(dir string, draw ReportFunc) (*Summary, error) {
	e, err := Read(filepath.Join(dir, SourceFile))
	if err != nil {
		return nil, fmt.Errorf("experiment folder %s: %w", dir, err)
	}
	lock, _, err := folderlock.Acquire(dir, lockSpec(sweep.Shard{}))
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	rs, err := sweep.ReadAllRecords(dir, recordsStem, recordsExt, validRecord, Record.key, dupRecord(dir))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, errors.New("experiment folder " + dir + " holds no finished runs: run the experiment (or its shards) first")
	}
	return report(dir, e, rs, draw)
}

// report summarises a finished experiment and writes summary.md, summary.csv and draw's pictures.
func report(dir string, e *Experiment, recs []Record, draw ReportFunc) (*Summary, error) {
	s, err := Summarize(dir, e, recs)
	if err != nil {
		return nil, err
	}
	for _, out := range []struct {
		name  string
		write func() []byte
	}{{SummaryMD, s.Markdown}, {SummaryCSV, s.CSV}} {
		if err := dataset.WriteFileAtomic(filepath.Join(dir, out.name), out.write()); err != nil {
			return nil, err
		}
	}
	if draw != nil {
		if err := draw(dir, s); err != nil {
			return s, fmt.Errorf("experiment folder %s: the plots: %w", dir, err)
		}
	}
	return s, nil
}
