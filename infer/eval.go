package infer

import (
	"context"
	"fmt"
	"image"

	"github.com/lumina-workbench/lumina/data/toyeval"
)

// EvalSuite generates one image per ToyEval prompt with spec's settings (prompt i with seed Seed+i)
// and scores them. onImage, if set, sees each image as it is made (progress, saving).
func EvalSuite(ctx context.Context, p Model, prompts []toyeval.Prompt, spec Spec, onImage func(i int, g *Generated)) (toyeval.Report, error) {
	imgs := make([]image.Image, len(prompts))
	base := spec.Options.Seed
	for i, pr := range prompts {
		s := spec
		s.Prompt = pr.Text
		s.Options.Seed = base + uint64(i)
		g, err := Generate(ctx, p, s)
		if err != nil {
			return toyeval.Report{}, fmt.Errorf("eval prompt %s: %w", pr.ID, err)
		}
		g.Sidecar.ID, g.Sidecar.Category, g.Sidecar.Facts = pr.ID, pr.Category, nil
		imgs[i] = g.Image
		if onImage != nil {
			onImage(i, g)
		}
	}
	return toyeval.Evaluate(prompts, imgs), nil
}
