package caption

// The caption corpus is what the text encoder is pre-trained on (stage 0): captions of random scenes at
// every granularity and perspective, in both languages, some behind their system prompt, since that is
// what the encoder reads once the diffusion model trains.

import (
	"math/rand/v2"

	"github.com/lumina-workbench/lumina/data/world"
)

// Corpus returns n captions of random scenes. The same n and seed give the same corpus.
// Per caption: a fresh scene; English or Chinese with equal odds; a granularity (70%, evenly) or a
// perspective (30%, evenly); and, one time in four, the system prompt the domain's rule picks.
func Corpus(n int, seed uint64) []string {
	if n <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x636f72707573)) // "corpus"
	out := make([]string, n)
	for i := range out {
		s := corpusScene(rng)
		lang := Lang(rng.IntN(NumLangs))
		var c string
		if rng.Float64() < 0.7 {
			c = Write(s, Granularity(rng.IntN(NumGranularities)), lang, rng)
		} else {
			c = WritePerspective(s, Perspective(rng.IntN(NumPerspectives)), lang, rng)
		}
		if rng.IntN(4) == 0 {
			c = WithSystemPrompt(TemplateFor(s.Domain), c)
		}
		out[i] = c
	}
	return out
}

// corpusScene draws a scene for the corpus. It is not the training sampler (SampleScene) on purpose:
// the corpus only needs text, and it wants more of the cases a sampler makes rarely — groups of
// identical objects for counting words, and objects sharing a cell — so the encoder sees every phrase.
func corpusScene(rng *rand.Rand) world.Scene {
	s := world.Scene{
		Background: world.Background(rng.IntN(world.NumBackgrounds)),
		Domain:     world.Domain(rng.IntN(world.NumDomains)),
	}
	n := 1 + rng.IntN(world.MaxObjects)
	identical := n > 1 && rng.Float64() < 0.25
	base := world.Object{Shape: world.Shape(rng.IntN(world.NumShapes)), Colour: world.Colour(rng.IntN(world.NumColours)),
		Size: world.Size(rng.IntN(world.NumSizes))}
	cells := rng.Perm(world.NumCells)
	for i := 0; i < n; i++ {
		o := base
		if !identical {
			o = world.Object{Shape: world.Shape(rng.IntN(world.NumShapes)), Colour: world.Colour(rng.IntN(world.NumColours)),
				Size: world.Size(rng.IntN(world.NumSizes))}
		}
		c := world.Cell(cells[i])
		if i > 0 && rng.IntN(8) == 0 {
			c = world.Cell(cells[rng.IntN(i)]) // now and then two objects share a cell
		}
		jit := func() float64 { return (rng.Float64()*2 - 1) * 0.12 }
		o.X = (float64(c.Col())+0.5)/3 + jit()
		o.Y = (float64(c.Row())+0.5)/3 + jit()
		s.Objects = append(s.Objects, o)
	}
	return s
}
