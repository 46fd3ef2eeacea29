// RMSNorm and LayerNorm over the last axis (model/ops/norm.go): one block per row, blockDim.x threads
// striding over D; statistics in double. Launch: Rows(rows, D); shared memory: blockDim.x/32 doubles.
#include "common.cuh"

extern "C" __global__ void rmsnorm_fwd(const float *x, const float *w, float *y, float *rstd, long long rows, int D, double eps) {
	extern __shared__ double sh[];
	for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *xr = x + r * D;
		double s = 0;
		for (int i = threadIdx.x; i < D; i += blockDim.x) s += (double)xr[i] * xr[i];
		s = block_sum(s, sh);
		double rs = 1.0 / sqrt(s / D + eps);
		float s32 = (float)rs;
		for (int i = threadIdx.x; i < D; i += blockDim.x) y[r * D + i] = xr[i] * s32 * w[i];
		if (rstd && threadIdx.x == 0) rstd[r] = (float)rs;
	}
}

// dx = rs·g⊙w − x·rs³·mean(g⊙w⊙x); dw = col_sum of g⊙x·rs, written per row into gwx [rows, D].
extern "C" __global__ void rmsnorm_bwd(const float *x, const float *w, const float *g, float *dx, float *gwx, long long rows, int D, double eps) {
	extern __shared__ double sh[];
	for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *xr = x + r * D, *gr = g + r * D;
		double ss = 0, dot = 0;
		for (int i = threadIdx.x; i < D; i += blockDim.x) {
			ss += (double)xr[i] * xr[i];
			dot += (double)gr[i] * w[i] * xr[i];
		}
		ss = block_sum(ss, sh);
		dot = block_sum(dot, sh);
		double rs = 1.0 / sqrt(ss / D + eps);
		double c = rs * rs * rs * dot / D;
		for (int i = threadIdx.x; i < D; i += blockDim.x) {
			if (dx) dx[r * D + i] = (float)(rs * gr[i] * w[i] - c * xr[i]);
			if (gwx) gwx[r * D + i] = (float)(gr[i] * xr[i] * rs);
		}
	}
}

extern "C" __global__ void layernorm_fwd(const float *x, float *y, long long rows, int D, double eps) {
	extern __shared__ double sh[];
	for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *xr = x + r * D;
		double s = 0;
		for (int i = threadIdx.x; i < D; i += blockDim.x) s += xr[i];
		double mu = block_sum(s, sh) / D;
		double v = 0;
		for (int i = threadIdx.x; i < D; i += blockDim.x) { double c = xr[i] - mu; v += c * c; }
		double rs = 1.0 / sqrt(block_sum(v, sh) / D + eps);
		for (int i = threadIdx.x; i < D; i += blockDim.x) y[r * D + i] = (float)((xr[i] - mu) * rs);
	}
}

// dx = rs·(g − mean(g) − x̂·mean(g⊙x̂)).
extern "C" __global__ void layernorm_bwd(const float *x, const float *g, float *dx, long long rows, int D, double eps) {
	extern __shared__ double sh[];
	for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *xr = x + r * D, *gr = g + r * D;
		double s = 0;
		for (int i = threadIdx.x; i < D; i += blockDim.x) s += xr[i];
		double mu = block_sum(s, sh) / D;
		double v = 0;
		for (int i = threadIdx.x; i < D; i += blockDim.x) { double c = xr[i] - mu; v += c * c; }
		double rs = 1.0 / sqrt(block_sum(v, sh) / D + eps);
		double mg = 0, mgx = 0;
		for (int i = threadIdx.x; i < D; i += blockDim.x) { mg += gr[i]; mgx += gr[i] * (xr[i] - mu) * rs; }
		mg = block_sum(mg, sh) / D;
		mgx = block_sum(mgx, sh) / D;
		for (int i = threadIdx.x; i < D; i += blockDim.x) dx[r * D + i] = (float)(rs * (gr[i] - mg - (xr[i] - mu) * rs * mgx));
	}
}
