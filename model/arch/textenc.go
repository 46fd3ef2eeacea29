package arch

import "fmt"

// LMConfig is the causal text encoder: our stand-in for Gemma-2-2B. Its caption features are the
// second-to-last layer's hidden states, as the paper takes hidden_states[-2] from Gemma, unless
// FeatureLayer picks an earlier one.
type LMConfig struct {
	Vocab      int     `json:"vocab"`
	Dim        int     `json:"dim"`
	Layers     int     `json:"layers"`
	Heads      int     `json:"heads"`
	KVHeads    int     `json:"kv_heads"`
	MultipleOf int     `json:"multiple_of"`
	MaxLen     int     `json:"max_len"`
	NormEps    float64 `json:"norm_eps"`
	// FeatureLayer k takes the caption features from hidden_states[k], the residual stream after k
	// layers (1..Layers−1); 0 means Layers−1, the paper's hidden_states[−2]. A small, briefly trained
	// encoder may want an earlier layer, whose features still say which word was read rather than what
	// comes next (docs/DESIGN.md §9.3).
	FeatureLayer int `json:"feature_layer,omitempty"`
}

// FeatureDepth is how many layers run before the caption features are read.
func (c LMConfig) FeatureDepth() int {
	if c.FeatureLayer == 0 {
		return c.Layers - 1
	}
	return c.FeatureLayer
}

// HeadDim is one head's width.
func (c LMConfig) HeadDim() int { return c.Dim / c.Heads }

// FFNHidden is the SwiGLU width: 4·Dim rounded up to MultipleOf.
func (c LMConfig) FFNHidden() int {
	return c.MultipleOf * ((4*c.Dim + c.MultipleOf - 1) / c.MultipleOf)
}

// Validate checks what the graph relies on. Features come from before the last layer (by default the
// second-to-last), so an encoder needs at least two layers.
func (c LMConfig) Validate() error {
	switch {
	case c.Vocab < 8:
		return fmt.Errorf("text encoder: vocab %d too small", c.Vocab)
	case c.Vocab > MaxVocab:
		return fmt.Errorf("text encoder: vocab %d above %d", c.Vocab, MaxVocab)
	case !inWidth(c.Dim) || !inWidth(c.Heads) || !inWidth(c.KVHeads) || !inWidth(c.MultipleOf) || !inWidth(c.MaxLen):
		return fmt.Errorf("text encoder: dim, heads, kv_heads, multiple_of and max_len must be in 1..%d", MaxWidth)
	case c.Layers < 2 || c.Layers > MaxLayers:
		return fmt.Errorf("text encoder: %d layers, want 2..%d (features come from before the last layer)", c.Layers, MaxLayers)
	case c.Dim%c.Heads != 0 || c.Heads%c.KVHeads != 0:
		return fmt.Errorf("text encoder: dim %d, heads %d, kv_heads %d do not divide", c.Dim, c.Heads, c.KVHeads)
	case c.HeadDim()%2 != 0:
		return fmt.Errorf("text encoder: head_dim %d must be even for RoPE", c.HeadDim())
	case !(c.NormEps > 0):
		return fmt.Errorf("text encoder: norm_eps must be positive")
	case c.FeatureLayer < 0 || c.FeatureLayer > c.Layers-1:
		return fmt.Errorf("text encoder: feature_layer %d outside 1..%d (0 = %d, hidden_states[-2])", c.FeatureLayer, c.Layers-1, c.Layers-1)
	}
	return nil
}

func inWidth(v int) bool { return v >= 1 && v <= MaxWidth }

// ParamShapes lists the encoder's parameters in a fixed order (Llama-style names).
func (c LMConfig) ParamShapes() []Param {
	hd, f := c.HeadDim(), c.FFNHidden()
	ps := []Param{{"tok_emb.weight", []int{c.Vocab, c.Dim}}}
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("layers.%d.", i)
		ps = append(ps,
			Param{p + "attn_norm.weight", []int{c.Dim}},
			Param{p + "attn.qkv.weight", []int{(c.Heads + 2*c.KVHeads) * hd, c.Dim}},
			Param{p + "attn.qn.weight", []int{hd}},
			Param{p + "attn.kn.weight", []int{hd}},
			Param{p + "attn.out.weight", []int{c.Dim, c.Heads * hd}},
			Param{p + "ffn_norm.weight", []int{c.Dim}},
			Param{p + "ffn.w1.weight", []int{f, c.Dim}},
			Param{p + "ffn.w3.weight", []int{f, c.Dim}},
			Param{p + "ffn.w2.weight", []int{c.Dim, f}},
		)
	}
	return append(ps, Param{"norm.weight", []int{c.Dim}}, Param{"head.weight", []int{c.Vocab, c.Dim}})
}

// ParamCount is the number of parameters.
func (c LMConfig) ParamCount() int64 {
	var n int64
	for _, p := range c.ParamShapes() {
		n += int64(p.Size())
	}
	return n
}

// lmConfigs are the named encoder sizes; the vocabulary comes from the tokenizer built for a run.
var lmConfigs = map[string]LMConfig{
	// tiny: the CPU preset's encoder, its width the tiny DiT's caption width (128).
	"tiny":  {Dim: 128, Layers: 3, Heads: 4, KVHeads: 2, MultipleOf: 256, MaxLen: 128, NormEps: 1e-6},
	"small": {Dim: 256, Layers: 4, Heads: 8, KVHeads: 4, MultipleOf: 256, MaxLen: 128, NormEps: 1e-6},
	"base":  {Dim: 512, Layers: 6, Heads: 8, KVHeads: 4, MultipleOf: 256, MaxLen: 256, NormEps: 1e-6},
}

// LookupLMConfig returns a named encoder size with the given vocabulary.
func LookupLMConfig(name string, vocab int) (LMConfig, error) {
	c, ok := lmConfigs[name]
	if !ok {
		return LMConfig{}, fmt.Errorf("unknown text encoder config %q (known: base, small, tiny)", name)
	}
	c.Vocab = vocab
	return c, c.Validate()
}

// Caption contexts: what of a system prompt + prompt text the DiT sees (checkpoint metadata and presets
// name them).
const (
	// CaptionContextFull: every token, system prompt included (the paper's way).
	CaptionContextFull = "full"
	// CaptionContextPrompt: <bos> and the prompt, with features computed after the system prompt
	// (docs/DESIGN.md §9.4): the domain and task information reaches the DiT through the prompt tokens,
	// which the causal LM computed with the system prompt in context, and a CPU-sized step does not
	// pay for the system prompt's tokens.
	CaptionContextPrompt = "prompt"
)

// ParseCaptionContext checks a caption context name ("" means full).
func ParseCaptionContext(s string) (promptOnly bool, err error) {
	switch s {
	case "", CaptionContextFull:
		return false, nil
	case CaptionContextPrompt:
		return true, nil
	}
	return false, fmt.Errorf("caption context %q unknown (allowed: %s, %s)", s, CaptionContextFull, CaptionContextPrompt)
}
