package ablation

// The summary of a finished sweep: per cell, the score and each category's mean with bootstrap
// intervals, the paired difference to the reference, PSNR to the reference, and the measured speed.
// Everything but the speed is a function of the images alone, so a sweep run in shards summarises to the
// same bytes as one run on one machine; the measured wall times sit in their own section of summary.md
// (the last) and in the csv's last columns, those named wall_* and speedup*.

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/internal/folderlock"
	"github.com/lumina-workbench/lumina/sweep"
)

// Interval is an estimate with its 95% interval (sweep.Interval).
type Interval = sweep.Interval

// The bootstrap's settings (sweep.Resamples, sweep.BootstrapSeed).
const (
	Resamples     = sweep.Resamples
	BootstrapSeed = sweep.BootstrapSeed
)

// Summary is a finished sweep's numbers.
type Summary struct {
	Grid *Grid
	// Categories are the ToyEval categories of the grid's prompts, in report order.
	Categories []string
	Cells      []CellSummary
}

// CellSummary is one cell's numbers.
type CellSummary struct {
	Cell Cell
	// NFE and Forwards are per image (the same for every image of a cell); Skips is the mean number of
	// TeaCache-skipped main stacks per image.
	NFE, Forwards int
	Skips         float64
	// Score is ToyEval's overall score (the mean of the category means); Categories each category's
	// mean, in Summary.Categories order.
	Score      Interval
	Categories []Interval
	// Delta and CategoryDelta are the paired differences to the reference cell (same prompt and seed).
	Delta         Interval
	CategoryDelta []Interval
	// Measures holds the mean of each of Measures, MeasureDeltas its paired difference to the reference.
	Measures, MeasureDeltas []Interval
	// MSE is the mean squared error to the reference's images (−1 at another resolution), PSNR the
	// PSNR of that mean (+Inf when identical).
	MSE, PSNR float64
	// WallMs is the mean sampling wall time per image; Speedup the reference's mean over this one's.
	WallMs, Speedup Interval
}

// Summarize computes the summary of a complete sweep; results may come in any order (from any number
// of shards). A missing image is an error that says how many are missing and from where.
func Summarize(g *Grid, results []Result) (*Summary, error) {
	P, S := len(g.Prompts), g.Seeds
	pidx := map[string]int{}
	for i, p := range g.Prompts {
		pidx[p.ID] = i
	}
	cidx := map[string]int{}
	for _, c := range g.cells {
		cidx[c.ID] = c.Index
	}
	byCell := make([][]*Result, len(g.cells))
	for i := range byCell {
		byCell[i] = make([]*Result, P*S)
	}
	for i := range results {
		r := &results[i]
		c, okc := cidx[r.Cell]
		p, okp := pidx[r.PromptID]
		if !okc || !okp || r.Seed < 0 || r.Seed >= S {
			return nil, fmt.Errorf("result %s/%s seed %d is not an image of grid %s: the folder holds another grid's results", r.Cell, r.PromptID, r.Seed, g.Name)
		}
		byCell[c][p*S+r.Seed] = r
	}
	missing := 0
	var firstMissing string
	for c, rs := range byCell {
		for k, r := range rs {
			if r == nil {
				if missing == 0 {
					firstMissing = fmt.Sprintf("%s/%s seed %d", g.cells[c].ID, g.Prompts[k/S].ID, k%S)
				}
				missing++
			}
		}
	}
	if missing > 0 {
		return nil, fmt.Errorf("%d of %d images are not made yet (the first: %s): finish the sweep (every shard) with --resume, then summarise", missing, g.Images(), firstMissing)
	}

	cats := make([]string, P)
	for p, pr := range g.Prompts {
		cats[p] = pr.Category
	}
	d, catNames := sweep.NewDesign(cats, S)
	rs := sweep.NewResampler(d, Resamples, BootstrapSeed)
	column := func(c int, f func(*Result) float64) []float64 {
		v := make([]float64, P*S)
		for k, r := range byCell[c] {
			v[k] = f(r)
		}
		return v
	}
	score := func(r *Result) float64 { return r.Score }
	wall := func(r *Result) float64 { return r.WallMs }
	refScore, refWall := column(g.Reference, score), column(g.Reference, wall)
	sum := &Summary{Grid: g, Categories: catNames}
	for c, cell := range g.cells {
		cs := CellSummary{Cell: cell, NFE: byCell[c][0].NFE, Forwards: byCell[c][0].Forwards}
		v := column(c, score)
		cs.Score, cs.Categories = rs.ScoreIntervals(v)
		cs.Delta, cs.CategoryDelta = rs.PairedIntervals(v, refScore)
		for _, m := range Measures {
			v := column(c, m.Of)
			cs.Measures = append(cs.Measures, rs.MeanInterval(v))
			cs.MeasureDeltas = append(cs.MeasureDeltas, rs.PairedMeanInterval(v, column(g.Reference, m.Of)))
		}
		var skips, mse float64
		for _, r := range byCell[c] {
			skips += float64(r.Skips)
			if r.MSE < 0 {
				mse = math.Inf(-1)
			}
			mse += r.MSE
		}
		cs.Skips = skips / float64(P*S)
		cs.MSE, cs.PSNR = -1, math.NaN()
		if !math.IsInf(mse, -1) {
			cs.MSE = mse / float64(P*S)
			cs.PSNR = psnr(cs.MSE)
		}
		w := column(c, wall)
		cs.WallMs = rs.MeanInterval(w)
		cs.Speedup = rs.RatioInterval(refWall, w)
		sum.Cells = append(sum.Cells, cs)
	}
	return sum, nil
}

var (
	fmtInterval = sweep.FormatInterval
	fmtDelta    = sweep.FormatDelta
)

// Measure is a number per image besides the score, reported with its interval and paired difference.
type Measure struct {
	// Name is its column in the tables and summary.csv.
	Name string
	// Doc says what it measures, for summary.md.
	Doc string
	Of  func(*Result) float64
}

// Measures are the image measures a summary reports: over-saturation, which guidance at large scales
// causes, and blur, which TeaCache's reuse of stale residuals may cause.
var Measures = []Measure{
	{"clipped", "the share of RGB values at 0 or 255, pushed past the colour range (over-saturation)", func(r *Result) float64 { return r.Clipped }},
	{"sharpness", "the mean absolute difference of neighbouring RGB values in [0, 1] (lower is blurrier)", func(r *Result) float64 { return r.Sharpness }},
}

func fmtMeasure(iv Interval) string {
	return fmt.Sprintf("%.4f [%.4f, %.4f]", iv.Est, iv.Lo, iv.Hi)
}

func fmtMeasureDelta(iv Interval) string {
	s := fmt.Sprintf("%+.4f [%+.4f, %+.4f]", iv.Est, iv.Lo, iv.Hi)
	if iv.ExcludesZero() {
		s += " *"
	}
	return s
}

// deltaCell is a cell's paired difference, or "reference" for the reference itself.
func (s *Summary) deltaCell(c CellSummary) string {
	if c.Cell.Index == s.Grid.Reference {
		return "reference"
	}
	return fmtDelta(c.Delta)
}

func fmtPSNR(c CellSummary) string {
	switch {
	case c.MSE < 0:
		return "n/a (other resolution)"
	case math.IsInf(c.PSNR, 1):
		return "identical"
	}
	return strconv.FormatFloat(c.PSNR, 'f', 1, 64)
}

// WriteMarkdown writes summary.md: the scores, the categories, then the measured speed.
func (s *Summary) WriteMarkdown(w io.Writer) error {
	g := s.Grid
	ref := g.cells[g.Reference]
	swept := g.Swept()
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Sweep %s\n\n", g.Name)
	if g.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(g.Description))
	}
	prompts := "its own prompts"
	if g.Suite != "" {
		prompts = "ToyEval suite " + g.Suite
	}
	fmt.Fprintf(&b, "%d cells × %d prompts (%s) × %d seeds = %d images. Fixed: %s. Reference: cell %d, %s.\n\n",
		len(g.cells), len(g.Prompts), prompts, g.Seeds, g.Images(), fixedList(g), ref.Index, ref.ID)
	fmt.Fprintf(&b, "Score is ToyEval's overall score (the mean of the category means). Intervals are 95%% percentile bootstrap "+
		"intervals over prompts (resampled within their category) and seeds (within each prompt): %d resamples, seed %d. "+
		"Δ is the paired difference to the reference (same prompt and seed, same resamples); * marks an interval that excludes 0.\n\n",
		Resamples, BootstrapSeed)

	b.WriteString("## Score\n\n| # | cell |")
	for _, a := range swept {
		fmt.Fprintf(&b, " %s |", a.Key)
	}
	b.WriteString(" NFE | forwards | TeaCache skips | score [95% CI] | Δ vs reference [95% CI] | PSNR to reference (dB) |\n|---|---|")
	b.WriteString(strings.Repeat("---|", len(swept)+6) + "\n")
	for _, c := range s.Cells {
		fmt.Fprintf(&b, "| %d | %s |", c.Cell.Index, c.Cell.ID)
		for _, a := range swept {
			fmt.Fprintf(&b, " %s |", c.Cell.Setting.Format(a.Key))
		}
		fmt.Fprintf(&b, " %d | %d | %.1f | %s | %s | %s |\n", c.NFE, c.Forwards, c.Skips, fmtInterval(c.Score), s.deltaCell(c), fmtPSNR(c))
	}

	for _, part := range []struct {
		title string
		get   func(CellSummary) []Interval
		fmt   func(Interval) string
	}{
		{"Score by category", func(c CellSummary) []Interval { return c.Categories }, fmtInterval},
		{"Δ vs reference by category", func(c CellSummary) []Interval { return c.CategoryDelta }, fmtDelta},
	} {
		fmt.Fprintf(&b, "\n## %s\n\n| # |", part.title)
		for _, name := range s.Categories {
			fmt.Fprintf(&b, " %s |", name)
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", len(s.Categories)) + "\n")
		for _, c := range s.Cells {
			fmt.Fprintf(&b, "| %d |", c.Cell.Index)
			for _, iv := range part.get(c) {
				fmt.Fprintf(&b, " %s |", part.fmt(iv))
			}
			b.WriteString("\n")
		}
	}

	b.WriteString("\n## Image measures\n\nMeans per image, and their paired differences to the reference:")
	for _, m := range Measures {
		fmt.Fprintf(&b, " %s is %s;", m.Name, m.Doc)
	}
	b.WriteString(" ToyEval sees neither.\n\n| # | cell |")
	for _, m := range Measures {
		fmt.Fprintf(&b, " %s [95%% CI] | Δ %s [95%% CI] |", m.Name, m.Name)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|---|", len(Measures)) + "\n")
	for _, c := range s.Cells {
		fmt.Fprintf(&b, "| %d | %s |", c.Cell.Index, c.Cell.ID)
		for i := range Measures {
			d := fmtMeasureDelta(c.MeasureDeltas[i])
			if c.Cell.Index == g.Reference {
				d = "reference"
			}
			fmt.Fprintf(&b, " %s | %s |", fmtMeasure(c.Measures[i]), d)
		}
		b.WriteString("\n")
	}
	b.WriteString(speedHeading + " (measured: wall times vary from run to run and machine to machine)\n\n")
	b.WriteString("Wall time is the sampling time of an image (infer.Generate), mean per image; the speed-up is the reference's mean over the cell's, with a bootstrap interval on the same resamples.\n\n")
	b.WriteString("| # | cell | wall ms/image [95% CI] | speed-up [95% CI] |\n|---|---|---|---|\n")
	for _, c := range s.Cells {
		fmt.Fprintf(&b, "| %d | %s | %.0f [%.0f, %.0f] | %.2f× [%.2f, %.2f] |\n", c.Cell.Index, c.Cell.ID,
			c.WallMs.Est, c.WallMs.Lo, c.WallMs.Hi, c.Speedup.Est, c.Speedup.Lo, c.Speedup.Hi)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// fixedList names the grid's unswept settings.
func fixedList(g *Grid) string {
	var parts []string
	for _, a := range g.Axes {
		if len(a.Values) == 1 {
			parts = append(parts, a.Key+" "+a.Values[0].format(a.Key))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// speedHeading opens summary.md's last section, the measured times.
const speedHeading = "\n## Speed"

// wallColumn reports whether a summary.csv column holds a measured time.
func wallColumn(name string) bool {
	return strings.HasPrefix(name, "wall_") || strings.HasPrefix(name, "speedup")
}

// Untimed is a summary file without its measured times: summary.md up to its speed section, summary.csv
// without its wall_* and speedup* columns. Two runs of one grid, sharded or not, have the same untimed
// summaries.
func Untimed(name string, content []byte) (string, error) {
	switch name {
	case SummaryMD:
		return sweep.CutAt(name, content, speedHeading)
	case SummaryCSV:
		return sweep.DropColumns(name, content, wallColumn)
	}
	return "", fmt.Errorf("%s is not a summary file", name)
}

// WriteCSV writes summary.csv: one row per cell, every setting, the intervals as est/lo/hi columns, the
// measured times last.
func (s *Summary) WriteCSV(w io.Writer) error {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	head := []string{"index", "cell", "reference"}
	head = append(head, Keys...)
	head = append(head, "nfe", "forwards", "teacache_skips", "score", "score_lo", "score_hi", "delta", "delta_lo", "delta_hi", "delta_excludes_0")
	for _, c := range s.Categories {
		head = append(head, c, c+"_lo", c+"_hi", c+"_delta", c+"_delta_lo", c+"_delta_hi")
	}
	for _, m := range Measures {
		head = append(head, m.Name, m.Name+"_lo", m.Name+"_hi", m.Name+"_delta", m.Name+"_delta_lo", m.Name+"_delta_hi")
	}
	head = append(head, "mse", "psnr_db", "wall_ms", "wall_ms_lo", "wall_ms_hi", "speedup", "speedup_lo", "speedup_hi")
	cw := csv.NewWriter(w)
	cw.Write(head)
	for _, c := range s.Cells {
		row := []string{strconv.Itoa(c.Cell.Index), c.Cell.ID, strconv.FormatBool(c.Cell.Index == s.Grid.Reference)}
		for _, k := range Keys {
			row = append(row, c.Cell.Setting.Format(k))
		}
		row = append(row, strconv.Itoa(c.NFE), strconv.Itoa(c.Forwards), f(c.Skips),
			f(c.Score.Est), f(c.Score.Lo), f(c.Score.Hi), f(c.Delta.Est), f(c.Delta.Lo), f(c.Delta.Hi), strconv.FormatBool(c.Delta.ExcludesZero()))
		for i := range s.Categories {
			a, d := c.Categories[i], c.CategoryDelta[i]
			row = append(row, f(a.Est), f(a.Lo), f(a.Hi), f(d.Est), f(d.Lo), f(d.Hi))
		}
		for i := range Measures {
			for _, iv := range []Interval{c.Measures[i], c.MeasureDeltas[i]} {
				row = append(row, f(iv.Est), f(iv.Lo), f(iv.Hi))
			}
		}
		psnrCell := f(c.PSNR)
		switch {
		case c.MSE < 0:
			psnrCell = ""
		case math.IsInf(c.PSNR, 1):
			psnrCell = "inf"
		}
		row = append(row, f(c.MSE), psnrCell, f(c.WallMs.Est), f(c.WallMs.Lo), f(c.WallMs.Hi), f(c.Speedup.Est), f(c.Speedup.Lo), f(c.Speedup.Hi))
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// report summarises a complete sweep and writes summary.md, summary.csv and report's pictures.
func report(dir string, g *Grid, results []Result, draw ReportFunc) (*Summary, error) {
	s, err := Summarize(g, results)
	if err != nil {
		return nil, err
	}
	for _, out := range []struct {
		name  string
		write func(io.Writer) error
	}{{SummaryMD, s.WriteMarkdown}, {SummaryCSV, s.WriteCSV}} {
		var b bytes.Buffer
		if err := out.write(&b); err != nil {
			return nil, err
		}
		if err := dataset.WriteFileAtomic(filepath.Join(dir, out.name), b.Bytes()); err != nil {
			return nil, err
		}
	}
	if draw != nil {
		if err := draw(dir, s, results); err != nil {
			return s, fmt.Errorf("sweep folder %s: the pictures: %w", dir, err)
		}
	}
	return s, nil
}

// Collect merges a sweep folder's results (the whole grid's or every shard's) and writes the summary
// and draw's pictures. It holds the folder's lock while it writes, so it waits for no shard but is
// refused while a whole-grid run or another collect writes the folder.
func Collect(dir string, draw ReportFunc) (*Summary, error) {
	// grid.yaml is resolved: it sets every key, so no defaults are needed.
	g, err := ReadGrid(filepath.Join(dir, GridFile), DefaultSetting(""))
	if err != nil {
		return nil, fmt.Errorf("sweep folder %s: %w", dir, err)
	}
	lock, _, err := folderlock.Acquire(dir, lockSpec(Shard{}))
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	// Only this folder's own outputs: a shard still writing grid.yaml or its images is left alone.
	if err := removeTemps(dir, false, func(t string) bool { return t != GridFile }); err != nil {
		return nil, err
	}
	rs, err := ReadAll(dir)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, errors.New("sweep folder " + dir + " holds no results: run the sweep (or its shards) first")
	}
	slices.SortFunc(rs, func(a, b Result) int { return strings.Compare(a.Image, b.Image) })
	return report(dir, g, rs, draw)
}

// WriteTable prints the summary's main numbers as an aligned text table, for a terminal.
func (s *Summary) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tcell\tNFE\tforwards\tskips\twall ms/img\tspeed-up\tscore [95% CI]\tΔ vs ref [95% CI]\tPSNR dB\tclipped\tsharpness")
	for _, c := range s.Cells {
		ref := ""
		if c.Cell.Index == s.Grid.Reference {
			ref = " (ref)"
		}
		fmt.Fprintf(tw, "%d\t%s%s\t%d\t%d\t%.1f\t%.0f\t%.2fx\t%s\t%s\t%s\t%.2f%%\t%.4f\n", c.Cell.Index, c.Cell.ID, ref, c.NFE, c.Forwards, c.Skips,
			c.WallMs.Est, c.Speedup.Est, fmtInterval(c.Score), s.deltaCell(c), fmtPSNR(c), 100*c.Measures[0].Est, c.Measures[1].Est)
	}
	return tw.Flush()
}
