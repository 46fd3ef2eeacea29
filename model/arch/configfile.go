package arch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// ParamGroup is one part of the model in a parameter breakdown.
type ParamGroup struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// ParamGroups splits ParamCount into the parts a reader compares across configs: the embedders,
// the two kinds of refiner, the main joint blocks and the final layer. The groups partition
// ParamShapes, so they always sum to ParamCount.
func (c Config) ParamGroups() []ParamGroup {
	groups := []ParamGroup{{Name: "embedders"}, {Name: "noise refiners"}, {Name: "context refiners"},
		{Name: "main layers"}, {Name: "final"}}
	for _, p := range c.ParamShapes() {
		g := 0
		switch {
		case strings.HasPrefix(p.Name, "noise_ref."):
			g = 1
		case strings.HasPrefix(p.Name, "ctx_ref."):
			g = 2
		case strings.HasPrefix(p.Name, "layers."):
			g = 3
		case strings.HasPrefix(p.Name, "final"):
			g = 4
		}
		groups[g].Count += int64(p.Size())
	}
	return groups
}

// configFile mirrors Config with a slice for axes_dims: encoding/json fills a [3]int from a
// two-element list with a silent zero and drops a fourth element, and a config file with the wrong
// number of axes should be refused by name instead.
type configFile struct {
	Name       string  `json:"name" yaml:"name"`
	Dim        int     `json:"dim" yaml:"dim"`
	Layers     int     `json:"layers" yaml:"layers"`
	Heads      int     `json:"heads" yaml:"heads"`
	KVHeads    int     `json:"kv_heads" yaml:"kv_heads"`
	AxesDims   []int   `json:"axes_dims" yaml:"axes_dims"`
	MultipleOf int     `json:"multiple_of" yaml:"multiple_of"`
	Refiners   int     `json:"refiners" yaml:"refiners"`
	Patch      int     `json:"patch" yaml:"patch"`
	Channels   int     `json:"channels" yaml:"channels"`
	CapDim     int     `json:"cap_dim" yaml:"cap_dim"`
	FreqDim    int     `json:"freq_dim" yaml:"freq_dim"`
	AdaLNMax   int     `json:"adaln_max" yaml:"adaln_max"`
	NormEps    float64 `json:"norm_eps" yaml:"norm_eps"`
	RopeGrid   int     `json:"rope_grid" yaml:"rope_grid"`
	// TextInjection is joint or cross; absent is joint.
	TextInjection string `json:"text_injection" yaml:"text_injection"`
}

// ParseConfig reads a Config from JSON or YAML text (JSON is tried when the text starts with '{').
// Unknown fields are refused, so a misspelt key cannot silently fall back to zero; the result is
// validated. An empty name becomes fallbackName.
func ParseConfig(b []byte, fallbackName string) (Config, error) {
	var f configFile
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return Config{}, fmt.Errorf("parse JSON config: %w", err)
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			return Config{}, fmt.Errorf("parse YAML config: %w", err)
		}
	}
	if len(f.AxesDims) != 3 {
		return Config{}, fmt.Errorf("config %q: axes_dims has %d entries, want 3 (caption index, row, col)", f.Name, len(f.AxesDims))
	}
	c := Config{Name: f.Name, Dim: f.Dim, Layers: f.Layers, Heads: f.Heads, KVHeads: f.KVHeads,
		AxesDims: [3]int{f.AxesDims[0], f.AxesDims[1], f.AxesDims[2]}, MultipleOf: f.MultipleOf, Refiners: f.Refiners,
		Patch: f.Patch, Channels: f.Channels, CapDim: f.CapDim, FreqDim: f.FreqDim, AdaLNMax: f.AdaLNMax, NormEps: f.NormEps,
		RopeGrid: f.RopeGrid, TextInjection: f.TextInjection}
	if c.Name == "" {
		c.Name = fallbackName
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c.Canonical(), nil
}

// LoadConfigFile reads a Config from a .json, .yaml or .yml file.
func LoadConfigFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	c, err := ParseConfig(b, base)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, nil
}

// ResolveConfig accepts either a registered name or the path of a config file; a registered name
// wins, so a stray file called "tiny" in the working directory cannot shadow the preset.
func ResolveConfig(nameOrPath string) (Config, error) {
	if c, err := LookupConfig(nameOrPath); err == nil {
		return c, nil
	}
	if st, err := os.Stat(nameOrPath); err == nil && !st.IsDir() {
		return LoadConfigFile(nameOrPath)
	}
	_, err := LookupConfig(nameOrPath)
	return Config{}, fmt.Errorf("%w, and no config file by that path", err)
}
