package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AttnOpts are the attention's hyper-parameters.
type AttnOpts struct {
	Heads, KVHeads int
	Eps            float64 // QK RMSNorm epsilon
	Causal         bool    // add a causal mask (the text encoder)
}

// Attention is the fused joint attention: qkv [B, L, (H+2·KV)·hd] = [q | k | v]; per-head QK RMSNorm with
// the weights qNorm, kNorm [hd] (eps o.Eps) before RoPE; RoPE by the tables cos, sin [B, L, hd/2] (pairs
// (2i, 2i+1)); grouped-query attention (query head h reads kv head h/(H/KV)), scale 1/sqrt(hd); keyMask
// [B, L] (1 = attend, 0 = padding, hidden as a key; nil = attend everywhere); o.Causal adds a causal mask.
// → [B, L, H·hd]. A query with no visible key gets a zero output. cos, sin and keyMask are not
// differentiable.
//
// The op keeps what its backward needs (normalised, rotated q and k, softmax probabilities) from its last
// forward, so one graph must not be run by two machines at once (docs/DESIGN.md §10: that is unsafe anyway).
func Attention(qkv, qNorm, kNorm, cos, sin, keyMask *G.Node, o AttnOpts) (*G.Node, error) {
	if o.Heads <= 0 || o.KVHeads <= 0 || o.Heads%o.KVHeads != 0 {
		return nil, fmt.Errorf("Attention: heads %d, kv_heads %d: want positive, heads a multiple of kv_heads", o.Heads, o.KVHeads)
	}
	if !(o.Eps >= 0) {
		return nil, fmt.Errorf("Attention: eps %g, want ≥ 0", o.Eps)
	}
	k := &attnK{o: o, masked: keyMask != nil}
	if keyMask == nil {
		return apply(k, qkv, qNorm, kNorm, cos, sin)
	}
	return apply(k, qkv, qNorm, kNorm, cos, sin, keyMask)
}

// attnK wraps attnkernel.go's forward and backward. It is a pointer so that the backward op, which shares
// it, finds the forward's cache.
type attnK struct {
	o      AttnOpts
	masked bool
	st     *State // its own, made on first use, or one shared (ShareState)
}

// State is what the fused attentions keep from a forward for their backward, with their workers'
// scratch. Each attention has its own; attentions whose backward never runs can share one (ShareState),
// which then holds the largest of them instead of all.
type State struct {
	a32 attnCache[float32]
	a64 attnCache[float64]
	x32 xattnCache[float32]
	x64 xattnCache[float64]
}

// ShareState makes op, when it is a fused attention's forward, keep its state in s and reports whether
// it did. Every op sharing s must run at a different time, and none may have a backward that reads its
// state: each forward overwrites what the last one kept.
func ShareState(op G.Op, s *State) bool {
	f, ok := op.(*fwdOp)
	if !ok {
		return false
	}
	switch k := f.k.(type) {
	case *attnK:
		k.st = s
	case *xattnK:
		k.st = s
	default:
		return false
	}
	return true
}

// StateOwner is the kernel whose state a fused attention's forward or backward op reads (the two share
// it), or nil for any other op: a backward in the same program means the state must not be shared.
func StateOwner(op G.Op) any {
	var k kernel
	switch o := op.(type) {
	case *fwdOp:
		k = o.k
	case *bwdOp:
		k = o.k
	default:
		return nil
	}
	switch k.(type) {
	case *attnK, *xattnK:
		return k
	}
	return nil
}

func ownState(st **State) *State {
	if *st == nil {
		*st = new(State)
	}
	return *st
}

func (k *attnK) name() string {
	return fmt.Sprintf("Attention(H=%d,KV=%d,eps=%g,causal=%t,mask=%t)", k.o.Heads, k.o.KVHeads, k.o.Eps, k.o.Causal, k.masked)
}
func (k *attnK) arity() int {
	if k.masked {
		return 6
	}
	return 5
}
func (k *attnK) diff() []bool {
	d := []bool{true, true, true, false, false, false}
	return d[:k.arity()]
}
func (k *attnK) passThrough() []bool { return nil }

// needsOut: the backward reads the cache, not the output, but taking the output as an input orders the
// backward after the forward even when the output gradient does not depend on the output.
func (k *attnK) needsOut() bool { return true }

// shape reads B, L and head_dim off the input shapes.
func (k *attnK) shape(in []tensor.Shape) (attnShape, error) {
	q := in[0]
	H, KV := k.o.Heads, k.o.KVHeads
	if q.Dims() != 3 || q[2]%(H+2*KV) != 0 {
		return attnShape{}, fmt.Errorf("qkv %v: want [B, L, (H+2·KV)·hd] with H=%d, KV=%d", q, H, KV)
	}
	s := attnShape{B: q[0], L: q[1], Heads: H, KVHeads: KV, HeadDim: q[2] / (H + 2*KV), Eps: k.o.Eps, Causal: k.o.Causal}
	if err := s.validate(); err != nil {
		return s, fmt.Errorf("qkv %v: %w", q, err)
	}
	hd := s.HeadDim
	for i, nm := range []string{"qNorm", "kNorm"} {
		if w := in[1+i]; w.Dims() != 1 || w[0] != hd {
			return s, fmt.Errorf("%s %v, want [%d] (head_dim)", nm, w, hd)
		}
	}
	for i, nm := range []string{"cos", "sin"} {
		if t := in[3+i]; !t.Eq(tensor.Shape{s.B, s.L, hd / 2}) {
			return s, fmt.Errorf("%s %v, want [%d, %d, %d] ([B, L, head_dim/2])", nm, t, s.B, s.L, hd/2)
		}
	}
	if k.masked {
		if m := in[5]; !m.Eq(tensor.Shape{s.B, s.L}) {
			return s, fmt.Errorf("keyMask %v, want [%d, %d] ([B, L])", m, s.B, s.L)
		}
	}
	return s, nil
}

func (k *attnK) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s, err := k.shape(in)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s.B, s.L, s.Heads * s.HeadDim}, nil
}

func (k *attnK) forward(out *tensor.Dense, in []*tensor.Dense) error {
	s, err := k.shape(shapesOfDense(in))
	if err != nil {
		return err
	}
	if out.Dtype() == tensor.Float32 {
		return attnFwdT(s, in, out, &ownState(&k.st).a32)
	}
	return attnFwdT(s, in, out, &ownState(&k.st).a64)
}

func (k *attnK) backward(grads []*tensor.Dense, gy, _ *tensor.Dense, in []*tensor.Dense) error {
	s, err := k.shape(shapesOfDense(in))
	if err != nil {
		return err
	}
	if gy.Dtype() == tensor.Float32 {
		return attnBwdT(s, grads, gy, in, &ownState(&k.st).a32)
	}
	return attnBwdT(s, grads, gy, in, &ownState(&k.st).a64)
}

func shapesOfDense(in []*tensor.Dense) []tensor.Shape {
	s := make([]tensor.Shape, len(in))
	for i, d := range in {
		s[i] = d.Shape()
	}
	return s
}

func attnFwdT[T float32 | float64](s attnShape, in []*tensor.Dense, out *tensor.Dense, c *attnCache[T]) error {
	var mask []T
	if len(in) > 5 {
		mask = data[T](in[5])
	}
	return attnForward(s, data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](in[3]), data[T](in[4]), mask, data[T](out), c)
}

func attnBwdT[T float32 | float64](s attnShape, grads []*tensor.Dense, gy *tensor.Dense, in []*tensor.Dense, c *attnCache[T]) error {
	var mask []T
	if len(in) > 5 {
		mask = data[T](in[5])
	}
	if grads[0] == nil || grads[1] == nil || grads[2] == nil {
		return fmt.Errorf("attention backward needs the qkv, qNorm and kNorm gradient buffers")
	}
	return attnBackward(s, data[T](gy), data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](in[3]), data[T](in[4]), mask,
		c, data[T](grads[0]), data[T](grads[1]), data[T](grads[2]))
}

// CrossAttention is the fused cross-attention of the cross-injection Next-DiT: queries q [B, Lq, H·hd]
// attend to the keys and values kv [B, Lk, 2·KV·hd] = [k | v] of another sequence; per-head QK RMSNorm
// with the weights qNorm, kNorm [hd] (eps o.Eps), no RoPE, grouped-query (query head h reads kv head
// h/(H/KV)), scale 1/sqrt(hd); keyMask [B, Lk] (1 = attend, 0 = padding; nil = attend everywhere).
// → [B, Lq, H·hd]. A query with no visible key gets a zero output. keyMask is not differentiable;
// o.Causal must be false (the two sequences have no common order).
//
// Like Attention, the op keeps its last forward for the backward: one graph, one machine at a time.
func CrossAttention(q, kv, qNorm, kNorm, keyMask *G.Node, o AttnOpts) (*G.Node, error) {
	if o.Heads <= 0 || o.KVHeads <= 0 || o.Heads%o.KVHeads != 0 {
		return nil, fmt.Errorf("CrossAttention: heads %d, kv_heads %d: want positive, heads a multiple of kv_heads", o.Heads, o.KVHeads)
	}
	if !(o.Eps >= 0) {
		return nil, fmt.Errorf("CrossAttention: eps %g, want ≥ 0", o.Eps)
	}
	if o.Causal {
		return nil, fmt.Errorf("CrossAttention: a causal mask needs one sequence; queries and keys here are two")
	}
	k := &xattnK{o: o, masked: keyMask != nil}
	if keyMask == nil {
		return apply(k, q, kv, qNorm, kNorm)
	}
	return apply(k, q, kv, qNorm, kNorm, keyMask)
}

// xattnK wraps xattnkernel.go's forward and backward; a pointer, so that the backward finds the
// forward's cache.
type xattnK struct {
	o      AttnOpts
	masked bool
	st     *State // its own, made on first use, or one shared (ShareState)
}

func (k *xattnK) name() string {
	return fmt.Sprintf("CrossAttention(H=%d,KV=%d,eps=%g,mask=%t)", k.o.Heads, k.o.KVHeads, k.o.Eps, k.masked)
}
func (k *xattnK) arity() int {
	if k.masked {
		return 5
	}
	return 4
}
func (k *xattnK) diff() []bool {
	return []bool{true, true, true, true, false}[:k.arity()]
}
func (k *xattnK) passThrough() []bool { return nil }

// needsOut orders the backward after the forward, whose cache it reads (see attnK.needsOut).
func (k *xattnK) needsOut() bool { return true }

func (k *xattnK) shape(in []tensor.Shape) (xattnShape, error) {
	q, kv := in[0], in[1]
	H, KV := k.o.Heads, k.o.KVHeads
	if q.Dims() != 3 || q[2]%H != 0 {
		return xattnShape{}, fmt.Errorf("q %v: want [B, Lq, H·hd] with H=%d", q, H)
	}
	hd := q[2] / H
	if kv.Dims() != 3 || kv[0] != q[0] || kv[2] != 2*KV*hd {
		return xattnShape{}, fmt.Errorf("kv %v: want [%d, Lk, %d] ([B, Lk, 2·KV·hd] with KV=%d, hd=%d)", kv, q[0], 2*KV*hd, KV, hd)
	}
	s := xattnShape{B: q[0], Lq: q[1], Lk: kv[1], Heads: H, KVHeads: KV, HeadDim: hd, Eps: k.o.Eps}
	if err := s.validate(); err != nil {
		return s, fmt.Errorf("q %v, kv %v: %w", q, kv, err)
	}
	for i, nm := range []string{"qNorm", "kNorm"} {
		if w := in[2+i]; w.Dims() != 1 || w[0] != hd {
			return s, fmt.Errorf("%s %v, want [%d] (head_dim)", nm, w, hd)
		}
	}
	if k.masked {
		if m := in[4]; !m.Eq(tensor.Shape{s.B, s.Lk}) {
			return s, fmt.Errorf("keyMask %v, want [%d, %d] ([B, Lk])", m, s.B, s.Lk)
		}
	}
	return s, nil
}

func (k *xattnK) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s, err := k.shape(in)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s.B, s.Lq, s.Heads * s.HeadDim}, nil
}

func (k *xattnK) forward(out *tensor.Dense, in []*tensor.Dense) error {
	s, err := k.shape(shapesOfDense(in))
	if err != nil {
		return err
	}
	if out.Dtype() == tensor.Float32 {
		return xattnFwdT(s, in, out, &ownState(&k.st).x32)
	}
	return xattnFwdT(s, in, out, &ownState(&k.st).x64)
}

func (k *xattnK) backward(grads []*tensor.Dense, gy, _ *tensor.Dense, in []*tensor.Dense) error {
	s, err := k.shape(shapesOfDense(in))
	if err != nil {
		return err
	}
	if gy.Dtype() == tensor.Float32 {
		return xattnBwdT(s, grads, gy, in, &ownState(&k.st).x32)
	}
	return xattnBwdT(s, grads, gy, in, &ownState(&k.st).x64)
}

func xattnFwdT[T float32 | float64](s xattnShape, in []*tensor.Dense, out *tensor.Dense, c *xattnCache[T]) error {
	var mask []T
	if len(in) > 4 {
		mask = data[T](in[4])
	}
	return xattnForward(s, data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](in[3]), mask, data[T](out), c)
}

func xattnBwdT[T float32 | float64](s xattnShape, grads []*tensor.Dense, gy *tensor.Dense, in []*tensor.Dense, c *xattnCache[T]) error {
	var mask []T
	if len(in) > 4 {
		mask = data[T](in[4])
	}
	for i := 0; i < 4; i++ {
		if grads[i] == nil {
			return fmt.Errorf("cross-attention backward needs the q, kv, qNorm and kNorm gradient buffers")
		}
	}
	return xattnBackward(s, data[T](gy), data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](in[3]), mask,
		c, data[T](grads[0]), data[T](grads[1]), data[T](grads[2]), data[T](grads[3]))
}
