package arch

// Peak memory of this project's graphs, estimated before any is built, so that a run too large for the
// machine is refused before it starts rather than swapping or killed hours in. The model is a sum of
// what the graphs hold: every parameter (with, in training, its gradient, AdamW's two moments and the
// EMA), and per block and per token the activations of width dim and ffn_hidden, and per head the
// attention probabilities of every query-key pair (with their gradients in training). Its coefficients
// were fitted to the peak RSS of real steps (docs/DESIGN.md §13); it errs on the high side for small
// problems, where the fixed costs dominate.

// Bytes per unit of each term of the memory model, fitted separately for a training step (forward,
// backward, optimiser) and a sampling forward.
type memoryModel struct {
	base      float64 // the process: runtime, tokenizer, text encoder, buffers
	perParam  float64 // per parameter
	perTokenD float64 // per token per block per unit of dim
	perTokenF float64 // per token per block per unit of ffn_hidden
	perScore  float64 // per attention score (head × query × key) per block
}

var (
	trainMemory   = memoryModel{base: 199 << 20, perParam: 52.0, perTokenD: 15.7, perTokenF: 57.3, perScore: 25.2}
	forwardMemory = memoryModel{base: 0.6 * (1 << 20), perParam: 7.7, perTokenD: 13.6, perTokenF: 54.4, perScore: 4.8}
	// The text encoder's graph keeps about twice the DiT's per token and FFN unit (its causal
	// attention and next-token loss keep more intermediate values), and its logits cost perLogit per
	// token and vocabulary entry.
	lmTrainMemory = memoryModel{base: 12 << 20, perParam: 52.0, perTokenD: 15.7, perTokenF: 107, perScore: 0}
	perLogit      = 20.0
)

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

// TrainStepBytes is the peak memory of training steps on batches of b images of h×w pixels whose
// captions pad to capLen tokens, with the auxiliary forward on the AvgPool4 images when aux: the
// parameters with their gradients and optimiser state, and one training graph's activations.
func (c Config) TrainStepBytes(b, h, w, capLen int, aux bool) int64 {
	m := trainMemory
	total := m.base + m.perParam*float64(c.ParamCount()) + m.activations(c, b, h, w, capLen)
	if aux {
		total += m.activations(c, b, h/4, w/4, capLen)
	}
	return int64(total)
}

// TrainGraphBytes is what one more training graph of that shape adds (its activations alone): a
// trainer that keeps graphs for several caption lengths holds them all.
func (c Config) TrainGraphBytes(b, h, w, capLen int, aux bool) int64 {
	m := trainMemory
	total := m.activations(c, b, h, w, capLen)
	if aux {
		total += m.activations(c, b, h/4, w/4, capLen)
	}
	return int64(total)
}

// ForwardBytes is the peak memory of sampling forwards of b samples (2 per image under CFG) of h×w
// pixels with captions of capLen tokens.
func (c Config) ForwardBytes(b, h, w, capLen int) int64 {
	m := forwardMemory
	return int64(m.base + m.perParam*float64(c.ParamCount()) + m.activations(c, b, h, w, capLen))
}

// TrainStepBytes is the peak memory of the text encoder's next-token training on b captions of l
// tokens: its parameters with their gradients and optimiser state, the activations of its blocks, and
// the logits over the vocabulary with their gradient.
func (c LMConfig) TrainStepBytes(b, l int) int64 {
	return int64(lmTrainMemory.base) + c.TrainGraphBytes(b, l) + int64(lmTrainMemory.perParam*float64(c.paramCount()))
}

// TrainGraphBytes is what one training graph of b captions of l tokens holds (its activations alone).
func (c LMConfig) TrainGraphBytes(b, l int) int64 {
	m := lmTrainMemory
	tok := float64(b * l)
	blocks := float64(c.Layers) * (tok*(m.perTokenD*float64(c.Dim)+m.perTokenF*float64(c.FFNHidden())) +
		m.perScore*float64(b*c.Heads)*float64(l)*float64(l))
	return int64(blocks + perLogit*tok*float64(c.Vocab))
}

func (c LMConfig) paramCount() int {
	n := 0
	for _, p := range c.ParamShapes() {
		n += p.Size()
	}
	return n
}
