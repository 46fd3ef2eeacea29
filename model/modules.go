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

// FeedForward is SwiGLU: w2(silu(w1·x) ⊙ w3·x), no biases.
type FeedForward struct{ W1, W2, W3 Linear }

func (f FeedForward) Forward(x *G.Node) *G.Node {
	h := gu.Must(ops.SwiGLU(f.W1.Forward(x), f.W3.Forward(x))) // [B, L, F]
	return f.W2.Forward(h)                                     // [B, L, D]
}

// JointBlock is the single-stream transformer block with sandwich norms. With Ada set it is the
// modulated block of the noise refiner and the main layers; without, the context refiner's block.
type JointBlock struct {
	Attn               Attention
	FFN                FeedForward
	AN1, AN2, FN1, FN2 RMSNorm
	Ada                *Linear // SiLU(c) → [scale_msa, gate_msa, scale_mlp, gate_mlp]; nil = unmodulated
	Dim                int
}

// Modulation is the block's four adaLN outputs for one conditioning c, each [B, D].
type Modulation struct{ ScaleMSA, GateMSA, ScaleMLP, GateMLP *G.Node }

// Modulation computes the adaLN parameters from SiLU(c). The reference's chunk order is
// (scale_msa, gate_msa, scale_mlp, gate_mlp).
//
// The chunks are taken as rows of [B, 4, D], not as column ranges of [B, 4·D]: Gorgonia merges nodes
// whose ops hash alike, and its slice hash keeps only the low byte of each bound, so the ranges
// 0:D and 2D:3D of a 128-wide model would become one node (TestModulationChunksDistinct).
func (b *JointBlock) Modulation(siluC *G.Node) Modulation {
	ada := b.Ada.Forward(siluC)                                             // [B, 4D]
	rows := gu.Must(G.Reshape(ada, tensor.Shape{ada.Shape()[0], 4, b.Dim})) // [B, 4, D]
	part := func(i int) *G.Node {
		return gu.Must(G.Slice(rows, nil, G.S(i))) // [B, D]
	}
	return Modulation{part(0), part(1), part(2), part(3)}
}

// ModulatedInput is the attention input of a modulated block: RMSNorm_a1(x)·(1 + scale_msa). TeaCache
// measures its change between steps.
func (b *JointBlock) ModulatedInput(x *G.Node, m Modulation) *G.Node {
	return gu.Must(ops.Modulate(b.AN1.Forward(x), m.ScaleMSA)) // [B, L, D]
}

// Forward applies the block; siluC is SiLU(c) [B, A] for a modulated block and ignored otherwise.
func (b *JointBlock) Forward(x *G.Node, r Rope, siluC *G.Node) *G.Node {
	if b.Ada == nil {
		x = gu.Must(ops.Add(x, b.AN2.Forward(b.Attn.Forward(b.AN1.Forward(x), r)))) // [B, L, D]
		return gu.Must(ops.Add(x, b.FN2.Forward(b.FFN.Forward(b.FN1.Forward(x)))))  // [B, L, D]
	}
	m := b.Modulation(siluC)
	a := b.AN2.Forward(b.Attn.Forward(b.ModulatedInput(x, m), r)) // [B, L, D]
	x = gu.Must(ops.GatedResidual(x, m.GateMSA, a))               // [B, L, D]
	h := gu.Must(ops.Modulate(b.FN1.Forward(x), m.ScaleMLP))      // [B, L, D]
	f := b.FN2.Forward(b.FFN.Forward(h))                          // [B, L, D]
	return gu.Must(ops.GatedResidual(x, m.GateMLP, f))            // [B, L, D]
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

func (p paramSet) block(c arch.Config, prefix string, modulated bool) *JointBlock {
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
	return b
}
