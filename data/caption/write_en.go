package caption

// The English realiser: turns a plan into English words; only the wording is chosen by the rng, the
// facts come from the plan.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/lumina-workbench/lumina/data/world"
)

var enNumerals = [...]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

func enNumber(n int) string {
	if n >= 0 && n < len(enNumerals) {
		return enNumerals[n]
	}
	return fmt.Sprint(n)
}

func enArticle(next string) string {
	if next != "" && strings.ContainsRune("aeiou", rune(next[0])) {
		return "an"
	}
	return "a"
}

func enSize(z world.Size, rng *rand.Rand) string {
	switch z {
	case world.Small:
		return pick(rng, "small", "small", "little")
	case world.Medium:
		return pick(rng, "medium-sized", "medium", "mid-sized")
	case world.Large:
		return pick(rng, "large", "large", "big")
	}
	return z.String()
}

func enShape(sh world.Shape, plural bool, rng *rand.Rand) string {
	if sh == world.Circle && rng.IntN(6) == 0 {
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

// enNoun is "small red circle(s)" for a reference's attributes (no determiner, no cell).
func enNoun(r world.ObjectRef, plural bool, rng *rand.Rand) string {
	var w []string
	if r.Size != nil {
		w = append(w, enSize(*r.Size, rng))
	}
	if r.Colour != nil {
		w = append(w, r.Colour.String())
	}
	if r.Shape != nil {
		w = append(w, enShape(*r.Shape, plural, rng))
	} else if plural {
		w = append(w, pick(rng, "objects", "shapes"))
	} else {
		w = append(w, pick(rng, "object", "shape"))
	}
	return strings.Join(w, " ")
}

// enIndef is "a small red circle" (k = 1) or "two small red circles".
func enIndef(r world.ObjectRef, k int, rng *rand.Rand) string {
	if k == 1 {
		n := enNoun(r, false, rng)
		return enArticle(n) + " " + n
	}
	return enNumber(k) + " " + enNoun(r, true, rng)
}

func enPos(c world.Cell, rng *rand.Rand) string {
	switch c {
	case 4:
		return pick(rng, "in the center", "in the middle", "at the center of the image", "in the centre")
	case 1, 7:
		w := "top"
		if c == 7 {
			w = "bottom"
		}
		return pick(rng, "at the "+w, "at the "+w+" of the image", "along the "+w+" edge", "in the "+w+" middle")
	case 3, 5:
		w := "left"
		if c == 5 {
			w = "right"
		}
		return pick(rng, "on the "+w, "on the "+w+" side", "at the "+w+" of the picture", "in the middle "+w)
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
	return pick(rng, "in the "+v+" "+h, "in the "+v+"-"+h+" corner", "at the "+v+" "+h, "in the "+alt+" "+h+" corner")
}

// enRef is a definite reference, "the red circle" or "the small red circle in the top left".
func enRef(r world.ObjectRef, rng *rand.Rand) string {
	s := "the " + enNoun(r, false, rng)
	if r.Cell != nil {
		s += " " + enPos(*r.Cell, rng)
	}
	return s
}

func enRelWord(k world.RelationKind, rng *rand.Rand) string {
	switch k {
	case world.LeftOf:
		return pick(rng, "to the left of", "left of", "to the left of")
	case world.RightOf:
		return pick(rng, "to the right of", "right of", "to the right of")
	case world.Above:
		return pick(rng, "above", "above", "higher than")
	}
	return pick(rng, "below", "beneath", "under", "lower than")
}

func enRelSentence(r relation, rng *rand.Rand) string {
	subj, obj, kinds := orient(r, rng)
	words := make([]string, len(kinds))
	for i, k := range kinds {
		words[i] = enRelWord(k, rng)
	}
	rel := strings.Join(words, " and ")
	switch rng.IntN(4) {
	case 0:
		return upperFirst(rel) + " " + enRef(obj, rng) + " " + pick(rng, "is", "sits", "lies") + " " + enRef(subj, rng) + "."
	case 1:
		return upperFirst(enRef(subj, rng)) + " " + pick(rng, "sits", "lies", "is placed", "is located") + " " + rel + " " + enRef(obj, rng) + "."
	}
	return upperFirst(enRef(subj, rng)) + " is " + rel + " " + enRef(obj, rng) + "."
}

func enStyle(d world.Domain, rng *rand.Rand) string {
	if d == world.Photo {
		return pick(rng, "photo", "photograph", "realistic photo", "photorealistic image")
	}
	return pick(rng, "flat illustration", "flat vector illustration", "flat graphic", "clean flat illustration")
}

func enCount(n int, rng *rand.Rand) string {
	if n == 1 {
		return pick(rng, "a single object", "one object", "exactly one shape", "a single shape")
	}
	return enNumber(n) + " " + pick(rng, "objects", "shapes", "objects")
}

// enEntries is the positions of a group of k ≥ 2: " in the top left" when all share a cell, else
// ", one in the top left and the other at the bottom".
func enEntries(g group, rng *rand.Rand) string {
	if len(g.cells) == 1 {
		switch rng.IntN(3) {
		case 0:
			all := "both"
			if g.k > 2 {
				all = "all " + enNumber(g.k)
			}
			return ", " + all + " " + enPos(g.cells[0].cell, rng)
		case 1:
			return " " + pick(rng, "sit", "are placed", "appear") + " " + enPos(g.cells[0].cell, rng)
		}
		return " " + enPos(g.cells[0].cell, rng)
	}
	cells := shuffled(rng, g.cells)
	parts := make([]string, len(cells))
	left := g.k
	for i, cc := range cells {
		var q string
		switch {
		case cc.m > 1:
			q = enNumber(cc.m)
		case i == 0:
			q = "one"
		case left == 1 && g.k == 2:
			q = pick(rng, "the other", "the other one", "one")
		default:
			q = pick(rng, "one", "another", "another one")
		}
		left -= cc.m
		parts[i] = q + " " + enPos(cc.cell, rng)
	}
	return ", " + enJoin(parts, rng)
}

func enJoin(parts []string, rng *rand.Rand) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	last := " and "
	if len(parts) > 2 && rng.IntN(2) == 0 {
		last = ", and "
	}
	return strings.Join(parts[:len(parts)-1], ", ") + last + parts[len(parts)-1]
}

// enGroupPhrase is a group as a noun phrase, with its positions when the plan has them.
func enGroupPhrase(g group, withPos bool, rng *rand.Rand) string {
	np := enIndef(g.ref(), g.k, rng)
	if !withPos {
		return np
	}
	if g.k == 1 {
		return np + " " + enPos(g.cells[0].cell, rng)
	}
	return np + enEntries(g, rng)
}

// enGroupSentence states one group of a detailed caption as a sentence.
func enGroupSentence(g group, rng *rand.Rand) string {
	np := enIndef(g.ref(), g.k, rng)
	if g.k == 1 {
		pos := enPos(g.cells[0].cell, rng)
		switch rng.IntN(4) {
		case 0:
			return "There is " + np + " " + pos + "."
		case 1:
			return upperFirst(np) + " " + pick(rng, "sits", "lies", "is located", "can be seen") + " " + pos + "."
		case 2:
			return upperFirst(pos) + pick(rng, " there is ", ", there is ", " sits ") + np + "."
		}
		return upperFirst(np) + " " + pos + "."
	}
	if rng.IntN(2) == 0 {
		return "There are " + np + enEntries(g, rng) + "."
	}
	return upperFirst(np) + enEntries(g, rng) + "."
}

func enOnBackground(b world.Background, rng *rand.Rand) string {
	return pick(rng, "on a "+b.String()+" background", "against a "+b.String()+" background", "on a "+b.String()+" backdrop")
}

func realiseEn(p plan, rng *rand.Rand) string {
	groups := shuffled(rng, p.groups)
	phrases := func(withPos bool) []string {
		out := make([]string, len(groups))
		for i, g := range groups {
			out[i] = enGroupPhrase(g, withPos, rng)
		}
		return out
	}
	switch p.form {
	case formTag:
		tags := phrases(false)
		for i := range tags {
			tags[i] = strings.TrimPrefix(strings.TrimPrefix(tags[i], "a "), "an ")
		}
		tags = append(tags, p.bg.String()+" background", enStyle(p.domain, rng))
		return strings.Join(shuffled(rng, tags), ", ")
	case formShort:
		list := enJoin(phrases(false), rng)
		if p.domain == world.Photo {
			return pick(rng, "A photo of ", "A photograph of ", "a photo of ", "A photo showing ") + list
		}
		switch rng.IntN(4) {
		case 0:
			return upperFirst(list) + "."
		case 1:
			return upperFirst(list)
		case 2:
			return pick(rng, "An image of ", "A picture of ", "A picture showing ") + list + "."
		}
		return pick(rng, "Shapes: ", "Contents: ") + list + "."
	case formBrief:
		var body string
		if len(p.rels) > 0 {
			subj, obj, kinds := orient(p.rels[0], rng)
			words := make([]string, len(kinds))
			for i, k := range kinds {
				words[i] = enRelWord(k, rng)
			}
			body = enIndef(subj, 1, rng) + " " + strings.Join(words, " and ") + " " + enIndef(obj, 1, rng)
		} else {
			body = enJoin(phrases(false), rng)
		}
		if p.domain == world.Photo {
			return pick(rng, "a photo of ", "a photograph of ", "A photo of ") + body
		}
		return pick(rng, "", "", "an image of ", "a picture of ") + body
	case formMedium:
		list := enJoin(phrases(true), rng)
		switch rng.IntN(3) {
		case 0:
			return upperFirst(list) + ", " + enOnBackground(p.bg, rng) + "."
		case 1:
			return "On a " + p.bg.String() + " background: " + list + "."
		}
		return "A " + p.bg.String() + " background with " + list + "."
	case formStyle:
		style := enStyle(p.domain, rng)
		switch rng.IntN(3) {
		case 0:
			return upperFirst(enArticle(style)+" "+style) + " " + enOnBackground(p.bg, rng) + ", showing " + enCount(p.n, rng) + "."
		case 1:
			return "The style is " + enArticle(style) + " " + style + ": " + enCount(p.n, rng) + " " + enOnBackground(p.bg, rng) + "."
		}
		return "This " + style + " has a " + p.bg.String() + " background and contains " + enCount(p.n, rng) + "."
	case formMain:
		o := p.main
		r := world.ObjectRef{Colour: world.Ptr(o.Colour), Shape: world.Ptr(o.Shape), Size: world.Ptr(o.Size)}
		np := enIndef(r, 1, rng)
		pos := enPos(o.Cell(), rng)
		switch rng.IntN(3) {
		case 0:
			return "The main object is " + np + " " + pos + "."
		case 1:
			return upperFirst(np) + " " + pos + " is the main subject."
		}
		return "The most prominent shape is " + np + ", located " + pos + "."
	case formAll:
		list := enJoin(phrases(false), rng)
		if rng.IntN(2) == 0 {
			return "The image contains " + enCount(p.n, rng) + ": " + list + "."
		}
		return "All objects: " + list + ". That makes " + enCount(p.n, rng) + " in total."
	case formAttributes:
		parts := make([]string, len(groups))
		for i, g := range groups {
			r := g.ref()
			noun := enShape(g.shape, g.k > 1, rng)
			verb := "is"
			if g.k > 1 {
				verb = "are"
			}
			adjs := shuffled(rng, []string{r.Colour.String(), enSize(*r.Size, rng)})
			head := enArticle(noun) + " " + noun
			if g.k > 1 {
				head = enNumber(g.k) + " " + noun
			}
			parts[i] = head + pick(rng, " that ", " which ", ", which ") + verb + " " + adjs[0] + " and " + adjs[1]
		}
		return pick(rng, "Object attributes: ", "Attributes: ") + strings.Join(parts, "; ") + "."
	case formSpatial:
		var ss []string
		for _, g := range groups {
			ss = append(ss, enGroupSentence(g, rng))
		}
		for _, r := range shuffled(rng, p.rels) {
			ss = append(ss, enRelSentence(r, rng))
		}
		return strings.Join(ss, " ")
	}
	// Detailed.
	style := enStyle(p.domain, rng)
	count := enCount(p.n, rng)
	var intro string
	bgSaid := true
	switch rng.IntN(4) {
	case 0:
		intro = upperFirst(enArticle(style)+" "+style) + " of " + count + " " + enOnBackground(p.bg, rng) + "."
	case 1:
		intro = "This " + style + " shows " + count + " " + enOnBackground(p.bg, rng) + "."
	case 2:
		intro = "The image is " + enArticle(style) + " " + style + " with " + count + "."
		bgSaid = false
	default:
		verbs := []string{" appear in this ", " are shown in this ", " make up this "}
		if p.n == 1 {
			verbs = []string{" appears in this ", " is shown in this ", " makes up this "}
		}
		intro = upperFirst(count) + pick(rng, verbs...) + style + "."
		bgSaid = false
	}
	ss := []string{intro}
	for _, g := range groups {
		ss = append(ss, enGroupSentence(g, rng))
	}
	for _, r := range shuffled(rng, p.rels) {
		ss = append(ss, enRelSentence(r, rng))
	}
	if !bgSaid {
		bgs := pick(rng, "The background is "+p.bg.String()+".", "Everything sits "+enOnBackground(p.bg, rng)+".", "The backdrop is plain "+p.bg.String()+".")
		at := 1 + rng.IntN(len(ss))
		ss = slices.Insert(ss, at, bgs)
	}
	return strings.Join(ss, " ")
}
