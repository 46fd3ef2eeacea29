package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/model/ckpt"
)

func init() {
	var (
		sf      sampleFlags
		suite   string
		degree  int
		prompts int
	)
	fit := &cobra.Command{
		Use:   "fit",
		Short: "Fit TeaCache's rescaling polynomial for a checkpoint and store it in the checkpoint",
		Long: `TeaCache decides when to skip the main layers from how much the first main block's modulated input
changed since the last computed step, rescaled by a polynomial fitted per model. This runs full (uncached)
sampling on --prompts prompts of --suite with the sampling flags, records for every pair of consecutive
model evaluations the relative L1 change of that input and of the main stack's residual, fits a polynomial
of --degree by least squares (as TeaCache does), and rewrites the checkpoint with the coefficients in its
metadata (atomically: the old file stays intact if anything fails).`,
		Example: "  lumina teacache fit --ckpt assets/lumina-tiny.safetensors",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if degree < 1 || degree > 8 {
				return fmt.Errorf("--degree must be in 1..8, got %d", degree)
			}
			if prompts < 1 || prompts > 1000 {
				return fmt.Errorf("--prompts must be in 1..1000, got %d", prompts)
			}
			all, err := toyeval.Suite(suite)
			if err != nil {
				return fmt.Errorf("--suite: %w", err)
			}
			o, sys, err := sf.options()
			if err != nil {
				return err
			}
			o.TeaCache = 0
			// The fit ends by rewriting the checkpoint: refuse a folder that cannot take it before the runs.
			if err := checkOutFile("--ckpt", sf.ckpt); err != nil {
				return err
			}
			p, err := loadPipeline(sf.ckpt, o.Device, nil)
			if err != nil {
				return err
			}
			defer p.Close()
			b := p.Bundle
			var texts []string
			for i := 0; i < prompts && i < len(all); i++ {
				texts = append(texts, sys.Full(all[i].Text))
			}
			req := infer.Request{Prompts: texts, Shape: [3]int{p.Cfg.Channels, sf.res, sf.res}}
			pairs, _, err := infer.CollectTeaCache(cmd.Context(), p, req, o)
			if err != nil {
				return fmt.Errorf("calibration run: %w", err)
			}
			coeffs, err := infer.FitTeaCache(pairs, degree)
			if err != nil {
				return fmt.Errorf("fit: %w", err)
			}
			if b.Meta == nil {
				b.Meta = map[string]string{}
			}
			b.Meta[ckpt.MetaTeaCache] = infer.TeaCoeffsMeta(coeffs)
			if err := ckpt.SaveBundle(sf.ckpt, b); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "fitted TeaCache polynomial (degree %d, %d calibration pairs, highest power first): %v\nstored in %s\n",
				degree, len(pairs), coeffs, sf.ckpt)
			return nil
		},
	}
	sf.register(fit)
	fit.Flags().StringVar(&suite, "suite", "geneval", "ToyEval suite whose prompts drive the calibration runs")
	fit.Flags().IntVar(&prompts, "prompts", 12, "how many of the suite's prompts to run (1..1000)")
	fit.Flags().IntVar(&degree, "degree", infer.DefaultTeaDegree, "polynomial degree (1..8)")
	tc := &cobra.Command{Use: "teacache", Short: "TeaCache calibration"}
	tc.AddCommand(fit)
	rootCmd.AddCommand(tc)
}
