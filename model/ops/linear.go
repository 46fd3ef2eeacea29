package ops

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Linear is x·wᵀ + b over the last axis: x [..., in], w [out, in] (PyTorch layout), b [out] or nil →
// [..., out].
func Linear(x, w, b *G.Node) (*G.Node, error) {
	if b == nil {
		return apply(linearK{}, x, w)
	}
	return apply(linearK{bias: true}, x, w, b)
}

type linearK struct{ bias bool }

func (k linearK) name() string {
	if k.bias {
		return "Linear"
	}
	return "LinearNoBias"
}
func (k linearK) arity() int {
	if k.bias {
		return 3
	}
	return 2
}
func (k linearK) diff() []bool {
	if k.bias {
		return []bool{true, true, true}
	}
	return []bool{true, true}
}
func (linearK) passThrough() []bool { return nil }
func (linearK) needsOut() bool      { return false }

func (k linearK) outShape(in []tensor.Shape) (tensor.Shape, error) {
	x, w := in[0], in[1]
	if x.Dims() < 1 || w.Dims() != 2 {
		return nil, fmt.Errorf("x %v, w %v: want x [..., in] and w [out, in]", x, w)
	}
	if x[x.Dims()-1] != w[1] {
		return nil, fmt.Errorf("x %v has %d input features, w %v expects %d", x, x[x.Dims()-1], w, w[1])
	}
	if k.bias && (in[2].Dims() != 1 || in[2][0] != w[0]) {
		return nil, fmt.Errorf("bias %v, want [%d]", in[2], w[0])
	}
	out := x.Clone()
	out[len(out)-1] = w[0]
	return out, nil
}

func (k linearK) forward(out *tensor.Dense, in []*tensor.Dense) error {
	if out.Dtype() == tensor.Float32 {
		linearFwd[float32](k, out, in)
	} else {
		linearFwd[float64](k, out, in)
	}
	return nil
}

func (k linearK) backward(grads []*tensor.Dense, gy, _ *tensor.Dense, in []*tensor.Dense) error {
	if gy.Dtype() == tensor.Float32 {
		linearBwd[float32](k, grads, gy, in)
	} else {
		linearBwd[float64](k, grads, gy, in)
	}
	return nil
}

// linearDims are rows (product of x's leading axes), in and out.
func linearDims(x, w *tensor.Dense) (rows, nIn, nOut int) {
	ws := w.Shape()
	nOut, nIn = ws[0], ws[1]
	return x.Shape().TotalSize() / nIn, nIn, nOut
}

func linearFwd[T float32 | float64](k linearK, out *tensor.Dense, in []*tensor.Dense) {
	x, w := data[T](in[0]), data[T](in[1])
	y := data[T](out)
	rows, nIn, nOut := linearDims(in[0], in[1])
	var b []T
	if k.bias {
		b = data[T](in[2])
	}
	// Row blocks: each goroutine runs a single-threaded gemm on its own rows of x and y.
	parallel(rows, gemmGrain(rows, 2*nIn*nOut), func(lo, hi int) {
		yb := y[lo*nOut : hi*nOut]
		var beta T
		if b != nil {
			for r := lo; r < hi; r++ {
				copy(y[r*nOut:(r+1)*nOut], b)
			}
			beta = 1
		}
		gemm(blas.NoTrans, blas.Trans, hi-lo, nOut, nIn, 1, x[lo*nIn:hi*nIn], nIn, w, nIn, beta, yb, nOut)
	})
}

func linearBwd[T float32 | float64](k linearK, grads []*tensor.Dense, gyD *tensor.Dense, in []*tensor.Dense) {
	x, w, gy := data[T](in[0]), data[T](in[1]), data[T](gyD)
	rows, nIn, nOut := linearDims(in[0], in[1])
	if grads[0] != nil { // dX = dY·W, by row blocks
		dx := data[T](grads[0])
		parallel(rows, gemmGrain(rows, 2*nIn*nOut), func(lo, hi int) {
			gemm(blas.NoTrans, blas.NoTrans, hi-lo, nIn, nOut, 1, gy[lo*nOut:hi*nOut], nOut, w, nIn, 0, dx[lo*nIn:hi*nIn], nIn)
		})
	}
	if grads[1] != nil { // dW = dYᵀ·X, by blocks of output features (rows of dW): no cross-block sums
		dw := data[T](grads[1])
		parallel(nOut, gemmGrain(nOut, 2*nIn*rows), func(lo, hi int) {
			gemm(blas.Trans, blas.NoTrans, hi-lo, nIn, rows, 1, gy[lo:], nOut, x, nIn, 0, dw[lo*nIn:hi*nIn], nIn)
		})
	}
	if k.bias && grads[2] != nil { // db = dYᵀ·1 as a gemv, by blocks of features
		db := data[T](grads[2])
		ones := make([]T, rows)
		for i := range ones {
			ones[i] = 1
		}
		parallel(nOut, gemmGrain(nOut, 2*rows), func(lo, hi int) {
			gemv(blas.Trans, rows, hi-lo, 1, gy[lo:], nOut, ones, 0, db[lo:hi])
		})
	}
}

// gemmGrain cuts n gemm rows into at most 16 blocks (fewer, larger gemm calls run faster; 16 still
// balances a few cores), each of at least ~1 MFLOP.
func gemmGrain(n, perRow int) int {
	return max((n+15)/16, (1<<20)/max(perRow, 1), 1)
}

// gemm is C = alpha·op(A)·op(B) + beta·C in row-major layout through gonum's BLAS of T (OpenBLAS under
// the openblas build tag).
func gemm[T float32 | float64](tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	switch a := any(a).(type) {
	case []float32:
		blas32.Implementation().Sgemm(tA, tB, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		blas64.Implementation().Dgemm(tA, tB, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// gemv is y = alpha·op(A)·x + beta·y (row-major A of m×n, unit strides) through gonum's BLAS of T.
func gemv[T float32 | float64](tA blas.Transpose, m, n int, alpha T, a []T, lda int, x []T, beta T, y []T) {
	if m == 0 || n == 0 {
		return
	}
	switch a := any(a).(type) {
	case []float32:
		blas32.Implementation().Sgemv(tA, m, n, float32(alpha), a, lda, any(x).([]float32), 1, float32(beta), any(y).([]float32), 1)
	case []float64:
		blas64.Implementation().Dgemv(tA, m, n, float64(alpha), a, lda, any(x).([]float64), 1, float64(beta), any(y).([]float64), 1)
	}
}
