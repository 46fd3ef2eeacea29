// The flow-matching loss, mean((pred − target)²) (model/ops/loss.go MSE), and the sum of squares the
// global-norm clip needs. Two passes, deterministic: sq_partial writes one double per block
// (Reduce(n): a fixed grid of ReduceBlocks × ReduceThreads), sq_final adds them in block order.
#include "common.cuh"

// partial[block] = Σ over its grid-stride elements of (a − b)² (b NULL: a²).
extern "C" __global__ void sq_partial(const float *a, const float *b, double *partial, long long n) {
	extern __shared__ double sh[];
	double s = 0;
	GRID_STRIDE(i, n) { double d = b ? (double)a[i] - b[i] : (double)a[i]; s += d * d; }
	s = block_sum(s, sh);
	if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// out[0] = Σ partial[0..blocks) · factor, by one thread, in order.
extern "C" __global__ void sq_final(const double *partial, int blocks, double factor, float *out) {
	if (blockIdx.x != 0 || threadIdx.x != 0) return;
	double s = 0;
	for (int i = 0; i < blocks; i++) s += partial[i];
	out[0] = (float)(s * factor);
}

// d/dpred of mean((pred − target)²)·g: 2·(pred − target)·g/n; dtarget is its negation (may be NULL).
extern "C" __global__ void mse_bwd(const float *pred, const float *target, const float *g, float *dpred, float *dtarget, long long n) {
	float c = 2.0f * g[0] / (float)n;
	GRID_STRIDE(i, n) {
		float d = c * (pred[i] - target[i]);
		if (dpred) dpred[i] = d;
		if (dtarget) dtarget[i] = -d;
	}
}
