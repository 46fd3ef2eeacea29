// Package toyeval is the project's GenEval / DPG / T2I-CompBench analogue and its judge. Every prompt
// carries the facts it asks for and a ground-truth scene that realises them; a generated image is judged
// by parsing it back into a scene (Parse) and checking the facts. The suites are built from a fixed seed,
// so a score measured today is comparable with one measured next month.
package toyeval

import (
	"image"
	"slices"
	"sort"
	"strings"

	"github.com/lumina-workbench/lumina/data/world"
)

// Prompt is one ToyEval prompt.
type Prompt struct {
	// ID is stable across runs, e.g. "counting-004".
	ID string `json:"id"`
	// Benchmark is the suite family: "geneval", "dpg" or "compbench".
	Benchmark string `json:"benchmark"`
	// Category is what is measured, e.g. "counting" (see Categories).
	Category string `json:"category"`
	// Text is the English prompt given to the model.
	Text string `json:"text"`
	// Facts are what the judge checks in the parsed image.
	Facts []world.Fact `json:"facts"`
	// Scene realises every fact: a reference render, and the check that the judge itself works.
	Scene world.Scene `json:"scene"`
}

// The categories, in report order. The first six are GenEval's; their score per image is all-or-nothing
// (every fact must hold), as GenEval scores an image correct or not. DPG and the CompBench bindings score
// the fraction of facts found, as DPG's question answering and CompBench's per-object VQA do.
const (
	CatSingleObject   = "single_object"
	CatTwoObject      = "two_object"
	CatCounting       = "counting"
	CatColors         = "colors"
	CatPosition       = "position"
	CatColorAttr      = "color_attr"
	CatDPG            = "dpg"
	CatCompBenchColor = "compbench_color"
	CatCompBenchShape = "compbench_shape"
	// CatCustom is the category of a sidecar that brings its own facts without naming one.
	CatCustom = "custom"
)

// Categories lists the built-in categories in report order.
func Categories() []string {
	return []string{CatSingleObject, CatTwoObject, CatCounting, CatColors, CatPosition, CatColorAttr,
		CatDPG, CatCompBenchColor, CatCompBenchShape}
}

// AllOrNothing reports whether a category scores an image 1 only when every fact holds.
func AllOrNothing(category string) bool {
	switch category {
	case CatSingleObject, CatTwoObject, CatCounting, CatColors, CatPosition, CatColorAttr:
		return true
	}
	return false
}

func benchmarkOf(category string) string {
	switch {
	case AllOrNothing(category):
		return "geneval"
	case category == CatDPG:
		return "dpg"
	case strings.HasPrefix(category, "compbench"):
		return "compbench"
	}
	return CatCustom
}

// ScoreScene judges a parsed scene against a prompt: 0 or 1 for GenEval categories, the fraction of
// facts that hold otherwise. A prompt without facts scores 0: there is nothing it could have got right.
func ScoreScene(p Prompt, s world.Scene) float64 {
	if len(p.Facts) == 0 {
		return 0
	}
	held := 0
	for _, f := range p.Facts {
		if f.Holds(s) {
			held++
		}
	}
	if AllOrNothing(p.Category) {
		if held == len(p.Facts) {
			return 1
		}
		return 0
	}
	return float64(held) / float64(len(p.Facts))
}

// ScoreImage parses img and judges it against p. A nil image scores 0.
func ScoreImage(p Prompt, img image.Image) float64 {
	if img == nil {
		return 0
	}
	return ScoreScene(p, Parse(img))
}

// CategoryScore is the mean score of the images of one category (or one benchmark, or one DPG facet).
type CategoryScore struct {
	Name string  `json:"name"`
	Mean float64 `json:"mean"`
	N    int     `json:"n"`
}

// Report is the outcome of an evaluation.
type Report struct {
	// Categories holds the per-category means, in Categories() order, then custom categories by name.
	Categories []CategoryScore `json:"categories"`
	// Benchmarks holds the mean of each benchmark's category means (GenEval's "overall" is one of these).
	Benchmarks []CategoryScore `json:"benchmarks"`
	// DPGFacets splits the DPG facts as DPG's sub-metrics do: entity, attribute, relation, global.
	DPGFacets []CategoryScore `json:"dpg_facets,omitempty"`
	// Overall is the mean of the category means, so a large category does not drown a small one.
	Overall float64 `json:"overall"`
	// Scores is each image's score, in input order.
	Scores []float64 `json:"scores"`
	// Skipped counts prompts or images left without a partner (the two lists differ in length).
	Skipped int `json:"skipped,omitempty"`
}

// Evaluate parses every image and scores it against the prompt at the same index.
func Evaluate(prompts []Prompt, images []image.Image) Report {
	n := min(len(prompts), len(images))
	scenes := make([]*world.Scene, n)
	for i := range n {
		if images[i] != nil {
			s := Parse(images[i])
			scenes[i] = &s
		}
	}
	r := evaluateScenes(prompts[:n], scenes)
	r.Skipped = len(prompts) + len(images) - 2*n
	return r
}

// EvaluateScenes scores already parsed (or ground-truth) scenes; it is Evaluate without the parser.
func EvaluateScenes(prompts []Prompt, scenes []world.Scene) Report {
	n := min(len(prompts), len(scenes))
	ps := make([]*world.Scene, n)
	for i := range n {
		ps[i] = &scenes[i]
	}
	r := evaluateScenes(prompts[:n], ps)
	r.Skipped = len(prompts) + len(scenes) - 2*n
	return r
}

func evaluateScenes(prompts []Prompt, scenes []*world.Scene) Report {
	type acc struct {
		sum float64
		n   int
	}
	byCat := map[string]*acc{}
	facets := map[string]*acc{}
	add := func(m map[string]*acc, k string, v float64) {
		a := m[k]
		if a == nil {
			a = &acc{}
			m[k] = a
		}
		a.sum += v
		a.n++
	}
	r := Report{Scores: make([]float64, len(prompts))}
	for i, p := range prompts {
		var sc float64
		if scenes[i] != nil {
			sc = ScoreScene(p, *scenes[i])
		}
		r.Scores[i] = sc
		cat := p.Category
		if cat == "" {
			cat = CatCustom
		}
		add(byCat, cat, sc)
		if cat == CatDPG {
			// A facet's score is the fraction of that facet's facts found per image, averaged over images.
			per := map[string]*acc{}
			for _, f := range p.Facts {
				v := 0.0
				if scenes[i] != nil && f.Holds(*scenes[i]) {
					v = 1
				}
				add(per, dpgFacet(f), v)
			}
			for k, a := range per {
				add(facets, k, a.sum/float64(a.n))
			}
		}
	}
	order := Categories()
	var custom []string
	for k := range byCat {
		if !slices.Contains(order, k) {
			custom = append(custom, k)
		}
	}
	sort.Strings(custom)
	bench := map[string]*acc{}
	var benchOrder []string
	for _, k := range append(order, custom...) {
		a := byCat[k]
		if a == nil {
			continue
		}
		m := a.sum / float64(a.n)
		r.Categories = append(r.Categories, CategoryScore{k, m, a.n})
		b := benchmarkOf(k)
		if bench[b] == nil {
			benchOrder = append(benchOrder, b)
		}
		add(bench, b, m)
	}
	for _, b := range benchOrder {
		a := bench[b]
		r.Benchmarks = append(r.Benchmarks, CategoryScore{b, a.sum / float64(a.n), a.n})
	}
	for _, k := range []string{"entity", "attribute", "relation", "global"} {
		if a := facets[k]; a != nil {
			r.DPGFacets = append(r.DPGFacets, CategoryScore{k, a.sum / float64(a.n), a.n})
		}
	}
	if len(r.Categories) > 0 {
		s := 0.0
		for _, c := range r.Categories {
			s += c.Mean
		}
		r.Overall = s / float64(len(r.Categories))
	}
	return r
}

// dpgFacet sorts a fact into DPG's question types.
func dpgFacet(f world.Fact) string {
	switch f.Kind {
	case world.FactRelation:
		return "relation"
	case world.FactBackground, world.FactDomain:
		return "global"
	case world.FactExists:
		if f.Obj.Cell != nil {
			return "relation"
		}
		if f.Obj.Size != nil {
			return "attribute"
		}
	}
	return "entity"
}
