package train

// Following a run folder that another process writes: Follower reads what the writer leaves on disk
// (config.yaml, metrics.jsonl, sample grids, ToyEval reports, checkpoints, the lock file) and hands it
// back as the runner's own events, so a live view draws a watched run exactly as it draws its own job.
// It only reads, never locks.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/lumina-workbench/lumina/data/toyeval"
)

// FollowStarted is the first event of a follower that has read the run's config: the recipe the writer
// trains, so a view can lay out every stage before their steps arrive.
type FollowStarted struct {
	Dir    string
	Preset *Preset
}

// HistoryReset says metrics.jsonl was replaced or cut (a resume rewrites it to what its checkpoint had
// seen): the steps sent before no longer hold, and the file's steps follow again from its start.
type HistoryReset struct{}

// WriterChanged says who writes the folder changed: a writer started, stopped, or was killed.
// Complete, once nobody writes, tells a finished run from a stopped one.
type WriterChanged struct {
	Writer   Writer
	Complete bool
}

func (FollowStarted) event() {}
func (HistoryReset) event()  {}
func (WriterChanged) event() {}

// etaWindow is how many recent steps a follower's step rate averages.
const etaWindow = 20

// Follower turns a run folder's files into events; call Poll as often as the view wants news. It is
// not safe for concurrent use.
type Follower struct {
	Dir string
	// Probe tells who writes the folder; ProbeWriter unless replaced (a view's tests fix the writer).
	Probe func(dir string) (Writer, error)

	preset  *Preset
	tail    MetricsTail
	started bool

	stage   int             // the stage of the last step sent; -1 before any
	prev    *MetricsRecord  // the last step sent
	recent  []MetricsRecord // the current stage's last steps, for the rate
	stages  map[int]bool    // stages whose StageStarted was sent
	done    map[int]bool    // stages whose StageFinished was sent
	evals   map[string]time.Time
	sample  string
	ckpts   map[string]bool
	polled  bool
	writer  Writer
	probed  bool
	resumed *time.Time // the current writer's start, while its first step is awaited
}

// NewFollower follows dir, from the beginning of its history.
func NewFollower(dir string) *Follower {
	f := &Follower{Dir: dir, Probe: ProbeWriter, tail: MetricsTail{Path: filepath.Join(dir, MetricsFile)}}
	f.reset()
	f.evals, f.ckpts = map[string]time.Time{}, map[string]bool{}
	return f
}

func (f *Follower) reset() {
	f.stage, f.prev, f.recent = -1, nil, nil
	f.stages, f.done = map[int]bool{}, map[int]bool{}
}

// Preset is the run's recipe once config.yaml has been read (nil before).
func (f *Follower) Preset() *Preset { return f.preset }

// Poll returns the events since the last Poll. A folder that does not exist (yet) is an error only
// when it cannot be told apart from an unreadable one.
func (f *Follower) Poll() ([]Event, error) {
	var evs []Event
	if st, err := os.Stat(f.Dir); err != nil {
		return nil, fmt.Errorf("run folder %s: %w", f.Dir, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("run folder %s is not a folder", f.Dir)
	}
	if f.preset == nil {
		if p, ok, err := ReadConfig(f.Dir); err == nil && ok {
			f.preset = p
		}
	}
	if !f.started && f.preset != nil {
		f.started = true
		evs = append(evs, FollowStarted{Dir: f.Dir, Preset: f.preset})
	}
	// The writer first: a resume is recognised by a new writer's first step.
	w, err := f.Probe(f.Dir)
	if err != nil {
		return evs, err
	}
	writerChanged := !f.probed || w.State != f.writer.State || w.Holder != f.writer.Holder
	if writerChanged {
		// A writer on another host cannot be probed, but its record still says when it started.
		if (w.State == WriterAlive || w.State == WriterUnknown) && w.HolderOK && w.Holder != f.writer.Holder {
			since := w.Holder.Since.Add(-time.Second) // Since is rounded to the second
			f.resumed = &since
		}
		f.writer, f.probed = w, true
	}
	recs, reset, err := f.tail.Read()
	if err != nil {
		return evs, err
	}
	if reset {
		f.reset()
		evs = append(evs, HistoryReset{})
	}
	for _, r := range recs {
		evs = append(evs, f.step(r)...)
	}
	evs = append(evs, f.files()...)
	f.polled = true
	// The writer's news goes last, so a stop follows the last step it wrote.
	if writerChanged {
		evs = append(evs, WriterChanged{Writer: f.writer, Complete: f.writer.State == NoWriter && RunComplete(f.Dir, f.preset)})
	}
	return evs, nil
}

// finished is stage's end as the folder tells it, steps as given unless StagesFile records the stage
// (the runner writes the record before the stage's final checkpoint, and before the next stage's
// steps): then with the record's steps and time, and, when the stage's cap cut it short, the runner's
// warning first.
func (f *Follower) finished(stage int, name string, steps int) []Event {
	ev := StageFinished{Stage: stage, Name: name, Steps: steps}
	recs, _ := ReadStages(filepath.Join(f.Dir, StagesFile))
	for _, r := range recs {
		if r.Stage != stage {
			continue
		}
		ev.Steps, ev.CutByCap, ev.Elapsed = r.Steps, r.Cut, time.Duration(r.ElapsedS*float64(time.Second))
		if r.Cut {
			return []Event{r.warning(), ev}
		}
	}
	return []Event{ev}
}

func (f *Follower) stageInfo(i int) (Stage, bool) {
	if f.preset == nil || i < 0 || i >= len(f.preset.Stages) {
		return Stage{}, false
	}
	return f.preset.Stages[i], true
}

// step turns one metrics line into events: the stage's start (and the previous stage's end) when the
// stage changes, a resume when it is the current writer's first step, and the step itself.
func (f *Follower) step(r MetricsRecord) []Event {
	var evs []Event
	info, _ := f.stageInfo(r.Stage)
	fromWriter := f.resumed != nil && !r.Time.Before(*f.resumed)
	if r.Stage != f.stage {
		if f.stage >= 0 && !f.done[f.stage] {
			f.done[f.stage] = true
			evs = append(evs, f.finished(f.stage, f.prev.StageName, f.prev.Step)...)
		}
		f.recent = nil
	}
	if !f.stages[r.Stage] || (fromWriter && f.prev != nil) {
		from := 0
		if fromWriter && f.prev != nil && f.prev.Stage == r.Stage {
			from = f.prev.Step
		}
		f.stages[r.Stage] = true
		name := r.StageName
		if name == "" {
			name = info.Name
		}
		evs = append(evs, StageStarted{Stage: r.Stage, Name: name, Kind: info.Kind, Steps: info.Steps, FromStep: from})
	}
	if fromWriter {
		f.resumed = nil
		f.recent = nil // the new writer's pace is its own
	}
	f.stage = r.Stage
	rec := r
	f.prev = &rec
	f.recent = append(f.recent, r)
	if len(f.recent) > etaWindow {
		f.recent = f.recent[len(f.recent)-etaWindow:]
	}
	ev := StepEvent{Stage: r.Stage, StageName: r.StageName, Step: r.Step, Steps: info.Steps, Loss: r.Loss, AuxLoss: r.AuxLoss,
		GradNorm: r.GradNorm, LR: r.LR, ImagesPerSec: r.ImagesPerSec, Skipped: r.Skipped, Time: r.Time}
	if n := len(f.recent); n > 1 && info.Steps > r.Step {
		first, last := f.recent[0], f.recent[n-1]
		if per := last.Time.Sub(first.Time) / time.Duration(last.Step-first.Step+boolInt(last.Step == first.Step)); per > 0 {
			ev.ETA = per * time.Duration(info.Steps-r.Step)
		}
	}
	return append(evs, ev)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

var (
	sampleName = regexp.MustCompile(`^s(\d+)-(\d+)\.png$`)
	evalName   = regexp.MustCompile(`^s(\d+)-[^.]*\.json$`)
)

// files reports what else the writer has finished since the last poll: the newest sample grid, stage
// ends (a stage's final checkpoint), ToyEval reports and checkpoints. The first poll reports only the
// newest of each, not the run's whole past.
func (f *Follower) files() []Event {
	var evs []Event
	// Stage ends first: a report follows its stage's end.
	ckpts, _ := listCheckpoints(f.Dir, DefaultCheckpointExt)
	for _, c := range ckpts {
		if f.ckpts[c.Path] {
			continue
		}
		f.ckpts[c.Path] = true
		if c.Final && !f.done[c.Stage] {
			f.done[c.Stage] = true
			info, _ := f.stageInfo(c.Stage)
			evs = append(evs, f.finished(c.Stage, info.Name, c.Step)...)
		}
		if f.polled {
			evs = append(evs, CheckpointSaved{Stage: c.Stage, Step: c.Step, Final: c.Final, Path: c.Path})
		}
	}
	if ents, err := os.ReadDir(filepath.Join(f.Dir, EvalDir)); err == nil {
		for _, e := range ents {
			m := evalName.FindStringSubmatch(e.Name())
			info, err := e.Info()
			if m == nil || err != nil || f.evals[e.Name()].Equal(info.ModTime()) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(f.Dir, EvalDir, e.Name()))
			var rep toyeval.Report
			if err != nil || json.Unmarshal(b, &rep) != nil {
				continue // written atomically, so a report that does not parse is not one
			}
			f.evals[e.Name()] = info.ModTime()
			stage, _ := strconv.Atoi(m[1])
			f.done[stage] = true
			info2, _ := f.stageInfo(stage)
			evs = append(evs, StageFinished{Stage: stage, Name: info2.Name, Steps: info2.Steps, Eval: &rep})
		}
	}
	if ents, err := os.ReadDir(filepath.Join(f.Dir, SamplesDir)); err == nil {
		best, bs, bt := "", -1, -1
		for _, e := range ents {
			m := sampleName.FindStringSubmatch(e.Name())
			if m == nil {
				continue
			}
			s, _ := strconv.Atoi(m[1])
			t, _ := strconv.Atoi(m[2])
			if s > bs || (s == bs && t > bt) {
				best, bs, bt = e.Name(), s, t
			}
		}
		if best != "" && best != f.sample {
			f.sample = best
			evs = append(evs, SampleEvent{Stage: bs, Step: bt, Path: filepath.Join(f.Dir, SamplesDir, best)})
		}
	}
	return evs
}
