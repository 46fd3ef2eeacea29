// Shared helpers of the lumina kernels. float32 data; reductions accumulate in double where the CPU
// op does (RMSNorm and LayerNorm statistics, the loss, AdamW), so the two agree to rounding.
#pragma once

// Grid-stride loop over [0, n): the launch geometry (model/cuda/launch.go, Elementwise) caps the grid,
// so one thread may take several elements; every element is visited exactly once.
#define GRID_STRIDE(i, n) \
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)(n); \
	     i += (long long)blockDim.x * gridDim.x)

// Block-wide sum of v (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// shared holds blockDim.x/32 doubles.
__device__ __forceinline__ double block_sum(double v, double *shared) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
	__syncthreads(); // shared may still be read by a previous call
	if (lane == 0) shared[warp] = v;
	__syncthreads();
	double s = 0;
	for (int w = 0; w < warps; w++) s += shared[w]; // in warp order: deterministic
	return s;
}
