package textenc

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/internal/fuzzseed"
)

// textSeeds are what the tokenizer reads in use: the captioner's captions in both languages, some
// behind a system prompt (its pre-training corpus), the test corpus, and odd Unicode.
func textSeeds() []string {
	return append(append(caption.Corpus(24, 1), corpus...),
		"İstanbul ǅ ß", "x\u0301y", "\xff", "<<depth map>>", "ｆｕｌｌ，", "a\u200db", "〇々 ab12", "Ⓧ", "")
}

// FuzzSplit: Split fails exactly on text that is not UTF-8; otherwise every pre-token is a text special
// or else non-empty and free of white space, a word in lower case (a symbol such as Ⓧ keeps its
// case), and splitting the space-joined
// pre-tokens gives them back (what Decode and the JSON check rely on).
func FuzzSplit(f *testing.F) {
	for _, s := range textSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks, err := Split(s)
		if (err != nil) != !utf8.ValidString(s) {
			t.Fatalf("Split(%q): error %v, but valid UTF-8 is %v", s, err, utf8.ValidString(s))
		}
		if err != nil {
			return
		}
		for _, tok := range toks {
			if slices.Contains(textSpecials, tok) {
				continue
			}
			r, _ := utf8.DecodeRuneInString(tok)
			if tok == "" || strings.ContainsFunc(tok, unicode.IsSpace) || (isWordRune(r) && strings.ToLower(tok) != tok) {
				t.Fatalf("Split(%q) gives pre-token %q", s, tok)
			}
		}
		again, err := Split(strings.Join(toks, " "))
		if err != nil || !slices.Equal(toks, again) {
			t.Fatalf("Split(%q) = %q, re-split %q (%v)", s, toks, again, err)
		}
	})
}

// FuzzEncodeDecode builds a vocabulary from a corpus holding the text, so the text encodes without
// <unk>. Its ids are in range and count what Split finds; a shorter maxLen keeps a prefix of them;
// Decode then Encode gives the ids back. The shipped checkpoint's tokenizer encodes the text in range
// too, and where it needs no <unk> it round-trips the same way.
func FuzzEncodeDecode(f *testing.F) {
	for i, s := range textSeeds() {
		f.Add(s, i%7)
	}
	_, meta := fuzzseed.CheckpointHeader(f, fuzzseed.ShippedCheckpoint)
	shipped, err := FromJSON([]byte(meta["tokenizer"]))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string, maxLen int) {
		tok, err := Build(append(slices.Clone(corpus), text), 1, 0)
		if err != nil {
			if utf8.ValidString(text) {
				t.Fatalf("Build: %v", err)
			}
			return
		}
		ids, total, err := tok.Encode(text, 0)
		if err != nil {
			t.Fatal(err)
		}
		if toks, _ := Split(text); total != len(toks) || len(ids) != total {
			t.Fatalf("Encode(%q): %d ids, total %d, %d pre-tokens", text, len(ids), total, len(toks))
		}
		if slices.Contains(ids, UnkID) {
			t.Fatalf("Encode(%q) = %v: <unk> for text in the vocabulary's corpus", text, ids)
		}
		checkRoundTrip(t, tok, text, ids)
		if cut, n, _ := tok.Encode(text, maxLen); n != total || (maxLen > 0 && !slices.Equal(cut, ids[:min(maxLen, total)])) {
			t.Fatalf("Encode(%q, %d) = %v (total %d), want a prefix of %v", text, maxLen, cut, n, ids)
		}
		ids, _, _ = shipped.Encode(text, 0)
		if !slices.Contains(ids, UnkID) {
			checkRoundTrip(t, shipped, text, ids)
		}
	})
}

// checkRoundTrip: ids are in range, and Decode then Encode gives them back.
func checkRoundTrip(t *testing.T, tok *Tokenizer, text string, ids []int) {
	t.Helper()
	for _, id := range ids {
		if id < 0 || id >= tok.Size() || id == PadID {
			t.Fatalf("Encode(%q) gives id %d (vocabulary %d)", text, id, tok.Size())
		}
	}
	s, err := tok.Decode(ids)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := tok.Encode(s, 0)
	if err != nil || !slices.Equal(ids, again) {
		t.Fatalf("%q encodes to %v, decodes to %q, which encodes to %v (%v)", text, ids, s, again, err)
	}
}

// FuzzFromJSON: no input panics; a tokenizer that loads has the specials in their places, gives
// every token its index as id, encodes every token but the control ones to that id alone, and saves
// to JSON that loads the same.
func FuzzFromJSON(f *testing.F) {
	_, meta := fuzzseed.CheckpointHeader(f, fuzzseed.ShippedCheckpoint)
	f.Add([]byte(meta["tokenizer"]))
	tok, _ := Build(corpus, 1, 0)
	b, _ := json.Marshal(tok)
	f.Add(b)
	f.Add([]byte(`{"format":"lumina-textenc-tokenizer","version":1,"tokens":["<pad>"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := FromJSON(b)
		if err != nil {
			return
		}
		if tok.Size() < len(Specials) {
			t.Fatalf("%d tokens", tok.Size())
		}
		for id := range tok.Size() {
			s, _ := tok.Token(id)
			if got, ok := tok.ID(s); !ok || got != id {
				t.Fatalf("token %d %q has id %d", id, s, got)
			}
			if id < len(Specials) && s != Specials[id] {
				t.Fatalf("token %d is %q, want %q", id, s, Specials[id])
			}
			if id > EOSID {
				if ids, _, err := tok.Encode(s, 0); err != nil || !slices.Equal(ids, []int{id}) {
					t.Fatalf("token %d %q encodes to %v (%v)", id, s, ids, err)
				}
			}
		}
		out, err := tok.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		back, err := FromJSON(out)
		if err != nil || !slices.Equal(back.tokens, tok.tokens) {
			t.Fatalf("saved tokenizer does not load the same: %v", err)
		}
	})
}
