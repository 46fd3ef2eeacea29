package experiment

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/lumina-workbench/lumina/sweep"
)

// ExperimentsDir is the folder, inside the runs folder, that experiments are put in by convention.
const ExperimentsDir = "experiments"

// Snapshot is an experiment folder as a viewer sees it, read without the folder's lock (it only
// reads, and a run may be writing): the runs finished so far, each variant's loss curve over the seeds
// that have metrics yet, the last progress event, and the summary once every run has finished.
type Snapshot struct {
	Dir  string
	Exp  *Experiment
	Done int // runs recorded as finished, of len(Exp.Runs())
	// Curves are each variant's CurveWindow-step mean loss over its seeds, in Exp.Variants order;
	// nil for a variant none of whose runs has written metrics.
	Curves [][]CurvePoint
	// Last is the progress file's newest line; its Kind is "" when there is none.
	Last ProgressLine
	// Summary is nil until every run has finished; SummaryErr then says why.
	Summary    *Summary
	SummaryErr error
}

// Inspect reads the experiment folder dir.
func Inspect(dir string) (*Snapshot, error) {
	e, err := Read(filepath.Join(dir, SourceFile))
	if err != nil {
		return nil, err
	}
	recs, err := sweep.ReadAllRecords(dir, recordsStem, recordsExt, validRecord, Record.key, dupRecord(dir))
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Dir: dir, Exp: e, Done: len(recs), Curves: make([][]CurvePoint, len(e.Variants))}
	for vi, v := range e.Variants {
		var runs []runData
		for _, seed := range e.Seeds {
			p, mrecs, err := readFolder(filepath.Join(dir, RunID{Variant: v.Name, Seed: seed}.Folder()))
			if err != nil {
				continue // not started yet
			}
			c, _ := curveOf(p, mrecs)
			if len(c) > 0 {
				runs = append(runs, runData{curve: c})
			}
		}
		if len(runs) > 0 {
			s.Curves[vi] = mergeCurves(runs)
		}
	}
	s.Last = lastProgress(filepath.Join(dir, ProgressName(sweep.Shard{})))
	if s.Done < len(e.Runs()) {
		s.SummaryErr = errors.New("not every run has finished")
	} else {
		s.Summary, s.SummaryErr = Summarize(dir, e, recs)
	}
	return s, nil
}

// lastProgress is the last well-formed line of a progress file (a line being written is skipped).
func lastProgress(path string) ProgressLine {
	var last ProgressLine
	f, err := os.Open(path)
	if err != nil {
		return last
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var l ProgressLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Kind != "" {
			last = l
		}
	}
	return last
}

// Folders lists the experiment folders directly under root (those holding experiment.yaml), by name;
// a missing root holds none.
func Folders(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(root, e.Name(), SourceFile)); err == nil {
				out = append(out, filepath.Join(root, e.Name()))
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
