package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lumina-workbench/lumina/data"
	"github.com/lumina-workbench/lumina/infer"
)

func init() {
	var (
		imagesDir string
		asJSON    bool
		suite     string
		outdir    string
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
--outdir keeps the images and sidecars.`,
		Example: "  lumina eval --images runs/tiny/samples\n  lumina eval --images runs/tiny/samples --json > scores.json\n" +
			"  lumina eval --suite geneval --steps 20 --solver fdpm\n  lumina eval --ckpt runs/x/final.safetensors --suite quick --outdir out/eval",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var res *evalResult
			var err error
			if imagesDir != "" {
				if cmd.Flags().Changed("ckpt") || cmd.Flags().Changed("suite") {
					return errors.New("--images scores existing images: it takes neither --ckpt nor --suite")
				}
				res, err = evalFolder(imagesDir)
			} else {
				res, err = evalCheckpoint(cmd, &sf, suite, outdir)
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
	f.StringVar(&suite, "suite", "quick", "ToyEval suite to sample and score: "+strings.Join(data.SuiteNames(), ", "))
	f.StringVar(&outdir, "outdir", "", "with --ckpt: also write each image and its sidecar here")
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

// evalResult is what `lumina eval --json` prints.
type evalResult struct {
	Dir    string      `json:"dir"`
	Images []evalImage `json:"images"`
	data.Report
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
	var prompts []data.Prompt
	var images []image.Image
	res := &evalResult{Dir: dir}
	for _, name := range names {
		side := strings.TrimSuffix(name, filepath.Ext(name)) + ".json"
		sc, err := data.ReadImageSidecar(filepath.Join(dir, side))
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
	res.Report = data.Evaluate(prompts, images)
	for i := range res.Images {
		res.Images[i].Score = res.Report.Scores[i]
	}
	return res, nil
}

func evalDecodePNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("unreadable: %w", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("not a valid PNG: %w", err)
	}
	return img, nil
}

func printEvalTable(w io.Writer, res *evalResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "category\timages\tscore\n")
	for _, c := range res.Categories {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\n", c.Name, c.N, c.Mean)
	}
	fmt.Fprintf(tw, "\t\t\n")
	for _, b := range res.Benchmarks {
		fmt.Fprintf(tw, "%s (mean of %d categories)\t\t%.3f\n", b.Name, b.N, b.Mean)
	}
	for _, f := range res.DPGFacets {
		fmt.Fprintf(tw, "  dpg %s\t\t%.3f\n", f.Name, f.Mean)
	}
	fmt.Fprintf(tw, "overall (mean of categories)\t%d\t%.3f\n", len(res.Images), res.Overall)
	tw.Flush()
}

// evalCheckpoint samples a suite's prompts with the checkpoint and scores them.
func evalCheckpoint(cmd *cobra.Command, sf *sampleFlags, suite, outdir string) (*evalResult, error) {
	prompts, err := data.Suite(suite)
	if err != nil {
		return nil, fmt.Errorf("--suite: %w", err)
	}
	o, sys, err := sf.options()
	if err != nil {
		return nil, err
	}
	if outdir != "" {
		if err := os.MkdirAll(outdir, 0o755); err != nil {
			return nil, fmt.Errorf("--outdir: %w", err)
		}
	}
	p, err := sf.load(&o)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	res := &evalResult{Dir: outdir}
	var writeErr error
	spec := infer.Spec{System: sys, Width: sf.res, Height: sf.res, Options: o}
	rep, err := infer.EvalSuite(cmd.Context(), p, prompts, spec, func(i int, g *infer.Generated) {
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
	return res, nil
}
