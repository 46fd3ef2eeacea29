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
	c32    attnCache[float32]
	c64    attnCache[float64]
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
		return attnFwdT(s, in, out, &k.c32)
	}
	return attnFwdT(s, in, out, &k.c64)
}

func (k *attnK) backward(grads []*tensor.Dense, gy, _ *tensor.Dense, in []*tensor.Dense) error {
	s, err := k.shape(shapesOfDense(in))
	if err != nil {
		return err
	}
	if gy.Dtype() == tensor.Float32 {
		return attnBwdT(s, grads, gy, in, &k.c32)
	}
	return attnBwdT(s, grads, gy, in, &k.c64)
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
