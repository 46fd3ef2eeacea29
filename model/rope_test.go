package model

import (
	"math"
	"testing"

	"github.com/lumina-workbench/lumina/model/arch"
)

// With RopeGrid, a 16 px image's patch (r, c) sits where a 32 px image's patch (2r, 2c) does, so a
// low-resolution stage trains the positions that sampling at 32 px uses; without it, it sits at (r, c).
func TestRopeGridAlignsResolutions(t *testing.T) {
	cfg, _ := arch.LookupConfig("tiny") // patch 4
	half := cfg.HeadDim() / 2
	capLens := []int{5}
	img := func(c arch.Config, side int) RopeValues {
		return RopeData(c, Shape{Batch: 1, Height: side, Width: side, CapLen: 8}, capLens)[1]
	}
	at := func(v RopeValues, grid, r, col int) ([]float64, []float64) {
		k := (r*grid + col) * half
		return v.Cos[k : k+half], v.Sin[k : k+half]
	}
	same := func(c1, s1, c2, s2 []float64) bool {
		for i := range c1 {
			if math.Abs(c1[i]-c2[i]) > 1e-12 || math.Abs(s1[i]-s2[i]) > 1e-12 {
				return false
			}
		}
		return true
	}
	aligned := cfg
	aligned.RopeGrid = 8
	lo, hi := img(aligned, 16), img(aligned, 32)
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			c16, s16 := at(lo, 4, r, c)
			c32, s32 := at(hi, 8, 2*r, 2*c)
			if !same(c16, s16, c32, s32) {
				t.Errorf("rope_grid 8: 16 px patch (%d,%d) is not at 32 px patch (%d,%d)", r, c, 2*r, 2*c)
			}
		}
	}
	// At 32 px (8 patches a side) rope_grid 8 is the identity: the tables are the reference's.
	plain := img(cfg, 32)
	for i := range plain.Cos {
		if plain.Cos[i] != hi.Cos[i] || plain.Sin[i] != hi.Sin[i] {
			t.Fatalf("rope_grid 8 at 32 px changed table entry %d", i)
		}
	}
	// Without RopeGrid the 16 px patch (1, 1) is the 32 px patch (1, 1), not (2, 2).
	lo0 := img(cfg, 16)
	c16, s16 := at(lo0, 4, 1, 1)
	c32, s32 := at(plain, 8, 1, 1)
	if !same(c16, s16, c32, s32) {
		t.Error("rope_grid 0: 16 px patch (1,1) moved")
	}
	// A non-square image (a 32×64 dual panel) keeps square units: the shorter side sets the scale.
	tall := RopeData(aligned, Shape{Batch: 1, Height: 64, Width: 32, CapLen: 8}, capLens)[1]
	cT, sT := at(tall, 8, 3, 5)
	cH, sH := at(hi, 8, 3, 5)
	if !same(cT, sT, cH, sH) {
		t.Error("rope_grid 8: a 32×64 panel's patch (3,5) is not where a 32 px image's is")
	}
}
