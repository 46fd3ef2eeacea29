package toyeval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/lumina-workbench/lumina/data/world"
)

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
			suiteAll = append(suiteAll, buildCategory(cat, rng)...)
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

func buildCategory(cat string, rng *rand.Rand) []Prompt {
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
			if p, ok = makePrompt(cat, i, rng); !ok {
				continue
			}
			if (i > 0 && !distinct(p, out[i-1])) || (i == n-1 && !distinct(p, out[0])) {
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
func distinct(a, b Prompt) bool {
	return ScoreScene(a, b.Scene) <= wrongScoreMax && ScoreScene(b, a.Scene) <= wrongScoreMax
}

var numberWords = [...]string{"zero", "one", "two", "three", "four"}

func withArticle(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}

func capitalise(s string) string {
	r := []rune(s)
	if len(r) > 0 {
		r[0] = unicode.ToUpper(r[0])
	}
	return string(r)
}

// makePrompt builds prompt i of a category. The GenEval categories walk fixed lists in an order where
// neighbours ask for different things; the others draw from rng and are re-drawn by buildCategory
// until neighbours differ. ok is false when no layout was found for the drawn objects.
func makePrompt(cat string, i int, rng *rand.Rand) (Prompt, bool) {
	shapes := world.NumShapes
	bg := world.Background(rng.IntN(world.NumBackgrounds))
	anyColour := func() world.Colour { return world.Colour(rng.IntN(world.NumColours)) }
	shapeSize := func() world.Size { return world.Size(world.Medium + world.Size(rng.IntN(2))) } // shapes need pixels
	var p Prompt
	var specs []objectSpec
	var accept func(world.Scene) bool
	switch cat {
	case CatSingleObject:
		s := world.Shape(i % shapes)
		tpl := []string{"a photo of %s", "%s", "a picture of %s", "an image of %s"}[(i/shapes)%4]
		p.Text = fmt.Sprintf(tpl, withArticle(s.String()))
		p.Facts = []world.Fact{{Kind: world.FactExists, Obj: world.ObjectRef{Shape: world.Ptr(s)}}}
		specs = []objectSpec{{s, anyColour(), shapeSize()}}
	case CatTwoObject:
		pairs := shapePairs(false)
		pr := pairs[i%len(pairs)]
		a, b := pr[0], pr[1]
		if (i/len(pairs))%2 == 1 {
			a, b = b, a
		}
		tpl := []string{"a photo of %s and %s", "%s and %s", "a picture of %s and %s", "an image with %s and %s"}[(i/len(pairs))%4]
		p.Text = fmt.Sprintf(tpl, withArticle(a.String()), withArticle(b.String()))
		p.Facts = []world.Fact{
			{Kind: world.FactExists, Obj: world.ObjectRef{Shape: world.Ptr(a)}},
			{Kind: world.FactExists, Obj: world.ObjectRef{Shape: world.Ptr(b)}},
		}
		specs = []objectSpec{{a, anyColour(), shapeSize()}, {b, anyColour(), shapeSize()}}
	case CatCounting:
		count := 2 + i%3
		s := world.Shape((i / 3) % shapes)
		// Four objects only fit the frame without touching when small; two or three may be medium.
		size := world.Small
		if count < 4 && rng.IntN(2) == 1 {
			size = world.Medium
		}
		tpl := []string{"a photo of %s %s %s", "%s %s %s"}[(i/(3*shapes))%2]
		p.Text = fmt.Sprintf(tpl, numberWords[count], size, s.Plural())
		p.Facts = []world.Fact{{Kind: world.FactCount, Obj: world.ObjectRef{Shape: world.Ptr(s)}, Count: count}}
		c := anyColour()
		for range count {
			specs = append(specs, objectSpec{s, c, size})
		}
	case CatColors:
		c := world.Colour(i % world.NumColours)
		s := world.Shape((i / world.NumColours) % shapes)
		p.Text = fmt.Sprintf("a photo of %s %s", withArticle(c.String()), s)
		p.Facts = []world.Fact{{Kind: world.FactExists, Obj: world.ObjectRef{Shape: world.Ptr(s), Colour: world.Ptr(c)}}}
		specs = []objectSpec{{s, c, shapeSize()}}
	case CatPosition:
		rel := world.RelationKind(i % 4)
		pairs := shapePairs(true)
		pr := pairs[(i/4)%len(pairs)]
		a, b := pr[0], pr[1]
		p.Text = fmt.Sprintf("a photo of %s %s %s", withArticle(a.String()), rel, withArticle(b.String()))
		p.Facts = []world.Fact{{Kind: world.FactRelation,
			Obj: world.ObjectRef{Shape: world.Ptr(a)}, Other: world.ObjectRef{Shape: world.Ptr(b)}, Rel: rel}}
		specs = []objectSpec{{a, anyColour(), shapeSize()}, {b, anyColour(), shapeSize()}}
		// Only the asked relation holds between the two, so a neighbour asking another one fails.
		accept = func(sc world.Scene) bool { return len(sc.Relations()) == 2 }
	case CatColorAttr:
		a, b := twoShapes(rng)
		ca, cb := twoColours(rng)
		p.Text = fmt.Sprintf("a photo of %s %s and %s %s", withArticle(ca.String()), a, withArticle(cb.String()), b)
		p.Facts = []world.Fact{
			{Kind: world.FactExists, Obj: world.ObjectRef{Shape: world.Ptr(a), Colour: world.Ptr(ca)}},
			{Kind: world.FactExists, Obj: world.ObjectRef{Shape: world.Ptr(b), Colour: world.Ptr(cb)}},
		}
		specs = []objectSpec{{a, ca, shapeSize()}, {b, cb, shapeSize()}}
	case CatDPG:
		return makeDPG(rng, bg)
	case CatCompBenchColor:
		n := 2 + rng.IntN(2)
		perm := rng.Perm(world.NumColours)
		sh := rng.Perm(shapes)
		var parts []string
		for k := range n {
			s, c := world.Shape(sh[k%shapes]), world.Colour(perm[k])
			parts = append(parts, withArticle(c.String())+" "+s.String())
			p.Facts = append(p.Facts, world.Fact{Kind: world.FactExists, Obj: world.ObjectRef{Shape: world.Ptr(s), Colour: world.Ptr(c)}})
			sz := shapeSize()
			if n > 2 {
				sz = world.Size(rng.IntN(2)) // three medium-or-larger objects rarely fit
			}
			specs = append(specs, objectSpec{s, c, sz})
		}
		p.Text = joinList(parts)
	case CatCompBenchShape:
		a, b := twoShapes(rng)
		sa := world.Size(rng.IntN(world.NumSizes))
		sb := world.Size((int(sa) + 1 + rng.IntN(world.NumSizes-1)) % world.NumSizes)
		p.Text = fmt.Sprintf("%s %s and %s %s", withArticle(sa.String()), a, withArticle(sb.String()), b)
		p.Facts = []world.Fact{
			{Kind: world.FactExists, Obj: world.ObjectRef{Shape: world.Ptr(a), Size: world.Ptr(sa)}},
			{Kind: world.FactExists, Obj: world.ObjectRef{Shape: world.Ptr(b), Size: world.Ptr(sb)}},
		}
		specs = []objectSpec{{a, anyColour(), sa}, {b, anyColour(), sb}}
	default:
		panic("toyeval: unknown category " + cat)
	}
	p.Category = cat
	sc, ok := layout(rng, specs, bg, func(sc world.Scene) bool {
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

func joinList(parts []string) string {
	if len(parts) <= 2 {
		return strings.Join(parts, " and ")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// shapePairs lists pairs of distinct shapes: unordered, or ordered when ordered is true.
func shapePairs(ordered bool) [][2]world.Shape {
	var out [][2]world.Shape
	for a := range world.NumShapes {
		for b := range world.NumShapes {
			if a != b && (ordered || a < b) {
				out = append(out, [2]world.Shape{world.Shape(a), world.Shape(b)})
			}
		}
	}
	return out
}

func twoShapes(rng *rand.Rand) (world.Shape, world.Shape) {
	p := rng.Perm(world.NumShapes)
	return world.Shape(p[0]), world.Shape(p[1])
}

func twoColours(rng *rand.Rand) (world.Colour, world.Colour) {
	p := rng.Perm(world.NumColours)
	return world.Colour(p[0]), world.Colour(p[1])
}

var cellPhrases = [world.NumCells]string{
	"in the top left corner", "at the top", "in the top right corner",
	"on the left", "in the center", "on the right",
	"in the bottom left corner", "at the bottom", "in the bottom right corner",
}

// makeDPG draws a dense prompt: 3–4 objects of distinct colours, each stated with its size and place,
// the background, the object count and one or two relations.
func makeDPG(rng *rand.Rand, bg world.Background) (Prompt, bool) {
	n := 3 + rng.IntN(2)
	cols := rng.Perm(world.NumColours)
	var specs []objectSpec
	for k := range n {
		sz := world.Size(rng.IntN(2)) // small or medium: four objects must fit without touching
		if n == 3 && rng.IntN(4) == 0 {
			sz = world.Large
		}
		specs = append(specs, objectSpec{world.Shape(rng.IntN(world.NumShapes)), world.Colour(cols[k]), sz})
	}
	sc, ok := layout(rng, specs, bg, nil)
	if !ok {
		return Prompt{}, false
	}
	var p Prompt
	p.Category = CatDPG
	p.Scene = sc
	var sb strings.Builder
	fmt.Fprintf(&sb, "A %s background with %s objects.", bg, numberWords[n])
	p.Facts = append(p.Facts,
		world.Fact{Kind: world.FactBackground, Background: bg},
		world.Fact{Kind: world.FactCount, Count: n})
	for _, o := range sc.Objects {
		name := fmt.Sprintf("%s %s %s", o.Size, o.Colour, o.Shape)
		where := cellPhrases[o.Cell()]
		switch rng.IntN(3) {
		case 0:
			fmt.Fprintf(&sb, " %s there is %s.", capitalise(where), withArticle(name))
		case 1:
			fmt.Fprintf(&sb, " %s sits %s.", capitalise(withArticle(name)), where)
		default:
			fmt.Fprintf(&sb, " %s is placed %s.", capitalise(withArticle(name)), where)
		}
		id := world.ObjectRef{Shape: world.Ptr(o.Shape), Colour: world.Ptr(o.Colour)}
		withSize, withCell := id, id
		withSize.Size = world.Ptr(o.Size)
		withCell.Cell = world.Ptr(o.Cell())
		p.Facts = append(p.Facts,
			world.Fact{Kind: world.FactExists, Obj: id},
			world.Fact{Kind: world.FactExists, Obj: withSize},
			world.Fact{Kind: world.FactExists, Obj: withCell})
	}
	rels := sc.Relations()
	rng.Shuffle(len(rels), func(a, b int) { rels[a], rels[b] = rels[b], rels[a] })
	nrel := min(len(rels), 1+rng.IntN(2))
	for _, r := range rels[:nrel] {
		oa, ob := sc.Objects[r.A], sc.Objects[r.B]
		fmt.Fprintf(&sb, " The %s %s is %s the %s %s.", oa.Colour, oa.Shape, r.Kind, ob.Colour, ob.Shape)
		p.Facts = append(p.Facts, world.Fact{Kind: world.FactRelation,
			Obj:   world.ObjectRef{Shape: world.Ptr(oa.Shape), Colour: world.Ptr(oa.Colour)},
			Other: world.ObjectRef{Shape: world.Ptr(ob.Shape), Colour: world.Ptr(ob.Colour)},
			Rel:   r.Kind})
	}
	p.Text = sb.String()
	return p, true
}

// objectSpec is an object before it has a place.
type objectSpec struct {
	shape  world.Shape
	colour world.Colour
	size   world.Size
}

// Layout margins, as fractions of the side. They keep ground-truth scenes readable by the parser at
// 32 px: objects apart and inside the frame, centres away from grid lines, and centre distances either
// clearly below or clearly above RelationMargin, so no stated relation or cell rests on a pixel.
const (
	layoutFrame     = 0.015
	layoutGap       = 0.06
	layoutCellClear = 0.035
	layoutRelLow    = world.RelationMargin - 0.07
	layoutRelHigh   = world.RelationMargin + 0.08
)

// layout puts the objects in grid cells with jitter until the layout is clean and accept agrees.
func layout(rng *rand.Rand, specs []objectSpec, bg world.Background, accept func(world.Scene) bool) (world.Scene, bool) {
	sc := world.Scene{Background: bg, Domain: world.Flat, Objects: make([]world.Object, len(specs))}
	for range 4000 {
		for k, sp := range specs {
			h := sp.size.Frac()/2 + layoutFrame
			cell := world.Cell(rng.IntN(world.NumCells))
			x := (float64(cell.Col())+0.5)/3 + (rng.Float64()-0.5)*0.12
			y := (float64(cell.Row())+0.5)/3 + (rng.Float64()-0.5)*0.12
			x = math.Min(math.Max(x, h), 1-h)
			y = math.Min(math.Max(y, h), 1-h)
			sc.Objects[k] = world.Object{Shape: sp.shape, Colour: sp.colour, Size: sp.size,
				X: math.Round(x*1000) / 1000, Y: math.Round(y*1000) / 1000}
		}
		if layoutClean(sc) && (accept == nil || accept(sc)) {
			return sc, true
		}
	}
	return sc, false
}

func layoutClean(sc world.Scene) bool {
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
