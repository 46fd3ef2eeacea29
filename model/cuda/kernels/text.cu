// The text encoder's own ops (model/ops/loss.go): the token embedding and the next-token cross-entropy.
// Token ids and targets are stored as floats, as in the CPU graph; the tokenizer only makes ids in
// range, and an id outside [0, V) reads and writes nothing here.
#include "common.cuh"

// out[r, :] = table[ids[r], :]. Launch: Elementwise(rows·D).
extern "C" __global__ void embed_fwd(const float *table, const float *ids, float *out, long long rows, int D, int V) {
	GRID_STRIDE(i, rows * D) {
		long long r = i / D;
		int id = (int)ids[r];
		out[i] = (id >= 0 && id < V) ? table[(long long)id * D + i % D] : 0.0f;
	}
}

// dtable[ids[r], :] += g[r, :] over the rows in order, into a zeroed dtable. One thread per column, so
// every element's sum has one order whatever the scheduling. Launch: Elementwise(D).
extern "C" __global__ void embed_bwd(const float *ids, const float *g, float *dtable, long long rows, int D, int V) {
	GRID_STRIDE(d, D) {
		for (long long r = 0; r < rows; r++) {
			int id = (int)ids[r];
			if (id >= 0 && id < V) dtable[(long long)id * D + d] += g[r * D + d];
		}
	}
}

// Per row n of logits [N, V]: lse[n] = log Σ exp, and terms[n] = mask[n]·(lse[n] − logits[n, target[n]])
// (0 where masked out), in double. Launch: Elementwise(N), one thread per row.
extern "C" __global__ void ce_rows(const float *logits, const float *targets, const float *mask, double *terms, float *lse,
                                   int N, int V) {
	GRID_STRIDE(n, N) {
		const float *row = logits + n * (long long)V;
		double mx = -INFINITY;
		for (int j = 0; j < V; j++) mx = fmax(mx, (double)row[j]);
		double s = 0;
		for (int j = 0; j < V; j++) s += exp((double)row[j] - mx);
		double l = mx + log(s);
		lse[n] = (float)l;
		int t = (int)targets[n];
		terms[n] = (mask[n] != 0.0f && t >= 0 && t < V) ? (double)mask[n] * (l - (double)row[t]) : 0.0;
	}
}

// out[0] = Σ terms / Σ mask (0 when nothing is unmasked), msum[0] = Σ mask, in order, by one thread.
extern "C" __global__ void ce_final(const double *terms, const float *mask, int N, float *out, float *msum) {
	if (blockIdx.x != 0 || threadIdx.x != 0) return;
	double s = 0, m = 0;
	for (int n = 0; n < N; n++) { s += terms[n]; m += mask[n]; }
	out[0] = m > 0 ? (float)(s / m) : 0.0f;
	msum[0] = (float)m;
}

// dlogits[n, j] = g·mask[n]/M·(exp(logits[n, j] − lse[n]) − [j = target[n]]), M = msum[0].
// Launch: Elementwise(N·V).
extern "C" __global__ void ce_bwd(const float *logits, const float *targets, const float *mask, const float *lse,
                                  const float *msum, const float *g, float *dl, int N, int V) {
	GRID_STRIDE(i, (long long)N * V) {
		long long n = i / V;
		int j = (int)(i % V);
		double M = msum[0];
		if (mask[n] == 0.0f || M == 0) { dl[i] = 0.0f; continue; }
		double c = (double)g[0] * mask[n] / M;
		double d = c * exp((double)logits[i] - (double)lse[n]);
		if (j == (int)targets[n]) d -= c;
		dl[i] = (float)d;
	}
}
