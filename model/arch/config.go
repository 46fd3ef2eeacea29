// Package arch describes the two networks without building them: the Next-DiT's and the causal text
// encoder's configs, their registries of named sizes, and every parameter's name and shape. It holds
// no tensors and imports no graph library, so presets, the command line and the TUI can name, count
// and check a model without Gorgonia; the graphs in model and model/textenc are built from it.
package arch

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Config is a Next-DiT's architecture. Every shape, the parameter count and the built graph come from
// it, through ParamShapes, so the analytic count and the graph cannot disagree.
type Config struct {
	Name       string  `json:"name" yaml:"name"`
	Dim        int     `json:"dim" yaml:"dim"`                 // token width
	Layers     int     `json:"layers" yaml:"layers"`           // main joint blocks
	Heads      int     `json:"heads" yaml:"heads"`             // query heads
	KVHeads    int     `json:"kv_heads" yaml:"kv_heads"`       // key/value heads (grouped-query attention)
	AxesDims   [3]int  `json:"axes_dims" yaml:"axes_dims"`     // RoPE split of head_dim: (caption index, row, col)
	MultipleOf int     `json:"multiple_of" yaml:"multiple_of"` // FFN hidden = 4·Dim rounded up to this
	Refiners   int     `json:"refiners" yaml:"refiners"`       // noise refiners, and as many context refiners
	Patch      int     `json:"patch" yaml:"patch"`
	Channels   int     `json:"channels" yaml:"channels"` // image channels (3: we diffuse pixels, not VAE latents)
	CapDim     int     `json:"cap_dim" yaml:"cap_dim"`   // text encoder feature width
	FreqDim    int     `json:"freq_dim" yaml:"freq_dim"` // sinusoidal timestep embedding width
	AdaLNMax   int     `json:"adaln_max" yaml:"adaln_max"`
	NormEps    float64 `json:"norm_eps" yaml:"norm_eps"`
	// RopeGrid, when positive, measures image positions in units of 1/RopeGrid of the image's shorter
	// side instead of in patches: the patch at row r of an h-row grid sits at r·RopeGrid/min(h, w)
	// (position interpolation). A low-resolution stage then trains the same positions, scaled, that the
	// high-resolution stages and sampling use, so "left" at 16 px is "left" at 32 px. 0 (the reference,
	// and every registered config) counts patches.
	RopeGrid int `json:"rope_grid,omitempty" yaml:"rope_grid,omitempty"`
}

// MaxRopeGrid bounds Config.RopeGrid: far finer than any image this project samples.
const MaxRopeGrid = 4096

// Bounds on the sizes of both networks' configs, far above any real model's (the paper's 7B has dim
// 3840 and 32 layers). A config read from a file or a checkpoint's metadata lists its parameters
// before any tensor is compared with them: the bounds keep that list small and every parameter's
// element count within an int.
const (
	MaxWidth  = 1 << 16 // every width, head count, multiple_of, channels and max_len
	MaxLayers = 1024    // layers and refiners
	MaxPatch  = 64
	MaxVocab  = 1 << 20 // the text encoder's vocabulary
)

// HeadDim is the width of one attention head.
func (c Config) HeadDim() int { return c.Dim / c.Heads }

// AdaDim is the width of the timestep conditioning c: min(Dim, 1024) in the reference.
func (c Config) AdaDim() int { return min(c.Dim, c.AdaLNMax) }

// FFNHidden is SwiGLU's hidden width: 4·Dim rounded up to MultipleOf (no 2/3 factor, as the reference).
func (c Config) FFNHidden() int { return c.MultipleOf * ((4*c.Dim + c.MultipleOf - 1) / c.MultipleOf) }

// Validate checks the invariants the graph relies on.
func (c Config) Validate() error {
	pos := map[string]int{"dim": c.Dim, "layers": c.Layers, "heads": c.Heads, "kv_heads": c.KVHeads,
		"multiple_of": c.MultipleOf, "patch": c.Patch, "channels": c.Channels, "cap_dim": c.CapDim,
		"freq_dim": c.FreqDim, "adaln_max": c.AdaLNMax}
	keys := make([]string, 0, len(pos))
	for k := range pos {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if pos[k] <= 0 || pos[k] > MaxWidth {
			return fmt.Errorf("config %q: %s = %d, must be in 1..%d", c.Name, k, pos[k], MaxWidth)
		}
	}
	if c.Layers > MaxLayers || c.Refiners < 0 || c.Refiners > MaxLayers {
		return fmt.Errorf("config %q: layers = %d, refiners = %d: want 1..%d and 0..%d", c.Name, c.Layers, c.Refiners, MaxLayers, MaxLayers)
	}
	if c.Patch > MaxPatch {
		return fmt.Errorf("config %q: patch = %d, must be in 1..%d", c.Name, c.Patch, MaxPatch)
	}
	if c.Dim%c.Heads != 0 {
		return fmt.Errorf("config %q: dim %d not divisible by heads %d", c.Name, c.Dim, c.Heads)
	}
	if c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("config %q: heads %d not divisible by kv_heads %d", c.Name, c.Heads, c.KVHeads)
	}
	if c.FreqDim%2 != 0 {
		return fmt.Errorf("config %q: freq_dim %d must be even", c.Name, c.FreqDim)
	}
	sum := 0
	for i, a := range c.AxesDims {
		if a <= 0 || a%2 != 0 {
			return fmt.Errorf("config %q: axes_dims[%d] = %d, must be positive and even", c.Name, i, a)
		}
		sum += a
	}
	if sum != c.HeadDim() {
		return fmt.Errorf("config %q: axes_dims sum to %d, want head_dim %d", c.Name, sum, c.HeadDim())
	}
	if !(c.NormEps > 0) || math.IsInf(c.NormEps, 1) { // a YAML file can say .nan or .inf
		return fmt.Errorf("config %q: norm_eps = %g, must be positive and finite", c.Name, c.NormEps)
	}
	if c.RopeGrid < 0 || c.RopeGrid > MaxRopeGrid {
		return fmt.Errorf("config %q: rope_grid = %d, must be in 0..%d (0 = positions in patches)", c.Name, c.RopeGrid, MaxRopeGrid)
	}
	return nil
}

// Param is one named parameter tensor, named as the PyTorch reference names it
// (tools/reference/nextdit.py), so checkpoints and parity fixtures map one to one.
type Param struct {
	Name  string
	Shape []int
}

// Size is the number of elements.
func (p Param) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// ParamShapes lists every parameter of the Next-DiT in a fixed order. The graph builder creates its
// nodes from this list, and ParamCount sums it.
func (c Config) ParamShapes() []Param {
	var ps []Param
	add := func(name string, shape ...int) { ps = append(ps, Param{name, shape}) }
	linear := func(name string, out, in int, bias bool) {
		add(name+".weight", out, in) // PyTorch layout [out, in]
		if bias {
			add(name+".bias", out)
		}
	}
	hd, ffn, ada := c.HeadDim(), c.FFNHidden(), c.AdaDim()
	pp := c.Patch * c.Patch * c.Channels
	block := func(prefix string, modulated bool) {
		linear(prefix+".attn.qkv", (c.Heads+2*c.KVHeads)*hd, c.Dim, false)
		linear(prefix+".attn.out", c.Dim, c.Heads*hd, false)
		add(prefix+".attn.qn.weight", hd)
		add(prefix+".attn.kn.weight", hd)
		linear(prefix+".ffn.w1", ffn, c.Dim, false)
		linear(prefix+".ffn.w3", ffn, c.Dim, false)
		linear(prefix+".ffn.w2", c.Dim, ffn, false)
		for _, n := range []string{"an1", "an2", "fn1", "fn2"} {
			add(prefix+"."+n+".weight", c.Dim)
		}
		if modulated {
			linear(prefix+".ada.1", 4*c.Dim, ada, true)
		}
	}
	linear("x_emb", c.Dim, pp, true)
	linear("t_mlp.0", ada, c.FreqDim, true)
	linear("t_mlp.2", ada, ada, true)
	add("cap_emb.0.weight", c.CapDim)
	linear("cap_emb.1", c.Dim, c.CapDim, true)
	for i := 0; i < c.Refiners; i++ {
		block(fmt.Sprintf("noise_ref.%d", i), true)
	}
	for i := 0; i < c.Refiners; i++ {
		block(fmt.Sprintf("ctx_ref.%d", i), false)
	}
	for i := 0; i < c.Layers; i++ {
		block(fmt.Sprintf("layers.%d", i), true)
	}
	linear("final_ada.1", c.Dim, ada, true)
	linear("final", pp, c.Dim, true)
	return ps
}

// ParamCount is the analytic number of parameters.
func (c Config) ParamCount() int64 {
	var n int64
	for _, p := range c.ParamShapes() {
		n += int64(p.Size())
	}
	return n
}

// configs is the registry: the CPU presets and the paper's configs (its table of model sizes).
var configs = map[string]Config{
	// tiny: the CPU default and the calibration's architecture: 32×32 pixels, patch 4 → 64 tokens.
	"tiny": {Name: "tiny", Dim: 128, Layers: 4, Heads: 4, KVHeads: 2, AxesDims: [3]int{8, 12, 12}, MultipleOf: 256,
		Refiners: 1, Patch: 4, Channels: 3, CapDim: 128, FreqDim: 256, AdaLNMax: 1024, NormEps: 1e-5},
	"small": {Name: "small", Dim: 256, Layers: 6, Heads: 8, KVHeads: 4, AxesDims: [3]int{8, 12, 12}, MultipleOf: 256,
		Refiners: 1, Patch: 4, Channels: 3, CapDim: 256, FreqDim: 256, AdaLNMax: 1024, NormEps: 1e-5},
	"base": {Name: "base", Dim: 512, Layers: 12, Heads: 8, KVHeads: 4, AxesDims: [3]int{16, 24, 24}, MultipleOf: 256,
		Refiners: 2, Patch: 2, Channels: 3, CapDim: 512, FreqDim: 256, AdaLNMax: 1024, NormEps: 1e-5},
	// The paper's configs: patch 2, 16 latent channels, 2+2 refiners, caption features of Gemma-2-2B (2304).
	"2B": paper("2B", 2304, 26, 24, 32),
	"3B": paper("3B", 2592, 30, 24, 36),
	"4B": paper("4B", 2880, 32, 24, 40),
	"7B": paper("7B", 3840, 32, 32, 40),
}

func paper(name string, dim, layers, heads, axis int) Config {
	return Config{Name: name, Dim: dim, Layers: layers, Heads: heads, KVHeads: 8, AxesDims: [3]int{axis, axis, axis},
		MultipleOf: 256, Refiners: 2, Patch: 2, Channels: 16, CapDim: 2304, FreqDim: 256, AdaLNMax: 1024, NormEps: 1e-5}
}

// ConfigNames lists the registry, smallest first.
func ConfigNames() []string {
	names := make([]string, 0, len(configs))
	for n := range configs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return configs[names[i]].ParamCount() < configs[names[j]].ParamCount() })
	return names
}

// LookupConfig returns a registered config by name.
func LookupConfig(name string) (Config, error) {
	c, ok := configs[name]
	if !ok {
		return Config{}, fmt.Errorf("unknown model config %q (known: %s)", name, strings.Join(ConfigNames(), ", "))
	}
	return c, nil
}
