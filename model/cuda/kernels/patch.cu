// Patchify / Unpatchify (a permutation, so each is the other's backward) and AvgPool (model/ops/patch.go).
// img [B, C, H, W] ↔ tok [B, (H/p)·(W/p), p·p·C], tokens row-major over the patch grid, inside a patch
// (ph, pw, c) with c fastest. Launch: Elementwise(B·C·H·W), one thread per image element.
#include "common.cuh"

__device__ __forceinline__ long long patch_index(long long i, int C, int H, int W, int p) {
	int x = (int)(i % W), y = (int)((i / W) % H), c = (int)((i / ((long long)W * H)) % C);
	long long b = i / ((long long)W * H * C);
	int gw = W / p, tokIdx = (y / p) * gw + x / p;
	int inner = ((y % p) * p + (x % p)) * C + c;
	return (b * ((long long)(H / p) * gw) + tokIdx) * ((long long)p * p * C) + inner;
}

extern "C" __global__ void patchify(const float *img, float *tok, int B, int C, int H, int W, int p) {
	GRID_STRIDE(i, (long long)B * C * H * W) tok[patch_index(i, C, H, W, p)] = img[i];
}

extern "C" __global__ void unpatchify(const float *tok, float *img, int B, int C, int H, int W, int p) {
	GRID_STRIDE(i, (long long)B * C * H * W) img[i] = tok[patch_index(i, C, H, W, p)];
}

// y [N, H/k, W/k] = block means of x [N, H, W] (N = B·C). One thread per output element.
extern "C" __global__ void avgpool_fwd(const float *x, float *y, long long N, int H, int W, int k) {
	int ho = H / k, wo = W / k;
	GRID_STRIDE(i, N * ho * wo) {
		int xo = (int)(i % wo), yo = (int)((i / wo) % ho);
		long long n = i / ((long long)wo * ho);
		double s = 0;
		for (int dy = 0; dy < k; dy++)
			for (int dx = 0; dx < k; dx++) s += x[(n * H + yo * k + dy) * W + xo * k + dx];
		y[i] = (float)(s / (k * k));
	}
}

// dx = dy/k² spread over each block. One thread per input element.
extern "C" __global__ void avgpool_bwd(const float *dy, float *dx, long long N, int H, int W, int k) {
	int ho = H / k, wo = W / k;
	GRID_STRIDE(i, N * H * W) {
		int xx = (int)(i % W), yy = (int)((i / W) % H);
		long long n = i / ((long long)W * H);
		dx[i] = dy[(n * ho + yy / k) * wo + xx / k] / (float)(k * k);
	}
}
