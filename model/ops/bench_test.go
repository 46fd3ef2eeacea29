package ops

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Benchmark shapes: 16 samples × 112 tokens at width 128 (the calibration model), float32.
const benchRows, benchDim, benchOut = 16 * 112, 128, 512

func benchDense(shape ...int) *tensor.Dense {
	r := rng(99)
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f32s(randn(r, prod(shape), 1))))
}

// benchKernel times forward + backward of k on the given inputs, without the graph.
func benchKernel(b *testing.B, k kernel, flops float64, in ...*tensor.Dense) {
	shapes := shapesOfDense(in)
	os, err := k.outShape(shapes)
	if err != nil {
		b.Fatal(err)
	}
	out := newDense(tensor.Float32, os)
	gy := benchDense(os...)
	grads := make([]*tensor.Dense, len(in))
	for i, d := range k.diff() {
		if d {
			grads[i] = newDense(tensor.Float32, shapes[i])
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if err := k.forward(out, in); err != nil {
			b.Fatal(err)
		}
		for _, g := range grads {
			if g != nil {
				clear(g.Float32s())
			}
		}
		if err := k.backward(grads, gy, out, in); err != nil {
			b.Fatal(err)
		}
	}
	if flops > 0 {
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
}

// BenchmarkLinear: [1792, 128] × [512, 128]ᵀ + b, forward and backward (dX, dW, db): 6·R·I·O flops.
func BenchmarkLinear(b *testing.B) {
	x, w, bias := benchDense(benchRows, benchDim), benchDense(benchOut, benchDim), benchDense(benchOut)
	benchKernel(b, linearK{bias: true}, 6*benchRows*benchDim*benchOut, x, w, bias)
}

// BenchmarkLinearGraph is the same through a Gorgonia graph and TapeMachine (glue, allocation, extract
// views included), with cost Σ y so the output gradient is all ones.
func BenchmarkLinearGraph(b *testing.B) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 2, G.WithShape(benchRows, benchDim), G.WithValue(benchDense(benchRows, benchDim)))
	w := G.NewTensor(g, tensor.Float32, 2, G.WithShape(benchOut, benchDim), G.WithValue(benchDense(benchOut, benchDim)))
	bias := G.NewTensor(g, tensor.Float32, 1, G.WithShape(benchOut), G.WithValue(benchDense(benchOut)))
	y := G.Must(Linear(x, w, bias))
	cost := G.Must(G.Sum(y))
	if _, err := G.Grad(cost, x, w, bias); err != nil {
		b.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	b.ResetTimer()
	for b.Loop() {
		m.Reset()
		if err := m.RunAll(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(6*benchRows*benchDim*benchOut*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkRMSNorm: [16, 112, 128] with weight, forward and backward.
func BenchmarkRMSNorm(b *testing.B) {
	benchKernel(b, rmsK{eps: 1e-5}, 0, benchDense(16, 112, benchDim), benchDense(benchDim))
}

// BenchmarkModulate: [16, 112, 128] by [16, 128], forward and backward.
func BenchmarkModulate(b *testing.B) {
	benchKernel(b, modulateK{}, 0, benchDense(16, 112, benchDim), benchDense(16, benchDim))
}

// BenchmarkGatedResidual: [16, 112, 128] + tanh([16, 128])·[16, 112, 128], forward and backward.
func BenchmarkGatedResidual(b *testing.B) {
	benchKernel(b, gatedK{}, 0, benchDense(16, 112, benchDim), benchDense(16, benchDim), benchDense(16, 112, benchDim))
}

// BenchmarkSwiGLU: two [16, 112, 512] inputs, forward and backward.
func BenchmarkSwiGLU(b *testing.B) {
	benchKernel(b, swigluK{}, 0, benchDense(16, 112, benchOut), benchDense(16, 112, benchOut))
}
