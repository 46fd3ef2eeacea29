package caption

// The English reader: the text is split into sentences of words, then read clause by clause.

import (
	"strings"
	"unicode"

	"github.com/lumina-workbench/lumina/data/world"
)

var (
	enNumberByWord = map[string]int{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
		"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6}
	enSizeByWord = map[string]world.Size{"small": world.Small, "little": world.Small, "tiny": world.Small,
		"medium": world.Medium, "mid": world.Medium, "large": world.Large, "big": world.Large}
	enGenericNouns = map[string]bool{"object": true, "objects": true, "shape": true, "shapes": true,
		"item": true, "items": true, "figure": true, "figures": true, "element": true, "elements": true}
	enVerbs = map[string]bool{"is": true, "are": true, "sits": true, "sit": true, "lies": true, "lie": true,
		"appears": true, "appear": true, "stands": true, "stand": true, "located": true, "placed": true,
		"positioned": true, "shown": true, "seen": true, "can": true, "be": true, "found": true,
		"rests": true, "rest": true}
	enPlacePreps      = map[string]bool{"in": true, "at": true, "on": true, "along": true, "toward": true, "towards": true}
	enPlaceTails      = map[string]bool{"corner": true, "side": true, "edge": true, "part": true, "area": true, "region": true, "half": true}
	enFrameNouns      = map[string]bool{"image": true, "picture": true, "frame": true, "canvas": true, "scene": true}
	enFlatWords       = map[string]bool{"flat": true, "illustration": true, "vector": true, "graphic": true, "cartoon": true}
	enPhotoWords      = map[string]bool{"photo": true, "photograph": true, "photographic": true, "photorealistic": true, "realistic": true}
	enBackgroundWords = map[string]bool{"background": true, "backdrop": true}
)

func enColourOf(w string) (world.Colour, bool) {
	for i := 0; i < world.NumColours; i++ {
		if world.Colour(i).String() == w {
			return world.Colour(i), true
		}
	}
	return 0, false
}

func enShapeOf(w string) (world.Shape, bool) {
	for i := 0; i < world.NumShapes; i++ {
		if world.Shape(i).String() == w || world.Shape(i).Plural() == w {
			return world.Shape(i), true
		}
	}
	switch w {
	case "disc", "discs", "disk", "disks":
		return world.Circle, true
	}
	return 0, false
}

func enBackgroundOf(w string) (world.Background, bool) {
	if w == "grey" {
		w = "gray"
	}
	for i := 0; i < world.NumBackgrounds; i++ {
		if world.Background(i).String() == w {
			return world.Background(i), true
		}
	}
	return 0, false
}

// enSentences lowercases and splits into sentences of words; commas stay as "," tokens.
func enSentences(text string) [][]string {
	var out [][]string
	var cur []string
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			cur = append(cur, word.String())
			word.Reset()
		}
	}
	end := func() {
		flush()
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word.WriteRune(unicode.ToLower(r))
		case r == ',' || r == '(' || r == ')':
			flush()
			cur = append(cur, ",")
		case strings.ContainsRune(".;:!?\n", r):
			end()
		default: // spaces, hyphens ("top-left"), quotes
			flush()
		}
	}
	end()
	return out
}

type enParser struct{ w []string }

func (p enParser) at(i int) string {
	if i >= 0 && i < len(p.w) {
		return p.w[i]
	}
	return ""
}

// np reads [determiner] adjective* noun [that/which is adjective (and adjective)*].
func (p enParser) np(i int) (nounPhrase, int, bool) {
	var np nounPhrase
	switch w := p.at(i); {
	case (w == "a" || w == "an") && (p.at(i+1) == "single" || p.at(i+1) == "lone"):
		np.det, np.k, i = detNumeral, 1, i+2
	case (w == "a" || w == "an") && p.at(i+1) == "pair" && p.at(i+2) == "of":
		np.det, np.k, i = detNumeral, 2, i+3
	case w == "a" || w == "an" || w == "another":
		np.det, i = detIndef, i+1
	case w == "the":
		np.det, i = detDef, i+1
	case (w == "exactly" || w == "only" || w == "just") && enNumberByWord[p.at(i+1)] > 0:
		np.det, np.k, i = detNumeral, enNumberByWord[p.at(i+1)], i+2
	case enNumberByWord[w] > 0:
		np.det, np.k, i = detNumeral, enNumberByWord[w], i+1
	}
	i, ok := p.adjectives(i, &np.ref)
	if !ok {
		return np, i, false
	}
	w := p.at(i)
	if sh, ok := enShapeOf(w); ok {
		np.ref.Shape = world.Ptr(sh)
	} else if enGenericNouns[w] {
		np.generic = true
	} else {
		return np, i, false
	}
	i++
	// A relative clause adds attributes: "a circle that is red and large".
	j := i
	if p.at(j) == "," {
		j++
	}
	if (p.at(j) == "that" || p.at(j) == "which") && (p.at(j+1) == "is" || p.at(j+1) == "are") {
		ref := np.ref
		k, n := j+2, 0
		for {
			k2, ok := p.adjectives(k, &ref)
			if !ok || k2 == k {
				break
			}
			n, k = n+1, k2
			if p.at(k) == "and" || p.at(k) == "," {
				if _, ok := p.adjectiveAt(k + 1); ok {
					k++
					continue
				}
			}
			break
		}
		if n > 0 {
			np.ref, i = ref, k
		}
	}
	return np, i, true
}

type adjective struct {
	colour *world.Colour
	size   *world.Size
	width  int
}

func (p enParser) adjectiveAt(i int) (adjective, bool) {
	w := p.at(i)
	if c, ok := enColourOf(w); ok {
		return adjective{colour: world.Ptr(c), width: 1}, true
	}
	if z, ok := enSizeByWord[w]; ok {
		width := 1
		if p.at(i+1) == "sized" {
			width = 2
		}
		return adjective{size: world.Ptr(z), width: width}, true
	}
	return adjective{}, false
}

// adjectives reads colour and size words into r; false on a contradiction ("red blue circle").
func (p enParser) adjectives(i int, r *world.ObjectRef) (int, bool) {
	for {
		a, ok := p.adjectiveAt(i)
		if !ok {
			return i, true
		}
		if a.colour != nil && !mergeColour(r, *a.colour) {
			return i, false
		}
		if a.size != nil && !mergeSize(r, *a.size) {
			return i, false
		}
		i += a.width
	}
}

// pos reads a place in the frame: "in the top-left corner", "at the top of the image", "in the middle".
func (p enParser) pos(i int) (world.Cell, int, bool) {
	if !enPlacePreps[p.at(i)] || p.at(i+1) != "the" {
		return 0, i, false
	}
	j := i + 2
	row, col, n := 1, 1, 0
	setRow := func(v int) bool {
		if row != 1 && row != v {
			return false
		}
		row = v
		return true
	}
	setCol := func(v int) bool {
		if col != 1 && col != v {
			return false
		}
		col = v
		return true
	}
	for ; ; j++ {
		ok := true
		switch p.at(j) {
		case "top", "upper":
			ok = setRow(0)
		case "bottom", "lower":
			ok = setRow(2)
		case "left":
			ok = setCol(0)
		case "right":
			ok = setCol(2)
		case "middle", "center", "centre":
		default:
			goto done
		}
		if !ok {
			return 0, i, false
		}
		n++
	}
done:
	if n == 0 {
		return 0, i, false
	}
	if enPlaceTails[p.at(j)] {
		j++
	}
	if p.at(j) == "of" && p.at(j+1) == "the" && enFrameNouns[p.at(j+2)] {
		j += 3
	}
	return world.Cell(row*3 + col), j, true
}

// rel reads one or more relation words joined by "and": "to the left of and above".
func (p enParser) rel(i int) ([]world.RelationKind, int, bool) {
	one := func(i int) (world.RelationKind, int, bool) {
		j := i
		if p.at(j) == "to" && p.at(j+1) == "the" {
			j += 2
		}
		switch w := p.at(j); {
		case (w == "left" || w == "right") && p.at(j+1) == "of":
			if w == "left" {
				return world.LeftOf, j + 2, true
			}
			return world.RightOf, j + 2, true
		case j > i:
			return 0, i, false
		case w == "above":
			return world.Above, j + 1, true
		case w == "below" || w == "beneath" || w == "under" || w == "underneath":
			return world.Below, j + 1, true
		case (w == "higher" || w == "lower") && p.at(j+1) == "than":
			if w == "higher" {
				return world.Above, j + 2, true
			}
			return world.Below, j + 2, true
		}
		return 0, i, false
	}
	k, j, ok := one(i)
	if !ok {
		return nil, i, false
	}
	kinds := []world.RelationKind{k}
	for p.at(j) == "and" {
		k, j2, ok := one(j + 1)
		if !ok {
			break
		}
		kinds, j = append(kinds, k), j2
	}
	return kinds, j, true
}

func (p enParser) skipVerbs(i int, commas bool) int {
	for enVerbs[p.at(i)] || (commas && p.at(i) == ",") {
		i++
	}
	return i
}

// npWithPlace reads a phrase and a place right after it ("the circle in the top left").
func (p enParser) npWithPlace(i int) (nounPhrase, *world.Cell, int, bool) {
	np, j, ok := p.np(i)
	if !ok {
		return np, nil, i, false
	}
	if c, j2, ok := p.pos(j); ok {
		return np, &c, j2, true
	}
	return np, nil, j, true
}

// entry reads "one in the top left", "the other at the bottom", "both on the left", "two in the center".
func (p enParser) entry(i int) (cellEntry, int, bool) {
	e := cellEntry{}
	j := i
	switch w := p.at(j); {
	case w == "both":
		e.count, j = -1, j+1
	case w == "all":
		e.count, j = -1, j+1
		if enNumberByWord[p.at(j)] > 0 {
			j++
		}
	case w == "the" && p.at(j+1) == "other":
		e.count, j = 1, j+2
		if p.at(j) == "one" {
			j++
		}
	case w == "another":
		e.count, j = 1, j+1
		if p.at(j) == "one" {
			j++
		}
	case enNumberByWord[w] > 0:
		e.count, j = enNumberByWord[w], j+1
	}
	j = p.skipVerbs(j, false)
	c, j, ok := p.pos(j)
	if !ok {
		return e, i, false
	}
	e.cell = c
	return e, j, true
}

// entries reads a list of entries joined by commas and "and".
func (p enParser) entries(i int, first []cellEntry) ([]cellEntry, int) {
	es := first
	if len(es) == 0 {
		e, j, ok := p.entry(i)
		if !ok {
			return nil, i
		}
		es, i = append(es, e), j
	}
	for {
		j := i
		for p.at(j) == "," || p.at(j) == "and" || p.at(j) == "while" {
			j++
		}
		if j == i {
			return es, i
		}
		e, j2, ok := p.entry(j)
		if !ok {
			return es, i
		}
		es, i = append(es, e), j2
	}
}

// clause reads one statement starting at i and returns its facts and where it ends.
func (p enParser) clause(i int) ([]world.Fact, int) {
	// "In the top left there is a small red circle."
	if c, j, ok := p.pos(i); ok {
		k := j
		for p.at(k) == "," || p.at(k) == "there" || enVerbs[p.at(k)] {
			k++
		}
		if np, k2, ok := p.np(k); ok {
			return phraseFacts(np, []cellEntry{{cell: c}}), k2
		}
		return nil, j
	}
	// "To the left of the blue square is the red circle."
	if kinds, j, ok := p.rel(i); ok {
		if obj, oc, j2, ok := p.npWithPlace(j); ok {
			k := p.skipVerbs(j2, false)
			if k > j2 {
				if subj, sc, k2, ok := p.npWithPlace(k); ok {
					return relationFacts(refAt(subj, sc), refAt(obj, oc), kinds), k2
				}
			}
		}
		return nil, j
	}
	np, place, j, ok := p.npWithPlace(i)
	if !ok {
		return nil, i + 1
	}
	k := p.skipVerbs(j, true)
	// "The red circle (in the top left) is to the left of the blue square."
	if kinds, k2, ok := p.rel(k); ok {
		if obj, oc, k3, ok := p.npWithPlace(k2); ok {
			return relationFacts(refAt(np, place), refAt(obj, oc), kinds), k3
		}
		return nil, k2
	}
	var es []cellEntry
	if place != nil {
		es, j = p.entries(j, []cellEntry{{cell: *place}})
	} else if e2, k2 := p.entries(k, nil); len(e2) > 0 {
		es, j = e2, k2
	}
	return phraseFacts(np, es), j
}

func readEnglish(text string) []world.Fact {
	var fs []world.Fact
	for _, sent := range enSentences(text) {
		p := enParser{w: sent}
		fs = append(fs, clauses(len(sent), p.clause)...)
		fs = append(fs, styleAndBackground(sent, func(w string) (world.Background, bool) { return enBackgroundOf(w) },
			func(w string) bool { return enBackgroundWords[w] }, enFlatWords, enPhotoWords)...)
	}
	return fs
}
