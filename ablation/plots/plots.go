// Package plots draws a sweep's pictures with gonum/plot: the speed/quality Pareto plot, one line plot
// per swept numeric setting, and a contact sheet per cell. It is apart from package ablation so that what
// only reads a sweep's numbers (the TUI) does not link a plotting library.
package plots

import (
	"bytes"
	"fmt"
	"image"
	_ "image/png" // the sweep's images
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/data/dataset"
)

// File names in a sweep folder (the Pareto plot's and the contact sheets' are ablation's, which the
// TUI reads without linking this package).
const (
	ParetoFile = ablation.ParetoFile
	axisPrefix = "axis-"
)

// AxisFile is the line plot of a swept numeric key.
func AxisFile(key string) string { return axisPrefix + key + ".png" }

// SheetFile is a cell's contact sheet.
func SheetFile(cell string) string { return ablation.SheetFile(cell) }

// Write draws every picture of a finished sweep into dir; it is an ablation.ReportFunc.
func Write(dir string, s *ablation.Summary, rs []ablation.Result) error {
	p, err := Pareto(s)
	if err != nil {
		return err
	}
	if err := Save(dir, ParetoFile, p); err != nil {
		return err
	}
	for _, a := range s.Grid.Swept() {
		if !ablation.Numeric(a.Key) {
			continue
		}
		p, err := Axis(s, a.Key)
		if err != nil {
			return err
		}
		if err := Save(dir, AxisFile(a.Key), p); err != nil {
			return err
		}
	}
	return Sheets(dir, s, rs)
}

// Save writes p as a PNG into dir atomically (the size every sweep and experiment plot has).
func Save(dir, name string, p *plot.Plot) error {
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("plot %s: %w", name, err)
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return fmt.Errorf("plot %s: %w", name, err)
	}
	return dataset.WriteFileAtomic(filepath.Join(dir, name), b.Bytes())
}

// points are plotted values with asymmetric errors in x and y.
type points struct {
	plotter.XYs
	plotter.XErrors
	plotter.YErrors
}

func (p *points) add(x, y ablation.Interval) {
	p.XYs = append(p.XYs, plotter.XY{X: x.Est, Y: y.Est})
	p.XErrors = append(p.XErrors, struct{ Low, High float64 }{x.Est - x.Lo, x.Hi - x.Est})
	p.YErrors = append(p.YErrors, struct{ Low, High float64 }{y.Est - y.Lo, y.Hi - y.Est})
}

// Pareto plots each cell's speed-up against its score, both with their intervals, labels the points with
// the cells' numbers (summary.md's # column), and draws the Pareto front: the cells no other cell beats
// in both speed and score.
func Pareto(s *ablation.Summary) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: speed against quality (95%% intervals; front dashed)", s.Grid.Name)
	p.X.Label.Text = "speed-up over the reference (measured wall time)"
	p.Y.Label.Text = "ToyEval overall score"
	var pts points
	labels := plotter.XYLabels{}
	for _, c := range s.Cells {
		pts.add(c.Speedup, c.Score)
		name := fmt.Sprintf("#%d", c.Cell.Index)
		if c.Cell.Index == s.Grid.Reference {
			name += " (ref)"
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: c.Speedup.Est, Y: c.Score.Est})
		labels.Labels = append(labels.Labels, name)
	}
	sc, err := plotter.NewScatter(pts.XYs)
	if err != nil {
		return nil, fmt.Errorf("pareto plot: %w", err)
	}
	xe, err := plotter.NewXErrorBars(&pts)
	if err != nil {
		return nil, fmt.Errorf("pareto plot: %w", err)
	}
	ye, err := plotter.NewYErrorBars(&pts)
	if err != nil {
		return nil, fmt.Errorf("pareto plot: %w", err)
	}
	for _, e := range []*draw.LineStyle{&xe.LineStyle, &ye.LineStyle} {
		e.Color = plotutil.Color(1)
	}
	lb, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, fmt.Errorf("pareto plot: %w", err)
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].XAlign = draw.XLeft
		lb.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(2)}
	}
	front, frontPts, err := plotter.NewLinePoints(Front(pts.XYs))
	if err != nil {
		return nil, fmt.Errorf("pareto plot: %w", err)
	}
	front.Color, frontPts.Color = plotutil.Color(0), plotutil.Color(0)
	front.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	frontPts.Shape = draw.CircleGlyph{}
	frontPts.Radius = vg.Points(3.5)
	p.Add(plotter.NewGrid(), front, xe, ye, sc, frontPts, lb)
	p.Legend.Add("Pareto front", front, frontPts)
	p.Legend.Top = true
	pad(p, &pts)
	return p, nil
}

// Front is the Pareto front of xys, maximising both x and y, ordered by x: the points that no other point
// matches or beats in both.
func Front(xys plotter.XYs) plotter.XYs {
	var out plotter.XYs
	for i, a := range xys {
		dominated := false
		for j, b := range xys {
			if i != j && b.X >= a.X && b.Y >= a.Y && (b.X > a.X || b.Y > a.Y || j < i) {
				dominated = true
				break
			}
		}
		if !dominated {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].X < out[j].X })
	return out
}

// Axis plots the score against the swept numeric key, one line per combination of the other swept
// settings, with the score's intervals.
func Axis(s *ablation.Summary, key string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: score against %s (95%% intervals)", s.Grid.Name, key)
	p.X.Label.Text = key
	p.Y.Label.Text = "ToyEval overall score"
	groups := map[string]*points{}
	var order []string
	for _, c := range s.Cells {
		var rest []string
		for _, a := range s.Grid.Swept() {
			if a.Key != key {
				rest = append(rest, a.Key+" "+c.Cell.Setting.Format(a.Key))
			}
		}
		name := strings.Join(rest, ", ")
		if name == "" {
			name = "score"
		}
		g, ok := groups[name]
		if !ok {
			g = &points{}
			groups[name] = g
			order = append(order, name)
		}
		x := c.Cell.Setting.Get(key).Num
		g.add(ablation.Interval{Est: x, Lo: x, Hi: x}, c.Score)
	}
	p.Add(plotter.NewGrid())
	var all points
	for i, name := range order {
		g := groups[name]
		idx := make([]int, len(g.XYs))
		for k := range idx {
			idx[k] = k
		}
		slices.SortFunc(idx, func(a, b int) int { return cmpFloat(g.XYs[a].X, g.XYs[b].X) })
		var sorted points
		for _, k := range idx {
			sorted.XYs = append(sorted.XYs, g.XYs[k])
			sorted.XErrors = append(sorted.XErrors, g.XErrors[k])
			sorted.YErrors = append(sorted.YErrors, g.YErrors[k])
		}
		// Lines of one group are nudged sideways a little so that their error bars do not hide each other.
		nudge := spanOf(sorted.XYs) * 0.008 * (float64(i) - float64(len(order)-1)/2)
		for k := range sorted.XYs {
			sorted.XYs[k].X += nudge
		}
		l, sc, err := plotter.NewLinePoints(sorted.XYs)
		if err != nil {
			return nil, fmt.Errorf("plot of %s: %w", key, err)
		}
		ye, err := plotter.NewYErrorBars(&sorted)
		if err != nil {
			return nil, fmt.Errorf("plot of %s: %w", key, err)
		}
		col := plotutil.Color(i)
		l.Color, sc.Color, ye.Color = col, col, col
		sc.Shape = plotutil.Shape(i)
		p.Add(l, sc, ye)
		p.Legend.Add(name, l, sc)
		all.XYs = append(all.XYs, sorted.XYs...)
		all.XErrors = append(all.XErrors, sorted.XErrors...)
		all.YErrors = append(all.YErrors, sorted.YErrors...)
	}
	p.Legend.Top = true
	pad(p, &all)
	return p, nil
}

// pad widens the axes to hold every error bar with a margin, which the automatic ranges cut off.
func pad(p *plot.Plot, pts *points) {
	for i, xy := range pts.XYs {
		p.X.Min, p.X.Max = min(p.X.Min, xy.X-pts.XErrors[i].Low), max(p.X.Max, xy.X+pts.XErrors[i].High)
		p.Y.Min, p.Y.Max = min(p.Y.Min, xy.Y-pts.YErrors[i].Low), max(p.Y.Max, xy.Y+pts.YErrors[i].High)
	}
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		m := max(a.Max-a.Min, 1e-3) * 0.08
		a.Min, a.Max = a.Min-m, a.Max+m
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func spanOf(xys plotter.XYs) float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range xys {
		lo, hi = min(lo, p.X), max(hi, p.X)
	}
	if hi <= lo {
		return 1
	}
	return hi - lo
}

// sheetTile is the side the images are drawn at: small images are scaled up to about 96 px, or 160 px
// when a sheet has one column and its prompt names cannot run on into the next tile's label.
func sheetTile(res, cols int) int {
	if cols == 1 {
		return res * max(1, 160/res)
	}
	return res * max(1, 96/res)
}

// Sheets writes a contact sheet per cell: a row per prompt, a column per seed, each image with its
// score and PSNR to the reference; every cell's sheet puts the same prompt and seed in the same place,
// so two sheets compare side by side.
func Sheets(dir string, s *ablation.Summary, rs []ablation.Result) error {
	byKey := map[ablation.Key]ablation.Result{}
	for _, r := range rs {
		byKey[r.Key()] = r
	}
	g := s.Grid
	for _, c := range g.Cells() {
		var tiles []dataset.SheetTile
		for _, pr := range g.Prompts {
			for seed := range g.Seeds {
				r, ok := byKey[ablation.Key{Cell: c.ID, Prompt: pr.ID, Seed: seed}]
				if !ok {
					return fmt.Errorf("contact sheet of %s: no image for %s seed %d", c.ID, pr.ID, seed)
				}
				img, err := readImage(filepath.Join(dir, r.Image))
				if err != nil {
					return fmt.Errorf("contact sheet of %s: %w", c.ID, err)
				}
				db := "ref"
				switch {
				case r.MSE < 0:
					db = "n/a"
				case r.PSNR != nil:
					db = fmt.Sprintf("%.1f dB", *r.PSNR)
				case c.Index != g.Reference:
					db = "same"
				}
				// The prompt's name heads its row and runs on over the other seeds' empty labels.
				label := ""
				if seed == 0 {
					label = pr.ID
				}
				tiles = append(tiles, dataset.SheetTile{Image: img, Label: label,
					Lines: []string{fmt.Sprintf("s%d  %.2f  %s", seed, r.Score, db)}, Second: 1})
			}
		}
		sheet, err := dataset.LayoutSheet(tiles, g.Seeds, sheetTile(c.Setting.Res, g.Seeds))
		if err != nil {
			return fmt.Errorf("contact sheet of %s: %w", c.ID, err)
		}
		if err := dataset.WritePNG(filepath.Join(dir, SheetFile(c.ID)), sheet); err != nil {
			return err
		}
	}
	return nil
}

func readImage(path string) (image.Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return img, nil
}
