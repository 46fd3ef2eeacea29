package train

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/internal/fuzzseed"
)

// presetSeeds are the embedded presets and the experiment configs under docs/experiments.
func presetSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, n := range PresetNames() {
		b, err := presetFS.ReadFile("presets/" + n + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return append(seeds, fuzzseed.Glob(f, "docs/experiments/*/*.yaml")...)
}

// checkPresetRoundTrip: a parsed preset writes as YAML that parses back to the same YAML (compared as
// text, since a preset may hold NaN), and Clone, which goes the same way, keeps it.
func checkPresetRoundTrip(t *testing.T, p *Preset) {
	t.Helper()
	out, err := p.Marshal()
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	q, err := ParsePreset(out, "round trip")
	if err != nil {
		t.Fatalf("a parsed preset, written out, does not parse: %v\n%s", err, out)
	}
	again, err := q.Marshal()
	if err != nil || !bytes.Equal(out, again) {
		t.Fatalf("the preset changed in a round trip: %v\n%s\nthen\n%s", err, out, again)
	}
	if c, _ := p.Clone().Marshal(); !bytes.Equal(out, c) {
		t.Fatal("Clone changed the preset")
	}
}

// FuzzParsePreset: no text panics ParsePreset or Validate; an error names where the text came from;
// whatever parses round-trips through Marshal and Clone.
func FuzzParsePreset(f *testing.F) {
	for _, b := range presetSeeds(f) {
		f.Add(b)
	}
	f.Add([]byte("name: x\nstages:\n  - {name: a, kind: dit, resolution: .nan, lr: .inf}\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePreset(b, "fuzz.yaml")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error %q does not name the source", err)
			}
			return
		}
		_ = p.Validate() // any verdict, but no panic
		checkPresetRoundTrip(t, p)
	})
}

// FuzzLoadPresetConfig overlays a fuzzed --config file on the embedded presets, as `lumina train
// --config` does. Nothing panics; an error names the file or the unknown base preset; a preset that
// loads is valid, round-trips, and is the same when the file is overlaid on it once more (a key the
// file names replaces what was there).
func FuzzLoadPresetConfig(f *testing.F) {
	for _, b := range presetSeeds(f) {
		f.Add(b)
	}
	for _, s := range []string{
		"seed: 42\ncaptions:\n  dropout: 0.2\nstages:\n  - name: high-res\n    steps: 77\n",
		"base: gpu-base\nseed: 3\n",
		"stages:\n  - name: extra\n    kind: dit\n    resolution: 16\n    subset: 1\n    steps: 5\n    batch: 2\n    lr: 0.001\n",
		"stages:\n  - name: unified\n    skip: false\n    dual_panel: {frac: 1, kinds: [mask]}\n",
		"- just\n- a list\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := fuzzseed.WriteTemp(t, "config.yaml", b)
		p, err := LoadPreset("", path)
		if err != nil {
			if msg := err.Error(); !strings.Contains(msg, path) && !strings.Contains(msg, "unknown preset") {
				t.Fatalf("error %q names neither the file nor the preset", msg)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("LoadPreset returned an invalid preset: %v", err)
		}
		checkPresetRoundTrip(t, p)
		twice := p.Clone()
		if err := overlay(twice, b, path); err != nil {
			t.Fatalf("the file overlays its base but not its own result: %v", err)
		}
		once, _ := p.Marshal()
		if again, _ := twice.Marshal(); !bytes.Equal(once, again) {
			t.Fatalf("overlaying the file twice differs from once:\n%s\nthen\n%s", once, again)
		}
	})
}
