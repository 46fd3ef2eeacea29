package toyeval

import (
	"encoding/json"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/data/world"
)

func mustSuite(t *testing.T, name string) []Prompt {
	t.Helper()
	ps, err := Suite(name)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func byCategory(ps []Prompt) map[string][]Prompt {
	m := map[string][]Prompt{}
	for _, p := range ps {
		m[p.Category] = append(m[p.Category], p)
	}
	return m
}

func TestSuiteStructure(t *testing.T) {
	all := mustSuite(t, "all")
	cats := byCategory(all)
	for _, c := range Categories() {
		if len(cats[c]) != categorySize[c] {
			t.Errorf("%s: %d prompts, want %d", c, len(cats[c]), categorySize[c])
		}
	}
	ids := map[string]bool{}
	for _, p := range all {
		if ids[p.ID] {
			t.Errorf("duplicate id %s", p.ID)
		}
		ids[p.ID] = true
		if err := p.Scene.Validate(); err != nil {
			t.Errorf("%s: ground truth invalid: %v", p.ID, err)
		}
		if p.Scene.Domain != world.Flat || p.Scene.Degradation != (world.Degradation{}) {
			t.Errorf("%s: ground truth is not a clean flat render", p.ID)
		}
		if err := world.ValidateFacts(p.Facts); err != nil || len(p.Facts) == 0 {
			t.Errorf("%s: facts %v: %v", p.ID, p.Facts, err)
		}
		// The ground truth realises every fact it is the reference for.
		for _, f := range p.Facts {
			if !f.Holds(p.Scene) {
				t.Errorf("%s: fact %+v does not hold on its own scene", p.ID, f)
			}
		}
		// Objects lie inside the frame and apart (boxes of side Size.Frac around the centres).
		for i, a := range p.Scene.Objects {
			h := a.Size.Frac() / 2
			if a.X-h < 0 || a.X+h > 1 || a.Y-h < 0 || a.Y+h > 1 {
				t.Errorf("%s: object %d leaves the frame: %+v", p.ID, i, a)
			}
			for j, b := range p.Scene.Objects[i+1:] {
				reach := (a.Size.Frac() + b.Size.Frac()) / 2
				if math.Abs(a.X-b.X) < reach && math.Abs(a.Y-b.Y) < reach {
					t.Errorf("%s: objects %d and %d overlap", p.ID, i, i+1+j)
				}
			}
		}
		if p.Text == "" || strings.Contains(p.Text, "%!") {
			t.Errorf("%s: bad text %q", p.ID, p.Text)
		}
	}
	// Counting prompts name a size, and a small or medium one: four large objects cannot fit.
	for _, p := range cats[CatCounting] {
		n := p.Facts[0].Count
		if n < 2 || n > 4 {
			t.Errorf("%s: counts %d, want 2..4", p.ID, n)
		}
		if !strings.Contains(p.Text, numberWords[n]) || !(strings.Contains(p.Text, "small") || strings.Contains(p.Text, "medium")) {
			t.Errorf("%s: %q does not ask for a fitting size and the count", p.ID, p.Text)
		}
		if len(p.Scene.Objects) != n {
			t.Errorf("%s: scene has %d objects, want %d", p.ID, len(p.Scene.Objects), n)
		}
	}
	quick := mustSuite(t, "quick")
	if len(quick) != quickPerCategory*len(Categories()) {
		t.Errorf("quick suite has %d prompts, want %d", len(quick), quickPerCategory*len(Categories()))
	}
	n := 0
	for _, name := range []string{"geneval", "dpg", "compbench"} {
		n += len(mustSuite(t, name))
	}
	if n != len(all) {
		t.Errorf("geneval+dpg+compbench hold %d prompts, all holds %d", n, len(all))
	}
	if _, err := Suite("nope"); err == nil || !strings.Contains(err.Error(), "geneval") {
		t.Errorf("unknown suite: err %v, want one listing the names", err)
	}
}

// The suites are a function of the fixed seed alone: building them again gives the same prompts.
func TestSuiteDeterministic(t *testing.T) {
	all := mustSuite(t, "all")
	var again []Prompt
	for ci, cat := range Categories() {
		again = append(again, buildCategory(cat, rand.New(rand.NewPCG(suiteSeed, uint64(ci))))...)
	}
	a, _ := json.Marshal(all)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Fatal("rebuilding the suites gave different prompts")
	}
	// Changing a returned prompt does not change the suite.
	all[0].Facts[0].Kind = world.FactDomain
	all[0].Scene.Objects[0].X = 0.999
	again2 := mustSuite(t, "all")
	if again2[0].Facts[0].Kind == world.FactDomain || again2[0].Scene.Objects[0].X == 0.999 {
		t.Fatal("Suite returned shared slices")
	}
}

func renderSuite(t *testing.T, ps []Prompt, res int) []image.Image {
	t.Helper()
	imgs := make([]image.Image, len(ps))
	for i, p := range ps {
		img, err := world.Render(p.Scene, res, res)
		if err != nil {
			t.Fatalf("%s: %v", p.ID, err)
		}
		imgs[i] = img
	}
	return imgs
}

// The judge passes the ground truth and fails the wrong prompt, at both resolutions.
func TestToyEvalGroundTruthAndWrongPrompts(t *testing.T) {
	all := mustSuite(t, "all")
	for _, res := range []int{32, 64} {
		imgs := renderSuite(t, all, res)
		rep := Evaluate(all, imgs)
		for _, c := range rep.Categories {
			t.Logf("%d px, right prompt: %-16s %.3f (n=%d)", res, c.Name, c.Mean, c.N)
			if c.Mean < 0.98 {
				t.Errorf("%d px: %s scores %.3f on its own ground truth, want ≥ 0.98", res, c.Name, c.Mean)
			}
		}
		for i, s := range rep.Scores {
			if s < 1 {
				t.Logf("%d px: %s scores %.2f: %q", res, all[i].ID, s, all[i].Text)
			}
		}
		if len(rep.Categories) != len(Categories()) || rep.Overall < 0.98 {
			t.Errorf("%d px: overall %.3f over %d categories", res, rep.Overall, len(rep.Categories))
		}
		t.Logf("%d px, right prompt: overall %.3f", res, rep.Overall)

		// Wrong pairing: each image judged against the next prompt of its category (cyclically). The
		// suites are built so the next prompt asks for something the image does not show.
		wrong := make([]Prompt, len(all))
		cats := byCategory(all)
		k := 0
		for _, c := range Categories() {
			ps := cats[c]
			for i := range ps {
				wrong[k] = ps[(i+1)%len(ps)]
				k++
			}
		}
		rep = Evaluate(wrong, imgs)
		for _, c := range rep.Categories {
			t.Logf("%d px, wrong prompt: %-16s %.3f", res, c.Name, c.Mean)
			if c.Mean > 0.25 {
				t.Errorf("%d px: %s scores %.3f with the wrong prompts, want ≤ 0.25", res, c.Name, c.Mean)
			}
		}
		t.Logf("%d px, wrong prompt: overall %.3f", res, rep.Overall)
		if rep.Overall > 0.25 {
			t.Errorf("%d px: overall %.3f with the wrong prompts, want ≤ 0.25", res, rep.Overall)
		}
	}
}

// A random shuffle, not just the neighbour: pairs whose ground truths happen to agree are skipped, so
// the check is that the judge sees the difference, whatever it is.
func TestToyEvalShuffledPairing(t *testing.T) {
	all := mustSuite(t, "all")
	imgs := renderSuite(t, all, 32)
	rng := rand.New(rand.NewPCG(7, 7))
	var ps []Prompt
	var is []image.Image
	for _, p := range all {
		j := rng.IntN(len(all))
		if ScoreScene(p, all[j].Scene) > wrongScoreMax {
			continue
		}
		ps = append(ps, p)
		is = append(is, imgs[j])
	}
	if len(ps) < len(all)/2 {
		t.Fatalf("only %d of %d shuffled pairs differ", len(ps), len(all))
	}
	rep := Evaluate(ps, is)
	t.Logf("shuffled: overall %.3f over %d pairs", rep.Overall, len(ps))
	if rep.Overall > 0.25 {
		t.Errorf("shuffled wrong pairs score %.3f, want ≤ 0.25", rep.Overall)
	}
}

func TestScoreSceneModes(t *testing.T) {
	s := world.Scene{Background: world.Black, Objects: []world.Object{
		{Shape: world.Circle, Colour: world.Red, Size: world.Medium, X: 0.2, Y: 0.5},
		{Shape: world.Square, Colour: world.Blue, Size: world.Small, X: 0.8, Y: 0.5},
	}}
	facts := []world.Fact{
		{Kind: world.FactExists, Obj: world.ObjectRef{Shape: world.Ptr(world.Circle), Colour: world.Ptr(world.Red)}},                                                // holds
		{Kind: world.FactExists, Obj: world.ObjectRef{Shape: world.Ptr(world.Square), Colour: world.Ptr(world.Red)}},                                                // does not
		{Kind: world.FactRelation, Obj: world.ObjectRef{Shape: world.Ptr(world.Circle)}, Other: world.ObjectRef{Shape: world.Ptr(world.Square)}, Rel: world.LeftOf}, // holds
		{Kind: world.FactBackground, Background: world.Gray},                                                                                                        // does not
	}
	if got := ScoreScene(Prompt{Category: CatDPG, Facts: facts}, s); got != 0.5 {
		t.Errorf("fraction mode: %v, want 0.5", got)
	}
	if got := ScoreScene(Prompt{Category: CatColorAttr, Facts: facts}, s); got != 0 {
		t.Errorf("all-or-nothing with misses: %v, want 0", got)
	}
	if got := ScoreScene(Prompt{Category: CatColorAttr, Facts: []world.Fact{facts[0], facts[2]}}, s); got != 1 {
		t.Errorf("all-or-nothing, all hold: %v, want 1", got)
	}
	if got := ScoreScene(Prompt{Category: CatDPG}, s); got != 0 {
		t.Errorf("no facts: %v, want 0", got)
	}
	if ScoreImage(Prompt{Category: CatDPG, Facts: facts}, nil) != 0 {
		t.Error("nil image should score 0")
	}
}

// Report arithmetic against a hand computation.
func TestEvaluateScenesReport(t *testing.T) {
	red := world.Fact{Kind: world.FactExists, Obj: world.ObjectRef{Colour: world.Ptr(world.Red)}}
	blue := world.Fact{Kind: world.FactExists, Obj: world.ObjectRef{Colour: world.Ptr(world.Blue)}}
	redScene := world.Scene{Objects: []world.Object{{Colour: world.Red, X: 0.5, Y: 0.5}}}
	ps := []Prompt{
		{Category: CatColors, Facts: []world.Fact{red}},           // 1
		{Category: CatColors, Facts: []world.Fact{blue}},          // 0
		{Category: CatDPG, Facts: []world.Fact{red, blue}},        // 0.5
		{Category: "", Facts: []world.Fact{red, blue, red, blue}}, // custom: 0.5
		{Category: CatCounting, Facts: []world.Fact{red}},         // no partner
	}
	scenes := []world.Scene{redScene, redScene, redScene, redScene}
	r := EvaluateScenes(ps, scenes)
	want := []CategoryScore{{CatColors, 0.5, 2}, {CatDPG, 0.5, 1}, {CatCustom, 0.5, 1}}
	if !reflect.DeepEqual(r.Categories, want) {
		t.Errorf("categories %+v, want %+v", r.Categories, want)
	}
	if r.Overall != 0.5 || r.Skipped != 1 || !reflect.DeepEqual(r.Scores, []float64{1, 0, 0.5, 0.5}) {
		t.Errorf("overall %v skipped %d scores %v", r.Overall, r.Skipped, r.Scores)
	}
	wantB := []CategoryScore{{"geneval", 0.5, 1}, {"dpg", 0.5, 1}, {CatCustom, 0.5, 1}}
	if !reflect.DeepEqual(r.Benchmarks, wantB) {
		t.Errorf("benchmarks %+v, want %+v", r.Benchmarks, wantB)
	}
	if len(r.DPGFacets) != 1 || r.DPGFacets[0] != (CategoryScore{"entity", 0.5, 1}) {
		t.Errorf("dpg facets %+v", r.DPGFacets)
	}
	// Overall is the mean of category means, not of images.
	r = EvaluateScenes(ps[:3], scenes[:3])
	if math.Abs(r.Overall-0.5) > 1e-12 {
		t.Errorf("overall %v, want mean(0.5, 0.5)", r.Overall)
	}
}

func TestImageSidecar(t *testing.T) {
	p, ok := PromptByID("colors-003")
	if !ok {
		t.Fatal("colors-003 missing")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.json")
	seed := uint64(5)
	if err := WriteImageSidecar(path, ImageSidecar{ID: p.ID, Prompt: p.Text, Seed: &seed}); err != nil {
		t.Fatal(err)
	}
	sc, err := ReadImageSidecar(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sc.ResolvePrompt()
	if err != nil || got.ID != p.ID || !reflect.DeepEqual(got.Facts, p.Facts) || *sc.Seed != 5 {
		t.Fatalf("resolve by id: %+v, %v", got, err)
	}
	// Own facts, no category: custom, fraction-scored.
	got, err = ImageSidecar{Prompt: "a red thing", Facts: p.Facts}.ResolvePrompt()
	if err != nil || got.Category != CatCustom {
		t.Fatalf("resolve by facts: %+v, %v", got, err)
	}
	// Facts with a known id keep the id's category.
	got, err = ImageSidecar{ID: p.ID, Facts: p.Facts}.ResolvePrompt()
	if err != nil || got.Category != CatColors {
		t.Fatalf("resolve by facts and id: %+v, %v", got, err)
	}
	bad := []struct {
		sc   ImageSidecar
		want string
	}{
		{ImageSidecar{}, "neither"},
		{ImageSidecar{ID: "colors-999"}, "unknown ToyEval prompt"},
		{ImageSidecar{ID: p.ID, Prompt: "something else"}, "does not match"},
		{ImageSidecar{Facts: []world.Fact{{Kind: 9}}}, "unknown kind"},
		{ImageSidecar{Facts: []world.Fact{{Kind: world.FactExists, Obj: world.ObjectRef{Colour: world.Ptr(world.Colour(99))}}}}, "colour 99"},
		{ImageSidecar{Facts: []world.Fact{{Kind: world.FactCount, Count: -1}}}, "count -1"},
	}
	for _, c := range bad {
		if _, err := c.sc.ResolvePrompt(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.sc, err, c.want)
		}
	}
}
