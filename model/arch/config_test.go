package arch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// handCount is the architecture's parameter count written out term by term, deliberately not using
// ParamShapes, so a slip in either one shows up as a disagreement.
func handCount(c Config) int64 {
	D, H, KV := int64(c.Dim), int64(c.Heads), int64(c.KVHeads)
	hd := D / H
	F := int64(c.MultipleOf) * ((4*D + int64(c.MultipleOf) - 1) / int64(c.MultipleOf)) // SwiGLU hidden
	A := min(D, int64(c.AdaLNMax))                                                     // adaLN width
	pp := int64(c.Patch * c.Patch * c.Channels)                                        // patch pixels
	capD, fq := int64(c.CapDim), int64(c.FreqDim)

	xEmb := pp*D + D                 // Linear(p·p·C → dim, bias)
	tMLP := fq*A + A + A*A + A       // Linear(256 → A) → SiLU → Linear(A → A), both with bias
	capEmb := capD + capD*D + D      // RMSNorm weight + Linear(cap_dim → dim, bias)
	attn := D*(H+2*KV)*hd + H*hd*D + // fused qkv and out, no bias
		2*hd // QK-norm weights, shared across heads
	ffn := 3 * D * F             // w1, w3, w2, no bias
	norms := 4 * D               // sandwich RMSNorms an1, an2, fn1, fn2
	ada := A*4*D + 4*D           // Linear(A → 4·dim, bias): scale_msa, gate_msa, scale_mlp, gate_mlp
	final := A*D + D + D*pp + pp // final adaLN scale Linear(A → dim) and Linear(dim → p·p·C), both with bias

	plain := attn + ffn + norms
	mod := plain + ada
	main := mod
	if c.TextInjection == TextCross {
		xattn := D*H*hd + D*2*KV*hd + H*hd*D + // q from the image tokens, k|v from the caption, out
			2*hd // QK-norm weights
		xnorms := 3 * D     // sandwich xn1, xn2 and the caption's xnc
		xada := A*2*D + 2*D // two more adaLN outputs: scale and gate of the cross-attention
		main = mod + xattn + xnorms + xada
	}
	R, L := int64(c.Refiners), int64(c.Layers)
	return xEmb + tMLP + capEmb + R*mod + R*plain + L*main + final
}

func TestParamCount2B(t *testing.T) {
	c, err := LookupConfig("2B")
	if err != nil {
		t.Fatal(err)
	}
	got := c.ParamCount()
	const want = 2.61e9 // the paper's "2.6B" (≈2.61B)
	if d := float64(got)/want - 1; d > 0.005 || d < -0.005 {
		t.Fatalf("2B ParamCount = %d, off 2.61B by %.2f%% (> 0.5%%)", got, 100*d)
	}
	if h := handCount(c); h != got {
		t.Fatalf("2B: ParamShapes sums to %d, hand formula gives %d", got, h)
	}
}

func TestParamCountTinyByHand(t *testing.T) {
	c, err := LookupConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	h := handCount(c)
	if got := c.ParamCount(); got != h {
		t.Fatalf("tiny: ParamShapes sums to %d, hand formula gives %d", got, h)
	}
	// What sum(p.numel()) reports for tools/reference/nextdit.py's NextDiT() with its defaults (tiny):
	// an outside check that the formulas above are the PyTorch module's.
	const torchCount = 1903280
	if h != torchCount {
		t.Fatalf("tiny: hand formula gives %d, the PyTorch reference module has %d", h, torchCount)
	}
}

func TestAllConfigsAgreeWithHandCount(t *testing.T) {
	for _, name := range ConfigNames() {
		for _, inj := range []string{"", TextCross} {
			c, _ := LookupConfig(name)
			c.TextInjection = inj
			if got, h := c.ParamCount(), handCount(c); got != h {
				t.Errorf("%s (%s): ParamShapes sums to %d, hand formula gives %d", name, c.Injection(), got, h)
			}
		}
	}
}

// TestParamCountCrossTinyByTorch: the cross-injection tiny config has as many parameters as the PyTorch
// reference module (tools/reference/nextdit.py, NextDiT(text_injection="cross")), and its main layers
// hold every extra one.
func TestParamCountCrossTinyByTorch(t *testing.T) {
	c, _ := LookupConfig("tiny")
	joint := c.ParamGroups()
	c.TextInjection = TextCross
	// sum(p.numel()) of the PyTorch reference's NextDiT(text_injection="cross") (tiny otherwise).
	const torchCount = 2233776
	if got := c.ParamCount(); got != torchCount {
		t.Fatalf("cross tiny: ParamShapes sums to %d, the PyTorch reference module has %d", got, torchCount)
	}
	for i, g := range c.ParamGroups() {
		if g.Name != "main layers" && g.Count != joint[i].Count {
			t.Errorf("cross changes %s: %d, joint %d", g.Name, g.Count, joint[i].Count)
		}
	}
}

// TestTextInjection: "" and "joint" are one injection and read back as "" (so configs and checkpoints
// that name the default equal those that leave it out); anything else but "cross" is refused, naming
// the key and the allowed values.
func TestTextInjection(t *testing.T) {
	for in, want := range map[string]string{"": "", TextJoint: "", TextCross: TextCross} {
		got, err := ParseTextInjection(in)
		if err != nil || got != want {
			t.Errorf("ParseTextInjection(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	c, _ := LookupConfig("tiny")
	if c.Cross() || c.Injection() != TextJoint {
		t.Errorf("tiny: injection %q, cross %v", c.Injection(), c.Cross())
	}
	c.TextInjection = "Cross"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "text_injection") || !strings.Contains(err.Error(), "joint, cross") {
		t.Fatalf("unknown injection: %v", err)
	}
	c.TextInjection = TextJoint
	if c.Canonical().TextInjection != "" || c.Validate() != nil {
		t.Fatalf("joint spelled out: canonical %q, %v", c.Canonical().TextInjection, c.Validate())
	}
}

func TestRegistryValidates(t *testing.T) {
	names := ConfigNames()
	if len(names) == 0 {
		t.Fatal("empty registry")
	}
	for _, name := range names {
		c, err := LookupConfig(name)
		if err != nil {
			t.Fatalf("LookupConfig(%q): %v", name, err)
		}
		if c.Name != name {
			t.Errorf("registry key %q holds config named %q", name, c.Name)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for i := 1; i < len(names); i++ {
		a, _ := LookupConfig(names[i-1])
		b, _ := LookupConfig(names[i])
		if a.ParamCount() > b.ParamCount() {
			t.Errorf("ConfigNames not smallest first: %s (%d) before %s (%d)", a.Name, a.ParamCount(), b.Name, b.ParamCount())
		}
	}
}

func TestPaperTableShapes(t *testing.T) {
	// The paper's table of model sizes: head_dim and FFN hidden per config.
	for _, row := range []struct {
		name        string
		headDim, ff int
	}{{"2B", 96, 9216}, {"3B", 108, 10496}, {"4B", 120, 11520}, {"7B", 120, 15360}} {
		c, _ := LookupConfig(row.name)
		if c.HeadDim() != row.headDim || c.FFNHidden() != row.ff {
			t.Errorf("%s: head_dim %d FFN %d, table says %d %d", row.name, c.HeadDim(), c.FFNHidden(), row.headDim, row.ff)
		}
	}
}

func TestLookupUnknownListsKnown(t *testing.T) {
	_, err := LookupConfig("huge")
	if err == nil {
		t.Fatal("no error for an unknown config")
	}
	for _, n := range ConfigNames() {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %q", err, n)
		}
	}
}

func TestValidateRejectsEachInvariant(t *testing.T) {
	base, _ := LookupConfig("tiny")
	cases := []struct {
		field string // must appear in the message
		mut   func(*Config)
	}{
		{"dim", func(c *Config) { c.Dim = 0 }},
		{"layers", func(c *Config) { c.Layers = 0 }},
		{"heads", func(c *Config) { c.Heads = -1 }},
		{"kv_heads", func(c *Config) { c.KVHeads = 0 }},
		{"multiple_of", func(c *Config) { c.MultipleOf = 0 }},
		{"patch", func(c *Config) { c.Patch = 0 }},
		{"channels", func(c *Config) { c.Channels = 0 }},
		{"cap_dim", func(c *Config) { c.CapDim = 0 }},
		{"freq_dim", func(c *Config) { c.FreqDim = 0 }},
		{"adaln_max", func(c *Config) { c.AdaLNMax = 0 }},
		{"refiners", func(c *Config) { c.Refiners = -1 }},
		{"heads", func(c *Config) { c.Heads = 3 }},                           // 128 % 3 != 0
		{"kv_heads", func(c *Config) { c.KVHeads = 3 }},                      // 4 % 3 != 0
		{"freq_dim", func(c *Config) { c.FreqDim = 255 }},                    // odd
		{"axes_dims[1]", func(c *Config) { c.AxesDims = [3]int{8, 11, 13} }}, // odd axis
		{"axes_dims[0]", func(c *Config) { c.AxesDims = [3]int{0, 16, 16} }}, // empty axis
		{"axes_dims", func(c *Config) { c.AxesDims = [3]int{8, 12, 14} }},    // sums to 34, head_dim 32
		{"norm_eps", func(c *Config) { c.NormEps = 0 }},
		{"rope_grid", func(c *Config) { c.RopeGrid = -1 }},
		{"text_injection", func(c *Config) { c.TextInjection = "crossed" }},
	}
	for _, tc := range cases {
		c := base
		tc.mut(&c)
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: broken config accepted", tc.field)
			continue
		}
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: message %q does not name the field", tc.field, err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: message spans lines: %q", tc.field, err)
		}
	}
}

func TestParamGroupsPartition(t *testing.T) {
	for _, name := range ConfigNames() {
		c, _ := LookupConfig(name)
		var sum int64
		for _, g := range c.ParamGroups() {
			if g.Count < 0 {
				t.Errorf("%s: group %s negative", name, g.Name)
			}
			sum += g.Count
		}
		if sum != c.ParamCount() {
			t.Errorf("%s: groups sum to %d, ParamCount %d", name, sum, c.ParamCount())
		}
	}
	c, _ := LookupConfig("tiny")
	g := c.ParamGroups()
	// One modulated block of tiny, by hand: attention 128·(4+4)·32 + 128·128 + 64, SwiGLU 3·128·512,
	// four norms 4·128, adaLN 128·512 + 512.
	mod := int64(128*8*32 + 128*128 + 64 + 3*128*512 + 4*128 + 128*512 + 512)
	if g[3].Name != "main layers" || g[3].Count != 4*mod {
		t.Errorf("tiny main layers: %+v, want %d", g[3], 4*mod)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tiny, _ := LookupConfig("tiny")
	yml := write("mine.yaml", `dim: 128
layers: 4
heads: 4
kv_heads: 2
axes_dims: [8, 12, 12]
multiple_of: 256
refiners: 1
patch: 4
channels: 3
cap_dim: 128
freq_dim: 256
adaln_max: 1024
norm_eps: 1.0e-5
`)
	c, err := ResolveConfig(yml)
	if err != nil {
		t.Fatal(err)
	}
	want := tiny
	want.Name = "mine"
	if c != want {
		t.Fatalf("YAML config %+v, want %+v", c, want)
	}
	// text_injection: the default spelled out reads as the default; cross is kept.
	for body, want := range map[string]string{"text_injection: joint\n": "", "text_injection: cross\n": TextCross} {
		c, err := ResolveConfig(write("inj.yaml", "dim: 128\nlayers: 4\nheads: 4\nkv_heads: 2\naxes_dims: [8, 12, 12]\n"+
			"multiple_of: 256\nrefiners: 1\npatch: 4\nchannels: 3\ncap_dim: 128\nfreq_dim: 256\nadaln_max: 1024\nnorm_eps: 1.0e-5\n"+body))
		if err != nil || c.TextInjection != want {
			t.Errorf("%q: text_injection %q, %v; want %q", body, c.TextInjection, err, want)
		}
	}
	js := write("j.json", `{"name":"j","dim":128,"layers":2,"heads":4,"kv_heads":2,"axes_dims":[8,12,12],"multiple_of":256,
		"refiners":0,"patch":4,"channels":3,"cap_dim":64,"freq_dim":256,"adaln_max":1024,"norm_eps":1e-5}`)
	if c, err = ResolveConfig(js); err != nil || c.Layers != 2 || c.CapDim != 64 || c.Name != "j" {
		t.Fatalf("JSON config %+v, %v", c, err)
	}
	for _, bad := range []struct{ name, body, msg string }{
		{"typo.yaml", "dimm: 128\n", "dimm"},
		{"axes.json", `{"dim":128,"layers":2,"heads":4,"kv_heads":2,"axes_dims":[16,16],"multiple_of":256,"patch":4,"channels":3,"cap_dim":64,"freq_dim":256,"adaln_max":1024,"norm_eps":1e-5}`, "axes_dims"},
		{"inv.json", `{"dim":128,"layers":0,"heads":4,"kv_heads":2,"axes_dims":[8,12,12],"multiple_of":256,"patch":4,"channels":3,"cap_dim":64,"freq_dim":256,"adaln_max":1024,"norm_eps":1e-5}`, "layers"},
	} {
		p := write(bad.name, bad.body)
		_, err := ResolveConfig(p)
		if err == nil || !strings.Contains(err.Error(), bad.msg) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming %q and the path", bad.name, err, bad.msg)
		}
	}
	if _, err := ResolveConfig(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "tiny") {
		t.Errorf("missing name/path: %v, want the known names listed", err)
	}
}
