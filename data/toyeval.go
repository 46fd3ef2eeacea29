package data

// ToyEval: the project's GenEval / DPG / T2I-CompBench analogue. Every prompt carries the facts it asks
// for and a ground-truth scene that realises them; a generated image is judged by parsing it back into a
// scene (Parse) and checking the facts. The suites are built from a fixed seed, so a score measured today
// is comparable with one measured next month.

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
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
	Facts []Fact `json:"facts"`
	// Scene realises every fact: a reference render, and the check that the judge itself works.
	Scene Scene `json:"scene"`
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
func ScoreScene(p Prompt, s Scene) float64 {
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
	scenes := make([]*Scene, n)
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
func EvaluateScenes(prompts []Prompt, scenes []Scene) Report {
	n := min(len(prompts), len(scenes))
	ps := make([]*Scene, n)
	for i := range n {
		ps[i] = &scenes[i]
	}
	r := evaluateScenes(prompts[:n], ps)
	r.Skipped = len(prompts) + len(scenes) - 2*n
	return r
}

func evaluateScenes(prompts []Prompt, scenes []*Scene) Report {
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
func dpgFacet(f Fact) string {
	switch f.Kind {
	case FactRelation:
		return "relation"
	case FactBackground, FactDomain:
		return "global"
	case FactExists:
		if f.Obj.Cell != nil {
			return "relation"
		}
		if f.Obj.Size != nil {
			return "attribute"
		}
	}
	return "entity"
}

// --- the suites ---

// suiteSeed fixes the suites: changing it changes every prompt and makes old scores incomparable.
const suiteSeed = 20250127

// SuiteNames lists the names Suite accepts.
func SuiteNames() []string { return []string{"geneval", "dpg", "compbench", "all", "quick"} }

// quickPerCategory is how many prompts of each category the "quick" suite keeps.
const quickPerCategory = 2

var (
	suiteOnce sync.Once
	suiteAll  []Prompt
	suiteByID map[string]int
)

func builtSuite() []Prompt {
	suiteOnce.Do(func() {
		for ci, cat := range Categories() {
			rng := rand.New(rand.NewPCG(suiteSeed, uint64(ci)))
			suiteAll = append(suiteAll, teBuildCategory(cat, rng)...)
		}
		suiteByID = make(map[string]int, len(suiteAll))
		for i, p := range suiteAll {
			suiteByID[p.ID] = i
		}
	})
	return suiteAll
}

// Suite returns a named prompt suite (see SuiteNames). The prompts are copies: changing them does not
// change the suite.
func Suite(name string) ([]Prompt, error) {
	all := builtSuite()
	var out []Prompt
	perCat := map[string]int{}
	for _, p := range all {
		keep := false
		switch name {
		case "all":
			keep = true
		case "geneval", "dpg", "compbench":
			keep = p.Benchmark == name
		case "quick":
			perCat[p.Category]++
			keep = perCat[p.Category] <= quickPerCategory
		default:
			return nil, fmt.Errorf("unknown suite %q (allowed: %s)", name, strings.Join(SuiteNames(), ", "))
		}
		if keep {
			out = append(out, p.clone())
		}
	}
	return out, nil
}

// PromptByID finds a prompt of the built-in suites by its ID.
func PromptByID(id string) (Prompt, bool) {
	all := builtSuite()
	i, ok := suiteByID[id]
	if !ok {
		return Prompt{}, false
	}
	return all[i].clone(), true
}

func (p Prompt) clone() Prompt {
	p.Facts = slices.Clone(p.Facts)
	p.Scene.Objects = slices.Clone(p.Scene.Objects)
	return p
}

// categorySize is how many prompts each category holds: enough for a mean to move in steps of a few
// percent, few enough that an evaluation of the whole suite stays cheap for a small model.
var categorySize = map[string]int{
	CatSingleObject: 12, CatTwoObject: 12, CatCounting: 18, CatColors: 24, CatPosition: 24,
	CatColorAttr: 24, CatDPG: 24, CatCompBenchColor: 18, CatCompBenchShape: 18,
}

// wrongScoreMax is the most a prompt may score on its neighbours' ground-truth scenes (in suite order,
// both ways). The suites are built so that pairing an image with the wrong prompt is visibly wrong:
// without it, a judge that ignored half the facts could not be told from a good one.
const wrongScoreMax = 0.2

func teBuildCategory(cat string, rng *rand.Rand) []Prompt {
	n := categorySize[cat]
	out := make([]Prompt, 0, n)
	for i := range n {
		var p Prompt
		for try := 0; ; try++ {
			if try > 10000 {
				// The fixed lists in makePrompt are ordered so this cannot happen; reaching it is a bug.
				panic(fmt.Sprintf("toyeval: cannot build prompt %d of %s", i, cat))
			}
			var ok bool
			if p, ok = teMakePrompt(cat, i, rng); !ok {
				continue
			}
			if (i > 0 && !teDistinct(p, out[i-1])) || (i == n-1 && !teDistinct(p, out[0])) {
				continue
			}
			break
		}
		p.ID = fmt.Sprintf("%s-%03d", cat, i)
		p.Benchmark = benchmarkOf(cat)
		p.Category = cat
		out = append(out, p)
	}
	return out
}

// distinct reports whether each prompt scores at most wrongScoreMax on the other's scene.
func teDistinct(a, b Prompt) bool {
	return ScoreScene(a, b.Scene) <= wrongScoreMax && ScoreScene(b, a.Scene) <= wrongScoreMax
}

var teNumberWords = [...]string{"zero", "one", "two", "three", "four"}

func teArticle(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}

func teCapitalise(s string) string {
	r := []rune(s)
	if len(r) > 0 {
		r[0] = unicode.ToUpper(r[0])
	}
	return string(r)
}

// makePrompt builds prompt i of a category. The GenEval categories walk fixed lists in an order where
// neighbours ask for different things; the others draw from rng and are re-drawn by buildCategory
// until neighbours differ. ok is false when no layout was found for the drawn objects.
func teMakePrompt(cat string, i int, rng *rand.Rand) (Prompt, bool) {
	shapes := NumShapes
	bg := Background(rng.IntN(NumBackgrounds))
	anyColour := func() Colour { return Colour(rng.IntN(NumColours)) }
	shapeSize := func() Size { return Size(Medium + Size(rng.IntN(2))) } // shapes need pixels
	var p Prompt
	var specs []teSpec
	var accept func(Scene) bool
	switch cat {
	case CatSingleObject:
		s := Shape(i % shapes)
		tpl := []string{"a photo of %s", "%s", "a picture of %s", "an image of %s"}[(i/shapes)%4]
		p.Text = fmt.Sprintf(tpl, teArticle(s.String()))
		p.Facts = []Fact{{Kind: FactExists, Obj: ObjectRef{Shape: Ptr(s)}}}
		specs = []teSpec{{s, anyColour(), shapeSize()}}
	case CatTwoObject:
		pairs := teShapePairs(false)
		pr := pairs[i%len(pairs)]
		a, b := pr[0], pr[1]
		if (i/len(pairs))%2 == 1 {
			a, b = b, a
		}
		tpl := []string{"a photo of %s and %s", "%s and %s", "a picture of %s and %s", "an image with %s and %s"}[(i/len(pairs))%4]
		p.Text = fmt.Sprintf(tpl, teArticle(a.String()), teArticle(b.String()))
		p.Facts = []Fact{
			{Kind: FactExists, Obj: ObjectRef{Shape: Ptr(a)}},
			{Kind: FactExists, Obj: ObjectRef{Shape: Ptr(b)}},
		}
		specs = []teSpec{{a, anyColour(), shapeSize()}, {b, anyColour(), shapeSize()}}
	case CatCounting:
		count := 2 + i%3
		s := Shape((i / 3) % shapes)
		// Four objects only fit the frame without touching when small; two or three may be medium.
		size := Small
		if count < 4 && rng.IntN(2) == 1 {
			size = Medium
		}
		tpl := []string{"a photo of %s %s %s", "%s %s %s"}[(i/(3*shapes))%2]
		p.Text = fmt.Sprintf(tpl, teNumberWords[count], size, s.Plural())
		p.Facts = []Fact{{Kind: FactCount, Obj: ObjectRef{Shape: Ptr(s)}, Count: count}}
		c := anyColour()
		for range count {
			specs = append(specs, teSpec{s, c, size})
		}
	case CatColors:
		c := Colour(i % NumColours)
		s := Shape((i / NumColours) % shapes)
		p.Text = fmt.Sprintf("a photo of %s %s", teArticle(c.String()), s)
		p.Facts = []Fact{{Kind: FactExists, Obj: ObjectRef{Shape: Ptr(s), Colour: Ptr(c)}}}
		specs = []teSpec{{s, c, shapeSize()}}
	case CatPosition:
		rel := RelationKind(i % 4)
		pairs := teShapePairs(true)
		pr := pairs[(i/4)%len(pairs)]
		a, b := pr[0], pr[1]
		p.Text = fmt.Sprintf("a photo of %s %s %s", teArticle(a.String()), rel, teArticle(b.String()))
		p.Facts = []Fact{{Kind: FactRelation, Obj: ObjectRef{Shape: Ptr(a)}, Other: ObjectRef{Shape: Ptr(b)}, Rel: rel}}
		specs = []teSpec{{a, anyColour(), shapeSize()}, {b, anyColour(), shapeSize()}}
		// Only the asked relation holds between the two, so a neighbour asking another one fails.
		accept = func(sc Scene) bool { return len(sc.Relations()) == 2 }
	case CatColorAttr:
		a, b := teTwoShapes(rng)
		ca, cb := teTwoColours(rng)
		p.Text = fmt.Sprintf("a photo of %s %s and %s %s", teArticle(ca.String()), a, teArticle(cb.String()), b)
		p.Facts = []Fact{
			{Kind: FactExists, Obj: ObjectRef{Shape: Ptr(a), Colour: Ptr(ca)}},
			{Kind: FactExists, Obj: ObjectRef{Shape: Ptr(b), Colour: Ptr(cb)}},
		}
		specs = []teSpec{{a, ca, shapeSize()}, {b, cb, shapeSize()}}
	case CatDPG:
		return teMakeDPG(rng, bg)
	case CatCompBenchColor:
		n := 2 + rng.IntN(2)
		perm := rng.Perm(NumColours)
		sh := rng.Perm(shapes)
		var parts []string
		for k := range n {
			s, c := Shape(sh[k%shapes]), Colour(perm[k])
			parts = append(parts, teArticle(c.String())+" "+s.String())
			p.Facts = append(p.Facts, Fact{Kind: FactExists, Obj: ObjectRef{Shape: Ptr(s), Colour: Ptr(c)}})
			sz := shapeSize()
			if n > 2 {
				sz = Size(rng.IntN(2)) // three medium-or-larger objects rarely fit
			}
			specs = append(specs, teSpec{s, c, sz})
		}
		p.Text = teJoinList(parts)
	case CatCompBenchShape:
		a, b := teTwoShapes(rng)
		sa := Size(rng.IntN(NumSizes))
		sb := Size((int(sa) + 1 + rng.IntN(NumSizes-1)) % NumSizes)
		p.Text = fmt.Sprintf("%s %s and %s %s", teArticle(sa.String()), a, teArticle(sb.String()), b)
		p.Facts = []Fact{
			{Kind: FactExists, Obj: ObjectRef{Shape: Ptr(a), Size: Ptr(sa)}},
			{Kind: FactExists, Obj: ObjectRef{Shape: Ptr(b), Size: Ptr(sb)}},
		}
		specs = []teSpec{{a, anyColour(), sa}, {b, anyColour(), sb}}
	default:
		panic("toyeval: unknown category " + cat)
	}
	p.Category = cat
	sc, ok := teLayout(rng, specs, bg, func(sc Scene) bool {
		for _, f := range p.Facts {
			if !f.Holds(sc) {
				return false
			}
		}
		return accept == nil || accept(sc)
	})
	p.Scene = sc
	return p, ok
}

func teJoinList(parts []string) string {
	if len(parts) <= 2 {
		return strings.Join(parts, " and ")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// shapePairs lists pairs of distinct shapes: unordered, or ordered when ordered is true.
func teShapePairs(ordered bool) [][2]Shape {
	var out [][2]Shape
	for a := range NumShapes {
		for b := range NumShapes {
			if a != b && (ordered || a < b) {
				out = append(out, [2]Shape{Shape(a), Shape(b)})
			}
		}
	}
	return out
}

func teTwoShapes(rng *rand.Rand) (Shape, Shape) {
	p := rng.Perm(NumShapes)
	return Shape(p[0]), Shape(p[1])
}

func teTwoColours(rng *rand.Rand) (Colour, Colour) {
	p := rng.Perm(NumColours)
	return Colour(p[0]), Colour(p[1])
}

var teCellPhrases = [NumCells]string{
	"in the top left corner", "at the top", "in the top right corner",
	"on the left", "in the center", "on the right",
	"in the bottom left corner", "at the bottom", "in the bottom right corner",
}

// makeDPG draws a dense prompt: 3–4 objects of distinct colours, each stated with its size and place,
// the background, the object count and one or two relations.
func teMakeDPG(rng *rand.Rand, bg Background) (Prompt, bool) {
	n := 3 + rng.IntN(2)
	cols := rng.Perm(NumColours)
	var specs []teSpec
	for k := range n {
		sz := Size(rng.IntN(2)) // small or medium: four objects must fit without touching
		if n == 3 && rng.IntN(4) == 0 {
			sz = Large
		}
		specs = append(specs, teSpec{Shape(rng.IntN(NumShapes)), Colour(cols[k]), sz})
	}
	sc, ok := teLayout(rng, specs, bg, nil)
	if !ok {
		return Prompt{}, false
	}
	var p Prompt
	p.Category = CatDPG
	p.Scene = sc
	var sb strings.Builder
	fmt.Fprintf(&sb, "A %s background with %s objects.", bg, teNumberWords[n])
	p.Facts = append(p.Facts,
		Fact{Kind: FactBackground, Background: bg},
		Fact{Kind: FactCount, Count: n})
	for _, o := range sc.Objects {
		name := fmt.Sprintf("%s %s %s", o.Size, o.Colour, o.Shape)
		where := teCellPhrases[o.Cell()]
		switch rng.IntN(3) {
		case 0:
			fmt.Fprintf(&sb, " %s there is %s.", teCapitalise(where), teArticle(name))
		case 1:
			fmt.Fprintf(&sb, " %s sits %s.", teCapitalise(teArticle(name)), where)
		default:
			fmt.Fprintf(&sb, " %s is placed %s.", teCapitalise(teArticle(name)), where)
		}
		id := ObjectRef{Shape: Ptr(o.Shape), Colour: Ptr(o.Colour)}
		withSize, withCell := id, id
		withSize.Size = Ptr(o.Size)
		withCell.Cell = Ptr(o.Cell())
		p.Facts = append(p.Facts,
			Fact{Kind: FactExists, Obj: id},
			Fact{Kind: FactExists, Obj: withSize},
			Fact{Kind: FactExists, Obj: withCell})
	}
	rels := sc.Relations()
	rng.Shuffle(len(rels), func(a, b int) { rels[a], rels[b] = rels[b], rels[a] })
	nrel := min(len(rels), 1+rng.IntN(2))
	for _, r := range rels[:nrel] {
		oa, ob := sc.Objects[r.A], sc.Objects[r.B]
		fmt.Fprintf(&sb, " The %s %s is %s the %s %s.", oa.Colour, oa.Shape, r.Kind, ob.Colour, ob.Shape)
		p.Facts = append(p.Facts, Fact{Kind: FactRelation,
			Obj:   ObjectRef{Shape: Ptr(oa.Shape), Colour: Ptr(oa.Colour)},
			Other: ObjectRef{Shape: Ptr(ob.Shape), Colour: Ptr(ob.Colour)},
			Rel:   r.Kind})
	}
	p.Text = sb.String()
	return p, true
}

// teSpec is an object before it has a place.
type teSpec struct {
	shape  Shape
	colour Colour
	size   Size
}

// Layout margins, as fractions of the side. They keep ground-truth scenes readable by the parser at
// 32 px: objects apart and inside the frame, centres away from grid lines, and centre distances either
// clearly below or clearly above RelationMargin, so no stated relation or cell rests on a pixel.
const (
	layoutFrame     = 0.015
	layoutGap       = 0.06
	layoutCellClear = 0.035
	layoutRelLow    = RelationMargin - 0.07
	layoutRelHigh   = RelationMargin + 0.08
)

// teLayout puts the objects in grid cells with jitter until the layout is clean and accept agrees.
func teLayout(rng *rand.Rand, specs []teSpec, bg Background, accept func(Scene) bool) (Scene, bool) {
	sc := Scene{Background: bg, Domain: Flat, Objects: make([]Object, len(specs))}
	for range 4000 {
		for k, sp := range specs {
			h := sp.size.Frac()/2 + layoutFrame
			cell := Cell(rng.IntN(NumCells))
			x := (float64(cell.Col())+0.5)/3 + (rng.Float64()-0.5)*0.12
			y := (float64(cell.Row())+0.5)/3 + (rng.Float64()-0.5)*0.12
			x = math.Min(math.Max(x, h), 1-h)
			y = math.Min(math.Max(y, h), 1-h)
			sc.Objects[k] = Object{Shape: sp.shape, Colour: sp.colour, Size: sp.size,
				X: math.Round(x*1000) / 1000, Y: math.Round(y*1000) / 1000}
		}
		if teLayoutClean(sc) && (accept == nil || accept(sc)) {
			return sc, true
		}
	}
	return sc, false
}

func teLayoutClean(sc Scene) bool {
	nearLine := func(v float64) bool {
		return math.Abs(v-1.0/3) < layoutCellClear || math.Abs(v-2.0/3) < layoutCellClear
	}
	ambiguous := func(d float64) bool {
		d = math.Abs(d)
		return d > layoutRelLow && d < layoutRelHigh
	}
	for i, a := range sc.Objects {
		if nearLine(a.X) || nearLine(a.Y) {
			return false
		}
		for _, b := range sc.Objects[i+1:] {
			reach := (a.Size.Frac()+b.Size.Frac())/2 + layoutGap
			dx, dy := b.X-a.X, b.Y-a.Y
			if math.Abs(dx) < reach && math.Abs(dy) < reach {
				return false
			}
			if ambiguous(dx) || ambiguous(dy) {
				return false
			}
		}
	}
	return true
}

// --- sidecars ---

// ImageSidecar is the JSON file NAME.json beside a generated NAME.png: the prompt the image was made
// for, so that `lumina eval --images DIR` can judge a folder of samples. Either ID names a built-in
// ToyEval prompt, or Facts say what to check (Prompt is then the text that was given).
type ImageSidecar struct {
	ID       string  `json:"id,omitempty"`
	Prompt   string  `json:"prompt,omitempty"`
	Category string  `json:"category,omitempty"`
	Facts    []Fact  `json:"facts,omitempty"`
	Seed     *uint64 `json:"seed,omitempty"`
	// Settings records how the image was made (solver, steps, cfg, …), for the reader's benefit.
	Settings map[string]any `json:"settings,omitempty"`
}

// ResolvePrompt turns a sidecar into the prompt to judge against.
func (sc ImageSidecar) ResolvePrompt() (Prompt, error) {
	if len(sc.Facts) > 0 {
		if err := ValidateFacts(sc.Facts); err != nil {
			return Prompt{}, err
		}
		cat := sc.Category
		if cat == "" {
			cat = CatCustom
			if p, ok := PromptByID(sc.ID); ok {
				cat = p.Category
			}
		}
		return Prompt{ID: sc.ID, Benchmark: benchmarkOf(cat), Category: cat, Text: sc.Prompt, Facts: sc.Facts}, nil
	}
	if sc.ID == "" {
		return Prompt{}, errors.New(`sidecar has neither "facts" nor a ToyEval "id"`)
	}
	p, ok := PromptByID(sc.ID)
	if !ok {
		return Prompt{}, fmt.Errorf("sidecar names unknown ToyEval prompt id %q", sc.ID)
	}
	if sc.Prompt != "" && sc.Prompt != p.Text {
		return Prompt{}, fmt.Errorf("sidecar prompt %q does not match ToyEval prompt %s (%q)", sc.Prompt, p.ID, p.Text)
	}
	return p, nil
}

// ValidateFacts checks facts read from outside: known kinds and attribute values in range.
func ValidateFacts(fs []Fact) error {
	ref := func(r ObjectRef) error {
		switch {
		case r.Colour != nil && int(*r.Colour) >= NumColours:
			return fmt.Errorf("colour %d out of range", *r.Colour)
		case r.Shape != nil && int(*r.Shape) >= NumShapes:
			return fmt.Errorf("shape %d out of range", *r.Shape)
		case r.Size != nil && int(*r.Size) >= NumSizes:
			return fmt.Errorf("size %d out of range", *r.Size)
		case r.Cell != nil && int(*r.Cell) >= NumCells:
			return fmt.Errorf("cell %d out of range", *r.Cell)
		}
		return nil
	}
	for i, f := range fs {
		var err error
		switch f.Kind {
		case FactExists:
			err = ref(f.Obj)
		case FactCount:
			err = ref(f.Obj)
			if err == nil && (f.Count < 0 || f.Count > MaxObjects) {
				err = fmt.Errorf("count %d outside 0..%d", f.Count, MaxObjects)
			}
		case FactRelation:
			if err = ref(f.Obj); err == nil {
				err = ref(f.Other)
			}
			if err == nil && f.Rel > Below {
				err = fmt.Errorf("relation %d out of range", f.Rel)
			}
		case FactBackground:
			if int(f.Background) >= NumBackgrounds {
				err = fmt.Errorf("background %d out of range", f.Background)
			}
		case FactDomain:
			if int(f.Domain) >= NumDomains {
				err = fmt.Errorf("domain %d out of range", f.Domain)
			}
		default:
			err = fmt.Errorf("unknown kind %d", f.Kind)
		}
		if err != nil {
			return fmt.Errorf("fact %d: %w", i, err)
		}
	}
	return nil
}

// ReadImageSidecar reads and checks NAME.json.
func ReadImageSidecar(path string) (ImageSidecar, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ImageSidecar{}, fmt.Errorf("read sidecar: %w", err)
	}
	var sc ImageSidecar
	if err := json.Unmarshal(b, &sc); err != nil {
		return ImageSidecar{}, fmt.Errorf("parse sidecar %s: %w", path, err)
	}
	return sc, nil
}

// WriteImageSidecar writes NAME.json atomically.
func WriteImageSidecar(path string, sc ImageSidecar) error {
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode sidecar %s: %w", path, err)
	}
	return WriteFileAtomic(path, append(b, '\n'))
}
