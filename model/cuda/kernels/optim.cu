// AdamW and the EMA (model/optim), per element in double, rounded once, as the CPU does.
// Launch: Elementwise(n).
#include "common.cuh"

// torch.optim.AdamW: p ← p·decay; m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)g²;
// p ← p − stepSize·m/(√v/bc2Sqrt + eps), with decay = 1 − lr·wd, stepSize = lr/(1−β1ᵗ),
// bc2Sqrt = √(1−β2ᵗ) computed on the host per step. gscale multiplies g (the clip's factor; 1 = none).
extern "C" __global__ void adamw_step(float *p, const float *g, float *m, float *v, long long n, double beta1, double beta2,
                                      double eps, double decay, double stepSize, double bc2Sqrt, const float *gscale) {
	double gs = gscale ? (double)gscale[0] : 1.0;
	GRID_STRIDE(i, n) {
		double pp = (double)p[i] * decay, gg = (double)g[i] * gs, mm = m[i], vv = v[i];
		mm += (1 - beta1) * (gg - mm);
		vv = beta2 * vv + (1 - beta2) * gg * gg;
		pp -= stepSize * mm / (sqrt(vv) / bc2Sqrt + eps);
		p[i] = (float)pp;
		m[i] = (float)mm;
		v[i] = (float)vv;
	}
}

// shadow ← decay·shadow + (1 − decay)·w.
extern "C" __global__ void ema_update(float *shadow, const float *w, long long n, double decay) {
	GRID_STRIDE(i, n) shadow[i] = (float)(decay * shadow[i] + (1 - decay) * w[i]);
}

// The global-norm clip (torch.nn.utils.clip_grad_norm_), from sq_partial's per-block sums of every
// gradient: norm[0] = √Σ partial, in order, and factor[0] = maxNorm/(norm + 1e-6) when that is below 1,
// else 1 (adamw_step's gscale). One thread.
extern "C" __global__ void clip_scale(const double *partial, int blocks, double maxNorm, double *norm, float *factor) {
	if (blockIdx.x != 0 || threadIdx.x != 0) return;
	double s = 0;
	for (int i = 0; i < blocks; i++) s += partial[i];
	double n = sqrt(s);
	norm[0] = n;
	double c = maxNorm / (n + 1e-6);
	factor[0] = c < 1 ? (float)c : 1.0f;
}
