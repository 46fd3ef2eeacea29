// Package plots draws an experiment's pictures with gonum/plot: the variants' loss curves overlaid
// and ToyEval at each evaluation point. It is apart from package experiment so that what only reads an
// experiment's numbers (the TUI) does not link a plotting library.
package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"

	sweepplots "github.com/lumina-workbench/lumina/ablation/plots"
	"github.com/lumina-workbench/lumina/experiment"
)

// File names in an experiment folder.
const (
	LossFile = "loss.png"
	EvalFile = "eval.png"
)

// Options choose how the plots read.
type Options struct {
	// LogSteps puts the step axis on a log scale (early training is most of a short run's change).
	LogSteps bool
}

// Writer is an experiment.ReportFunc drawing both plots with o.
func Writer(o Options) experiment.ReportFunc {
	return func(dir string, s *experiment.Summary) error {
		lp, err := Loss(s, o)
		if err != nil {
			return err
		}
		if err := sweepplots.Save(dir, LossFile, lp); err != nil {
			return err
		}
		ep, err := Eval(s, o)
		if err != nil {
			return err
		}
		return sweepplots.Save(dir, EvalFile, ep)
	}
}

func stepAxis(p *plot.Plot, o Options) {
	p.X.Label.Text = "DiT training step (over the image stages)"
	if o.LogSteps {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.X.Label.Text += ", log scale"
	}
}

// Loss overlays the variants' loss curves: the mean over seeds as a line, the least to the largest
// seed as a band.
func Loss(s *experiment.Summary, o Options) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: loss (mean of %d steps; band: least to largest seed)", s.Exp.Name, experiment.CurveWindow)
	p.Y.Label.Text = "flow-matching loss"
	stepAxis(p, o)
	p.Add(plotter.NewGrid())
	for i, v := range s.Variants {
		var line plotter.XYs
		var lo, hi plotter.XYs
		for _, c := range v.Curve {
			if math.IsNaN(c.Loss.Mean) {
				continue
			}
			x := float64(c.Step)
			line = append(line, plotter.XY{X: x, Y: c.Loss.Mean})
			lo = append(lo, plotter.XY{X: x, Y: c.Loss.Min})
			hi = append(hi, plotter.XY{X: x, Y: c.Loss.Max})
		}
		if len(line) == 0 {
			continue
		}
		col := plotutil.Color(i)
		band := append(lo, reversed(hi)...)
		poly, err := plotter.NewPolygon(band)
		if err != nil {
			return nil, fmt.Errorf("loss plot: %w", err)
		}
		r, g, b, _ := col.RGBA()
		poly.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 60}
		poly.LineStyle.Width = 0
		l, err := plotter.NewLine(line)
		if err != nil {
			return nil, fmt.Errorf("loss plot: %w", err)
		}
		l.Color = col
		p.Add(poly, l)
		p.Legend.Add(v.Name, l)
	}
	p.Legend.Top = true
	return p, nil
}

func reversed(xys plotter.XYs) plotter.XYs {
	out := make(plotter.XYs, len(xys))
	for i, xy := range xys {
		out[len(xys)-1-i] = xy
	}
	return out
}

// scorePoints are evaluation points with their intervals.
type scorePoints struct {
	plotter.XYs
	plotter.YErrors
}

// Eval plots ToyEval's overall score at each evaluation point against the DiT steps trained by then,
// a line per variant with the score's 95% intervals.
func Eval(s *experiment.Summary, o Options) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: ToyEval at each stage's end (95%% intervals)", s.Exp.Name)
	p.Y.Label.Text = "ToyEval overall score"
	stepAxis(p, o)
	p.Add(plotter.NewGrid())
	for i, v := range s.Variants {
		var pts scorePoints
		for _, ev := range v.Evals {
			pts.XYs = append(pts.XYs, plotter.XY{X: float64(ev.Step), Y: ev.Score.Est})
			pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{ev.Score.Est - ev.Score.Lo, ev.Score.Hi - ev.Score.Est})
		}
		if len(pts.XYs) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(pts.XYs)
		if err != nil {
			return nil, fmt.Errorf("eval plot: %w", err)
		}
		ye, err := plotter.NewYErrorBars(&pts)
		if err != nil {
			return nil, fmt.Errorf("eval plot: %w", err)
		}
		col := plotutil.Color(i)
		l.Color, sc.Color, ye.Color = col, col, col
		sc.Shape = plotutil.Shape(i)
		p.Add(l, sc, ye)
		p.Legend.Add(v.Name, l, sc)
	}
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top = true
	return p, nil
}
