package arch

// Peak memory of a sampling forward, estimated from the config alone (a checkpoint's header), so that
// sampling too large for the machine is refused before the weights load. The model is a sum of what
// the graph holds: every parameter, and per block and per token the activations of width dim and
// ffn_hidden, and per head the attention probabilities of every query-key pair. Its coefficients were
// fitted to the peak RSS of real forwards (docs/DESIGN.md §13). Training counts its memory exactly
// from its compiled graphs instead (train/lumina).

// Bytes per unit of each term of the memory model.
type memoryModel struct {
	base      float64 // the process: runtime, tokenizer, text encoder, buffers
	perParam  float64 // per parameter
	perTokenD float64 // per token per block per unit of dim
	perTokenF float64 // per token per block per unit of ffn_hidden
	perScore  float64 // per attention score (head × query × key) per block
}

var forwardMemory = memoryModel{base: 0.6 * (1 << 20), perParam: 7.7, perTokenD: 13.6, perTokenF: 54.4, perScore: 4.8}

// blockCost is one block's share of the activations: tokens through the whole block (widths dim and
// ffn_hidden), dimTokens more of width dim only, and attention scores per head.
type blockCost struct{ tokens, dimTokens, scores int }

// blocks lists the Next-DiT's blocks: the context refiners on the caption, the noise refiners on the
// image tokens, and the main layers on both (joint) or on the image tokens with a cross-attention
// sublayer (cross), whose queries are the image tokens, keys and values the caption tokens: one more
// attention's worth of width-dim values on each, and image × caption scores.
func (c Config) blocks(h, w, capLen int) []blockCost {
	img := (h / c.Patch) * (w / c.Patch)
	var out []blockCost
	for i := 0; i < c.Refiners; i++ {
		out = append(out, blockCost{tokens: capLen, scores: capLen * capLen}, blockCost{tokens: img, scores: img * img})
	}
	for i := 0; i < c.Layers; i++ {
		if c.Cross() {
			out = append(out, blockCost{tokens: img, dimTokens: img + capLen, scores: img*img + img*capLen})
		} else {
			l := capLen + img
			out = append(out, blockCost{tokens: l, scores: l * l})
		}
	}
	return out
}

func (m memoryModel) activations(c Config, b, h, w, capLen int) float64 {
	var sum float64
	for _, k := range c.blocks(h, w, capLen) {
		tok := float64(b * k.tokens)
		sum += tok*(m.perTokenD*float64(c.Dim)+m.perTokenF*float64(c.FFNHidden())) +
			m.perTokenD*float64(b*k.dimTokens)*float64(c.Dim) + m.perScore*float64(b*c.Heads)*float64(k.scores)
	}
	return sum
}

// ForwardBytes is the peak memory of sampling forwards of b samples (2 per image under CFG) of h×w
// pixels with captions of capLen tokens.
func (c Config) ForwardBytes(b, h, w, capLen int) int64 {
	m := forwardMemory
	return int64(m.base + m.perParam*float64(c.ParamCount()) + m.activations(c, b, h, w, capLen))
}
