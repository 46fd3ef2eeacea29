package textenc

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

const promptC = "Generate a dual-panel image where the <lower half> displays a <depth map>, while the <upper half> retains the original image for direct visual comparison. <Prompt Start> "

func TestSplit(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"Three RED circles, left of 2 squares.", []string{"three", "red", "circles", ",", "left", "of", "2", "squares", "."}},
		{"左边有两个红色圆形。", []string{"左", "边", "有", "两", "个", "红", "色", "圆", "形", "。"}},
		{"a 红色 circle", []string{"a", "红", "色", "circle"}},
		{"12 x34", []string{"1", "2", "x", "3", "4"}},
		{"don't", []string{"don", "'", "t"}},
		{"Café\tNAÏVE\n", []string{"café", "naïve"}},
		{"<lower half><depth map>x", []string{"<lower half>", "<depth map>", "x"}},
		{"<eos> <foo>", []string{"<", "eos", ">", "<", "foo", ">"}}, // control tokens never come from text
		{"<Lower Half>", []string{"<", "lower", "half", ">"}},       // literals are exact
		{"   ", nil},
		{"", nil},
	}
	for _, c := range cases {
		got, err := Split(c.in)
		if err != nil {
			t.Fatalf("Split(%q): %v", c.in, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Split(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	got, _ := Split(promptC)
	for _, s := range []string{"<lower half>", "<depth map>", "<upper half>", "<Prompt Start>"} {
		n := 0
		for _, g := range got {
			if g == s {
				n++
			}
		}
		if n != 1 {
			t.Errorf("system prompt C: %q appears %d times as a token in %q", s, n, got)
		}
	}
	if got[len(got)-1] != "<Prompt Start>" {
		t.Errorf("system prompt C ends with %q", got[len(got)-1])
	}
}

func TestNonUTF8(t *testing.T) {
	tok, _ := Build([]string{"a"}, 1, 0)
	_, _, err := tok.Encode("ok \xff bad", 0)
	if err == nil || !strings.Contains(err.Error(), "UTF-8") || !strings.Contains(err.Error(), "byte 3") {
		t.Errorf("non-UTF-8: %v", err)
	}
	if _, err := Build([]string{"fine", "\xc3"}, 1, 0); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("non-UTF-8 corpus: %v", err)
	}
}

var corpus = []string{
	"a red circle", "a blue square", "two red circles", "a red triangle left of a blue square",
	"一个红色的圆形", "两个蓝色的正方形", "3 yellow triangles", promptC,
}

func TestBuildDeterministic(t *testing.T) {
	a, err := Build(corpus, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	shuffled := append([]string{}, corpus...)
	rand.New(rand.NewPCG(7, 7)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b, _ := Build(shuffled, 1, 0)
	if !reflect.DeepEqual(a.tokens, b.tokens) {
		t.Fatal("corpus order changed the vocabulary")
	}
	for i, s := range Specials {
		if a.tokens[i] != s {
			t.Fatalf("id %d is %q, want %q", i, a.tokens[i], s)
		}
	}
	if a.tokens[PadID] != "<pad>" || a.tokens[UnkID] != "<unk>" || a.tokens[BOSID] != "<bos>" || a.tokens[EOSID] != "<eos>" {
		t.Fatal("control ids out of place")
	}
	// Frequency order: "a" (6 times in the corpus) before "red" (3) before "blue" (2); ties in byte order.
	ia, _ := a.ID("a")
	ir, _ := a.ID("red")
	ib, _ := a.ID("blue")
	if !(ia < ir && ir < ib) {
		t.Errorf("ids a=%d red=%d blue=%d not by frequency", ia, ir, ib)
	}
	icirc, _ := a.ID("circle")
	itri, _ := a.ID("triangle")
	if !(icirc < itri) { // both once: byte order
		t.Errorf("tie not in byte order: circle=%d triangle=%d", icirc, itri)
	}
	for _, d := range "0123456789" {
		if _, ok := a.ID(string(d)); !ok {
			t.Errorf("digit %c not in the vocabulary", d)
		}
	}

	// min count drops the rare; max size caps.
	c, _ := Build(corpus, 2, 0)
	if _, ok := c.ID("triangle"); ok {
		t.Error("min count 2 kept a token seen once")
	}
	if _, ok := c.ID("red"); !ok {
		t.Error("min count 2 dropped a frequent token")
	}
	d, _ := Build(corpus, 1, len(Specials)+12)
	if d.Size() != len(Specials)+12 {
		t.Errorf("max size: %d tokens", d.Size())
	}
	if _, err := Build(corpus, 1, 3); err == nil {
		t.Error("max size below the fixed tokens accepted")
	}
}

func TestEncode(t *testing.T) {
	tok, _ := Build(corpus, 1, 0)
	ids, n, err := tok.Encode("", 16)
	if err != nil || len(ids) != 0 || n != 0 {
		t.Fatalf(`Encode("") = %v, %d, %v; want zero tokens`, ids, n, err)
	}
	ids, n, _ = tok.Encode("A red purple circle", 0)
	if n != 4 || len(ids) != 4 || ids[2] != UnkID || ids[0] != tok.ids["a"] || ids[1] != tok.ids["red"] {
		t.Errorf("Encode: %v (n %d)", ids, n)
	}
	ids, n, _ = tok.Encode("a red circle left of a blue square", 3)
	if len(ids) != 3 || n != 8 {
		t.Errorf("truncation: %d ids, total %d; want 3 and 8", len(ids), n)
	}
	ids, _, _ = tok.Encode(promptC+"红色圆形", 0)
	lower, _ := tok.ID("<lower half>")
	found := false
	for _, id := range ids {
		if id == lower {
			found = true
		}
		if id < 0 || id >= tok.Size() {
			t.Fatalf("id %d outside the vocabulary", id)
		}
	}
	if !found {
		t.Error("<lower half> not encoded as its own id")
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	tok, _ := Build(corpus, 1, 0)
	ids, _, _ := tok.Encode("A red triangle, left of 3 blue squares.", 0)
	s, err := tok.Decode(ids)
	if err != nil {
		t.Fatal(err)
	}
	// "squares" is not in the corpus: <unk>.
	if want := "a red triangle, left of 3 blue <unk>."; s != want {
		t.Errorf("Decode = %q, want %q", s, want)
	}
	for _, text := range append(corpus, "12 red (circles); 一个红色的圆形，3 blue", "<mask> of a <edge map>: 42") {
		full, _ := Build(append(corpus, text), 1, 0)
		ids, _, _ := full.Encode(text, 0)
		s, err := full.Decode(ids)
		if err != nil {
			t.Fatal(err)
		}
		again, _, _ := full.Encode(s, 0)
		if !reflect.DeepEqual(ids, again) {
			t.Errorf("round trip of %q via %q: %v then %v", text, s, ids, again)
		}
	}
	if s, _ := tok.Decode([]int{PadID, tok.ids["red"], PadID}); s != "red" {
		t.Errorf("pads not skipped: %q", s)
	}
	if _, err := tok.Decode([]int{tok.Size()}); err == nil || !strings.Contains(err.Error(), "position 0") {
		t.Errorf("out-of-range id: %v", err)
	}
	if _, err := tok.Decode([]int{-1}); err == nil {
		t.Error("negative id accepted")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	tok, _ := Build(corpus, 1, 0)
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tok.tokens, back.tokens) || !reflect.DeepEqual(tok.ids, back.ids) {
		t.Fatal("JSON round trip changed the vocabulary")
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Error("JSON not deterministic")
	}
	var viaUnmarshal Tokenizer
	if err := json.Unmarshal(b, &viaUnmarshal); err != nil || viaUnmarshal.Size() != tok.Size() {
		t.Errorf("json.Unmarshal: %v", err)
	}
	good := append([]string{}, tok.tokens...)
	for name, tc := range map[string]struct {
		toks []string
		msg  string
	}{
		"dup":       {append(append([]string{}, good...), "red"), "twice"},
		"space":     {append(append([]string{}, good...), "red circle"), "single pre-token"},
		"upper":     {append(append([]string{}, good...), "Red"), "single pre-token"},
		"specials":  {append([]string{"<unk>", "<pad>"}, good[2:]...), "special"},
		"too short": {good[:3], "fewer"},
	} {
		b, _ := json.Marshal(tokenizerJSON{Format: jsonFormat, Version: 1, Tokens: tc.toks})
		if _, err := FromJSON(b); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range []string{`{`, `{"format":"x","version":1,"tokens":[]}`, `{"format":"lumina-textenc-tokenizer","version":2}`} {
		if _, err := FromJSON([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
