// Elementwise ops of model/ops/elementwise.go, forward and backward. x [B, L, D] with a per-sample
// vector [B, D] for Modulate and GatedResidual. Launch: Elementwise(n) (one thread per element,
// grid-stride); the per-sample sums: Elementwise(B·D), one thread per (b, d) summing over l in order.
#include "common.cuh"

__device__ __forceinline__ float sigmoidf_(float v) { return 1.0f / (1.0f + expf(-v)); }

extern "C" __global__ void silu_fwd(const float *x, float *y, long long n) {
	GRID_STRIDE(i, n) { float v = x[i]; y[i] = v * sigmoidf_(v); }
}

// d silu(x)/dx = s·(1 + x·(1 − s)), s = sigmoid(x).
extern "C" __global__ void silu_bwd(const float *x, const float *g, float *dx, long long n) {
	GRID_STRIDE(i, n) { float v = x[i], s = sigmoidf_(v); dx[i] = g[i] * s * (1.0f + v * (1.0f - s)); }
}

// SwiGLU: y = silu(a)·b.
extern "C" __global__ void swiglu_fwd(const float *a, const float *b, float *y, long long n) {
	GRID_STRIDE(i, n) { float v = a[i]; y[i] = v * sigmoidf_(v) * b[i]; }
}

extern "C" __global__ void swiglu_bwd(const float *a, const float *b, const float *g, float *da, float *db, long long n) {
	GRID_STRIDE(i, n) {
		float v = a[i], s = sigmoidf_(v), gi = g[i];
		da[i] = gi * b[i] * s * (1.0f + v * (1.0f - s));
		db[i] = gi * v * s;
	}
}

extern "C" __global__ void add_fwd(const float *x, const float *y, float *out, long long n) {
	GRID_STRIDE(i, n) out[i] = x[i] + y[i];
}

// Modulate: y = x·(1 + scale[b]); its dx has the same form.
extern "C" __global__ void modulate_fwd(const float *x, const float *scale, float *y, int B, int L, int D) {
	GRID_STRIDE(i, (long long)B * L * D) {
		long long b = i / ((long long)L * D);
		int d = (int)(i % D);
		y[i] = x[i] * (1.0f + scale[b * D + d]);
	}
}

// out[b, d] = Σ_l a[b, l, d]·c[b, l, d] (·(1 − tanh²(gate[b, d])) when gate is given): the gradient of a
// per-sample vector. One thread per (b, d), l in order.
extern "C" __global__ void sample_sums(const float *a, const float *c, const float *gate, float *out, int B, int L, int D) {
	GRID_STRIDE(i, (long long)B * D) {
		long long b = i / D;
		int d = (int)(i % D);
		double s = 0;
		for (int l = 0; l < L; l++) {
			long long k = (b * L + l) * D + d;
			s += (double)a[k] * (double)c[k];
		}
		if (gate) { float t = tanhf(gate[i]); s *= 1.0 - (double)t * t; }
		out[i] = (float)s;
	}
}

// GatedResidual: out = x + tanh(gate[b])·y; dx = g (passed through, no kernel), dy = g·tanh(gate[b]),
// dgate = sample_sums(g, y, gate).
extern "C" __global__ void gated_fwd(const float *x, const float *gate, const float *y, float *out, int B, int L, int D) {
	GRID_STRIDE(i, (long long)B * L * D) {
		long long b = i / ((long long)L * D);
		int d = (int)(i % D);
		out[i] = x[i] + tanhf(gate[b * D + d]) * y[i];
	}
}

extern "C" __global__ void gated_bwd_dy(const float *gate, const float *g, float *dy, int B, int L, int D) {
	GRID_STRIDE(i, (long long)B * L * D) {
		long long b = i / ((long long)L * D);
		int d = (int)(i % D);
		dy[i] = g[i] * tanhf(gate[b * D + d]);
	}
}

// Linear's bias: y[r, d] += bias[d]; its gradient is col_sum of g.
extern "C" __global__ void bias_add(float *y, const float *bias, long long rows, int D) {
	GRID_STRIDE(i, rows * D) y[i] += bias[i % D];
}

// out[d] = Σ_r x[r, d], r in order. One thread per column: rows are summed without atomics, so the
// result does not depend on scheduling.
extern "C" __global__ void col_sum(const float *x, float *out, long long rows, int D) {
	GRID_STRIDE(d, D) {
		double s = 0;
		for (long long r = 0; r < rows; r++) s += x[r * D + d];
		out[d] = (float)s;
	}
}

extern "C" __global__ void scale_inplace(float *x, const float *factor, long long n) {
	GRID_STRIDE(i, n) x[i] *= factor[0];
}
