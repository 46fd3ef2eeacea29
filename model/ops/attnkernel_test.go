package ops

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// refAttention is an independent float64 reference for the fused kernel, written per element from the
// attention's definition: split qkv, RMSNorm each head over hd, rotate pairs, repeat kv heads, masked
// softmax of scaled dot products, weighted sum of values. It shares no code with attnkernel.go.
func refAttention(B, L, H, KV, hd int, eps float64, causal bool, qkv, qw, kw, cos, sin, mask []float64) []float64 {
	width := (H + 2*KV) * hd
	// head returns token l's head vector from column offset off, RMS-normalised with w and rotated.
	head := func(b, l, off int, w []float64) []float64 {
		x := make([]float64, hd)
		ms := 0.0
		for d := 0; d < hd; d++ {
			x[d] = qkv[(b*L+l)*width+off+d]
			ms += x[d] * x[d] / float64(hd)
		}
		y := make([]float64, hd)
		for d := 0; d < hd; d++ {
			y[d] = x[d] / math.Sqrt(ms+eps) * w[d]
		}
		out := make([]float64, hd)
		for i := 0; i < hd/2; i++ {
			c, s := cos[(b*L+l)*hd/2+i], sin[(b*L+l)*hd/2+i]
			out[2*i] = y[2*i]*c - y[2*i+1]*s
			out[2*i+1] = y[2*i]*s + y[2*i+1]*c
		}
		return out
	}
	out := make([]float64, B*L*H*hd)
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			g := h / (H / KV)
			for i := 0; i < L; i++ {
				q := head(b, i, h*hd, qw)
				scores := make([]float64, L)
				allowed := make([]bool, L)
				mx := math.Inf(-1)
				for j := 0; j < L; j++ {
					allowed[j] = mask[b*L+j] != 0 && (!causal || j <= i)
					if !allowed[j] {
						continue
					}
					k := head(b, j, H*hd+g*hd, kw)
					for d := 0; d < hd; d++ {
						scores[j] += q[d] * k[d]
					}
					scores[j] /= math.Sqrt(float64(hd))
					mx = math.Max(mx, scores[j])
				}
				z := 0.0
				for j := 0; j < L; j++ {
					if allowed[j] {
						z += math.Exp(scores[j] - mx)
					}
				}
				for j := 0; j < L; j++ {
					if !allowed[j] {
						continue
					}
					p := math.Exp(scores[j]-mx) / z
					for d := 0; d < hd; d++ {
						out[(b*L+i)*H*hd+h*hd+d] += p * qkv[(b*L+j)*width+(H+KV)*hd+g*hd+d]
					}
				}
			}
		}
	}
	return out
}

// attnCase is one randomised attention problem with an image-like sequence per sample:
// [valid caption | h×w image grid | padding], positions (i,0,0) / (capLen, r, c) / (-1,-1,-1).
type attnCase struct {
	s                   attnShape
	qkv, qw, kw, mask   []float64
	cos, sin            []float64
	capLens             []int
	gridH, gridW, capMx int
}

func newAttnCase(seed uint64, capLens []int, gridH, gridW, H, KV int, axes [3]int, causal bool) attnCase {
	rng := rand.New(rand.NewPCG(seed, 99))
	capMx := 0
	for _, c := range capLens {
		capMx = max(capMx, c)
	}
	B, L, hd := len(capLens), capMx+gridH*gridW, axes[0]+axes[1]+axes[2]
	pos := make([][][3]int, B)
	mask := make([]float64, B*L)
	for b, cl := range capLens {
		pos[b] = make([][3]int, L)
		for l := range pos[b] {
			switch {
			case l < cl:
				pos[b][l] = [3]int{l, 0, 0}
			case l < cl+gridH*gridW:
				pos[b][l] = [3]int{cl, (l - cl) / gridW, (l - cl) % gridW}
			default:
				pos[b][l] = [3]int{-1, -1, -1}
			}
			if l < cl+gridH*gridW {
				mask[b*L+l] = 1
			}
		}
	}
	cos, sin := RopeTables(pos, axes, 10000)
	qkv := make([]float64, B*L*(H+2*KV)*hd)
	for i := range qkv {
		qkv[i] = rng.NormFloat64() * 1.5
	}
	qw, kw := make([]float64, hd), make([]float64, hd)
	for d := range qw {
		qw[d] = 1 + 0.3*rng.NormFloat64()
		kw[d] = 1 + 0.3*rng.NormFloat64()
	}
	return attnCase{
		s:   attnShape{B: B, L: L, Heads: H, KVHeads: KV, HeadDim: hd, Eps: 1e-5, Causal: causal},
		qkv: qkv, qw: qw, kw: kw, mask: mask, cos: cos, sin: sin,
		capLens: capLens, gridH: gridH, gridW: gridW, capMx: capMx,
	}
}

func toF32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

// maxRelDiff is max|a−b| / max(max|b|, floor).
func maxRelDiff[T, U float32 | float64](a []T, b []U, floor float64) float64 {
	num, den := 0.0, floor
	for i := range a {
		num = math.Max(num, math.Abs(float64(a[i])-float64(b[i])))
		den = math.Max(den, math.Abs(float64(b[i])))
	}
	return num / den
}

func TestAttentionForwardMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		name    string
		capLens []int
		gh, gw  int
		axes    [3]int
		causal  bool
	}{
		// Three samples with different valid caption lengths, so different amounts of padding.
		{"gqa-padded", []int{3, 1, 2}, 2, 3, [3]int{2, 2, 4}, false},
		{"gqa-padded-causal", []int{3, 1, 2}, 2, 3, [3]int{2, 2, 4}, true},
		// L = 73 > 64 makes the pure-Go BLAS path cut the products into tiles; hd = 32 as in the model.
		{"long-tiled", []int{13, 5}, 6, 10, [3]int{8, 12, 12}, false},
		{"long-tiled-causal", []int{13, 5}, 6, 10, [3]int{8, 12, 12}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newAttnCase(1, tc.capLens, tc.gh, tc.gw, 4, 2, tc.axes, tc.causal)
			s := c.s
			want := refAttention(s.B, s.L, s.Heads, s.KVHeads, s.HeadDim, s.Eps, s.Causal, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask)

			got := make([]float64, len(want))
			var cache attnCache[float64]
			if err := attnForward(s, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, got, &cache); err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(got, want, 1); d > 1e-12 {
				t.Errorf("float64 forward differs from reference by %.3g (relative)", d)
			}

			got32 := make([]float32, len(want))
			var cache32 attnCache[float32]
			err := attnForward(s, toF32(c.qkv), toF32(c.qw), toF32(c.kw), toF32(c.cos), toF32(c.sin), toF32(c.mask), got32, &cache32)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(got32, want, 1); d > 1e-5 {
				t.Errorf("float32 forward differs from float64 reference by %.3g (relative)", d)
			}
		})
	}
}

// The reference must itself be sensitive to the things under test, or agreement proves nothing.
func TestAttentionReferenceIsSensitive(t *testing.T) {
	c := newAttnCase(2, []int{3, 1}, 2, 2, 4, 2, [3]int{2, 2, 4}, false)
	s := c.s
	base := refAttention(s.B, s.L, s.Heads, s.KVHeads, s.HeadDim, s.Eps, false, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask)
	causal := refAttention(s.B, s.L, s.Heads, s.KVHeads, s.HeadDim, s.Eps, true, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask)
	ones := make([]float64, len(c.mask))
	for i := range ones {
		ones[i] = 1
	}
	unmasked := refAttention(s.B, s.L, s.Heads, s.KVHeads, s.HeadDim, s.Eps, false, c.qkv, c.qw, c.kw, c.cos, c.sin, ones)
	noRope := make([]float64, len(c.cos))
	for i := range noRope {
		noRope[i] = 1
	}
	unrotated := refAttention(s.B, s.L, s.Heads, s.KVHeads, s.HeadDim, s.Eps, false, c.qkv, c.qw, c.kw, noRope, make([]float64, len(c.sin)), c.mask)
	for name, other := range map[string][]float64{"causal": causal, "mask": unmasked, "rope": unrotated} {
		if d := maxRelDiff(other, base, 1); d < 1e-3 {
			t.Errorf("toggling %s changes the reference output by only %.3g", name, d)
		}
	}
}

// lossAndGrads runs forward and backward for loss = Σ out⊙G.
func lossAndGrads(t *testing.T, c attnCase, G []float64) (loss float64, dqkv, dqw, dkw []float64) {
	t.Helper()
	s := c.s
	out := make([]float64, len(G))
	var cache attnCache[float64]
	if err := attnForward(s, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, out, &cache); err != nil {
		t.Fatal(err)
	}
	for i := range out {
		loss += out[i] * G[i]
	}
	dqkv, dqw, dkw = make([]float64, len(c.qkv)), make([]float64, s.HeadDim), make([]float64, s.HeadDim)
	if err := attnBackward(s, G, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, &cache, dqkv, dqw, dkw); err != nil {
		t.Fatal(err)
	}
	return loss, dqkv, dqw, dkw
}

func attnLoss(t *testing.T, c attnCase, G []float64) float64 {
	t.Helper()
	out := make([]float64, len(G))
	if err := attnForward(c.s, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, out, nil); err != nil {
		t.Fatal(err)
	}
	loss := 0.0
	for i := range out {
		loss += out[i] * G[i]
	}
	return loss
}

// checkFD compares analytic gradients of x with central finite differences at the given indices.
func checkFD(t *testing.T, name string, c attnCase, G []float64, x, grad []float64, idx []int) {
	t.Helper()
	const h = 1e-5
	worst, scale := 0.0, 1e-3
	for _, i := range idx {
		orig := x[i]
		x[i] = orig + h
		lp := attnLoss(t, c, G)
		x[i] = orig - h
		lm := attnLoss(t, c, G)
		x[i] = orig
		fd := (lp - lm) / (2 * h)
		worst = math.Max(worst, math.Abs(fd-grad[i]))
		scale = math.Max(scale, math.Abs(fd))
	}
	if rel := worst / scale; rel > 1e-6 {
		t.Errorf("%s: analytic gradient differs from finite differences by %.3g (relative to max %.3g)", name, rel, scale)
	}
}

func allIdx(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func TestAttentionBackwardFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		name    string
		capLens []int
		gh, gw  int
		axes    [3]int
		causal  bool
		sample  int // check this many random qkv coordinates; 0 = all
	}{
		{"gqa-padded", []int{3, 1, 2}, 2, 2, [3]int{2, 2, 4}, false, 0},
		{"gqa-padded-causal", []int{3, 1, 2}, 2, 2, [3]int{2, 2, 4}, true, 0},
		{"long-tiled", []int{9, 4}, 7, 9, [3]int{8, 12, 12}, false, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newAttnCase(3, tc.capLens, tc.gh, tc.gw, 4, 2, tc.axes, tc.causal)
			rng := rand.New(rand.NewPCG(4, 5))
			G := make([]float64, c.s.B*c.s.L*c.s.Heads*c.s.HeadDim)
			for i := range G {
				G[i] = rng.NormFloat64()
			}
			_, dqkv, dqw, dkw := lossAndGrads(t, c, G)
			idx := allIdx(len(c.qkv))
			if tc.sample > 0 {
				idx = idx[:0]
				for range tc.sample {
					idx = append(idx, rng.IntN(len(c.qkv)))
				}
			}
			checkFD(t, "dqkv", c, G, c.qkv, dqkv, idx)
			checkFD(t, "dqw", c, G, c.qw, dqw, allIdx(len(c.qw)))
			checkFD(t, "dkw", c, G, c.kw, dkw, allIdx(len(c.kw)))
		})
	}
}

// A query with no visible key must give 0 (not NaN) and pass back finite, here exactly zero, gradients.
func TestAttentionFullyMaskedRow(t *testing.T) {
	c := newAttnCase(6, []int{2, 3}, 2, 2, 4, 2, [3]int{2, 2, 4}, false)
	s := c.s
	L := s.L
	for l := 0; l < L; l++ {
		c.mask[1*L+l] = 0 // sample 1: every key masked
	}
	c.mask[0] = 0 // sample 0, causal: query 0 sees only key 0, which is masked
	for _, causal := range []bool{false, true} {
		c.s.Causal = causal
		rng := rand.New(rand.NewPCG(7, 8))
		G := make([]float64, s.B*L*s.Heads*s.HeadDim)
		for i := range G {
			G[i] = rng.NormFloat64()
		}
		out := make([]float64, len(G))
		if err := attnForward(c.s, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, out, nil); err != nil {
			t.Fatal(err)
		}
		want := refAttention(s.B, L, s.Heads, s.KVHeads, s.HeadDim, s.Eps, causal, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask)
		if d := maxRelDiff(out, want, 1); d > 1e-12 {
			t.Errorf("causal=%v: forward differs from reference by %.3g", causal, d)
		}
		row := s.Heads * s.HeadDim
		for i := L * row; i < 2*L*row; i++ {
			if out[i] != 0 {
				t.Fatalf("causal=%v: fully masked sample 1 has output %v at %d, want 0", causal, out[i], i)
			}
		}
		if causal {
			for i := 0; i < row; i++ {
				if out[i] != 0 {
					t.Fatalf("causal: query 0 of sample 0 sees no key but has output %v", out[i])
				}
			}
		}
		_, dqkv, dqw, dkw := lossAndGrads(t, c, G)
		for _, g := range [][]float64{dqkv, dqw, dkw} {
			for i, v := range g {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("causal=%v: non-finite gradient %v at %d", causal, v, i)
				}
			}
		}
		width := (s.Heads + 2*s.KVHeads) * s.HeadDim
		for i := L * width; i < 2*L*width; i++ {
			if dqkv[i] != 0 {
				t.Fatalf("causal=%v: fully masked sample 1 has qkv gradient %v at %d, want 0", causal, dqkv[i], i)
			}
		}
		checkFD(t, "dqkv", c, G, c.qkv, dqkv, allIdx(len(c.qkv)))
		checkFD(t, "dqw", c, G, c.qw, dqw, allIdx(len(c.qw)))
	}
}

func TestAttentionFloat32MatchesFloat64Gradients(t *testing.T) {
	c := newAttnCase(9, []int{13, 5}, 6, 10, 4, 2, [3]int{8, 12, 12}, false)
	s := c.s
	rng := rand.New(rand.NewPCG(10, 11))
	G := make([]float64, s.B*s.L*s.Heads*s.HeadDim)
	for i := range G {
		G[i] = rng.NormFloat64()
	}
	_, dqkv, dqw, dkw := lossAndGrads(t, c, G)

	out32 := make([]float32, len(G))
	var cache attnCache[float32]
	qkv32, qw32, kw32, cos32, sin32, mask32 := toF32(c.qkv), toF32(c.qw), toF32(c.kw), toF32(c.cos), toF32(c.sin), toF32(c.mask)
	if err := attnForward(s, qkv32, qw32, kw32, cos32, sin32, mask32, out32, &cache); err != nil {
		t.Fatal(err)
	}
	dqkv32, dqw32, dkw32 := make([]float32, len(dqkv)), make([]float32, s.HeadDim), make([]float32, s.HeadDim)
	if err := attnBackward(s, toF32(G), qkv32, qw32, kw32, cos32, sin32, mask32, &cache, dqkv32, dqw32, dkw32); err != nil {
		t.Fatal(err)
	}
	if d := maxRelDiff(dqkv32, dqkv, 1e-3); d > 1e-5 {
		t.Errorf("float32 dqkv differs from float64 by %.3g (relative)", d)
	}
	if d := maxRelDiff(dqw32, dqw, 1e-3); d > 1e-5 {
		t.Errorf("float32 dqw differs from float64 by %.3g (relative)", d)
	}
	if d := maxRelDiff(dkw32, dkw, 1e-3); d > 1e-5 {
		t.Errorf("float32 dkw differs from float64 by %.3g (relative)", d)
	}
}

// Same inputs → bit-identical outputs and gradients, whatever order the goroutines took the tasks in;
// and a reused cache gives what a fresh one gives.
func TestAttentionDeterministic(t *testing.T) {
	c := newAttnCase(12, []int{7, 2, 5, 1}, 4, 5, 4, 2, [3]int{8, 12, 12}, false)
	s := c.s
	qkv, qw, kw, cos, sin, mask := toF32(c.qkv), toF32(c.qw), toF32(c.kw), toF32(c.cos), toF32(c.sin), toF32(c.mask)
	G := make([]float32, s.B*s.L*s.Heads*s.HeadDim)
	for i := range G {
		G[i] = float32(math.Sin(float64(i)))
	}
	var cache attnCache[float32]
	run := func() (out, dqkv, dqw, dkw []float32) {
		out = make([]float32, len(G))
		dqkv, dqw, dkw = make([]float32, len(qkv)), make([]float32, s.HeadDim), make([]float32, s.HeadDim)
		if err := attnForward(s, qkv, qw, kw, cos, sin, mask, out, &cache); err != nil {
			t.Fatal(err)
		}
		if err := attnBackward(s, G, qkv, qw, kw, cos, sin, mask, &cache, dqkv, dqw, dkw); err != nil {
			t.Fatal(err)
		}
		return
	}
	a := make([][]float32, 4)
	a[0], a[1], a[2], a[3] = run()
	for rep := 0; rep < 3; rep++ {
		b0, b1, b2, b3 := run()
		for k, b := range [][]float32{b0, b1, b2, b3} {
			for i := range b {
				if math.Float32bits(b[i]) != math.Float32bits(a[k][i]) {
					t.Fatalf("run %d: result %d element %d differs: %v vs %v", rep, k, i, b[i], a[k][i])
				}
			}
		}
	}
}

func TestAttentionBadInput(t *testing.T) {
	c := newAttnCase(13, []int{2, 1}, 2, 2, 4, 2, [3]int{2, 2, 4}, false)
	s := c.s
	out := make([]float64, s.B*s.L*s.Heads*s.HeadDim)
	dqkv, dqw, dkw := make([]float64, len(c.qkv)), make([]float64, s.HeadDim), make([]float64, s.HeadDim)
	var fresh attnCache[float64]
	for _, tc := range []struct {
		name, want string
		err        func() error
	}{
		{"short qkv", "qkv has", func() error {
			return attnForward(s, c.qkv[1:], c.qw, c.kw, c.cos, c.sin, c.mask, out, nil)
		}},
		{"heads", "not a multiple", func() error {
			s2 := s
			s2.KVHeads = 3
			return attnForward(s2, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, out, nil)
		}},
		{"odd head dim", "even", func() error {
			s2 := s
			s2.HeadDim = 7
			return attnForward(s2, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, out, nil)
		}},
		{"cos", "rope cos", func() error {
			return attnForward(s, c.qkv, c.qw, c.kw, c.cos[:3], c.sin, c.mask, out, nil)
		}},
		{"mask", "key mask", func() error {
			return attnForward(s, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask[1:], out, nil)
		}},
		{"out", "output has", func() error {
			return attnForward(s, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, out[1:], nil)
		}},
		{"backward without forward", "no cached forward", func() error {
			return attnBackward(s, out, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, &fresh, dqkv, dqw, dkw)
		}},
		{"backward nil cache", "no cached forward", func() error {
			return attnBackward(s, out, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, nil, dqkv, dqw, dkw)
		}},
		{"backward dqw", "q norm weight gradient", func() error {
			return attnBackward(s, out, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, &fresh, dqkv, dqw[1:], dkw)
		}},
	} {
		err := tc.err()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	// A cache filled for another shape is refused too.
	var cache attnCache[float64]
	if err := attnForward(s, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, out, &cache); err != nil {
		t.Fatal(err)
	}
	s2 := s
	s2.Causal = true
	if err := attnBackward(s2, out, c.qkv, c.qw, c.kw, c.cos, c.sin, c.mask, &cache, dqkv, dqw, dkw); err == nil {
		t.Error("backward accepted a cache filled by a forward of another shape")
	}
}

// Once the cache is sized, a forward+backward allocates only the goroutine bookkeeping, not buffers.
func TestAttentionSteadyStateAllocations(t *testing.T) {
	c := newAttnCase(14, []int{5, 3}, 4, 4, 4, 2, [3]int{8, 12, 12}, false)
	s := c.s
	qkv, qw, kw, cos, sin, mask := toF32(c.qkv), toF32(c.qw), toF32(c.kw), toF32(c.cos), toF32(c.sin), toF32(c.mask)
	out := make([]float32, s.B*s.L*s.Heads*s.HeadDim)
	dqkv, dqw, dkw := make([]float32, len(qkv)), make([]float32, s.HeadDim), make([]float32, s.HeadDim)
	var cache attnCache[float32]
	step := func() {
		if err := attnForward(s, qkv, qw, kw, cos, sin, mask, out, &cache); err != nil {
			t.Fatal(err)
		}
		if err := attnBackward(s, out, qkv, qw, kw, cos, sin, mask, &cache, dqkv, dqw, dkw); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if n := testing.AllocsPerRun(5, step); n > 40 {
		t.Errorf("steady-state forward+backward makes %v allocations, want only goroutine bookkeeping (≤ 40)", n)
	}
}

// attnGemm cuts large products into tiles for gonum's pure-Go BLAS; every transpose combination must
// still give the plain triple loop's result, with strides wider than the operands and beta ≠ 0.
func TestAttnGemmTiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const m, n, k, pad = 70, 203, 5, 3 // m > 64 rows and n > 192 columns: several tiles each way
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			ar, ac := m, k // A's stored shape
			if tA {
				ar, ac = k, m
			}
			br, bc := k, n
			if tB {
				br, bc = n, k
			}
			lda, ldb, ldc := ac+pad, bc+pad, n+pad
			a, b, c := make([]float64, ar*lda), make([]float64, br*ldb), make([]float64, m*ldc)
			for _, x := range [][]float64{a, b, c} {
				for i := range x {
					x[i] = rng.NormFloat64()
				}
			}
			want := append([]float64(nil), c...)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					sum := 0.0
					for l := 0; l < k; l++ {
						var av, bv float64
						if tA {
							av = a[l*lda+i]
						} else {
							av = a[i*lda+l]
						}
						if tB {
							bv = b[j*ldb+l]
						} else {
							bv = b[l*ldb+j]
						}
						sum += av * bv
					}
					want[i*ldc+j] = 0.5*sum + 2*want[i*ldc+j]
				}
			}
			attnGemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 2, c, ldc)
			if d := maxRelDiff(c, want, 1); d > 1e-13 {
				t.Errorf("tA=%v tB=%v: differs from the triple loop by %.3g", tA, tB, d)
			}
		}
	}
}

func TestAttnExpSub32(t *testing.T) {
	for _, m := range []float32{0, 2.5, -40} {
		var x []float32
		for v := -87.0; v <= 0; v += 0.000731 {
			x = append(x, float32(v)+m)
		}
		want := make([]float64, len(x))
		wantSum := 0.0
		for i, v := range x {
			want[i] = math.Exp(float64(v) - float64(m))
			wantSum += want[i]
		}
		gotSum := attnExpSub32(x, m)
		worst := 0.0
		for i, v := range x {
			worst = math.Max(worst, math.Abs(float64(v)-want[i])/want[i])
		}
		// (x+m)−m is rounded in float32 before the exponential, so allow the error that rounding of an
		// argument up to 87 in magnitude brings (|Δt| ≤ ulp(127)/2 ≈ 4e-6) on top of the polynomial's.
		if worst > 4e-6 || (m == 0 && worst > 3e-7) {
			t.Errorf("m=%v: exp relative error %.3g", m, worst)
		}
		if d := math.Abs(float64(gotSum)-wantSum) / wantSum; d > 1e-5 {
			t.Errorf("m=%v: sum %v, want %v", m, gotSum, wantSum)
		}
	}
	x := []float32{float32(math.Inf(-1)), 0, -100, float32(math.NaN()), 1}
	attnExpSub32(x, 0)
	if x[0] != 0 || x[1] != 1 || x[2] != 0 || !math.IsNaN(float64(x[3])) || math.Abs(float64(x[4])-math.E) > 1e-6 {
		t.Errorf("exp of (-Inf, 0, -100, NaN, 1) = %v, want (0, 1, 0, NaN, e)", x)
	}
}

func TestRopeTables(t *testing.T) {
	const theta = 10000.0
	axes := [3]int{4, 6, 2}
	pos := [][][3]int{
		{{0, 0, 0}, {1, 0, 0}, {3, 0, 0}, {3, 1, 2}, {-1, -1, -1}},
		{{0, 0, 0}, {2, 4, 1}, {157, 13, 9}}, // ragged: the last two positions are padding
	}
	cos, sin := RopeTables(pos, axes, theta)
	const L, half = 5, 6
	if len(cos) != 2*L*half || len(sin) != 2*L*half {
		t.Fatalf("table lengths %d, %d, want %d", len(cos), len(sin), 2*L*half)
	}
	for b := range pos {
		for l := 0; l < L; l++ {
			pad := l >= len(pos[b]) || pos[b][l] == [3]int{-1, -1, -1}
			i := 0 // pair index across the concatenated axes
			for a, d := range axes {
				for j := 0; j < d/2; j++ {
					c, s := 1.0, 0.0
					if !pad {
						// Multimodal RoPE: freq = 1/θ^(arange(0, d, 2)/d), angle = position · freq.
						angle := float64(pos[b][l][a]) / math.Pow(theta, float64(2*j)/float64(d))
						c, s = math.Cos(angle), math.Sin(angle)
					}
					k := (b*L+l)*half + i
					if math.Abs(cos[k]-c) > 1e-12 || math.Abs(sin[k]-s) > 1e-12 {
						t.Errorf("b=%d l=%d pair %d: got (%v, %v), want (%v, %v)", b, l, i, cos[k], sin[k], c, s)
					}
					i++
				}
			}
		}
	}
	// Hand-computed: with axes (2, 2, 2) every axis has the single frequency 1, so the angles are the
	// coordinates themselves.
	c, s := RopeTables([][][3]int{{{1, 2, 3}}}, [3]int{2, 2, 2}, theta)
	for i, a := range []float64{1, 2, 3} {
		if math.Abs(c[i]-math.Cos(a)) > 1e-15 || math.Abs(s[i]-math.Sin(a)) > 1e-15 {
			t.Errorf("axes (2,2,2) pair %d: got (%v, %v), want cos/sin(%v)", i, c[i], s[i], a)
		}
	}
	// Second frequency of a 4-wide axis is 1/θ^(2/4) = 1/100.
	c, _ = RopeTables([][][3]int{{{50, 0, 0}}}, [3]int{4, 0, 0}, theta)
	if math.Abs(c[1]-math.Cos(0.5)) > 1e-15 {
		t.Errorf("axis width 4, position 50, pair 1: cos %v, want cos(0.5) = %v", c[1], math.Cos(0.5))
	}
	if c, s := RopeTables(pos, [3]int{3, 6, 2}, theta); c != nil || s != nil {
		t.Error("odd axis width accepted")
	}
}

func TestRopeTablesScaled(t *testing.T) {
	const theta = 10000.0
	axes := [3]int{4, 6, 2}
	pos := [][][3]int{{{0, 0, 0}, {3, 1, 2}, {5, 3, 1}, {-1, -1, -1}}}
	// Scale 1 is RopeTables bit for bit (the reference's positions are untouched).
	c1, s1 := RopeTables(pos, axes, theta)
	c2, s2 := RopeTablesScaled(pos, axes, theta, [3]float64{1, 1, 1})
	for i := range c1 {
		if c1[i] != c2[i] || s1[i] != s2[i] {
			t.Fatalf("scale 1 differs from RopeTables at %d: (%v, %v) against (%v, %v)", i, c2[i], s2[i], c1[i], s1[i])
		}
	}
	// Scaling the row and column axes by 2 is the same as doubling those coordinates (padding stays
	// the identity), and the caption axis is left alone.
	doubled := [][][3]int{{{0, 0, 0}, {3, 2, 4}, {5, 6, 2}, {-1, -1, -1}}}
	cw, sw := RopeTables(doubled, axes, theta)
	cs, ss := RopeTablesScaled(pos, axes, theta, [3]float64{1, 2, 2})
	for i := range cw {
		if math.Abs(cw[i]-cs[i]) > 1e-12 || math.Abs(sw[i]-ss[i]) > 1e-12 {
			t.Errorf("pair %d: scaled (%v, %v), doubled positions (%v, %v)", i, cs[i], ss[i], cw[i], sw[i])
		}
	}
	// A fractional scale: axes (2, 2, 2) have frequency 1, so the angles are the scaled coordinates.
	c, s := RopeTablesScaled([][][3]int{{{1, 2, 3}}}, [3]int{2, 2, 2}, theta, [3]float64{1, 0.5, 0.25})
	for i, a := range []float64{1, 1, 0.75} {
		if math.Abs(c[i]-math.Cos(a)) > 1e-15 || math.Abs(s[i]-math.Sin(a)) > 1e-15 {
			t.Errorf("scaled pair %d: got (%v, %v), want cos/sin(%v)", i, c[i], s[i], a)
		}
	}
	for _, bad := range []float64{0, -1, math.Inf(1), math.NaN()} {
		if c, s := RopeTablesScaled(pos, axes, theta, [3]float64{1, bad, 1}); c != nil || s != nil {
			t.Errorf("scale %v accepted", bad)
		}
	}
}
