package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
)

func init() {
	var (
		imagesDir string
		asJSON    bool
		suite     string
		outdir    string
		repeats   int
		sf        sampleFlags
	)
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Score images for prompt adherence with ToyEval",
		Long: `ToyEval is the workbench's GenEval / DPG / T2I-CompBench analogue: the parser reads each image back
into objects (shape, colour, size, position) and checks the facts its prompt asks for.

--images DIR scores a folder of PNGs. Each NAME.png needs a sidecar NAME.json holding either a ToyEval
prompt id ({"id": "counting-004"}) or the prompt and its facts ({"prompt": "...", "facts": [...]});
` + "`lumina sample`" + ` writes these sidecars. GenEval categories score an image 1 only when every fact holds;
DPG and the CompBench bindings score the fraction of facts found. The overall score is the mean of the
category means.

Without --images it samples the prompts of --suite with the checkpoint --ckpt (the shipped one by default)
and the sampling flags (the same as ` + "`lumina sample`" + `; prompt i uses seed --seed + i), then scores them;
--outdir keeps the images and sidecars. One image per prompt is a noisy measurement (a category of 24
prompts moves by 0.1 or more from one seed to the next): --repeats N samples the suite N times with fresh
seeds (repeat k gives prompt i the seed --seed + k·P + i for a suite of P prompts, so repeat 0 is the
single run), scores all the images together and prints each score's spread across the repeats.`,
		Example: "  lumina eval --images runs/tiny/samples\n  lumina eval --images runs/tiny/samples --json > scores.json\n" +
			"  lumina eval --suite geneval --steps 20 --solver fdpm\n  lumina eval --ckpt runs/x/final.safetensors --suite quick --outdir out/eval\n" +
			"  lumina eval --suite all --repeats 3",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var res *evalResult
			var err error
			if _, err := parseDevice(sf.device); err != nil {
				return err
			}
			if imagesDir != "" {
				if cmd.Flags().Changed("ckpt") || cmd.Flags().Changed("suite") || cmd.Flags().Changed("repeats") {
					return errors.New("--images scores existing images: it takes neither --ckpt, --suite nor --repeats")
				}
				res, err = evalFolder(imagesDir)
			} else {
				if repeats < 1 || repeats > maxEvalRepeats {
					return fmt.Errorf("--repeats %d outside 1..%d", repeats, maxEvalRepeats)
				}
				res, err = evalCheckpoint(cmd, &sf, suite, outdir, repeats)
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			printEvalTable(cmd.OutOrStdout(), res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&imagesDir, "images", "", "folder of NAME.png images, each with a NAME.json sidecar")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON instead of a table")
	f.StringVar(&suite, "suite", "quick", "ToyEval suite to sample and score: "+strings.Join(toyeval.SuiteNames(), ", "))
	f.StringVar(&outdir, "outdir", "", "with --ckpt: also write each image and its sidecar here")
	f.IntVar(&repeats, "repeats", 1, fmt.Sprintf("with --ckpt: sample the suite this many times with fresh seeds (1..%d) and report the spread", maxEvalRepeats))
	sf.register(cmd)
	rootCmd.AddCommand(cmd)
}

// evalImage is one scored image in the JSON output.
type evalImage struct {
	File     string  `json:"file"`
	ID       string  `json:"id,omitempty"`
	Category string  `json:"category"`
	Prompt   string  `json:"prompt"`
	Score    float64 `json:"score"`
}

// maxEvalRepeats bounds --repeats: 100 passes over the full suite is already hours of CPU.
const maxEvalRepeats = 100

// evalResult is what `lumina eval --json` prints.
type evalResult struct {
	Dir    string      `json:"dir"`
	Images []evalImage `json:"images"`
	// Report scores every image together (with --repeats, the category means are over all repeats).
	toyeval.Report
	// Repeats holds each repeat's own report (without per-image scores) when --repeats is above 1.
	Repeats []toyeval.Report `json:"repeats,omitempty"`
}

// splitRepeats scores each of n equal consecutive runs of prompts and images on its own.
func splitRepeats(prompts []toyeval.Prompt, images []image.Image, n int) []toyeval.Report {
	per := len(prompts) / n
	reps := make([]toyeval.Report, n)
	for k := range reps {
		reps[k] = toyeval.Evaluate(prompts[k*per:(k+1)*per], images[k*per:(k+1)*per])
		reps[k].Scores = nil
	}
	return reps
}

// spread is the sample standard deviation across repeats of the value pick reads from each report.
func spread(reps []toyeval.Report, pick func(toyeval.Report) (float64, bool)) (float64, bool) {
	var xs []float64
	for _, r := range reps {
		if v, ok := pick(r); ok {
			xs = append(xs, v)
		}
	}
	if len(xs) < 2 {
		return 0, false
	}
	mean := 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss / float64(len(xs)-1)), true
}

// scoreNamed finds a named score in a list.
func scoreNamed(list []toyeval.CategoryScore, name string) (float64, bool) {
	for _, c := range list {
		if c.Name == name {
			return c.Mean, true
		}
	}
	return 0, false
}

// evalFolder reads every PNG and sidecar of dir, refusing the folder (listing every bad file) when any
// image lacks a sidecar, fails to decode, or has a sidecar that does not resolve to a prompt.
func evalFolder(dir string) (*evalResult, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("--images: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("--images: %s is not a folder", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--images: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.EqualFold(filepath.Ext(e.Name()), ".png") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("--images: no .png files in %s", dir)
	}
	var problems []string
	var prompts []toyeval.Prompt
	var images []image.Image
	res := &evalResult{Dir: dir}
	for _, name := range names {
		side := strings.TrimSuffix(name, filepath.Ext(name)) + ".json"
		sc, err := toyeval.ReadImageSidecar(filepath.Join(dir, side))
		if errors.Is(err, os.ErrNotExist) {
			problems = append(problems, fmt.Sprintf("%s: no sidecar %s", name, side))
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", side, err))
			continue
		}
		p, err := sc.ResolvePrompt()
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", side, err))
			continue
		}
		img, err := evalDecodePNG(filepath.Join(dir, name))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		prompts = append(prompts, p)
		images = append(images, img)
		res.Images = append(res.Images, evalImage{File: name, ID: p.ID, Category: p.Category, Prompt: p.Text})
	}
	if len(problems) > 0 {
		const show = 20
		msg := fmt.Sprintf("eval %s: %d problem(s)", dir, len(problems))
		for i, p := range problems {
			if i == show {
				msg += fmt.Sprintf("\n  … and %d more", len(problems)-show)
				break
			}
			msg += "\n  " + p
		}
		return nil, errors.New(msg)
	}
	res.Report = toyeval.Evaluate(prompts, images)
	for i := range res.Images {
		res.Images[i].Score = res.Report.Scores[i]
	}
	return res, nil
}

// evalDecodePNG decodes one image of the folder through the importer's decoder, which refuses a header
// that claims more pixels than it decodes before allocating them.
func evalDecodePNG(path string) (image.Image, error) {
	img, format, err := dataset.DecodeImage(path)
	if err == nil && format != "png" {
		err = fmt.Errorf("a %s image", format)
	}
	if err != nil {
		return nil, fmt.Errorf("not a valid PNG: %w", err)
	}
	return img, nil
}

func printEvalTable(w io.Writer, res *evalResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// With repeats, each score gets the standard deviation of its per-repeat values beside it.
	sd := func(pick func(toyeval.Report) (float64, bool)) string {
		if v, ok := spread(res.Repeats, pick); ok {
			return fmt.Sprintf("\t±%.3f", v)
		}
		return ""
	}
	head := "category\timages\tscore"
	if len(res.Repeats) > 1 {
		head += fmt.Sprintf("\tsd over %d repeats", len(res.Repeats))
	}
	fmt.Fprintln(tw, head)
	for _, c := range res.Categories {
		fmt.Fprintf(tw, "%s\t%d\t%.3f%s\n", c.Name, c.N, c.Mean, sd(func(r toyeval.Report) (float64, bool) { return scoreNamed(r.Categories, c.Name) }))
	}
	fmt.Fprintf(tw, "\t\t\n")
	for _, b := range res.Benchmarks {
		fmt.Fprintf(tw, "%s (mean of %d categories)\t\t%.3f%s\n", b.Name, b.N, b.Mean, sd(func(r toyeval.Report) (float64, bool) { return scoreNamed(r.Benchmarks, b.Name) }))
	}
	for _, f := range res.DPGFacets {
		fmt.Fprintf(tw, "  dpg %s\t\t%.3f%s\n", f.Name, f.Mean, sd(func(r toyeval.Report) (float64, bool) { return scoreNamed(r.DPGFacets, f.Name) }))
	}
	fmt.Fprintf(tw, "overall (mean of categories)\t%d\t%.3f%s\n", len(res.Images), res.Overall, sd(func(r toyeval.Report) (float64, bool) { return r.Overall, true }))
	if len(res.Repeats) > 1 {
		var each []string
		for _, r := range res.Repeats {
			each = append(each, fmt.Sprintf("%.3f", r.Overall))
		}
		fmt.Fprintf(tw, "overall per repeat\t\t%s\n", strings.Join(each, " "))
	}
	tw.Flush()
}

// evalCheckpoint samples a suite's prompts with the checkpoint and scores them.
func evalCheckpoint(cmd *cobra.Command, sf *sampleFlags, suite, outdir string, repeats int) (*evalResult, error) {
	one, err := toyeval.Suite(suite)
	if err != nil {
		return nil, fmt.Errorf("--suite: %w", err)
	}
	// The suite repeated: EvalSuite gives prompt j the seed --seed + j, which is the documented
	// --seed + k·P + i for prompt i of repeat k.
	var prompts []toyeval.Prompt
	for range repeats {
		prompts = append(prompts, one...)
	}
	o, sys, err := sf.options()
	if err != nil {
		return nil, err
	}
	if outdir != "" {
		if err := makeOutFolder("--outdir", outdir); err != nil {
			return nil, err
		}
	}
	p, err := sf.load(&o, cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	defer p.Close()
	res := &evalResult{Dir: outdir}
	var writeErr error
	images := make([]image.Image, len(prompts))
	spec := infer.Spec{System: sys, Width: sf.res, Height: sf.res, Options: o}
	prog := NewProgress(cmd.ErrOrStderr())
	defer prog.Close()
	start := time.Now()
	prog.Images("eval", 0, len(prompts), 0)
	rep, err := infer.EvalSuite(cmd.Context(), p, prompts, spec, func(i int, g *infer.Generated) {
		prog.Images("eval", i+1, len(prompts), time.Since(start))
		images[i] = g.Image
		name := fmt.Sprintf("%03d.png", i)
		res.Images = append(res.Images, evalImage{File: name, ID: prompts[i].ID, Category: prompts[i].Category, Prompt: prompts[i].Text})
		if outdir != "" && writeErr == nil {
			g.Sidecar.Settings["checkpoint"] = sf.ckpt
			writeErr = writeGenerated(filepath.Join(outdir, name), g)
		}
	})
	if err != nil {
		return nil, err
	}
	if writeErr != nil {
		return nil, writeErr
	}
	for i := range res.Images {
		res.Images[i].Score = rep.Scores[i]
	}
	res.Report = rep
	if repeats > 1 {
		res.Repeats = splitRepeats(prompts, images, repeats)
	}
	return res, nil
}
