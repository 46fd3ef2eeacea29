package ops

import (
	"math"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// refCrossAttention is an independent float64 reference for the cross-attention kernel, written per
// element from its definition: RMSNorm each query and key head over hd with its weight, repeat kv heads,
// masked softmax of scaled dot products, weighted sum of values; a query with no key gets zeros. It
// shares no code with xattnkernel.go.
func refCrossAttention(B, Lq, Lk, H, KV, hd int, eps float64, q, kv, qw, kw, mask []float64) []float64 {
	norm := func(x, w []float64) []float64 {
		ms := 0.0
		for _, v := range x {
			ms += v * v / float64(len(x))
		}
		y := make([]float64, len(x))
		for d, v := range x {
			y[d] = v / math.Sqrt(ms+eps) * w[d]
		}
		return y
	}
	out := make([]float64, B*Lq*H*hd)
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			g := h / (H / KV)
			for i := 0; i < Lq; i++ {
				qi := norm(q[(b*Lq+i)*H*hd+h*hd:(b*Lq+i)*H*hd+(h+1)*hd], qw)
				scores := make([]float64, Lk)
				mx := math.Inf(-1)
				for j := 0; j < Lk; j++ {
					if mask != nil && mask[b*Lk+j] == 0 {
						continue
					}
					kj := norm(kv[(b*Lk+j)*2*KV*hd+g*hd:(b*Lk+j)*2*KV*hd+(g+1)*hd], kw)
					for d := range kj {
						scores[j] += qi[d] * kj[d]
					}
					scores[j] /= math.Sqrt(float64(hd))
					mx = math.Max(mx, scores[j])
				}
				if math.IsInf(mx, -1) {
					continue
				}
				z := 0.0
				for j := 0; j < Lk; j++ {
					if mask == nil || mask[b*Lk+j] != 0 {
						z += math.Exp(scores[j] - mx)
					}
				}
				for j := 0; j < Lk; j++ {
					if mask != nil && mask[b*Lk+j] == 0 {
						continue
					}
					p := math.Exp(scores[j]-mx) / z
					for d := 0; d < hd; d++ {
						out[(b*Lq+i)*H*hd+h*hd+d] += p * kv[(b*Lk+j)*2*KV*hd+(KV+g)*hd+d]
					}
				}
			}
		}
	}
	return out
}

// xattnCase is a randomised cross-attention problem: B samples of Lq queries against Lk keys, sample b
// keeping its first keyLens[b] keys (0: every key masked).
type xattnCase struct {
	B, Lq, Lk, H, KV, hd int
	q, kv, qw, kw, mask  []float64
}

func newXattnCase(seed uint64, Lq, H, KV, hd int, keyLens []int) xattnCase {
	r := rng(seed)
	Lk := 0
	for _, n := range keyLens {
		Lk = max(Lk, n)
	}
	Lk = max(Lk, 1)
	B := len(keyLens)
	c := xattnCase{B: B, Lq: Lq, Lk: Lk, H: H, KV: KV, hd: hd,
		q: randn(r, B*Lq*H*hd, 1.5), kv: randn(r, B*Lk*2*KV*hd, 1.5), mask: make([]float64, B*Lk)}
	c.qw, c.kw = make([]float64, hd), make([]float64, hd)
	for d := range c.qw {
		c.qw[d] = 1 + 0.3*r.NormFloat64()
		c.kw[d] = 1 + 0.3*r.NormFloat64()
	}
	for b, n := range keyLens {
		for j := 0; j < n; j++ {
			c.mask[b*Lk+j] = 1
		}
	}
	return c
}

func (c xattnCase) ins(masked bool) []tin {
	ins := []tin{
		{"q", []int{c.B, c.Lq, c.H * c.hd}, c.q, true},
		{"kv", []int{c.B, c.Lk, 2 * c.KV * c.hd}, c.kv, true},
		{"qNorm", []int{c.hd}, c.qw, true},
		{"kNorm", []int{c.hd}, c.kw, true},
	}
	if masked {
		ins = append(ins, tin{"keyMask", []int{c.B, c.Lk}, c.mask, false})
	}
	return ins
}

func (c xattnCase) fn(masked bool) graphFn {
	o := AttnOpts{Heads: c.H, KVHeads: c.KV, Eps: 1e-5}
	return func(in []*G.Node) (*G.Node, error) {
		var m *G.Node
		if masked {
			m = in[4]
		}
		return CrossAttention(in[0], in[1], in[2], in[3], m, o)
	}
}

// TestCrossAttentionOp checks the forward against the reference (float64 exactly, float32 against
// float64) and every gradient against central finite differences, with grouped-query heads, more
// queries than keys and fewer, a padded sample and a sample with no key at all.
func TestCrossAttentionOp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		Lq      int
		keyLens []int
		masked  bool
	}{
		{"masked", 5, []int{3, 1, 0}, true},
		{"more-keys", 2, []int{6, 4}, true},
		{"nomask", 4, []int{3, 3}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newXattnCase(81, tc.Lq, 4, 2, 6, tc.keyLens)
			var mask []float64
			if tc.masked {
				mask = c.mask
			}
			want := refCrossAttention(c.B, c.Lq, c.Lk, c.H, c.KV, c.hd, 1e-5, c.q, c.kv, c.qw, c.kw, mask)
			ins, f := c.ins(tc.masked), c.fn(tc.masked)
			checkForward(t, ins, f, want, tensor.Shape{c.B, c.Lq, c.H * c.hd})
			requireGrads(t, ins, f, 400, gradTol)
		})
	}
}

// TestCrossAttentionNoKeys: a sample whose keys are all masked gets a zero output and passes no
// gradient to its queries or to its (hidden) keys and values.
func TestCrossAttentionNoKeys(t *testing.T) {
	c := newXattnCase(83, 3, 2, 1, 4, []int{2, 0})
	h, err := newHarness(tensor.Float64, c.ins(true), c.fn(true), true)
	if err != nil {
		t.Fatal(err)
	}
	defer h.m.Close()
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	per := c.Lq * c.H * c.hd
	for i, v := range asF64(h.out.Value())[per:] {
		if v != 0 {
			t.Fatalf("output %d of the sample without keys is %g, want 0", i, v)
		}
	}
	dq, dkv := asF64(h.grads[0].Value()), asF64(h.grads[1].Value())
	for i, v := range dq[per:] {
		if v != 0 {
			t.Fatalf("q gradient %d of the sample without keys is %g, want 0", i, v)
		}
	}
	perKV := c.Lk * 2 * c.KV * c.hd
	for i, v := range dkv[perKV:] {
		if v != 0 {
			t.Fatalf("kv gradient %d of the sample without keys is %g, want 0", i, v)
		}
	}
	nonzero := false
	for _, v := range dq[:per] {
		nonzero = nonzero || v != 0
	}
	if !nonzero {
		t.Fatal("the sample with keys got no query gradient")
	}
}

// TestCrossAttentionIndependentOfCores: tasks write disjoint memory and the weight gradients are summed
// in task order, so one and two cores give bit-identical outputs and gradients.
func TestCrossAttentionIndependentOfCores(t *testing.T) {
	c := newXattnCase(85, 7, 4, 2, 6, []int{5, 2, 4})
	run := func(procs int) [][]float64 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		h, err := newHarness(tensor.Float32, c.ins(true), c.fn(true), true)
		if err != nil {
			t.Fatal(err)
		}
		defer h.m.Close()
		if err := h.run(); err != nil {
			t.Fatal(err)
		}
		out := [][]float64{asF64(h.out.Value())}
		for _, g := range h.grads {
			out = append(out, asF64(g.Value()))
		}
		return out
	}
	one, two := run(1), run(2)
	for k := range one {
		for i := range one[k] {
			if one[k][i] != two[k][i] {
				t.Fatalf("result %d[%d]: %v on 1 core, %v on 2", k, i, one[k][i], two[k][i])
			}
		}
	}
}

func TestCrossAttentionBadShapes(t *testing.T) {
	g := G.NewGraph()
	n := func(name string, s ...int) *G.Node {
		return G.NewTensor(g, tensor.Float64, len(s), G.WithShape(s...), G.WithName(name), G.WithInit(G.Zeroes()))
	}
	o := AttnOpts{Heads: 2, KVHeads: 1, Eps: 1e-5}
	q, kv, w := n("q", 2, 3, 8), n("kv", 2, 5, 8), n("w", 4)
	cases := map[string]func() (*G.Node, error){
		"kv width":   func() (*G.Node, error) { return CrossAttention(q, n("kv6", 2, 5, 6), w, w, nil, o) },
		"kv batch":   func() (*G.Node, error) { return CrossAttention(q, n("kvb", 3, 5, 8), w, w, nil, o) },
		"q heads":    func() (*G.Node, error) { return CrossAttention(n("q7", 2, 3, 7), kv, w, w, nil, o) },
		"norm width": func() (*G.Node, error) { return CrossAttention(q, kv, n("w3", 3), w, nil, o) },
		"mask":       func() (*G.Node, error) { return CrossAttention(q, kv, w, w, n("m", 2, 3), o) },
		"causal": func() (*G.Node, error) {
			return CrossAttention(q, kv, w, w, nil, AttnOpts{Heads: 2, KVHeads: 1, Eps: 1e-5, Causal: true})
		},
		"groups": func() (*G.Node, error) { return CrossAttention(q, kv, w, w, nil, AttnOpts{Heads: 2, KVHeads: 3}) },
	}
	for name, f := range cases {
		out, err := f()
		if err == nil {
			t.Errorf("%s: no error (output %v)", name, out.Shape())
			continue
		}
		t.Logf("%s: %v", name, err)
	}
	if _, err := CrossAttention(q, kv, w, w, n("mask", 2, 5), o); err != nil {
		t.Fatalf("valid shapes refused: %v", err)
	}
}
