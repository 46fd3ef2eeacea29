package data

// ReadCaption is a reader of caption text written apart from the captioner: it shares only the
// vocabulary, not the templates. It reads noun phrases ("two small red circles", "the circle in the top
// left"), positions ("in the top-left corner", "位于左上角"), relations ("to the left of", "在…的左边"),
// backgrounds and styles wherever they occur, so it can check the captioner (every fact it reads must
// hold, and it must find every fact the captioner meant) and measure the weak captioner's mistakes.
//
// What a phrase asserts:
//   - "a red circle", a bare "red circle" (a tag), 一个红色圆形: some object matches (FactExists);
//   - a numeral ("two red circles", "one object", "a single shape", 两个, 共有一个): exactly that many
//     match (FactCount) — captions only use numerals for exhaustive counts;
//   - a position after a phrase, or positions after a counted group ("one in the top left and the other
//     at the bottom", "都位于左上角"): those objects in that cell;
//   - "the circle" (a bare noun in Chinese) only refers; it asserts nothing unless a relation or a
//     position is said of it.

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ReadCaption reads the facts a caption states. A system prompt before "<Prompt Start>" is skipped. Text
// the reader does not understand is ignored; text that is not UTF-8 is an error.
func ReadCaption(text string, lang Lang) ([]Fact, error) {
	if !utf8.ValidString(text) {
		for i := 0; i < len(text); {
			r, n := utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, fmt.Errorf("read caption: text is not valid UTF-8 (bad byte 0x%02x at offset %d)", text[i], i)
			}
			i += n
		}
	}
	if lang != En && lang != Zh {
		return nil, fmt.Errorf("read caption: unknown language %v (allowed: en, zh)", lang)
	}
	if i := strings.LastIndex(text, "<Prompt Start>"); i >= 0 {
		text = text[i+len("<Prompt Start>"):]
	}
	var fs []Fact
	if lang == Zh {
		fs = rdReadZh(text)
	} else {
		fs = rdReadEn(text)
	}
	return rdDedupe(fs), nil
}

// rdCanon rewrites a relation with its mirror kind ("b is right of a" as "a is left of b") so that two
// ways of saying one thing compare equal.
func rdCanon(f Fact) Fact {
	if f.Kind == FactRelation && (f.Rel == RightOf || f.Rel == Below) {
		f.Obj, f.Other = f.Other, f.Obj
		f.Rel = capInverse(f.Rel)
	}
	return f
}

func rdRefKey(r ObjectRef) string {
	part := func(ok bool, v int) string {
		if !ok {
			return "*"
		}
		return fmt.Sprint(v)
	}
	var c, s, z, l int
	if r.Colour != nil {
		c = int(*r.Colour)
	}
	if r.Shape != nil {
		s = int(*r.Shape)
	}
	if r.Size != nil {
		z = int(*r.Size)
	}
	if r.Cell != nil {
		l = int(*r.Cell)
	}
	return part(r.Colour != nil, c) + "/" + part(r.Shape != nil, s) + "/" + part(r.Size != nil, z) + "/" + part(r.Cell != nil, l)
}

// rdFactKey identifies a fact by value (ObjectRef holds pointers), after rdCanon.
func rdFactKey(f Fact) string {
	f = rdCanon(f)
	switch f.Kind {
	case FactExists:
		return "exists " + rdRefKey(f.Obj)
	case FactCount:
		return fmt.Sprintf("count %s =%d", rdRefKey(f.Obj), f.Count)
	case FactRelation:
		return fmt.Sprintf("rel %s %s %s", rdRefKey(f.Obj), f.Rel, rdRefKey(f.Other))
	case FactBackground:
		return "background " + f.Background.String()
	case FactDomain:
		return "domain " + f.Domain.String()
	}
	return fmt.Sprintf("kind %d", f.Kind)
}

func rdDedupe(fs []Fact) []Fact {
	seen := map[string]bool{}
	var out []Fact
	for _, f := range fs {
		k := rdFactKey(f)
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}

// rdNP is a parsed noun phrase.
type rdNP struct {
	// det: 0 bare, 1 indefinite ("a"), 2 definite ("the"), 3 numeral (count = k).
	det     int
	k       int
	ref     ObjectRef
	generic bool // "object", "shape", 物体: no shape named
}

const (
	rdBare = iota
	rdIndef
	rdDef
	rdNumeral
)

// rdEntry is one position said of a phrase: its cell and how many are there (0: unsaid, -1: all).
type rdEntry struct {
	cell  Cell
	count int
}

// rdNPFacts turns a phrase and the positions said of it into facts (see the package comment above).
func rdNPFacts(np rdNP, entries []rdEntry) []Fact {
	var fs []Fact
	at := func(c Cell) ObjectRef {
		r := np.ref
		r.Cell = Ptr(c)
		return r
	}
	if np.det == rdNumeral {
		fs = append(fs, Fact{Kind: FactCount, Obj: np.ref, Count: np.k})
		for _, e := range entries {
			n := e.count
			if n < 0 || (n == 0 && len(entries) == 1) {
				n = np.k
			}
			if n > 0 {
				fs = append(fs, Fact{Kind: FactCount, Obj: at(e.cell), Count: n})
			} else {
				fs = append(fs, Fact{Kind: FactExists, Obj: at(e.cell)})
			}
		}
		return fs
	}
	if len(entries) == 0 {
		if !np.generic && (np.det == rdBare || np.det == rdIndef) {
			fs = append(fs, Fact{Kind: FactExists, Obj: np.ref})
		}
		return fs
	}
	for _, e := range entries {
		if e.count >= 2 {
			fs = append(fs, Fact{Kind: FactCount, Obj: at(e.cell), Count: e.count})
		} else {
			fs = append(fs, Fact{Kind: FactExists, Obj: at(e.cell)})
		}
	}
	return fs
}

func rdRelFacts(subj, obj ObjectRef, kinds []RelationKind) []Fact {
	fs := make([]Fact, len(kinds))
	for i, k := range kinds {
		fs[i] = Fact{Kind: FactRelation, Obj: subj, Other: obj, Rel: k}
	}
	return fs
}

// rdMerge sets an attribute on a reference; false when it contradicts one already set.
func rdMergeColour(r *ObjectRef, c Colour) bool {
	if r.Colour != nil && *r.Colour != c {
		return false
	}
	r.Colour = Ptr(c)
	return true
}

func rdMergeSize(r *ObjectRef, z Size) bool {
	if r.Size != nil && *r.Size != z {
		return false
	}
	r.Size = Ptr(z)
	return true
}

// ---- English ----

var (
	rdEnNumbers = map[string]int{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
		"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6}
	rdEnSizes = map[string]Size{"small": Small, "little": Small, "tiny": Small, "medium": Medium,
		"mid": Medium, "large": Large, "big": Large}
	rdEnGeneric = map[string]bool{"object": true, "objects": true, "shape": true, "shapes": true,
		"item": true, "items": true, "figure": true, "figures": true, "element": true, "elements": true}
	rdEnVerbs = map[string]bool{"is": true, "are": true, "sits": true, "sit": true, "lies": true, "lie": true,
		"appears": true, "appear": true, "stands": true, "stand": true, "located": true, "placed": true,
		"positioned": true, "shown": true, "seen": true, "can": true, "be": true, "found": true,
		"rests": true, "rest": true}
	rdEnPreps     = map[string]bool{"in": true, "at": true, "on": true, "along": true, "toward": true, "towards": true}
	rdEnPlaceTail = map[string]bool{"corner": true, "side": true, "edge": true, "part": true, "area": true, "region": true, "half": true}
	rdEnFrame     = map[string]bool{"image": true, "picture": true, "frame": true, "canvas": true, "scene": true}
	rdEnFlat      = map[string]bool{"flat": true, "illustration": true, "vector": true, "graphic": true, "cartoon": true}
	rdEnPhoto     = map[string]bool{"photo": true, "photograph": true, "photographic": true, "photorealistic": true, "realistic": true}
	rdEnBgWords   = map[string]bool{"background": true, "backdrop": true}
)

func rdEnColour(w string) (Colour, bool) {
	for i := 0; i < NumColours; i++ {
		if Colour(i).String() == w {
			return Colour(i), true
		}
	}
	return 0, false
}

func rdEnShape(w string) (Shape, bool) {
	for i := 0; i < NumShapes; i++ {
		if Shape(i).String() == w || Shape(i).Plural() == w {
			return Shape(i), true
		}
	}
	switch w {
	case "disc", "discs", "disk", "disks":
		return Circle, true
	}
	return 0, false
}

func rdEnBackground(w string) (Background, bool) {
	if w == "grey" {
		w = "gray"
	}
	for i := 0; i < NumBackgrounds; i++ {
		if Background(i).String() == w {
			return Background(i), true
		}
	}
	return 0, false
}

// rdEnSentences lowercases and splits into sentences of words; commas stay as "," tokens.
func rdEnSentences(text string) [][]string {
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

type rdEn struct{ w []string }

func (p rdEn) at(i int) string {
	if i >= 0 && i < len(p.w) {
		return p.w[i]
	}
	return ""
}

// np reads [determiner] adjective* noun [that/which is adjective (and adjective)*].
func (p rdEn) np(i int) (rdNP, int, bool) {
	var np rdNP
	switch w := p.at(i); {
	case (w == "a" || w == "an") && (p.at(i+1) == "single" || p.at(i+1) == "lone"):
		np.det, np.k, i = rdNumeral, 1, i+2
	case (w == "a" || w == "an") && p.at(i+1) == "pair" && p.at(i+2) == "of":
		np.det, np.k, i = rdNumeral, 2, i+3
	case w == "a" || w == "an" || w == "another":
		np.det, i = rdIndef, i+1
	case w == "the":
		np.det, i = rdDef, i+1
	case (w == "exactly" || w == "only" || w == "just") && rdEnNumbers[p.at(i+1)] > 0:
		np.det, np.k, i = rdNumeral, rdEnNumbers[p.at(i+1)], i+2
	case rdEnNumbers[w] > 0:
		np.det, np.k, i = rdNumeral, rdEnNumbers[w], i+1
	}
	i, ok := p.adjectives(i, &np.ref)
	if !ok {
		return np, i, false
	}
	w := p.at(i)
	if sh, ok := rdEnShape(w); ok {
		np.ref.Shape = Ptr(sh)
	} else if rdEnGeneric[w] {
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

type rdAdj struct {
	colour *Colour
	size   *Size
	width  int
}

func (p rdEn) adjectiveAt(i int) (rdAdj, bool) {
	w := p.at(i)
	if c, ok := rdEnColour(w); ok {
		return rdAdj{colour: Ptr(c), width: 1}, true
	}
	if z, ok := rdEnSizes[w]; ok {
		width := 1
		if p.at(i+1) == "sized" {
			width = 2
		}
		return rdAdj{size: Ptr(z), width: width}, true
	}
	return rdAdj{}, false
}

// adjectives reads colour and size words into r; false on a contradiction ("red blue circle").
func (p rdEn) adjectives(i int, r *ObjectRef) (int, bool) {
	for {
		a, ok := p.adjectiveAt(i)
		if !ok {
			return i, true
		}
		if a.colour != nil && !rdMergeColour(r, *a.colour) {
			return i, false
		}
		if a.size != nil && !rdMergeSize(r, *a.size) {
			return i, false
		}
		i += a.width
	}
}

// pos reads a place in the frame: "in the top-left corner", "at the top of the image", "in the middle".
func (p rdEn) pos(i int) (Cell, int, bool) {
	if !rdEnPreps[p.at(i)] || p.at(i+1) != "the" {
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
	if rdEnPlaceTail[p.at(j)] {
		j++
	}
	if p.at(j) == "of" && p.at(j+1) == "the" && rdEnFrame[p.at(j+2)] {
		j += 3
	}
	return Cell(row*3 + col), j, true
}

// rel reads one or more relation words joined by "and": "to the left of and above".
func (p rdEn) rel(i int) ([]RelationKind, int, bool) {
	one := func(i int) (RelationKind, int, bool) {
		j := i
		if p.at(j) == "to" && p.at(j+1) == "the" {
			j += 2
		}
		switch w := p.at(j); {
		case (w == "left" || w == "right") && p.at(j+1) == "of":
			if w == "left" {
				return LeftOf, j + 2, true
			}
			return RightOf, j + 2, true
		case j > i:
			return 0, i, false
		case w == "above":
			return Above, j + 1, true
		case w == "below" || w == "beneath" || w == "under" || w == "underneath":
			return Below, j + 1, true
		case (w == "higher" || w == "lower") && p.at(j+1) == "than":
			if w == "higher" {
				return Above, j + 2, true
			}
			return Below, j + 2, true
		}
		return 0, i, false
	}
	k, j, ok := one(i)
	if !ok {
		return nil, i, false
	}
	kinds := []RelationKind{k}
	for p.at(j) == "and" {
		k, j2, ok := one(j + 1)
		if !ok {
			break
		}
		kinds, j = append(kinds, k), j2
	}
	return kinds, j, true
}

func (p rdEn) skipVerbs(i int, commas bool) int {
	for rdEnVerbs[p.at(i)] || (commas && p.at(i) == ",") {
		i++
	}
	return i
}

// npWithPlace reads a phrase and a place right after it ("the circle in the top left").
func (p rdEn) npWithPlace(i int) (rdNP, *Cell, int, bool) {
	np, j, ok := p.np(i)
	if !ok {
		return np, nil, i, false
	}
	if c, j2, ok := p.pos(j); ok {
		return np, &c, j2, true
	}
	return np, nil, j, true
}

func refAt(np rdNP, c *Cell) ObjectRef {
	r := np.ref
	if c != nil {
		r.Cell = Ptr(*c)
	}
	return r
}

// entry reads "one in the top left", "the other at the bottom", "both on the left", "two in the center".
func (p rdEn) entry(i int) (rdEntry, int, bool) {
	e := rdEntry{}
	j := i
	switch w := p.at(j); {
	case w == "both":
		e.count, j = -1, j+1
	case w == "all":
		e.count, j = -1, j+1
		if rdEnNumbers[p.at(j)] > 0 {
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
	case rdEnNumbers[w] > 0:
		e.count, j = rdEnNumbers[w], j+1
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
func (p rdEn) entries(i int, first []rdEntry) ([]rdEntry, int) {
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
func (p rdEn) clause(i int) ([]Fact, int) {
	// "In the top left there is a small red circle."
	if c, j, ok := p.pos(i); ok {
		k := j
		for p.at(k) == "," || p.at(k) == "there" || rdEnVerbs[p.at(k)] {
			k++
		}
		if np, k2, ok := p.np(k); ok {
			return rdNPFacts(np, []rdEntry{{cell: c}}), k2
		}
		return nil, j
	}
	// "To the left of the blue square is the red circle."
	if kinds, j, ok := p.rel(i); ok {
		if obj, oc, j2, ok := p.npWithPlace(j); ok {
			k := p.skipVerbs(j2, false)
			if k > j2 {
				if subj, sc, k2, ok := p.npWithPlace(k); ok {
					return rdRelFacts(refAt(subj, sc), refAt(obj, oc), kinds), k2
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
			return rdRelFacts(refAt(np, place), refAt(obj, oc), kinds), k3
		}
		return nil, k2
	}
	var es []rdEntry
	if place != nil {
		es, j = p.entries(j, []rdEntry{{cell: *place}})
	} else if e2, k2 := p.entries(k, nil); len(e2) > 0 {
		es, j = e2, k2
	}
	return rdNPFacts(np, es), j
}

func rdReadEn(text string) []Fact {
	var fs []Fact
	for _, sent := range rdEnSentences(text) {
		p := rdEn{w: sent}
		for i := 0; i < len(sent); {
			f, j := p.clause(i)
			fs = append(fs, f...)
			if j <= i {
				j = i + 1
			}
			i = j
		}
		fs = append(fs, rdStyleBg(sent, func(w string) (Background, bool) { return rdEnBackground(w) },
			func(w string) bool { return rdEnBgWords[w] }, rdEnFlat, rdEnPhoto)...)
	}
	return fs
}

// rdStyleBg reads the background (a background colour in a sentence that names the background) and the
// render style (any style word).
func rdStyleBg(words []string, bgColour func(string) (Background, bool), isBgWord func(string) bool, flat, photo map[string]bool) []Fact {
	var fs []Fact
	bgSentence := slices.ContainsFunc(words, isBgWord)
	for _, w := range words {
		if b, ok := bgColour(w); ok && bgSentence {
			fs = append(fs, Fact{Kind: FactBackground, Background: b})
		}
		if flat[w] {
			fs = append(fs, Fact{Kind: FactDomain, Domain: Flat})
		}
		if photo[w] {
			fs = append(fs, Fact{Kind: FactDomain, Domain: Photo})
		}
	}
	return fs
}

// ---- Chinese ----

// Chinese has no spaces: the text is cut into the longest known words; any other character stands
// alone and matches nothing.
type rdZhKind uint8

const (
	zUnknown rdZhKind = iota
	zQuant            // 一个 … 四个, 另一个
	zSize
	zColour
	zShape // a shape, or a generic noun (物体) with val −1
	zPlace // a cell name or a relation word; the grammar decides which
	zDe    // 的
	zZai   // 在
	zWeiyu // 位于
	zYou   // 有
	zShi   // 是
	zAnd   // 和 与 以及
	zComma // ， 、 ,
	zStop  // 。 ； ！ ？ ： and their ASCII forms
	zBgWord
	zBgColour
	zFlat
	zPhoto
	zExact  // 共有, 只有: the next 一个 is a count
	zDou    // 都, 均
	zAttrOf // 颜色, 尺寸, 大小
	zWei    // 为
	zFiller // words the grammar may skip in places: 画面, 中, 其中, 还有, 可以, 看到
)

type rdZhTok struct {
	kind rdZhKind
	val  int
	text string
}

var (
	rdZhDict   map[string]rdZhTok
	rdZhMaxLen int
	rdZhCells  = map[string]Cell{"左上角": 0, "上方": 1, "右上角": 2, "左侧": 3, "中央": 4, "中间": 4, "正中": 4,
		"中心": 4, "右侧": 5, "左下角": 6, "下方": 7, "右下角": 8}
	rdZhRels = map[string][]RelationKind{
		"左边": {LeftOf}, "左侧": {LeftOf}, "左面": {LeftOf}, "右边": {RightOf}, "右侧": {RightOf}, "右面": {RightOf},
		"上方": {Above}, "上面": {Above}, "上边": {Above}, "下方": {Below}, "下面": {Below}, "下边": {Below},
		"左上方": {LeftOf, Above}, "右上方": {RightOf, Above}, "左下方": {LeftOf, Below}, "右下方": {RightOf, Below},
	}
)

func init() {
	d := map[string]rdZhTok{}
	add := func(kind rdZhKind, val int, words ...string) {
		for _, w := range words {
			d[w] = rdZhTok{kind: kind, val: val, text: w}
		}
	}
	for i, w := range []string{"一个", "两个", "三个", "四个"} {
		add(zQuant, i+1, w)
	}
	add(zQuant, 2, "二个")
	add(zQuant, -1, "另一个") // indefinite, one more
	for i := 0; i < NumSizes; i++ {
		add(zSize, i, Size(i).Zh())
	}
	add(zSize, int(Medium), "中等")
	for i := 0; i < NumColours; i++ {
		add(zColour, i, Colour(i).Zh())
	}
	for i := 0; i < NumShapes; i++ {
		add(zShape, i, Shape(i).Zh())
	}
	add(zShape, int(Circle), "圆", "圆圈")
	add(zShape, int(Square), "方块", "方形")
	add(zShape, -1, "物体", "图形", "形状", "对象")
	for w := range rdZhCells {
		add(zPlace, 0, w)
	}
	for w := range rdZhRels {
		add(zPlace, 0, w)
	}
	add(zDe, 0, "的")
	add(zZai, 0, "在")
	add(zWeiyu, 0, "位于")
	add(zYou, 0, "有")
	add(zShi, 0, "是")
	add(zAnd, 0, "和", "与", "以及")
	add(zComma, 0, "，", "、", ",")
	add(zStop, 0, "。", "；", "！", "？", "：", ".", ";", "!", "?", ":", "\n")
	add(zBgWord, 0, "背景", "底色")
	for i := 0; i < NumBackgrounds; i++ {
		add(zBgColour, i, Background(i).Zh())
	}
	add(zFlat, 0, "扁平", "插画", "矢量")
	add(zPhoto, 0, "照片", "写实", "摄影")
	add(zExact, 0, "共", "共有", "一共", "一共有", "总共", "总共有", "只有", "仅有", "唯一")
	add(zDou, 0, "都", "均")
	add(zAttrOf, 0, "颜色", "尺寸", "大小")
	add(zWei, 0, "为")
	add(zFiller, 0, "画面", "图像", "图片", "图中", "中", "其中", "还有", "可以", "看到", "放着")
	rdZhDict = d
	for w := range d {
		rdZhMaxLen = max(rdZhMaxLen, utf8.RuneCountInString(w))
	}
}

// rdZhSentences cuts Chinese text into sentences of tokens (longest match first).
func rdZhSentences(text string) [][]rdZhTok {
	rs := []rune(text)
	var out [][]rdZhTok
	var cur []rdZhTok
	for i := 0; i < len(rs); {
		if unicode.IsSpace(rs[i]) && rs[i] != '\n' {
			i++
			continue
		}
		tok, n := rdZhTok{kind: zUnknown, text: string(rs[i])}, 1
		for l := min(rdZhMaxLen, len(rs)-i); l >= 1; l-- {
			if t, ok := rdZhDict[string(rs[i:i+l])]; ok {
				tok, n = t, l
				break
			}
		}
		i += n
		if tok.kind == zStop {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, tok)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

type rdZh struct{ t []rdZhTok }

func (p rdZh) at(i int) rdZhTok {
	if i >= 0 && i < len(p.t) {
		return p.t[i]
	}
	return rdZhTok{kind: zStop}
}

// place reads a cell: [位于|在] [画面|图像 …] [的] 左上角. prefix requires the 位于/在.
func (p rdZh) place(i int, prefix bool) (Cell, int, bool) {
	j := i
	if k := p.at(j).kind; k == zWeiyu || k == zZai {
		j++
	} else if prefix {
		return 0, i, false
	}
	for p.at(j).kind == zFiller && p.at(j).text != "其中" && p.at(j).text != "还有" || (j > i && p.at(j).kind == zDe && p.at(j+1).kind == zPlace) {
		j++
	}
	if p.at(j).kind != zPlace {
		return 0, i, false
	}
	c, ok := rdZhCells[p.at(j).text]
	if !ok {
		return 0, i, false
	}
	return c, j + 1, true
}

// np reads [共有] [quantifier] [place 的] [quantifier] (size|colour [的|、])* noun, and attribute clauses
// after it ("，颜色为红色，尺寸为大").
func (p rdZh) np(i int) (rdNP, *Cell, int, bool) {
	var np rdNP
	var cell *Cell
	j := i
	exact := false
	if p.at(j).kind == zExact {
		exact = true
		j++
	}
	quant := func() {
		if t := p.at(j); t.kind == zQuant {
			switch {
			case t.val == -1:
				np.det = rdIndef
			case t.val == 1 && !exact:
				np.det = rdIndef
			default:
				np.det, np.k = rdNumeral, t.val
			}
			j++
		}
	}
	quant()
	// A place before the noun names where the object is: "左上角的红色圆形", "位于中央的一个…".
	{
		k := j
		if p.at(k).kind == zWeiyu || p.at(k).kind == zZai {
			k++
		}
		if p.at(k).kind == zFiller && p.at(k).text == "画面" {
			k++
			if p.at(k).kind == zDe {
				k++
			}
		}
		if t := p.at(k); t.kind == zPlace && p.at(k+1).kind == zDe {
			if c, ok := rdZhCells[t.text]; ok {
				cell, j = Ptr(c), k+2
				if np.det == rdBare {
					quant()
				}
			}
		}
	}
	for {
		t := p.at(j)
		switch {
		case t.kind == zColour:
			if !rdMergeColour(&np.ref, Colour(t.val)) {
				return np, nil, i, false
			}
		case t.kind == zSize:
			if !rdMergeSize(&np.ref, Size(t.val)) {
				return np, nil, i, false
			}
		case t.kind == zShape:
			if t.val < 0 {
				np.generic = true
			} else {
				np.ref.Shape = Ptr(Shape(t.val))
			}
			j++
			// Attribute clauses: "，颜色为红色" "，尺寸为大".
			for {
				k := j
				if p.at(k).kind == zComma {
					k++
				}
				if p.at(k).kind != zAttrOf || (p.at(k+1).kind != zWei && p.at(k+1).kind != zShi) {
					break
				}
				v := p.at(k + 2)
				if v.kind == zColour && rdMergeColour(&np.ref, Colour(v.val)) ||
					v.kind == zSize && rdMergeSize(&np.ref, Size(v.val)) {
					j = k + 3
					continue
				}
				break
			}
			return np, cell, j, true
		default:
			return np, nil, i, false
		}
		j++
		if k := p.at(j).kind; k == zDe || k == zComma && (p.at(j+1).kind == zColour || p.at(j+1).kind == zSize) {
			j++
		}
	}
}

// rels reads relation words joined by 和 or 、: "左边", "左上方", "左边和上方".
func (p rdZh) rels(i int) ([]RelationKind, int, bool) {
	var kinds []RelationKind
	j := i
	for {
		t := p.at(j)
		ks, ok := rdZhRels[t.text]
		if t.kind != zPlace || !ok {
			break
		}
		kinds = append(kinds, ks...)
		j++
		if (p.at(j).kind == zAnd || p.at(j).kind == zComma) && p.at(j+1).kind == zPlace {
			if _, ok := rdZhRels[p.at(j+1).text]; ok {
				j++
				continue
			}
		}
		break
	}
	return kinds, j, len(kinds) > 0
}

// entry reads "一个位于左上角", "另一个在下方", "其中一个位于…", "两个都位于…".
func (p rdZh) entry(i int) (rdEntry, int, bool) {
	j := i
	if t := p.at(j); t.kind == zFiller && (t.text == "其中" || t.text == "还有") {
		j++
	}
	t := p.at(j)
	if t.kind != zQuant {
		return rdEntry{}, i, false
	}
	e := rdEntry{count: max(t.val, 1)}
	j++
	if p.at(j).kind == zDou {
		j++
	}
	c, j, ok := p.place(j, true)
	if !ok {
		return rdEntry{}, i, false
	}
	e.cell = c
	return e, j, true
}

func (p rdZh) clause(i int) ([]Fact, int) {
	if np, cell, j, ok := p.np(i); ok {
		ref := refAt(np, cell)
		// Inverted relation: "蓝色正方形的左边是红色圆形".
		if p.at(j).kind == zDe {
			if kinds, k, ok := p.rels(j + 1); ok && p.at(k).kind == zShi {
				if subj, sc, k2, ok := p.np(k + 1); ok {
					return rdRelFacts(refAt(subj, sc), ref, kinds), k2
				}
			}
		}
		// Relation: "红色圆形在蓝色正方形的左边".
		if k := p.at(j).kind; k == zZai || k == zWeiyu {
			if obj, oc, k, ok := p.np(j + 1); ok && p.at(k).kind == zDe {
				if kinds, k2, ok := p.rels(k + 1); ok {
					return rdRelFacts(ref, refAt(obj, oc), kinds), k2
				}
			}
		}
		var es []rdEntry
		if cell != nil {
			es = append(es, rdEntry{cell: *cell})
			np.ref.Cell = nil
		}
		// A place said of the phrase: "…位于左上角", "…，位于中央", "…都位于左上角".
		k := j
		if p.at(k).kind == zComma {
			k++
		}
		all := false
		if p.at(k).kind == zDou {
			all, k = true, k+1
		}
		if c, k2, ok := p.place(k, true); ok && cell == nil {
			e := rdEntry{cell: c}
			if all {
				e.count = -1
			}
			es, j = append(es, e), k2
		}
		// Positions of a counted group: "，一个位于左上角，另一个位于下方".
		for {
			k := j
			if p.at(k).kind == zComma || p.at(k).kind == zAnd {
				k++
			}
			e, k2, ok := p.entry(k)
			if !ok {
				break
			}
			es, j = append(es, e), k2
		}
		return rdNPFacts(np, es), j
	}
	// A place first: "左上角有一个红色圆形", "在画面中央可以看到一个…".
	if c, j, ok := p.place(i, false); ok {
		k := j
		for t := p.at(k); t.kind == zYou || t.kind == zShi || t.kind == zFiller || t.kind == zComma; t = p.at(k) {
			k++
		}
		if np, cell, k2, ok := p.np(k); ok && cell == nil {
			return rdNPFacts(np, []rdEntry{{cell: c}}), k2
		}
		return nil, j
	}
	return nil, i + 1
}

func rdReadZh(text string) []Fact {
	var fs []Fact
	for _, sent := range rdZhSentences(text) {
		p := rdZh{t: sent}
		for i := 0; i < len(sent); {
			f, j := p.clause(i)
			fs = append(fs, f...)
			if j <= i {
				j = i + 1
			}
			i = j
		}
		words := make([]string, len(sent))
		for i, t := range sent {
			words[i] = t.text
		}
		bg := func(w string) (Background, bool) {
			for i := 0; i < NumBackgrounds; i++ {
				if Background(i).Zh() == w {
					return Background(i), true
				}
			}
			return 0, false
		}
		isBg := func(w string) bool { return w == "背景" || w == "底色" }
		fs = append(fs, rdStyleBg(words, bg, isBg,
			map[string]bool{"扁平": true, "插画": true, "矢量": true},
			map[string]bool{"照片": true, "写实": true, "摄影": true})...)
	}
	return fs
}
