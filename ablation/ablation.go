// Package ablation runs sampling strategies side by side on the same prompts and seeds and reports
// speed (wall time, NFE) against quality (ToyEval, and PSNR to a reference strategy's image): the
// paper's inference-acceleration claims, re-tested.
package ablation

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
)

// Strategy is one named sampler setting.
type Strategy struct {
	Name    string
	Options infer.SampleOptions
}

// Row is one strategy's measurements over every prompt.
type Row struct {
	Name     string  `json:"name"`
	NFE      int     `json:"nfe"`      // per image
	Forwards int     `json:"forwards"` // samples forwarded per image (CFG-Trunc lowers it)
	Skipped  float64 `json:"skipped"`  // TeaCache-skipped main stacks per image
	WallMs   float64 `json:"wall_ms"`  // mean wall time per image
	Speedup  float64 `json:"speedup"`  // the reference's wall time / this one's
	ToyEval  float64 `json:"toyeval"`  // overall ToyEval score
	// PSNR is to the reference strategy's image for the same prompt and seed, from the mean squared
	// error over all images (+Inf when identical).
	PSNR float64 `json:"psnr"`
}

// Config is what every strategy shares.
type Config struct {
	Prompts       []toyeval.Prompt
	System        infer.System
	Width, Height int
	Seed          uint64
	// OnImage, if set, sees each finished image (progress, saving): strategy index, prompt index.
	OnImage func(s, i int, g *infer.Generated)
}

// Compare runs every strategy on every prompt (prompt i with seed Seed+i); the first strategy is the
// reference for speed-up and PSNR.
func Compare(ctx context.Context, p infer.Model, c Config, strategies []Strategy) ([]Row, error) {
	if len(strategies) == 0 || len(c.Prompts) == 0 {
		return nil, errors.New("ablation: no strategies or no prompts")
	}
	var ref []*image.RGBA
	rows := make([]Row, len(strategies))
	for si, st := range strategies {
		imgs := make([]image.Image, len(c.Prompts))
		var wall time.Duration
		var sqErr float64
		row := Row{Name: st.Name}
		for i, pr := range c.Prompts {
			o := st.Options
			o.Seed = c.Seed + uint64(i)
			g, err := infer.Generate(ctx, p, infer.Spec{Prompt: pr.Text, System: c.System, Width: c.Width, Height: c.Height, Options: o})
			if err != nil {
				return nil, fmt.Errorf("strategy %s, prompt %s: %w", st.Name, pr.ID, err)
			}
			imgs[i] = g.Image
			wall += g.Result.Total
			row.NFE, row.Forwards = g.Result.NFE, g.Result.Forwards
			row.Skipped += float64(g.Result.MainSkipped)
			if si == 0 {
				ref = append(ref, g.Image)
			} else {
				sqErr += MSE(g.Image, ref[i])
			}
			if c.OnImage != nil {
				c.OnImage(si, i, g)
			}
		}
		n := float64(len(c.Prompts))
		row.WallMs = float64(wall.Microseconds()) / 1000 / n
		row.Skipped /= n
		row.ToyEval = toyeval.Evaluate(c.Prompts, imgs).Overall
		row.PSNR = psnr(sqErr / n)
		rows[si] = row
	}
	for i := range rows {
		rows[i].Speedup = rows[0].WallMs / rows[i].WallMs
	}
	return rows, nil
}

// MSE is the mean squared error of two same-sized images' RGB in [0, 1].
func MSE(a, b *image.RGBA) float64 {
	var s float64
	n := 0
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		d := (float64(a.Pix[i]) - float64(b.Pix[i])) / 255
		s += d * d
		n++
	}
	return s / float64(n)
}

func psnr(mse float64) float64 {
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(1/mse)
}

// DefaultStrategies are the benchmark's rows: the reference (Euler, full CFG, no renorm), each
// acceleration alone, the paper's pairs, Flow-DPM-Solver at 14 and 20 NFE, TeaCache at three
// thresholds (with the checkpoint's fitted polynomial; omitted without one), and all combined.
func DefaultStrategies(steps int, teaCoeffs []float64, teaThresholds []float64) []Strategy {
	base := infer.DefaultSampleOptions()
	base.Steps, base.Renorm, base.Trunc, base.TeaCache = steps, 0, 1, 0
	with := func(name string, f func(o *infer.SampleOptions)) Strategy {
		o := base
		f(&o)
		return Strategy{Name: name, Options: o}
	}
	out := []Strategy{
		{Name: fmt.Sprintf("baseline: euler %d, full CFG", steps), Options: base},
		with("+renorm 1", func(o *infer.SampleOptions) { o.Renorm = 1 }),
		with("+trunc 0.25", func(o *infer.SampleOptions) { o.Trunc = 0.25 }),
		with("renorm + trunc", func(o *infer.SampleOptions) { o.Renorm, o.Trunc = 1, 0.25 }),
		with("fdpm 14 NFE", func(o *infer.SampleOptions) { o.Solver, o.Steps = infer.SolverFDPM, 14 }),
		with("fdpm 20 NFE", func(o *infer.SampleOptions) { o.Solver, o.Steps = infer.SolverFDPM, 20 }),
	}
	if len(teaCoeffs) > 0 {
		for _, th := range teaThresholds {
			out = append(out, with(fmt.Sprintf("teacache %g", th), func(o *infer.SampleOptions) { o.TeaCache, o.TeaCoeffs = th, teaCoeffs }))
		}
		mid := teaThresholds[len(teaThresholds)/2]
		out = append(out, with(fmt.Sprintf("all: fdpm 20 + renorm + trunc + teacache %g", mid), func(o *infer.SampleOptions) {
			o.Solver, o.Steps, o.Renorm, o.Trunc, o.TeaCache, o.TeaCoeffs = infer.SolverFDPM, 20, 1, 0.25, mid, teaCoeffs
		}))
	} else {
		out = append(out, with("all: fdpm 20 + renorm + trunc", func(o *infer.SampleOptions) {
			o.Solver, o.Steps, o.Renorm, o.Trunc = infer.SolverFDPM, 20, 1, 0.25
		}))
	}
	return out
}

// WriteTable prints rows as an aligned text table (or Markdown).
func WriteTable(w io.Writer, rows []Row, markdown bool) error {
	if markdown {
		fmt.Fprintln(w, "| strategy | NFE | forwards | TeaCache skips | wall ms/image | speed-up | ToyEval | PSNR to baseline (dB) |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
		for _, r := range rows {
			fmt.Fprintf(w, "| %s | %d | %d | %.1f | %.0f | %.2f× | %.3f | %s |\n", r.Name, r.NFE, r.Forwards, r.Skipped, r.WallMs, r.Speedup, r.ToyEval, dB(r.PSNR))
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "strategy\tNFE\tforwards\tskips\twall ms/img\tspeed-up\tToyEval\tPSNR dB")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.0f\t%.2fx\t%.3f\t%s\n", r.Name, r.NFE, r.Forwards, r.Skipped, r.WallMs, r.Speedup, r.ToyEval, dB(r.PSNR))
	}
	return tw.Flush()
}

func dB(v float64) string {
	if math.IsInf(v, 1) {
		return "identical"
	}
	return fmt.Sprintf("%.1f", v)
}
