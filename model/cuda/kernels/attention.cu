// The joint attention of model/ops/attention.go, flash-style: the L×L probabilities are never stored,
// only one log-sum-exp per query row, so memory is O(L) per head. qkv [B, L, (H+2·KV)·hd] = [q | k | v];
// per-head RMSNorm of q and k (weights qw, kw [hd]) before RoPE (tables cos, sin [B, L, hd/2], pairs
// (2i, 2i+1)); query head h reads kv head h/(H/KV); scale 1/sqrt(hd); keyMask [B, L] (0 hides a key;
// NULL = none); causal optional; a query with no visible key outputs zeros.
//
// Passes (launch geometry in model/cuda/launch.go):
//   attn_prep      Prep: q, k normalised, weighted, rotated into qr [B, H, L, hd], kr [B, KV, L, hd];
//                  v into vv [B, KV, L, hd]; rq, rk the rstd of each row (for the backward).
//   attn_fwd       AttnForward: block = (query tile of AttnTile rows, head, sample), one thread per
//                  query; keys stream through shared memory in tiles of AttnTile; online softmax.
//   attn_bwd_dq    AttnForward's geometry: dq of the rotated q (and delta = rowsum(dO⊙O) on the fly).
//   attn_bwd_dkv   AttnKV: block = (key tile, kv head, sample), one thread per key, looping over the
//                  H/KV query heads of its group and all queries: no atomics, deterministic.
//   attn_post      Prep: gradients back through RoPE and the RMSNorm into dqkv, and per-row parts of
//                  dqw, dkw (summed by col_sum).
// The three middle passes take the query length L and the key length Lk apart: the cross-attention of
// the cross-injection model (queries of the image, keys of the caption) uses them with xattn_prep and
// xattn_post below in place of attn_prep and attn_post. Its mask is [B, Lk].
// hd ≤ ATTN_MAX_HD; threads keep a q row and an output accumulator of hd floats each.
#include "common.cuh"

#define ATTN_MAX_HD 128
#define ATTN_TILE 64

__device__ __forceinline__ bool attn_visible(const float *keyMask, int b, int Lk, int i, int j, int causal) {
	if (causal && j > i) return false;
	return keyMask == 0 || keyMask[(long long)b * Lk + j] != 0.0f;
}

// One thread per (b, l, slot), slot < H + KV: q heads then k heads; slot ≥ H + KV copies v.
extern "C" __global__ void attn_prep(const float *qkv, const float *qw, const float *kw, const float *cosT, const float *sinT,
                                     float *qr, float *kr, float *vv, float *rq, float *rk, int B, int L, int H, int KV, int hd, double eps) {
	int slots = H + 2 * KV, half = hd / 2;
	GRID_STRIDE(t, (long long)B * L * slots) {
		int s = (int)(t % slots);
		long long bl = t / slots;
		int b = (int)(bl / L), l = (int)(bl % L);
		const float *x = qkv + bl * (long long)slots * hd + (long long)s * hd;
		if (s >= H + KV) { // v: a copy into the head-major layout
			int g = s - H - KV;
			float *dst = vv + (((long long)b * KV + g) * L + l) * hd;
			for (int d = 0; d < hd; d++) dst[d] = x[d];
			continue;
		}
		const float *w = s < H ? qw : kw;
		float *dst = s < H ? qr + (((long long)b * H + s) * L + l) * hd : kr + (((long long)b * KV + (s - H)) * L + l) * hd;
		double ss = 0;
		for (int d = 0; d < hd; d++) ss += (double)x[d] * x[d];
		float r = (float)(1.0 / sqrt(ss / hd + eps));
		const float *cs = cosT + bl * half, *sn = sinT + bl * half;
		for (int i = 0; i < half; i++) {
			float a = x[2 * i] * r * w[2 * i], c = x[2 * i + 1] * r * w[2 * i + 1];
			dst[2 * i] = a * cs[i] - c * sn[i];
			dst[2 * i + 1] = a * sn[i] + c * cs[i];
		}
		if (s < H) rq[((long long)b * H + s) * L + l] = r;
		else rk[((long long)b * KV + (s - H)) * L + l] = r;
	}
}

// Shared memory: two tiles of ATTN_TILE × hd floats (k and v).
extern "C" __global__ void attn_fwd(const float *qr, const float *kr, const float *vv, const float *keyMask, float *out, float *lse,
                                    int B, int L, int Lk, int H, int KV, int hd, int causal) {
	extern __shared__ float tile[];
	float *ks = tile, *vs = tile + ATTN_TILE * hd;
	int h = blockIdx.y, b = blockIdx.z, g = h / (H / KV);
	int i = blockIdx.x * ATTN_TILE + threadIdx.x;
	bool active = i < L;
	float scale = rsqrtf((float)hd);
	float q[ATTN_MAX_HD], o[ATTN_MAX_HD];
	const float *qrow = qr + (((long long)b * H + h) * L + (active ? i : 0)) * hd;
	for (int d = 0; d < hd; d++) { q[d] = qrow[d] * scale; o[d] = 0; }
	float m = -INFINITY, sum = 0;
	const float *kb = kr + ((long long)b * KV + g) * Lk * hd, *vb = vv + ((long long)b * KV + g) * Lk * hd;
	for (int j0 = 0; j0 < Lk; j0 += ATTN_TILE) {
		int n = min(ATTN_TILE, Lk - j0);
		__syncthreads();
		for (int e = threadIdx.x; e < n * hd; e += blockDim.x) { ks[e] = kb[(long long)j0 * hd + e]; vs[e] = vb[(long long)j0 * hd + e]; }
		__syncthreads();
		if (!active) continue;
		for (int jj = 0; jj < n; jj++) {
			int j = j0 + jj;
			if (!attn_visible(keyMask, b, Lk, i, j, causal)) continue;
			float s = 0;
			for (int d = 0; d < hd; d++) s += q[d] * ks[jj * hd + d];
			if (s > m) { // rescale what was summed under the old maximum
				float c = expf(m - s);
				sum *= c;
				for (int d = 0; d < hd; d++) o[d] *= c;
				m = s;
			}
			float p = expf(s - m);
			sum += p;
			for (int d = 0; d < hd; d++) o[d] += p * vs[jj * hd + d];
		}
	}
	if (!active) return;
	float *orow = out + ((long long)b * L + i) * H * hd + (long long)h * hd;
	float inv = sum > 0 ? 1.0f / sum : 0.0f;
	for (int d = 0; d < hd; d++) orow[d] = o[d] * inv;
	lse[((long long)b * H + h) * L + i] = sum > 0 ? m + logf(sum) : -INFINITY;
}

// dq (of the rotated, weighted q, before the 1/sqrt(hd) scale is folded back): for query i,
// dq = scale·Σ_j P_ij·(dO_i·v_j − Δ_i)·k_j with Δ_i = dO_i·O_i. Same geometry and shared memory as attn_fwd.
extern "C" __global__ void attn_bwd_dq(const float *qr, const float *kr, const float *vv, const float *keyMask, const float *out,
                                       const float *dout, const float *lse, float *dq, int B, int L, int Lk, int H, int KV, int hd,
                                       int causal) {
	extern __shared__ float tile[];
	float *ks = tile, *vs = tile + ATTN_TILE * hd;
	int h = blockIdx.y, b = blockIdx.z, g = h / (H / KV);
	int i = blockIdx.x * ATTN_TILE + threadIdx.x;
	bool active = i < L;
	float scale = rsqrtf((float)hd);
	float q[ATTN_MAX_HD], go[ATTN_MAX_HD], acc[ATTN_MAX_HD];
	int ii = active ? i : 0;
	const float *qrow = qr + (((long long)b * H + h) * L + ii) * hd;
	const float *orow = out + ((long long)b * L + ii) * H * hd + (long long)h * hd;
	const float *gorow = dout + ((long long)b * L + ii) * H * hd + (long long)h * hd;
	float delta = 0;
	for (int d = 0; d < hd; d++) { q[d] = qrow[d] * scale; go[d] = gorow[d]; acc[d] = 0; delta += go[d] * orow[d]; }
	float li = lse[((long long)b * H + h) * L + ii];
	const float *kb = kr + ((long long)b * KV + g) * Lk * hd, *vb = vv + ((long long)b * KV + g) * Lk * hd;
	for (int j0 = 0; j0 < Lk; j0 += ATTN_TILE) {
		int n = min(ATTN_TILE, Lk - j0);
		__syncthreads();
		for (int e = threadIdx.x; e < n * hd; e += blockDim.x) { ks[e] = kb[(long long)j0 * hd + e]; vs[e] = vb[(long long)j0 * hd + e]; }
		__syncthreads();
		if (!active || li == -INFINITY) continue;
		for (int jj = 0; jj < n; jj++) {
			if (!attn_visible(keyMask, b, Lk, i, j0 + jj, causal)) continue;
			float s = 0, dp = 0;
			for (int d = 0; d < hd; d++) { s += q[d] * ks[jj * hd + d]; dp += go[d] * vs[jj * hd + d]; }
			float ds = expf(s - li) * (dp - delta);
			for (int d = 0; d < hd; d++) acc[d] += ds * ks[jj * hd + d];
		}
	}
	if (!active) return;
	float *dst = dq + (((long long)b * H + h) * L + i) * hd;
	for (int d = 0; d < hd; d++) dst[d] = acc[d] * scale;
}

// dk, dv of kv head g for key j: dv_j = Σ_{h in group, i} P_ij·dO_i; dk_j = scale·Σ P_ij·(dO_i·v_j − Δ_i)·q_i.
// Queries stream through shared memory: tiles of q, dO (ATTN_TILE × hd each) and their lse, Δ.
extern "C" __global__ void attn_bwd_dkv(const float *qr, const float *kr, const float *vv, const float *keyMask, const float *out,
                                        const float *dout, const float *lse, float *dk, float *dv, int B, int L, int Lk, int H, int KV,
                                        int hd, int causal) {
	extern __shared__ float tile[];
	float *qs = tile, *gs = tile + ATTN_TILE * hd, *ls = tile + 2 * ATTN_TILE * hd, *ds_ = ls + ATTN_TILE;
	int g = blockIdx.y, b = blockIdx.z, rep = H / KV;
	int j = blockIdx.x * ATTN_TILE + threadIdx.x;
	bool active = j < Lk;
	int jj = active ? j : 0;
	float scale = rsqrtf((float)hd);
	float k[ATTN_MAX_HD], v[ATTN_MAX_HD], ak[ATTN_MAX_HD], av[ATTN_MAX_HD];
	const float *krow = kr + (((long long)b * KV + g) * Lk + jj) * hd, *vrow = vv + (((long long)b * KV + g) * Lk + jj) * hd;
	for (int d = 0; d < hd; d++) { k[d] = krow[d]; v[d] = vrow[d]; ak[d] = 0; av[d] = 0; }
	for (int h = g * rep; h < (g + 1) * rep; h++) {
		const float *qb = qr + ((long long)b * H + h) * L * hd;
		for (int i0 = 0; i0 < L; i0 += ATTN_TILE) {
			int n = min(ATTN_TILE, L - i0);
			__syncthreads();
			for (int e = threadIdx.x; e < n * hd; e += blockDim.x) {
				int r = e / hd, d = e % hd;
				qs[e] = qb[(long long)(i0 + r) * hd + d] * scale;
				gs[e] = dout[((long long)b * L + i0 + r) * H * hd + (long long)h * hd + d];
			}
			for (int r = threadIdx.x; r < n; r += blockDim.x) {
				ls[r] = lse[((long long)b * H + h) * L + i0 + r];
				const float *orow = out + ((long long)b * L + i0 + r) * H * hd + (long long)h * hd;
				const float *gorow = dout + ((long long)b * L + i0 + r) * H * hd + (long long)h * hd;
				float dl = 0;
				for (int d = 0; d < hd; d++) dl += gorow[d] * orow[d];
				ds_[r] = dl;
			}
			__syncthreads();
			if (!active) continue;
			for (int r = 0; r < n; r++) {
				if (ls[r] == -INFINITY || !attn_visible(keyMask, b, Lk, i0 + r, j, causal)) continue;
				float s = 0, dp = 0;
				for (int d = 0; d < hd; d++) { s += qs[r * hd + d] * k[d]; dp += gs[r * hd + d] * v[d]; }
				float p = expf(s - ls[r]), dsv = p * (dp - ds_[r]);
				for (int d = 0; d < hd; d++) { av[d] += p * gs[r * hd + d]; ak[d] += dsv * qs[r * hd + d]; }
			}
		}
	}
	if (!active) return;
	long long row = (((long long)b * KV + g) * Lk + j) * hd;
	for (int d = 0; d < hd; d++) { dk[row + d] = ak[d]; dv[row + d] = av[d]; }
}

// Back through RoPE (the transpose rotation) and the RMSNorm, into dqkv; dwq/dwk get one row per
// (b, l, head) of g'⊙x̂, summed over rows by col_sum. Same thread layout as attn_prep.
extern "C" __global__ void attn_post(const float *qkv, const float *qw, const float *kw, const float *cosT, const float *sinT,
                                     const float *rq, const float *rk, const float *dq, const float *dk, const float *dv,
                                     float *dqkv, float *dwq, float *dwk, int B, int L, int H, int KV, int hd) {
	int slots = H + 2 * KV, half = hd / 2;
	GRID_STRIDE(t, (long long)B * L * slots) {
		int s = (int)(t % slots);
		long long bl = t / slots;
		int b = (int)(bl / L), l = (int)(bl % L);
		const float *x = qkv + bl * (long long)slots * hd + (long long)s * hd;
		float *dst = dqkv + bl * (long long)slots * hd + (long long)s * hd;
		if (s >= H + KV) {
			const float *src = dv + (((long long)b * KV + (s - H - KV)) * L + l) * hd;
			for (int d = 0; d < hd; d++) dst[d] = src[d];
			continue;
		}
		bool isq = s < H;
		const float *w = isq ? qw : kw;
		const float *gsrc = isq ? dq + (((long long)b * H + s) * L + l) * hd : dk + (((long long)b * KV + (s - H)) * L + l) * hd;
		float r = isq ? rq[((long long)b * H + s) * L + l] : rk[((long long)b * KV + (s - H)) * L + l];
		float *dw = isq ? dwq + (((long long)b * L + l) * H + s) * hd : dwk + (((long long)b * L + l) * KV + (s - H)) * hd;
		const float *cs = cosT + bl * half, *sn = sinT + bl * half;
		float dot = 0;
		for (int i = 0; i < half; i++) { // g' = Rᵀ·g, then dw = g'⊙x̂ and dot = Σ g'⊙w⊙x̂
			float g0 = gsrc[2 * i] * cs[i] + gsrc[2 * i + 1] * sn[i];
			float g1 = -gsrc[2 * i] * sn[i] + gsrc[2 * i + 1] * cs[i];
			float x0 = x[2 * i] * r, x1 = x[2 * i + 1] * r;
			dw[2 * i] = g0 * x0;
			dw[2 * i + 1] = g1 * x1;
			dot += g0 * w[2 * i] * x0 + g1 * w[2 * i + 1] * x1;
			dst[2 * i] = g0; // g' parked in dst until the mean is known
			dst[2 * i + 1] = g1;
		}
		float mean = dot / hd;
		for (int d = 0; d < hd; d++) dst[d] = r * (dst[d] * w[d] - x[d] * r * mean);
	}
}

// The cross-attention's per-head RMSNorm (no RoPE): row (b, l) of x, head s, at x + (b·L + l)·ld + s·hd,
// normalised and weighted by w into the head-major dst [B, heads, L, hd], its rstd into r [B, heads, L];
// with w NULL, a plain copy (the values). One thread per (b, l, head). Launch: Elementwise(B·L·heads).
extern "C" __global__ void xattn_prep(const float *x, int ld, const float *w, float *dst, float *r, int B, int L, int heads, int hd,
                                      double eps) {
	GRID_STRIDE(t, (long long)B * L * heads) {
		int s = (int)(t % heads);
		long long bl = t / heads;
		int b = (int)(bl / L), l = (int)(bl % L);
		const float *xr = x + bl * ld + (long long)s * hd;
		float *d = dst + (((long long)b * heads + s) * L + l) * hd;
		if (!w) {
			for (int i = 0; i < hd; i++) d[i] = xr[i];
			continue;
		}
		double ss = 0;
		for (int i = 0; i < hd; i++) ss += (double)xr[i] * xr[i];
		float rs = (float)(1.0 / sqrt(ss / hd + eps));
		for (int i = 0; i < hd; i++) d[i] = xr[i] * rs * w[i];
		r[((long long)b * heads + s) * L + l] = rs;
	}
}

// Back through xattn_prep: g [B, heads, L, hd] (head-major) to dx at x's layout (row stride ldx), and one
// row per (b, l, head) of g⊙x̂ into dw [B·L·heads, hd] (summed by col_sum); with w NULL, a plain copy.
// dx = r·(g⊙w − x̂·mean(g⊙w⊙x̂)), x̂ = x·r. Launch: Elementwise(B·L·heads).
extern "C" __global__ void xattn_post(const float *x, int ld, const float *w, const float *r, const float *g, float *dx, int ldx,
                                      float *dw, int B, int L, int heads, int hd) {
	GRID_STRIDE(t, (long long)B * L * heads) {
		int s = (int)(t % heads);
		long long bl = t / heads;
		int b = (int)(bl / L), l = (int)(bl % L);
		const float *gr = g + (((long long)b * heads + s) * L + l) * hd;
		float *d = dx + bl * ldx + (long long)s * hd;
		if (!w) {
			for (int i = 0; i < hd; i++) d[i] = gr[i];
			continue;
		}
		const float *xr = x + bl * ld + (long long)s * hd;
		float rs = r[((long long)b * heads + s) * L + l];
		float *dwr = dw + (bl * heads + s) * hd;
		float dot = 0;
		for (int i = 0; i < hd; i++) {
			float xh = xr[i] * rs;
			dwr[i] = gr[i] * xh;
			dot += gr[i] * w[i] * xh;
		}
		float mean = dot / hd;
		for (int i = 0; i < hd; i++) d[i] = rs * (gr[i] * w[i] - xr[i] * rs * mean);
	}
}
