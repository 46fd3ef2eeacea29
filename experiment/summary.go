package experiment

// The summary of a finished experiment, read from its run folders: per variant the final and best
// loss over seeds, ToyEval's overall score and category means at the last evaluation with bootstrap
// intervals over prompts and seeds, and the paired difference to the first variant (same prompt, same
// seed). Everything but the measured times is a function of the run folders' losses and scores, so a
// resumed or sharded experiment summarises to the same bytes above the timing section.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/sweep"
	"github.com/lumina-workbench/lumina/train"
)

// CurveWindow is how many steps a point of a loss curve averages (one step's loss is noisy); the
// final loss is the curve's last point, the best loss its lowest once the window is full.
const CurveWindow = 20

// timingHeading opens summary.md's last section, the measured times.
const timingHeading = "\n## Timing"

// Spread is a number over seeds: the mean, the least and the largest.
type Spread struct{ Mean, Min, Max float64 }

func spreadOf(xs []float64) Spread {
	s := Spread{Min: math.Inf(1), Max: math.Inf(-1)}
	for _, x := range xs {
		s.Mean += x
		s.Min, s.Max = math.Min(s.Min, x), math.Max(s.Max, x)
	}
	s.Mean /= float64(len(xs))
	return s
}

// CurvePoint is a loss curve's value at a DiT step (counted over the DiT stages), over seeds.
type CurvePoint struct {
	Step int
	Loss Spread
}

// EvalPoint is ToyEval at a stage's end: the DiT steps trained by then, the overall score over seeds
// and prompts.
type EvalPoint struct {
	Stage int
	Name  string
	Step  int
	Score sweep.Interval
}

// StageTime is a stage's measured seconds per step (the median over its steps, mean over seeds).
type StageTime struct {
	Name string
	Sec  float64
}

// VariantSummary is one variant's numbers.
type VariantSummary struct {
	Name string
	// Changes are the preset keys the variant sets differently from the base ("key: base → variant").
	Changes  []string
	DiTSteps int
	// FinalLoss and BestLoss are over seeds (main flow-matching loss, CurveWindow-step means).
	FinalLoss, BestLoss Spread
	// Score and Categories are ToyEval at the last evaluation; Delta and CategoryDelta the paired
	// differences to the first variant.
	Score, Delta              sweep.Interval
	Categories, CategoryDelta []sweep.Interval
	Curve                     []CurvePoint
	Evals                     []EvalPoint
	// Measured: the wall time per run, seconds per step by stage, stages a clock cap cut short.
	WallS      Spread
	SecPerStep []StageTime
	Cuts       []string
}

// Summary is a finished experiment's numbers.
type Summary struct {
	Exp        *Experiment
	Prompts    []toyeval.Prompt
	Categories []string
	Variants   []VariantSummary
}

// runData is what a summary reads of one run folder.
type runData struct {
	rec   Record
	curve []CurvePoint // Loss.Mean only
	// evals are the stage ends with a ToyEval report, in stage order.
	evals    []EvalPoint
	reports  []toyeval.Report
	secs     []StageTime
	ditSteps int
}

// Summarize reads the run folders of a finished experiment in dir; recs are its records (from any
// number of shards, in any order). A run not finished yet is an error that says how many are missing.
func Summarize(dir string, e *Experiment, recs []Record) (*Summary, error) {
	byKey := map[[2]string]Record{}
	for _, r := range recs {
		byKey[r.key()] = r
	}
	runs := e.Runs()
	missing := 0
	first := ""
	for _, r := range runs {
		if _, ok := byKey[Record{Variant: r.Variant, Seed: r.Seed}.key()]; !ok {
			if missing == 0 {
				first = r.Folder()
			}
			missing++
		}
	}
	if missing > 0 {
		return nil, fmt.Errorf("%d of %d runs have not finished (the first: %s): finish the experiment (every shard) with --resume, then summarise", missing, len(runs), first)
	}
	prompts, err := toyeval.Suite(e.BasePreset.Eval.Suite)
	if err != nil {
		return nil, err
	}
	cats := make([]string, len(prompts))
	for i, p := range prompts {
		cats[i] = p.Category
	}
	S := len(e.Seeds)
	design, catNames := sweep.NewDesign(cats, S)
	rs := sweep.NewResampler(design, sweep.Resamples, sweep.BootstrapSeed)
	data := make([][]runData, len(e.Variants))
	for _, r := range runs {
		d, err := readRun(filepath.Join(dir, r.Folder()), byKey[Record{Variant: r.Variant, Seed: r.Seed}.key()], len(prompts))
		if err != nil {
			return nil, err
		}
		data[r.variant] = append(data[r.variant], d)
	}
	s := &Summary{Exp: e, Prompts: prompts, Categories: catNames}
	// scores is a variant's per-image vector at evaluation k (prompt p, seed s at p·S + s).
	scores := func(v, k int) []float64 {
		out := make([]float64, len(prompts)*S)
		for si, d := range data[v] {
			for p, x := range d.reports[k].Scores {
				out[p*S+si] = x
			}
		}
		return out
	}
	ref := scores(0, len(data[0][0].reports)-1)
	for vi, v := range e.Variants {
		vs, err := summarizeVariant(e, vi, data[vi])
		if err != nil {
			return nil, err
		}
		last := len(data[vi][0].reports) - 1
		final := scores(vi, last)
		vs.Score, vs.Categories = rs.ScoreIntervals(final)
		vs.Delta, vs.CategoryDelta = rs.PairedIntervals(final, ref)
		for k := range vs.Evals {
			o, _ := rs.ScoreIntervals(scores(vi, k))
			vs.Evals[k].Score = o
		}
		if vs.Changes, err = changes(e.BasePreset, v.Preset); err != nil {
			return nil, err
		}
		if vi == 0 && len(vs.Changes) == 0 {
			vs.Changes = []string{"none (the base)"}
		}
		s.Variants = append(s.Variants, *vs)
	}
	return s, nil
}

// summarizeVariant gathers a variant's seeds: losses, curve, evaluation points, timings.
func summarizeVariant(e *Experiment, vi int, runs []runData) (*VariantSummary, error) {
	v := &VariantSummary{Name: e.Variants[vi].Name, DiTSteps: runs[0].ditSteps}
	var finals, bests, walls []float64
	for si, d := range runs {
		if len(d.reports) != len(runs[0].reports) || len(d.reports) == 0 {
			return nil, fmt.Errorf("variant %s seed %d: %d ToyEval reports, seed %d has %d: every run of a variant must be evaluated at the same stages",
				v.Name, e.Seeds[si], len(d.reports), e.Seeds[0], len(runs[0].reports))
		}
		f, b := finalAndBest(d.curve)
		finals, bests, walls = append(finals, f), append(bests, b), append(walls, d.rec.WallS)
		for _, c := range d.rec.Cuts {
			v.Cuts = append(v.Cuts, fmt.Sprintf("seed %d: %s %d of %d steps", d.rec.Seed, c.Name, c.Steps, c.Budget))
		}
	}
	v.FinalLoss, v.BestLoss, v.WallS = spreadOf(finals), spreadOf(bests), spreadOf(walls)
	v.Curve = mergeCurves(runs)
	v.Evals = append([]EvalPoint(nil), runs[0].evals...)
	for i, st := range runs[0].secs {
		var sum float64
		for _, d := range runs {
			sum += d.secs[i].Sec
		}
		v.SecPerStep = append(v.SecPerStep, StageTime{Name: st.Name, Sec: sum / float64(len(runs))})
	}
	return v, nil
}

// finalAndBest are a curve's last point and its lowest point among those with a full window.
func finalAndBest(curve []CurvePoint) (final, best float64) {
	if len(curve) == 0 {
		return math.NaN(), math.NaN()
	}
	final, best = curve[len(curve)-1].Loss.Mean, math.Inf(1)
	for i, c := range curve {
		if (i+1 >= CurveWindow || i == len(curve)-1) && c.Loss.Mean < best {
			best = c.Loss.Mean
		}
	}
	return final, best
}

// mergeCurves is the seeds' curves point by point: mean, least and largest (a point only some seeds
// reached, after a stage a clock cut short, is over those seeds).
func mergeCurves(runs []runData) []CurvePoint {
	n := 0
	for _, d := range runs {
		n = max(n, len(d.curve))
	}
	out := make([]CurvePoint, n)
	for i := range out {
		var xs []float64
		for _, d := range runs {
			if i < len(d.curve) && !math.IsNaN(d.curve[i].Loss.Mean) {
				xs = append(xs, d.curve[i].Loss.Mean)
			}
		}
		out[i] = CurvePoint{Step: i + 1, Loss: Spread{math.NaN(), math.NaN(), math.NaN()}}
		if len(xs) > 0 {
			out[i].Loss = spreadOf(xs)
		}
	}
	return out
}

// readRun reads a finished run folder: its DiT loss curve, its ToyEval reports and step times.
func readRun(dir string, rec Record, prompts int) (runData, error) {
	d := runData{rec: rec}
	p, recs, err := readFolder(dir)
	if err != nil {
		return d, err
	}
	d.curve, d.secs = curveOf(p, recs)
	d.ditSteps = len(d.curve)
	step := 0
	for i, st := range p.Stages {
		if st.Skip || st.Kind != train.KindDiT {
			continue
		}
		for _, r := range recs {
			if r.Stage == i {
				step++
			}
		}
		if st.NoEval {
			continue
		}
		path := filepath.Join(dir, train.EvalDir, fmt.Sprintf("s%d-%s.json", i, p.Eval.Suite))
		rep, err := readReport(path, prompts)
		if err != nil {
			return d, err
		}
		d.reports = append(d.reports, rep)
		d.evals = append(d.evals, EvalPoint{Stage: i, Name: st.Name, Step: step})
	}
	return d, nil
}

func readReport(path string, prompts int) (toyeval.Report, error) {
	var rep toyeval.Report
	b, err := os.ReadFile(path)
	if err != nil {
		return rep, fmt.Errorf("ToyEval report: %w (the stage's evaluation failed or the model cannot sample; see the run's warnings)", err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return rep, fmt.Errorf("ToyEval report %s: %w", path, err)
	}
	if len(rep.Scores) != prompts {
		return rep, fmt.Errorf("ToyEval report %s scores %d prompts, the suite has %d", path, len(rep.Scores), prompts)
	}
	return rep, nil
}

// curveOf is a run's DiT loss curve, each point the mean of the last CurveWindow finite losses of its
// stage (a stage starts its own window: the loss's scale changes with the resolution), and each
// stage's median seconds per step.
func curveOf(p *train.Preset, recs []train.MetricsRecord) ([]CurvePoint, []StageTime) {
	var curve []CurvePoint
	var secs []StageTime
	for i, st := range p.Stages {
		if st.Skip {
			continue
		}
		var window, gaps []float64
		var prev time.Time
		for _, r := range recs {
			if r.Stage != i {
				continue
			}
			if !prev.IsZero() {
				gaps = append(gaps, r.Time.Sub(prev).Seconds())
			}
			prev = r.Time
			if st.Kind != train.KindDiT {
				continue
			}
			if !r.Skipped && !math.IsNaN(r.Loss) {
				window = append(window, r.Loss)
				if len(window) > CurveWindow {
					window = window[1:]
				}
			}
			m := math.NaN()
			if len(window) > 0 {
				m = 0
				for _, x := range window {
					m += x
				}
				m /= float64(len(window))
			}
			curve = append(curve, CurvePoint{Step: len(curve) + 1, Loss: Spread{m, m, m}})
		}
		secs = append(secs, StageTime{Name: st.Name, Sec: median(gaps)})
	}
	return curve, secs
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return sweep.Quantile(s, 0.5)
}

// changes lists the keys whose values differ between base and p, as "key: base → p".
func changes(base, p *train.Preset) ([]string, error) {
	fb, err := flatten(base)
	if err != nil {
		return nil, err
	}
	fp, err := flatten(p)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range fp {
		if k != "name" && fb[k] != fp[k] {
			keys = append(keys, k)
		}
	}
	for k := range fb {
		if _, ok := fp[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		b, ok := fb[k]
		if !ok {
			b = "(none)"
		}
		v, ok := fp[k]
		if !ok {
			v = "(none)"
		}
		out[i] = fmt.Sprintf("%s: %s → %s", k, b, v)
	}
	return out, nil
}

// flatten is a preset as dotted key paths and values; stages are named by their name.
func flatten(p *train.Preset) (map[string]string, error) {
	b, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(strings.TrimPrefix(prefix+"."+k, "."), x)
			}
		case []any:
			named := len(v) > 0
			for _, x := range v {
				if m, ok := x.(map[string]any); !ok || m["name"] == nil {
					named = false
				}
			}
			if !named {
				out[prefix] = fmt.Sprint(v)
				return
			}
			for _, x := range v {
				walk(fmt.Sprintf("%s[%v]", prefix, x.(map[string]any)["name"]), x)
			}
		default:
			out[prefix] = fmt.Sprint(v)
		}
	}
	walk("", v)
	return out, nil
}

func f3(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }

func fmtSpread(s Spread) string {
	return fmt.Sprintf("%s [%s, %s]", f3(s.Mean), f3(s.Min), f3(s.Max))
}

// Markdown is summary.md.
func (s *Summary) Markdown() []byte {
	e := s.Exp
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Experiment %s\n\n", e.Name)
	if e.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(e.Description))
	}
	seeds := make([]string, len(e.Seeds))
	for i, x := range e.Seeds {
		seeds[i] = strconv.FormatUint(x, 10)
	}
	fmt.Fprintf(&b, "Base preset %s; %d variants × %d seeds (%s) = %d runs. ToyEval suite %s (%d prompts, sampling seed %d) at the end of each image stage. Reference: %s.\n\n",
		e.Base, len(e.Variants), len(e.Seeds), strings.Join(seeds, ", "), len(e.Variants)*len(e.Seeds), e.BasePreset.Eval.Suite, len(s.Prompts), e.BasePreset.Eval.Seed, e.Variants[0].Name)
	fmt.Fprintf(&b, "Losses are the main flow-matching loss, each point the mean of the last %d steps of its stage: final is the last point, best the lowest; "+
		"mean [least, largest] over seeds. Score is ToyEval's overall score (the mean of the category means) after the last stage. Intervals are 95%% percentile "+
		"bootstrap intervals over prompts (resampled within their category) and seeds (within each prompt): %d resamples, seed %d. Δ is the paired difference "+
		"to the reference (same prompt and seed, same resamples); * marks an interval that excludes 0.\n\n", CurveWindow, sweep.Resamples, sweep.BootstrapSeed)
	b.WriteString("## Variants\n\n| # | variant | DiT steps | changes from the base |\n|---|---|---|---|\n")
	for i, v := range s.Variants {
		fmt.Fprintf(&b, "| %d | %s | %d | %s |\n", i, v.Name, v.DiTSteps, strings.Join(v.Changes, "; "))
	}
	b.WriteString("\n## Results\n\n| # | variant | final loss | best loss | score [95% CI] | Δ vs reference [95% CI] |\n|---|---|---|---|---|---|\n")
	for i, v := range s.Variants {
		d := sweep.FormatDelta(v.Delta)
		if i == 0 {
			d = "reference"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", i, v.Name, fmtSpread(v.FinalLoss), fmtSpread(v.BestLoss), sweep.FormatInterval(v.Score), d)
	}
	for _, part := range []struct {
		title string
		get   func(VariantSummary) []sweep.Interval
		fmt   func(sweep.Interval) string
	}{
		{"Score by category", func(v VariantSummary) []sweep.Interval { return v.Categories }, sweep.FormatInterval},
		{"Δ vs reference by category", func(v VariantSummary) []sweep.Interval { return v.CategoryDelta }, sweep.FormatDelta},
	} {
		fmt.Fprintf(&b, "\n## %s\n\n| # |", part.title)
		for _, c := range s.Categories {
			fmt.Fprintf(&b, " %s |", c)
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", len(s.Categories)) + "\n")
		for i, v := range s.Variants {
			fmt.Fprintf(&b, "| %d |", i)
			for _, iv := range part.get(v) {
				fmt.Fprintf(&b, " %s |", part.fmt(iv))
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\n## Score at each evaluation\n\n| # | variant | stage | DiT steps | score [95% CI] |\n|---|---|---|---|---|\n")
	for i, v := range s.Variants {
		for _, ev := range v.Evals {
			fmt.Fprintf(&b, "| %d | %s | %s | %d | %s |\n", i, v.Name, ev.Name, ev.Step, sweep.FormatInterval(ev.Score))
		}
	}
	b.WriteString(timingHeading + " (measured: wall times vary from run to run and machine to machine)\n\n")
	b.WriteString("Wall time per run (training, evaluations, checkpoints) mean [least, largest] over seeds; seconds per step the median step of each stage, mean over seeds. " +
		"A stage cut short is one whose wall-clock cap (minutes) ended it before its steps: its curve depends on the machine.\n\n")
	b.WriteString("| # | variant | wall s/run | s/step by stage | stages cut short |\n|---|---|---|---|---|\n")
	for i, v := range s.Variants {
		var st []string
		for _, t := range v.SecPerStep {
			st = append(st, fmt.Sprintf("%s %.3f", t.Name, t.Sec))
		}
		cuts := "none"
		if len(v.Cuts) > 0 {
			cuts = strings.Join(v.Cuts, "; ")
		}
		fmt.Fprintf(&b, "| %d | %s | %.0f [%.0f, %.0f] | %s | %s |\n", i, v.Name, v.WallS.Mean, v.WallS.Min, v.WallS.Max, strings.Join(st, ", "), cuts)
	}
	return b.Bytes()
}

// timedColumn reports whether a summary.csv column holds a measured time.
func timedColumn(name string) bool { return strings.HasPrefix(name, "wall_") }

// Untimed is a summary file without its measured times (summary.md up to its timing section,
// summary.csv without its wall_* columns): a resumed or sharded experiment's match an uninterrupted one's.
func Untimed(name string, content []byte) (string, error) {
	switch name {
	case SummaryMD:
		return sweep.CutAt(name, content, timingHeading)
	case SummaryCSV:
		return sweep.DropColumns(name, content, timedColumn)
	}
	return "", fmt.Errorf("%s is not a summary file", name)
}

// CSV is summary.csv: one row per variant, intervals as est/lo/hi columns, the measured times last.
func (s *Summary) CSV() []byte {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	head := []string{"index", "variant", "reference", "seeds", "dit_steps", "final_loss", "final_loss_min", "final_loss_max",
		"best_loss", "best_loss_min", "best_loss_max", "score", "score_lo", "score_hi", "delta", "delta_lo", "delta_hi", "delta_excludes_0"}
	for _, c := range s.Categories {
		head = append(head, c, c+"_lo", c+"_hi", c+"_delta", c+"_delta_lo", c+"_delta_hi")
	}
	head = append(head, "wall_s_per_run", "wall_cut_stages")
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Write(head)
	for i, v := range s.Variants {
		row := []string{strconv.Itoa(i), v.Name, strconv.FormatBool(i == 0), strconv.Itoa(len(s.Exp.Seeds)), strconv.Itoa(v.DiTSteps)}
		for _, sp := range []Spread{v.FinalLoss, v.BestLoss} {
			row = append(row, f(sp.Mean), f(sp.Min), f(sp.Max))
		}
		row = append(row, f(v.Score.Est), f(v.Score.Lo), f(v.Score.Hi), f(v.Delta.Est), f(v.Delta.Lo), f(v.Delta.Hi), strconv.FormatBool(v.Delta.ExcludesZero()))
		for c := range s.Categories {
			a, d := v.Categories[c], v.CategoryDelta[c]
			row = append(row, f(a.Est), f(a.Lo), f(a.Hi), f(d.Est), f(d.Lo), f(d.Hi))
		}
		row = append(row, f(v.WallS.Mean), strings.Join(v.Cuts, "; "))
		cw.Write(row)
	}
	cw.Flush()
	return b.Bytes()
}
