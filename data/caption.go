package data

// The captioner, our stand-in for the paper's UniCap: from a scene it writes captions at four
// granularities and five perspectives, in English and Chinese. Every caption is built in two steps: a
// language-free plan (which objects are grouped, which relations are stated, with which references)
// that fixes the facts, then a realisation in one language whose wording the rng varies. The facts depend
// only on the scene and the granularity, so CaptionFacts can report them without an rng, and no choice
// of wording can make a caption state something false.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"
)

// Granularity is how much a caption says, from a full description down to a list of tags.
type Granularity uint8

const (
	// DetailedCaption: every object's colour, shape, size and grid position, the clear pairwise relations, the
	// object count, the background and the render style.
	DetailedCaption Granularity = iota
	// MediumCaption: colour, shape and position of each object, and the background.
	MediumCaption
	// ShortCaption: the objects' colours and shapes in one clause; photos say so ("A photo of …").
	ShortCaption
	// TagCaption: comma-separated tags for the objects, the background and the style.
	TagCaption
	// BriefCaption: a GenEval-style prompt: the objects by shape alone ("two circles and a triangle"),
	// or, for two objects of different shapes in a clear relation, that relation ("a circle to the left
	// of a square"); photos say so ("a photo of …"). Real captions leave attributes out too, and a model
	// that only ever saw colours named draws nothing for "a photo of a circle".
	BriefCaption
	NumGranularities int = iota
)

var granularityNames = [...]string{DetailedCaption: "detailed", MediumCaption: "medium", ShortCaption: "short", TagCaption: "tag", BriefCaption: "brief"}

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

// Caption describes s (a valid scene: Scene.Validate) at granularity g. The rng only varies the wording (templates, synonyms, order);
// the facts stated are CaptionFacts(s, g). An out-of-range granularity or language gets the detailed
// English caption rather than a panic, since the enums are validated where they are parsed.
func Caption(s Scene, g Granularity, lang Lang, rng *rand.Rand) string {
	p := capPlanFor(s, g)
	if lang == Zh {
		return capRealiseZh(p, rng)
	}
	return capRealiseEn(p, rng)
}

// CaptionPerspective describes s from one perspective; like Caption, every stated fact holds.
func CaptionPerspective(s Scene, p Perspective, lang Lang, rng *rand.Rand) string {
	pl := capPlanPerspective(s, p)
	if lang == Zh {
		return capRealiseZh(pl, rng)
	}
	return capRealiseEn(pl, rng)
}

// CaptionFacts lists the facts a caption of s at granularity g states, whatever its wording or language.
func CaptionFacts(s Scene, g Granularity) []Fact {
	return capPlanFor(s, g).facts()
}

// capPerspectiveFacts is CaptionFacts for a perspective (used by the tests).
func capPerspectiveFacts(s Scene, p Perspective) []Fact {
	return capPlanPerspective(s, p).facts()
}

// capForm is the shape of a caption: which language-free blocks it is made of.
type capForm uint8

const (
	capFormDetailed capForm = iota
	capFormMedium
	capFormShort
	capFormTag
	capFormBrief
	capFormStyle
	capFormMain
	capFormAll
	capFormAttributes
	capFormSpatial
)

// capCellCount is how many objects of a group lie in one cell.
type capCellCount struct {
	cell Cell
	m    int
}

// capGroup is a set of objects the caption names together ("two small red circles").
type capGroup struct {
	colour Colour
	// anyColour: the group is named by shape alone (its objects may differ in colour).
	anyColour bool
	shape     Shape
	size      *Size // nil when the caption leaves size out
	k         int
	cells     []capCellCount // distinct cells, in grid order
}

func (g capGroup) ref() ObjectRef {
	r := ObjectRef{Shape: Ptr(g.shape)}
	if !g.anyColour {
		r.Colour = Ptr(g.colour)
	}
	if g.size != nil {
		r.Size = Ptr(*g.size)
	}
	return r
}

// capRel is one stated relation between two uniquely named objects: a is each of kinds relative to b.
type capRel struct {
	a, b  ObjectRef
	kinds []RelationKind // one or two (one horizontal, one vertical)
}

// capPlan is everything a caption states; the realisers turn it into words.
type capPlan struct {
	form   capForm
	domain Domain
	bg     Background
	n      int
	groups []capGroup
	// withPos: the groups are stated with their cells.
	withPos bool
	rels    []capRel
	main    Object
}

func capPlanFor(s Scene, g Granularity) capPlan {
	p := capPlan{domain: s.Domain, bg: s.Background, n: len(s.Objects)}
	switch g {
	case MediumCaption:
		p.form, p.groups, p.withPos = capFormMedium, capGroups(s, false), true
	case ShortCaption:
		p.form, p.groups = capFormShort, capGroups(s, false)
	case TagCaption:
		p.form, p.groups = capFormTag, capGroups(s, false)
	case BriefCaption:
		p.form = capFormBrief
		if r, ok := capBriefRelation(s); ok {
			p.rels = []capRel{r}
		} else {
			p.groups = capShapeGroups(s)
		}
	default:
		p.form, p.groups, p.withPos, p.rels = capFormDetailed, capGroups(s, true), true, capRelations(s)
	}
	return p
}

func capPlanPerspective(s Scene, pp Perspective) capPlan {
	p := capPlan{domain: s.Domain, bg: s.Background, n: len(s.Objects)}
	switch pp {
	case MainObjectPerspective:
		p.form = capFormMain
		if len(s.Objects) > 0 {
			p.main = s.Objects[capMainObject(s)]
		}
	case AllObjectsPerspective:
		p.form, p.groups = capFormAll, capGroups(s, true)
	case AttributesPerspective:
		p.form, p.groups = capFormAttributes, capGroups(s, true)
	case SpatialPerspective:
		p.form, p.groups, p.withPos, p.rels = capFormSpatial, capGroups(s, false), true, capRelations(s)
	default:
		p.form = capFormStyle
	}
	return p
}

// capMainObject is the index of the largest object, the first one on a tie.
func capMainObject(s Scene) int {
	best := 0
	for i, o := range s.Objects {
		if o.Size > s.Objects[best].Size {
			best = i
		}
	}
	return best
}

// capGroups groups identical objects (same colour and shape, and size when withSize), in the order of
// their first object.
func capGroups(s Scene, withSize bool) []capGroup {
	var gs []capGroup
	for _, o := range s.Objects {
		i := slices.IndexFunc(gs, func(g capGroup) bool {
			return g.colour == o.Colour && g.shape == o.Shape && (!withSize || *g.size == o.Size)
		})
		if i < 0 {
			g := capGroup{colour: o.Colour, shape: o.Shape}
			if withSize {
				g.size = Ptr(o.Size)
			}
			gs = append(gs, g)
			i = len(gs) - 1
		}
		g := &gs[i]
		g.k++
		c := o.Cell()
		if j := slices.IndexFunc(g.cells, func(cc capCellCount) bool { return cc.cell == c }); j >= 0 {
			g.cells[j].m++
		} else {
			g.cells = append(g.cells, capCellCount{cell: c, m: 1})
		}
	}
	for i := range gs {
		slices.SortFunc(gs[i].cells, func(a, b capCellCount) int { return int(a.cell) - int(b.cell) })
	}
	return gs
}

// capShapeGroups groups the objects by shape alone, in the order of their first object.
func capShapeGroups(s Scene) []capGroup {
	var gs []capGroup
	for _, o := range s.Objects {
		i := slices.IndexFunc(gs, func(g capGroup) bool { return g.shape == o.Shape })
		if i < 0 {
			gs = append(gs, capGroup{shape: o.Shape, anyColour: true})
			i = len(gs) - 1
		}
		gs[i].k++
	}
	return gs
}

// capBriefRelation is the relation a brief caption states: only for exactly two objects of different
// shapes (so the shape names each alone) with at least one clear relation between them.
func capBriefRelation(s Scene) (capRel, bool) {
	if len(s.Objects) != 2 || s.Objects[0].Shape == s.Objects[1].Shape {
		return capRel{}, false
	}
	var kinds []RelationKind
	for _, r := range s.Relations() {
		if r.A == 0 && r.B == 1 {
			kinds = append(kinds, r.Kind)
		}
	}
	if len(kinds) == 0 {
		return capRel{}, false
	}
	slices.Sort(kinds)
	return capRel{a: ObjectRef{Shape: Ptr(s.Objects[0].Shape)}, b: ObjectRef{Shape: Ptr(s.Objects[1].Shape)}, kinds: kinds}, true
}

// capUniqueRef is the shortest description that picks out object i alone: its shape, then colour and
// shape, then size too, then its cell as well. ok is false when even that matches another object (two
// identical objects in one cell), and such an object is left out of relations, which would be unclear.
func capUniqueRef(s Scene, i int) (ObjectRef, bool) {
	o := s.Objects[i]
	cands := []ObjectRef{
		{Shape: Ptr(o.Shape)},
		{Shape: Ptr(o.Shape), Colour: Ptr(o.Colour)},
		{Shape: Ptr(o.Shape), Colour: Ptr(o.Colour), Size: Ptr(o.Size)},
		{Shape: Ptr(o.Shape), Colour: Ptr(o.Colour), Size: Ptr(o.Size), Cell: Ptr(o.Cell())},
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
	return ObjectRef{}, false
}

// capRelations lists, for each pair of uniquely nameable objects, the relations Scene.Relations finds
// between them (so only the clear ones, beyond RelationMargin), horizontal first.
func capRelations(s Scene) []capRel {
	type pair struct{ a, b int }
	kinds := map[pair][]RelationKind{}
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
	var rels []capRel
	for _, k := range order {
		ra, okA := capUniqueRef(s, k.a)
		rb, okB := capUniqueRef(s, k.b)
		if !okA || !okB {
			continue
		}
		ks := kinds[k]
		slices.Sort(ks) // LeftOf, RightOf before Above, Below
		rels = append(rels, capRel{a: ra, b: rb, kinds: ks})
	}
	return rels
}

func capInverse(k RelationKind) RelationKind {
	switch k {
	case LeftOf:
		return RightOf
	case RightOf:
		return LeftOf
	case Above:
		return Below
	}
	return Above
}

// facts lists what the plan states; the realisers state exactly these, in any wording.
func (p capPlan) facts() []Fact {
	var fs []Fact
	add := func(f Fact) { fs = append(fs, f) }
	style := func() { add(Fact{Kind: FactDomain, Domain: p.domain}) }
	bg := func() { add(Fact{Kind: FactBackground, Background: p.bg}) }
	count := func() { add(Fact{Kind: FactCount, Count: p.n}) }
	switch p.form {
	case capFormDetailed:
		style()
		bg()
		count()
	case capFormMedium:
		bg()
	case capFormTag:
		bg()
		style()
	case capFormBrief, capFormShort:
		if p.domain == Photo {
			style()
		}
	case capFormStyle:
		style()
		bg()
		count()
	case capFormMain:
		o := p.main
		add(Fact{Kind: FactExists, Obj: ObjectRef{Colour: Ptr(o.Colour), Shape: Ptr(o.Shape), Size: Ptr(o.Size), Cell: Ptr(o.Cell())}})
	case capFormAll:
		count()
	}
	for _, g := range p.groups {
		fs = append(fs, capGroupFacts(g, p.withPos)...)
	}
	for _, r := range p.rels {
		for _, k := range r.kinds {
			add(Fact{Kind: FactRelation, Obj: r.a, Other: r.b, Rel: k})
		}
	}
	return fs
}

// capGroupFacts: a lone object is stated to exist ("a red circle in the top left"); a group of k states
// the exact count ("two red circles") and, with positions, how many lie in each of its cells ("one in
// the top left and one at the bottom").
func capGroupFacts(g capGroup, withPos bool) []Fact {
	r := g.ref()
	if g.k == 1 {
		if withPos {
			r.Cell = Ptr(g.cells[0].cell)
		}
		return []Fact{{Kind: FactExists, Obj: r}}
	}
	fs := []Fact{{Kind: FactCount, Obj: r, Count: g.k}}
	if withPos {
		for _, cc := range g.cells {
			rc := r
			rc.Cell = Ptr(cc.cell)
			fs = append(fs, Fact{Kind: FactCount, Obj: rc, Count: cc.m})
		}
	}
	return fs
}

// ---- helpers shared by both realisers ----

func capPick(rng *rand.Rand, opts ...string) string { return opts[rng.IntN(len(opts))] }

func capShuffled[T any](rng *rand.Rand, xs []T) []T {
	out := slices.Clone(xs)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func capUpperFirst(s string) string {
	r := []rune(s)
	if len(r) > 0 {
		r[0] = unicode.ToUpper(r[0])
	}
	return string(r)
}

// capOrient returns the relation as stated: either as planned or mirrored ("b is right of a").
func capOrient(r capRel, rng *rand.Rand) (subj, obj ObjectRef, kinds []RelationKind) {
	kinds = slices.Clone(r.kinds)
	if rng.IntN(2) == 0 {
		return r.a, r.b, capShuffled(rng, kinds)
	}
	for i, k := range kinds {
		kinds[i] = capInverse(k)
	}
	return r.b, r.a, capShuffled(rng, kinds)
}

// ---- English ----

var capEnNumbers = [...]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

func capEnNumber(n int) string {
	if n >= 0 && n < len(capEnNumbers) {
		return capEnNumbers[n]
	}
	return fmt.Sprint(n)
}

func capEnArticle(next string) string {
	if next != "" && strings.ContainsRune("aeiou", rune(next[0])) {
		return "an"
	}
	return "a"
}

func capEnSize(z Size, rng *rand.Rand) string {
	switch z {
	case Small:
		return capPick(rng, "small", "small", "little")
	case Medium:
		return capPick(rng, "medium-sized", "medium", "mid-sized")
	case Large:
		return capPick(rng, "large", "large", "big")
	}
	return z.String()
}

func capEnShape(sh Shape, plural bool, rng *rand.Rand) string {
	if sh == Circle && rng.IntN(6) == 0 {
		if plural {
			return "discs"
		}
		return "disc"
	}
	if plural {
		return sh.Plural()
	}
	return sh.String()
}

// capEnNoun is "small red circle(s)" for a reference's attributes (no determiner, no cell).
func capEnNoun(r ObjectRef, plural bool, rng *rand.Rand) string {
	var w []string
	if r.Size != nil {
		w = append(w, capEnSize(*r.Size, rng))
	}
	if r.Colour != nil {
		w = append(w, r.Colour.String())
	}
	if r.Shape != nil {
		w = append(w, capEnShape(*r.Shape, plural, rng))
	} else if plural {
		w = append(w, capPick(rng, "objects", "shapes"))
	} else {
		w = append(w, capPick(rng, "object", "shape"))
	}
	return strings.Join(w, " ")
}

// capEnIndef is "a small red circle" (k = 1) or "two small red circles".
func capEnIndef(r ObjectRef, k int, rng *rand.Rand) string {
	if k == 1 {
		n := capEnNoun(r, false, rng)
		return capEnArticle(n) + " " + n
	}
	return capEnNumber(k) + " " + capEnNoun(r, true, rng)
}

func capEnPos(c Cell, rng *rand.Rand) string {
	switch c {
	case 4:
		return capPick(rng, "in the center", "in the middle", "at the center of the image", "in the centre")
	case 1, 7:
		w := "top"
		if c == 7 {
			w = "bottom"
		}
		return capPick(rng, "at the "+w, "at the "+w+" of the image", "along the "+w+" edge", "in the "+w+" middle")
	case 3, 5:
		w := "left"
		if c == 5 {
			w = "right"
		}
		return capPick(rng, "on the "+w, "on the "+w+" side", "at the "+w+" of the picture", "in the middle "+w)
	}
	v := "top"
	if c.Row() == 2 {
		v = "bottom"
	}
	h := "left"
	if c.Col() == 2 {
		h = "right"
	}
	alt := map[string]string{"top": "upper", "bottom": "lower"}[v]
	return capPick(rng, "in the "+v+" "+h, "in the "+v+"-"+h+" corner", "at the "+v+" "+h, "in the "+alt+" "+h+" corner")
}

// capEnRef is a definite reference, "the red circle" or "the small red circle in the top left".
func capEnRef(r ObjectRef, rng *rand.Rand) string {
	s := "the " + capEnNoun(r, false, rng)
	if r.Cell != nil {
		s += " " + capEnPos(*r.Cell, rng)
	}
	return s
}

func capEnRelWord(k RelationKind, rng *rand.Rand) string {
	switch k {
	case LeftOf:
		return capPick(rng, "to the left of", "left of", "to the left of")
	case RightOf:
		return capPick(rng, "to the right of", "right of", "to the right of")
	case Above:
		return capPick(rng, "above", "above", "higher than")
	}
	return capPick(rng, "below", "beneath", "under", "lower than")
}

func capEnRelSentence(r capRel, rng *rand.Rand) string {
	subj, obj, kinds := capOrient(r, rng)
	words := make([]string, len(kinds))
	for i, k := range kinds {
		words[i] = capEnRelWord(k, rng)
	}
	rel := strings.Join(words, " and ")
	switch rng.IntN(4) {
	case 0:
		return capUpperFirst(rel) + " " + capEnRef(obj, rng) + " " + capPick(rng, "is", "sits", "lies") + " " + capEnRef(subj, rng) + "."
	case 1:
		return capUpperFirst(capEnRef(subj, rng)) + " " + capPick(rng, "sits", "lies", "is placed", "is located") + " " + rel + " " + capEnRef(obj, rng) + "."
	}
	return capUpperFirst(capEnRef(subj, rng)) + " is " + rel + " " + capEnRef(obj, rng) + "."
}

func capEnStyle(d Domain, rng *rand.Rand) string {
	if d == Photo {
		return capPick(rng, "photo", "photograph", "realistic photo", "photorealistic image")
	}
	return capPick(rng, "flat illustration", "flat vector illustration", "flat graphic", "clean flat illustration")
}

func capEnCount(n int, rng *rand.Rand) string {
	if n == 1 {
		return capPick(rng, "a single object", "one object", "exactly one shape", "a single shape")
	}
	return capEnNumber(n) + " " + capPick(rng, "objects", "shapes", "objects")
}

// capEnEntries is the positions of a group of k ≥ 2: " in the top left" when all share a cell, else
// ", one in the top left and the other at the bottom".
func capEnEntries(g capGroup, rng *rand.Rand) string {
	if len(g.cells) == 1 {
		switch rng.IntN(3) {
		case 0:
			all := "both"
			if g.k > 2 {
				all = "all " + capEnNumber(g.k)
			}
			return ", " + all + " " + capEnPos(g.cells[0].cell, rng)
		case 1:
			return " " + capPick(rng, "sit", "are placed", "appear") + " " + capEnPos(g.cells[0].cell, rng)
		}
		return " " + capEnPos(g.cells[0].cell, rng)
	}
	cells := capShuffled(rng, g.cells)
	parts := make([]string, len(cells))
	left := g.k
	for i, cc := range cells {
		var q string
		switch {
		case cc.m > 1:
			q = capEnNumber(cc.m)
		case i == 0:
			q = "one"
		case left == 1 && g.k == 2:
			q = capPick(rng, "the other", "the other one", "one")
		default:
			q = capPick(rng, "one", "another", "another one")
		}
		left -= cc.m
		parts[i] = q + " " + capEnPos(cc.cell, rng)
	}
	return ", " + capEnJoin(parts, rng)
}

func capEnJoin(parts []string, rng *rand.Rand) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	last := " and "
	if len(parts) > 2 && rng.IntN(2) == 0 {
		last = ", and "
	}
	return strings.Join(parts[:len(parts)-1], ", ") + last + parts[len(parts)-1]
}

// capEnGroupPhrase is a group as a noun phrase, with its positions when the plan has them.
func capEnGroupPhrase(g capGroup, withPos bool, rng *rand.Rand) string {
	np := capEnIndef(g.ref(), g.k, rng)
	if !withPos {
		return np
	}
	if g.k == 1 {
		return np + " " + capEnPos(g.cells[0].cell, rng)
	}
	return np + capEnEntries(g, rng)
}

// capEnGroupSentence states one group of a detailed caption as a sentence.
func capEnGroupSentence(g capGroup, rng *rand.Rand) string {
	np := capEnIndef(g.ref(), g.k, rng)
	if g.k == 1 {
		pos := capEnPos(g.cells[0].cell, rng)
		switch rng.IntN(4) {
		case 0:
			return "There is " + np + " " + pos + "."
		case 1:
			return capUpperFirst(np) + " " + capPick(rng, "sits", "lies", "is located", "can be seen") + " " + pos + "."
		case 2:
			return capUpperFirst(pos) + capPick(rng, " there is ", ", there is ", " sits ") + np + "."
		}
		return capUpperFirst(np) + " " + pos + "."
	}
	if rng.IntN(2) == 0 {
		return "There are " + np + capEnEntries(g, rng) + "."
	}
	return capUpperFirst(np) + capEnEntries(g, rng) + "."
}

func capEnBg(b Background, rng *rand.Rand) string {
	return capPick(rng, "on a "+b.String()+" background", "against a "+b.String()+" background", "on a "+b.String()+" backdrop")
}

func capRealiseEn(p capPlan, rng *rand.Rand) string {
	groups := capShuffled(rng, p.groups)
	phrases := func(withPos bool) []string {
		out := make([]string, len(groups))
		for i, g := range groups {
			out[i] = capEnGroupPhrase(g, withPos, rng)
		}
		return out
	}
	switch p.form {
	case capFormTag:
		tags := phrases(false)
		for i := range tags {
			tags[i] = strings.TrimPrefix(strings.TrimPrefix(tags[i], "a "), "an ")
		}
		tags = append(tags, p.bg.String()+" background", capEnStyle(p.domain, rng))
		return strings.Join(capShuffled(rng, tags), ", ")
	case capFormShort:
		list := capEnJoin(phrases(false), rng)
		if p.domain == Photo {
			return capPick(rng, "A photo of ", "A photograph of ", "a photo of ", "A photo showing ") + list
		}
		switch rng.IntN(4) {
		case 0:
			return capUpperFirst(list) + "."
		case 1:
			return capUpperFirst(list)
		case 2:
			return capPick(rng, "An image of ", "A picture of ", "A picture showing ") + list + "."
		}
		return capPick(rng, "Shapes: ", "Contents: ") + list + "."
	case capFormBrief:
		var body string
		if len(p.rels) > 0 {
			subj, obj, kinds := capOrient(p.rels[0], rng)
			words := make([]string, len(kinds))
			for i, k := range kinds {
				words[i] = capEnRelWord(k, rng)
			}
			body = capEnIndef(subj, 1, rng) + " " + strings.Join(words, " and ") + " " + capEnIndef(obj, 1, rng)
		} else {
			body = capEnJoin(phrases(false), rng)
		}
		if p.domain == Photo {
			return capPick(rng, "a photo of ", "a photograph of ", "A photo of ") + body
		}
		return capPick(rng, "", "", "an image of ", "a picture of ") + body
	case capFormMedium:
		list := capEnJoin(phrases(true), rng)
		switch rng.IntN(3) {
		case 0:
			return capUpperFirst(list) + ", " + capEnBg(p.bg, rng) + "."
		case 1:
			return "On a " + p.bg.String() + " background: " + list + "."
		}
		return "A " + p.bg.String() + " background with " + list + "."
	case capFormStyle:
		style := capEnStyle(p.domain, rng)
		switch rng.IntN(3) {
		case 0:
			return capUpperFirst(capEnArticle(style)+" "+style) + " " + capEnBg(p.bg, rng) + ", showing " + capEnCount(p.n, rng) + "."
		case 1:
			return "The style is " + capEnArticle(style) + " " + style + ": " + capEnCount(p.n, rng) + " " + capEnBg(p.bg, rng) + "."
		}
		return "This " + style + " has a " + p.bg.String() + " background and contains " + capEnCount(p.n, rng) + "."
	case capFormMain:
		o := p.main
		r := ObjectRef{Colour: Ptr(o.Colour), Shape: Ptr(o.Shape), Size: Ptr(o.Size)}
		np := capEnIndef(r, 1, rng)
		pos := capEnPos(o.Cell(), rng)
		switch rng.IntN(3) {
		case 0:
			return "The main object is " + np + " " + pos + "."
		case 1:
			return capUpperFirst(np) + " " + pos + " is the main subject."
		}
		return "The most prominent shape is " + np + ", located " + pos + "."
	case capFormAll:
		list := capEnJoin(phrases(false), rng)
		if rng.IntN(2) == 0 {
			return "The image contains " + capEnCount(p.n, rng) + ": " + list + "."
		}
		return "All objects: " + list + ". That makes " + capEnCount(p.n, rng) + " in total."
	case capFormAttributes:
		parts := make([]string, len(groups))
		for i, g := range groups {
			r := g.ref()
			noun := capEnShape(g.shape, g.k > 1, rng)
			verb := "is"
			if g.k > 1 {
				verb = "are"
			}
			adjs := capShuffled(rng, []string{r.Colour.String(), capEnSize(*r.Size, rng)})
			head := capEnArticle(noun) + " " + noun
			if g.k > 1 {
				head = capEnNumber(g.k) + " " + noun
			}
			parts[i] = head + capPick(rng, " that ", " which ", ", which ") + verb + " " + adjs[0] + " and " + adjs[1]
		}
		return capPick(rng, "Object attributes: ", "Attributes: ") + strings.Join(parts, "; ") + "."
	case capFormSpatial:
		var ss []string
		for _, g := range groups {
			ss = append(ss, capEnGroupSentence(g, rng))
		}
		for _, r := range capShuffled(rng, p.rels) {
			ss = append(ss, capEnRelSentence(r, rng))
		}
		return strings.Join(ss, " ")
	}
	// Detailed.
	style := capEnStyle(p.domain, rng)
	count := capEnCount(p.n, rng)
	var intro string
	bgSaid := true
	switch rng.IntN(4) {
	case 0:
		intro = capUpperFirst(capEnArticle(style)+" "+style) + " of " + count + " " + capEnBg(p.bg, rng) + "."
	case 1:
		intro = "This " + style + " shows " + count + " " + capEnBg(p.bg, rng) + "."
	case 2:
		intro = "The image is " + capEnArticle(style) + " " + style + " with " + count + "."
		bgSaid = false
	default:
		verbs := []string{" appear in this ", " are shown in this ", " make up this "}
		if p.n == 1 {
			verbs = []string{" appears in this ", " is shown in this ", " makes up this "}
		}
		intro = capUpperFirst(count) + capPick(rng, verbs...) + style + "."
		bgSaid = false
	}
	ss := []string{intro}
	for _, g := range groups {
		ss = append(ss, capEnGroupSentence(g, rng))
	}
	for _, r := range capShuffled(rng, p.rels) {
		ss = append(ss, capEnRelSentence(r, rng))
	}
	if !bgSaid {
		bgs := capPick(rng, "The background is "+p.bg.String()+".", "Everything sits "+capEnBg(p.bg, rng)+".", "The backdrop is plain "+p.bg.String()+".")
		at := 1 + rng.IntN(len(ss))
		ss = slices.Insert(ss, at, bgs)
	}
	return strings.Join(ss, " ")
}
