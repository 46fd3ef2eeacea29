//go:build cuda

package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"

	"github.com/lumina-workbench/lumina/model/cuda"
	"github.com/lumina-workbench/lumina/model/ops"
)

// env is one check's device and random source; its helpers stop at the first error.
type env struct {
	d    *cuda.Device
	rng  *rand.Rand
	err  error
	bufs []cuda.Buf
}

func (e *env) randn(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(e.rng.NormFloat64())
	}
	return x
}

func (e *env) up(x []float32) cuda.Buf {
	if e.err != nil {
		return cuda.Buf{}
	}
	b, err := e.d.Upload(x)
	e.err = err
	e.bufs = append(e.bufs, b)
	return b
}

func (e *env) zeros(n int) cuda.Buf { return e.up(make([]float32, n)) }

func (e *env) launch(name string, l cuda.Launch, lerr error, args ...any) {
	if e.err == nil && lerr != nil {
		e.err = fmt.Errorf("%s: %w", name, lerr)
	}
	if e.err == nil {
		e.err = e.d.Launch(name, l, args...)
	}
}

func (e *env) down(b cuda.Buf) []float32 {
	if e.err != nil {
		return nil
	}
	x, err := e.d.Download(b)
	e.err = err
	return x
}

func (e *env) free() {
	for _, b := range e.bufs {
		e.d.Free(b)
	}
}

func run(w io.Writer, index int, only map[string]bool, seed uint64) error {
	runtime.LockOSThread() // the kernel checks drive the context from this goroutine
	g, err := cuda.OpenGPU(index)
	if err != nil {
		return err
	}
	defer g.Close()
	free, total, _ := g.MemInfo()
	fmt.Fprintf(w, "device %d: %s, %.1f GiB free of %.1f GiB\n\n", index, g.D.Name, float64(free)/(1<<30), float64(total)/(1<<30))
	var rs []result
	for _, c := range checks {
		if len(only) > 0 && !only[c.Name] {
			continue
		}
		if c.Pending != "" {
			rs = append(rs, result{name: c.Name, skip: c.Pending})
			continue
		}
		if pc, ok := programChecks[c.Name]; ok {
			rel, err := pc(g, seed)
			rs = append(rs, result{name: c.Name, relErr: rel, err: err, tol: c.Tol})
			continue
		}
		release, err := g.D.Bind()
		if err != nil {
			return err
		}
		e := &env{d: g.D, rng: rand.New(rand.NewPCG(seed, uint64(len(rs))))}
		rel := impls[c.Name](e)
		e.free()
		release()
		rs = append(rs, result{name: c.Name, relErr: rel, err: e.err, tol: c.Tol})
	}
	if printTable(w, rs) > 0 {
		return fmt.Errorf("some checks failed")
	}
	return nil
}

var impls = map[string]func(*env) float64{
	"silu": func(e *env) float64 {
		n := 100003
		x, g := e.randn(n), e.randn(n)
		y, dx := e.zeros(n), e.zeros(n)
		l, le := cuda.Elementwise(int64(n))
		e.launch("silu_fwd", l, le, e.up(x), y, int64(n))
		e.launch("silu_bwd", l, le, e.bufs[0], e.up(g), dx, int64(n))
		wy, wdx := ops.RefSiLU(x, g)
		return relErr(pair(e.down(y), wy), pair(e.down(dx), wdx))
	},
	"swiglu": func(e *env) float64 {
		n := 65537
		a, b, g := e.randn(n), e.randn(n), e.randn(n)
		da, db, gb, y := e.up(a), e.up(b), e.up(g), e.zeros(n)
		ga, gbb := e.zeros(n), e.zeros(n)
		l, le := cuda.Elementwise(int64(n))
		e.launch("swiglu_fwd", l, le, da, db, y, int64(n))
		e.launch("swiglu_bwd", l, le, da, db, gb, ga, gbb, int64(n))
		wy, wda, wdb := ops.RefSwiGLU(a, b, g)
		return relErr(pair(e.down(y), wy), pair(e.down(ga), wda), pair(e.down(gbb), wdb))
	},
	"add": func(e *env) float64 {
		n := 4099
		x, y := e.randn(n), e.randn(n)
		out := e.zeros(n)
		l, le := cuda.Elementwise(int64(n))
		e.launch("add_fwd", l, le, e.up(x), e.up(y), out, int64(n))
		want := make([]float32, n)
		for i := range want {
			want[i] = x[i] + y[i]
		}
		return relErr(pair(e.down(out), want))
	},
	"modulate": func(e *env) float64 {
		B, L, D := 3, 37, 96
		x, sc, g := e.randn(B*L*D), e.randn(B*D), e.randn(B*L*D)
		y, ds := e.zeros(B*L*D), e.zeros(B*D)
		l, le := cuda.Elementwise(int64(B * L * D))
		e.launch("modulate_fwd", l, le, e.up(x), e.up(sc), y, B, L, D)
		ls, lse := cuda.Elementwise(int64(B * D))
		e.launch("sample_sums", ls, lse, e.up(g), e.bufs[0], cuda.NullBuf, ds, B, L, D)
		wy, wds := make([]float64, B*L*D), make([]float64, B*D)
		for i := range wy {
			b, dd := i/(L*D), i%D
			wy[i] = float64(x[i]) * (1 + float64(sc[b*D+dd]))
			wds[b*D+dd] += float64(g[i]) * float64(x[i])
		}
		return relErr([2][]float64{f64(e.down(y)), wy}, [2][]float64{f64(e.down(ds)), wds})
	},
	"gated": func(e *env) float64 {
		B, L, D := 2, 19, 64
		x, gate, y, g := e.randn(B*L*D), e.randn(B*D), e.randn(B*L*D), e.randn(B*L*D)
		out, dy, dgate := e.zeros(B*L*D), e.zeros(B*L*D), e.zeros(B*D)
		bx, bgate, by, bg := e.up(x), e.up(gate), e.up(y), e.up(g)
		l, le := cuda.Elementwise(int64(B * L * D))
		e.launch("gated_fwd", l, le, bx, bgate, by, out, B, L, D)
		e.launch("gated_bwd_dy", l, le, bgate, bg, dy, B, L, D)
		ls, lse := cuda.Elementwise(int64(B * D))
		e.launch("sample_sums", ls, lse, bg, by, bgate, dgate, B, L, D)
		wo, wdy, wdg := make([]float64, B*L*D), make([]float64, B*L*D), make([]float64, B*D)
		for i := range wo {
			b, dd := i/(L*D), i%D
			t := math.Tanh(float64(gate[b*D+dd]))
			wo[i] = float64(x[i]) + t*float64(y[i])
			wdy[i] = float64(g[i]) * t
			wdg[b*D+dd] += float64(g[i]) * float64(y[i]) * (1 - t*t)
		}
		return relErr([2][]float64{f64(e.down(out)), wo}, [2][]float64{f64(e.down(dy)), wdy}, [2][]float64{f64(e.down(dgate)), wdg})
	},
	"rmsnorm": func(e *env) float64 {
		rows, D := 301, 200
		x, wt, g := e.randn(rows*D), e.randn(D), e.randn(rows*D)
		bx, bw, bg := e.up(x), e.up(wt), e.up(g)
		y, dx, gwx, dw := e.zeros(rows*D), e.zeros(rows*D), e.zeros(rows*D), e.zeros(D)
		l, le := cuda.Rows(int64(rows), D)
		e.launch("rmsnorm_fwd", l, le, bx, bw, y, cuda.NullBuf, int64(rows), D, 1e-5)
		e.launch("rmsnorm_bwd", l, le, bx, bw, bg, dx, gwx, int64(rows), D, 1e-5)
		lc, lce := cuda.Elementwise(int64(D))
		e.launch("col_sum", lc, lce, gwx, dw, int64(rows), D)
		wy, wdx, wdw := ops.RefRMSNorm(x, wt, g, 1e-5)
		return relErr(pair(e.down(y), wy), pair(e.down(dx), wdx), pair(e.down(dw), wdw))
	},
	"layernorm": func(e *env) float64 {
		rows, D := 257, 1100 // D over 1024: a block strides over the row
		x, g := e.randn(rows*D), e.randn(rows*D)
		bx, bg := e.up(x), e.up(g)
		y, dx := e.zeros(rows*D), e.zeros(rows*D)
		l, le := cuda.Rows(int64(rows), D)
		e.launch("layernorm_fwd", l, le, bx, y, int64(rows), D, 1e-6)
		e.launch("layernorm_bwd", l, le, bx, bg, dx, int64(rows), D, 1e-6)
		wy, wdx := ops.RefLayerNorm(x, g, D, 1e-6)
		return relErr(pair(e.down(y), wy), pair(e.down(dx), wdx))
	},
	"attention": checkAttention,
	"patchify": func(e *env) float64 {
		B, C, H, W, p := 2, 3, 16, 12, 4
		n := B * C * H * W
		img := e.randn(n)
		tok, back := e.zeros(n), e.zeros(n)
		l, le := cuda.Elementwise(int64(n))
		e.launch("patchify", l, le, e.up(img), tok, B, C, H, W, p)
		e.launch("unpatchify", l, le, tok, back, B, C, H, W, p)
		want := make([]float32, n)
		gw, N := W/p, (H/p)*(W/p)
		for b := 0; b < B; b++ {
			for c := 0; c < C; c++ {
				for y := 0; y < H; y++ {
					for x := 0; x < W; x++ {
						t := (y/p)*gw + x/p
						want[(b*N+t)*p*p*C+((y%p)*p+x%p)*C+c] = img[((b*C+c)*H+y)*W+x]
					}
				}
			}
		}
		return relErr(pair(e.down(tok), want), pair(e.down(back), img))
	},
	"avgpool": func(e *env) float64 {
		N, H, W, k := 6, 32, 16, 4
		x, g := e.randn(N*H*W), e.randn(N*(H/k)*(W/k))
		y, dx := e.zeros(N*(H/k)*(W/k)), e.zeros(N*H*W)
		lf, lfe := cuda.Elementwise(int64(N * (H / k) * (W / k)))
		e.launch("avgpool_fwd", lf, lfe, e.up(x), y, int64(N), H, W, k)
		lb, lbe := cuda.Elementwise(int64(N * H * W))
		e.launch("avgpool_bwd", lb, lbe, e.up(g), dx, int64(N), H, W, k)
		wy, wdx := make([]float64, len(g)), make([]float64, len(x))
		for i, v := range x {
			n, yy, xx := i/(H*W), (i/W)%H, i%W
			o := (n*(H/k)+yy/k)*(W/k) + xx/k
			wy[o] += float64(v) / float64(k*k)
			wdx[i] = float64(g[o]) / float64(k*k)
		}
		return relErr([2][]float64{f64(e.down(y)), wy}, [2][]float64{f64(e.down(dx)), wdx})
	},
	"loss": func(e *env) float64 {
		n := 3*1024*1024 + 7
		pred, target := e.randn(n), e.randn(n)
		bp, bt := e.up(pred), e.up(target)
		l, parts, le := cuda.Reduce(int64(n))
		partial, out, gOne := e.zeros(2*parts), e.zeros(1), e.up([]float32{1})
		dp, dt := e.zeros(n), e.zeros(n)
		e.launch("sq_partial", l, le, bp, bt, partial, int64(n))
		one := cuda.Launch{Grid: [3]int{1, 1, 1}, Block: [3]int{32, 1, 1}}
		e.launch("sq_final", one, nil, partial, parts, 1/float64(n), out)
		le2, lee := cuda.Elementwise(int64(n))
		e.launch("mse_bwd", le2, lee, bp, bt, gOne, dp, dt, int64(n))
		var s float64
		wdp, wdt := make([]float64, n), make([]float64, n)
		for i := range pred {
			d := float64(pred[i]) - float64(target[i])
			s += d * d
			wdp[i], wdt[i] = 2*d/float64(n), -2*d/float64(n)
		}
		return relErr([2][]float64{f64(e.down(out)), {s / float64(n)}}, [2][]float64{f64(e.down(dp)), wdp}, [2][]float64{f64(e.down(dt)), wdt})
	},
	"adamw": func(e *env) float64 {
		n := 10007
		p, g, m, v := e.randn(n), e.randn(n), e.randn(n), e.randn(n)
		for i := range v {
			v[i] *= v[i]
		}
		bp, bm, bv := e.up(p), e.up(m), e.up(v)
		lr, b1, b2, eps, wd, step := 2e-4, 0.9, 0.95, 1e-8, 0.01, 3.0
		bc1, bc2 := 1-math.Pow(b1, step), math.Sqrt(1-math.Pow(b2, step))
		l, le := cuda.Elementwise(int64(n))
		e.launch("adamw_step", l, le, bp, e.up(g), bm, bv, int64(n), b1, b2, eps, 1-lr*wd, lr/bc1, bc2, cuda.NullBuf)
		wp, wm, wv := make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range p { // optim.AdamW.Step's update, in float64
			pp, mm, vv, gg := float64(p[i])*(1-lr*wd), float64(m[i]), float64(v[i]), float64(g[i])
			mm += (1 - b1) * (gg - mm)
			vv = b2*vv + (1-b2)*gg*gg
			pp -= lr / bc1 * mm / (math.Sqrt(vv)/bc2 + eps)
			wp[i], wm[i], wv[i] = float64(float32(pp)), float64(float32(mm)), float64(float32(vv))
		}
		return relErr([2][]float64{f64(e.down(bp)), wp}, [2][]float64{f64(e.down(bm)), wm}, [2][]float64{f64(e.down(bv)), wv})
	},
	"ema": func(e *env) float64 {
		n := 5000
		s, w := e.randn(n), e.randn(n)
		bs := e.up(s)
		l, le := cuda.Elementwise(int64(n))
		e.launch("ema_update", l, le, bs, e.up(w), int64(n), 0.999)
		want := make([]float64, n)
		for i := range s {
			want[i] = float64(float32(0.999*float64(s[i]) + 0.001*float64(w[i])))
		}
		return relErr([2][]float64{f64(e.down(bs)), want})
	},
}

// checkAttention runs the five attention passes on a batch of 2 whose second sample pads its last 5
// keys, with GQA (4 query heads on 2 kv heads) and head dim 32, against ops.Attention's kernels.
func checkAttention(e *env) float64 {
	B, L, H, KV, hd := 2, 77, 4, 2, 32
	s := cuda.AttnShape{B: B, L: L, Heads: H, KVHeads: KV, HeadDim: hd}
	W := (H + 2*KV) * hd
	qkv, qw, kw, gout := e.randn(B*L*W), e.randn(hd), e.randn(hd), e.randn(B*L*H*hd)
	cos, sin := make([]float32, B*L*hd/2), make([]float32, B*L*hd/2)
	for i := range cos {
		a := e.rng.Float64() * 2 * math.Pi
		cos[i], sin[i] = float32(math.Cos(a)), float32(math.Sin(a))
	}
	mask := make([]float32, B*L)
	for i := range mask {
		if i < 2*L-5 {
			mask[i] = 1
		}
	}
	bqkv, bqw, bkw, bcos, bsin, bmask, bg := e.up(qkv), e.up(qw), e.up(kw), e.up(cos), e.up(sin), e.up(mask), e.up(gout)
	qr, kr, vv := e.zeros(B*H*L*hd), e.zeros(B*KV*L*hd), e.zeros(B*KV*L*hd)
	rq, rk, lse := e.zeros(B*H*L), e.zeros(B*KV*L), e.zeros(B*H*L)
	out, dq, dk, dv := e.zeros(B*L*H*hd), e.zeros(B*H*L*hd), e.zeros(B*KV*L*hd), e.zeros(B*KV*L*hd)
	dqkv, dwqRows, dwkRows, dqw, dkw := e.zeros(B*L*W), e.zeros(B*L*H*hd), e.zeros(B*L*KV*hd), e.zeros(hd), e.zeros(hd)
	lp, lpe := cuda.AttnPrep(s)
	lq, lqe := cuda.AttnQuery(s)
	lk, lke := cuda.AttnKV(s)
	e.launch("attn_prep", lp, lpe, bqkv, bqw, bkw, bcos, bsin, qr, kr, vv, rq, rk, B, L, H, KV, hd, 1e-5)
	e.launch("attn_fwd", lq, lqe, qr, kr, vv, bmask, out, lse, B, L, L, H, KV, hd, 0)
	e.launch("attn_bwd_dq", lq, lqe, qr, kr, vv, bmask, out, bg, lse, dq, B, L, L, H, KV, hd, 0)
	e.launch("attn_bwd_dkv", lk, lke, qr, kr, vv, bmask, out, bg, lse, dk, dv, B, L, L, H, KV, hd, 0)
	e.launch("attn_post", lp, lpe, bqkv, bqw, bkw, bcos, bsin, rq, rk, dq, dk, dv, dqkv, dwqRows, dwkRows, B, L, H, KV, hd)
	lc, lce := cuda.Elementwise(int64(hd))
	e.launch("col_sum", lc, lce, dwqRows, dqw, int64(B*L*H), hd)
	e.launch("col_sum", lc, lce, dwkRows, dkw, int64(B*L*KV), hd)
	wo, wdqkv, wdqw, wdkw, err := ops.RefAttention(B, L, ops.AttnOpts{Heads: H, KVHeads: KV, Eps: 1e-5}, qkv, qw, kw, cos, sin, mask, gout)
	if err != nil && e.err == nil {
		e.err = err
	}
	return relErr(pair(e.down(out), wo), pair(e.down(dqkv), wdqkv), pair(e.down(dqw), wdqw), pair(e.down(dkw), wdkw))
}
