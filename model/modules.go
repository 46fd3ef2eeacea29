package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/arch"
	gu "github.com/lumina-workbench/lumina/model/graphutil"
	"github.com/lumina-workbench/lumina/model/ops"
)

// Linear is y = x·Wᵀ + b with W in PyTorch's [out, in] layout.
type Linear struct{ W, B *G.Node }

func (l Linear) Forward(x *G.Node) *G.Node { return gu.Must(ops.Linear(x, l.W, l.B)) } // [..., out]

// RMSNorm normalises the last axis and scales it by a learned weight.
type RMSNorm struct {
	W   *G.Node
	Eps float64
}

func (n RMSNorm) Forward(x *G.Node) *G.Node { return gu.Must(ops.RMSNorm(x, n.W, n.Eps)) } // same shape as x

// Rope is the rotary tables and key mask for one token sequence; they are graph inputs because caption
// lengths, and so image positions, change from batch to batch.
type Rope struct {
	Cos, Sin *G.Node // [B, L, head_dim/2]
	Mask     *G.Node // [B, L], 1 = a real token
}

// Attention is grouped-query self-attention with QK-norm and 3-axis RoPE, fused into one op.
type Attention struct {
	QKV, Out Linear
	QNorm    *G.Node // [head_dim]
	KNorm    *G.Node // [head_dim]
	Opts     ops.AttnOpts
}

func (a Attention) Forward(x *G.Node, r Rope) *G.Node {
	qkv := a.QKV.Forward(x)                                                          // [B, L, (H+2KV)·hd]
	o := gu.Must(ops.Attention(qkv, a.QNorm, a.KNorm, r.Cos, r.Sin, r.Mask, a.Opts)) // [B, L, H·hd]
	return a.Out.Forward(o)                                                          // [B, L, D]
}

// CrossAttention is the text path of a cross-injection main block: queries from the image tokens, keys
// and values from the refined caption tokens, QK-norm, no RoPE, fused into one op.
type CrossAttention struct {
	Q, KV, Out Linear
	QNorm      *G.Node // [head_dim]
	KNorm      *G.Node // [head_dim]
	Opts       ops.AttnOpts
}

// Forward attends from x [B, L, D] to ctx [B, Lc, D] (already normalised) with the key mask ctxMask.
func (a CrossAttention) Forward(x, ctx, ctxMask *G.Node) *G.Node {
	q := a.Q.Forward(x)                                                        // [B, L, H·hd]
	kv := a.KV.Forward(ctx)                                                    // [B, Lc, 2·KV·hd]
	o := gu.Must(ops.CrossAttention(q, kv, a.QNorm, a.KNorm, ctxMask, a.Opts)) // [B, L, H·hd]
	return a.Out.Forward(o)                                                    // [B, L, D]
}

// Text is what a cross-attention block reads of the caption.
type Text struct {
	Tokens *G.Node // [B, Lc, D] the context refiner's output
	Mask   *G.Node // [B, Lc], 1 = a real caption token
}

// FeedForward is SwiGLU: w2(silu(w1·x) ⊙ w3·x), no biases.
type FeedForward struct{ W1, W2, W3 Linear }

func (f FeedForward) Forward(x *G.Node) *G.Node {
	h := gu.Must(ops.SwiGLU(f.W1.Forward(x), f.W3.Forward(x))) // [B, L, F]
	return f.W2.Forward(h)                                     // [B, L, D]
}

// JointBlock is the single-stream transformer block with sandwich norms. With Ada set it is the
// modulated block of the noise refiner and the main layers; without, the context refiner's block. With
// Cross set (the main blocks of the cross-injection model) a cross-attention sublayer sits between the
// self-attention and the FFN.
type JointBlock struct {
	Attn               Attention
	FFN                FeedForward
	AN1, AN2, FN1, FN2 RMSNorm
	Ada                *Linear // SiLU(c) → [scale_msa, gate_msa, scale_mlp, gate_mlp(, scale_xa, gate_xa)]; nil = unmodulated
	Dim                int
	// Cross is the cross-attention; XN1, XN2 its sandwich norms, XNC the norm of the caption it reads.
	Cross         *CrossAttention
	XN1, XN2, XNC RMSNorm
}

// Modulation is the block's adaLN outputs for one conditioning c, each [B, D]; ScaleXA and GateXA only
// in a cross-attention block.
type Modulation struct{ ScaleMSA, GateMSA, ScaleMLP, GateMLP, ScaleXA, GateXA *G.Node }

// Modulation computes the adaLN parameters from SiLU(c). The reference's chunk order is
// (scale_msa, gate_msa, scale_mlp, gate_mlp), and a cross-attention block's two follow.
//
// The chunks are taken as rows of [B, k, D], not as column ranges of [B, k·D]: Gorgonia merges nodes
// whose ops hash alike, and its slice hash keeps only the low byte of each bound, so the ranges
// 0:D and 2D:3D of a 128-wide model would become one node (TestModulationChunksDistinct).
func (b *JointBlock) Modulation(siluC *G.Node) Modulation {
	ada := b.Ada.Forward(siluC) // [B, k·D], k = 4, or 6 in a cross-attention block
	k := ada.Shape()[1] / b.Dim
	rows := gu.Must(G.Reshape(ada, tensor.Shape{ada.Shape()[0], k, b.Dim})) // [B, k, D]
	part := func(i int) *G.Node {
		return gu.Must(G.Slice(rows, nil, G.S(i))) // [B, D]
	}
	m := Modulation{ScaleMSA: part(0), GateMSA: part(1), ScaleMLP: part(2), GateMLP: part(3)}
	if b.Cross != nil {
		m.ScaleXA, m.GateXA = part(4), part(5)
	}
	return m
}

// ModulatedInput is the attention input of a modulated block: RMSNorm_a1(x)·(1 + scale_msa). TeaCache
// measures its change between steps.
func (b *JointBlock) ModulatedInput(x *G.Node, m Modulation) *G.Node {
	return gu.Must(ops.Modulate(b.AN1.Forward(x), m.ScaleMSA)) // [B, L, D]
}

// Forward applies the block; siluC is SiLU(c) [B, A] for a modulated block and ignored otherwise; text
// is the caption a cross-attention block reads (nil for the others).
func (b *JointBlock) Forward(x *G.Node, r Rope, siluC *G.Node, text *Text) *G.Node {
	if b.Ada == nil {
		x = gu.Must(ops.Add(x, b.AN2.Forward(b.Attn.Forward(b.AN1.Forward(x), r)))) // [B, L, D]
		return gu.Must(ops.Add(x, b.FN2.Forward(b.FFN.Forward(b.FN1.Forward(x)))))  // [B, L, D]
	}
	m := b.Modulation(siluC)
	a := b.AN2.Forward(b.Attn.Forward(b.ModulatedInput(x, m), r)) // [B, L, D]
	x = gu.Must(ops.GatedResidual(x, m.GateMSA, a))               // [B, L, D]
	if b.Cross != nil {
		if text == nil {
			gu.Fail(fmt.Errorf("model: a cross-attention block needs the caption tokens"))
		}
		q := gu.Must(ops.Modulate(b.XN1.Forward(x), m.ScaleXA))                       // [B, L, D]
		c := b.XN2.Forward(b.Cross.Forward(q, b.XNC.Forward(text.Tokens), text.Mask)) // [B, L, D]
		x = gu.Must(ops.GatedResidual(x, m.GateXA, c))                                // [B, L, D]
	}
	h := gu.Must(ops.Modulate(b.FN1.Forward(x), m.ScaleMLP)) // [B, L, D]
	f := b.FN2.Forward(b.FFN.Forward(h))                     // [B, L, D]
	return gu.Must(ops.GatedResidual(x, m.GateMLP, f))       // [B, L, D]
}

// TimestepEmbedder maps the 256-d sinusoid of t (computed outside the graph) to c.
type TimestepEmbedder struct{ L0, L2 Linear }

func (e TimestepEmbedder) Forward(freq *G.Node) *G.Node {
	return e.L2.Forward(gu.Must(ops.SiLU(e.L0.Forward(freq)))) // [B, A]
}

// CaptionEmbedder projects text-encoder features to the model width.
type CaptionEmbedder struct {
	Norm RMSNorm
	Proj Linear
}

func (e CaptionEmbedder) Forward(cap *G.Node) *G.Node { return e.Proj.Forward(e.Norm.Forward(cap)) } // [B, Lc, D]

// FinalLayer is LayerNorm (no affine) → ·(1 + scale(c)) → Linear to patch pixels.
type FinalLayer struct {
	Ada  Linear
	Proj Linear
}

func (f FinalLayer) Forward(x, siluC *G.Node) *G.Node {
	scale := f.Ada.Forward(siluC)                                      // [B, D]
	h := gu.Must(ops.Modulate(gu.Must(ops.LayerNorm(x, 1e-6)), scale)) // [B, L, D]
	return f.Proj.Forward(h)                                           // [B, L, p·p·C]
}

// paramSet looks parameter nodes up by their PyTorch names.
type paramSet map[string]*G.Node

func (p paramSet) get(name string) *G.Node {
	n, ok := p[name]
	if !ok {
		gu.Fail(fmt.Errorf("model: no parameter %q", name))
	}
	return n
}

func (p paramSet) linear(name string, bias bool) Linear {
	l := Linear{W: p.get(name + ".weight")}
	if bias {
		l.B = p.get(name + ".bias")
	}
	return l
}

func (p paramSet) block(c arch.Config, prefix string, modulated, cross bool) *JointBlock {
	norm := func(n string) RMSNorm { return RMSNorm{p.get(prefix + "." + n + ".weight"), c.NormEps} }
	b := &JointBlock{
		Attn: Attention{
			QKV: p.linear(prefix+".attn.qkv", false), Out: p.linear(prefix+".attn.out", false),
			QNorm: p.get(prefix + ".attn.qn.weight"), KNorm: p.get(prefix + ".attn.kn.weight"),
			Opts: ops.AttnOpts{Heads: c.Heads, KVHeads: c.KVHeads, Eps: c.NormEps},
		},
		FFN: FeedForward{W1: p.linear(prefix+".ffn.w1", false), W2: p.linear(prefix+".ffn.w2", false),
			W3: p.linear(prefix+".ffn.w3", false)},
		AN1: norm("an1"), AN2: norm("an2"), FN1: norm("fn1"), FN2: norm("fn2"),
		Dim: c.Dim,
	}
	if modulated {
		ada := p.linear(prefix+".ada.1", true)
		b.Ada = &ada
	}
	if cross {
		b.Cross = &CrossAttention{
			Q: p.linear(prefix+".xattn.q", false), KV: p.linear(prefix+".xattn.kv", false),
			Out:   p.linear(prefix+".xattn.out", false),
			QNorm: p.get(prefix + ".xattn.qn.weight"), KNorm: p.get(prefix + ".xattn.kn.weight"),
			Opts: ops.AttnOpts{Heads: c.Heads, KVHeads: c.KVHeads, Eps: c.NormEps},
		}
		b.XN1, b.XN2, b.XNC = norm("xn1"), norm("xn2"), norm("xnc")
	}
	return b
}
