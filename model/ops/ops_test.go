package ops

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

const gradTol = 1e-6

func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

// ---- Linear ----

func refLinear(x, w, b []float64, rows, nIn, nOut int) []float64 {
	y := make([]float64, rows*nOut)
	for r := 0; r < rows; r++ {
		for o := 0; o < nOut; o++ {
			s := 0.0
			if b != nil {
				s = b[o]
			}
			for i := 0; i < nIn; i++ {
				s += x[r*nIn+i] * w[o*nIn+i]
			}
			y[r*nOut+o] = s
		}
	}
	return y
}

func TestLinear(t *testing.T) {
	r := rng(1)
	x, w, b := randn(r, 2*3*5, 1), randn(r, 4*5, 1), randn(r, 4, 1)
	ins := []tin{{"x", []int{2, 3, 5}, x, true}, {"w", []int{4, 5}, w, true}, {"b", []int{4}, b, true}}
	withBias := func(in []*G.Node) (*G.Node, error) { return Linear(in[0], in[1], in[2]) }
	noBias := func(in []*G.Node) (*G.Node, error) { return Linear(in[0], in[1], nil) }
	t.Run("bias", func(t *testing.T) {
		checkForward(t, ins, withBias, refLinear(x, w, b, 6, 5, 4), tensor.Shape{2, 3, 4})
		requireGrads(t, ins, withBias, 1000, gradTol)
	})
	t.Run("nobias", func(t *testing.T) {
		checkForward(t, ins[:2], noBias, refLinear(x, w, nil, 6, 5, 4), tensor.Shape{2, 3, 4})
		requireGrads(t, ins[:2], noBias, 1000, gradTol)
	})
	t.Run("2d", func(t *testing.T) {
		ins2 := []tin{{"x", []int{6, 5}, x, true}, ins[1], ins[2]}
		checkForward(t, ins2, withBias, refLinear(x, w, b, 6, 5, 4), tensor.Shape{6, 4})
	})
	// Inputs that are views from stock Slice: rows 1..2 of x (contiguous, at an offset) and rows 1..2,
	// columns 0..3 (strided, which the glue materialises).
	t.Run("views", func(t *testing.T) {
		xv := []tin{{"x", []int{6, 5}, x, true}, ins[1]}
		rowsView := func(in []*G.Node) (*G.Node, error) {
			return Linear(G.Must(G.Slice(in[0], G.S(1, 3))), in[1], nil) // [2, 5]
		}
		checkForward(t, xv, rowsView, refLinear(x[5:15], w, nil, 2, 5, 4), tensor.Shape{2, 4})
		requireGrads(t, xv, rowsView, 100, gradTol)

		xs := []tin{{"x", []int{6, 5}, x, true}, {"w", []int{4, 4}, w[:16], true}}
		colsView := func(in []*G.Node) (*G.Node, error) {
			return Linear(G.Must(G.Slice(in[0], G.S(1, 3), G.S(0, 4))), in[1], nil) // [2, 4], strided
		}
		sub := append(append([]float64{}, x[5:9]...), x[10:14]...)
		checkForward(t, xs, colsView, refLinear(sub, w[:16], nil, 2, 4, 4), tensor.Shape{2, 4})
		requireGrads(t, xs, colsView, 100, gradTol)
	})
	// Enough rows and features that the row and feature blocks really split across goroutines.
	t.Run("blocked", func(t *testing.T) {
		xb, wb, bb := randn(r, 300*40, 1), randn(r, 70*40, 1), randn(r, 70, 1)
		insb := []tin{{"x", []int{300, 40}, xb, true}, {"w", []int{70, 40}, wb, true}, {"b", []int{70}, bb, true}}
		checkForward(t, insb, withBias, refLinear(xb, wb, bb, 300, 40, 70), tensor.Shape{300, 70})
		requireGrads(t, insb, withBias, 40, gradTol)
	})
}

// ---- norms ----

func refRMS(x, w []float64, d int, eps float64) []float64 {
	y := make([]float64, len(x))
	for r := 0; r < len(x)/d; r++ {
		ms := 0.0
		for i := 0; i < d; i++ {
			ms += x[r*d+i] * x[r*d+i]
		}
		ms /= float64(d)
		for i := 0; i < d; i++ {
			y[r*d+i] = x[r*d+i] / math.Sqrt(ms+eps) * w[i]
		}
	}
	return y
}

func TestRMSNorm(t *testing.T) {
	r := rng(2)
	x, w := randn(r, 2*3*6, 1), randn(r, 6, 1)
	ins := []tin{{"x", []int{2, 3, 6}, x, true}, {"w", []int{6}, w, true}}
	f := func(in []*G.Node) (*G.Node, error) { return RMSNorm(in[0], in[1], 1e-5) }
	checkForward(t, ins, f, refRMS(x, w, 6, 1e-5), tensor.Shape{2, 3, 6})
	requireGrads(t, ins, f, 1000, gradTol)
}

func TestLayerNorm(t *testing.T) {
	r := rng(3)
	x := randn(r, 2*3*6, 2)
	for i := range x {
		x[i] += 0.5 // a nonzero mean, so that centring matters
	}
	want := make([]float64, len(x))
	for row := 0; row < 6; row++ {
		mu, v := 0.0, 0.0
		for i := 0; i < 6; i++ {
			mu += x[row*6+i] / 6
		}
		for i := 0; i < 6; i++ {
			v += (x[row*6+i] - mu) * (x[row*6+i] - mu) / 6
		}
		for i := 0; i < 6; i++ {
			want[row*6+i] = (x[row*6+i] - mu) / math.Sqrt(v+1e-6)
		}
	}
	ins := []tin{{"x", []int{2, 3, 6}, x, true}}
	f := func(in []*G.Node) (*G.Node, error) { return LayerNorm(in[0], 1e-6) }
	checkForward(t, ins, f, want, tensor.Shape{2, 3, 6})
	requireGrads(t, ins, f, 1000, gradTol)
}

// ---- elementwise ----

func silu(v float64) float64 { return v / (1 + math.Exp(-v)) }

func TestSiLU(t *testing.T) {
	x := randn(rng(4), 3*7, 3)
	want := make([]float64, len(x))
	for i, v := range x {
		want[i] = silu(v)
	}
	ins := []tin{{"x", []int{3, 7}, x, true}}
	f := func(in []*G.Node) (*G.Node, error) { return SiLU(in[0]) }
	checkForward(t, ins, f, want, tensor.Shape{3, 7})
	requireGrads(t, ins, f, 1000, gradTol)
}

func TestSwiGLU(t *testing.T) {
	r := rng(5)
	a, b := randn(r, 3*7, 3), randn(r, 3*7, 1)
	want := make([]float64, len(a))
	for i := range a {
		want[i] = silu(a[i]) * b[i]
	}
	ins := []tin{{"a", []int{3, 7}, a, true}, {"b", []int{3, 7}, b, true}}
	f := func(in []*G.Node) (*G.Node, error) { return SwiGLU(in[0], in[1]) }
	checkForward(t, ins, f, want, tensor.Shape{3, 7})
	requireGrads(t, ins, f, 1000, gradTol)
}

func TestModulate(t *testing.T) {
	r := rng(6)
	B, L, D := 2, 3, 5
	x, s := randn(r, B*L*D, 1), randn(r, B*D, 0.5)
	want := make([]float64, len(x))
	for b := 0; b < B; b++ {
		for l := 0; l < L; l++ {
			for d := 0; d < D; d++ {
				want[(b*L+l)*D+d] = x[(b*L+l)*D+d] * (1 + s[b*D+d])
			}
		}
	}
	ins := []tin{{"x", []int{B, L, D}, x, true}, {"scale", []int{B, D}, s, true}}
	f := func(in []*G.Node) (*G.Node, error) { return Modulate(in[0], in[1]) }
	checkForward(t, ins, f, want, tensor.Shape{B, L, D})
	requireGrads(t, ins, f, 1000, gradTol)
}

func TestGatedResidual(t *testing.T) {
	r := rng(7)
	B, L, D := 2, 3, 5
	x, g, y := randn(r, B*L*D, 1), randn(r, B*D, 1), randn(r, B*L*D, 1)
	want := make([]float64, len(x))
	for b := 0; b < B; b++ {
		for l := 0; l < L; l++ {
			for d := 0; d < D; d++ {
				i := (b*L+l)*D + d
				want[i] = x[i] + math.Tanh(g[b*D+d])*y[i]
			}
		}
	}
	ins := []tin{{"x", []int{B, L, D}, x, true}, {"gate", []int{B, D}, g, true}, {"y", []int{B, L, D}, y, true}}
	f := func(in []*G.Node) (*G.Node, error) { return GatedResidual(in[0], in[1], in[2]) }
	checkForward(t, ins, f, want, tensor.Shape{B, L, D})
	requireGrads(t, ins, f, 1000, gradTol)
}

func TestAdd(t *testing.T) {
	r := rng(8)
	x, y := randn(r, 2*3*5, 1), randn(r, 2*3*5, 1)
	want := make([]float64, len(x))
	for i := range x {
		want[i] = x[i] + y[i]
	}
	ins := []tin{{"x", []int{2, 3, 5}, x, true}, {"y", []int{2, 3, 5}, y, true}}
	f := func(in []*G.Node) (*G.Node, error) { return Add(in[0], in[1]) }
	checkForward(t, ins, f, want, tensor.Shape{2, 3, 5})
	requireGrads(t, ins, f, 1000, gradTol)
	// x used twice: the two pass-through gradients meet in Gorgonia's ReduceAdd.
	twice := func(in []*G.Node) (*G.Node, error) {
		s, err := Add(in[0], in[1])
		if err != nil {
			return nil, err
		}
		return SwiGLU(s, in[0])
	}
	requireGrads(t, ins, twice, 1000, gradTol)
	// Add(x, x): one gradient node reaches the same input twice.
	self := func(in []*G.Node) (*G.Node, error) { return Add(in[0], in[0]) }
	requireGrads(t, ins[:1], self, 1000, gradTol)
}

// ---- patches and pooling ----

// refPatchify follows docs/DESIGN.md §2 literally: view x [B, C, H, W] as (B, C, H/p, p, W/p, p), permute to
// (B, H/p, W/p, p, p, C) and flatten, through generic strides rather than the kernel's index formula.
func refPatchify(x []float64, B, C, H, W, p int) []float64 {
	dims := []int{B, C, H / p, p, W / p, p}
	strides := make([]int, 6)
	st := 1
	for i := 5; i >= 0; i-- {
		strides[i] = st
		st *= dims[i]
	}
	perm := []int{0, 2, 4, 3, 5, 1} // output axis k reads input axis perm[k]
	odims := make([]int, 6)
	for k := range perm {
		odims[k] = dims[perm[k]]
	}
	out := make([]float64, 0, len(x))
	idx := make([]int, 6)
	for n := 0; n < len(x); n++ {
		off := 0
		for k := range perm {
			off += idx[k] * strides[perm[k]]
		}
		out = append(out, x[off])
		for k := 5; k >= 0; k-- {
			idx[k]++
			if idx[k] < odims[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out
}

func TestPatchify(t *testing.T) {
	B, C, H, W, p := 2, 3, 4, 6, 2
	x := randn(rng(9), B*C*H*W, 1)
	ins := []tin{{"x", []int{B, C, H, W}, x, true}}
	f := func(in []*G.Node) (*G.Node, error) { return Patchify(in[0], p) }
	checkForward(t, ins, f, refPatchify(x, B, C, H, W, p), tensor.Shape{B, (H / p) * (W / p), p * p * C})
	requireGrads(t, ins, f, 1000, gradTol)

	roundTrip := func(in []*G.Node) (*G.Node, error) {
		tok, err := Patchify(in[0], p)
		if err != nil {
			return nil, err
		}
		return Unpatchify(tok, p, C, H, W)
	}
	checkForward(t, ins, roundTrip, x, tensor.Shape{B, C, H, W})

	tok := refPatchify(x, B, C, H, W, p)
	tins := []tin{{"tok", []int{B, (H / p) * (W / p), p * p * C}, tok, true}}
	unp := func(in []*G.Node) (*G.Node, error) { return Unpatchify(in[0], p, C, H, W) }
	checkForward(t, tins, unp, x, tensor.Shape{B, C, H, W})
	requireGrads(t, tins, unp, 1000, gradTol)
}

func TestAvgPool(t *testing.T) {
	B, C, H, W, k := 2, 3, 4, 6, 2
	x := randn(rng(10), B*C*H*W, 1)
	want := make([]float64, B*C*(H/k)*(W/k))
	for n := 0; n < B*C; n++ {
		for i := 0; i < H/k; i++ {
			for j := 0; j < W/k; j++ {
				s := 0.0
				for a := 0; a < k; a++ {
					for b := 0; b < k; b++ {
						s += x[(n*H+i*k+a)*W+j*k+b]
					}
				}
				want[(n*(H/k)+i)*(W/k)+j] = s / float64(k*k)
			}
		}
	}
	ins := []tin{{"x", []int{B, C, H, W}, x, true}}
	f := func(in []*G.Node) (*G.Node, error) { return AvgPool(in[0], k) }
	checkForward(t, ins, f, want, tensor.Shape{B, C, H / k, W / k})
	requireGrads(t, ins, f, 1000, gradTol)
}

// ---- losses and lookups ----

func TestMSE(t *testing.T) {
	r := rng(11)
	p, q := randn(r, 2*3*4, 1), randn(r, 2*3*4, 1)
	s := 0.0
	for i := range p {
		s += (p[i] - q[i]) * (p[i] - q[i])
	}
	ins := []tin{{"pred", []int{2, 3, 4}, p, true}, {"target", []int{2, 3, 4}, q, true}}
	f := func(in []*G.Node) (*G.Node, error) { return MSE(in[0], in[1]) }
	checkForward(t, ins, f, []float64{s / float64(len(p))}, tensor.ScalarShape())
	requireGrads(t, ins, f, 1000, gradTol)

	// Two losses added by stock ops (the full and the auxiliary loss): the output gradient reaches MSE's
	// backward as whatever scalar value Gorgonia produces.
	two := func(in []*G.Node) (*G.Node, error) {
		a := G.Must(MSE(in[0], in[1]))
		b := G.Must(MSE(G.Must(AvgPool(in[0], 2)), G.Must(AvgPool(in[1], 2))))
		return G.Add(a, G.Must(G.Mul(b, G.NewConstant(0.5))))
	}
	img := []tin{{"pred", []int{1, 3, 4, 2}, p, true}, {"target", []int{1, 3, 4, 2}, q, true}}
	requireGrads(t, img, two, 1000, gradTol)
}

func TestEmbedding(t *testing.T) {
	V, D := 7, 4
	table := randn(rng(12), V*D, 1)
	ids := []float64{3, 0, 6, 3, 3, 1} // repeats: the backward must add them up
	want := make([]float64, 0, len(ids)*D)
	for _, id := range ids {
		want = append(want, table[int(id)*D:(int(id)+1)*D]...)
	}
	ins := []tin{{"table", []int{V, D}, table, true}, {"ids", []int{2, 3}, ids, false}}
	f := func(in []*G.Node) (*G.Node, error) { return Embedding(in[0], in[1]) }
	checkForward(t, ins, f, want, tensor.Shape{2, 3, D})
	requireGrads(t, ins, f, 1000, gradTol)

	for _, bad := range []float64{7, -1, 2.5} {
		badIns := []tin{ins[0], {"ids", []int{2, 3}, []float64{0, 1, bad, 0, 0, 0}, false}}
		h, err := newHarness(tensor.Float64, badIns, f, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.run(); err == nil || !strings.Contains(err.Error(), "id 2") {
			t.Errorf("id %v: error %v, want one naming id 2", bad, err)
		}
		h.m.Close()
	}
}

func TestCrossEntropy(t *testing.T) {
	N, V := 5, 6
	logits := randn(rng(13), N*V, 2)
	targets := []float64{2, 0, -1, 5, 1} // row 2 is masked out: its target is never read
	mask := []float64{1, 1, 0, 1, 1}
	s, m := 0.0, 0.0
	for n := 0; n < N; n++ {
		if mask[n] == 0 {
			continue
		}
		z := 0.0
		for j := 0; j < V; j++ {
			z += math.Exp(logits[n*V+j])
		}
		s += -math.Log(math.Exp(logits[n*V+int(targets[n])]) / z)
		m++
	}
	ins := []tin{{"logits", []int{N, V}, logits, true}, {"targets", []int{N}, targets, false}, {"mask", []int{N}, mask, false}}
	f := func(in []*G.Node) (*G.Node, error) { return CrossEntropy(in[0], in[1], in[2]) }
	checkForward(t, ins, f, []float64{s / m}, tensor.ScalarShape())
	requireGrads(t, ins, f, 1000, gradTol)

	bad := []tin{ins[0], {"targets", []int{N}, []float64{2, 0, 1, 6, 1}, false}, ins[2]}
	h, err := newHarness(tensor.Float64, bad, f, false)
	if err != nil {
		t.Fatal(err)
	}
	defer h.m.Close()
	if err := h.run(); err == nil || !strings.Contains(err.Error(), "target 3") {
		t.Errorf("target out of range: error %v, want one naming target 3", err)
	}
}

// ---- attention ----

func attnIns(c attnCase, masked bool) []tin {
	s := c.s
	ins := []tin{
		{"qkv", []int{s.B, s.L, (s.Heads + 2*s.KVHeads) * s.HeadDim}, c.qkv, true},
		{"qNorm", []int{s.HeadDim}, c.qw, true},
		{"kNorm", []int{s.HeadDim}, c.kw, true},
		{"cos", []int{s.B, s.L, s.HeadDim / 2}, c.cos, false},
		{"sin", []int{s.B, s.L, s.HeadDim / 2}, c.sin, false},
	}
	if masked {
		ins = append(ins, tin{"keyMask", []int{s.B, s.L}, c.mask, false})
	}
	return ins
}

func attnFn(s attnShape, masked bool) graphFn {
	o := AttnOpts{Heads: s.Heads, KVHeads: s.KVHeads, Eps: s.Eps, Causal: s.Causal}
	return func(in []*G.Node) (*G.Node, error) {
		var m *G.Node
		if masked {
			m = in[5]
		}
		return Attention(in[0], in[1], in[2], in[3], in[4], m, o)
	}
}

func TestAttentionOp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		causal bool
		masked bool
	}{{"masked", false, true}, {"causal", true, true}, {"nomask", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			// 2 samples: captions of 2 and 3 tokens, a 2×2 image, padding after the shorter caption.
			c := newAttnCase(21, []int{2, 3}, 2, 2, 4, 2, [3]int{2, 2, 4}, tc.causal)
			s := c.s
			mask := c.mask
			if !tc.masked {
				mask = make([]float64, s.B*s.L)
				for i := range mask {
					mask[i] = 1
				}
			}
			want := refAttention(s.B, s.L, s.Heads, s.KVHeads, s.HeadDim, s.Eps, s.Causal, c.qkv, c.qw, c.kw, c.cos, c.sin, mask)
			ins, f := attnIns(c, tc.masked), attnFn(s, tc.masked)
			checkForward(t, ins, f, want, tensor.Shape{s.B, s.L, s.Heads * s.HeadDim})
			requireGrads(t, ins, f, 400, gradTol)
		})
	}
}

// ---- a whole modulated joint block, to test the ops together ----

// TestJointBlockGradients builds the reference's modulated block from the ops, reusing one RMSNorm
// weight twice and x in three places, so that packed gradients, pass-through gradients, views and
// Gorgonia's in-place ReduceAdd all meet.
func TestJointBlockGradients(t *testing.T) {
	r := rng(31)
	B, capL, gh, gw, H, KV := 2, 2, 2, 2, 2, 1
	axes := [3]int{2, 2, 2}
	c := newAttnCase(32, []int{capL, capL - 1}, gh, gw, H, KV, axes, false)
	L, hd := c.s.L, c.s.HeadDim
	D := H * hd
	F := 16
	ins := []tin{
		{"x", []int{B, L, D}, randn(r, B*L*D, 1), true},
		{"mod", []int{B, 4 * D}, randn(r, B*4*D, 0.5), true},
		{"n1", []int{D}, randn(r, D, 1), true},
		{"wqkv", []int{(H + 2*KV) * hd, D}, randn(r, (H+2*KV)*hd*D, 0.4), true},
		{"qn", []int{hd}, randn(r, hd, 1), true},
		{"kn", []int{hd}, randn(r, hd, 1), true},
		{"wo", []int{D, D}, randn(r, D*D, 0.4), true},
		{"w1", []int{F, D}, randn(r, F*D, 0.4), true},
		{"w3", []int{F, D}, randn(r, F*D, 0.4), true},
		{"w2", []int{D, F}, randn(r, D*F, 0.4), true},
		{"b2", []int{D}, randn(r, D, 0.4), true},
		{"cos", []int{B, L, hd / 2}, c.cos, false},
		{"sin", []int{B, L, hd / 2}, c.sin, false},
		{"mask", []int{B, L}, c.mask, false},
	}
	o := AttnOpts{Heads: H, KVHeads: KV, Eps: 1e-5}
	f := func(in []*G.Node) (*G.Node, error) {
		x, mod := in[0], in[1]
		// mod [B, 4D] → four [B, D] chunks through stock Slice (a correct gradient, docs/DESIGN.md §10).
		chunk := func(i int) *G.Node { return G.Must(G.Slice(mod, nil, G.S(i*D, (i+1)*D))) }
		h, err := RMSNorm(x, in[2], 1e-5) // [B, L, D]
		if err != nil {
			return nil, err
		}
		h = G.Must(Modulate(h, chunk(0)))
		qkv := G.Must(Linear(h, in[3], nil))                                 // [B, L, (H+2KV)·hd]
		a := G.Must(Attention(qkv, in[4], in[5], in[11], in[12], in[13], o)) // [B, L, D]
		a = G.Must(Linear(a, in[6], nil))
		a = G.Must(RMSNorm(a, in[2], 1e-5)) // the same weight again
		x = G.Must(GatedResidual(x, chunk(1), a))
		h = G.Must(Modulate(G.Must(RMSNorm(x, in[2], 1e-5)), chunk(2)))
		ff := G.Must(SwiGLU(G.Must(Linear(h, in[7], nil)), G.Must(Linear(h, in[8], nil)))) // [B, L, F]
		ff = G.Must(Linear(ff, in[9], in[10]))
		return GatedResidual(x, chunk(3), ff)
	}
	requireGrads(t, ins, f, 60, gradTol)

	// float32 gradients of the whole block agree with float64 ones.
	grads := func(dt tensor.Dtype) []float64 {
		h, err := newHarness(dt, ins, f, true)
		if err != nil {
			t.Fatal(err)
		}
		defer h.m.Close()
		if err := h.run(); err != nil {
			t.Fatal(err)
		}
		var all []float64
		for _, g := range h.grads {
			all = append(all, asF64(g.Value())...)
		}
		return all
	}
	requireClose(t, "float32 block gradients vs float64", grads(tensor.Float32), grads(tensor.Float64), 1e-4)
}

// TestPartialWRT: gradients w.r.t. the weights only (x is data) still work, and agree with the full set.
func TestPartialWRT(t *testing.T) {
	r := rng(61)
	x, w, b := randn(r, 6*5, 1), randn(r, 4*5, 1), randn(r, 4, 1)
	f := func(in []*G.Node) (*G.Node, error) { return Linear(in[0], in[1], in[2]) }
	ins := []tin{{"x", []int{6, 5}, x, false}, {"w", []int{4, 5}, w, true}, {"b", []int{4}, b, true}}
	requireGrads(t, ins, f, 100, gradTol)
}

// ---- the checker itself, and errors ----

// brokenK is a kernel whose second gradient is off by 1e-4 relative: the gradient check must see it.
type brokenK struct{ kernel }

func (k brokenK) backward(grads []*tensor.Dense, gy, out *tensor.Dense, in []*tensor.Dense) error {
	if err := k.kernel.backward(grads, gy, out, in); err != nil {
		return err
	}
	for i, v := range grads[1].Float64s() {
		grads[1].Float64s()[i] = v * (1 + 1e-4)
	}
	return nil
}

func TestGradientCheckCatchesSmallErrors(t *testing.T) {
	r := rng(41)
	ins := []tin{{"x", []int{3, 4}, randn(r, 12, 1), true}, {"w", []int{4}, randn(r, 4, 1), true}}
	good := func(in []*G.Node) (*G.Node, error) { return apply(rmsK{eps: 1e-5}, in...) }
	bad := func(in []*G.Node) (*G.Node, error) { return apply(brokenK{rmsK{eps: 1e-5}}, in...) }
	g, err := checkGrads(tensor.Float64, ins, good, 100)
	if err != nil {
		t.Fatal(err)
	}
	b, err := checkGrads(tensor.Float64, ins, bad, 100)
	if err != nil {
		t.Fatal(err)
	}
	if g.worst > gradTol || b.worst < 10*gradTol {
		t.Fatalf("checker: correct kernel %.3g, kernel off by 1e-4 %.3g; want ≤ %g and ≫ %g", g.worst, b.worst, gradTol, gradTol)
	}
}

func TestBadShapesAreErrors(t *testing.T) {
	g := G.NewGraph()
	n := func(name string, s ...int) *G.Node {
		return G.NewTensor(g, tensor.Float64, len(s), G.WithShape(s...), G.WithName(name), G.WithInit(G.Zeroes()))
	}
	x, w := n("x", 2, 3, 5), n("w", 4, 6)
	x32 := G.NewTensor(g, tensor.Float32, 2, G.WithShape(4, 6), G.WithName("x32"), G.WithInit(G.Zeroes()))
	cases := map[string]func() (*G.Node, error){
		"linear in":      func() (*G.Node, error) { return Linear(x, w, nil) },
		"linear dtype":   func() (*G.Node, error) { return Linear(x32, w, nil) },
		"linear bias":    func() (*G.Node, error) { return Linear(n("x2", 2, 6), w, n("b", 5)) },
		"rms weight":     func() (*G.Node, error) { return RMSNorm(x, n("w5", 4), 1e-5) },
		"modulate":       func() (*G.Node, error) { return Modulate(x, n("s", 2, 4)) },
		"gated":          func() (*G.Node, error) { return GatedResidual(x, n("g", 2, 5), n("y", 2, 3, 4)) },
		"add":            func() (*G.Node, error) { return Add(x, n("y2", 2, 3, 4)) },
		"swiglu":         func() (*G.Node, error) { return SwiGLU(x, n("y3", 2, 5, 3)) },
		"patchify":       func() (*G.Node, error) { return Patchify(n("img", 1, 3, 5, 4), 2) },
		"unpatchify":     func() (*G.Node, error) { return Unpatchify(n("tok", 1, 6, 12), 2, 3, 4, 4) },
		"avgpool":        func() (*G.Node, error) { return AvgPool(n("img2", 1, 3, 6, 4), 4) },
		"mse":            func() (*G.Node, error) { return MSE(x, n("t", 2, 3, 4)) },
		"embedding":      func() (*G.Node, error) { return Embedding(n("tab", 5, 4), n("ids", 6)) },
		"crossentropy":   func() (*G.Node, error) { return CrossEntropy(n("lg", 4, 5), n("tg", 4), n("mk", 3)) },
		"attention qkv":  func() (*G.Node, error) { return attnWith(g, n, 2, 3, 4*7+1, 4, 8) },
		"attention rope": func() (*G.Node, error) { return attnWith(g, n, 2, 3, 8*4, 8, 6) },
		"attention kv":   func() (*G.Node, error) { return Attention(x, x, x, x, x, nil, AttnOpts{Heads: 4, KVHeads: 3}) },
	}
	for name, f := range cases {
		out, err := f()
		if err == nil {
			t.Errorf("%s: no error (output %v)", name, out.Shape())
			continue
		}
		t.Logf("%s: %v", name, err)
	}
}

// attnWith builds an attention over qkv [B, L, width] with 2 query heads, 1 kv head and RoPE tables
// [B, L, ropeHalf].
func attnWith(g *G.ExprGraph, n func(string, ...int) *G.Node, B, L, width, hd, ropeHalf int) (*G.Node, error) {
	_ = g
	return Attention(n("qkv", B, L, width), n("qn", hd), n("kn", hd), n("cos", B, L, ropeHalf), n("sin", B, L, ropeHalf),
		n("m", B, L), AttnOpts{Heads: 2, KVHeads: 1, Eps: 1e-5})
}

// TestGradientsIndependentOfCores: the blocks of every reduction depend on the shapes only, so one and
// two cores give bit-identical gradients.
func TestGradientsIndependentOfCores(t *testing.T) {
	r := rng(51)
	ins := []tin{
		{"x", []int{4, 50, 24}, randn(r, 4*50*24, 1), true},
		{"w", []int{40, 24}, randn(r, 40*24, 1), true},
		{"b", []int{40}, randn(r, 40, 1), true},
		{"n", []int{40}, randn(r, 40, 1), true},
		{"s", []int{4, 40}, randn(r, 4*40, 1), true},
	}
	f := func(in []*G.Node) (*G.Node, error) {
		y := G.Must(Linear(in[0], in[1], in[2]))
		y = G.Must(RMSNorm(y, in[3], 1e-5))
		return Modulate(y, in[4])
	}
	grads := func(procs int) [][]float64 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		h, err := newHarness(tensor.Float32, ins, f, true)
		if err != nil {
			t.Fatal(err)
		}
		defer h.m.Close()
		if err := h.run(); err != nil {
			t.Fatal(err)
		}
		var out [][]float64
		for _, g := range h.grads {
			out = append(out, asF64(g.Value()))
		}
		return out
	}
	one, two := grads(1), grads(2)
	for k := range one {
		for i := range one[k] {
			if one[k][i] != two[k][i] {
				t.Fatalf("gradient %d[%d]: %v on 1 core, %v on 2", k, i, one[k][i], two[k][i])
			}
		}
	}
}

// TestNodeGradMatchesGradNodes: the trainer reads gradients as node.Grad() (the dual value the machine
// accumulates into); it must equal what the gradient nodes computed, across two steps with a Reset.
func TestNodeGradMatchesGradNodes(t *testing.T) {
	r := rng(71)
	ins := []tin{
		{"x", []int{2, 3, 8}, randn(r, 48, 1), false},
		{"w", []int{8, 8}, randn(r, 64, 1), true},
		{"n", []int{8}, randn(r, 8, 1), true},
		{"s", []int{2, 8}, randn(r, 16, 1), true},
	}
	f := func(in []*G.Node) (*G.Node, error) {
		y := G.Must(Linear(in[0], in[1], nil))
		y = G.Must(Modulate(G.Must(RMSNorm(y, in[2], 1e-5)), in[3]))
		return Add(y, in[0])
	}
	h, err := newHarness(tensor.Float64, ins, f, true)
	if err != nil {
		t.Fatal(err)
	}
	defer h.m.Close()
	for step := 0; step < 2; step++ {
		for _, i := range h.wrt { // the trainer zeroes the accumulated gradients each step
			if gv, err := h.nodes[i].Grad(); err == nil {
				if d, ok := gv.(*tensor.Dense); ok {
					d.Zero()
				}
			}
		}
		if err := h.run(); err != nil {
			t.Fatal(err)
		}
		for k, i := range h.wrt {
			gv, err := h.nodes[i].Grad()
			if err != nil {
				t.Fatalf("step %d: %s.Grad(): %v", step, ins[i].name, err)
			}
			requireClose(t, ins[i].name+".Grad()", asF64(gv), asF64(h.grads[k].Value()), 0)
		}
	}
}

// TestSigmoid32 checks the float32 fast path against math.Exp over the whole useful range, and at the
// overflow and NaN edges.
func TestSigmoid32(t *testing.T) {
	worst := 0.0
	for x := -100.0; x <= 100; x += 0.00731 {
		want := 1 / (1 + math.Exp(-x))
		got := float64(sigmoid32(float32(x)))
		if d := math.Abs(got - want); d > worst {
			worst = d
		}
	}
	if worst > 2e-7 {
		t.Fatalf("sigmoid32 differs from the float64 formula by up to %.3g", worst)
	}
	if sigmoid32(float32(math.Inf(1))) != 1 || sigmoid32(float32(math.Inf(-1))) != 0 || !math.IsNaN(float64(sigmoid32(float32(math.NaN())))) {
		t.Fatal("sigmoid32 edges: want 1 at +Inf, 0 at -Inf, NaN at NaN")
	}
}
