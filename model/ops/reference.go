package ops

import "fmt"

// The float32 kernels behind the ops, on plain slices: the CPU side of the device verification
// (tools/gpucheck compares each CUDA kernel with these). They run exactly what the graph ops run.

// RefSiLU is SiLU's forward (y) and, with g, backward (dx).
func RefSiLU(x, g []float32) (y, dx []float32) {
	y, dx = make([]float32, len(x)), make([]float32, len(x))
	siluFwd(x, y)
	siluBwd(x, g, dx)
	return y, dx
}

// RefSwiGLU is SwiGLU's forward and backward.
func RefSwiGLU(a, b, g []float32) (y, da, db []float32) {
	y, da, db = make([]float32, len(a)), make([]float32, len(a)), make([]float32, len(a))
	swigluFwd(a, b, y)
	swigluBwd(a, b, g, da, db)
	return y, da, db
}

// RefRMSNorm is RMSNorm's forward and backward over rows of len(w).
func RefRMSNorm(x, w, g []float32, eps float64) (y, dx, dw []float32) {
	y, dx, dw = make([]float32, len(x)), make([]float32, len(x)), make([]float32, len(w))
	rmsFwd(x, w, y, eps)
	rmsBwd(x, w, g, dx, dw, eps)
	return y, dx, dw
}

// RefLayerNorm is LayerNorm's forward and backward over rows of d.
func RefLayerNorm(x, g []float32, d int, eps float64) (y, dx []float32) {
	y, dx = make([]float32, len(x)), make([]float32, len(x))
	layerFwd(x, y, d, eps)
	layerBwd(x, g, dx, d, eps)
	return y, dx
}

// RefAttention is the fused attention's forward and backward (Attention's layouts; keyMask may be nil).
func RefAttention(b, l int, o AttnOpts, qkv, qw, kw, cos, sin, keyMask, gout []float32) (out, dqkv, dqw, dkw []float32, err error) {
	if o.Heads <= 0 || o.KVHeads <= 0 || o.Heads%o.KVHeads != 0 || len(qw) == 0 {
		return nil, nil, nil, nil, fmt.Errorf("attention reference: heads %d, kv heads %d, head dim %d", o.Heads, o.KVHeads, len(qw))
	}
	s := attnShape{B: b, L: l, Heads: o.Heads, KVHeads: o.KVHeads, HeadDim: len(qw), Eps: o.Eps, Causal: o.Causal}
	var c attnCache[float32]
	out = make([]float32, b*l*o.Heads*len(qw))
	if err := attnForward(s, qkv, qw, kw, cos, sin, keyMask, out, &c); err != nil {
		return nil, nil, nil, nil, err
	}
	dqkv, dqw, dkw = make([]float32, len(qkv)), make([]float32, len(qw)), make([]float32, len(kw))
	if err := attnBackward(s, gout, qkv, qw, kw, cos, sin, keyMask, &c, dqkv, dqw, dkw); err != nil {
		return nil, nil, nil, nil, err
	}
	return out, dqkv, dqw, dkw, nil
}
