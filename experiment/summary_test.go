package experiment

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/sweep"
	"github.com/lumina-workbench/lumina/train"
)

// writeRun makes a finished run folder by hand: its config, a low-res loss curve and the ToyEval
// report of the low-res stage's end.
func writeRun(t *testing.T, dir string, p *train.Preset, losses, scores []float64) {
	t.Helper()
	rf, err := train.OpenRunFolder(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	if err := rf.WriteConfig(p); err != nil {
		t.Fatal(err)
	}
	var lines []byte
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		b, _ := json.Marshal(train.MetricsRecord{Time: t0.Add(time.Duration(i) * time.Second), Stage: 0, Step: i + 1, Loss: 9})
		lines = append(append(lines, b...), '\n')
	}
	for i, l := range losses {
		b, _ := json.Marshal(train.MetricsRecord{Time: t0.Add(time.Duration(10+2*i) * time.Second), Stage: 1, StageName: "low-res", Step: i + 1, Loss: l})
		lines = append(append(lines, b...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, train.MetricsFile), lines, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rf.WriteJSON(filepath.Join(dir, train.EvalDir, "s1-quick.json"), toyeval.Report{Scores: scores}); err != nil {
		t.Fatal(err)
	}
}

func constant(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// The summary's numbers against hand-computed ones.
func TestSummaryByHand(t *testing.T) {
	src := strings.Replace(okFile, "  low-res: 5", "  low-res: 25", 1)
	e, err := Parse([]byte(src), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	P := 18 // the quick suite: 2 prompts in each of 9 categories
	// fast (the reference): seed 1 scores 1 on the first prompt only, seed 2 nothing. Its first
	// category's mean is (1+0+0+0)/4 = 0.25, the overall score 0.25/9.
	refScores := map[uint64][]float64{1: append([]float64{1}, constant(P-1, 0)...), 2: constant(P, 0)}
	// Losses: 20 steps at 1 then 5 at 2 (seed 1): the last 20-step mean is (15+10)/20 = 1.25, the
	// lowest full window 1; seed 2 constant 3. Over seeds: final 2.125 [1.25, 3], best 2 [1, 3].
	curve := map[uint64][]float64{1: append(constant(20, 1), constant(5, 2)...), 2: constant(25, 3)}
	var recs []Record
	for _, r := range e.Runs() {
		scores := refScores[r.Seed]
		if r.Variant == "slow" {
			scores = constant(P, 1)
		}
		writeRun(t, filepath.Join(dir, r.Folder()), e.Preset(r), curve[r.Seed], scores)
		recs = append(recs, Record{Variant: r.Variant, Seed: r.Seed, Dir: r.Folder(), WallS: 10})
	}
	s, err := Summarize(dir, e, recs)
	if err != nil {
		t.Fatal(err)
	}
	fast, slow := s.Variants[0], s.Variants[1]
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if !near(fast.FinalLoss.Mean, 2.125) || fast.FinalLoss.Min != 1.25 || fast.FinalLoss.Max != 3 {
		t.Errorf("final loss %+v, want 2.125 [1.25, 3]", fast.FinalLoss)
	}
	if fast.BestLoss != (Spread{2, 1, 3}) {
		t.Errorf("best loss %+v, want 2 [1, 3]", fast.BestLoss)
	}
	if !near(fast.Score.Est, 0.25/9) || !near(fast.Categories[0].Est, 0.25) || fast.Categories[1].Est != 0 {
		t.Errorf("reference score %+v, categories %+v", fast.Score, fast.Categories[:2])
	}
	if slow.Score.Est != 1 || slow.Score.Lo != 1 || slow.Score.Hi != 1 {
		t.Errorf("a variant scoring 1 everywhere: %+v", slow.Score)
	}
	// The paired difference is 1 − the reference's score image by image.
	if !near(slow.Delta.Est, 1-0.25/9) || !near(slow.CategoryDelta[0].Est, 0.75) || slow.CategoryDelta[1] != (sweep.Interval{Est: 1, Lo: 1, Hi: 1}) || !slow.Delta.ExcludesZero() {
		t.Errorf("delta %+v, category deltas %+v", slow.Delta, slow.CategoryDelta[:2])
	}
	if len(fast.Evals) != 1 || fast.Evals[0].Step != 25 || fast.Evals[0].Name != "low-res" {
		t.Errorf("evaluation points %+v", fast.Evals)
	}
	if fast.SecPerStep[0].Sec != 1 || fast.SecPerStep[1].Sec != 2 {
		t.Errorf("seconds per step %+v, want 1 and 2", fast.SecPerStep)
	}
	if c := fast.Curve[19].Loss; c != (Spread{2, 1, 3}) {
		t.Errorf("curve at step 20: %+v", c)
	}
	// One run missing: the summary says how many and which.
	if _, err := Summarize(dir, e, recs[1:]); err == nil || !strings.Contains(err.Error(), "1 of 4 runs have not finished (the first: runs/fast-seed1)") {
		t.Errorf("incomplete: %v", err)
	}
}

// A stage whose metrics end before its steps was cut short by its clock cap.
func TestCuts(t *testing.T) {
	e, _ := Parse([]byte(okFile), "t.yaml")
	p := e.Variants[0].Preset
	var recs []train.MetricsRecord
	for i := 1; i <= 3; i++ {
		recs = append(recs, train.MetricsRecord{Stage: 0, Step: i})
	}
	for i := 1; i <= 4; i++ {
		recs = append(recs, train.MetricsRecord{Stage: 1, Step: i})
	}
	got := cutsOf(p, recs)
	if len(got) != 1 || got[0] != (Cut{Stage: 1, Name: "low-res", Steps: 4, Budget: 5}) {
		t.Errorf("cuts %+v, want low-res 4 of 5", got)
	}
}
