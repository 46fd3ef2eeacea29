package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// RMSNorm is x·rsqrt(mean(x²)+eps)·w over the last axis: x [..., D], w [D] → [..., D].
func RMSNorm(x, w *G.Node, eps float64) (*G.Node, error) {
	if !(eps >= 0) {
		return nil, fmt.Errorf("RMSNorm: eps %g, want ≥ 0", eps)
	}
	return apply(rmsK{eps: eps}, x, w)
}

// LayerNorm is (x−mean)·rsqrt(var+eps) over the last axis, with no affine: x [..., D] → [..., D].
func LayerNorm(x *G.Node, eps float64) (*G.Node, error) {
	if !(eps >= 0) {
		return nil, fmt.Errorf("LayerNorm: eps %g, want ≥ 0", eps)
	}
	return apply(layerK{eps: eps}, x)
}

type rmsK struct{ eps float64 }

func (k rmsK) name() string      { return fmt.Sprintf("RMSNorm(eps=%g)", k.eps) }
func (rmsK) arity() int          { return 2 }
func (rmsK) diff() []bool        { return []bool{true, true} }
func (rmsK) passThrough() []bool { return nil }
func (rmsK) needsOut() bool      { return false }
func (rmsK) outShape(in []tensor.Shape) (tensor.Shape, error) {
	x, w := in[0], in[1]
	if x.Dims() < 1 || w.Dims() != 1 || w[0] != x[x.Dims()-1] || w[0] == 0 {
		return nil, fmt.Errorf("x %v, w %v: want x [..., D] and w [D], D > 0", x, w)
	}
	return x.Clone(), nil
}

func (k rmsK) forward(out *tensor.Dense, in []*tensor.Dense) error {
	if out.Dtype() == tensor.Float32 {
		rmsFwd(data[float32](in[0]), data[float32](in[1]), data[float32](out), k.eps)
	} else {
		rmsFwd(data[float64](in[0]), data[float64](in[1]), data[float64](out), k.eps)
	}
	return nil
}

func (k rmsK) backward(grads []*tensor.Dense, gy, _ *tensor.Dense, in []*tensor.Dense) error {
	if gy.Dtype() == tensor.Float32 {
		rmsBwd(data[float32](in[0]), data[float32](in[1]), data[float32](gy), optData[float32](grads[0]), optData[float32](grads[1]), k.eps)
	} else {
		rmsBwd(data[float64](in[0]), data[float64](in[1]), data[float64](gy), optData[float64](grads[0]), optData[float64](grads[1]), k.eps)
	}
	return nil
}

func optData[T float32 | float64](d *tensor.Dense) []T {
	if d == nil {
		return nil
	}
	return data[T](d)
}

// rstd is 1/sqrt(mean(x²)+eps) of one row, accumulated in float64.
func rmsRstd[T float32 | float64](x []T, eps float64) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return 1 / math.Sqrt(s/float64(len(x))+eps)
}

func rmsFwd[T float32 | float64](x, w, y []T, eps float64) {
	d := len(w)
	rows := len(x) / d
	parallel(rows, grain(rows, 4*d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*d:(r+1)*d], y[r*d:(r+1)*d]
			s := T(rmsRstd(xr, eps))
			for i, v := range xr {
				yr[i] = v * s * w[i]
			}
		}
	})
}

// rmsBwd: with u = g⊙w and r = rstd, dx = r·u − x·r³·⟨u, x⟩/D and dw = Σ_rows g⊙x·r. The dw partial sums
// are kept per block and added in block order, so the result does not depend on the core count.
func rmsBwd[T float32 | float64](x, w, g, dx, dw []T, eps float64) {
	d := len(w)
	rows := len(x) / d
	block := grain(rows, 8*d)
	var part []T
	if dw != nil {
		part = make([]T, numBlocks(rows, block)*d)
	}
	parallel(rows, block, func(lo, hi int) {
		var pw []T
		if dw != nil {
			pw = part[(lo/block)*d : (lo/block+1)*d]
		}
		for r := lo; r < hi; r++ {
			xr, gr := x[r*d:(r+1)*d], g[r*d:(r+1)*d]
			rs := rmsRstd(xr, eps)
			if dx != nil {
				var dot float64
				for i, v := range xr {
					dot += float64(gr[i]) * float64(w[i]) * float64(v)
				}
				c := T(rs * rs * rs * dot / float64(d))
				s := T(rs)
				dr := dx[r*d : (r+1)*d]
				for i, v := range xr {
					dr[i] = s*gr[i]*w[i] - v*c
				}
			}
			if pw != nil {
				s := T(rs)
				for i, v := range xr {
					pw[i] += gr[i] * v * s
				}
			}
		}
	})
	sumBlocks(dw, part)
}

// sumBlocks adds the per-block partial rows of part into dst, in block order.
func sumBlocks[T float32 | float64](dst, part []T) {
	if dst == nil {
		return
	}
	d := len(dst)
	for b := 0; b+d <= len(part); b += d {
		for i, v := range part[b : b+d] {
			dst[i] += v
		}
	}
}

type layerK struct{ eps float64 }

func (k layerK) name() string      { return fmt.Sprintf("LayerNorm(eps=%g)", k.eps) }
func (layerK) arity() int          { return 1 }
func (layerK) diff() []bool        { return []bool{true} }
func (layerK) passThrough() []bool { return nil }
func (layerK) needsOut() bool      { return false }
func (layerK) outShape(in []tensor.Shape) (tensor.Shape, error) {
	if in[0].Dims() < 1 || in[0][in[0].Dims()-1] == 0 {
		return nil, fmt.Errorf("x %v: want [..., D], D > 0", in[0])
	}
	return in[0].Clone(), nil
}

func (k layerK) forward(out *tensor.Dense, in []*tensor.Dense) error {
	d := in[0].Shape()[in[0].Dims()-1]
	if out.Dtype() == tensor.Float32 {
		layerFwd(data[float32](in[0]), data[float32](out), d, k.eps)
	} else {
		layerFwd(data[float64](in[0]), data[float64](out), d, k.eps)
	}
	return nil
}

func (k layerK) backward(grads []*tensor.Dense, gy, _ *tensor.Dense, in []*tensor.Dense) error {
	d := in[0].Shape()[in[0].Dims()-1]
	if gy.Dtype() == tensor.Float32 {
		layerBwd(data[float32](in[0]), data[float32](gy), data[float32](grads[0]), d, k.eps)
	} else {
		layerBwd(data[float64](in[0]), data[float64](gy), data[float64](grads[0]), d, k.eps)
	}
	return nil
}

// layerStats are the mean and 1/sqrt(var+eps) of one row (two passes, float64).
func layerStats[T float32 | float64](x []T, eps float64) (mu, rs float64) {
	for _, v := range x {
		mu += float64(v)
	}
	mu /= float64(len(x))
	var s float64
	for _, v := range x {
		c := float64(v) - mu
		s += c * c
	}
	return mu, 1 / math.Sqrt(s/float64(len(x))+eps)
}

func layerFwd[T float32 | float64](x, y []T, d int, eps float64) {
	if d == 0 {
		return
	}
	rows := len(x) / d
	parallel(rows, grain(rows, 6*d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*d:(r+1)*d], y[r*d:(r+1)*d]
			mu, rs := layerStats(xr, eps)
			for i, v := range xr {
				yr[i] = T((float64(v) - mu) * rs)
			}
		}
	})
}

// layerBwd: with x̂ = (x−μ)·r, dx = r·(g − mean(g) − x̂·mean(g⊙x̂)).
func layerBwd[T float32 | float64](x, g, dx []T, d int, eps float64) {
	if d == 0 {
		return
	}
	rows := len(x) / d
	parallel(rows, grain(rows, 10*d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, gr, dr := x[r*d:(r+1)*d], g[r*d:(r+1)*d], dx[r*d:(r+1)*d]
			mu, rs := layerStats(xr, eps)
			var mg, mgx float64
			for i, v := range xr {
				mg += float64(gr[i])
				mgx += float64(gr[i]) * (float64(v) - mu) * rs
			}
			mg /= float64(d)
			mgx /= float64(d)
			for i, v := range xr {
				dr[i] = T(rs * (float64(gr[i]) - mg - (float64(v)-mu)*rs*mgx))
			}
		}
	})
}
