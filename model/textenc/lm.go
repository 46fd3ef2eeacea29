package textenc

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/arch"
	gu "github.com/lumina-workbench/lumina/model/graphutil"
	"github.com/lumina-workbench/lumina/model/ops"
)

// NewLMWeights initialises the encoder: N(0, 1) token embeddings, an N(0, 0.02) head, xavier-uniform
// projections, unit norms.
// ParamTensors are the weights w of config c in ParamShapes order.
func ParamTensors(c arch.LMConfig, w map[string]*tensor.Dense) []*tensor.Dense {
	var ts []*tensor.Dense
	for _, p := range c.ParamShapes() {
		ts = append(ts, w[p.Name])
	}
	return ts
}

func NewLMWeights(c arch.LMConfig, dt tensor.Dtype, seed uint64) (map[string]*tensor.Dense, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x74657874))
	w := make(map[string]*tensor.Dense)
	for _, p := range c.ParamShapes() {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		v := make([]float64, n)
		switch {
		case len(p.Shape) == 1:
			for i := range v {
				v[i] = 1
			}
		case p.Name == "tok_emb.weight":
			// N(0, 1), as PyTorch's nn.Embedding (and Gemma's √dim embedding normaliser in effect):
			// token identity must stay a large part of the residual stream, or the caption features
			// of a small, briefly trained encoder barely tell "red" from "blue".
			for i := range v {
				v[i] = rng.NormFloat64()
			}
		case p.Name == "head.weight":
			for i := range v {
				v[i] = 0.02 * rng.NormFloat64()
			}
		default:
			b := math.Sqrt(6 / float64(p.Shape[0]+p.Shape[1]))
			for i := range v {
				v[i] = b * (2*rng.Float64() - 1)
			}
		}
		w[p.Name] = gu.DenseFrom(dt, p.Shape, v)
	}
	return w, nil
}

// LM is the encoder's graph: token ids in, features and (optionally) the next-token loss out.
type LM struct {
	Cfg      arch.LMConfig
	Params   []*G.Node // ParamShapes order
	IDs      *G.Node   // [B, L] token ids (as floats)
	Mask     *G.Node   // [B, L] 1 = real token
	Cos, Sin *G.Node   // [B, L, hd/2]
	Features *G.Node   // [B, L, D]: hidden states after FeatureDepth layers (by default hidden_states[−2])
	Logits   *G.Node   // [B·L, V]; nil in a graph built by NewFeatureLM
	B, L     int
}

// NewLM builds the encoder for batches of B sequences of length L, bound to weights w.
func NewLM(g *G.ExprGraph, c arch.LMConfig, w map[string]*tensor.Dense, dt tensor.Dtype, B, L int) (*LM, error) {
	return newLM(g, c, w, dt, B, L, false)
}

// NewFeatureLM builds only what the caption features need: the layers before FeatureDepth, without
// the later layers and the vocabulary head. The features are the same nodes on the same inputs as in
// NewLM's graph, so they come out bit for bit the same; a DiT stage encodes most of its captions once
// (a cache miss per new caption), and with the CPU preset's features after layer 1 of 3 the full graph
// spent most of that time on layers and logits nobody reads.
func NewFeatureLM(g *G.ExprGraph, c arch.LMConfig, w map[string]*tensor.Dense, dt tensor.Dtype, B, L int) (*LM, error) {
	return newLM(g, c, w, dt, B, L, true)
}

func newLM(g *G.ExprGraph, c arch.LMConfig, w map[string]*tensor.Dense, dt tensor.Dtype, B, L int, featuresOnly bool) (lm *LM, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if L > c.MaxLen || B < 1 || L < 1 {
		return nil, fmt.Errorf("text encoder: batch %d × length %d outside 1..%d tokens", B, L, c.MaxLen)
	}
	defer gu.Catch(&err)
	lm = &LM{Cfg: c, B: B, L: L}
	p := map[string]*G.Node{}
	for _, ps := range c.ParamShapes() {
		t, ok := w[ps.Name]
		if !ok {
			return nil, fmt.Errorf("text encoder: missing tensor %s", ps.Name)
		}
		if !gu.SameShape(t.Shape(), ps.Shape) {
			return nil, fmt.Errorf("text encoder: tensor %s has shape %v, want %v", ps.Name, []int(t.Shape()), ps.Shape)
		}
		n := G.NewTensor(g, dt, len(ps.Shape), G.WithShape(ps.Shape...), G.WithName("te."+ps.Name), G.WithValue(t))
		p[ps.Name] = n
		lm.Params = append(lm.Params, n)
	}
	input := func(name string, shape ...int) *G.Node { return gu.Input(g, dt, "te."+name, shape...) }
	hd := c.HeadDim()
	lm.IDs, lm.Mask = input("ids", B, L), input("mask", B, L)
	lm.Cos, lm.Sin = input("cos", B, L, hd/2), input("sin", B, L, hd/2)
	opts := ops.AttnOpts{Heads: c.Heads, KVHeads: c.KVHeads, Eps: c.NormEps, Causal: true}

	x := gu.Must(ops.Embedding(p["tok_emb.weight"], lm.IDs)) // [B, L, D]
	for i := 0; i < c.Layers; i++ {
		if i == c.FeatureDepth() {
			lm.Features = x // [B, L, D]
			if featuresOnly {
				return lm, nil
			}
		}
		pre := fmt.Sprintf("layers.%d.", i)
		h := gu.Must(ops.RMSNorm(x, p[pre+"attn_norm.weight"], c.NormEps))                                                                 // [B, L, D]
		qkv := gu.Must(ops.Linear(h, p[pre+"attn.qkv.weight"], nil))                                                                       // [B, L, (H+2KV)·hd]
		a := gu.Must(ops.Attention(qkv, p[pre+"attn.qn.weight"], p[pre+"attn.kn.weight"], lm.Cos, lm.Sin, lm.Mask, opts))                  // [B, L, H·hd]
		x = gu.Must(ops.Add(x, gu.Must(ops.Linear(a, p[pre+"attn.out.weight"], nil))))                                                     // [B, L, D]
		h = gu.Must(ops.RMSNorm(x, p[pre+"ffn_norm.weight"], c.NormEps))                                                                   // [B, L, D]
		f := gu.Must(ops.SwiGLU(gu.Must(ops.Linear(h, p[pre+"ffn.w1.weight"], nil)), gu.Must(ops.Linear(h, p[pre+"ffn.w3.weight"], nil)))) // [B, L, F]
		x = gu.Must(ops.Add(x, gu.Must(ops.Linear(f, p[pre+"ffn.w2.weight"], nil))))                                                       // [B, L, D]
	}
	x = gu.Must(ops.RMSNorm(x, p["norm.weight"], c.NormEps))  // [B, L, D]
	x = gu.Must(G.Reshape(x, tensor.Shape{B * L, c.Dim}))     // [B·L, D]
	lm.Logits = gu.Must(ops.Linear(x, p["head.weight"], nil)) // [B·L, V]
	return lm, nil
}

// NextTokenLoss adds the causal LM objective: predict token i+1 from tokens ≤ i, over real tokens only.
// targets and tmask are [B·L] inputs the caller fills (see Shift).
func (lm *LM) NextTokenLoss(g *G.ExprGraph, dt tensor.Dtype) (loss, targets, tmask *G.Node, err error) {
	n := lm.B * lm.L
	targets = gu.Input(g, dt, "te.targets", n)
	tmask = gu.Input(g, dt, "te.tmask", n)
	loss, err = ops.CrossEntropy(lm.Logits, targets, tmask) // scalar
	return loss, targets, tmask, err
}

// Shift turns padded id rows into next-token targets and their mask: position i predicts ids[i+1] when
// both are real tokens.
func Shift(ids [][]int, lens []int, L int) (targets, mask []float64) {
	targets = make([]float64, len(ids)*L)
	mask = make([]float64, len(ids)*L)
	for b, row := range ids {
		for i := 0; i+1 < lens[b] && i+1 < L; i++ {
			targets[b*L+i] = float64(row[i+1])
			mask[b*L+i] = 1
		}
	}
	return targets, mask
}

// SetTokens fills ids, mask and the 1-D RoPE tables (position i on the first axis) for a padded batch.
func (lm *LM) SetTokens(ids [][]int, lens []int) error {
	if len(ids) != lm.B || len(lens) != lm.B {
		return fmt.Errorf("text encoder: %d rows, want %d", len(ids), lm.B)
	}
	flat := make([]float64, lm.B*lm.L)
	mask := make([]float64, lm.B*lm.L)
	pos := make([][][3]int, lm.B)
	for b := range ids {
		if len(ids[b]) > lm.L || lens[b] > lm.L {
			return fmt.Errorf("text encoder: row %d has %d tokens, graph takes %d", b, len(ids[b]), lm.L)
		}
		pos[b] = make([][3]int, lm.L)
		for i := 0; i < lm.L; i++ {
			pos[b][i] = [3]int{i, 0, 0}
			if i < len(ids[b]) {
				flat[b*lm.L+i] = float64(ids[b][i])
			}
			if i < lens[b] {
				mask[b*lm.L+i] = 1
			}
		}
	}
	cos, sin := ops.RopeTables(pos, [3]int{lm.Cfg.HeadDim(), 0, 0}, 10000)
	for _, f := range []struct {
		n *G.Node
		v []float64
	}{{lm.IDs, flat}, {lm.Mask, mask}, {lm.Cos, cos}, {lm.Sin, sin}} {
		if err := gu.Fill(f.n, f.v); err != nil {
			return err
		}
	}
	return nil
}
