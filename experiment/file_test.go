package experiment

import (
	"strings"
	"testing"
)

const okFile = `name: t
base: tiny-cpu
common:
  data: {items: 200}
  samples: {prompts: []}
  eval: {suite: quick}
  stages:
    - {name: high-res, skip: true}
    - {name: hq-tune, skip: true}
steps:
  text-encoder: 3
  low-res: 5
seeds: [1, 2]
variants:
  fast:
    stages: [{name: low-res, lr: 0.002}]
  slow:
    stages: [{name: low-res, lr: 0.0005}]
`

func TestParse(t *testing.T) {
	e, err := Parse([]byte(okFile), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Variants) != 2 || e.Variants[0].Name != "fast" || e.Variants[0].Line != 15 {
		t.Fatalf("variants %+v", e.Variants)
	}
	p := e.Variants[1].Preset
	if p.Stages[1].Steps != 5 || p.Stages[1].LR != 0.0005 || p.Stages[0].Steps != 3 || !p.Stages[2].Skip || p.Data.Items != 200 {
		t.Errorf("variant slow: %+v", p.Stages[:2])
	}
	if p.Name != "t-slow" {
		t.Errorf("preset name %q", p.Name)
	}
	runs := e.Runs()
	if len(runs) != 4 || runs[1].Folder() != "runs/slow-seed1" || runs[2].Folder() != "runs/fast-seed2" {
		t.Errorf("runs %+v", runs)
	}
	if got := e.Preset(runs[2]).Seed; got != 2 {
		t.Errorf("run seed %d", got)
	}
}

// Every refusal names the file and the line at fault.
func TestParseRefusals(t *testing.T) {
	for _, c := range []struct{ name, from, to, want string }{
		{"unknown key", "    stages: [{name: low-res, lr: 0.002}]", "    stages: [{name: low-res, lrr: 0.002}]", `t.yaml: line 16: unknown key "lrr"`},
		{"unknown top key", "seeds: [1, 2]", "seeds: [1, 2]\nrepeats: 3", `t.yaml: line 14: unknown key "repeats"`},
		{"no-op", "lr: 0.0005", "lr: 0.001", "t.yaml line 17: variant slow: changes nothing relative to the base"},
		{"duplicate", "  slow:", "  fast:", `t.yaml: line 17: mapping key "fast" already defined at line 15`},
		{"same recipe", "lr: 0.0005", "lr: 0.002", "line 17: variant slow: trains the same recipe as variant fast"},
		{"empty", "  slow:\n    stages: [{name: low-res, lr: 0.0005}]", "  slow: {}", "line 17: variant slow: empty"},
		{"no seeds", "seeds: [1, 2]", "seeds: []", "t.yaml line 13: seeds: give a list"},
		{"repeated seed", "seeds: [1, 2]", "seeds: [2, 2]", "line 13: seeds: 2 is listed twice"},
		{"negative seed", "seeds: [1, 2]", "seeds: [-1]", "line 13: cannot unmarshal !!int `-1`"},
		{"seed in a variant", "    stages: [{name: low-res, lr: 0.002}]", "    seed: 3", "line 16: variant fast: seed is set per run"},
		{"unknown stage", "  low-res: 5", "  lo-res: 5", `line 12: steps: preset tiny-cpu has no stage "lo-res"`},
		{"both budgets", "seeds: [1, 2]", "total_steps: 9\nseeds: [1, 2]", "give steps (per stage) or total_steps, not both"},
		{"bad value", "lr: 0.0005", "lr: 5", "line 17: variant slow: stages[1] (low-res).lr 5 outside (0, 1]"},
		{"bad name", "  slow:", "  Slow One:", "variant Slow One: use 1–40"},
		{"eval per variant", "lr: 0.0005}]", "lr: 0.0005}]\n    eval: {seed: 3}", "eval differs from the base's"},
		{"unknown base", "base: tiny-cpu", "base: tiny", `line 2: unknown preset "tiny"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(okFile, c.from, c.to, 1)
			if src == okFile {
				t.Fatal("the edit changed nothing")
			}
			_, err := Parse([]byte(src), "t.yaml")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

// A baseline runs the base itself first; total_steps splits in proportion to the base's steps (the
// largest remainders get the steps left over) and scales each stage's warm-up with it.
func TestBaselineAndTotalSteps(t *testing.T) {
	src := strings.Replace(okFile, "steps:\n  text-encoder: 3\n  low-res: 5\n", "total_steps: 29\nbaseline: base\n", 1)
	e, err := Parse([]byte(src), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if e.Variants[0].Name != "base" || len(e.Variants) != 3 {
		t.Fatalf("variants %v", e.Variants)
	}
	// tiny-cpu: text-encoder 200, low-res 2700 steps: 29·200/2900 = 2, 29·2700/2900 = 27.
	st := e.Variants[0].Preset.Stages
	if st[0].Steps != 2 || st[1].Steps != 27 {
		t.Errorf("split %d + %d, want 2 + 27", st[0].Steps, st[1].Steps)
	}
	// Warm-ups 30 and 100 scale to round(30·2/200) = 0 → at least 1, round(100·27/2700) = 1.
	if st[0].Warmup != 1 || st[1].Warmup != 1 {
		t.Errorf("warm-ups %d, %d", st[0].Warmup, st[1].Warmup)
	}
	src = strings.Replace(src, "total_steps: 29", "total_steps: 30", 1)
	e, _ = Parse([]byte(src), "t.yaml")
	// 30·200/2900 = 2.07, 30·2700/2900 = 27.93: the extra step goes to the larger remainder.
	if st := e.Variants[0].Preset.Stages; st[0].Steps != 2 || st[1].Steps != 28 {
		t.Errorf("split %d + %d, want 2 + 28", st[0].Steps, st[1].Steps)
	}
}

// Every shipped experiment parses, has two or more seeds, and changes something per variant.
func TestShippedExperimentsParse(t *testing.T) {
	if len(Shipped()) < 3 {
		t.Fatalf("shipped: %v", Shipped())
	}
	for _, n := range Shipped() {
		e, err := ShippedExperiment(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if len(e.Seeds) < 2 || len(e.Variants) < 2 || e.Name != n {
			t.Errorf("%s: %d seeds, %d variants, name %q", n, len(e.Seeds), len(e.Variants), e.Name)
		}
	}
}

// The injection experiment waits for its preset key: once text_injection parses, this fails, the cue
// to move the file into train/experiments/ (shipped).
func TestPendingInjectionWaitsForItsKey(t *testing.T) {
	_, err := Read("../train/experiments/pending/injection.yaml")
	if err == nil || !strings.Contains(err.Error(), `unknown key "text_injection"`) {
		t.Fatalf("got %v: if text_injection now parses, move train/experiments/pending/injection.yaml up to train/experiments/", err)
	}
}
