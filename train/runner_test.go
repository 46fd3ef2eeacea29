package train

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/data/world"
)

// testPreset is tiny-cpu cut down to a few steps of every stage at 16 px.
func testPreset(t *testing.T) *Preset {
	t.Helper()
	p, err := LoadPreset("tiny-cpu", "")
	if err != nil {
		t.Fatal(err)
	}
	p.Data.Items = 300
	p.Samples.Prompts = nil
	p.Eval.Suite = ""
	p.MaxBadSteps = 3
	p.Checkpoints.KeepLast = 2
	p.Stages = []Stage{
		{Name: "text-encoder", Kind: KindTextEncoder, Steps: 5, Batch: 4, LR: 0.05, Warmup: 2, CheckpointEvery: 2},
		{Name: "low-res", Kind: KindDiT, Resolution: 16, Subset: 1, Steps: 7, Batch: 4, LR: 0.05, Warmup: 2,
			EMADecay: 0.9, CheckpointEvery: 3},
		{Name: "high-res", Kind: KindDiT, Resolution: 16, Subset: 0.1, Steps: 6, Batch: 3, LR: 0.02, Warmup: 1,
			EMADecay: 0.9, AuxLoss: true, CheckpointEvery: 2, LRSchedule: ScheduleCosine, MinLR: 0.001},
		{Name: "unified", Kind: KindDiT, Resolution: 16, Subset: 0.1, Steps: 4, Batch: 2, LR: 0.01,
			AuxLoss: true, DualPanel: &DualPanelConfig{Frac: 0.5, Kinds: []world.PanelKind{world.DepthPanel, world.EdgePanel}}},
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func newRunner(t *testing.T, m Model, p *Preset, dir string, stage int, resume bool) *Runner {
	t.Helper()
	r, err := NewRunner(m, Options{Preset: p, RunDir: dir, Stage: stage, Resume: resume})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// curve is the part of metrics.jsonl that must match between runs (no timings).
type curvePoint struct {
	stage, step       int
	loss, aux, gn, lr uint64
	skipped           bool
}

func readCurve(t *testing.T, dir string) []curvePoint {
	t.Helper()
	recs, err := ReadMetrics(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]curvePoint, len(recs))
	for i, r := range recs {
		out[i] = curvePoint{r.Stage, r.Step, math.Float64bits(r.Loss), math.Float64bits(r.AuxLoss),
			math.Float64bits(r.GradNorm), math.Float64bits(r.LR), r.Skipped}
	}
	return out
}

func sameCurve(t *testing.T, want, got []curvePoint) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("curve lengths differ: uninterrupted %d, resumed %d", len(want), len(got))
	}
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("point %d differs: uninterrupted %+v, resumed %+v", i, want[i], got[i])
		}
	}
}

func TestResumeIsBitIdentical(t *testing.T) {
	p := testPreset(t)
	ref := newFake()
	refDir := t.TempDir()
	sum, err := newRunner(t, ref, p, refDir, -1, false).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := readCurve(t, refDir)
	total := 0
	for _, s := range p.Stages {
		total += s.Steps
	}
	if sum.Stopped || len(want) != total || sum.StepsRun != total {
		t.Fatalf("uninterrupted run: %+v, %d metric lines, want %d steps", sum, len(want), total)
	}

	// Interrupt at several global step counts, with both ways of stopping: the context cancelled in the
	// middle of a step (the model returns ctx's error), and Stop called after a step.
	dir := t.TempDir()
	var final *fakeModel
	interrupts := []struct {
		at     int64
		useCtx bool
	}{{2, true}, {5, false}, {9, true}, {12, false}, {16, true}, {20, false}}
	var applied int64
	for i := 0; i <= len(interrupts); i++ {
		m := newFake()
		ctx, cancel := context.WithCancel(context.Background())
		r := newRunner(t, m, p, dir, -1, i > 0)
		if i < len(interrupts) {
			iv := interrupts[i]
			base := applied
			if iv.useCtx {
				m.before = func(*Batch) error {
					if base+m.applied.Load() == iv.at {
						cancel()
						return context.Canceled
					}
					return nil
				}
			} else {
				m.after = func(*Batch) {
					if base+m.applied.Load() == iv.at {
						go r.Stop() // from another goroutine, as the TUI would
						for !r.stopRequested() {
							time.Sleep(time.Millisecond)
						}
					}
				}
			}
		}
		sum, err := r.Run(ctx)
		cancel()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		applied += m.applied.Load()
		if i < len(interrupts) {
			if !sum.Stopped || applied != interrupts[i].at {
				t.Fatalf("part %d: stopped=%v after %d steps, want a stop at %d", i, sum.Stopped, applied, interrupts[i].at)
			}
		} else if sum.Stopped {
			t.Fatalf("last part stopped early: %+v", sum)
		}
		final = m
	}
	sameCurve(t, want, readCurve(t, dir))
	for k := range fakeD {
		if math.Float64bits(final.w[k]) != math.Float64bits(ref.w[k]) {
			t.Fatalf("weight %d: resumed %v, uninterrupted %v", k, final.w[k], ref.w[k])
		}
	}
	if applied != int64(total) {
		t.Fatalf("resumed runs applied %d steps in all, want %d", applied, total)
	}
}

// stopRequested is for tests: whether Stop has been called.
func (r *Runner) stopRequested() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stop
}

func TestStageByStageEqualsAllStages(t *testing.T) {
	p := testPreset(t)
	refDir := t.TempDir()
	if _, err := newRunner(t, newFake(), p, refDir, -1, false).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Stage 1 alone needs stage 0's final weights.
	if _, err := NewRunner(newFake(), Options{Preset: p, RunDir: dir, Stage: 1}); err == nil ||
		!strings.Contains(err.Error(), "final checkpoint") {
		t.Fatalf("stage 1 without stage 0: got %v, want an error about the missing final checkpoint", err)
	}
	var begins []string
	for s := range p.Stages {
		m := newFake()
		if _, err := newRunner(t, m, p, dir, s, false).Run(context.Background()); err != nil {
			t.Fatalf("stage %d: %v", s, err)
		}
		begins = append(begins, m.begins...)
	}
	sameCurve(t, readCurve(t, refDir), readCurve(t, dir))
	if want := "0:true 1:false 2:false 3:false"; strings.Join(begins, " ") != want {
		t.Fatalf("BeginStage calls %v, want %s", begins, want)
	}
	// Every stage done: a resume has nothing left.
	sum, err := newRunner(t, newFake(), p, dir, -1, true).Run(context.Background())
	if err != nil || !sum.AlreadyDone {
		t.Fatalf("resume of a finished run: %+v, %v", sum, err)
	}
	// A fresh run into a folder with checkpoints is refused.
	if _, err := NewRunner(newFake(), Options{Preset: p, RunDir: dir, Stage: -1}); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("fresh run over checkpoints: %v", err)
	}
}

func TestConfigChangeRefused(t *testing.T) {
	p := testPreset(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	m := newFake()
	m.after = func(*Batch) {
		if m.applied.Load() == 3 {
			cancel()
		}
	}
	if _, err := newRunner(t, m, p, dir, -1, false).Run(ctx); err != nil {
		t.Fatal(err)
	}
	q := p.Clone()
	q.Stages[1].LR = 0.04
	_, err := NewRunner(newFake(), Options{Preset: q, RunDir: dir, Stage: -1, Resume: true})
	if !errors.Is(err, ErrConfigChanged) {
		t.Fatalf("resume with a changed config: %v, want ErrConfigChanged", err)
	}
	// Without a preset, the folder's own config is used.
	r, err := NewRunner(newFake(), Options{RunDir: dir, Stage: -1, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Preset().Stages[1].LR != p.Stages[1].LR {
		t.Fatal("run folder config not used")
	}
}

func TestNonFiniteStepsSkippedThenStop(t *testing.T) {
	p := testPreset(t)
	p.Stages[1].Steps = 20
	dir := t.TempDir()
	m := newFake()
	m.nanAt = map[[2]int]bool{{1, 1}: true, {1, 4}: true, {1, 5}: true, {1, 6}: true, {1, 7}: true}
	r := newRunner(t, m, p, dir, -1, false)
	evs := r.Events()
	var warnings []string
	done := make(chan struct{})
	go func() {
		for ev := range evs {
			if w, ok := ev.(WarningEvent); ok {
				warnings = append(warnings, w.Message)
			}
		}
		close(done)
	}()
	_, err := r.Run(context.Background())
	<-done
	if !errors.Is(err, ErrBadSteps) {
		t.Fatalf("got %v, want ErrBadSteps", err)
	}
	for _, s := range []string{"steps 5–7", "stage 1 (low-res)", "lower the lr"} {
		if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(s)) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if len(warnings) != 4 {
		t.Errorf("%d warnings, want 4 (one single skip, then three in a row): %q", len(warnings), warnings)
	}
	curve := readCurve(t, dir)
	var skipped []int
	for _, c := range curve {
		if c.skipped {
			skipped = append(skipped, c.step)
			if !math.IsNaN(math.Float64frombits(c.loss)) {
				t.Errorf("skipped step %d logged loss %v, want null", c.step, math.Float64frombits(c.loss))
			}
		}
	}
	if len(skipped) != 4 || skipped[0] != 2 || skipped[3] != 7 {
		t.Errorf("skipped steps %v, want 2, 5, 6, 7", skipped)
	}
	// A skipped step changes nothing: stage 0 (5) + stage 1 good steps 1, 3, 4.
	if got := m.applied.Load(); got != 8 {
		t.Errorf("%d updates applied, want 8", got)
	}
}

type failingWriter struct {
	w    interface{ Write([]byte) (int, error) }
	left int
}

func (f *failingWriter) Write(b []byte) (int, error) {
	if len(b) > f.left {
		n, _ := f.w.Write(b[:f.left])
		f.left = 0
		return n, &os.PathError{Op: "write", Path: "checkpoint", Err: syscall.ENOSPC}
	}
	f.left -= len(b)
	return f.w.Write(b)
}

func checkpointFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, CheckpointDir))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, CheckpointDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func TestFailingCheckpointWriteKeepsEarlierOnes(t *testing.T) {
	for _, mode := range []string{"disk-full", "model-save-error"} {
		t.Run(mode, func(t *testing.T) {
			p := testPreset(t)
			dir := t.TempDir()
			m := newFake()
			r := newRunner(t, m, p, dir, -1, false)
			var before map[string][]byte
			// Stage 1 checkpoints at step 3; fail the one at step 6.
			m.before = func(b *Batch) error {
				if b.Stage == 1 && b.Step == 5 {
					before = checkpointFiles(t, dir)
					if mode == "disk-full" {
						r.rf.wrap = func(w io.Writer) io.Writer { return &failingWriter{w: w, left: 20} }
					} else {
						m.saveFail = errors.New("tensor encoder failed")
					}
				}
				return nil
			}
			_, err := r.Run(context.Background())
			if err == nil {
				t.Fatal("a failing checkpoint write was not reported")
			}
			want := "no space left on device"
			if mode != "disk-full" {
				want = "tensor encoder failed"
			}
			for _, s := range []string{want, "stage 1 step 6", "untouched", "s1-00000003"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			after := checkpointFiles(t, dir)
			if len(before) == 0 {
				t.Fatal("no checkpoint before the failure")
			}
			if len(after) != len(before) {
				t.Errorf("checkpoint folder had %d files, now %d (a temporary file left behind?)", len(before), len(after))
			}
			for name, b := range before {
				if !bytes.Equal(after[name], b) {
					t.Errorf("%s changed", name)
				}
			}
			// The newest good checkpoint still loads.
			f, err := os.Open(filepath.Join(dir, CheckpointDir, "s1-00000003.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			meta, err := newFake().LoadCheckpoint(f)
			if err != nil || meta["train.step"] != "3" {
				t.Fatalf("earlier checkpoint unreadable: %v %v", meta, err)
			}
		})
	}
}

func TestUnwritableRunFolder(t *testing.T) {
	p := testPreset(t)
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := NewRunner(newFake(), Options{Preset: p, RunDir: filepath.Join(file, "run"), Stage: -1})
	if err == nil || !strings.Contains(err.Error(), "run folder") || !strings.Contains(err.Error(), "plain-file") {
		t.Fatalf("run folder under a file: %v", err)
	}
	if os.Geteuid() == 0 {
		t.Log("running as root: the read-only folder case cannot be tested (root writes anyway)")
		return
	}
	ro := t.TempDir()
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(ro, 0o755)
	if _, err := NewRunner(newFake(), Options{Preset: p, RunDir: filepath.Join(ro, "run"), Stage: -1}); err == nil {
		t.Fatal("read-only parent accepted")
	}
}

func TestEventsOrderAndSlowConsumer(t *testing.T) {
	p := testPreset(t)
	dir := t.TempDir()
	r := newRunner(t, newFake(), p, dir, -1, false)
	evs := r.Events()
	// The consumer takes one event, then does not read again until Run has returned.
	runDone := make(chan error)
	go func() {
		_, err := r.Run(context.Background())
		runDone <- err
	}()
	first := <-evs
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run blocked on a consumer that does not read")
	}
	all := []Event{first}
	for ev := range evs {
		all = append(all, ev)
	}
	if _, ok := all[0].(StageStarted); !ok {
		t.Fatalf("first event %T, want StageStarted", all[0])
	}
	if _, ok := all[len(all)-1].(RunFinished); !ok {
		t.Fatalf("last event %T, want RunFinished", all[len(all)-1])
	}
	if r.CoalescedSteps() == 0 {
		t.Error("a consumer that never read got every step event: nothing was coalesced")
	}
	stage, lastStep, inStage := -1, 0, false
	var started, finished []int
	for _, ev := range all {
		switch e := ev.(type) {
		case StageStarted:
			if inStage || e.Stage <= stage {
				t.Fatalf("StageStarted %d out of order", e.Stage)
			}
			stage, lastStep, inStage = e.Stage, 0, true
			started = append(started, e.Stage)
		case StepEvent:
			if !inStage || e.Stage != stage || e.Step <= lastStep {
				t.Fatalf("step event stage %d step %d after stage %d step %d", e.Stage, e.Step, stage, lastStep)
			}
			lastStep = e.Step
		case StageFinished:
			if !inStage || e.Stage != stage {
				t.Fatalf("StageFinished %d out of order", e.Stage)
			}
			if lastStep != p.Stages[stage].Steps {
				t.Errorf("stage %d: last step event delivered was %d, want the final step %d", stage, lastStep, p.Stages[stage].Steps)
			}
			inStage = false
			finished = append(finished, e.Stage)
		}
	}
	if len(started) != 4 || len(finished) != 4 {
		t.Errorf("started %v finished %v, want all 4 stages", started, finished)
	}
}

func TestPauseResumeFromAnotherGoroutine(t *testing.T) {
	p := testPreset(t)
	m := newFake()
	r := newRunner(t, m, p, t.TempDir(), -1, false)
	m.after = func(b *Batch) {
		if m.applied.Load() == 3 {
			go r.Pause()
			for !r.Paused() {
				time.Sleep(time.Millisecond)
			}
		}
	}
	evs := r.Events()
	runDone := make(chan error, 1)
	go func() {
		_, err := r.Run(context.Background())
		runDone <- err
	}()
	var paused, resumed bool
	for ev := range evs {
		switch e := ev.(type) {
		case PausedEvent:
			paused = true
			n := m.applied.Load()
			time.Sleep(50 * time.Millisecond)
			if m.applied.Load() != n || n != 3 {
				t.Errorf("steps ran while paused: %d → %d", n, m.applied.Load())
			}
			if e.Stage != 0 || e.Step != 3 {
				t.Errorf("paused at stage %d step %d, want 0/3", e.Stage, e.Step)
			}
			r.Resume()
		case ResumedEvent:
			resumed = true
		}
	}
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	if !paused || !resumed {
		t.Fatalf("paused %v resumed %v", paused, resumed)
	}
}

func TestAuxAndDropoutHappen(t *testing.T) {
	p := testPreset(t)
	p.Stages[1].Steps = 60
	p.Stages[1].Batch = 8
	m := newFake()
	if _, err := newRunner(t, m, p, t.TempDir(), -1, false).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Two forwards per aux step: stage 2 (6 steps) and 3 (4 steps) have aux, stage 1 (60) not.
	if m.mainCalls != 70 || m.auxCalls != 10 {
		t.Errorf("main forwards %d, aux forwards %d; want 70 and 10", m.mainCalls, m.auxCalls)
	}
	// Dropout 0.1 over the image stages' 60·8+6·3+4·2 = 506 captions (none in the text-encoder stage).
	n := 506.0
	frac := float64(m.emptyCaps) / n
	if sd := math.Sqrt(0.1 * 0.9 / n); math.Abs(frac-0.1) > 4*sd {
		t.Errorf("%d empty captions of %v (%.3f), want about 0.1", m.emptyCaps, n, frac)
	}
}

func TestMetricsHaveAuxLossOnlyWithAux(t *testing.T) {
	p := testPreset(t)
	dir := t.TempDir()
	if _, err := newRunner(t, newFake(), p, dir, -1, false).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadMetrics(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		aux := p.Stages[r.Stage].AuxLoss
		if aux != (r.AuxLoss > 0) {
			t.Errorf("stage %d step %d: aux loss %v with aux_loss %v", r.Stage, r.Step, r.AuxLoss, aux)
		}
		if want := LRAt(p.Stages[r.Stage], r.Step-1); r.LR != want {
			t.Errorf("stage %d step %d: lr %v, want %v", r.Stage, r.Step, r.LR, want)
		}
	}
	// keep_last 2 periodic checkpoints, and every stage's final one.
	ck, err := r0(dir).Checkpoints()
	if err != nil {
		t.Fatal(err)
	}
	var finals, periodic int
	for _, c := range ck {
		if c.Final {
			finals++
		} else {
			periodic++
		}
	}
	if finals != 4 || periodic != 2 {
		t.Errorf("%d final and %d periodic checkpoints, want 4 and 2", finals, periodic)
	}
}

func r0(dir string) *RunFolder { return &RunFolder{Dir: dir, Ext: ".safetensors"} }

// sceneSampler "generates" by rendering the ToyEval prompt's reference scene: the end-of-stage
// evaluation must then score near 1, which checks the wiring from prompts to the judge.
type sceneSampler struct {
	*fakeModel
	calls atomic.Int32
}

func (s *sceneSampler) Sample(ctx context.Context, prompts []string, w, h int, seed uint64) ([]image.Image, error) {
	s.calls.Add(1)
	suite, err := toyeval.Suite("quick")
	if err != nil {
		return nil, err
	}
	byText := map[string]world.Scene{}
	for _, p := range suite {
		byText[p.Text] = p.Scene
	}
	out := make([]image.Image, len(prompts))
	for i, pr := range prompts {
		text := pr[strings.LastIndex(pr, "<Prompt Start> ")+len("<Prompt Start> "):]
		sc, ok := byText[text]
		if !ok {
			sc = suite[0].Scene
		}
		img, err := world.Render(sc, w, h)
		if err != nil {
			return nil, err
		}
		out[i] = img
	}
	return out, nil
}

func TestSamplesAndToyEval(t *testing.T) {
	p := testPreset(t)
	p.Stages = p.Stages[:2]
	p.Stages[1].Resolution = 32
	p.Stages[1].SampleEvery = 3
	p.Samples.Prompts = []string{"a red circle", "two blue squares"}
	p.Eval.Suite = "quick"
	dir := t.TempDir()
	m := &sceneSampler{fakeModel: newFake()}
	r := newRunner(t, m, p, dir, -1, false)
	evs := r.Events()
	var samples []string
	var eval *toyeval.Report
	done := make(chan struct{})
	go func() {
		for ev := range evs {
			switch e := ev.(type) {
			case SampleEvent:
				samples = append(samples, filepath.Base(e.Path))
			case StageFinished:
				if e.Stage == 1 {
					eval = e.Eval
				}
			case WarningEvent:
				t.Errorf("warning: %s", e.Message)
			}
		}
		close(done)
	}()
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-done
	if want := "s1-00000003.png s1-00000006.png s1-00000007.png"; strings.Join(samples, " ") != want {
		t.Errorf("sample grids %v, want %s", samples, want)
	}
	if eval == nil || eval.Overall < 0.8 {
		t.Fatalf("ToyEval of reference renders: %+v, want overall ≥ 0.8", eval)
	}
	if _, err := os.Stat(filepath.Join(dir, EvalDir, "s1-quick.json")); err != nil {
		t.Error(err)
	}
}

// A crash (no checkpoint at the interruption) resumes from the last periodic checkpoint: the steps
// logged after it are dropped from metrics.jsonl and run again, so the curve still matches.
func TestResumeAfterCrash(t *testing.T) {
	p := testPreset(t)
	refDir := t.TempDir()
	if _, err := newRunner(t, newFake(), p, refDir, -1, false).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.before = func(b *Batch) error {
		if b.Stage == 1 && b.Step == 5 {
			cancel()
			return context.Canceled
		}
		return nil
	}
	sum, err := newRunner(t, m, p, dir, -1, false).Run(ctx)
	if err != nil || !sum.Stopped {
		t.Fatalf("%+v %v", sum, err)
	}
	// The process "died" before that checkpoint reached the disk: the newest is stage 1 step 3.
	if err := os.Remove(filepath.Join(dir, CheckpointDir, "s1-00000005.safetensors")); err != nil {
		t.Fatal(err)
	}
	m2 := newFake()
	if _, err := newRunner(t, m2, p, dir, -1, true).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameCurve(t, readCurve(t, refDir), readCurve(t, dir))
}

// exportingFake is the fake model with a sampling export: its weights as text.
type exportingFake struct{ *fakeModel }

func (f exportingFake) Export(w io.Writer) error {
	_, err := fmt.Fprint(w, f.w)
	return err
}

// A run that trains the preset's last stage leaves FinalFile, written from the weights it trained; a
// run of an earlier stage, and a resume with nothing left to train, do not write it.
func TestFinalExportOnlyAfterTheLastStage(t *testing.T) {
	p := testPreset(t)
	dir := t.TempDir()
	final := filepath.Join(dir, FinalFile)
	for s := 0; s < len(p.Stages)-1; s++ {
		sum, err := newRunner(t, exportingFake{newFake()}, p, dir, s, false).Run(context.Background())
		if err != nil || sum.Final != "" {
			t.Fatalf("stage %d: final %q, %v", s, sum.Final, err)
		}
		if _, err := os.Stat(final); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("stage %d of %d wrote %s", s, len(p.Stages), FinalFile)
		}
	}
	m := exportingFake{newFake()}
	r := newRunner(t, m, p, dir, len(p.Stages)-1, false)
	var finished RunFinished
	done := make(chan struct{})
	go func() {
		for ev := range r.Events() {
			if e, ok := ev.(RunFinished); ok {
				finished = e
			}
		}
		close(done)
	}()
	sum, err := r.Run(context.Background())
	<-done
	if err != nil || sum.Final != final || finished.Final != final {
		t.Fatalf("last stage: summary final %q, event final %q, %v", sum.Final, finished.Final, err)
	}
	b, err := os.ReadFile(final)
	if err != nil || string(b) != fmt.Sprint(m.w) {
		t.Fatalf("%s holds %q, want the trained weights %v (%v)", FinalFile, b, m.w, err)
	}
	os.WriteFile(final, []byte("kept"), 0o644)
	if sum, err := newRunner(t, exportingFake{newFake()}, p, dir, -1, true).Run(context.Background()); err != nil || !sum.AlreadyDone || sum.Final != "" {
		t.Fatalf("resume of a finished run: %+v %v", sum, err)
	}
	if b, _ := os.ReadFile(final); string(b) != "kept" {
		t.Error("a resume with nothing to train rewrote the export")
	}
}

// Stop during a step ends it at the model's next safe point (the fake model checks its context after
// the before hook) instead of after it: the run stops with the checkpoint of the last finished step,
// and a resume still matches an uninterrupted run.
func TestStopEndsAStepAtASafePoint(t *testing.T) {
	p := testPreset(t)
	refDir := t.TempDir()
	if _, err := newRunner(t, newFake(), p, refDir, AllStages, false).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := newFake()
	r := newRunner(t, m, p, dir, AllStages, false)
	m.before = func(b *Batch) error {
		if b.Stage == 1 && b.Step == 4 {
			r.Stop() // as the TUI would, while the step runs
		}
		return nil
	}
	sum, err := r.Run(context.Background())
	if err != nil || !sum.Stopped || sum.Stage != 1 || sum.Step != 4 {
		t.Fatalf("stop during stage 1 step 5: %+v %v, want a stop with 4 steps done", sum, err)
	}
	if filepath.Base(sum.LastCheckpoint) != "s1-00000004.safetensors" {
		t.Errorf("last checkpoint %s, want s1-00000004", sum.LastCheckpoint)
	}
	if _, err := newRunner(t, newFake(), p, dir, AllStages, true).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameCurve(t, readCurve(t, refDir), readCurve(t, dir))
}

// A run folder of an earlier build, whose config.yaml is the compact encoding (omitempty fields left
// out, no base:), resumes: checkpoints carry the hash of that encoding, which this build computes too.
func TestRunFolderOfAnEarlierBuildResumes(t *testing.T) {
	p := testPreset(t)
	dir := stoppedRun(t, p)
	q := *p
	q.Base = ""
	var compact bytes.Buffer
	enc := yaml.NewEncoder(&compact)
	enc.SetIndent(2)
	if err := enc.Encode(&q); err != nil {
		t.Fatal(err)
	}
	enc.Close()
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), compact.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, CheckpointDir, "s0-00000002.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := newFake().LoadCheckpoint(f)
	f.Close()
	sum := sha256.Sum256(compact.Bytes())
	if err != nil || meta["train.config"] != hex.EncodeToString(sum[:8]) {
		t.Fatalf("checkpoint config hash %q, want the compact encoding's %x (%v)", meta["train.config"], sum[:8], err)
	}
	r, err := NewRunner(newFake(), Options{RunDir: dir, Stage: AllStages, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := ReadConfig(dir); !reflect.DeepEqual(got.Stages, p.Stages) {
		t.Errorf("the resumed run's config.yaml reads back as other stages: %+v", got.Stages)
	}
}

// A writer killed between a checkpoint and the pruning after it leaves one periodic checkpoint too
// many; the next writer prunes it, even when nothing is left to train.
func TestResumePrunesWhatAKilledWriterKept(t *testing.T) {
	p := testPreset(t)
	dir := t.TempDir()
	if _, err := newRunner(t, newFake(), p, dir, AllStages, false).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	kept := checkpointFiles(t, dir)
	// The stage 0 checkpoint of step 2, pruned after stage 2's step 4, back as if that pruning never ran.
	extra := filepath.Join(dir, CheckpointDir, "s0-00000002.safetensors")
	if err := os.WriteFile(extra, kept["s0-final.safetensors"], 0o644); err != nil {
		t.Fatal(err)
	}
	if sum, err := newRunner(t, newFake(), p, dir, AllStages, true).Run(context.Background()); err != nil || !sum.AlreadyDone {
		t.Fatalf("%+v %v", sum, err)
	}
	if _, err := os.Stat(extra); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s survived the resume: keep_last %d allows %d periodic checkpoints", extra, p.Checkpoints.KeepLast, p.Checkpoints.KeepLast)
	}
	if got := checkpointFiles(t, dir); len(got) != len(kept) {
		t.Errorf("checkpoints after the resume: %d, the finished run had %d", len(got), len(kept))
	}
}
