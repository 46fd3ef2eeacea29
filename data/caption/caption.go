// Package caption is the text side of the world: the captioner (our stand-in for the paper's UniCap),
// which writes English and Chinese captions of a scene at several granularities and from several
// perspectives; the weak captioner with controlled mistakes; the caption corpus the text encoder is
// pre-trained on; the system prompts prepended to captions; and Read, which reads the facts a caption
// states back out of its text.
package caption

// The captioner, our stand-in for the paper's UniCap: from a scene it writes captions at five
// granularities and five perspectives, in English and Chinese. Every caption is built in two steps: a
// language-free plan (which objects are grouped, which relations are stated, with which references)
// that fixes the facts, then a realisation in one language whose wording the rng varies. The facts depend
// only on the scene and the granularity, so Facts can report them without an rng, and no choice
// of wording can make a caption state something false.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"

	"github.com/lumina-workbench/lumina/data/world"
)

// Granularity is how much a caption says, from a full description down to a list of tags.
type Granularity uint8

const (
	// Detailed: every object's colour, shape, size and grid position, the clear pairwise relations, the
	// object count, the background and the render style.
	Detailed Granularity = iota
	// Medium: colour, shape and position of each object, and the background.
	Medium
	// Short: the objects' colours and shapes in one clause; photos say so ("A photo of …").
	Short
	// Tag: comma-separated tags for the objects, the background and the style.
	Tag
	// Brief: a GenEval-style prompt: the objects by shape alone ("two circles and a triangle"),
	// or, for two objects of different shapes in a clear relation, that relation ("a circle to the left
	// of a square"); photos say so ("a photo of …"). Real captions leave attributes out too, and a model
	// that only ever saw colours named draws nothing for "a photo of a circle".
	Brief
	NumGranularities int = iota
)

var granularityNames = [...]string{Detailed: "detailed", Medium: "medium", Short: "short", Tag: "tag", Brief: "brief"}

func (g Granularity) String() string {
	if int(g) < len(granularityNames) {
		return granularityNames[g]
	}
	return fmt.Sprintf("Granularity(%d)", uint8(g))
}

// ParseGranularity reads "detailed", "medium", "short", "tag" or "brief"; the error lists the allowed names.
func ParseGranularity(s string) (Granularity, error) {
	for i, n := range granularityNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Granularity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown caption granularity %q (allowed: %s)", s, strings.Join(granularityNames[:], ", "))
}

func (g Granularity) MarshalText() ([]byte, error) { return []byte(g.String()), nil }
func (g *Granularity) UnmarshalText(b []byte) error {
	v, err := ParseGranularity(string(b))
	*g = v
	return err
}

// Perspective is what a caption looks at (the paper's multi-perspective descriptions).
type Perspective uint8

const (
	// StylePerspective: the render style, the background and the object count.
	StylePerspective Perspective = iota
	// MainObjectPerspective: the largest object (the first of them on a tie) with its attributes and cell.
	MainObjectPerspective
	// AllObjectsPerspective: the count and every object's size, colour and shape.
	AllObjectsPerspective
	// AttributesPerspective: every object's attributes, phrased attribute by attribute.
	AttributesPerspective
	// SpatialPerspective: where each object is and the clear relations between them.
	SpatialPerspective
	NumPerspectives int = iota
)

var perspectiveNames = [...]string{
	StylePerspective: "style", MainObjectPerspective: "main", AllObjectsPerspective: "all",
	AttributesPerspective: "attributes", SpatialPerspective: "spatial",
}

func (p Perspective) String() string {
	if int(p) < len(perspectiveNames) {
		return perspectiveNames[p]
	}
	return fmt.Sprintf("Perspective(%d)", uint8(p))
}

// ParsePerspective reads "style", "main", "all", "attributes" or "spatial".
func ParsePerspective(s string) (Perspective, error) {
	for i, n := range perspectiveNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Perspective(i), nil
		}
	}
	return 0, fmt.Errorf("unknown caption perspective %q (allowed: %s)", s, strings.Join(perspectiveNames[:], ", "))
}

// Lang is a caption language.
type Lang uint8

const (
	En Lang = iota
	Zh
	NumLangs int = iota
)

var langNames = [...]string{En: "en", Zh: "zh"}

func (l Lang) String() string {
	if int(l) < len(langNames) {
		return langNames[l]
	}
	return fmt.Sprintf("Lang(%d)", uint8(l))
}

// ParseLang reads "en" or "zh".
func ParseLang(s string) (Lang, error) {
	for i, n := range langNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Lang(i), nil
		}
	}
	return 0, fmt.Errorf("unknown caption language %q (allowed: %s)", s, strings.Join(langNames[:], ", "))
}

func (l Lang) MarshalText() ([]byte, error) { return []byte(l.String()), nil }
func (l *Lang) UnmarshalText(b []byte) error {
	v, err := ParseLang(string(b))
	*l = v
	return err
}

// Write describes s (a valid scene: Scene.Validate) at granularity g. The rng only varies the wording
// (templates, synonyms, order); the facts stated are Facts(s, g). An out-of-range granularity or
// language gets the detailed English caption rather than a panic, since the enums are validated where
// they are parsed.
func Write(s world.Scene, g Granularity, lang Lang, rng *rand.Rand) string {
	p := planFor(s, g)
	if lang == Zh {
		return realiseZh(p, rng)
	}
	return realiseEn(p, rng)
}

// WritePerspective describes s from one perspective; like Write, every stated fact holds.
func WritePerspective(s world.Scene, p Perspective, lang Lang, rng *rand.Rand) string {
	pl := planPerspective(s, p)
	if lang == Zh {
		return realiseZh(pl, rng)
	}
	return realiseEn(pl, rng)
}

// Facts lists the facts a caption of s at granularity g states, whatever its wording or language.
func Facts(s world.Scene, g Granularity) []world.Fact {
	return planFor(s, g).facts()
}

// perspectiveFacts is Facts for a perspective (used by the tests).
func perspectiveFacts(s world.Scene, p Perspective) []world.Fact {
	return planPerspective(s, p).facts()
}

// form is the shape of a caption: which language-free blocks it is made of.
type form uint8

const (
	formDetailed form = iota
	formMedium
	formShort
	formTag
	formBrief
	formStyle
	formMain
	formAll
	formAttributes
	formSpatial
)

// cellCount is how many objects of a group lie in one cell.
type cellCount struct {
	cell world.Cell
	m    int
}

// group is a set of objects the caption names together ("two small red circles").
type group struct {
	colour world.Colour
	// anyColour: the group is named by shape alone (its objects may differ in colour).
	anyColour bool
	shape     world.Shape
	size      *world.Size // nil when the caption leaves size out
	k         int
	cells     []cellCount // distinct cells, in grid order
}

func (g group) ref() world.ObjectRef {
	r := world.ObjectRef{Shape: world.Ptr(g.shape)}
	if !g.anyColour {
		r.Colour = world.Ptr(g.colour)
	}
	if g.size != nil {
		r.Size = world.Ptr(*g.size)
	}
	return r
}

// relation is one stated relation between two uniquely named objects: a is each of kinds relative to b.
type relation struct {
	a, b  world.ObjectRef
	kinds []world.RelationKind // one or two (one horizontal, one vertical)
}

// plan is everything a caption states; the realisers turn it into words.
type plan struct {
	form   form
	domain world.Domain
	bg     world.Background
	n      int
	groups []group
	// withPos: the groups are stated with their cells.
	withPos bool
	rels    []relation
	main    world.Object
}

func planFor(s world.Scene, g Granularity) plan {
	p := plan{domain: s.Domain, bg: s.Background, n: len(s.Objects)}
	switch g {
	case Medium:
		p.form, p.groups, p.withPos = formMedium, groupObjects(s, false), true
	case Short:
		p.form, p.groups = formShort, groupObjects(s, false)
	case Tag:
		p.form, p.groups = formTag, groupObjects(s, false)
	case Brief:
		p.form = formBrief
		if r, ok := briefRelation(s); ok {
			p.rels = []relation{r}
		} else {
			p.groups = groupByShape(s)
		}
	default:
		p.form, p.groups, p.withPos, p.rels = formDetailed, groupObjects(s, true), true, statedRelations(s)
	}
	return p
}

func planPerspective(s world.Scene, pp Perspective) plan {
	p := plan{domain: s.Domain, bg: s.Background, n: len(s.Objects)}
	switch pp {
	case MainObjectPerspective:
		p.form = formMain
		if len(s.Objects) > 0 {
			p.main = s.Objects[mainObject(s)]
		}
	case AllObjectsPerspective:
		p.form, p.groups = formAll, groupObjects(s, true)
	case AttributesPerspective:
		p.form, p.groups = formAttributes, groupObjects(s, true)
	case SpatialPerspective:
		p.form, p.groups, p.withPos, p.rels = formSpatial, groupObjects(s, false), true, statedRelations(s)
	default:
		p.form = formStyle
	}
	return p
}

// mainObject is the index of the largest object, the first one on a tie.
func mainObject(s world.Scene) int {
	best := 0
	for i, o := range s.Objects {
		if o.Size > s.Objects[best].Size {
			best = i
		}
	}
	return best
}

// groupObjects groups identical objects (same colour and shape, and size when withSize), in the order of
// their first object.
func groupObjects(s world.Scene, withSize bool) []group {
	var gs []group
	for _, o := range s.Objects {
		i := slices.IndexFunc(gs, func(g group) bool {
			return g.colour == o.Colour && g.shape == o.Shape && (!withSize || *g.size == o.Size)
		})
		if i < 0 {
			g := group{colour: o.Colour, shape: o.Shape}
			if withSize {
				g.size = world.Ptr(o.Size)
			}
			gs = append(gs, g)
			i = len(gs) - 1
		}
		g := &gs[i]
		g.k++
		c := o.Cell()
		if j := slices.IndexFunc(g.cells, func(cc cellCount) bool { return cc.cell == c }); j >= 0 {
			g.cells[j].m++
		} else {
			g.cells = append(g.cells, cellCount{cell: c, m: 1})
		}
	}
	for i := range gs {
		slices.SortFunc(gs[i].cells, func(a, b cellCount) int { return int(a.cell) - int(b.cell) })
	}
	return gs
}

// groupByShape groups the objects by shape alone, in the order of their first object.
func groupByShape(s world.Scene) []group {
	var gs []group
	for _, o := range s.Objects {
		i := slices.IndexFunc(gs, func(g group) bool { return g.shape == o.Shape })
		if i < 0 {
			gs = append(gs, group{shape: o.Shape, anyColour: true})
			i = len(gs) - 1
		}
		gs[i].k++
	}
	return gs
}

// briefRelation is the relation a brief caption states: only for exactly two objects of different
// shapes (so the shape names each alone) with at least one clear relation between them.
func briefRelation(s world.Scene) (relation, bool) {
	if len(s.Objects) != 2 || s.Objects[0].Shape == s.Objects[1].Shape {
		return relation{}, false
	}
	var kinds []world.RelationKind
	for _, r := range s.Relations() {
		if r.A == 0 && r.B == 1 {
			kinds = append(kinds, r.Kind)
		}
	}
	if len(kinds) == 0 {
		return relation{}, false
	}
	slices.Sort(kinds)
	return relation{
		a:     world.ObjectRef{Shape: world.Ptr(s.Objects[0].Shape)},
		b:     world.ObjectRef{Shape: world.Ptr(s.Objects[1].Shape)},
		kinds: kinds,
	}, true
}

// uniqueRef is the shortest description that picks out object i alone: its shape, then colour and
// shape, then size too, then its cell as well. ok is false when even that matches another object (two
// identical objects in one cell), and such an object is left out of relations, which would be unclear.
func uniqueRef(s world.Scene, i int) (world.ObjectRef, bool) {
	o := s.Objects[i]
	cands := []world.ObjectRef{
		{Shape: world.Ptr(o.Shape)},
		{Shape: world.Ptr(o.Shape), Colour: world.Ptr(o.Colour)},
		{Shape: world.Ptr(o.Shape), Colour: world.Ptr(o.Colour), Size: world.Ptr(o.Size)},
		{Shape: world.Ptr(o.Shape), Colour: world.Ptr(o.Colour), Size: world.Ptr(o.Size), Cell: world.Ptr(o.Cell())},
	}
	for _, r := range cands {
		n := 0
		for _, x := range s.Objects {
			if r.Matches(x) {
				n++
			}
		}
		if n == 1 {
			return r, true
		}
	}
	return world.ObjectRef{}, false
}

// statedRelations lists, for each pair of uniquely nameable objects, the relations Scene.Relations finds
// between them (so only the clear ones, beyond RelationMargin), horizontal first.
func statedRelations(s world.Scene) []relation {
	type pair struct{ a, b int }
	kinds := map[pair][]world.RelationKind{}
	var order []pair
	for _, r := range s.Relations() {
		if r.A >= r.B {
			continue // the mirror relation of a pair already seen or yet to come with A < B
		}
		k := pair{r.A, r.B}
		if _, seen := kinds[k]; !seen {
			order = append(order, k)
		}
		kinds[k] = append(kinds[k], r.Kind)
	}
	slices.SortFunc(order, func(x, y pair) int {
		if x.a != y.a {
			return x.a - y.a
		}
		return x.b - y.b
	})
	var rels []relation
	for _, k := range order {
		ra, okA := uniqueRef(s, k.a)
		rb, okB := uniqueRef(s, k.b)
		if !okA || !okB {
			continue
		}
		ks := kinds[k]
		slices.Sort(ks) // LeftOf, RightOf before Above, Below
		rels = append(rels, relation{a: ra, b: rb, kinds: ks})
	}
	return rels
}

func inverse(k world.RelationKind) world.RelationKind {
	switch k {
	case world.LeftOf:
		return world.RightOf
	case world.RightOf:
		return world.LeftOf
	case world.Above:
		return world.Below
	}
	return world.Above
}

// facts lists what the plan states; the realisers state exactly these, in any wording.
func (p plan) facts() []world.Fact {
	var fs []world.Fact
	add := func(f world.Fact) { fs = append(fs, f) }
	style := func() { add(world.Fact{Kind: world.FactDomain, Domain: p.domain}) }
	bg := func() { add(world.Fact{Kind: world.FactBackground, Background: p.bg}) }
	count := func() { add(world.Fact{Kind: world.FactCount, Count: p.n}) }
	switch p.form {
	case formDetailed:
		style()
		bg()
		count()
	case formMedium:
		bg()
	case formTag:
		bg()
		style()
	case formBrief, formShort:
		if p.domain == world.Photo {
			style()
		}
	case formStyle:
		style()
		bg()
		count()
	case formMain:
		o := p.main
		add(world.Fact{Kind: world.FactExists, Obj: world.ObjectRef{
			Colour: world.Ptr(o.Colour), Shape: world.Ptr(o.Shape), Size: world.Ptr(o.Size), Cell: world.Ptr(o.Cell()),
		}})
	case formAll:
		count()
	}
	for _, g := range p.groups {
		fs = append(fs, groupFacts(g, p.withPos)...)
	}
	for _, r := range p.rels {
		for _, k := range r.kinds {
			add(world.Fact{Kind: world.FactRelation, Obj: r.a, Other: r.b, Rel: k})
		}
	}
	return fs
}

// groupFacts: a lone object is stated to exist ("a red circle in the top left"); a group of k states
// the exact count ("two red circles") and, with positions, how many lie in each of its cells ("one in
// the top left and one at the bottom").
func groupFacts(g group, withPos bool) []world.Fact {
	r := g.ref()
	if g.k == 1 {
		if withPos {
			r.Cell = world.Ptr(g.cells[0].cell)
		}
		return []world.Fact{{Kind: world.FactExists, Obj: r}}
	}
	fs := []world.Fact{{Kind: world.FactCount, Obj: r, Count: g.k}}
	if withPos {
		for _, cc := range g.cells {
			rc := r
			rc.Cell = world.Ptr(cc.cell)
			fs = append(fs, world.Fact{Kind: world.FactCount, Obj: rc, Count: cc.m})
		}
	}
	return fs
}

// ---- helpers shared by both realisers ----

func pick(rng *rand.Rand, opts ...string) string { return opts[rng.IntN(len(opts))] }

func shuffled[T any](rng *rand.Rand, xs []T) []T {
	out := slices.Clone(xs)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func upperFirst(s string) string {
	r := []rune(s)
	if len(r) > 0 {
		r[0] = unicode.ToUpper(r[0])
	}
	return string(r)
}

// orient returns the relation as stated: either as planned or mirrored ("b is right of a").
func orient(r relation, rng *rand.Rand) (subj, obj world.ObjectRef, kinds []world.RelationKind) {
	kinds = slices.Clone(r.kinds)
	if rng.IntN(2) == 0 {
		return r.a, r.b, shuffled(rng, kinds)
	}
	for i, k := range kinds {
		kinds[i] = inverse(k)
	}
	return r.b, r.a, shuffled(rng, kinds)
}
