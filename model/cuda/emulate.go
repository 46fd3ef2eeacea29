package cuda

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/lumina-workbench/lumina/model/exec"
)

// Emulator is a Backend on the CPU: each kernel by a Go function that computes what its CUDA source
// computes (element for element, the same float32/float64 choices; the order of float32 sums may
// differ), each gemm by the column-major product cuBLAS is asked for. It checks the lowering (which
// kernel, which places, which sizes, arguments of the C types the kernels declare, row-major products
// turned column-major) and everything built on steps, not the CUDA code: that is tools/gpucheck's job.
// Fresh memory is NaN, so a read of a place no step wrote shows in the results.
type Emulator struct {
	state, arena []float32
	// Memory is the device memory MemInfo reports, all of it free (the emulator's own memory is the
	// host's); NewEmulator sets an H100's 80 GiB.
	Memory int64
	// Steps counts the steps run, so that a test can tell work reached the device.
	Steps int
}

// NewEmulator is an emulated device with no memory yet.
func NewEmulator() *Emulator { return &Emulator{Memory: 80 << 30} }

func nans(n int64) []float32 {
	m := make([]float32, n)
	for i := range m {
		m[i] = float32(math.NaN())
	}
	return m
}

// Name is "emulator".
func (e *Emulator) Name() string { return "emulator" }

// Reserve allocates the state space, zeroed.
func (e *Emulator) Reserve(n int64) error {
	e.state = make([]float32, max(n, 1))
	return nil
}

// at is the memory from p on.
func (e *Emulator) at(p Ptr) []float32 {
	if p.Space == StateSpace {
		return e.state[p.Off:]
	}
	return e.arena[p.Off:]
}

// Read copies n floats at p to the host.
func (e *Emulator) Read(p Ptr, n int64) ([]float32, error) {
	return append([]float32(nil), e.at(p)[:n]...), nil
}

// Write copies data to p.
func (e *Emulator) Write(p Ptr, data []float32) error {
	copy(e.at(p)[:len(data)], data)
	return nil
}

// MemInfo reports Memory, all free.
func (e *Emulator) MemInfo() (free, total int64, err error) { return e.Memory, e.Memory, nil }

// Close frees everything.
func (e *Emulator) Close() error {
	e.state, e.arena = nil, nil
	return nil
}

// Run executes steps; inputs are read from their nodes' current values. A program larger than the
// arena gets a fresh one, NaN-filled: nothing a step reads may be left over from another program.
func (e *Emulator) Run(l *Lowered, steps []Step) error {
	if l != nil && int64(len(e.arena)) < l.Size {
		e.arena = nans(l.Size)
	}
	for i, s := range steps {
		if err := e.step(l, s); err != nil {
			return fmt.Errorf("cuda emulator: %s: %w", describeStep(l, steps, i), err)
		}
	}
	e.Steps += len(steps)
	return nil
}

// describeStep names step i for an error: its kernel and the node it lowers.
func describeStep(l *Lowered, steps []Step, i int) string {
	s := fmt.Sprintf("step %d (%s)", i, steps[i].Name)
	if l != nil && len(steps) == len(l.Steps) && i < len(l.From) && l.From[i] >= 0 {
		s += " of " + l.Prog.Instrs[l.From[i]].Node.Name()
	}
	return s
}

func (e *Emulator) step(l *Lowered, s Step) (err error) {
	switch s.Kind {
	case UploadStep:
		val := l.Prog.Values[s.Value]
		return exec.Fill(e.at(l.Place(s.Value))[:val.Size], val.Node.Value())
	case ZeroStep:
		clear(e.at(s.Dst)[:s.N])
	case CopyStep:
		copy(e.at(s.Dst)[:s.N], e.at(s.Src)[:s.N])
	case GemmStep:
		e.sgemm(l, s.Gemm.Cublas())
	case KernelStep:
		if err := s.Launch.Validate(); err != nil {
			return err
		}
		k, ok := emulated[s.Name]
		if !ok {
			return fmt.Errorf("no emulation of kernel %s", s.Name)
		}
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		k(args{e.at, s.Args})
	}
	return nil
}

// sgemm is cuBLAS's column-major C = op(A)·op(B) + beta·C (alpha 1), the reference BLAS loop.
func (e *Emulator) sgemm(l *Lowered, c Cublas) {
	a, b, cm := e.at(c.A), e.at(c.B), e.at(c.C)
	at := func(m []float32, trans bool, ld, i, j int) float32 { // element (i, j) of op(X), column-major storage
		if trans {
			return m[j+i*ld]
		}
		return m[i+j*ld]
	}
	col := func(j int) {
		for i := 0; i < c.M; i++ {
			var s float32
			for k := 0; k < c.K; k++ {
				s += at(a, c.TransA, c.Lda, i, k) * at(b, c.TransB, c.Ldb, k, j)
			}
			dst := &cm[i+j*c.Ldc]
			if c.Beta == 0 {
				*dst = s
			} else {
				*dst = s + c.Beta**dst
			}
		}
	}
	// Columns are independent: they run on every core.
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < c.N; j += workers {
				col(j)
			}
		}()
	}
	wg.Wait()
}

// args reads a launch's arguments with the C types of the kernel's signature; a wrong type panics
// (caught by step), as the same launch would pass garbage on a GPU.
type args struct {
	mem func(Ptr) []float32
	a   []any
}

func (a args) p(i int) []float32 { // a float pointer; nil for NULL
	p := a.a[i].(Ptr)
	if p.IsNull() {
		return nil
	}
	return a.mem(p)
}
func (a args) i(i int) int     { return a.a[i].(int) }
func (a args) l(i int) int64   { return a.a[i].(int64) }
func (a args) d(i int) float64 { return a.a[i].(float64) }

// doubles are the double array at pointer i, two floats per double.
func (a args) putDouble(i, k int, v float64) {
	p := a.p(i)
	bits := math.Float64bits(v)
	p[2*k], p[2*k+1] = math.Float32frombits(uint32(bits)), math.Float32frombits(uint32(bits>>32))
}
func (a args) getDouble(i, k int) float64 {
	p := a.p(i)
	return math.Float64frombits(uint64(math.Float32bits(p[2*k])) | uint64(math.Float32bits(p[2*k+1]))<<32)
}

func sigmoid32(v float32) float32 { return 1 / (1 + float32(math.Exp(float64(-v)))) }

var emulated = map[string]func(args){
	"silu_fwd": func(a args) {
		x, y := a.p(0), a.p(1)
		for i := range a.l(2) {
			y[i] = x[i] * sigmoid32(x[i])
		}
	},
	"silu_bwd": func(a args) {
		x, g, dx := a.p(0), a.p(1), a.p(2)
		for i := range a.l(3) {
			s := sigmoid32(x[i])
			dx[i] = g[i] * s * (1 + x[i]*(1-s))
		}
	},
	"swiglu_fwd": func(a args) {
		x, b, y := a.p(0), a.p(1), a.p(2)
		for i := range a.l(3) {
			y[i] = x[i] * sigmoid32(x[i]) * b[i]
		}
	},
	"swiglu_bwd": func(a args) {
		x, b, g, da, db := a.p(0), a.p(1), a.p(2), a.p(3), a.p(4)
		for i := range a.l(5) {
			s := sigmoid32(x[i])
			da[i] = g[i] * b[i] * s * (1 + x[i]*(1-s))
			db[i] = g[i] * x[i] * s
		}
	},
	"add_fwd": func(a args) {
		x, y, out := a.p(0), a.p(1), a.p(2)
		for i := range a.l(3) {
			out[i] = x[i] + y[i]
		}
	},
	"modulate_fwd": func(a args) {
		x, sc, y := a.p(0), a.p(1), a.p(2)
		B, L, D := a.i(3), a.i(4), a.i(5)
		for i := range B * L * D {
			y[i] = x[i] * (1 + sc[i/(L*D)*D+i%D])
		}
	},
	"sample_sums": func(a args) {
		x, c, gate, out := a.p(0), a.p(1), a.p(2), a.p(3)
		B, L, D := a.i(4), a.i(5), a.i(6)
		for i := range B * D {
			b, d := i/D, i%D
			var s float64
			for l := range L {
				k := (b*L+l)*D + d
				s += float64(x[k]) * float64(c[k])
			}
			if gate != nil {
				t := float32(math.Tanh(float64(gate[i])))
				s *= 1 - float64(t)*float64(t)
			}
			out[i] = float32(s)
		}
	},
	"gated_fwd": func(a args) {
		x, gate, y, out := a.p(0), a.p(1), a.p(2), a.p(3)
		B, L, D := a.i(4), a.i(5), a.i(6)
		for i := range B * L * D {
			out[i] = x[i] + float32(math.Tanh(float64(gate[i/(L*D)*D+i%D])))*y[i]
		}
	},
	"gated_bwd_dy": func(a args) {
		gate, g, dy := a.p(0), a.p(1), a.p(2)
		B, L, D := a.i(3), a.i(4), a.i(5)
		for i := range B * L * D {
			dy[i] = g[i] * float32(math.Tanh(float64(gate[i/(L*D)*D+i%D])))
		}
	},
	"bias_add": func(a args) {
		y, bias := a.p(0), a.p(1)
		rows, D := a.l(2), a.i(3)
		for i := range rows * int64(D) {
			y[i] += bias[i%int64(D)]
		}
	},
	"col_sum": func(a args) {
		x, out := a.p(0), a.p(1)
		rows, D := a.l(2), a.i(3)
		for d := range D {
			var s float64
			for r := range rows {
				s += float64(x[r*int64(D)+int64(d)])
			}
			out[d] = float32(s)
		}
	},
	"rmsnorm_fwd": func(a args) {
		x, w, y, rstd := a.p(0), a.p(1), a.p(2), a.p(3)
		rows, D, eps := a.l(4), a.i(5), a.d(6)
		for r := range rows {
			xr := x[r*int64(D):]
			var s float64
			for i := range D {
				s += float64(xr[i]) * float64(xr[i])
			}
			rs := 1 / math.Sqrt(s/float64(D)+eps)
			for i := range D {
				y[r*int64(D)+int64(i)] = xr[i] * float32(rs) * w[i]
			}
			if rstd != nil {
				rstd[r] = float32(rs)
			}
		}
	},
	"rmsnorm_bwd": func(a args) {
		x, w, g, dx, gwx := a.p(0), a.p(1), a.p(2), a.p(3), a.p(4)
		rows, D, eps := a.l(5), a.i(6), a.d(7)
		for r := range rows {
			o := r * int64(D)
			var ss, dot float64
			for i := range int64(D) {
				ss += float64(x[o+i]) * float64(x[o+i])
				dot += float64(g[o+i]) * float64(w[i]) * float64(x[o+i])
			}
			rs := 1 / math.Sqrt(ss/float64(D)+eps)
			c := rs * rs * rs * dot / float64(D)
			for i := range int64(D) {
				if dx != nil {
					dx[o+i] = float32(rs*float64(g[o+i])*float64(w[i]) - c*float64(x[o+i]))
				}
				if gwx != nil {
					gwx[o+i] = float32(float64(g[o+i]) * float64(x[o+i]) * rs)
				}
			}
		}
	},
	"layernorm_fwd": func(a args) {
		x, y := a.p(0), a.p(1)
		rows, D, eps := a.l(2), a.i(3), a.d(4)
		for r := range rows {
			o := r * int64(D)
			mu, rs := meanRstd(x[o:o+int64(D)], eps)
			for i := range int64(D) {
				y[o+i] = float32((float64(x[o+i]) - mu) * rs)
			}
		}
	},
	"layernorm_bwd": func(a args) {
		x, g, dx := a.p(0), a.p(1), a.p(2)
		rows, D, eps := a.l(3), a.i(4), a.d(5)
		for r := range rows {
			o := r * int64(D)
			mu, rs := meanRstd(x[o:o+int64(D)], eps)
			var mg, mgx float64
			for i := range int64(D) {
				mg += float64(g[o+i])
				mgx += float64(g[o+i]) * (float64(x[o+i]) - mu) * rs
			}
			mg, mgx = mg/float64(D), mgx/float64(D)
			for i := range int64(D) {
				dx[o+i] = float32(rs * (float64(g[o+i]) - mg - (float64(x[o+i])-mu)*rs*mgx))
			}
		}
	},
	"patchify": func(a args) {
		img, tok := a.p(0), a.p(1)
		B, C, H, W, p := a.i(2), a.i(3), a.i(4), a.i(5), a.i(6)
		for i := range B * C * H * W {
			tok[patchIndex(i, C, H, W, p)] = img[i]
		}
	},
	"unpatchify": func(a args) {
		tok, img := a.p(0), a.p(1)
		B, C, H, W, p := a.i(2), a.i(3), a.i(4), a.i(5), a.i(6)
		for i := range B * C * H * W {
			img[i] = tok[patchIndex(i, C, H, W, p)]
		}
	},
	"avgpool_fwd": func(a args) {
		x, y := a.p(0), a.p(1)
		N, H, W, k := int(a.l(2)), a.i(3), a.i(4), a.i(5)
		ho, wo := H/k, W/k
		for i := range N * ho * wo {
			xo, yo, n := i%wo, (i/wo)%ho, i/(wo*ho)
			var s float64
			for dy := range k {
				for dx := range k {
					s += float64(x[(n*H+yo*k+dy)*W+xo*k+dx])
				}
			}
			y[i] = float32(s / float64(k*k))
		}
	},
	"avgpool_bwd": func(a args) {
		dy, dx := a.p(0), a.p(1)
		N, H, W, k := int(a.l(2)), a.i(3), a.i(4), a.i(5)
		ho, wo := H/k, W/k
		for i := range N * H * W {
			xx, yy, n := i%W, (i/W)%H, i/(W*H)
			dx[i] = dy[(n*ho+yy/k)*wo+xx/k] / float32(k*k)
		}
	},
	"sq_partial": func(a args) {
		x, y := a.p(0), a.p(1)
		n := a.l(3)
		l, parts, err := Reduce(n)
		if err != nil {
			panic(err)
		}
		stride := int64(l.Grid[0] * l.Block[0])
		for blk := range parts { // each block's threads' grid-stride elements
			var s float64
			for t := range int64(l.Block[0]) {
				for i := int64(blk)*int64(l.Block[0]) + t; i < n; i += stride {
					d := float64(x[i])
					if y != nil {
						d -= float64(y[i])
					}
					s += d * d
				}
			}
			a.putDouble(2, blk, s)
		}
	},
	"sq_final": func(a args) {
		var s float64
		for k := range a.i(1) {
			s += a.getDouble(0, k)
		}
		a.p(3)[0] = float32(s * a.d(2))
	},
	"mse_bwd": func(a args) {
		pred, target, g, dpred, dtarget := a.p(0), a.p(1), a.p(2), a.p(3), a.p(4)
		n := a.l(5)
		c := 2 * g[0] / float32(n)
		for i := range n {
			d := c * (pred[i] - target[i])
			if dpred != nil {
				dpred[i] = d
			}
			if dtarget != nil {
				dtarget[i] = -d
			}
		}
	},
	"adamw_step": func(a args) {
		p, g, m, v := a.p(0), a.p(1), a.p(2), a.p(3)
		n, b1, b2, eps, decay, stepSize, bc2 := a.l(4), a.d(5), a.d(6), a.d(7), a.d(8), a.d(9), a.d(10)
		gs := 1.0
		if f := a.p(11); f != nil {
			gs = float64(f[0])
		}
		for i := range n {
			pp, gg, mm, vv := float64(p[i])*decay, float64(g[i])*gs, float64(m[i]), float64(v[i])
			mm += (1 - b1) * (gg - mm)
			vv = b2*vv + (1-b2)*gg*gg
			pp -= stepSize * mm / (math.Sqrt(vv)/bc2 + eps)
			p[i], m[i], v[i] = float32(pp), float32(mm), float32(vv)
		}
	},
	"ema_update": func(a args) {
		sh, w := a.p(0), a.p(1)
		d := a.d(3)
		for i := range a.l(2) {
			sh[i] = float32(d*float64(sh[i]) + (1-d)*float64(w[i]))
		}
	},
	"scale_inplace": func(a args) {
		x, f := a.p(0), a.p(1)
		for i := range a.l(2) {
			x[i] *= f[0]
		}
	},
	"clip_scale": func(a args) {
		var s float64
		for k := range a.i(1) {
			s += a.getDouble(0, k)
		}
		n := math.Sqrt(s)
		a.putDouble(3, 0, n)
		c := a.d(2) / (n + 1e-6)
		a.p(4)[0] = 1
		if c < 1 {
			a.p(4)[0] = float32(c)
		}
	},
	"embed_fwd": func(a args) {
		table, ids, out := a.p(0), a.p(1), a.p(2)
		rows, D, V := a.l(3), a.i(4), a.i(5)
		for i := range rows * int64(D) {
			id := int(ids[i/int64(D)])
			out[i] = 0
			if id >= 0 && id < V {
				out[i] = table[int64(id)*int64(D)+i%int64(D)]
			}
		}
	},
	"embed_bwd": func(a args) {
		ids, g, dt := a.p(0), a.p(1), a.p(2)
		rows, D, V := a.l(3), a.i(4), a.i(5)
		for d := range int64(D) {
			for r := range rows {
				if id := int(ids[r]); id >= 0 && id < V {
					dt[int64(id)*int64(D)+d] += g[r*int64(D)+d]
				}
			}
		}
	},
	"ce_rows": func(a args) {
		logits, targets, mask, lse := a.p(0), a.p(1), a.p(2), a.p(4)
		N, V := a.i(5), a.i(6)
		for n := range N {
			row := logits[n*V : (n+1)*V]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v) - mx)
			}
			l := mx + math.Log(s)
			lse[n] = float32(l)
			term := 0.0
			if t := int(targets[n]); mask[n] != 0 && t >= 0 && t < V {
				term = float64(mask[n]) * (l - float64(row[t]))
			}
			a.putDouble(3, n, term)
		}
	},
	"ce_final": func(a args) {
		mask := a.p(1)
		N := a.i(2)
		var s, m float64
		for n := range N {
			s += a.getDouble(0, n)
			m += float64(mask[n])
		}
		a.p(3)[0] = 0
		if m > 0 {
			a.p(3)[0] = float32(s / m)
		}
		a.p(4)[0] = float32(m)
	},
	"ce_bwd": func(a args) {
		logits, targets, mask, lse, msum, g, dl := a.p(0), a.p(1), a.p(2), a.p(3), a.p(4), a.p(5), a.p(6)
		N, V := a.i(7), a.i(8)
		M := float64(msum[0])
		for i := range N * V {
			n, j := i/V, i%V
			if mask[n] == 0 || M == 0 {
				dl[i] = 0
				continue
			}
			c := float64(g[0]) * float64(mask[n]) / M
			d := c * math.Exp(float64(logits[i])-float64(lse[n]))
			if j == int(targets[n]) {
				d -= c
			}
			dl[i] = float32(d)
		}
	},
	"attn_prep":  emuAttnPrep,
	"xattn_prep": emuXattnPrep,
	"xattn_post": emuXattnPost,
	"attn_fwd":   emuAttnFwd,
	"attn_bwd_dq": func(a args) {
		emuAttnBwd(a, true)
	},
	"attn_bwd_dkv": func(a args) {
		emuAttnBwd(a, false)
	},
	"attn_post": emuAttnPost,
}

func meanRstd(x []float32, eps float64) (mu, rs float64) {
	for _, v := range x {
		mu += float64(v)
	}
	mu /= float64(len(x))
	var v float64
	for _, e := range x {
		v += (float64(e) - mu) * (float64(e) - mu)
	}
	return mu, 1 / math.Sqrt(v/float64(len(x))+eps)
}

// patchIndex is patch.cu's patch_index: where image element i goes among the tokens.
func patchIndex(i, C, H, W, p int) int {
	x, y, c, b := i%W, (i/W)%H, (i/(W*H))%C, i/(W*H*C)
	gw := W / p
	tok := (y/p)*gw + x/p
	inner := ((y%p)*p+x%p)*C + c
	return (b*((H/p)*gw)+tok)*(p*p*C) + inner
}
