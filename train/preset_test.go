package train

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestEmbeddedPresetsValidate(t *testing.T) {
	names := PresetNames()
	for _, want := range []string{"tiny-cpu", "gpu-base"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Fatalf("preset %s missing from %v", want, names)
		}
	}
	for _, n := range names {
		p, err := LoadPreset(n, "")
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if p.Name != n {
			t.Errorf("preset file %s names itself %q", n, p.Name)
		}
		// Stages 0–3 of the recipe, and stage 4 the dual-panel one.
		if len(p.Stages) != 5 || p.Stages[0].Kind != KindTextEncoder || p.Stages[4].DualPanel == nil {
			t.Errorf("%s: stages %+v", n, p.Stages)
		}
		subs := []float64{p.Stages[1].Subset, p.Stages[2].Subset, p.Stages[3].Subset}
		if subs[0] != 1 || subs[1] != 0.1 || subs[2] != 0.01 {
			t.Errorf("%s: stage subsets %v, want 1, 0.1, 0.01", n, subs)
		}
		// A preset round-trips through config.yaml.
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParsePreset(b, "round trip")
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := q.Marshal()
		if string(b) != string(b2) {
			t.Errorf("%s does not round-trip", n)
		}
	}
	def, err := LoadPreset("", "")
	if err != nil || def.Name != DefaultPreset {
		t.Fatalf("default preset: %v %v", def, err)
	}
	// The wall-clock caps of the stages a full tiny-cpu run trains add up to at most 30 minutes.
	var minutes float64
	for _, s := range def.Stages {
		if s.Skip {
			continue
		}
		if s.Minutes == 0 {
			t.Errorf("tiny-cpu stage %s has no wall-clock cap", s.Name)
		}
		minutes += s.Minutes
	}
	if minutes > 30 {
		t.Errorf("tiny-cpu stages may take %v minutes, more than 30", minutes)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "my-config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigOverlay(t *testing.T) {
	path := writeConfig(t, "seed: 42\ncaptions:\n  dropout: 0.2\nstages:\n  - name: high-res\n    steps: 77\n")
	p, err := LoadPreset("", path)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := LoadPreset("tiny-cpu", "")
	if p.Seed != 42 || p.Captions.Dropout != 0.2 || p.Stages[2].Steps != 77 {
		t.Fatalf("overlay not applied: seed %d dropout %v steps %d", p.Seed, p.Captions.Dropout, p.Stages[2].Steps)
	}
	// Everything the file does not name stays the base's.
	if p.Stages[2].Resolution != base.Stages[2].Resolution || p.Captions.ZhFrac != base.Captions.ZhFrac ||
		p.Stages[1].Steps != base.Stages[1].Steps || len(p.Stages) != len(base.Stages) {
		t.Error("overlay changed fields it did not name")
	}
	// base: in the file, and a conflicting --preset.
	path = writeConfig(t, "base: gpu-base\nseed: 3\n")
	if p, err := LoadPreset("", path); err != nil || p.Name != "gpu-base" {
		t.Fatalf("base from file: %v %v", p, err)
	}
	if _, err := LoadPreset("tiny-cpu", path); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("conflicting base: %v", err)
	}
}

func TestConfigErrorsNameKeyAndFile(t *testing.T) {
	cases := []struct {
		body string
		want []string
	}{
		{"seed: 1\ncaptions:\n  dropuot: 0.2\n", []string{"my-config.yaml", `unknown key "dropuot"`, "line 3"}},
		{"stages:\n  - name: low-res\n    resolutoin: 64\n", []string{"my-config.yaml", `unknown key "resolutoin"`}},
		{"stages:\n  - name: low-res\n    lr: 0\n", []string{"my-config.yaml", "stages[1] (low-res).lr", "(0, 1]"}},
		{"stages:\n  - name: low-res\n    resolution: 30\n", []string{"stages[1] (low-res).resolution 30", "divisible by 4"}},
		{"captions:\n  dropout: 1.5\n", []string{"captions.dropout 1.5", "[0, 1]"}},
		{"captions:\n  mix: {detailed: 0, medium: 0, short: 0, tag: 0, brief: 0}\n", []string{"captions.mix"}},
		{"objective:\n  t_dist: gaussian\n", []string{"objective.t_dist", "uniform", "logit-normal"}},
		{"stages:\n  - name: hq-tune\n    subset: 0\n", []string{"stages[3] (hq-tune).subset 0", "(0, 1]"}},
		{"stages:\n  - name: extra\n", []string{"stages[5] (extra).kind"}},
		{"checkpoints:\n  keep_last: 0\n", []string{"checkpoints.keep_last 0", "1..1000"}},
		{"seed: [1, 2]\n", []string{"my-config.yaml", "line 1"}},
		{"text_feature_layer: 3\n", []string{"text_feature_layer 3", "outside 1..2"}},
		{"text_feature_layer: -1\n", []string{"text_feature_layer -1"}},
		{"rope_grid: -8\n", []string{"rope_grid -8", "0..4096"}},
		{"data:\n  sampler:\n    size_weights: [1, 2]\n", []string{"data.sampler", "size_weights has 2 weights, want 3"}},
	}
	for _, c := range cases {
		_, err := LoadPreset("", writeConfig(t, c.body))
		if err == nil {
			t.Errorf("%q accepted", c.body)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", c.body, err, w)
			}
		}
	}
	if _, err := LoadPreset("nope", ""); err == nil || !strings.Contains(err.Error(), "tiny-cpu") {
		t.Errorf("unknown preset: %v", err)
	}
	if _, err := LoadPreset("", filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// Every experiment config under docs/experiments loads over its base preset and validates, so the
// commands the README and docs/experiments quote keep working as the presets change.
func TestExperimentConfigsLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "docs", "experiments", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found %d experiment configs (%v), want the recipe ones", len(files), files)
	}
	for _, f := range files {
		p, err := LoadPreset("", f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if p.Name == DefaultPreset {
			t.Errorf("%s: names itself %q; an experiment needs its own name", f, p.Name)
		}
	}
}

// roundTrip checks that p, written as a run writes config.yaml, reads back to exactly p: alone, and as
// a --config file over its base preset (where a field the file leaves out keeps the base's value).
func roundTrip(t *testing.T, what string, p *Preset) {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParsePreset(b, what)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("%s: config.yaml parses to another preset:\n%s", what, b)
	}
	file := writeConfig(t, string(b))
	for _, name := range []string{"", p.Base} {
		q, err := LoadPreset(name, file)
		if err != nil {
			t.Fatalf("%s as --config (--preset %q): %v", what, name, err)
		}
		if !reflect.DeepEqual(p, q) {
			qb, _ := q.Marshal()
			t.Errorf("%s as --config (--preset %q) reads back as another preset:\n%s", what, name, lineDiff(string(b), string(qb)))
		}
	}
}

func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d: written %q, read back %q", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("written %d lines, read back %d", len(al), len(bl))
}

func TestConfigRoundTripIsExact(t *testing.T) {
	for _, n := range PresetNames() {
		p, err := LoadPreset(n, "")
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, "preset "+n, p)
	}
	files, _ := filepath.Glob(filepath.Join("..", "docs", "experiments", "*", "*.yaml"))
	for _, f := range files {
		p, err := LoadPreset("", f)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, f, p)
	}
	// Zeros where the base preset has values: every field that the compact encoding leaves out.
	p, err := LoadPreset("", writeConfig(t, `
description: ""
caption_tokens: 0
caption_context: ""
text_feature_layer: 0
data:
  sampler:
    object_weights: null
    size_weights: null
stages:
  - name: text-encoder
    minutes: 0
    checkpoint_every: 0
  - name: low-res
    minutes: 0
    sample_every: 0
  - name: high-res
    minutes: 0
    aux_loss: false
  - name: unified
    skip: false
    dual_panel: null
    warmup: 0
`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Stages[0].Minutes != 0 || p.CaptionTokens != 0 || p.Data.Sampler.ObjectWeights != nil || p.Stages[4].DualPanel != nil {
		t.Fatalf("the zeros did not overlay: %+v", p)
	}
	roundTrip(t, "zeros over tiny-cpu", p)
	// A preset with another base, given without --preset: its own base: decides.
	q, err := LoadPreset("gpu-base", writeConfig(t, "stages:\n  - name: low-res\n    minutes: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, "gpu-base with minutes 0", q)
}
