package data

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// capTestScene draws a valid scene that is harder than the training sampler's: identical objects,
// shared cells, centres anywhere (near cell borders and near the relation margin).
func capTestScene(rng *rand.Rand) Scene {
	s := Scene{Background: Background(rng.IntN(NumBackgrounds)), Domain: Domain(rng.IntN(NumDomains))}
	n := 1 + rng.IntN(MaxObjects)
	for i := 0; i < n; i++ {
		o := Object{Shape: Shape(rng.IntN(NumShapes)), Colour: Colour(rng.IntN(NumColours)), Size: Size(rng.IntN(NumSizes))}
		if i > 0 && rng.IntN(3) == 0 {
			p := s.Objects[rng.IntN(i)]
			o.Shape, o.Colour = p.Shape, p.Colour
			if rng.IntN(2) == 0 {
				o.Size = p.Size
			}
		}
		switch rng.IntN(3) {
		case 0:
			o.X, o.Y = rng.Float64(), rng.Float64()
		case 1: // near an earlier object: same cell, or just around the relation margin
			if i > 0 {
				p := s.Objects[rng.IntN(i)]
				o.X = min(1, max(0, p.X+(rng.Float64()*2-1)*0.25))
				o.Y = min(1, max(0, p.Y+(rng.Float64()*2-1)*0.25))
				break
			}
			fallthrough
		default:
			c := Cell(rng.IntN(NumCells))
			o.X = (float64(c.Col())+0.5)/3 + (rng.Float64()*2-1)*0.1
			o.Y = (float64(c.Row())+0.5)/3 + (rng.Float64()*2-1)*0.1
		}
		s.Objects = append(s.Objects, o)
	}
	return s
}

func capKeys(fs []Fact) []string {
	ks := make([]string, len(fs))
	for i, f := range fs {
		ks[i] = rdFactKey(f)
	}
	slices.Sort(ks)
	return slices.Compact(ks)
}

// capCompare checks a reading: every fact read must hold on s, and the facts read must be exactly want
// (compared by value, a relation and its mirror counting as one).
func capCompare(s Scene, read, want []Fact) error {
	for _, f := range read {
		if !f.Holds(s) {
			return fmt.Errorf("reads a false fact %s", rdFactKey(f))
		}
	}
	got, exp := capKeys(read), capKeys(want)
	var missing, extra []string
	for _, k := range exp {
		if !slices.Contains(got, k) {
			missing = append(missing, k)
		}
	}
	for _, k := range got {
		if !slices.Contains(exp, k) {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra) > 0 {
		return fmt.Errorf("missing %v, extra %v", missing, extra)
	}
	return nil
}

func TestCaptionFactsHold(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		s := capTestScene(rng)
		if err := s.Validate(); err != nil {
			t.Fatalf("test scene invalid: %v", err)
		}
		for g := Granularity(0); int(g) < NumGranularities; g++ {
			for _, f := range CaptionFacts(s, g) {
				if !f.Holds(s) {
					t.Fatalf("scene %d %v: CaptionFacts states false %s\n%+v", i, g, rdFactKey(f), s)
				}
			}
		}
		for p := Perspective(0); int(p) < NumPerspectives; p++ {
			for _, f := range capPerspectiveFacts(s, p) {
				if !f.Holds(s) {
					t.Fatalf("scene %d %v: perspective states false %s", i, p, rdFactKey(f))
				}
			}
		}
	}
}

// Every fact the independent reader finds in a caption holds, and it finds exactly the facts the
// captioner meant: over 1000 scenes, every granularity, both languages.
func TestCaptionRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	failures := 0
	for i := 0; i < 1000; i++ {
		s := capTestScene(rng)
		for g := Granularity(0); int(g) < NumGranularities; g++ {
			want := CaptionFacts(s, g)
			for l := Lang(0); int(l) < NumLangs; l++ {
				text := Caption(s, g, l, rng)
				read, err := ReadCaption(text, l)
				if err != nil {
					t.Fatal(err)
				}
				if err := capCompare(s, read, want); err != nil {
					failures++
					if failures <= 5 {
						t.Errorf("scene %d %v %v: %v\ncaption: %s", i, g, l, err, text)
					}
				}
			}
		}
	}
	if failures > 0 {
		t.Errorf("%d captions failed", failures)
	}
}

func TestCaptionPerspectiveRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	failures := 0
	for i := 0; i < 500; i++ {
		s := capTestScene(rng)
		for p := Perspective(0); int(p) < NumPerspectives; p++ {
			want := capPerspectiveFacts(s, p)
			if len(want) == 0 && p != SpatialPerspective {
				t.Fatalf("perspective %v states nothing", p)
			}
			for l := Lang(0); int(l) < NumLangs; l++ {
				text := CaptionPerspective(s, p, l, rng)
				read, err := ReadCaption(text, l)
				if err != nil {
					t.Fatal(err)
				}
				if err := capCompare(s, read, want); err != nil {
					failures++
					if failures <= 5 {
						t.Errorf("scene %d %v %v: %v\ncaption: %s", i, p, l, err, text)
					}
				}
			}
		}
	}
	if failures > 0 {
		t.Errorf("%d captions failed", failures)
	}
}

// The round trip above could pass with a reader that reads nothing useful and a captioner that states
// little; these check what the facts contain.
func TestCaptionFactsContent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	relSeen := 0
	for i := 0; i < 500; i++ {
		s := capTestScene(rng)
		fs := CaptionFacts(s, DetailedCaption)
		kinds := map[FactKind]int{}
		for _, f := range fs {
			kinds[f.Kind]++
		}
		if kinds[FactDomain] != 1 || kinds[FactBackground] != 1 {
			t.Fatalf("detailed facts lack style or background: %v", capKeys(fs))
		}
		// Every object's colour, shape, size and cell is stated.
		for _, o := range s.Objects {
			if !slices.ContainsFunc(fs, func(f Fact) bool {
				r := f.Obj
				return (f.Kind == FactExists || f.Kind == FactCount && f.Count > 0) && r.Cell != nil && r.Colour != nil &&
					r.Shape != nil && r.Size != nil && r.Matches(o)
			}) {
				t.Fatalf("detailed facts do not place object %+v: %v", o, capKeys(fs))
			}
		}
		// The total count.
		if !slices.ContainsFunc(fs, func(f Fact) bool {
			return f.Kind == FactCount && f.Obj == (ObjectRef{}) && f.Count == len(s.Objects)
		}) {
			t.Fatalf("detailed facts lack the count")
		}
		// Relations: each pair of uniquely named objects with a clear relation gets stated.
		for _, r := range s.Relations() {
			_, okA := capUniqueRef(s, r.A)
			_, okB := capUniqueRef(s, r.B)
			if okA && okB && !slices.ContainsFunc(fs, func(f Fact) bool {
				return f.Kind == FactRelation && (f.Rel == r.Kind && f.Obj.Matches(s.Objects[r.A]) && f.Other.Matches(s.Objects[r.B]) ||
					f.Rel == capInverse(r.Kind) && f.Obj.Matches(s.Objects[r.B]) && f.Other.Matches(s.Objects[r.A]))
			}) {
				t.Fatalf("relation %v of %d,%d not stated", r.Kind, r.A, r.B)
			}
			relSeen++
		}
		// Medium places every object by colour and shape.
		mf := CaptionFacts(s, MediumCaption)
		for _, o := range s.Objects {
			if !slices.ContainsFunc(mf, func(f Fact) bool { return f.Obj.Cell != nil && f.Obj.Matches(o) && f.Obj.Size == nil }) {
				t.Fatalf("medium facts do not place %+v", o)
			}
		}
	}
	if relSeen < 500 {
		t.Fatalf("only %d relations in 500 scenes: the test scenes are too tame", relSeen)
	}
}

// Brief captions name shapes without colour or size, and state the relation of two differently shaped
// objects when the scene has one: GenEval-style prompts the model must learn to follow.
func TestBriefCaptionFacts(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	rels, lists := 0, 0
	for i := 0; i < 1000; i++ {
		s := capTestScene(rng)
		fs := CaptionFacts(s, BriefCaption)
		for _, f := range fs {
			if f.Obj.Colour != nil || f.Obj.Size != nil || f.Other.Colour != nil || f.Other.Size != nil {
				t.Fatalf("brief caption names an attribute: %s", rdFactKey(f))
			}
		}
		clear := len(s.Objects) == 2 && s.Objects[0].Shape != s.Objects[1].Shape && len(s.Relations()) > 0
		hasRel := slices.ContainsFunc(fs, func(f Fact) bool { return f.Kind == FactRelation })
		if clear != hasRel {
			t.Fatalf("scene %+v: relation stated %v, want %v (%v)", s, hasRel, clear, capKeys(fs))
		}
		if hasRel {
			rels++
			continue
		}
		lists++
		// Without a relation, every shape's count is stated, summing to the object count.
		total := 0
		for _, f := range fs {
			switch f.Kind {
			case FactExists:
				total++
			case FactCount:
				total += f.Count
			}
		}
		if total != len(s.Objects) {
			t.Fatalf("brief facts count %d objects of %d: %v", total, len(s.Objects), capKeys(fs))
		}
	}
	if rels < 50 || lists < 50 {
		t.Fatalf("only %d relation and %d list captions: the test scenes are too tame", rels, lists)
	}
}

// A hand-written caption is read as a person would read it; this does not use the captioner at all.
func TestReadCaptionByHand(t *testing.T) {
	red, blue, green := Red, Blue, Green
	circle, square, triangle := Circle, Square, Triangle
	small, large := Small, Large
	tl, bottom, center := Cell(0), Cell(7), Cell(4)
	cases := []struct {
		lang Lang
		text string
		want []Fact
	}{
		{En, "Two small red circles, one in the top-left corner and the other at the bottom.", []Fact{
			{Kind: FactCount, Obj: ObjectRef{Colour: &red, Shape: &circle, Size: &small}, Count: 2},
			{Kind: FactCount, Obj: ObjectRef{Colour: &red, Shape: &circle, Size: &small, Cell: &tl}, Count: 1},
			{Kind: FactCount, Obj: ObjectRef{Colour: &red, Shape: &circle, Size: &small, Cell: &bottom}, Count: 1},
		}},
		{En, "a red circle and two blue squares", []Fact{
			{Kind: FactExists, Obj: ObjectRef{Colour: &red, Shape: &circle}},
			{Kind: FactCount, Obj: ObjectRef{Colour: &blue, Shape: &square}, Count: 2},
		}},
		{En, "green triangle, gray background, photo", []Fact{
			{Kind: FactExists, Obj: ObjectRef{Colour: &green, Shape: &triangle}},
			{Kind: FactBackground, Background: Gray},
			{Kind: FactDomain, Domain: Photo},
		}},
		{En, "The circle is to the left of and above the large blue square. Below the circle lies the triangle in the middle.", []Fact{
			{Kind: FactRelation, Obj: ObjectRef{Shape: &circle}, Other: ObjectRef{Colour: &blue, Shape: &square, Size: &large}, Rel: LeftOf},
			{Kind: FactRelation, Obj: ObjectRef{Shape: &circle}, Other: ObjectRef{Colour: &blue, Shape: &square, Size: &large}, Rel: Above},
			{Kind: FactRelation, Obj: ObjectRef{Shape: &triangle, Cell: &center}, Other: ObjectRef{Shape: &circle}, Rel: Below},
		}},
		{En, "You are an assistant designed to generate high-quality images based on user prompts. <Prompt Start> There is exactly one object.", []Fact{
			{Kind: FactCount, Count: 1},
		}},
		{Zh, "两个小的红色圆形，一个位于左上角，另一个位于画面下方。", []Fact{
			{Kind: FactCount, Obj: ObjectRef{Colour: &red, Shape: &circle, Size: &small}, Count: 2},
			{Kind: FactCount, Obj: ObjectRef{Colour: &red, Shape: &circle, Size: &small, Cell: &tl}, Count: 1},
			{Kind: FactCount, Obj: ObjectRef{Colour: &red, Shape: &circle, Size: &small, Cell: &bottom}, Count: 1},
		}},
		{Zh, "灰色背景上，这张照片里只有一个物体。画面中央有一个蓝色正方形。红色圆形在蓝色正方形的左上方。", []Fact{
			{Kind: FactBackground, Background: Gray},
			{Kind: FactDomain, Domain: Photo},
			{Kind: FactCount, Count: 1},
			{Kind: FactExists, Obj: ObjectRef{Colour: &blue, Shape: &square, Cell: &center}},
			{Kind: FactRelation, Obj: ObjectRef{Colour: &red, Shape: &circle}, Other: ObjectRef{Colour: &blue, Shape: &square}, Rel: LeftOf},
			{Kind: FactRelation, Obj: ObjectRef{Colour: &red, Shape: &circle}, Other: ObjectRef{Colour: &blue, Shape: &square}, Rel: Above},
		}},
		{Zh, "绿色三角形的下方是左上角的大的红色圆形", []Fact{
			{Kind: FactRelation, Obj: ObjectRef{Colour: &red, Shape: &circle, Size: &large, Cell: &tl}, Other: ObjectRef{Colour: &green, Shape: &triangle}, Rel: Below},
		}},
	}
	for _, c := range cases {
		got, err := ReadCaption(c.text, c.lang)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := capKeys(got), capKeys(c.want); !slices.Equal(g, w) {
			t.Errorf("%q:\n got  %v\n want %v", c.text, g, w)
		}
	}
}

// A caption with a wrong fact is caught: the reader is sharp enough for the round trip to fail.
func TestReadCaptionCatchesWrongCaptions(t *testing.T) {
	s := Scene{Background: Black, Domain: Flat, Objects: []Object{
		{Shape: Circle, Colour: Red, Size: Small, X: 0.15, Y: 0.15},
		{Shape: Square, Colour: Blue, Size: Large, X: 0.8, Y: 0.5},
	}}
	for _, text := range []string{
		"a green circle and a blue square",
		"The circle is to the right of the square.",
		"A red circle sits in the center.",
		"two red circles",
		"red circle, blue square, gray background",
		"A photo of two objects.",
		"There are three objects.",
		"蓝色正方形在红色圆形的左边。",
		"左上角有一个蓝色正方形。",
	} {
		lang := En
		if strings.ContainsAny(text, "的有") {
			lang = Zh
		}
		fs, err := ReadCaption(text, lang)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(fs, func(f Fact) bool { return !f.Holds(s) }) {
			t.Errorf("%q: no false fact read (read %v)", text, capKeys(fs))
		}
	}
}

func TestReadCaptionErrors(t *testing.T) {
	_, err := ReadCaption("a red \xff circle", En)
	if err == nil || !strings.Contains(err.Error(), "UTF-8") || !strings.Contains(err.Error(), "offset 6") {
		t.Fatalf("non-UTF-8 input: got %v", err)
	}
	if _, err := ReadCaption("a red circle", Lang(7)); err == nil {
		t.Fatal("unknown language accepted")
	}
	if fs, err := ReadCaption("", Zh); err != nil || len(fs) != 0 {
		t.Fatalf("empty caption: %v %v", fs, err)
	}
}

func TestCaptionDeterministicAndVaried(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 50; i++ {
		s := capTestScene(rng)
		for g := Granularity(0); int(g) < NumGranularities; g++ {
			for l := Lang(0); int(l) < NumLangs; l++ {
				a := Caption(s, g, l, rand.New(rand.NewPCG(uint64(i), 1)))
				b := Caption(s, g, l, rand.New(rand.NewPCG(uint64(i), 1)))
				if a != b {
					t.Fatalf("same seed, different captions:\n%s\n%s", a, b)
				}
				distinct := map[string]bool{}
				for seed := uint64(0); seed < 20; seed++ {
					distinct[Caption(s, g, l, rand.New(rand.NewPCG(seed, 2)))] = true
				}
				if len(distinct) < 2 {
					t.Fatalf("%v %v: 20 seeds give one wording: %s", g, l, a)
				}
			}
		}
	}
	c1, c2 := CaptionCorpus(300, 42), CaptionCorpus(300, 42)
	if !slices.Equal(c1, c2) {
		t.Fatal("CaptionCorpus is not deterministic")
	}
	if slices.Equal(c1, CaptionCorpus(300, 43)) {
		t.Fatal("CaptionCorpus ignores its seed")
	}
}

func TestCaptionCorpusCoverage(t *testing.T) {
	c := CaptionCorpus(2000, 1)
	if len(c) != 2000 {
		t.Fatalf("got %d captions", len(c))
	}
	var zh, en, sys, counts int
	for _, s := range c {
		if s == "" {
			t.Fatal("empty caption in corpus")
		}
		if strings.ContainsAny(s, "个的") {
			zh++
		} else {
			en++
		}
		if strings.Contains(s, "<Prompt Start>") {
			sys++
		}
		if strings.Contains(s, "two ") || strings.Contains(s, "三个") {
			counts++
		}
	}
	if zh < 800 || en < 800 || sys < 300 || counts < 100 {
		t.Fatalf("corpus mix: %d zh, %d en, %d with a system prompt, %d with counts", zh, en, sys, counts)
	}
	if CaptionCorpus(0, 1) != nil {
		t.Fatal("n = 0 should give no captions")
	}
}

func TestParseEnums(t *testing.T) {
	for g := Granularity(0); int(g) < NumGranularities; g++ {
		if v, err := ParseGranularity(g.String()); err != nil || v != g {
			t.Fatalf("granularity %v: %v %v", g, v, err)
		}
	}
	if _, err := ParseGranularity("long"); err == nil || !strings.Contains(err.Error(), "detailed, medium, short, tag") {
		t.Fatalf("bad granularity: %v", err)
	}
	for l := Lang(0); int(l) < NumLangs; l++ {
		if v, err := ParseLang(l.String()); err != nil || v != l {
			t.Fatalf("lang %v: %v %v", l, v, err)
		}
	}
	if _, err := ParseLang("fr"); err == nil || !strings.Contains(err.Error(), "en, zh") {
		t.Fatalf("bad lang: %v", err)
	}
	for p := Perspective(0); int(p) < NumPerspectives; p++ {
		if v, err := ParsePerspective(p.String()); err != nil || v != p {
			t.Fatalf("perspective %v: %v %v", p, v, err)
		}
	}
	if _, err := ParsePerspective("x"); err == nil {
		t.Fatal("bad perspective accepted")
	}
}

// TestPrintCaptionExamples prints examples with -v (it checks nothing beyond the round trip above).
func TestPrintCaptionExamples(t *testing.T) {
	if !testing.Verbose() {
		t.Skip("examples print with -v")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 3; i++ {
		s := capTestScene(rng)
		t.Logf("scene %d: %+v", i, s)
		for g := Granularity(0); int(g) < NumGranularities; g++ {
			for l := Lang(0); int(l) < NumLangs; l++ {
				t.Logf("  %-8v %v: %s", g, l, Caption(s, g, l, rng))
			}
		}
		for p := Perspective(0); int(p) < NumPerspectives; p++ {
			for l := Lang(0); int(l) < NumLangs; l++ {
				t.Logf("  %-10v %v: %s", p, l, CaptionPerspective(s, p, l, rng))
			}
		}
		t.Logf("  weak 0.3/0.2: %s", WeakCaptioner{0.3, 0.2}.Caption(s, rng))
	}
}

// An empty scene (invalid, but possible before validation) and out-of-range enums do not panic.
func TestCaptionNoPanicOnOddInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for g := Granularity(0); int(g) <= NumGranularities; g++ {
		for l := Lang(0); int(l) <= NumLangs; l++ {
			_ = Caption(Scene{}, g, l, rng)
		}
	}
	for p := Perspective(0); int(p) <= NumPerspectives; p++ {
		_ = CaptionPerspective(Scene{}, p, En, rng)
		_ = CaptionPerspective(Scene{}, p, Zh, rng)
	}
	_ = WeakCaptioner{ErrorRate: 1, OmissionRate: 0}.Caption(Scene{}, rng)
}
