package ops

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

// The fused attention kernels behind the Attention op: QK RMSNorm → RoPE → grouped-query attention with a
// key mask (and optionally a causal mask) → softmax → ·V, forward and backward, in plain Go slices.
// They hold no Gorgonia types so they can be tested against a direct reference on their own.
//
// Work is split into one task per (batch, kv head): the task normalises and rotates that kv head's keys
// once and then serves the H/KV query heads that share them, so no two tasks write the same memory and
// the backward's dk, dv accumulate over the group without atomics or locks.
//
// Per head, q, k, v and their gradients are kept head-dim-major ([hd, L], "T" in the names), so every
// product's inner loop runs over L rather than over hd = 32: gonum's pure-Go gemm works in axpy/dot
// calls along rows, and rows of 112 run 1.5–2.6× faster than rows of 32 at these sizes (measured here).
// OpenBLAS runs both layouts at 7–12 µs per product here.

// attnShape describes one attention call. Heads must be a multiple of KVHeads, HeadDim even.
type attnShape struct {
	B, L, Heads, KVHeads, HeadDim int
	Eps                           float64 // QK RMSNorm epsilon
	Causal                        bool    // query i sees only keys j ≤ i (on top of keyMask)
}

// attnCache keeps what the backward needs from the forward, and the backward's scratch, so that neither
// pass allocates once the shapes are steady. The zero value is ready to use; one cache belongs to one op
// instance and is not safe for two concurrent calls.
type attnCache[T float32 | float64] struct {
	shape  attnShape
	filled bool // a forward with shape has run since the last resize

	qh  []T // [B, H, L, hd]  q·rsqrt(mean(q²)+eps), before weight and RoPE (what the norm backward needs)
	qrT []T // [B, H, hd, L]  the normalised, weighted, rotated q that enters the scores
	kh  []T // [B, KV, L, hd] the same for k
	krT []T // [B, KV, hd, L]
	vT  []T // [B, KV, hd, L]
	rq  []T // [B, H, L]      rsqrt(mean(q²)+eps)
	rk  []T // [B, KV, L]
	p   []T // [B, H, L, L]   softmax probabilities (exact zeros where masked)

	dw   []T // [B·KV, 2, hd] per-task partial dqw | dkw, summed in task order for run-to-run determinism
	work []attnWork[T]
}

// attnWork is one worker goroutine's scratch.
type attnWork[T float32 | float64] struct {
	vec          []T   // [hd]    one token's head vector in transit between layouts
	masked       []int // key positions of the current sample that keyMask hides
	dOT          []T   // [H/KV, hd, L] the group's output gradients
	dp           []T   // [L, L]  dP, then dS in place
	dqT          []T   // [H/KV, hd, L] gradients of the group's rotated query heads
	dkT, dvT     []T   // [hd, L] gradients of the task's kv head, accumulated over its query heads
	backwardSize bool
}

func (s attnShape) validate() error {
	switch {
	case s.B <= 0 || s.L <= 0 || s.Heads <= 0 || s.KVHeads <= 0 || s.HeadDim <= 0:
		return fmt.Errorf("attention: sizes must be positive, got B=%d L=%d heads=%d kv_heads=%d head_dim=%d",
			s.B, s.L, s.Heads, s.KVHeads, s.HeadDim)
	case s.Heads%s.KVHeads != 0:
		return fmt.Errorf("attention: heads %d is not a multiple of kv_heads %d", s.Heads, s.KVHeads)
	case s.HeadDim%2 != 0:
		return fmt.Errorf("attention: head_dim %d must be even for RoPE", s.HeadDim)
	case !(s.Eps >= 0) || math.IsInf(s.Eps, 1):
		return fmt.Errorf("attention: eps %v must be finite and non-negative", s.Eps)
	}
	return nil
}

// attnCheckLen reports a buffer whose length does not match its shape.
func attnCheckLen(op, name string, got, want int, shape string) error {
	if got != want {
		return fmt.Errorf("%s: %s has %d elements, want %d (%s)", op, name, got, want, shape)
	}
	return nil
}

// attnCheckInputs validates the buffers every pass reads.
func attnCheckInputs[T float32 | float64](op string, s attnShape, qkv, qw, kw, cos, sin, keyMask []T) error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	B, L, H, KV, hd := s.B, s.L, s.Heads, s.KVHeads, s.HeadDim
	if err := attnCheckLen(op, "qkv", len(qkv), B*L*(H+2*KV)*hd, "[B, L, (H+2·KV)·hd]"); err != nil {
		return err
	}
	if err := attnCheckLen(op, "q norm weight", len(qw), hd, "[hd]"); err != nil {
		return err
	}
	if err := attnCheckLen(op, "k norm weight", len(kw), hd, "[hd]"); err != nil {
		return err
	}
	if err := attnCheckLen(op, "rope cos", len(cos), B*L*hd/2, "[B, L, hd/2]"); err != nil {
		return err
	}
	if err := attnCheckLen(op, "rope sin", len(sin), B*L*hd/2, "[B, L, hd/2]"); err != nil {
		return err
	}
	if keyMask != nil {
		if err := attnCheckLen(op, "key mask", len(keyMask), B*L, "[B, L]"); err != nil {
			return err
		}
	}
	return nil
}

// resize sizes the forward buffers for s, reusing their capacity.
func (c *attnCache[T]) resize(s attnShape) {
	if c.shape == s && c.qh != nil {
		return
	}
	B, L, H, KV, hd := s.B, s.L, s.Heads, s.KVHeads, s.HeadDim
	c.shape = s
	c.filled = false
	c.qh = attnGrow(c.qh, B*H*L*hd)
	c.qrT = attnGrow(c.qrT, B*H*L*hd)
	c.kh = attnGrow(c.kh, B*KV*L*hd)
	c.krT = attnGrow(c.krT, B*KV*L*hd)
	c.vT = attnGrow(c.vT, B*KV*L*hd)
	c.rq = attnGrow(c.rq, B*H*L)
	c.rk = attnGrow(c.rk, B*KV*L)
	c.p = attnGrow(c.p, B*H*L*L)
	c.dw = attnGrow(c.dw, B*KV*2*hd)
	for i := range c.work {
		c.work[i].size(s, c.work[i].backwardSize)
	}
}

// workers makes sure there is scratch for every goroutine attnParallel will start on tasks tasks, with the
// backward's buffers too when backward is set (an inference-only forward never allocates them).
func (c *attnCache[T]) workers(tasks int, backward bool) {
	n := min(runtime.GOMAXPROCS(0), tasks)
	for len(c.work) < n {
		c.work = append(c.work, attnWork[T]{})
	}
	for i := range c.work[:n] {
		if backward && !c.work[i].backwardSize {
			c.work[i].size(c.shape, true)
		} else if c.work[i].vec == nil {
			c.work[i].size(c.shape, c.work[i].backwardSize)
		}
	}
}

func (w *attnWork[T]) size(s attnShape, backward bool) {
	L, hd := s.L, s.HeadDim
	w.vec = attnGrow(w.vec, hd)
	w.masked = attnGrow(w.masked, L)
	w.backwardSize = backward
	if backward {
		w.dp = attnGrow(w.dp, L*L)
		w.dOT = attnGrow(w.dOT, s.Heads/s.KVHeads*hd*L)
		w.dqT = attnGrow(w.dqT, s.Heads/s.KVHeads*hd*L)
		w.dkT = attnGrow(w.dkT, hd*L)
		w.dvT = attnGrow(w.dvT, hd*L)
	}
}

// attnGrow returns a slice of length n, reusing buf's storage when it is large enough.
func attnGrow[T any](buf []T, n int) []T {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]T, n)
}

// attnForward computes out [B, L, H·hd] (head h in columns h·hd..(h+1)·hd) from qkv [B, L, (H+2·KV)·hd],
// the QK RMSNorm weights qw, kw [hd], the RoPE tables cos, sin [B, L, hd/2] and keyMask [B, L] (nonzero =
// attend; nil = attend everywhere), and fills cache for attnBackward. A query whose keys are all masked
// gets a zero output (PyTorch would give NaN). cache may be nil when no backward follows.
func attnForward[T float32 | float64](s attnShape, qkv, qw, kw, cos, sin, keyMask []T, out []T, cache *attnCache[T]) error {
	const op = "attention forward"
	if err := attnCheckInputs(op, s, qkv, qw, kw, cos, sin, keyMask); err != nil {
		return err
	}
	B, L, H, KV, hd := s.B, s.L, s.Heads, s.KVHeads, s.HeadDim
	if err := attnCheckLen(op, "output", len(out), B*L*H*hd, "[B, L, H·hd]"); err != nil {
		return err
	}
	if cache == nil {
		cache = new(attnCache[T])
	}
	c := cache
	c.resize(s)
	c.filled = false

	rep, half, D := H/KV, hd/2, (H+2*KV)*hd
	scale := T(1 / math.Sqrt(float64(hd)))
	c.workers(B*KV, false)
	attnParallel(B*KV, func(worker, task int) {
		b, g := task/KV, task%KV
		w := &c.work[worker]
		vec := w.vec // [hd]
		// The mask is the same for every query row of the sample: list its holes once, so the softmax
		// loops stay free of per-key mask tests.
		masked := w.masked[:0]
		if keyMask != nil {
			for j, m := range keyMask[b*L : (b+1)*L] {
				if m == 0 {
					masked = append(masked, j)
				}
			}
		}
		w.masked = masked
		kbase := (b*KV + g) * L               // row of (b, g, l=0) in the [B, KV, L, ·] layouts
		krT := c.krT[kbase*hd : (kbase+L)*hd] // [hd, L]
		vT := c.vT[kbase*hd : (kbase+L)*hd]   // [hd, L]
		kOff, vOff := H*hd+g*hd, (H+KV)*hd+g*hd
		// One pass over the sample's token rows (stride (H+2·KV)·hd) picks up everything the group
		// reads: its k, v and H/KV query heads. Visiting each row once lets the loads of one row overlap;
		// a pass per head paid the cache-miss latency of every row again (measured: 1/6 of the forward).
		for l := 0; l < L; l++ {
			row := qkv[(b*L+l)*D : (b*L+l+1)*D] // [(H+2·KV)·hd]
			cs := cos[(b*L+l)*half : (b*L+l+1)*half]
			sn := sin[(b*L+l)*half : (b*L+l+1)*half]
			i := (kbase + l) * hd
			c.rk[kbase+l] = attnNormRope(row[kOff:kOff+hd], kw, cs, sn, s.Eps, c.kh[i:i+hd], vec)
			for d, x := range vec {
				krT[d*L+l] = x
			}
			for d, x := range row[vOff : vOff+hd] {
				vT[d*L+l] = x
			}
			for h := g * rep; h < (g+1)*rep; h++ {
				qbase := (b*H + h) * L
				i := (qbase + l) * hd
				c.rq[qbase+l] = attnNormRope(row[h*hd:(h+1)*hd], qw, cs, sn, s.Eps, c.qh[i:i+hd], vec)
				qrT := c.qrT[qbase*hd : (qbase+L)*hd] // [hd, L]
				for d, x := range vec {
					qrT[d*L+l] = x
				}
			}
		}
		for h := g * rep; h < (g+1)*rep; h++ {
			qbase := (b*H + h) * L
			qrT := c.qrT[qbase*hd : (qbase+L)*hd] // [hd, L]
			p := c.p[qbase*L : (qbase+L)*L]       // [L, L]

			attnGemm(true, false, L, L, hd, scale, qrT, L, krT, L, 0, p, L) // S = Q·Kᵀ/sqrt(hd)
			for i := 0; i < L; i++ {
				n := L
				if s.Causal {
					n = i + 1
				}
				attnSoftmaxRow(p[i*L:(i+1)*L], masked, n)
			}
			// O = P·V straight into the output's head-h columns (row stride H·hd); as P·(Vᵀ)ᵀ the inner
			// products run over L, which suits both BLAS builds.
			attnGemm(false, true, L, hd, L, 1, p, L, vT, L, 0, out[b*L*H*hd+h*hd:], H*hd)
		}
	})
	c.filled = true
	return nil
}

// attnBackward computes the gradients of the loss with respect to qkv, qw and kw from gradOut [B, L, H·hd]
// and the cache of the forward that produced out. dqkv, dqw, dkw are overwritten, not accumulated into.
// qkv and keyMask are checked but not read: the cache already holds everything derived from them.
func attnBackward[T float32 | float64](s attnShape, gradOut []T, qkv, qw, kw, cos, sin, keyMask []T, cache *attnCache[T], dqkv, dqw, dkw []T) error {
	const op = "attention backward"
	if err := attnCheckInputs(op, s, qkv, qw, kw, cos, sin, keyMask); err != nil {
		return err
	}
	B, L, H, KV, hd := s.B, s.L, s.Heads, s.KVHeads, s.HeadDim
	if err := attnCheckLen(op, "output gradient", len(gradOut), B*L*H*hd, "[B, L, H·hd]"); err != nil {
		return err
	}
	if err := attnCheckLen(op, "qkv gradient", len(dqkv), len(qkv), "[B, L, (H+2·KV)·hd]"); err != nil {
		return err
	}
	if err := attnCheckLen(op, "q norm weight gradient", len(dqw), hd, "[hd]"); err != nil {
		return err
	}
	if err := attnCheckLen(op, "k norm weight gradient", len(dkw), hd, "[hd]"); err != nil {
		return err
	}
	c := cache
	if c == nil || !c.filled || c.shape != s {
		return fmt.Errorf("%s: no cached forward with this shape (B=%d L=%d heads=%d kv_heads=%d head_dim=%d)",
			op, B, L, H, KV, hd)
	}
	tasks := B * KV
	c.workers(tasks, true)

	rep, half, D := H/KV, hd/2, (H+2*KV)*hd
	scale := T(1 / math.Sqrt(float64(hd)))
	ldo := H * hd
	attnParallel(tasks, func(worker, task int) {
		b, g := task/KV, task%KV
		w := &c.work[worker]
		vec, dOT, dqT, dp := w.vec, w.dOT, w.dqT, w.dp // [hd], [rep, hd, L], [rep, hd, L], [L, L]
		dkT, dvT := w.dkT, w.dvT                       // [hd, L] each
		clear(dkT)
		clear(dvT)
		dwq := c.dw[task*2*hd : task*2*hd+hd]
		dwk := c.dw[task*2*hd+hd : (task+1)*2*hd]
		clear(dwq)
		clear(dwk)
		kbase := (b*KV + g) * L
		krT := c.krT[kbase*hd : (kbase+L)*hd] // [hd, L]
		vT := c.vT[kbase*hd : (kbase+L)*hd]   // [hd, L]
		// Gather the group's output gradients in one pass over the rows of gradOut (see the forward).
		for l := 0; l < L; l++ {
			gl := gradOut[(b*L+l)*ldo+g*rep*hd : (b*L+l)*ldo+(g+1)*rep*hd] // [rep·hd]: heads g·rep.. of token l
			for r := 0; r < rep; r++ {
				for d, x := range gl[r*hd : (r+1)*hd] {
					dOT[(r*hd+d)*L+l] = x
				}
			}
		}
		for r := 0; r < rep; r++ {
			qbase := (b*H + g*rep + r) * L
			p := c.p[qbase*L : (qbase+L)*L]       // [L, L]
			qrT := c.qrT[qbase*hd : (qbase+L)*hd] // [hd, L]
			dOr := dOT[r*hd*L : (r+1)*hd*L]       // [hd, L]
			dqr := dqT[r*hd*L : (r+1)*hd*L]       // [hd, L]

			attnGemm(false, false, hd, L, L, 1, dOr, L, p, L, 1, dvT, L) // dVᵀ += dOᵀ·P
			attnGemm(true, false, L, L, hd, 1, dOr, L, vT, L, 0, dp, L)  // dP = dO·Vᵀ
			// Softmax backward, with the 1/sqrt(hd) of the scores folded in: dS = P⊙(dP − Σⱼ P⊙dP)·scale.
			// Masked entries have P = 0 and so get no gradient; a fully masked row is all zeros.
			for i := 0; i < L; i++ {
				pr, dr := p[i*L:(i+1)*L], dp[i*L:(i+1)*L:(i+1)*L]
				dr = dr[:len(pr)] // lets the compiler drop the bounds checks below
				dot := attnDot(pr, dr)
				for j, pv := range pr {
					dr[j] = pv * (dr[j] - dot) * scale
				}
			}
			attnGemm(false, true, hd, L, L, 1, krT, L, dp, L, 0, dqr, L)  // d(rotated q)ᵀ = Kᵀ·dSᵀ
			attnGemm(false, false, hd, L, L, 1, qrT, L, dp, L, 1, dkT, L) // d(rotated k)ᵀ += Qᵀ·dS
		}
		// Back through RoPE and the norms, and out to dqkv, again in one pass over the rows.
		kOff, vOff := H*hd+g*hd, (H+KV)*hd+g*hd
		for l := 0; l < L; l++ {
			drow := dqkv[(b*L+l)*D : (b*L+l+1)*D] // [(H+2·KV)·hd]
			cs := cos[(b*L+l)*half : (b*L+l+1)*half]
			sn := sin[(b*L+l)*half : (b*L+l+1)*half]
			for r := 0; r < rep; r++ {
				h := g*rep + r
				qbase := (b*H + h) * L
				for d := range vec {
					vec[d] = dqT[(r*hd+d)*L+l]
				}
				i := (qbase + l) * hd
				attnRopeNormBack(vec, c.qh[i:i+hd], c.rq[qbase+l], qw, cs, sn, dwq, drow[h*hd:(h+1)*hd])
			}
			for d := range vec {
				vec[d] = dkT[d*L+l]
			}
			i := (kbase + l) * hd
			attnRopeNormBack(vec, c.kh[i:i+hd], c.rk[kbase+l], kw, cs, sn, dwk, drow[kOff:kOff+hd])
			for d := range hd {
				drow[vOff+d] = dvT[d*L+l]
			}
		}
	})
	clear(dqw)
	clear(dkw)
	for t := 0; t < tasks; t++ {
		part := c.dw[t*2*hd : (t+1)*2*hd]
		for d := 0; d < hd; d++ {
			dqw[d] += part[d]
			dkw[d] += part[hd+d]
		}
	}
	return nil
}

// attnNormRope writes xh = x·r with r = rsqrt(mean(x²)+eps), then xr = RoPE(xh⊙w), and returns r.
func attnNormRope[T float32 | float64](x, w, cs, sn []T, eps float64, xh, xr []T) T {
	r := attnNorm(x, w, eps, xh, xr)
	ropeRow(xr, cs, sn)
	return r
}

// attnNorm writes xh = x·r with r = rsqrt(mean(x²)+eps) and xn = xh⊙w, and returns r.
func attnNorm[T float32 | float64](x, w []T, eps float64, xh, xn []T) T {
	r := T(1 / math.Sqrt(float64(attnDot(x, x))/float64(len(x))+eps))
	for d, e := range x {
		xh[d] = e * r
		xn[d] = xh[d] * w[d]
	}
	return r
}

// attnRopeNormBack carries g, the gradient of one rotated head vector, back through RoPE (in place) and the
// RMSNorm: dw += g'⊙x̂ and dst = r·(g'⊙w − x̂·mean(g'⊙w⊙x̂)), where g' is g rotated back and x̂ = x·r.
func attnRopeNormBack[T float32 | float64](g, xh []T, r T, w, cs, sn, dw, dst []T) {
	ropeRowT(g, cs, sn)
	attnNormBack(g, xh, r, w, dw, dst)
}

// attnNormBack carries g, the gradient of one normalised head vector, back through the RMSNorm:
// dw += g⊙x̂ and dst = r·(g⊙w − x̂·mean(g⊙w⊙x̂)), where x̂ = x·r.
func attnNormBack[T float32 | float64](g, xh []T, r T, w, dw, dst []T) {
	var dot T
	for d, gv := range g {
		dw[d] += gv * xh[d]
		dot += gv * w[d] * xh[d]
	}
	m := dot / T(len(g))
	for d, gv := range g {
		dst[d] = r * (gv*w[d] - xh[d]*m)
	}
}

// attnSoftmaxRow turns scores p [L] into probabilities over the first n entries, leaving out the
// positions listed in masked (ascending), and zeros the rest. With no key left the row is zero, not NaN.
func attnSoftmaxRow[T float32 | float64](p []T, masked []int, n int) {
	for _, j := range masked {
		if j >= n {
			break
		}
		p[j] = T(math.Inf(-1)) // exp → exactly 0
	}
	clear(p[n:])
	mx := attnMax(p[:n])
	if math.IsInf(float64(mx), -1) {
		clear(p[:n])
		return
	}
	inv := 1 / attnExpSub(p[:n], mx) // the maximum contributes exp(0) = 1, so the sum is ≥ 1
	for j := range p[:n] {
		p[j] *= inv
	}
}

// attnDot is Σ a⊙b over len(a) with four running sums: one sum is a chain of dependent adds that runs
// at the adder's latency, four keep it busy (this loop was 1/8 of the backward).
func attnDot[T float32 | float64](a, b []T) T {
	b = b[:len(a)]
	var s0, s1, s2, s3 T
	j := 0
	for ; j+4 <= len(a); j += 4 {
		s0 += a[j] * b[j]
		s1 += a[j+1] * b[j+1]
		s2 += a[j+2] * b[j+2]
		s3 += a[j+3] * b[j+3]
	}
	for ; j < len(a); j++ {
		s0 += a[j] * b[j]
	}
	return (s0 + s1) + (s2 + s3)
}

// attnMax is the largest element of x (−Inf for an empty or all −Inf x), with four running maxima for
// the same reason as attnDot. No NaN reaches it unless the inputs hold NaN, and then the row's output
// is NaN anyway through the exponentials.
func attnMax[T float32 | float64](x []T) T {
	inf := T(math.Inf(-1))
	m0, m1, m2, m3 := inf, inf, inf, inf
	j := 0
	for ; j+4 <= len(x); j += 4 {
		if x[j] > m0 {
			m0 = x[j]
		}
		if x[j+1] > m1 {
			m1 = x[j+1]
		}
		if x[j+2] > m2 {
			m2 = x[j+2]
		}
		if x[j+3] > m3 {
			m3 = x[j+3]
		}
	}
	for ; j < len(x); j++ {
		if x[j] > m0 {
			m0 = x[j]
		}
	}
	return max(m0, m1, m2, m3)
}

// attnIsF32 reports whether T is float32; the kernels are generic but BLAS and exp are per precision.
func attnIsF32[T float32 | float64]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// attnF32s and attnF64s reinterpret a []T of the matching precision without copying (callers check attnIsF32).
func attnF32s[T float32 | float64](x []T) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(x))), len(x))
}

func attnF64s[T float32 | float64](x []T) []float64 {
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(x))), len(x))
}

// attnExpSub replaces every x by exp(x − m) (all arguments ≤ 0 or −Inf here) and returns their sum.
// float32 uses attnExpSub32; float64 keeps math.Exp, whose exactness the gradient checks rely on.
func attnExpSub[T float32 | float64](x []T, m T) T {
	if attnIsF32[T]() {
		return T(attnExpSub32(attnF32s(x), float32(m)))
	}
	x64, m64 := attnF64s(x), float64(m)
	var sum float64
	for i, v := range x64 {
		e := math.Exp(v - m64)
		x64[i] = e
		sum += e
	}
	return T(sum)
}

// attnExp2Tab holds 2^(j/64), j = 0..63, for attnExpSub32.
var attnExp2Tab = func() (t [64]float32) {
	for j := range t {
		t[j] = float32(math.Exp2(float64(j) / 64))
	}
	return t
}()

// attnExpSub32 is attnExpSub for float32, with the exponential written into the loop:
// t = (64·n + j)·ln2/64 + r with |r| ≤ ln2/128, exp(t) = 2ⁿ · 2^(j/64) · (1 + r + r²/2), the table entry's
// exponent bits raised by n. Within 2 ulp of exp (|r|³/6 < 3e-8); 2× faster than a Cephes polynomial and
// 3.5× faster than math.Exp here, and exp is the largest single cost of the forward.
// Arguments below −87.33 (the smallest normal) give 0, harmless for softmax weights next to a maximum of
// 1; valid for t ≤ 88; NaN stays NaN.
func attnExpSub32(x []float32, m float32) float32 {
	var sum float32
	tab := &attnExp2Tab
	for i, v := range x {
		t := v - m
		e := t // NaN
		if t >= -87.33 {
			// Adding 1.5·2²³ rounds t·64/ln2 to the nearest integer k and leaves k in the low mantissa
			// bits, which spares the float↔int conversions.
			z := t*92.332482616893656 + 12582912
			k := int32(math.Float32bits(z)) - 0x4B400000
			fk := z - 12582912
			// ln2/64 split in two so that fk·hi is exact (hi has 9 significant bits, |fk| < 2¹⁴).
			r := t - fk*(0.693359375/64) - fk*(-2.12194440e-4/64)
			p := 1 + r + 0.5*r*r
			e = p * math.Float32frombits(uint32(int32(math.Float32bits(tab[k&63]))+(k>>6)<<23))
		} else if t == t {
			e = 0
		}
		x[i] = e
		sum += e
	}
	return sum
}

// attnGemm computes C = alpha·op(A)·op(B) + beta·C (row-major, m×n result, inner size k) with the registered
// BLAS (gonum's pure Go, or OpenBLAS under the openblas tag).
func attnGemm[T float32 | float64](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	if attnIsF32[T]() {
		impl := blas32.Implementation()
		_, native := impl.(gonum.Implementation)
		attnGemmTiles(native, m, n, func(i0, mi, j0, nj int) {
			impl.Sgemm(ta, tb, mi, nj, k, float32(alpha), attnF32s(a[attnAOff(tA, i0, lda):]), lda,
				attnF32s(b[attnBOff(tB, j0, ldb):]), ldb, float32(beta), attnF32s(c[i0*ldc+j0:]), ldc)
		})
		return
	}
	impl := blas64.Implementation()
	_, native := impl.(gonum.Implementation)
	attnGemmTiles(native, m, n, func(i0, mi, j0, nj int) {
		impl.Dgemm(ta, tb, mi, nj, k, float64(alpha), attnF64s(a[attnAOff(tA, i0, lda):]), lda,
			attnF64s(b[attnBOff(tB, j0, ldb):]), ldb, float64(beta), attnF64s(c[i0*ldc+j0:]), ldc)
	})
}

// gonum's native gemm spawns its own goroutines once C spans 4 or more 64×64 blocks (L = 112 already
// does). The kernels are parallel over (batch, head) already, so those goroutines would only add
// scheduling cost and oversubscribe the cores: cut C into 64×192 tiles, which gonum multiplies serially.
const (
	attnTileM = 64
	attnTileN = 192
)

func attnGemmTiles(native bool, m, n int, f func(i0, mi, j0, nj int)) {
	if !native || (m <= attnTileM && n <= attnTileN) {
		f(0, m, 0, n)
		return
	}
	for i0 := 0; i0 < m; i0 += attnTileM {
		for j0 := 0; j0 < n; j0 += attnTileN {
			f(i0, min(attnTileM, m-i0), j0, min(attnTileN, n-j0))
		}
	}
}

// attnAOff is the offset of row i0 of op(A) in A's storage; attnBOff that of column j0 of op(B).
func attnAOff(tA bool, i0, lda int) int {
	if tA {
		return i0
	}
	return i0 * lda
}

func attnBOff(tB bool, j0, ldb int) int {
	if tB {
		return j0 * ldb
	}
	return j0
}

// attnParallel runs fn(worker, task) for task = 0..n-1 on min(GOMAXPROCS, n) goroutines, the caller's
// included, that pull tasks from a shared counter; worker (0..goroutines-1) indexes per-goroutine scratch.
// Results must not depend on which worker ran a task (the kernels write per-task slots), so the output is
// the same for any core count and schedule.
func attnParallel(n int, fn func(worker, task int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for t := 0; t < n; t++ {
			fn(0, t)
		}
		return
	}
	var next atomic.Int64
	work := func(w int) {
		for {
			t := int(next.Add(1) - 1)
			if t >= n {
				return
			}
			fn(w, t)
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() { work(w) })
	}
	work(0)
	wg.Wait()
}
