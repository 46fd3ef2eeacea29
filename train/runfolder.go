package train

// The run folder:
//
//	DIR/config.yaml            the preset the run was started with (resume checks it)
//	DIR/lock                   who is writing the folder now (runlock.go); absent when nobody is
//	DIR/metrics.jsonl          one line per step: step, stage, loss, aux loss, grad norm, lr, images/s
//	DIR/samples/               sample grids, s<stage>-<step>.png
//	DIR/checkpoints/           s<stage>-<step>.<ext> (periodic, last N kept), s<stage>-final.<ext>
//	DIR/eval/                  ToyEval reports, s<stage>-<name>.json
//	DIR/final.safetensors      the sampling checkpoint of a run that trained the preset's last stage
//
// Every file but metrics.jsonl is written atomically (temporary file in the same folder, fsync, rename,
// fsync of the folder), so a crash or a full disk never leaves a half-written file under a real name.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/lumina-workbench/lumina/internal/atomicfile"
	"github.com/lumina-workbench/lumina/internal/folderlock"
)

// Run folder names.
const (
	ConfigFile    = "config.yaml"
	MetricsFile   = "metrics.jsonl"
	SamplesDir    = "samples"
	CheckpointDir = "checkpoints"
	EvalDir       = "eval"
	FinalFile     = "final.safetensors"
	// StagesFile records how each finished stage ended: one StageRecord a line, by stage.
	StagesFile = "stages.jsonl"
)

// DefaultCheckpointExt is the checkpoint file extension of a run folder.
const DefaultCheckpointExt = ".safetensors"

// RunFolder is a run folder opened for writing: its writer holds the folder's lock (runlock.go) until
// Close.
type RunFolder struct {
	Dir string
	// Ext is the checkpoint file extension, with its dot.
	Ext string
	// TookOver is the writer that held the folder before and ended without releasing it (killed or
	// crashed); nil when there was none.
	TookOver *LockHolder

	lock *folderlock.Lock
	// wrap, when set, wraps every atomic write's writer (tests use it to fail mid-way).
	wrap  func(io.Writer) io.Writer
	pause *pausePoint
}

// OpenRunFolder creates (or opens) dir and its subfolders for writing: it takes the folder's lock,
// refusing (ErrRunInUse) while another writer holds it, removes the temporary files of writes a
// previous writer did not finish, and checks that it can write there. Close releases the folder.
func OpenRunFolder(dir, ext string) (*RunFolder, error) {
	if dir == "" {
		return nil, fmt.Errorf("run folder: empty path")
	}
	if ext == "" {
		ext = DefaultCheckpointExt
	}
	pause, err := pauseFromEnv()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run folder %s: %w", dir, err)
	}
	lock, prev, err := acquireLock(dir)
	if err != nil {
		return nil, err
	}
	rf := &RunFolder{Dir: dir, Ext: ext, TookOver: prev, lock: lock, pause: pause}
	if err := rf.prepare(); err != nil {
		rf.Close()
		return nil, err
	}
	return rf, nil
}

// prepare makes the subfolders, removes what interrupted atomic writes left, and probes writing.
func (rf *RunFolder) prepare() error {
	for _, d := range []string{rf.Dir, filepath.Join(rf.Dir, SamplesDir), filepath.Join(rf.Dir, CheckpointDir), filepath.Join(rf.Dir, EvalDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("run folder %s: %w", rf.Dir, err)
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			return fmt.Errorf("run folder %s: %w", rf.Dir, err)
		}
		for _, e := range ents {
			if !e.IsDir() && atomicfile.IsTemp(e.Name()) {
				if err := os.Remove(filepath.Join(d, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("run folder %s: remove an interrupted write: %w", rf.Dir, err)
				}
			}
		}
	}
	// Probe now: an unwritable folder is better refused before training starts than at the first save.
	probe := filepath.Join(rf.Dir, CheckpointDir, ".probe")
	if err := rf.WriteFileAtomic(probe, func(w io.Writer) error { _, err := w.Write([]byte("ok")); return err }); err != nil {
		return fmt.Errorf("run folder %s is not writable: %w", rf.Dir, err)
	}
	os.Remove(probe)
	return nil
}

// Close releases the folder's lock. It may be called more than once.
func (rf *RunFolder) Close() error {
	return rf.lock.Release()
}

// WriteFileAtomic writes path through fill: a temporary file beside it, synced, then renamed over it.
// On any failure the temporary file is removed and path is untouched.
func (rf *RunFolder) WriteFileAtomic(path string, fill func(io.Writer) error) error {
	wrap, done := rf.pause.aroundWrite(path, rf.wrap)
	if err := atomicfile.Write(path, wrap, fill); err != nil {
		return err
	}
	done()
	return nil
}

// WriteConfig stores the run's preset as config.yaml.
func (rf *RunFolder) WriteConfig(p *Preset) error {
	b, err := p.Marshal()
	if err != nil {
		return err
	}
	return rf.WriteFileAtomic(filepath.Join(rf.Dir, ConfigFile), func(w io.Writer) error { _, err := w.Write(b); return err })
}

// ReadConfig reads config.yaml; ok is false when there is none.
func (rf *RunFolder) ReadConfig() (p *Preset, ok bool, err error) {
	return ReadConfig(rf.Dir)
}

// ReadConfig reads the preset in run folder dir's config.yaml, needing no lock; ok is false when there
// is none.
func ReadConfig(dir string) (p *Preset, ok bool, err error) {
	p, _, ok, err = readConfig(dir)
	return p, ok, err
}

// readConfig reads dir's config.yaml and its bytes; ok is false when there is none.
func readConfig(dir string) (p *Preset, raw []byte, ok bool, err error) {
	path := filepath.Join(dir, ConfigFile)
	raw, err = os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("read run config: %w", err)
	}
	p, err = ParsePreset(raw, path)
	if err != nil {
		return nil, nil, false, err
	}
	return p, raw, true, nil
}

// CheckpointInfo is one checkpoint file of a run folder.
type CheckpointInfo struct {
	Path  string
	Stage int
	// Step is the number of steps done in the stage when it was saved.
	Step int
	// Final marks a stage's last checkpoint, which the next stage starts from.
	Final bool
	// Export marks FinalFile: the sampling checkpoint of the finished run (no training state). It orders
	// after every training checkpoint.
	Export bool
	// Saved is the file's modification time.
	Saved time.Time
	// Loss is the mean training loss of the lossWindow steps up to the checkpoint, from metrics.jsonl
	// (ReadRun fills it; NaN when the metrics do not reach it).
	Loss float64
}

// Less orders checkpoints by training progress.
func (c CheckpointInfo) Less(d CheckpointInfo) bool {
	if c.Export != d.Export {
		return d.Export
	}
	if c.Stage != d.Stage {
		return c.Stage < d.Stage
	}
	if c.Final != d.Final {
		return d.Final
	}
	return c.Step < d.Step
}

var ckptName = regexp.MustCompile(`^s(\d+)-(\d+|final)(\.[^.]+)$`)

// CheckpointPath is where the checkpoint of (stage, step) goes.
func (rf *RunFolder) CheckpointPath(stage, step int, final bool) string {
	name := fmt.Sprintf("s%d-%08d%s", stage, step, rf.Ext)
	if final {
		name = fmt.Sprintf("s%d-final%s", stage, rf.Ext)
	}
	return filepath.Join(rf.Dir, CheckpointDir, name)
}

// Checkpoints lists the run's training checkpoints, oldest progress first. Temporary files of
// interrupted writes are ignored.
func (rf *RunFolder) Checkpoints() ([]CheckpointInfo, error) {
	return listCheckpoints(rf.Dir, rf.Ext)
}

func listCheckpoints(dir, ext string) ([]CheckpointInfo, error) {
	ents, err := os.ReadDir(filepath.Join(dir, CheckpointDir))
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var out []CheckpointInfo
	for _, e := range ents {
		m := ckptName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() || m[3] != ext {
			continue
		}
		st, _ := strconv.Atoi(m[1])
		c := CheckpointInfo{Path: filepath.Join(dir, CheckpointDir, e.Name()), Stage: st}
		if m[2] == "final" {
			c.Final = true
		} else {
			c.Step, _ = strconv.Atoi(m[2])
		}
		if info, err := e.Info(); err == nil {
			c.Saved = info.ModTime()
		}
		out = append(out, c)
	}
	sortCheckpoints(out)
	return out, nil
}

func sortCheckpoints(cs []CheckpointInfo) {
	slices.SortFunc(cs, func(a, b CheckpointInfo) int {
		switch {
		case a.Less(b):
			return -1
		case b.Less(a):
			return 1
		}
		return 0
	})
}

// RunInfo is what a reader sees of a run folder: its preset and checkpoints. Reading one needs no
// write access and creates nothing.
type RunInfo struct {
	Dir string
	// Preset is the name in config.yaml (the folder's name when config.yaml does not parse).
	Preset string
	// Checkpoints are the training checkpoints, oldest progress first, then FinalFile when it exists.
	Checkpoints []CheckpointInfo
	// Stages says how each finished stage ended (StagesFile), by stage; a stage that a wall-clock cap
	// cut short has Cut set. Empty when no stage has finished.
	Stages []StageRecord
}

// CutStages are the finished stages that a wall-clock cap ended before their step budget.
func (r RunInfo) CutStages() []StageRecord {
	var out []StageRecord
	for _, s := range r.Stages {
		if s.Cut {
			out = append(out, s)
		}
	}
	return out
}

// ReadRun reads the run folder dir (checkpoints with the default extension).
func ReadRun(dir string) (RunInfo, error) {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return RunInfo{}, fmt.Errorf("run folder %s: %w", dir, err)
	}
	// A config this build cannot parse (an older or newer preset format) still names a run folder whose
	// checkpoints can be listed and sampled; the folder's name stands in for the preset's.
	run := RunInfo{Dir: dir, Preset: filepath.Base(dir)}
	if p, err := ParsePreset(b, path); err == nil {
		run.Preset = p.Name
	}
	if run.Checkpoints, err = listCheckpoints(dir, DefaultCheckpointExt); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return RunInfo{}, err
	}
	if st, err := os.Stat(filepath.Join(dir, FinalFile)); err == nil && st.Mode().IsRegular() {
		run.Checkpoints = append(run.Checkpoints, CheckpointInfo{Path: filepath.Join(dir, FinalFile), Export: true, Saved: st.ModTime()})
	}
	if run.Stages, err = ReadStages(filepath.Join(dir, StagesFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return RunInfo{}, err
	}
	recs, _ := ReadMetrics(filepath.Join(dir, MetricsFile)) // a run without metrics lists NaN losses
	for i := range run.Checkpoints {
		run.Checkpoints[i].Loss = lossAt(recs, run.Checkpoints[i])
	}
	return run, nil
}

// lossWindow is how many steps a checkpoint's listed loss averages: one step's loss is noisy.
const lossWindow = 20

// lossAt is the mean loss of the last lossWindow finite steps at or before c in c's stage (the last
// stage's last steps for the exported checkpoint); NaN when there are none.
func lossAt(recs []MetricsRecord, c CheckpointInfo) float64 {
	var sum float64
	n := 0
	for i := len(recs) - 1; i >= 0 && n < lossWindow; i-- {
		r := recs[i]
		switch {
		case c.Export:
			if r.Stage != recs[len(recs)-1].Stage {
				continue
			}
		case r.Stage != c.Stage || (!c.Final && r.Step > c.Step):
			continue
		}
		if !r.Skipped && !math.IsNaN(r.Loss) {
			sum += r.Loss
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// ListRuns reads every run folder directly inside root (a folder with a config.yaml), in name order.
// A missing root has no runs.
func ListRuns(root string) ([]RunInfo, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list runs in %s: %w", root, err)
	}
	var runs []RunInfo
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if run, err := ReadRun(filepath.Join(root, e.Name())); err == nil {
			runs = append(runs, run)
		}
	}
	return runs, nil
}

// SaveCheckpoint writes a checkpoint atomically through save. Nothing existing is touched when it fails.
func (rf *RunFolder) SaveCheckpoint(stage, step int, final bool, save func(io.Writer) error) (string, error) {
	path := rf.CheckpointPath(stage, step, final)
	if err := rf.WriteFileAtomic(path, save); err != nil {
		return "", err
	}
	return path, nil
}

// Prune deletes the oldest periodic checkpoints beyond keep; final checkpoints are never deleted.
func (rf *RunFolder) Prune(keep int) error {
	all, err := rf.Checkpoints()
	if err != nil {
		return err
	}
	var periodic []CheckpointInfo
	for _, c := range all {
		if !c.Final {
			periodic = append(periodic, c)
		}
	}
	for len(periodic) > keep {
		if err := os.Remove(periodic[0].Path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("prune checkpoint: %w", err)
		}
		periodic = periodic[1:]
	}
	return nil
}

// MetricsRecord is one line of metrics.jsonl. Non-finite values are written as null.
type MetricsRecord struct {
	Time         time.Time
	Stage        int
	StageName    string
	Step         int
	Loss         float64
	AuxLoss      float64
	GradNorm     float64
	LR           float64
	ImagesPerSec float64
	Skipped      bool
}

func jsonNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "null"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// MarshalJSON writes the floats in full precision (round-trip exact), so two runs' curves can be
// compared bit for bit from their files.
func (m MetricsRecord) MarshalJSON() ([]byte, error) {
	name, _ := json.Marshal(m.StageName)
	return fmt.Appendf(nil, `{"time":%q,"stage":%d,"stage_name":%s,"step":%d,"loss":%s,"aux_loss":%s,"grad_norm":%s,"lr":%s,"images_per_s":%s,"skipped":%t}`,
		m.Time.UTC().Format(time.RFC3339Nano), m.Stage, name, m.Step, jsonNum(m.Loss), jsonNum(m.AuxLoss),
		jsonNum(m.GradNorm), jsonNum(m.LR), jsonNum(m.ImagesPerSec), m.Skipped), nil
}

// UnmarshalJSON reads a line back (null → NaN).
func (m *MetricsRecord) UnmarshalJSON(b []byte) error {
	var raw struct {
		Time      time.Time `json:"time"`
		Stage     int       `json:"stage"`
		StageName string    `json:"stage_name"`
		Step      int       `json:"step"`
		Loss      *float64  `json:"loss"`
		AuxLoss   *float64  `json:"aux_loss"`
		GradNorm  *float64  `json:"grad_norm"`
		LR        *float64  `json:"lr"`
		IPS       *float64  `json:"images_per_s"`
		Skipped   bool      `json:"skipped"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	f := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	*m = MetricsRecord{Time: raw.Time, Stage: raw.Stage, StageName: raw.StageName, Step: raw.Step,
		Loss: f(raw.Loss), AuxLoss: f(raw.AuxLoss), GradNorm: f(raw.GradNorm), LR: f(raw.LR),
		ImagesPerSec: f(raw.IPS), Skipped: raw.Skipped}
	return nil
}

// ReadMetrics reads a metrics.jsonl file.
func ReadMetrics(path string) ([]MetricsRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	var out []MetricsRecord
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r MetricsRecord
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// metricsWriter appends to metrics.jsonl and syncs it at intervals (and on Sync).
type metricsWriter struct {
	f        *os.File
	w        *bufio.Writer
	lastSync time.Time
	every    time.Duration
	pause    *pausePoint
}

func (rf *RunFolder) openMetrics() (*metricsWriter, error) {
	f, err := os.OpenFile(filepath.Join(rf.Dir, MetricsFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open metrics: %w", err)
	}
	return &metricsWriter{f: f, w: bufio.NewWriter(f), lastSync: time.Now(), every: 10 * time.Second, pause: rf.pause}, nil
}

func (m *metricsWriter) write(r MetricsRecord) error {
	b, _ := r.MarshalJSON()
	b = append(b, '\n')
	m.pause.inLine(m, b)
	if _, err := m.w.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", m.f.Name(), err)
	}
	if time.Since(m.lastSync) >= m.every {
		return m.sync()
	}
	return nil
}

func (m *metricsWriter) sync() error {
	if err := m.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", m.f.Name(), err)
	}
	if err := m.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", m.f.Name(), err)
	}
	m.lastSync = time.Now()
	return nil
}

func (m *metricsWriter) close() error {
	err := m.sync()
	if cerr := m.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close metrics: %w", cerr)
	}
	return err
}

// TruncateMetrics keeps only the lines at or before (stage, step) — what a checkpoint there had seen —
// so that a run resumed after a crash does not log its last steps twice. The file is rewritten
// atomically; a missing file is fine.
func (rf *RunFolder) TruncateMetrics(stage, step int) error {
	path := filepath.Join(rf.Dir, MetricsFile)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read metrics: %w", err)
	}
	var keep bytes.Buffer
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r MetricsRecord
		if err := json.Unmarshal(line, &r); err != nil {
			// A line cut by a crash is the only kind expected; it is after the checkpoint by definition.
			continue
		}
		if r.Stage < stage || (r.Stage == stage && r.Step <= step) {
			keep.Write(line)
			keep.WriteByte('\n')
		}
	}
	if keep.Len() == len(b) {
		return nil
	}
	return rf.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(keep.Bytes()); return err })
}

// Grid tiles images (all the same size) into a near-square grid with 2-pixel gaps.
func Grid(imgs []image.Image) *image.RGBA {
	if len(imgs) == 0 {
		return image.NewRGBA(image.Rect(0, 0, 1, 1))
	}
	b := imgs[0].Bounds()
	cols := int(math.Ceil(math.Sqrt(float64(len(imgs)))))
	rows := (len(imgs) + cols - 1) / cols
	const gap = 2
	out := image.NewRGBA(image.Rect(0, 0, cols*(b.Dx()+gap)-gap, rows*(b.Dy()+gap)-gap))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.RGBA{40, 40, 40, 255}), image.Point{}, draw.Src)
	for i, img := range imgs {
		x, y := (i%cols)*(b.Dx()+gap), (i/cols)*(b.Dy()+gap)
		draw.Draw(out, image.Rect(x, y, x+b.Dx(), y+b.Dy()), img, img.Bounds().Min, draw.Src)
	}
	return out
}

// WritePNG writes img atomically.
func (rf *RunFolder) WritePNG(path string, img image.Image) error {
	return rf.WriteFileAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// WriteJSON writes v (indented) atomically.
func (rf *RunFolder) WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return rf.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err })
}

// StageRecord is how one finished stage ended.
type StageRecord struct {
	Stage     int    `json:"stage"`
	StageName string `json:"stage_name"`
	// Steps is how many steps the stage trained; Budget is its steps setting.
	Steps  int `json:"steps"`
	Budget int `json:"budget"`
	// Minutes is the stage's wall-clock cap (0: none); ElapsedS the seconds its steps took.
	Minutes  float64 `json:"minutes,omitempty"`
	ElapsedS float64 `json:"elapsed_s"`
	// Cut is true when the cap ended the stage before its budget.
	Cut bool `json:"cut"`
}

// String is one line for a summary: "stage 1 (low-res) cut at step 812 of 2700 by its 5-minute cap",
// or "stage 1 (low-res) trained all 2700 steps".
func (s StageRecord) String() string {
	if s.Cut {
		return fmt.Sprintf("stage %d (%s) cut at step %d of %d by its %s-minute cap", s.Stage, s.StageName, s.Steps, s.Budget,
			strconv.FormatFloat(s.Minutes, 'f', -1, 64))
	}
	return fmt.Sprintf("stage %d (%s) trained all %d steps", s.Stage, s.StageName, s.Steps)
}

// warning is the WarningEvent of a stage the cap cut short.
func (s StageRecord) warning() WarningEvent {
	return WarningEvent{Stage: s.Stage, Step: s.Steps, Message: s.String() +
		": the stage trained fewer steps than its budget, a number that depends on this machine's speed; " +
		"raise its minutes, or remove them, to train every step"}
}

// ReadStages reads a StagesFile.
func ReadStages(path string) ([]StageRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read stage records: %w", err)
	}
	var out []StageRecord
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r StageRecord
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// RecordStage stores rec in StagesFile, replacing the record of the same stage (a stage run again);
// the file stays ordered by stage and is rewritten atomically.
func (rf *RunFolder) RecordStage(rec StageRecord) error {
	return rf.rewriteStages(func(r StageRecord) bool { return r.Stage != rec.Stage }, &rec)
}

// TruncateStages drops the records of stage from and later: a run that trains them again records them
// again, as TruncateMetrics drops their steps. A missing file is fine.
func (rf *RunFolder) TruncateStages(from int) error {
	return rf.rewriteStages(func(r StageRecord) bool { return r.Stage < from }, nil)
}

func (rf *RunFolder) rewriteStages(keep func(StageRecord) bool, add *StageRecord) error {
	path := filepath.Join(rf.Dir, StagesFile)
	old, err := ReadStages(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	recs := slices.DeleteFunc(slices.Clone(old), func(r StageRecord) bool { return !keep(r) })
	if add != nil {
		recs = append(recs, *add)
	} else if len(recs) == len(old) {
		return nil
	}
	slices.SortStableFunc(recs, func(a, b StageRecord) int { return a.Stage - b.Stage })
	var buf bytes.Buffer
	for _, r := range recs {
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := rf.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }); err != nil {
		return fmt.Errorf("record stage: %w", err)
	}
	return nil
}
