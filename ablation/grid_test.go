package ablation

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testDefaults = DefaultSetting("model.safetensors")

// Every shipped grid parses, has its reference among its cells, and its resolved form reads back as
// the same grid.
func TestShippedGridsParseAndRoundTrip(t *testing.T) {
	if len(Shipped()) < 4 {
		t.Fatalf("shipped grids %v, want the three claims' and the benchmark's", Shipped())
	}
	for _, name := range Shipped() {
		g, err := ShippedGrid(name, testDefaults)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(g.Swept()) == 0 || g.Images() == 0 {
			t.Errorf("%s sweeps nothing", name)
		}
		b := g.Marshal()
		g2, err := ParseGrid(b, "resolved", DefaultSetting("other.safetensors"))
		if err != nil {
			t.Fatalf("%s: its resolved form does not parse: %v\n%s", name, err, b)
		}
		if string(g2.Marshal()) != string(b) || g2.Reference != g.Reference || len(g2.Cells()) != len(g.Cells()) {
			t.Errorf("%s: resolved form does not round-trip:\n%s\n%s", name, b, g2.Marshal())
		}
	}
}

func TestCellsAndReference(t *testing.T) {
	src := `method: grid
parameters:
  cfg: {values: [2, 4]}
  steps: {value: 20}
  solver: {values: [euler, fdpm]}
  ckpt: {value: runs/x/final.safetensors}
prompts: [a red circle, two blue squares]
seeds: 3
reference: {cfg: 4, solver: euler}
`
	g, err := ParseGrid([]byte(src), "g.yaml", testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range g.Cells() {
		ids = append(ids, c.ID)
	}
	// Keys order cells (solver before cfg), the first key slowest.
	want := "solver-euler_cfg-2 solver-euler_cfg-4 solver-fdpm_cfg-2 solver-fdpm_cfg-4"
	if strings.Join(ids, " ") != want {
		t.Errorf("cells %v, want %s", ids, want)
	}
	if g.Reference != 1 {
		t.Errorf("reference %d, want 1 (solver euler, cfg 4)", g.Reference)
	}
	c := g.Cells()[2].Setting
	if c.Ckpt != "runs/x/final.safetensors" || c.Steps != 20 || c.Solver != "fdpm" || c.CFG != 2 || c.Shift != testDefaults.Shift || c.Res != 32 {
		t.Errorf("cell 2 %+v", c)
	}
	if g.Images() != 4*2*3 || len(g.Prompts) != 2 || g.Prompts[1].ID != "p002" || len(g.Prompts[1].Facts) == 0 {
		t.Errorf("images %d, prompts %+v", g.Images(), g.Prompts)
	}
}

// Every refusal names the file and the line of the offending value, before anything runs.
func TestGridRefusals(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "prompts.txt"), []byte("# comment\na red circle\nhello world\n"), 0o644)
	ok := "method: grid\nparameters:\n  cfg: {values: [2, 4]}\nprompts: quick\nseeds: 2\nreference: {cfg: 4}\n"
	for _, c := range []struct {
		name, src string
		file      string // the file the error names, when not the grid
		line      int
		want      string
	}{
		{"not yaml", "method: [grid", "", 0, "not YAML"},
		{"not a mapping", "- a\n- b\n", "", 1, "a grid is a mapping"},
		{"unknown key", strings.Replace(ok, "seeds: 2", "seeds: 2\nmetric: score", 1), "", 6, `unknown key "metric"`},
		{"method missing", strings.Replace(ok, "method: grid\n", "", 1), "", 1, "method missing"},
		{"method random", strings.Replace(ok, "method: grid", "method: random", 1), "", 1, "only grid is supported"},
		{"empty grid", "method: grid\nparameters: {}\nprompts: quick\n", "", 2, "the grid sweeps nothing"},
		{"no parameters", "method: grid\nprompts: quick\n", "", 1, "the grid sweeps nothing"},
		{"unknown parameter", strings.Replace(ok, "  cfg:", "  guidance: {value: 2}\n  cfg:", 1), "", 3, `unknown parameter "guidance"`},
		{"cfg out of range", strings.Replace(ok, "[2, 4]", "[2,\n    60]", 1), "", 4, "cfg must be a number in [0, 50] (1 = no guidance), got 60"},
		{"steps too few", strings.Replace(ok, "  cfg: {values: [2, 4]}", "  cfg: {values: [2, 4]}\n  steps: {value: 1}", 1), "", 4, "steps must be an integer in 2..1000, got 1"},
		{"steps not an integer", strings.Replace(ok, "  cfg: {values: [2, 4]}", "  cfg: {values: [2, 4]}\n  steps: {value: 2.5}", 1), "", 4, `steps: "2.5" is not an integer`},
		{"cfg not a number", strings.Replace(ok, "[2, 4]", "[2, high]", 1), "", 3, `cfg: "high" is not a number`},
		{"bad solver", strings.Replace(ok, "  cfg:", "  solver: {value: rk4}\n  cfg:", 1), "", 3, `solver must be one of euler, midpoint, fdpm, got "rk4"`},
		{"bad system", strings.Replace(ok, "  cfg:", "  system: {value: D}\n  cfg:", 1), "", 3, `system must be A, B, C or none, got "D"`},
		{"res out of range", strings.Replace(ok, "  cfg:", "  res: {value: 8}\n  cfg:", 1), "", 3, "res must be in 16..256, got 8"},
		{"trunc out of range", strings.Replace(ok, "  cfg:", "  trunc: {values: [1, 1.5]}\n  cfg:", 1), "", 3, "trunc must be a number in [0, 1] (1 = off), got 1.5"},
		{"value and values", strings.Replace(ok, "{values: [2, 4]}", "{value: 2, values: [2, 4]}", 1), "", 3, "give exactly one of value and values"},
		{"empty values", strings.Replace(ok, "[2, 4]", "[]", 1), "", 3, "values is empty"},
		{"duplicate value", strings.Replace(ok, "[2, 4]", "[2, 4, 2.0]", 1), "", 3, "value 2 is listed twice"},
		{"distribution", strings.Replace(ok, "{values: [2, 4]}", "{min: 2, max: 4}", 1), "", 3, `"min" is not supported in a grid`},
		{"seeds zero", strings.Replace(ok, "seeds: 2", "seeds: 0", 1), "", 5, "seeds must be an integer in 1..1000"},
		{"prompts missing", strings.Replace(ok, "prompts: quick\n", "", 1), "", 1, "prompts missing"},
		{"prompts empty", strings.Replace(ok, "prompts: quick", "prompts: []", 1), "", 4, "prompts is an empty list"},
		{"prompt file missing", strings.Replace(ok, "prompts: quick", "prompts: nope.txt", 1), "", 4, `"nope.txt" is neither a ToyEval suite`},
		{"prompt without facts", strings.Replace(ok, "prompts: quick", "prompts: prompts.txt", 1), filepath.Join(dir, "prompts.txt"), 3, "ToyEval finds nothing to check in \"hello world\""},
		{"list prompt without facts", strings.Replace(ok, "prompts: quick", "prompts:\n  - a red circle\n  - lorem ipsum", 1), "", 6, "ToyEval finds nothing to check"},
		{"reference missing", strings.Replace(ok, "reference: {cfg: 4}\n", "", 1), "", 1, "reference missing"},
		{"reference not a cell", strings.Replace(ok, "{cfg: 4}", "{cfg: 5}", 1), "", 6, "reference cfg: 5 is not one of the grid's values (2, 4)"},
		{"reference misses a swept key", strings.Replace(strings.Replace(ok, "  cfg:", "  renorm: {values: [0, 1]}\n  cfg:", 1), "{cfg: 4}", "{cfg: 4}", 1), "", 7, "reference gives no value for the swept key(s) renorm"},
		{"reference unknown key", strings.Replace(ok, "{cfg: 4}", "{cfg: 4, guidance: 2}", 1), "", 6, `reference: unknown key "guidance"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, "grid.yaml")
			_, err := ParseGrid([]byte(c.src), file, testDefaults)
			var ge *GridError
			if !errors.As(err, &ge) {
				t.Fatalf("got %v, want a GridError", err)
			}
			wantFile := file
			if c.file != "" {
				wantFile = c.file
			}
			if ge.File != wantFile || ge.Line != c.line || !strings.Contains(ge.Msg, c.want) {
				t.Fatalf("got %q (file %s, line %d), want %s line %d: %q", err, ge.File, ge.Line, wantFile, c.line, c.want)
			}
			if c.line > 0 && !strings.Contains(err.Error(), wantFile+" line ") {
				t.Errorf("%q does not name the file and line", err)
			}
		})
	}
	if _, err := ParseGrid([]byte(ok), filepath.Join(dir, "grid.yaml"), testDefaults); err != nil {
		t.Fatalf("the valid base grid is refused: %v", err)
	}
}

// With replaces values and checks them as a grid file's.
func TestGridWith(t *testing.T) {
	g, err := ShippedGrid("bench", testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := g.With(map[string][]string{KeySteps: {"12"}, KeyTeaCache: {"0"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(g2.Cells()) != 4 || g2.Cells()[0].Setting.Steps != 12 || g2.Cells()[g2.Reference].ID != "renorm-0_trunc-1" {
		t.Errorf("with steps 12 and TeaCache off: %d cells, %+v, reference %s", len(g2.Cells()), g2.Cells()[0].Setting, g2.Cells()[g2.Reference].ID)
	}
	if _, err := g.With(map[string][]string{KeyCFG: {"99"}}); err == nil || !strings.Contains(err.Error(), "cfg must be a number in [0, 50]") {
		t.Errorf("cfg 99: %v", err)
	}
}

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Shard
		err  string
	}{
		{"0/4", Shard{Index: 0, Count: 4}, ""}, {"3/4", Shard{Index: 3, Count: 4}, ""}, {"4/4", Shard{}, "0 ≤ I < N"}, {"-1/4", Shard{}, "0 ≤ I < N"},
		{"1/0", Shard{}, "0 ≤ I < N"}, {"1", Shard{}, "want I/N"}, {"1/4x", Shard{}, "want I/N"},
	} {
		got, err := ParseShard(c.in)
		if c.err == "" && (err != nil || got != c.want) || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ParseShard(%q) = %v, %v; want %v, %q", c.in, got, err, c.want, c.err)
		}
	}
}
