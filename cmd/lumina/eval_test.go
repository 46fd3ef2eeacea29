package main

import (
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/data/dataset"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/data/world"
)

// evalTestFolder writes the ground-truth renders of the quick suite, each with a sidecar naming the
// prompt shift places after it within its category (0: its own prompt).
func evalTestFolder(t *testing.T, shift int) (string, []toyeval.Prompt) {
	t.Helper()
	dir := t.TempDir()
	ps, err := toyeval.Suite("quick")
	if err != nil {
		t.Fatal(err)
	}
	byCat := map[string][]toyeval.Prompt{}
	for _, p := range ps {
		byCat[p.Category] = append(byCat[p.Category], p)
	}
	k := map[string]int{}
	for i, p := range ps {
		img, err := world.Render(p.Scene, 32, 32)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, p.ID)
		if err := dataset.WritePNG(name+".png", img); err != nil {
			t.Fatal(err)
		}
		cat := byCat[p.Category]
		side := cat[(k[p.Category]+shift)%len(cat)]
		k[p.Category]++
		sc := toyeval.ImageSidecar{ID: side.ID}
		if i == 0 {
			// One sidecar brings its own facts instead of an id.
			sc = toyeval.ImageSidecar{Prompt: side.Text, Category: side.Category, Facts: side.Facts}
		}
		if err := toyeval.WriteImageSidecar(name+".json", sc); err != nil {
			t.Fatal(err)
		}
	}
	return dir, ps
}

func TestEvalCmd(t *testing.T) {
	dir, ps := evalTestFolder(t, 0)
	out, err := luminaRun(t, "eval", "--images", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Images []struct {
			File  string  `json:"file"`
			Score float64 `json:"score"`
		} `json:"images"`
		Categories []toyeval.CategoryScore `json:"categories"`
		Overall    float64                 `json:"overall"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(res.Images) != len(ps) || len(res.Categories) != len(toyeval.Categories()) || res.Overall < 0.98 {
		t.Errorf("%d images, %d categories, overall %.3f", len(res.Images), len(res.Categories), res.Overall)
	}
	table, err := luminaRun(t, "eval", "--images", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table)
	for _, s := range append(toyeval.Categories(), "geneval", "overall") {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q:\n%s", s, table)
		}
	}

	// The same images with the wrong sidecars score low.
	dir, _ = evalTestFolder(t, 1)
	out, err = luminaRun(t, "eval", "--images", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	res.Overall = -1
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Overall > 0.25 || res.Overall < 0 {
		t.Errorf("wrong sidecars: overall %.3f (%v)", res.Overall, err)
	}
}

func TestEvalCmdErrors(t *testing.T) {
	dir, _ := evalTestFolder(t, 0)
	os.Remove(filepath.Join(dir, "colors-000.json"))
	os.WriteFile(filepath.Join(dir, "counting-000.png"), []byte("\x89PNG\r\n\x1a\nbroken"), 0o644)
	os.WriteFile(filepath.Join(dir, "dpg-000.json"), []byte("{not json"), 0o644)
	os.WriteFile(filepath.Join(dir, "position-000.json"), []byte(`{"id": "position-999"}`), 0o644)
	_, err := luminaRun(t, "eval", "--images", dir)
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"4 problem(s)", "colors-000.png: no sidecar colors-000.json", "counting-000.png: not a valid PNG",
		"dpg-000.json", "position-000.json", "position-999"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--ckpt", filepath.Join(empty, "none.safetensors")}, "--ckpt"},
		{[]string{"eval", "--images", filepath.Join(empty, "nope")}, "nope"},
		{[]string{"eval", "--images", empty}, "no .png files"},
	} {
		if _, err := luminaRun(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.args, err, c.want)
		}
	}
}

// TestEvalRepeatsPooling: two repeats, one of perfect images (the ground-truth renders) and one of no
// images, pool to the mean of the two, and the table shows their spread.
func TestEvalRepeatsPooling(t *testing.T) {
	ps, err := toyeval.Suite("quick")
	if err != nil {
		t.Fatal(err)
	}
	prompts := append(append([]toyeval.Prompt(nil), ps...), ps...)
	images := make([]image.Image, len(prompts))
	for i, p := range ps {
		img, err := world.Render(p.Scene, 32, 32)
		if err != nil {
			t.Fatal(err)
		}
		images[i] = img
	}
	res := &evalResult{Report: toyeval.Evaluate(prompts, images), Repeats: splitRepeats(prompts, images, 2)}
	for range prompts {
		res.Images = append(res.Images, evalImage{})
	}
	good, none := res.Repeats[0].Overall, res.Repeats[1].Overall
	if good < 0.98 || none != 0 {
		t.Fatalf("repeat overalls %.3f and %.3f, want the renders near 1 and no images 0", good, none)
	}
	if math.Abs(res.Overall-(good+none)/2) > 1e-12 {
		t.Fatalf("pooled overall %.4f, want the mean of the repeats %.4f", res.Overall, (good+none)/2)
	}
	if res.Repeats[0].Scores != nil {
		t.Fatal("per-repeat reports repeat the per-image scores")
	}
	sd, ok := spread(res.Repeats, func(r toyeval.Report) (float64, bool) { return r.Overall, true })
	if !ok || math.Abs(sd-good/math.Sqrt2) > 1e-12 {
		t.Fatalf("spread %.4f (%v), want %.4f", sd, ok, good/math.Sqrt2)
	}
	var b strings.Builder
	printEvalTable(&b, res)
	for _, s := range []string{"sd over 2 repeats", fmt.Sprintf("±%.3f", sd), fmt.Sprintf("%.3f 0.000\n", good)} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, b.String())
		}
	}
}
