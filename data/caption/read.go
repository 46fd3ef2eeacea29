package caption

// Read is a reader of caption text written apart from the captioner: it shares only the
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
	"unicode/utf8"

	"github.com/lumina-workbench/lumina/data/world"
)

// Read reads the facts a caption states. A system prompt before "<Prompt Start>" is skipped. Text
// the reader does not understand is ignored; text that is not UTF-8 is an error.
func Read(text string, lang Lang) ([]world.Fact, error) {
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
	var fs []world.Fact
	if lang == Zh {
		fs = readChinese(text)
	} else {
		fs = readEnglish(text)
	}
	return dedupe(fs), nil
}

// canonical rewrites a relation with its mirror kind ("b is right of a" as "a is left of b") so that two
// ways of saying one thing compare equal.
func canonical(f world.Fact) world.Fact {
	if f.Kind == world.FactRelation && (f.Rel == world.RightOf || f.Rel == world.Below) {
		f.Obj, f.Other = f.Other, f.Obj
		f.Rel = inverse(f.Rel)
	}
	return f
}

func refKey(r world.ObjectRef) string {
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

// factKey identifies a fact by value (ObjectRef holds pointers), after canonical.
func factKey(f world.Fact) string {
	f = canonical(f)
	switch f.Kind {
	case world.FactExists:
		return "exists " + refKey(f.Obj)
	case world.FactCount:
		return fmt.Sprintf("count %s =%d", refKey(f.Obj), f.Count)
	case world.FactRelation:
		return fmt.Sprintf("rel %s %s %s", refKey(f.Obj), f.Rel, refKey(f.Other))
	case world.FactBackground:
		return "background " + f.Background.String()
	case world.FactDomain:
		return "domain " + f.Domain.String()
	}
	return fmt.Sprintf("kind %d", f.Kind)
}

func dedupe(fs []world.Fact) []world.Fact {
	seen := map[string]bool{}
	var out []world.Fact
	for _, f := range fs {
		k := factKey(f)
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}

// nounPhrase is a parsed noun phrase.
type nounPhrase struct {
	// det: 0 bare, 1 indefinite ("a"), 2 definite ("the"), 3 numeral (count = k).
	det     int
	k       int
	ref     world.ObjectRef
	generic bool // "object", "shape", 物体: no shape named
}

const (
	detBare = iota
	detIndef
	detDef
	detNumeral
)

// cellEntry is one position said of a phrase: its cell and how many are there (0: unsaid, -1: all).
type cellEntry struct {
	cell  world.Cell
	count int
}

// phraseFacts turns a phrase and the positions said of it into facts (see the comment at the top of
// this file).
func phraseFacts(np nounPhrase, entries []cellEntry) []world.Fact {
	var fs []world.Fact
	at := func(c world.Cell) world.ObjectRef {
		r := np.ref
		r.Cell = world.Ptr(c)
		return r
	}
	if np.det == detNumeral {
		fs = append(fs, world.Fact{Kind: world.FactCount, Obj: np.ref, Count: np.k})
		for _, e := range entries {
			n := e.count
			if n < 0 || (n == 0 && len(entries) == 1) {
				n = np.k
			}
			if n > 0 {
				fs = append(fs, world.Fact{Kind: world.FactCount, Obj: at(e.cell), Count: n})
			} else {
				fs = append(fs, world.Fact{Kind: world.FactExists, Obj: at(e.cell)})
			}
		}
		return fs
	}
	if len(entries) == 0 {
		if !np.generic && (np.det == detBare || np.det == detIndef) {
			fs = append(fs, world.Fact{Kind: world.FactExists, Obj: np.ref})
		}
		return fs
	}
	for _, e := range entries {
		if e.count >= 2 {
			fs = append(fs, world.Fact{Kind: world.FactCount, Obj: at(e.cell), Count: e.count})
		} else {
			fs = append(fs, world.Fact{Kind: world.FactExists, Obj: at(e.cell)})
		}
	}
	return fs
}

func relationFacts(subj, obj world.ObjectRef, kinds []world.RelationKind) []world.Fact {
	fs := make([]world.Fact, len(kinds))
	for i, k := range kinds {
		fs[i] = world.Fact{Kind: world.FactRelation, Obj: subj, Other: obj, Rel: k}
	}
	return fs
}

// mergeColour and mergeSize set an attribute on a reference; false when it contradicts one already set.
func mergeColour(r *world.ObjectRef, c world.Colour) bool {
	if r.Colour != nil && *r.Colour != c {
		return false
	}
	r.Colour = world.Ptr(c)
	return true
}

func mergeSize(r *world.ObjectRef, z world.Size) bool {
	if r.Size != nil && *r.Size != z {
		return false
	}
	r.Size = world.Ptr(z)
	return true
}

// refAt is what the phrase refers to, in cell c when a place was said of it.
func refAt(np nounPhrase, c *world.Cell) world.ObjectRef {
	r := np.ref
	if c != nil {
		r.Cell = world.Ptr(*c)
	}
	return r
}

// styleAndBackground reads the background (a background colour in a sentence that names the
// background) and the render style (any style word).
func styleAndBackground(words []string, bgColour func(string) (world.Background, bool), isBgWord func(string) bool,
	flat, photo map[string]bool) []world.Fact {
	var fs []world.Fact
	bgSentence := slices.ContainsFunc(words, isBgWord)
	for _, w := range words {
		if b, ok := bgColour(w); ok && bgSentence {
			fs = append(fs, world.Fact{Kind: world.FactBackground, Background: b})
		}
		if flat[w] {
			fs = append(fs, world.Fact{Kind: world.FactDomain, Domain: world.Flat})
		}
		if photo[w] {
			fs = append(fs, world.Fact{Kind: world.FactDomain, Domain: world.Photo})
		}
	}
	return fs
}

// clauses reads a sentence of n tokens clause by clause: clause(i) reads the clause starting at token i
// and returns its facts and the token after it; a clause that reads nothing skips one token.
func clauses(n int, clause func(i int) ([]world.Fact, int)) []world.Fact {
	var fs []world.Fact
	for i := 0; i < n; {
		f, j := clause(i)
		fs = append(fs, f...)
		if j <= i {
			j = i + 1
		}
		i = j
	}
	return fs
}
