package ops

import (
	"runtime"
	"unsafe"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// StateBytes is the memory op keeps between calls beyond its inputs and its output, for inputs of
// shapes in (the first Arity of a backward's, which are the forward's) and elements of dtype dt: the
// fused attentions' forward keeps what their backward reads (the normalised heads, the softmax
// probabilities) with its workers' scratch, and their backward adds the workers' gradient scratch.
// Every other op keeps nothing. An executor adds it to its own buffers to know what a graph holds.
func StateBytes(op G.Op, in []tensor.Shape, dt tensor.Dtype) (int64, error) {
	var k kernel
	backward := false
	switch o := op.(type) {
	case *fwdOp:
		k = o.k
	case *bwdOp:
		k, backward = o.k, true
	default:
		return 0, nil
	}
	var s xattnShape
	switch k := k.(type) {
	case *attnK:
		a, err := k.shape(in[:k.arity()])
		if err != nil {
			return 0, err
		}
		s = xattnShape{B: a.B, Lq: a.L, Lk: a.L, Heads: a.Heads, KVHeads: a.KVHeads, HeadDim: a.HeadDim}
	case *xattnK:
		var err error
		if s, err = k.shape(in[:k.arity()]); err != nil {
			return 0, err
		}
	default:
		return 0, nil
	}
	return attnStateBytes(s, backward, runtime.GOMAXPROCS(0), int64(dt.Size())), nil
}

// attnStateBytes is what an attention cache (attnCache, xattnCache: self-attention is Lq = Lk) holds
// after a forward of shape s (backward false) or what a backward adds to it, with procs workers and
// elements of size bytes: the sizes resize and the workers' size methods give.
func attnStateBytes(s xattnShape, backward bool, procs int, size int64) int64 {
	B, Lq, Lk, H, KV, hd := int64(s.B), int64(s.Lq), int64(s.Lk), int64(s.Heads), int64(s.KVHeads), int64(s.HeadDim)
	workers := min(int64(procs), B*KV)
	if backward {
		rep := H / KV
		return workers * (2*rep*hd*Lq + Lq*Lk + 2*hd*Lk) * size
	}
	cache := 2*B*H*Lq*hd + 3*B*KV*Lk*hd + B*H*Lq + B*KV*Lk + B*H*Lq*Lk + 2*B*KV*hd
	return cache*size + workers*(hd*size+Lk*int64(unsafe.Sizeof(int(0))))
}
