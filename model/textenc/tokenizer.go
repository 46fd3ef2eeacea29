// Package textenc is the text encoder: a word/character tokenizer and a small causal language model
// whose second-to-last hidden layer gives the caption features (docs/DESIGN.md §3).
package textenc

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The fixed ids of the control tokens.
const (
	PadID = 0
	UnkID = 1
	BOSID = 2
	EOSID = 3
)

// Specials are the tokens every vocabulary starts with, in id order. The first four are control
// tokens that are never produced from text (a prompt that types "<eos>" gets "<", "eos", ">");
// the rest are literals of the system prompts (Template C and its variants, docs/DESIGN.md §4.2) that
// text does produce, each as one token.
var Specials = []string{"<pad>", "<unk>", "<bos>", "<eos>",
	"<Prompt Start>", "<lower half>", "<upper half>", "<left half>", "<right half>",
	"<depth map>", "<edge map>", "<mask>"}

// textSpecials are the specials matched in text, longest first so none shadows a longer one.
var textSpecials = func() []string {
	s := append([]string{}, Specials[4:]...)
	sort.SliceStable(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	return s
}()

// Split is the pre-tokenizer: text specials whole; runs of letters (with combining marks) as one
// lower-cased word; each Han character, each digit and each other symbol or punctuation mark alone;
// white space and control characters dropped. Text that is not UTF-8 is an error.
func Split(text string) ([]string, error) {
	if !utf8.ValidString(text) {
		for i := 0; i < len(text); {
			r, size := utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, fmt.Errorf("text is not valid UTF-8 (byte %d is %#02x)", i, text[i])
			}
			i += size
		}
	}
	var out []string
	for i := 0; i < len(text); {
		if text[i] == '<' {
			matched := false
			for _, s := range textSpecials {
				if strings.HasPrefix(text[i:], s) {
					out = append(out, s)
					i += len(s)
					matched = true
					break
				}
			}
			if matched {
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			i += size
		case isWordRune(r):
			j := i + size
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if !isWordRune(r2) {
					break
				}
				j += s2
			}
			out = append(out, strings.ToLower(text[i:j]))
			i = j
		default: // Han, digits, punctuation, symbols: one rune each
			out = append(out, text[i:i+size])
			i += size
		}
	}
	return out, nil
}

func isWordRune(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsMark(r)) && !unicode.Is(unicode.Han, r)
}

// Tokenizer maps pre-tokens to ids through a vocabulary built from a corpus.
type Tokenizer struct {
	tokens []string
	ids    map[string]int
}

// Build makes the vocabulary: the Specials, the ten digits (so numbers never become <unk>), then
// every pre-token of the corpus seen at least minCount times, most frequent first, ties in byte
// order, so the same corpus gives the same ids whatever its order. maxSize caps the vocabulary
// (0: no cap).
func Build(corpus []string, minCount, maxSize int) (*Tokenizer, error) {
	if minCount < 1 {
		minCount = 1
	}
	fixed := append(append([]string{}, Specials...), strings.Split("0123456789", "")...)
	if maxSize != 0 && maxSize < len(fixed) {
		return nil, fmt.Errorf("build tokenizer: max size %d is below the %d fixed tokens", maxSize, len(fixed))
	}
	counts := map[string]int{}
	for i, line := range corpus {
		toks, err := Split(line)
		if err != nil {
			return nil, fmt.Errorf("build tokenizer: corpus line %d: %w", i+1, err)
		}
		for _, t := range toks {
			counts[t]++
		}
	}
	t := &Tokenizer{ids: map[string]int{}}
	for _, s := range fixed {
		t.add(s)
	}
	cand := make([]string, 0, len(counts))
	for s, c := range counts {
		if _, ok := t.ids[s]; !ok && c >= minCount {
			cand = append(cand, s)
		}
	}
	sort.Slice(cand, func(i, j int) bool {
		if counts[cand[i]] != counts[cand[j]] {
			return counts[cand[i]] > counts[cand[j]]
		}
		return cand[i] < cand[j]
	})
	for _, s := range cand {
		if maxSize != 0 && len(t.tokens) >= maxSize {
			break
		}
		t.add(s)
	}
	return t, nil
}

func (t *Tokenizer) add(s string) {
	t.ids[s] = len(t.tokens)
	t.tokens = append(t.tokens, s)
}

// Size is the vocabulary size (the embedding table's rows).
func (t *Tokenizer) Size() int { return len(t.tokens) }

// Token returns the token of id, and false when id is out of range.
func (t *Tokenizer) Token(id int) (string, bool) {
	if id < 0 || id >= len(t.tokens) {
		return "", false
	}
	return t.tokens[id], true
}

// ID returns the id of a token, and false when it is not in the vocabulary.
func (t *Tokenizer) ID(tok string) (int, bool) {
	id, ok := t.ids[tok]
	return id, ok
}

// Encode turns text into at most maxLen ids (maxLen ≤ 0: no limit), unknown pre-tokens as UnkID,
// with no <bos>/<eos> added: the empty caption of caption dropout is zero tokens. total is the
// token count before truncation, so total > len(ids) says the text was cut.
func (t *Tokenizer) Encode(text string, maxLen int) (ids []int, total int, err error) {
	toks, err := Split(text)
	if err != nil {
		return nil, 0, fmt.Errorf("encode: %w", err)
	}
	n := len(toks)
	if maxLen > 0 && n > maxLen {
		n = maxLen
	}
	ids = make([]int, n)
	for i := range ids {
		id, ok := t.ids[toks[i]]
		if !ok {
			id = UnkID
		}
		ids[i] = id
	}
	return ids, len(toks), nil
}

// Decode renders ids as text: words separated by spaces, no space around Han characters or
// between the digits of a number, none before closing punctuation or after opening brackets.
// <pad> is skipped; an id outside the vocabulary is an error. Encode(Decode(ids)) gives ids back
// for any ids Encode produced that hold no <unk> (which decodes to the literal "<unk>").
func (t *Tokenizer) Decode(ids []int) (string, error) {
	var b strings.Builder
	prev := ""
	for i, id := range ids {
		if id == PadID {
			continue
		}
		tok, ok := t.Token(id)
		if !ok {
			return "", fmt.Errorf("decode: id %d at position %d is outside the vocabulary of %d", id, i, len(t.tokens))
		}
		if prev != "" && needSpace(prev, tok) {
			b.WriteByte(' ')
		}
		b.WriteString(tok)
		prev = tok
	}
	return b.String(), nil
}

func needSpace(prev, next string) bool {
	p, _ := utf8.DecodeLastRuneInString(prev)
	n, _ := utf8.DecodeRuneInString(next)
	pSingle, nSingle := utf8.RuneCountInString(prev) == 1, utf8.RuneCountInString(next) == 1
	switch {
	case isWordRune(p) && isWordRune(n):
		return true // two words must stay two words
	case unicode.Is(unicode.Han, p) || unicode.Is(unicode.Han, n):
		return false
	case pSingle && nSingle && unicode.IsDigit(p) && unicode.IsDigit(n):
		return false
	case nSingle && strings.ContainsRune(",.;:!?)]}%，。；：！？、）", n):
		return false
	case pSingle && strings.ContainsRune("([{（", p):
		return false
	case isFullWidthPunct(p) || isFullWidthPunct(n):
		return false
	}
	return true
}

func isFullWidthPunct(r rune) bool { return r >= 0x3000 && r <= 0x303f || r >= 0xff00 && r <= 0xffef }

type tokenizerJSON struct {
	Format  string   `json:"format"`
	Version int      `json:"version"`
	Tokens  []string `json:"tokens"`
}

const jsonFormat = "lumina-textenc-tokenizer"

// MarshalJSON stores the vocabulary in id order (for checkpoint metadata).
func (t *Tokenizer) MarshalJSON() ([]byte, error) {
	return json.Marshal(tokenizerJSON{Format: jsonFormat, Version: 1, Tokens: t.tokens})
}

// UnmarshalJSON reads what MarshalJSON wrote and checks it: the Specials in their places, no
// duplicate, every other token one pre-token of itself (so Encode can produce it).
func (t *Tokenizer) UnmarshalJSON(b []byte) error {
	var j tokenizerJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("tokenizer JSON: %w", err)
	}
	if j.Format != jsonFormat || j.Version != 1 {
		return fmt.Errorf("tokenizer JSON: format %q version %d, want %q version 1", j.Format, j.Version, jsonFormat)
	}
	if len(j.Tokens) < len(Specials) {
		return fmt.Errorf("tokenizer JSON: %d tokens, fewer than the %d specials", len(j.Tokens), len(Specials))
	}
	nt := &Tokenizer{ids: make(map[string]int, len(j.Tokens))}
	for i, s := range j.Tokens {
		if i < len(Specials) {
			if s != Specials[i] {
				return fmt.Errorf("tokenizer JSON: token %d is %q, want the special %q", i, s, Specials[i])
			}
		} else if toks, err := Split(s); err != nil || len(toks) != 1 || toks[0] != s {
			return fmt.Errorf("tokenizer JSON: token %d %q is not a single pre-token", i, s)
		}
		if _, dup := nt.ids[s]; dup {
			return fmt.Errorf("tokenizer JSON: token %q appears twice", s)
		}
		nt.add(s)
	}
	*t = *nt
	return nil
}

// FromJSON reads a tokenizer saved with json.Marshal (e.g. from checkpoint metadata).
func FromJSON(b []byte) (*Tokenizer, error) {
	t := &Tokenizer{}
	if err := t.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return t, nil
}
