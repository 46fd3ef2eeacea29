package ops

import (
	"fmt"
	"math"
	"runtime"
)

// The fused cross-attention kernels behind the CrossAttention op: Lq queries attend to Lk keys of
// another sequence (the image tokens to the caption tokens in the cross-injection Next-DiT). Per head:
// QK RMSNorm → scaled dot products → softmax over the unmasked keys → ·V, forward and backward, in
// plain Go slices. No RoPE: the two sequences share no position grid (docs/DESIGN.md §2).
//
// The layout and the work split follow attnkernel.go: one task per (batch, kv head), which normalises
// that kv head's keys once and serves the H/KV query heads that read them, so no two tasks write the
// same memory; per head the vectors are kept head-dim-major ([hd, L]) so the products' inner loops run
// over the sequence.

// xattnShape describes one cross-attention call. Heads must be a multiple of KVHeads.
type xattnShape struct {
	B, Lq, Lk, Heads, KVHeads, HeadDim int
	Eps                                float64 // QK RMSNorm epsilon
}

func (s xattnShape) validate() error {
	switch {
	case s.B <= 0 || s.Lq <= 0 || s.Lk <= 0 || s.Heads <= 0 || s.KVHeads <= 0 || s.HeadDim <= 0:
		return fmt.Errorf("cross-attention: sizes must be positive, got B=%d Lq=%d Lk=%d heads=%d kv_heads=%d head_dim=%d",
			s.B, s.Lq, s.Lk, s.Heads, s.KVHeads, s.HeadDim)
	case s.Heads%s.KVHeads != 0:
		return fmt.Errorf("cross-attention: heads %d is not a multiple of kv_heads %d", s.Heads, s.KVHeads)
	case !(s.Eps >= 0) || math.IsInf(s.Eps, 1):
		return fmt.Errorf("cross-attention: eps %v must be finite and non-negative", s.Eps)
	}
	return nil
}

// xattnCache keeps what the backward needs from the forward, and the scratch of both passes. The zero
// value is ready to use; one cache belongs to one op instance and is not safe for concurrent calls.
type xattnCache[T float32 | float64] struct {
	shape  xattnShape
	filled bool // a forward with shape has run since the last resize

	qh  []T // [B, H, Lq, hd]  q·rsqrt(mean(q²)+eps), before the weight (what the norm backward needs)
	qnT []T // [B, H, hd, Lq]  the normalised, weighted q that enters the scores
	kh  []T // [B, KV, Lk, hd] the same for k
	knT []T // [B, KV, hd, Lk]
	vT  []T // [B, KV, hd, Lk]
	rq  []T // [B, H, Lq]      rsqrt(mean(q²)+eps)
	rk  []T // [B, KV, Lk]
	p   []T // [B, H, Lq, Lk]  softmax probabilities (exact zeros where masked)

	dw   []T // [B·KV, 2, hd] per-task partial dqw | dkw, summed in task order for run-to-run determinism
	work []xattnWork[T]
}

// xattnWork is one worker goroutine's scratch; the backward's buffers are allocated by the first
// backward only.
type xattnWork[T float32 | float64] struct {
	vec      []T   // [hd]
	masked   []int // key positions of the current sample that keyMask hides
	dOT      []T   // [H/KV, hd, Lq] the group's output gradients
	dp       []T   // [Lq, Lk] dP, then dS in place
	dqT      []T   // [H/KV, hd, Lq] gradients of the group's normalised query heads
	dkT, dvT []T   // [hd, Lk] gradients of the task's kv head, accumulated over its query heads
	backward bool
}

func (c *xattnCache[T]) resize(s xattnShape) {
	if c.shape == s && c.qh != nil {
		return
	}
	B, Lq, Lk, H, KV, hd := s.B, s.Lq, s.Lk, s.Heads, s.KVHeads, s.HeadDim
	c.shape, c.filled = s, false
	c.qh = attnGrow(c.qh, B*H*Lq*hd)
	c.qnT = attnGrow(c.qnT, B*H*Lq*hd)
	c.kh = attnGrow(c.kh, B*KV*Lk*hd)
	c.knT = attnGrow(c.knT, B*KV*Lk*hd)
	c.vT = attnGrow(c.vT, B*KV*Lk*hd)
	c.rq = attnGrow(c.rq, B*H*Lq)
	c.rk = attnGrow(c.rk, B*KV*Lk)
	c.p = attnGrow(c.p, B*H*Lq*Lk)
	c.dw = attnGrow(c.dw, B*KV*2*hd)
	for i := range c.work {
		c.work[i].size(s, c.work[i].backward)
	}
}

// workers makes sure there is scratch for every goroutine attnParallel starts on tasks tasks.
func (c *xattnCache[T]) workers(tasks int, backward bool) {
	n := min(runtime.GOMAXPROCS(0), tasks)
	for len(c.work) < n {
		c.work = append(c.work, xattnWork[T]{})
	}
	for i := range c.work[:n] {
		if (backward && !c.work[i].backward) || c.work[i].vec == nil {
			c.work[i].size(c.shape, backward || c.work[i].backward)
		}
	}
}

func (w *xattnWork[T]) size(s xattnShape, backward bool) {
	rep, hd := s.Heads/s.KVHeads, s.HeadDim
	w.vec = attnGrow(w.vec, hd)
	w.masked = attnGrow(w.masked, s.Lk)
	w.backward = backward
	if backward {
		w.dOT = attnGrow(w.dOT, rep*hd*s.Lq)
		w.dqT = attnGrow(w.dqT, rep*hd*s.Lq)
		w.dp = attnGrow(w.dp, s.Lq*s.Lk)
		w.dkT = attnGrow(w.dkT, hd*s.Lk)
		w.dvT = attnGrow(w.dvT, hd*s.Lk)
	}
}

// xattnCheckInputs validates the buffers every pass reads.
func xattnCheckInputs[T float32 | float64](op string, s xattnShape, q, kv, qw, kw, keyMask []T) error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	B, H, KV, hd := s.B, s.Heads, s.KVHeads, s.HeadDim
	checks := []struct {
		name      string
		got, want int
		shape     string
	}{
		{"q", len(q), B * s.Lq * H * hd, "[B, Lq, H·hd]"},
		{"kv", len(kv), B * s.Lk * 2 * KV * hd, "[B, Lk, 2·KV·hd]"},
		{"q norm weight", len(qw), hd, "[hd]"},
		{"k norm weight", len(kw), hd, "[hd]"},
	}
	if keyMask != nil {
		checks = append(checks, struct {
			name      string
			got, want int
			shape     string
		}{"key mask", len(keyMask), B * s.Lk, "[B, Lk]"})
	}
	for _, c := range checks {
		if err := attnCheckLen(op, c.name, c.got, c.want, c.shape); err != nil {
			return err
		}
	}
	return nil
}

// xattnForward computes out [B, Lq, H·hd] (head h in columns h·hd..(h+1)·hd) from q [B, Lq, H·hd],
// kv [B, Lk, 2·KV·hd] (the KV key heads, then the KV value heads), the QK RMSNorm weights qw, kw [hd]
// and keyMask [B, Lk] (nonzero = attend; nil = attend everywhere), and fills cache for xattnBackward.
// A query whose keys are all masked gets a zero output. cache may be nil when no backward follows.
func xattnForward[T float32 | float64](s xattnShape, q, kv, qw, kw, keyMask, out []T, cache *xattnCache[T]) error {
	const op = "cross-attention forward"
	if err := xattnCheckInputs(op, s, q, kv, qw, kw, keyMask); err != nil {
		return err
	}
	B, Lq, Lk, H, KV, hd := s.B, s.Lq, s.Lk, s.Heads, s.KVHeads, s.HeadDim
	if err := attnCheckLen(op, "output", len(out), B*Lq*H*hd, "[B, Lq, H·hd]"); err != nil {
		return err
	}
	if cache == nil {
		cache = new(xattnCache[T])
	}
	c := cache
	c.resize(s)
	c.filled = false
	rep, dq, dkv := H/KV, H*hd, 2*KV*hd
	scale := T(1 / math.Sqrt(float64(hd)))
	c.workers(B*KV, false)
	attnParallel(B*KV, func(worker, task int) {
		b, g := task/KV, task%KV
		w := &c.work[worker]
		vec := w.vec
		masked := w.masked[:0]
		if keyMask != nil {
			for j, m := range keyMask[b*Lk : (b+1)*Lk] {
				if m == 0 {
					masked = append(masked, j)
				}
			}
		}
		w.masked = masked
		kbase := (b*KV + g) * Lk
		knT := c.knT[kbase*hd : (kbase+Lk)*hd] // [hd, Lk]
		vT := c.vT[kbase*hd : (kbase+Lk)*hd]   // [hd, Lk]
		for l := 0; l < Lk; l++ {
			row := kv[(b*Lk+l)*dkv : (b*Lk+l+1)*dkv] // [2·KV·hd]
			i := (kbase + l) * hd
			c.rk[kbase+l] = attnNorm(row[g*hd:(g+1)*hd], kw, s.Eps, c.kh[i:i+hd], vec)
			for d, x := range vec {
				knT[d*Lk+l] = x
			}
			for d, x := range row[(KV+g)*hd : (KV+g+1)*hd] {
				vT[d*Lk+l] = x
			}
		}
		for h := g * rep; h < (g+1)*rep; h++ {
			qbase := (b*H + h) * Lq
			qnT := c.qnT[qbase*hd : (qbase+Lq)*hd] // [hd, Lq]
			for l := 0; l < Lq; l++ {
				row := q[(b*Lq+l)*dq+h*hd : (b*Lq+l)*dq+(h+1)*hd] // [hd]
				i := (qbase + l) * hd
				c.rq[qbase+l] = attnNorm(row, qw, s.Eps, c.qh[i:i+hd], vec)
				for d, x := range vec {
					qnT[d*Lq+l] = x
				}
			}
			p := c.p[qbase*Lk : (qbase+Lq)*Lk]                                   // [Lq, Lk]
			attnGemm(true, false, Lq, Lk, hd, scale, qnT, Lq, knT, Lk, 0, p, Lk) // S = Q·Kᵀ/sqrt(hd)
			for i := 0; i < Lq; i++ {
				attnSoftmaxRow(p[i*Lk:(i+1)*Lk], masked, Lk)
			}
			attnGemm(false, true, Lq, hd, Lk, 1, p, Lk, vT, Lk, 0, out[b*Lq*dq+h*hd:], dq) // O = P·V
		}
	})
	c.filled = true
	return nil
}

// xattnBackward computes the gradients with respect to q, kv, qw and kw from gradOut [B, Lq, H·hd] and
// the cache of the forward. dq, dkv, dqw, dkw are overwritten, not accumulated into. q and kv are
// checked but not read: the cache holds everything derived from them.
func xattnBackward[T float32 | float64](s xattnShape, gradOut, q, kv, qw, kw, keyMask []T, cache *xattnCache[T], dq, dkv, dqw, dkw []T) error {
	const op = "cross-attention backward"
	if err := xattnCheckInputs(op, s, q, kv, qw, kw, keyMask); err != nil {
		return err
	}
	B, Lq, Lk, H, KV, hd := s.B, s.Lq, s.Lk, s.Heads, s.KVHeads, s.HeadDim
	for _, c := range []struct {
		name      string
		got, want int
	}{{"output gradient", len(gradOut), len(q)}, {"q gradient", len(dq), len(q)}, {"kv gradient", len(dkv), len(kv)},
		{"q norm weight gradient", len(dqw), hd}, {"k norm weight gradient", len(dkw), hd}} {
		if err := attnCheckLen(op, c.name, c.got, c.want, "as its input"); err != nil {
			return err
		}
	}
	c := cache
	if c == nil || !c.filled || c.shape != s {
		return fmt.Errorf("%s: no cached forward with this shape (B=%d Lq=%d Lk=%d heads=%d kv_heads=%d head_dim=%d)",
			op, B, Lq, Lk, H, KV, hd)
	}
	tasks := B * KV
	c.workers(tasks, true)
	rep, ldq, ldkv := H/KV, H*hd, 2*KV*hd
	scale := T(1 / math.Sqrt(float64(hd)))
	attnParallel(tasks, func(worker, task int) {
		b, g := task/KV, task%KV
		w := &c.work[worker]
		vec, dOT, dqT, dp, dkT, dvT := w.vec, w.dOT, w.dqT, w.dp, w.dkT, w.dvT
		clear(dkT)
		clear(dvT)
		dwq := c.dw[task*2*hd : task*2*hd+hd]
		dwk := c.dw[task*2*hd+hd : (task+1)*2*hd]
		clear(dwq)
		clear(dwk)
		kbase := (b*KV + g) * Lk
		knT := c.knT[kbase*hd : (kbase+Lk)*hd] // [hd, Lk]
		vT := c.vT[kbase*hd : (kbase+Lk)*hd]   // [hd, Lk]
		for l := 0; l < Lq; l++ {
			gl := gradOut[(b*Lq+l)*ldq+g*rep*hd : (b*Lq+l)*ldq+(g+1)*rep*hd] // [rep·hd]
			for r := 0; r < rep; r++ {
				for d, x := range gl[r*hd : (r+1)*hd] {
					dOT[(r*hd+d)*Lq+l] = x
				}
			}
		}
		for r := 0; r < rep; r++ {
			qbase := (b*H + g*rep + r) * Lq
			p := c.p[qbase*Lk : (qbase+Lq)*Lk]     // [Lq, Lk]
			qnT := c.qnT[qbase*hd : (qbase+Lq)*hd] // [hd, Lq]
			dOr := dOT[r*hd*Lq : (r+1)*hd*Lq]      // [hd, Lq]
			dqr := dqT[r*hd*Lq : (r+1)*hd*Lq]      // [hd, Lq]

			attnGemm(false, false, hd, Lk, Lq, 1, dOr, Lq, p, Lk, 1, dvT, Lk) // dVᵀ += dOᵀ·P
			attnGemm(true, false, Lq, Lk, hd, 1, dOr, Lq, vT, Lk, 0, dp, Lk)  // dP = dO·Vᵀ
			// Softmax backward with the score scale folded in: dS = P⊙(dP − Σⱼ P⊙dP)·scale. Masked keys
			// have P = 0 and get no gradient; a query with no key has an all-zero row.
			for i := 0; i < Lq; i++ {
				pr, dr := p[i*Lk:(i+1)*Lk], dp[i*Lk:(i+1)*Lk]
				dot := attnDot(pr, dr)
				for j, pv := range pr {
					dr[j] = pv * (dr[j] - dot) * scale
				}
			}
			attnGemm(false, true, hd, Lq, Lk, 1, knT, Lk, dp, Lk, 0, dqr, Lq)  // dQᵀ = Kᵀ·dSᵀ
			attnGemm(false, false, hd, Lk, Lq, 1, qnT, Lq, dp, Lk, 1, dkT, Lk) // dKᵀ += Qᵀ·dS
		}
		for r := 0; r < rep; r++ {
			h := g*rep + r
			qbase := (b*H + h) * Lq
			for l := 0; l < Lq; l++ {
				for d := range vec {
					vec[d] = dqT[(r*hd+d)*Lq+l]
				}
				i := (qbase + l) * hd
				o := (b*Lq+l)*ldq + h*hd
				attnNormBack(vec, c.qh[i:i+hd], c.rq[qbase+l], qw, dwq, dq[o:o+hd])
			}
		}
		for l := 0; l < Lk; l++ {
			for d := range vec {
				vec[d] = dkT[d*Lk+l]
			}
			i := (kbase + l) * hd
			row := dkv[(b*Lk+l)*ldkv : (b*Lk+l+1)*ldkv]
			attnNormBack(vec, c.kh[i:i+hd], c.rk[kbase+l], kw, dwk, row[g*hd:(g+1)*hd])
			for d := range hd {
				row[(KV+g)*hd+d] = dvT[d*Lk+l]
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
