package plots

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot/plotter"

	"github.com/lumina-workbench/lumina/ablation"
	"github.com/lumina-workbench/lumina/data/dataset"
)

// The front keeps the points no other beats in both coordinates, ordered by x; a duplicate once.
func TestFront(t *testing.T) {
	pts := plotter.XYs{{X: 1, Y: 0.5}, {X: 2, Y: 0.4}, {X: 1.5, Y: 0.3}, {X: 3, Y: 0.1}, {X: 2, Y: 0.4}, {X: 0.5, Y: 0.5}}
	got := Front(pts)
	want := plotter.XYs{{X: 1, Y: 0.5}, {X: 2, Y: 0.4}, {X: 3, Y: 0.1}}
	if len(got) != len(want) {
		t.Fatalf("front %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("front %v, want %v", got, want)
		}
	}
}

// Write draws the Pareto plot, a plot per swept numeric key and a sheet per cell, all readable PNGs; a
// sheet lays out prompts by rows and seeds by columns.
func TestWrite(t *testing.T) {
	g, err := ablation.ParseGrid([]byte(`method: grid
parameters:
  solver: {values: [euler, fdpm]}
  steps: {values: [10, 20]}
prompts: [a red circle, two blue squares]
seeds: 3
reference: {solver: euler, steps: 20}
`), "g.yaml", ablation.DefaultSetting("m.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var rs []ablation.Result
	for _, c := range g.Cells() {
		for pi, pr := range g.Prompts {
			for s := range g.Seeds {
				k := ablation.Key{Cell: c.ID, Prompt: pr.ID, Seed: s}
				img := image.NewRGBA(image.Rect(0, 0, 32, 32))
				img.Set(pi, s, color.RGBA{255, 0, 0, 255})
				os.MkdirAll(filepath.Join(dir, filepath.Dir(ablation.ImagePath(k))), 0o755)
				if err := dataset.WritePNG(filepath.Join(dir, ablation.ImagePath(k)), img); err != nil {
					t.Fatal(err)
				}
				rs = append(rs, ablation.Result{Cell: c.ID, Settings: c.Setting, PromptID: pr.ID, Category: pr.Category, Seed: s,
					WallMs: float64(c.Setting.Steps), Score: float64((pi+s+c.Index)%3) / 2, Image: ablation.ImagePath(k)})
			}
		}
	}
	sum, err := ablation.Summarize(g, rs)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, sum, rs); err != nil {
		t.Fatal(err)
	}
	files := []string{ParetoFile, AxisFile("steps")}
	for _, c := range g.Cells() {
		files = append(files, SheetFile(c.ID))
	}
	for _, name := range files {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Fatalf("%s: %v, %v", name, err, img.Bounds())
		}
		if name == SheetFile("solver-fdpm_steps-10") {
			// 3 seeds of 96 px tiles (32 px scaled 3×), 8 px apart and around.
			if img.Bounds().Dx() != 3*(96+8)+8 {
				t.Errorf("sheet width %d", img.Bounds().Dx())
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, AxisFile("solver"))); !os.IsNotExist(err) {
		t.Errorf("a plot of the solver, which is not a number: %v", err)
	}
}
