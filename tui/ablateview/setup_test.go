package ablateview

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/ablation"
)

func rowOf(t *testing.T, s *Setup, key string) int {
	t.Helper()
	for i, r := range s.Rows {
		if r.Key == key {
			return i
		}
	}
	t.Fatalf("no row %s", key)
	return -1
}

func TestSetupMakesTheGrid(t *testing.T) {
	s := NewSetup(ablation.DefaultSetting("ck.safetensors"))
	g, err := s.Grid("x")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Cells()) != 1 || len(g.Prompts) != 18 || g.Seeds != 1 || s.Name() != "single" {
		t.Fatalf("default: %d cells × %d prompts × %d seeds, name %s", len(g.Cells()), len(g.Prompts), g.Seeds, s.Name())
	}
	cfg, renorm := rowOf(t, s, "cfg"), rowOf(t, s, "renorm")
	s.Toggle(cfg, slices.Index(s.Rows[cfg].Values, "8"))
	s.Toggle(renorm, slices.Index(s.Rows[renorm].Values, "0"))
	// The last chosen value of an axis stays chosen.
	steps := rowOf(t, s, "steps")
	s.Toggle(steps, slices.Index(s.Rows[steps].Values, "30"))
	p := rowOf(t, s, "prompts")
	s.Toggle(p, 0) // quick:2, its first 2 prompts
	s.Toggle(rowOf(t, s, "seeds"), 1)
	g, err = s.Grid("cfg-renorm")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Cells()) != 4 || len(g.Prompts) != 2 || g.Seeds != 2 || s.Name() != "cfg-renorm" || g.Name != "cfg-renorm" {
		t.Fatalf("%d cells × %d prompts × %d seeds, name %s", len(g.Cells()), len(g.Prompts), g.Seeds, s.Name())
	}
	// The reference is the defaults' cell (cfg 4, renorm 1), wherever it falls in the product.
	if ref := g.Cells()[g.Reference].Setting; ref.CFG != 4 || ref.Renorm != 1 || ref.Ckpt != "ck.safetensors" || ref.Steps != 30 {
		t.Errorf("reference %+v", ref)
	}
	// The YAML is a grid file `lumina ablate --grid` reads to the same grid.
	again, err := ablation.ParseGrid(s.YAML("cfg-renorm"), "f.yaml", ablation.DefaultSetting("ck.safetensors"))
	if err != nil || string(again.Marshal()) != string(g.Marshal()) {
		t.Errorf("round trip: %v\n%s", err, s.YAML("cfg-renorm"))
	}
}

func TestSetupAddRefusesWithTheGridsMessage(t *testing.T) {
	s := NewSetup(ablation.DefaultSetting("ck.safetensors"))
	cfg := rowOf(t, s, "cfg")
	if err := s.Add(cfg, "12"); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.Rows[cfg].Chosen(), "12") {
		t.Errorf("12 not chosen: %v", s.Rows[cfg].Chosen())
	}
	for _, c := range []struct{ key, v, want string }{
		{"cfg", "99", "cfg must be a number in [0, 50]"},
		{"cfg", "abc", "cfg takes a number"},
		{"solver", "heun", "solver must be one of euler, midpoint, fdpm"},
		{"steps", "", "type a value"},
		{"prompts", "3", "takes one of the values listed"},
	} {
		err := s.Add(rowOf(t, s, c.key), c.v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v, want %q", c.key, c.v, err, c.want)
		}
	}
	if n := len(s.Rows[cfg].Values); n != 5 {
		t.Errorf("refused values were kept: %v", s.Rows[cfg].Values)
	}
}

func TestEstimate(t *testing.T) {
	s := NewSetup(ablation.DefaultSetting("ck"))
	g, _ := s.Grid("x")
	// Euler 30 under CFG: 29 evaluations, two forwards each, at 32 px; 18 prompts.
	if got, want := Estimate(g, time.Millisecond), time.Duration(29*2*18)*time.Millisecond; got != want {
		t.Errorf("estimate %v, want %v", got, want)
	}
	s.Toggle(rowOf(t, s, "res"), 0) // 16 px too: a quarter of the pixels
	g, _ = s.Grid("x")
	if got, want := Estimate(g, time.Millisecond), time.Duration(29*2*18*5/4)*time.Millisecond; got != want {
		t.Errorf("with 16 px: %v, want %v", got, want)
	}
}
