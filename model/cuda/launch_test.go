package cuda

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// Every kernel the executor launches is in the committed PTX with the parameter count the launch
// passes, and the PTX has no kernel nobody launches.
func TestKernelsMatchPTX(t *testing.T) {
	listed := map[string]bool{}
	for _, k := range Kernels {
		src, err := PTX(k.Module)
		if err != nil {
			t.Fatal(err)
		}
		n, ok := EntryParams(src)[k.Name]
		if !ok {
			t.Errorf("%s: no kernel %s in ptx/%s.ptx", k.Name, k.Name, k.Module)
		} else if n != k.Params {
			t.Errorf("%s: the PTX takes %d parameters, the launch passes %d", k.Name, n, k.Params)
		}
		listed[k.Module+"."+k.Name] = true
	}
	for _, m := range []string{"elementwise", "norm", "attention", "patch", "loss", "optim"} {
		src, err := PTX(m)
		if err != nil {
			t.Fatal(err)
		}
		for name := range EntryParams(src) {
			if !listed[m+"."+name] {
				t.Errorf("ptx/%s.ptx has kernel %s that Kernels does not list", m, name)
			}
		}
	}
}

// gridStride emulates GRID_STRIDE for every thread of l and counts the visits of each index.
func gridStride(l Launch, n int64) []uint8 {
	seen := make([]uint8, n)
	stride := int64(l.Block[0]) * int64(l.Grid[0])
	for b := int64(0); b < int64(l.Grid[0]); b++ {
		for th := int64(0); th < int64(l.Block[0]); th++ {
			for i := b*int64(l.Block[0]) + th; i < n; i += stride {
				seen[i]++
			}
		}
	}
	return seen
}

func TestElementwiseCoversEachElementOnce(t *testing.T) {
	for _, n := range []int64{1, 31, 255, 256, 257, 1000003, ElementwiseThreads*ElementwiseMaxBlocks + 5} {
		l, err := Elementwise(n)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if l.Grid[0] > ElementwiseMaxBlocks || l.Block[0] != ElementwiseThreads || l.Shared != 0 {
			t.Fatalf("n=%d: %+v", n, l)
		}
		for i, c := range gridStride(l, n) {
			if c != 1 {
				t.Fatalf("n=%d: element %d visited %d times", n, i, c)
			}
		}
	}
	if l, err := Elementwise(1 << 40); err != nil || l.Grid[0] != ElementwiseMaxBlocks {
		t.Fatalf("2^40 elements: %+v, %v", l, err)
	}
	for _, n := range []int64{0, -1} {
		if _, err := Elementwise(n); !errors.Is(err, ErrEmpty) {
			t.Fatalf("n=%d: %v, want ErrEmpty", n, err)
		}
	}
}

func TestRowsGeometry(t *testing.T) {
	for _, c := range []struct {
		rows    int64
		d       int
		threads int
		grid    int
	}{
		{1, 1, 32, 1}, {3, 32, 32, 3}, {3, 33, 64, 3}, {10, 128, 128, 10}, {7, 1000, 1024, 7},
		{2, 1 << 20, 1024, 2}, {RowMaxBlocks + 1, 64, 64, RowMaxBlocks},
	} {
		l, err := Rows(c.rows, c.d)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if l.Block[0] != c.threads || l.Grid[0] != c.grid || l.Shared != c.threads/32*8 || l.OptIn {
			t.Errorf("rows %d, D %d: %+v, want %d threads, grid %d", c.rows, c.d, l, c.threads, c.grid)
		}
	}
	if _, err := Rows(0, 8); !errors.Is(err, ErrEmpty) {
		t.Fatal(err)
	}
}

func TestReduceGeometry(t *testing.T) {
	for _, c := range []struct {
		n        int64
		partials int
	}{{1, 1}, {256, 1}, {257, 2}, {ReduceThreads * ReduceBlocks * 3, ReduceBlocks}} {
		l, p, err := Reduce(c.n)
		if err != nil || p != c.partials || l.Grid[0] != p || l.Shared != ReduceThreads/32*8 {
			t.Errorf("n=%d: %+v, %d partials, %v; want %d", c.n, l, p, err, c.partials)
		}
	}
}

func TestAttentionGeometry(t *testing.T) {
	s := AttnShape{B: 3, L: 65, Heads: 8, KVHeads: 2, HeadDim: 32}
	q, err := AttnQuery(s)
	if err != nil {
		t.Fatal(err)
	}
	if q.Grid != [3]int{2, 8, 3} || q.Block != [3]int{AttnTile, 1, 1} || q.Shared != 2*64*32*4 || q.OptIn {
		t.Fatalf("query launch %+v", q)
	}
	kv, err := AttnKV(s)
	if err != nil || kv.Grid != [3]int{2, 2, 3} || kv.Shared != 2*64*32*4+2*64*4 {
		t.Fatalf("kv launch %+v, %v", kv, err)
	}
	p, err := AttnPrep(s)
	if err != nil || p.Threads() < 3*65*12 {
		t.Fatalf("prep %+v, %v", p, err)
	}
	// head_dim 128 needs 64 KiB of shared memory: over the static 48 KiB, so the launch opts in.
	big, err := AttnKV(AttnShape{B: 1, L: 1, Heads: 1, KVHeads: 1, HeadDim: 128})
	if err != nil || !big.OptIn || big.Shared <= MaxSharedStatic {
		t.Fatalf("head dim 128: %+v, %v", big, err)
	}
	for _, bad := range []AttnShape{
		{B: 1, L: 1, Heads: 3, KVHeads: 2, HeadDim: 8},
		{B: 1, L: 1, Heads: 2, KVHeads: 2, HeadDim: 7},
		{B: 1, L: 1, Heads: 2, KVHeads: 2, HeadDim: 130},
		{B: 0, L: 1, Heads: 2, KVHeads: 2, HeadDim: 8},
		{B: 1, L: 1, Heads: MaxGridYZ + 1, KVHeads: 1, HeadDim: 8},
		{B: MaxGridYZ + 1, L: 1, Heads: 1, KVHeads: 1, HeadDim: 8},
	} {
		if _, err := AttnQuery(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestLaunchValidate(t *testing.T) {
	ok := Launch{Grid: [3]int{1, 1, 1}, Block: [3]int{1024, 1, 1}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Launch{
		{Grid: [3]int{1, 1, 1}, Block: [3]int{1056, 1, 1}},
		{Grid: [3]int{1, 1, 1}, Block: [3]int{512, 4, 1}},
		{Grid: [3]int{1, 1, 1}, Block: [3]int{48, 1, 1}},
		{Grid: [3]int{0, 1, 1}, Block: [3]int{32, 1, 1}},
		{Grid: [3]int{1, MaxGridYZ + 1, 1}, Block: [3]int{32, 1, 1}},
		{Grid: [3]int{1, 1, 1}, Block: [3]int{32, 1, 1}, Shared: MaxSharedStatic + 1},
		{Grid: [3]int{1, 1, 1}, Block: [3]int{32, 1, 1}, Shared: MaxSharedOptIn + 1, OptIn: true},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}

// The flash attention's algorithm, checked on the CPU: attnFwdEmu and attnBwdEmu run attn_fwd,
// attn_bwd_dq and attn_bwd_dkv's per-thread loops (tiles, online softmax, GQA, masks) over the launch
// geometry, in Go, and are compared with plain softmax attention in float64. This checks the algorithm
// and the index math as written in Go beside the kernels; the CUDA code itself is checked only on a GPU.
type attnCase struct {
	s        AttnShape
	q, k, v  [][]float64 // [B·H·L][hd], [B·KV·L][hd], [B·KV·L][hd] (rotated, as attn_prep leaves them)
	mask     []float64   // [B·L]
	causal   bool
	dout     [][]float64 // [B·L·H][hd]
	out, lse [][]float64
}

func (c *attnCase) visible(b, i, j int) bool {
	return !(c.causal && j > i) && c.mask[b*c.s.L+j] != 0
}

func attnFwdEmu(c *attnCase) (out [][]float64, lse []float64) {
	s := c.s
	l, _ := AttnQuery(s)
	hd, L := s.HeadDim, s.L
	out = make([][]float64, s.B*L*s.Heads)
	lse = make([]float64, s.B*s.Heads*L)
	scale := 1 / math.Sqrt(float64(hd))
	for b := 0; b < l.Grid[2]; b++ {
		for h := 0; h < l.Grid[1]; h++ {
			g := h / (s.Heads / s.KVHeads)
			for bx := 0; bx < l.Grid[0]; bx++ {
				for th := 0; th < l.Block[0]; th++ {
					i := bx*AttnTile + th
					if i >= L {
						continue
					}
					q := c.q[(b*s.Heads+h)*L+i]
					o := make([]float64, hd)
					m, sum := math.Inf(-1), 0.0
					for j0 := 0; j0 < L; j0 += AttnTile {
						for j := j0; j < min(j0+AttnTile, L); j++ {
							if !c.visible(b, i, j) {
								continue
							}
							k, v := c.k[(b*s.KVHeads+g)*L+j], c.v[(b*s.KVHeads+g)*L+j]
							var sc float64
							for d := range hd {
								sc += q[d] * scale * k[d]
							}
							if sc > m {
								r := math.Exp(m - sc)
								sum *= r
								for d := range o {
									o[d] *= r
								}
								m = sc
							}
							p := math.Exp(sc - m)
							sum += p
							for d := range o {
								o[d] += p * v[d]
							}
						}
					}
					inv := 0.0
					lse[(b*s.Heads+h)*L+i] = math.Inf(-1)
					if sum > 0 {
						inv = 1 / sum
						lse[(b*s.Heads+h)*L+i] = m + math.Log(sum)
					}
					for d := range o {
						o[d] *= inv
					}
					out[(b*L+i)*s.Heads+h] = o
				}
			}
		}
	}
	return out, lse
}

func attnBwdEmu(c *attnCase, out [][]float64, lse []float64) (dq, dk, dv [][]float64) {
	s := c.s
	hd, L, rep := s.HeadDim, s.L, s.Heads/s.KVHeads
	scale := 1 / math.Sqrt(float64(hd))
	dot := func(a, b []float64) (x float64) {
		for d := range a {
			x += a[d] * b[d]
		}
		return
	}
	delta := func(b, h, i int) float64 { return dot(c.dout[(b*L+i)*s.Heads+h], out[(b*L+i)*s.Heads+h]) }
	ql, _ := AttnQuery(s)
	dq = make([][]float64, s.B*s.Heads*L)
	for b := 0; b < ql.Grid[2]; b++ {
		for h := 0; h < ql.Grid[1]; h++ {
			g := h / rep
			for bx := 0; bx < ql.Grid[0]; bx++ {
				for th := 0; th < ql.Block[0]; th++ {
					i := bx*AttnTile + th
					if i >= L {
						continue
					}
					acc := make([]float64, hd)
					li := lse[(b*s.Heads+h)*L+i]
					for j := 0; j < L && !math.IsInf(li, -1); j++ {
						if !c.visible(b, i, j) {
							continue
						}
						k, v := c.k[(b*s.KVHeads+g)*L+j], c.v[(b*s.KVHeads+g)*L+j]
						sc := dot(c.q[(b*s.Heads+h)*L+i], k) * scale
						ds := math.Exp(sc-li) * (dot(c.dout[(b*L+i)*s.Heads+h], v) - delta(b, h, i))
						for d := range acc {
							acc[d] += ds * k[d] * scale
						}
					}
					dq[(b*s.Heads+h)*L+i] = acc
				}
			}
		}
	}
	kl, _ := AttnKV(s)
	dk, dv = make([][]float64, s.B*s.KVHeads*L), make([][]float64, s.B*s.KVHeads*L)
	for b := 0; b < kl.Grid[2]; b++ {
		for g := 0; g < kl.Grid[1]; g++ {
			for bx := 0; bx < kl.Grid[0]; bx++ {
				for th := 0; th < kl.Block[0]; th++ {
					j := bx*AttnTile + th
					if j >= L {
						continue
					}
					k, v := c.k[(b*s.KVHeads+g)*L+j], c.v[(b*s.KVHeads+g)*L+j]
					ak, av := make([]float64, hd), make([]float64, hd)
					for h := g * rep; h < (g+1)*rep; h++ {
						for i := 0; i < L; i++ {
							li := lse[(b*s.Heads+h)*L+i]
							if math.IsInf(li, -1) || !c.visible(b, i, j) {
								continue
							}
							q, gout := c.q[(b*s.Heads+h)*L+i], c.dout[(b*L+i)*s.Heads+h]
							p := math.Exp(dot(q, k)*scale - li)
							ds := p * (dot(gout, v) - delta(b, h, i))
							for d := range ak {
								av[d] += p * gout[d]
								ak[d] += ds * q[d] * scale
							}
						}
					}
					dk[(b*s.KVHeads+g)*L+j], dv[(b*s.KVHeads+g)*L+j] = ak, av
				}
			}
		}
	}
	return dq, dk, dv
}

// attnNaive is softmax attention with the probabilities materialised, and its backward.
func attnNaive(c *attnCase) (out, dq, dk, dv [][]float64) {
	s := c.s
	hd, L, rep := s.HeadDim, s.L, s.Heads/s.KVHeads
	scale := 1 / math.Sqrt(float64(hd))
	out = make([][]float64, s.B*L*s.Heads)
	dq = make([][]float64, s.B*s.Heads*L)
	dk, dv = make([][]float64, s.B*s.KVHeads*L), make([][]float64, s.B*s.KVHeads*L)
	for i := range dk {
		dk[i], dv[i] = make([]float64, hd), make([]float64, hd)
	}
	for b := 0; b < s.B; b++ {
		for h := 0; h < s.Heads; h++ {
			g := h / rep
			for i := 0; i < L; i++ {
				q := c.q[(b*s.Heads+h)*L+i]
				p := make([]float64, L)
				mx := math.Inf(-1)
				for j := range p {
					p[j] = math.Inf(-1)
					if c.visible(b, i, j) {
						k := c.k[(b*s.KVHeads+g)*L+j]
						p[j] = 0
						for d := range hd {
							p[j] += q[d] * k[d] * scale
						}
						mx = max(mx, p[j])
					}
				}
				o, gq := make([]float64, hd), make([]float64, hd)
				out[(b*L+i)*s.Heads+h], dq[(b*s.Heads+h)*L+i] = o, gq
				if math.IsInf(mx, -1) {
					continue
				}
				var z float64
				for j := range p {
					p[j] = math.Exp(p[j] - mx)
					z += p[j]
				}
				gout := c.dout[(b*L+i)*s.Heads+h]
				dp := make([]float64, L)
				var pdp float64
				for j := range p {
					p[j] /= z
					v := c.v[(b*s.KVHeads+g)*L+j]
					for d := range hd {
						o[d] += p[j] * v[d]
						dp[j] += gout[d] * v[d]
					}
					pdp += p[j] * dp[j]
				}
				for j := range p {
					ds := p[j] * (dp[j] - pdp)
					k, row := c.k[(b*s.KVHeads+g)*L+j], (b*s.KVHeads+g)*L+j
					for d := range hd {
						gq[d] += ds * k[d] * scale
						dk[row][d] += ds * q[d] * scale
						dv[row][d] += p[j] * gout[d]
					}
				}
			}
		}
	}
	return out, dq, dk, dv
}

func TestFlashAttentionAlgorithmMatchesSoftmaxAttention(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vecs := func(n, hd int) [][]float64 {
		out := make([][]float64, n)
		for i := range out {
			out[i] = make([]float64, hd)
			for d := range out[i] {
				out[i][d] = rng.NormFloat64()
			}
		}
		return out
	}
	for _, tc := range []struct {
		s      AttnShape
		causal bool
	}{
		{AttnShape{B: 2, L: 5, Heads: 4, KVHeads: 2, HeadDim: 8}, false},
		{AttnShape{B: 2, L: 70, Heads: 2, KVHeads: 1, HeadDim: 4}, false}, // two tiles, the second partial
		{AttnShape{B: 1, L: 67, Heads: 3, KVHeads: 3, HeadDim: 6}, true},
	} {
		s := tc.s
		c := &attnCase{s: s, causal: tc.causal, q: vecs(s.B*s.Heads*s.L, s.HeadDim), k: vecs(s.B*s.KVHeads*s.L, s.HeadDim),
			v: vecs(s.B*s.KVHeads*s.L, s.HeadDim), dout: vecs(s.B*s.L*s.Heads, s.HeadDim), mask: make([]float64, s.B*s.L)}
		for i := range c.mask {
			c.mask[i] = 1
		}
		// Sample 0 hides its last keys (caption padding); the last sample of a batch of 2 hides every key,
		// so its outputs and gradients must be zeros.
		c.mask[s.L-1], c.mask[s.L/2] = 0, 0
		if s.B > 1 {
			clear(c.mask[(s.B-1)*s.L:])
		}
		out, lse := attnFwdEmu(c)
		dq, dk, dv := attnBwdEmu(c, out, lse)
		wo, wq, wk, wv := attnNaive(c)
		for name, pair := range map[string][2][][]float64{"out": {out, wo}, "dq": {dq, wq}, "dk": {dk, wk}, "dv": {dv, wv}} {
			for r := range pair[1] {
				for d := range pair[1][r] {
					if got, want := pair[0][r][d], pair[1][r][d]; math.Abs(got-want) > 1e-12*(1+math.Abs(want)) {
						t.Fatalf("%+v causal=%v: %s[%d][%d] = %g, want %g", s, tc.causal, name, r, d, got, want)
					}
				}
			}
		}
	}
}

// The largest head dim whose attention launches without the shared-memory opt-in (which this executor
// cannot make) is 94: the dk/dv pass's tiles and row statistics pass 48 KiB at 96.
func TestAttentionHeadDimWithoutOptIn(t *testing.T) {
	for _, c := range []struct {
		hd    int
		optIn bool
	}{{64, false}, {94, false}, {96, true}} {
		s := AttnShape{B: 1, L: 70, Heads: 2, KVHeads: 1, HeadDim: c.hd}
		q, err1 := AttnQuery(s)
		kv, err2 := AttnKV(s)
		if err1 != nil || err2 != nil {
			t.Fatalf("head dim %d: %v %v", c.hd, err1, err2)
		}
		if got := q.OptIn || kv.OptIn; got != c.optIn {
			t.Errorf("head dim %d: opt-in %v (query %d B, kv %d B), want %v", c.hd, got, q.Shared, kv.Shared, c.optIn)
		}
	}
}
