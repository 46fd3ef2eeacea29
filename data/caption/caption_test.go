package caption

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/data/world"
)

// hardScene draws a valid scene that is harder than the training sampler's: identical objects,
// shared cells, centres anywhere (near cell borders and near the relation margin).
func hardScene(rng *rand.Rand) world.Scene {
	s := world.Scene{Background: world.Background(rng.IntN(world.NumBackgrounds)), Domain: world.Domain(rng.IntN(world.NumDomains))}
	n := 1 + rng.IntN(world.MaxObjects)
	for i := 0; i < n; i++ {
		o := world.Object{Shape: world.Shape(rng.IntN(world.NumShapes)), Colour: world.Colour(rng.IntN(world.NumColours)), Size: world.Size(rng.IntN(world.NumSizes))}
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
			c := world.Cell(rng.IntN(world.NumCells))
			o.X = (float64(c.Col())+0.5)/3 + (rng.Float64()*2-1)*0.1
			o.Y = (float64(c.Row())+0.5)/3 + (rng.Float64()*2-1)*0.1
		}
		s.Objects = append(s.Objects, o)
	}
	return s
}

func factKeys(fs []world.Fact) []string {
	ks := make([]string, len(fs))
	for i, f := range fs {
		ks[i] = factKey(f)
	}
	slices.Sort(ks)
	return slices.Compact(ks)
}

// compareReading checks a reading: every fact read must hold on s, and the facts read must be exactly want
// (compared by value, a relation and its mirror counting as one).
func compareReading(s world.Scene, read, want []world.Fact) error {
	for _, f := range read {
		if !f.Holds(s) {
			return fmt.Errorf("reads a false fact %s", factKey(f))
		}
	}
	got, exp := factKeys(read), factKeys(want)
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
		s := hardScene(rng)
		if err := s.Validate(); err != nil {
			t.Fatalf("test scene invalid: %v", err)
		}
		for g := Granularity(0); int(g) < NumGranularities; g++ {
			for _, f := range Facts(s, g) {
				if !f.Holds(s) {
					t.Fatalf("scene %d %v: Facts states false %s\n%+v", i, g, factKey(f), s)
				}
			}
		}
		for p := Perspective(0); int(p) < NumPerspectives; p++ {
			for _, f := range perspectiveFacts(s, p) {
				if !f.Holds(s) {
					t.Fatalf("scene %d %v: perspective states false %s", i, p, factKey(f))
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
		s := hardScene(rng)
		for g := Granularity(0); int(g) < NumGranularities; g++ {
			want := Facts(s, g)
			for l := Lang(0); int(l) < NumLangs; l++ {
				text := Write(s, g, l, rng)
				read, err := Read(text, l)
				if err != nil {
					t.Fatal(err)
				}
				if err := compareReading(s, read, want); err != nil {
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
		s := hardScene(rng)
		for p := Perspective(0); int(p) < NumPerspectives; p++ {
			want := perspectiveFacts(s, p)
			if len(want) == 0 && p != SpatialPerspective {
				t.Fatalf("perspective %v states nothing", p)
			}
			for l := Lang(0); int(l) < NumLangs; l++ {
				text := WritePerspective(s, p, l, rng)
				read, err := Read(text, l)
				if err != nil {
					t.Fatal(err)
				}
				if err := compareReading(s, read, want); err != nil {
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
		s := hardScene(rng)
		fs := Facts(s, Detailed)
		kinds := map[world.FactKind]int{}
		for _, f := range fs {
			kinds[f.Kind]++
		}
		if kinds[world.FactDomain] != 1 || kinds[world.FactBackground] != 1 {
			t.Fatalf("detailed facts lack style or background: %v", factKeys(fs))
		}
		// Every object's colour, shape, size and cell is stated.
		for _, o := range s.Objects {
			if !slices.ContainsFunc(fs, func(f world.Fact) bool {
				r := f.Obj
				return (f.Kind == world.FactExists || f.Kind == world.FactCount && f.Count > 0) && r.Cell != nil && r.Colour != nil &&
					r.Shape != nil && r.Size != nil && r.Matches(o)
			}) {
				t.Fatalf("detailed facts do not place object %+v: %v", o, factKeys(fs))
			}
		}
		// The total count.
		if !slices.ContainsFunc(fs, func(f world.Fact) bool {
			return f.Kind == world.FactCount && f.Obj == (world.ObjectRef{}) && f.Count == len(s.Objects)
		}) {
			t.Fatalf("detailed facts lack the count")
		}
		// Relations: each pair of uniquely named objects with a clear relation gets stated.
		for _, r := range s.Relations() {
			_, okA := uniqueRef(s, r.A)
			_, okB := uniqueRef(s, r.B)
			if okA && okB && !slices.ContainsFunc(fs, func(f world.Fact) bool {
				return f.Kind == world.FactRelation && (f.Rel == r.Kind && f.Obj.Matches(s.Objects[r.A]) && f.Other.Matches(s.Objects[r.B]) ||
					f.Rel == inverse(r.Kind) && f.Obj.Matches(s.Objects[r.B]) && f.Other.Matches(s.Objects[r.A]))
			}) {
				t.Fatalf("relation %v of %d,%d not stated", r.Kind, r.A, r.B)
			}
			relSeen++
		}
		// Medium places every object by colour and shape.
		mf := Facts(s, Medium)
		for _, o := range s.Objects {
			if !slices.ContainsFunc(mf, func(f world.Fact) bool { return f.Obj.Cell != nil && f.Obj.Matches(o) && f.Obj.Size == nil }) {
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
		s := hardScene(rng)
		fs := Facts(s, Brief)
		for _, f := range fs {
			if f.Obj.Colour != nil || f.Obj.Size != nil || f.Other.Colour != nil || f.Other.Size != nil {
				t.Fatalf("brief caption names an attribute: %s", factKey(f))
			}
		}
		clear := len(s.Objects) == 2 && s.Objects[0].Shape != s.Objects[1].Shape && len(s.Relations()) > 0
		hasRel := slices.ContainsFunc(fs, func(f world.Fact) bool { return f.Kind == world.FactRelation })
		if clear != hasRel {
			t.Fatalf("scene %+v: relation stated %v, want %v (%v)", s, hasRel, clear, factKeys(fs))
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
			case world.FactExists:
				total++
			case world.FactCount:
				total += f.Count
			}
		}
		if total != len(s.Objects) {
			t.Fatalf("brief facts count %d objects of %d: %v", total, len(s.Objects), factKeys(fs))
		}
	}
	if rels < 50 || lists < 50 {
		t.Fatalf("only %d relation and %d list captions: the test scenes are too tame", rels, lists)
	}
}

// A hand-written caption is read as a person would read it; this does not use the captioner at all.
func TestReadCaptionByHand(t *testing.T) {
	red, blue, green := world.Red, world.Blue, world.Green
	circle, square, triangle := world.Circle, world.Square, world.Triangle
	small, large := world.Small, world.Large
	tl, bottom, center := world.Cell(0), world.Cell(7), world.Cell(4)
	cases := []struct {
		lang Lang
		text string
		want []world.Fact
	}{
		{En, "Two small red circles, one in the top-left corner and the other at the bottom.", []world.Fact{
			{Kind: world.FactCount, Obj: world.ObjectRef{Colour: &red, Shape: &circle, Size: &small}, Count: 2},
			{Kind: world.FactCount, Obj: world.ObjectRef{Colour: &red, Shape: &circle, Size: &small, Cell: &tl}, Count: 1},
			{Kind: world.FactCount, Obj: world.ObjectRef{Colour: &red, Shape: &circle, Size: &small, Cell: &bottom}, Count: 1},
		}},
		{En, "a red circle and two blue squares", []world.Fact{
			{Kind: world.FactExists, Obj: world.ObjectRef{Colour: &red, Shape: &circle}},
			{Kind: world.FactCount, Obj: world.ObjectRef{Colour: &blue, Shape: &square}, Count: 2},
		}},
		{En, "green triangle, gray background, photo", []world.Fact{
			{Kind: world.FactExists, Obj: world.ObjectRef{Colour: &green, Shape: &triangle}},
			{Kind: world.FactBackground, Background: world.Gray},
			{Kind: world.FactDomain, Domain: world.Photo},
		}},
		{En, "The circle is to the left of and above the large blue square. Below the circle lies the triangle in the middle.", []world.Fact{
			{Kind: world.FactRelation, Obj: world.ObjectRef{Shape: &circle}, Other: world.ObjectRef{Colour: &blue, Shape: &square, Size: &large}, Rel: world.LeftOf},
			{Kind: world.FactRelation, Obj: world.ObjectRef{Shape: &circle}, Other: world.ObjectRef{Colour: &blue, Shape: &square, Size: &large}, Rel: world.Above},
			{Kind: world.FactRelation, Obj: world.ObjectRef{Shape: &triangle, Cell: &center}, Other: world.ObjectRef{Shape: &circle}, Rel: world.Below},
		}},
		{En, "You are an assistant designed to generate high-quality images based on user prompts. <Prompt Start> There is exactly one object.", []world.Fact{
			{Kind: world.FactCount, Count: 1},
		}},
		{Zh, "两个小的红色圆形，一个位于左上角，另一个位于画面下方。", []world.Fact{
			{Kind: world.FactCount, Obj: world.ObjectRef{Colour: &red, Shape: &circle, Size: &small}, Count: 2},
			{Kind: world.FactCount, Obj: world.ObjectRef{Colour: &red, Shape: &circle, Size: &small, Cell: &tl}, Count: 1},
			{Kind: world.FactCount, Obj: world.ObjectRef{Colour: &red, Shape: &circle, Size: &small, Cell: &bottom}, Count: 1},
		}},
		{Zh, "灰色背景上，这张照片里只有一个物体。画面中央有一个蓝色正方形。红色圆形在蓝色正方形的左上方。", []world.Fact{
			{Kind: world.FactBackground, Background: world.Gray},
			{Kind: world.FactDomain, Domain: world.Photo},
			{Kind: world.FactCount, Count: 1},
			{Kind: world.FactExists, Obj: world.ObjectRef{Colour: &blue, Shape: &square, Cell: &center}},
			{Kind: world.FactRelation, Obj: world.ObjectRef{Colour: &red, Shape: &circle}, Other: world.ObjectRef{Colour: &blue, Shape: &square}, Rel: world.LeftOf},
			{Kind: world.FactRelation, Obj: world.ObjectRef{Colour: &red, Shape: &circle}, Other: world.ObjectRef{Colour: &blue, Shape: &square}, Rel: world.Above},
		}},
		{Zh, "绿色三角形的下方是左上角的大的红色圆形", []world.Fact{
			{Kind: world.FactRelation, Obj: world.ObjectRef{Colour: &red, Shape: &circle, Size: &large, Cell: &tl}, Other: world.ObjectRef{Colour: &green, Shape: &triangle}, Rel: world.Below},
		}},
	}
	for _, c := range cases {
		got, err := Read(c.text, c.lang)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := factKeys(got), factKeys(c.want); !slices.Equal(g, w) {
			t.Errorf("%q:\n got  %v\n want %v", c.text, g, w)
		}
	}
}

// A caption with a wrong fact is caught: the reader is sharp enough for the round trip to fail.
func TestReadCaptionCatchesWrongCaptions(t *testing.T) {
	s := world.Scene{Background: world.Black, Domain: world.Flat, Objects: []world.Object{
		{Shape: world.Circle, Colour: world.Red, Size: world.Small, X: 0.15, Y: 0.15},
		{Shape: world.Square, Colour: world.Blue, Size: world.Large, X: 0.8, Y: 0.5},
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
		fs, err := Read(text, lang)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(fs, func(f world.Fact) bool { return !f.Holds(s) }) {
			t.Errorf("%q: no false fact read (read %v)", text, factKeys(fs))
		}
	}
}

func TestReadCaptionErrors(t *testing.T) {
	_, err := Read("a red \xff circle", En)
	if err == nil || !strings.Contains(err.Error(), "UTF-8") || !strings.Contains(err.Error(), "offset 6") {
		t.Fatalf("non-UTF-8 input: got %v", err)
	}
	if _, err := Read("a red circle", Lang(7)); err == nil {
		t.Fatal("unknown language accepted")
	}
	if fs, err := Read("", Zh); err != nil || len(fs) != 0 {
		t.Fatalf("empty caption: %v %v", fs, err)
	}
}

func TestCaptionDeterministicAndVaried(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 50; i++ {
		s := hardScene(rng)
		for g := Granularity(0); int(g) < NumGranularities; g++ {
			for l := Lang(0); int(l) < NumLangs; l++ {
				a := Write(s, g, l, rand.New(rand.NewPCG(uint64(i), 1)))
				b := Write(s, g, l, rand.New(rand.NewPCG(uint64(i), 1)))
				if a != b {
					t.Fatalf("same seed, different captions:\n%s\n%s", a, b)
				}
				distinct := map[string]bool{}
				for seed := uint64(0); seed < 20; seed++ {
					distinct[Write(s, g, l, rand.New(rand.NewPCG(seed, 2)))] = true
				}
				if len(distinct) < 2 {
					t.Fatalf("%v %v: 20 seeds give one wording: %s", g, l, a)
				}
			}
		}
	}
	c1, c2 := Corpus(300, 42), Corpus(300, 42)
	if !slices.Equal(c1, c2) {
		t.Fatal("Corpus is not deterministic")
	}
	if slices.Equal(c1, Corpus(300, 43)) {
		t.Fatal("Corpus ignores its seed")
	}
}

func TestCaptionCorpusCoverage(t *testing.T) {
	c := Corpus(2000, 1)
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
	if Corpus(0, 1) != nil {
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
		s := hardScene(rng)
		t.Logf("scene %d: %+v", i, s)
		for g := Granularity(0); int(g) < NumGranularities; g++ {
			for l := Lang(0); int(l) < NumLangs; l++ {
				t.Logf("  %-8v %v: %s", g, l, Write(s, g, l, rng))
			}
		}
		for p := Perspective(0); int(p) < NumPerspectives; p++ {
			for l := Lang(0); int(l) < NumLangs; l++ {
				t.Logf("  %-10v %v: %s", p, l, WritePerspective(s, p, l, rng))
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
			_ = Write(world.Scene{}, g, l, rng)
		}
	}
	for p := Perspective(0); int(p) <= NumPerspectives; p++ {
		_ = WritePerspective(world.Scene{}, p, En, rng)
		_ = WritePerspective(world.Scene{}, p, Zh, rng)
	}
	_ = WeakCaptioner{ErrorRate: 1, OmissionRate: 0}.Caption(world.Scene{}, rng)
}
