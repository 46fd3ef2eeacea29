package cuda

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/exec"
	"github.com/lumina-workbench/lumina/model/ops"
)

// operands are one fused instruction's places and shapes: the forward inputs, the forward output (the
// instruction's own output in a forward; an input of the backward when it needs it), the output
// gradient and, in a backward, each forward input's gradient.
type operands struct {
	in     []Ptr
	shapes []tensor.Shape
	out    Ptr
	outN   int64
	gy     Ptr
	grads  []Ptr
}

func (lw *lowerer) operands(ins exec.Instr, d ops.Desc) (operands, error) {
	p := lw.l.Prog
	var o operands
	if len(ins.In) < d.Arity {
		return o, fmt.Errorf("%d inputs, the op has %d", len(ins.In), d.Arity)
	}
	for _, v := range ins.In[:d.Arity] {
		o.in = append(o.in, lw.ptr(v))
		o.shapes = append(o.shapes, p.Values[v].Shape)
	}
	if d.Role == ops.Forward {
		o.out, o.outN = lw.ptr(ins.Out), int64(p.Values[ins.Out].Size)
		return o, nil
	}
	rest := ins.In[d.Arity:]
	if d.NeedsOut {
		o.out, rest = lw.ptr(rest[0]), rest[1:]
	}
	if len(rest) != 1 {
		return o, fmt.Errorf("backward with %d inputs after the forward's", len(rest))
	}
	o.gy, o.outN = lw.ptr(rest[0]), int64(p.Values[rest[0]].Size)
	parts := p.Values[ins.Out].Parts
	if len(parts) != len(d.Packed) {
		return o, fmt.Errorf("%d gradient buffers for %d gradients", len(parts), len(d.Packed))
	}
	o.grads = make([]Ptr, d.Arity)
	for i := range o.grads {
		o.grads[i] = Null
	}
	for k, i := range d.Packed {
		o.grads[i] = lw.ptr(parts[k])
	}
	return o, nil
}

// grad is input i's gradient, or scratch when the graph does not want it but the kernel writes it.
func (lw *lowerer) grad(o operands, i int) Ptr {
	if !o.grads[i].IsNull() {
		return o.grads[i]
	}
	return lw.scratch(int64(o.shapes[i].TotalSize()))
}

func size(s tensor.Shape) int64 {
	if s.IsScalar() {
		return 1
	}
	return int64(s.TotalSize())
}

// bld splits x [B, ..., D] into B, the middle as L and D.
func bld(x tensor.Shape) (B, L, D int, err error) {
	if x.Dims() < 2 {
		return 0, 0, 0, fmt.Errorf("x %v, want [B, …, D]", x)
	}
	B, D = x[0], x[x.Dims()-1]
	return B, x.TotalSize() / (B * D), D, nil
}

func (lw *lowerer) forward(ins exec.Instr, d ops.Desc) error {
	o, err := lw.operands(ins, d)
	if err != nil {
		return err
	}
	x, n := o.in[0], size(o.shapes[0])
	switch d.Kernel {
	case "SiLU":
		lw.elementwise("silu_fwd", n, x, o.out, n)
	case "SwiGLU":
		lw.elementwise("swiglu_fwd", n, x, o.in[1], o.out, n)
	case "Add":
		lw.elementwise("add_fwd", n, x, o.in[1], o.out, n)
	case "Modulate", "GatedResidual":
		B, L, D, err := bld(o.shapes[0])
		if err != nil {
			return err
		}
		if d.Kernel == "Modulate" {
			lw.elementwise("modulate_fwd", n, x, o.in[1], o.out, B, L, D)
		} else {
			lw.elementwise("gated_fwd", n, x, o.in[1], o.in[2], o.out, B, L, D)
		}
	case "Linear":
		rows, nIn, nOut := linearDims(o.shapes)
		lw.add(Step{Kind: GemmStep, Gemm: Gemm{TransB: true, M: rows, N: nOut, K: nIn, A: x, B: o.in[1], C: o.out}})
		if d.Params.Bias {
			lw.elementwise("bias_add", int64(rows)*int64(nOut), o.out, o.in[2], int64(rows), nOut)
		}
	case "RMSNorm", "LayerNorm":
		D := o.shapes[0][o.shapes[0].Dims()-1]
		rows := n / int64(D)
		l, err := Rows(rows, D)
		if d.Kernel == "RMSNorm" {
			lw.kernel("rmsnorm_fwd", l, err, x, o.in[1], o.out, Null, rows, D, d.Params.Eps)
		} else {
			lw.kernel("layernorm_fwd", l, err, x, o.out, rows, D, d.Params.Eps)
		}
	case "Patchify":
		s := o.shapes[0]
		lw.elementwise("patchify", n, x, o.out, s[0], s[1], s[2], s[3], d.Params.P)
	case "Unpatchify":
		pp := d.Params
		lw.elementwise("unpatchify", n, x, o.out, o.shapes[0][0], pp.C, pp.H, pp.W, pp.P)
	case "AvgPool":
		s := o.shapes[0]
		lw.elementwise("avgpool_fwd", o.outN, x, o.out, int64(s[0]*s[1]), s[2], s[3], d.Params.K)
	case "MSE":
		lw.mse(x, o.in[1], o.out, n)
	case "Attention":
		s, err := attnShape(d, o.shapes)
		if err != nil {
			return err
		}
		lw.attnForward(s, d, o, o.out)
	case "CrossAttention":
		s, err := xattnShape(d, o.shapes)
		if err != nil {
			return err
		}
		lw.xattnForward(s, d, o, o.out)
	case "Embedding":
		V, D := o.shapes[0][0], o.shapes[0][1]
		rows := size(o.shapes[1])
		lw.elementwise("embed_fwd", rows*int64(D), x, o.in[1], o.out, rows, D, V)
	case "CrossEntropy":
		lw.crossEntropy(o, o.out, lw.scratch(1))
	default:
		return fmt.Errorf("%s has no CUDA kernel yet", d.Kernel)
	}
	return nil
}

func (lw *lowerer) backward(ins exec.Instr, d ops.Desc) error {
	o, err := lw.operands(ins, d)
	if err != nil {
		return err
	}
	x, n := o.in[0], size(o.shapes[0])
	switch d.Kernel {
	case "SiLU":
		lw.elementwise("silu_bwd", n, x, o.gy, lw.grad(o, 0), n)
	case "SwiGLU":
		lw.elementwise("swiglu_bwd", n, x, o.in[1], o.gy, lw.grad(o, 0), lw.grad(o, 1), n)
	case "Modulate":
		B, L, D, err := bld(o.shapes[0])
		if err != nil {
			return err
		}
		if !o.grads[0].IsNull() { // dx = g·(1 + scale): Modulate's own form
			lw.elementwise("modulate_fwd", n, o.gy, o.in[1], o.grads[0], B, L, D)
		}
		if !o.grads[1].IsNull() {
			lw.elementwise("sample_sums", int64(B*D), o.gy, x, Null, o.grads[1], B, L, D)
		}
	case "GatedResidual": // dx is the output gradient itself, passed through with no op
		B, L, D, err := bld(o.shapes[0])
		if err != nil {
			return err
		}
		if !o.grads[2].IsNull() {
			lw.elementwise("gated_bwd_dy", n, o.in[1], o.gy, o.grads[2], B, L, D)
		}
		if !o.grads[1].IsNull() {
			lw.elementwise("sample_sums", int64(B*D), o.gy, o.in[2], o.in[1], o.grads[1], B, L, D)
		}
	case "Linear":
		rows, nIn, nOut := linearDims(o.shapes)
		if !o.grads[0].IsNull() { // dX[rows, in] = dY·W
			lw.add(Step{Kind: GemmStep, Gemm: Gemm{M: rows, N: nIn, K: nOut, A: o.gy, B: o.in[1], C: o.grads[0]}})
		}
		if !o.grads[1].IsNull() { // dW[out, in] = dYᵀ·X
			lw.add(Step{Kind: GemmStep, Gemm: Gemm{TransA: true, M: nOut, N: nIn, K: rows, A: o.gy, B: x, C: o.grads[1]}})
		}
		if d.Params.Bias && !o.grads[2].IsNull() {
			lw.elementwise("col_sum", int64(nOut), o.gy, o.grads[2], int64(rows), nOut)
		}
	case "RMSNorm":
		D := o.shapes[0][o.shapes[0].Dims()-1]
		rows := n / int64(D)
		l, err := Rows(rows, D)
		gwx := lw.scratch(n)
		lw.kernel("rmsnorm_bwd", l, err, x, o.in[1], o.gy, lw.grad(o, 0), gwx, rows, D, d.Params.Eps)
		if !o.grads[1].IsNull() {
			lw.elementwise("col_sum", int64(D), gwx, o.grads[1], rows, D)
		}
	case "LayerNorm":
		D := o.shapes[0][o.shapes[0].Dims()-1]
		rows := n / int64(D)
		l, err := Rows(rows, D)
		lw.kernel("layernorm_bwd", l, err, x, o.gy, lw.grad(o, 0), rows, D, d.Params.Eps)
	case "Patchify": // the transpose of a permutation is its inverse
		s := o.shapes[0]
		lw.elementwise("unpatchify", n, o.gy, lw.grad(o, 0), s[0], s[1], s[2], s[3], d.Params.P)
	case "Unpatchify":
		pp := d.Params
		lw.elementwise("patchify", n, o.gy, lw.grad(o, 0), o.shapes[0][0], pp.C, pp.H, pp.W, pp.P)
	case "AvgPool":
		s := o.shapes[0]
		lw.elementwise("avgpool_bwd", n, o.gy, lw.grad(o, 0), int64(s[0]*s[1]), s[2], s[3], d.Params.K)
	case "MSE":
		lw.elementwise("mse_bwd", n, x, o.in[1], o.gy, lw.grad(o, 0), o.grads[1], n)
	case "Attention":
		s, err := attnShape(d, o.shapes)
		if err != nil {
			return err
		}
		lw.attnBackward(s, d, o)
	case "CrossAttention":
		s, err := xattnShape(d, o.shapes)
		if err != nil {
			return err
		}
		lw.xattnBackward(s, d, o)
	case "Embedding":
		V, D := o.shapes[0][0], o.shapes[0][1]
		rows := size(o.shapes[1])
		dt := lw.grad(o, 0)
		lw.add(Step{Kind: ZeroStep, Dst: dt, N: int64(V) * int64(D)})
		lw.elementwise("embed_bwd", int64(D), o.in[1], o.gy, dt, rows, D, V)
	case "CrossEntropy":
		N, V := o.shapes[0][0], o.shapes[0][1]
		lse, msum := lw.crossEntropy(o, lw.scratch(1), lw.scratch(1))
		lw.elementwise("ce_bwd", int64(N)*int64(V), x, o.in[1], o.in[2], lse, msum, o.gy, lw.grad(o, 0), N, V)
	default:
		return fmt.Errorf("%s has no CUDA kernel yet", d.Kernel)
	}
	return nil
}

// crossEntropy writes the mean next-token loss of logits [N, V] (o.in: logits, targets, mask) to out and
// the mask's sum to msum; it returns the rows' log-sum-exps for a backward in the same instruction.
func (lw *lowerer) crossEntropy(o operands, out, msum Ptr) (lse, sum Ptr) {
	N, V := o.shapes[0][0], o.shapes[0][1]
	terms, lse := lw.scratch(2*int64(N)), lw.scratch(int64(N))
	lw.elementwise("ce_rows", int64(N), o.in[0], o.in[1], o.in[2], terms, lse, N, V)
	one := Launch{Grid: [3]int{1, 1, 1}, Block: [3]int{32, 1, 1}}
	lw.kernel("ce_final", one, one.Validate(), terms, o.in[2], N, out, msum)
	return lse, msum
}

// linearDims are rows (x's leading axes), in and out of Linear's x [..., in] and w [out, in].
func linearDims(s []tensor.Shape) (rows, nIn, nOut int) {
	nOut, nIn = s[1][0], s[1][1]
	return s[0].TotalSize() / nIn, nIn, nOut
}

// mse is sq_partial's per-block sums of (a − b)² and sq_final's ordered total times 1/n.
func (lw *lowerer) mse(a, b, out Ptr, n int64) {
	l, parts, err := Reduce(n)
	partial := lw.scratch(2 * int64(max(parts, 1)))
	lw.kernel("sq_partial", l, err, a, b, partial, n)
	one := Launch{Grid: [3]int{1, 1, 1}, Block: [3]int{32, 1, 1}}
	lw.kernel("sq_final", one, one.Validate(), partial, parts, 1/float64(n), out)
}

func attnShape(d ops.Desc, s []tensor.Shape) (AttnShape, error) {
	q := s[0]
	a := d.Params.Attn
	if q.Dims() != 3 || a.Heads+2*a.KVHeads <= 0 {
		return AttnShape{}, fmt.Errorf("qkv %v", q)
	}
	as := AttnShape{B: q[0], L: q[1], Heads: a.Heads, KVHeads: a.KVHeads, HeadDim: q[2] / (a.Heads + 2*a.KVHeads)}
	return as, as.Validate()
}

// attnScratch are the head-major copies attn_prep writes and the passes read.
type attnScratch struct{ qr, kr, vv, rq, rk, lse Ptr }

// attnScratch takes the head-major copies' places for s.
func (lw *lowerer) attnScratch(s AttnShape) attnScratch {
	qn, kn := int64(s.B*s.Heads*s.L), int64(s.B*s.KVHeads*s.Keys())
	hd := int64(s.HeadDim)
	return attnScratch{qr: lw.scratch(qn * hd), kr: lw.scratch(kn * hd), vv: lw.scratch(kn * hd),
		rq: lw.scratch(qn), rk: lw.scratch(kn), lse: lw.scratch(qn)}
}

// attnGrads runs attn_bwd_dq and attn_bwd_dkv on a forward's scratch and output and the output gradient
// gy: the gradients of the head-major q, k and v.
func (lw *lowerer) attnGrads(s AttnShape, sc attnScratch, mask, out, gy Ptr, causal int) (dq, dk, dv Ptr) {
	B, Lq, Lk, H, KV, hd := s.B, s.L, s.Keys(), s.Heads, s.KVHeads, s.HeadDim
	dq, dk, dv = lw.scratch(int64(B*H*Lq*hd)), lw.scratch(int64(B*KV*Lk*hd)), lw.scratch(int64(B*KV*Lk*hd))
	l, err := AttnQuery(s)
	lw.kernel("attn_bwd_dq", l, err, sc.qr, sc.kr, sc.vv, mask, out, gy, sc.lse, dq, B, Lq, Lk, H, KV, hd, causal)
	l, err = AttnKV(s)
	lw.kernel("attn_bwd_dkv", l, err, sc.qr, sc.kr, sc.vv, mask, out, gy, sc.lse, dk, dv, B, Lq, Lk, H, KV, hd, causal)
	return dq, dk, dv
}

// attnForward runs attn_prep and attn_fwd, writing the output to out; it returns the scratch for a
// backward that follows in the same instruction.
func (lw *lowerer) attnForward(s AttnShape, d ops.Desc, o operands, out Ptr) attnScratch {
	B, L, H, KV, hd := s.B, s.L, s.Heads, s.KVHeads, s.HeadDim
	sc := lw.attnScratch(s)
	mask := Null
	if d.Params.Masked {
		mask = o.in[5]
	}
	l, err := AttnPrep(s)
	lw.kernel("attn_prep", l, err, o.in[0], o.in[1], o.in[2], o.in[3], o.in[4], sc.qr, sc.kr, sc.vv, sc.rq, sc.rk, B, L, H, KV, hd, d.Params.Attn.Eps)
	l, err = AttnQuery(s)
	lw.kernel("attn_fwd", l, err, sc.qr, sc.kr, sc.vv, mask, out, sc.lse, B, L, L, H, KV, hd, causal(d))
	return sc
}

func causal(d ops.Desc) int {
	if d.Params.Attn.Causal {
		return 1
	}
	return 0
}

func (lw *lowerer) attnBackward(s AttnShape, d ops.Desc, o operands) {
	B, L, H, KV, hd := s.B, s.L, s.Heads, s.KVHeads, s.HeadDim
	out := lw.scratch(int64(B * L * H * hd))
	sc := lw.attnForward(s, d, o, out)
	mask := Null
	if d.Params.Masked {
		mask = o.in[5]
	}
	dq, dk, dv := lw.attnGrads(s, sc, mask, out, o.gy, causal(d))
	dwq, dwk := lw.scratch(int64(B*L*H*hd)), lw.scratch(int64(B*L*KV*hd))
	l, err := AttnPrep(s)
	lw.kernel("attn_post", l, err, o.in[0], o.in[1], o.in[2], o.in[3], o.in[4], sc.rq, sc.rk, dq, dk, dv,
		lw.grad(o, 0), dwq, dwk, B, L, H, KV, hd)
	if !o.grads[1].IsNull() {
		lw.elementwise("col_sum", int64(hd), dwq, o.grads[1], int64(B*L*H), hd)
	}
	if !o.grads[2].IsNull() {
		lw.elementwise("col_sum", int64(hd), dwk, o.grads[2], int64(B*L*KV), hd)
	}
}

// xattnShape is a cross-attention's: queries q [B, Lq, H·hd], keys and values kv [B, Lk, 2·KV·hd].
func xattnShape(d ops.Desc, s []tensor.Shape) (AttnShape, error) {
	q, kv := s[0], s[1]
	a := d.Params.Attn
	if q.Dims() != 3 || kv.Dims() != 3 || a.Heads <= 0 || q[0] != kv[0] {
		return AttnShape{}, fmt.Errorf("q %v, kv %v", q, kv)
	}
	as := AttnShape{B: q[0], L: q[1], Lk: kv[1], Heads: a.Heads, KVHeads: a.KVHeads, HeadDim: q[2] / a.Heads}
	if as.HeadDim*2*a.KVHeads != kv[2] {
		return AttnShape{}, fmt.Errorf("q %v, kv %v: head dims differ", q, kv)
	}
	return as, as.Validate()
}

// xattnForward normalises q and k per head into head-major copies (xattn_prep, v copied beside them)
// and runs attn_fwd over Lq queries and Lk keys, writing the output to out; it returns the scratch for
// a backward in the same instruction. o.in: q, kv, qNorm, kNorm[, keyMask].
func (lw *lowerer) xattnForward(s AttnShape, d ops.Desc, o operands, out Ptr) attnScratch {
	B, Lq, Lk, H, KV, hd := s.B, s.L, s.Keys(), s.Heads, s.KVHeads, s.HeadDim
	qn, kn := int64(B*H*Lq), int64(B*KV*Lk)
	sc := lw.attnScratch(s)
	mask := Null
	if d.Params.Masked {
		mask = o.in[4]
	}
	eps := d.Params.Attn.Eps
	lw.elementwise("xattn_prep", qn, o.in[0], H*hd, o.in[2], sc.qr, sc.rq, B, Lq, H, hd, eps)
	lw.elementwise("xattn_prep", kn, o.in[1], 2*KV*hd, o.in[3], sc.kr, sc.rk, B, Lk, KV, hd, eps)
	lw.elementwise("xattn_prep", kn, o.in[1].Add(int64(KV*hd)), 2*KV*hd, Null, sc.vv, Null, B, Lk, KV, hd, eps)
	l, err := AttnQuery(s)
	lw.kernel("attn_fwd", l, err, sc.qr, sc.kr, sc.vv, mask, out, sc.lse, B, Lq, Lk, H, KV, hd, 0)
	return sc
}

func (lw *lowerer) xattnBackward(s AttnShape, d ops.Desc, o operands) {
	B, Lq, Lk, H, KV, hd := s.B, s.L, s.Keys(), s.Heads, s.KVHeads, s.HeadDim
	out := lw.scratch(int64(B * Lq * H * hd))
	sc := lw.xattnForward(s, d, o, out)
	mask := Null
	if d.Params.Masked {
		mask = o.in[4]
	}
	dq, dk, dv := lw.attnGrads(s, sc, mask, out, o.gy, 0)
	dwq, dwk := lw.scratch(int64(B*Lq*H*hd)), lw.scratch(int64(B*Lk*KV*hd))
	gq, gkv := lw.grad(o, 0), lw.grad(o, 1)
	lw.elementwise("xattn_post", int64(B*Lq*H), o.in[0], H*hd, o.in[2], sc.rq, dq, gq, H*hd, dwq, B, Lq, H, hd)
	lw.elementwise("xattn_post", int64(B*Lk*KV), o.in[1], 2*KV*hd, o.in[3], sc.rk, dk, gkv, 2*KV*hd, dwk, B, Lk, KV, hd)
	lw.elementwise("xattn_post", int64(B*Lk*KV), Null, 0, Null, Null, dv, gkv.Add(int64(KV*hd)), 2*KV*hd, Null, B, Lk, KV, hd)
	if !o.grads[2].IsNull() {
		lw.elementwise("col_sum", int64(hd), dwq, o.grads[2], int64(B*Lq*H), hd)
	}
	if !o.grads[3].IsNull() {
		lw.elementwise("col_sum", int64(hd), dwk, o.grads[3], int64(B*Lk*KV), hd)
	}
}
