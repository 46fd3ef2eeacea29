package cuda

import "math"

// The attention passes as attention.cu computes them, with the probabilities written out instead of
// streamed (the online softmax is checked against this form in launch_test.go).

// attnArgs are a pass's sizes: L queries, Lk keys.
type attnArgs struct{ B, L, Lk, H, KV, hd int }

func (s attnArgs) qRow(b, h, i int) int  { return ((b*s.H+h)*s.L + i) * s.hd }   // qr [B, H, L, hd]
func (s attnArgs) kRow(b, g, j int) int  { return ((b*s.KV+g)*s.Lk + j) * s.hd } // kr, vv [B, KV, Lk, hd]
func (s attnArgs) oRow(b, i, h int) int  { return ((b*s.L+i)*s.H + h) * s.hd }   // out [B, L, H·hd]
func (s attnArgs) lseAt(b, h, i int) int { return (b*s.H+h)*s.L + i }

func visible(mask []float32, b, Lk, i, j, causal int) bool {
	if causal != 0 && j > i {
		return false
	}
	return mask == nil || mask[b*Lk+j] != 0
}

func emuAttnPrep(a args) {
	qkv, qw, kw, cs, sn := a.p(0), a.p(1), a.p(2), a.p(3), a.p(4)
	qr, kr, vv, rq, rk := a.p(5), a.p(6), a.p(7), a.p(8), a.p(9)
	s := attnArgs{B: a.i(10), L: a.i(11), Lk: a.i(11), H: a.i(12), KV: a.i(13), hd: a.i(14)}
	eps := a.d(15)
	slots, half := s.H+2*s.KV, s.hd/2
	for t := range s.B * s.L * slots {
		sl, bl := t%slots, t/slots
		b, l := bl/s.L, bl%s.L
		x := qkv[(bl*slots+sl)*s.hd:]
		if sl >= s.H+s.KV {
			copy(vv[s.kRow(b, sl-s.H-s.KV, l):][:s.hd], x[:s.hd])
			continue
		}
		w, dst := qw, qr[s.qRow(b, sl, l):]
		if sl >= s.H {
			w, dst = kw, kr[s.kRow(b, sl-s.H, l):]
		}
		var ss float64
		for d := range s.hd {
			ss += float64(x[d]) * float64(x[d])
		}
		r := float32(1 / math.Sqrt(ss/float64(s.hd)+eps))
		c, n := cs[bl*half:], sn[bl*half:]
		for i := range half {
			p, q := x[2*i]*r*w[2*i], x[2*i+1]*r*w[2*i+1]
			dst[2*i] = p*c[i] - q*n[i]
			dst[2*i+1] = p*n[i] + q*c[i]
		}
		if sl < s.H {
			rq[(b*s.H+sl)*s.L+l] = r
		} else {
			rk[(b*s.KV+sl-s.H)*s.L+l] = r
		}
	}
}

// scores are q_i·k_j·scale of query row i of head h over every key, NaN where hidden.
func (s attnArgs) scores(qr, kr, mask []float32, b, h, i, causal int) []float64 {
	g := h / (s.H / s.KV)
	scale := 1 / math.Sqrt(float64(s.hd))
	out := make([]float64, s.Lk)
	for j := range s.Lk {
		if !visible(mask, b, s.Lk, i, j, causal) {
			out[j] = math.NaN()
			continue
		}
		var d float64
		for k := range s.hd {
			d += float64(qr[s.qRow(b, h, i)+k]) * float64(kr[s.kRow(b, g, j)+k])
		}
		out[j] = d * scale
	}
	return out
}

func emuAttnFwd(a args) {
	qr, kr, vv, mask, out, lse := a.p(0), a.p(1), a.p(2), a.p(3), a.p(4), a.p(5)
	s := attnArgs{B: a.i(6), L: a.i(7), Lk: a.i(8), H: a.i(9), KV: a.i(10), hd: a.i(11)}
	causal := a.i(12)
	for b := range s.B {
		for h := range s.H {
			g := h / (s.H / s.KV)
			for i := range s.L {
				sc := s.scores(qr, kr, mask, b, h, i, causal)
				m := math.Inf(-1)
				for _, v := range sc {
					if !math.IsNaN(v) {
						m = max(m, v)
					}
				}
				var sum float64
				o := make([]float64, s.hd)
				for j, v := range sc {
					if math.IsNaN(v) {
						continue
					}
					p := math.Exp(v - m)
					sum += p
					for d := range s.hd {
						o[d] += p * float64(vv[s.kRow(b, g, j)+d])
					}
				}
				for d := range s.hd {
					if sum > 0 {
						o[d] /= sum
					}
					out[s.oRow(b, i, h)+d] = float32(o[d])
				}
				lse[s.lseAt(b, h, i)] = float32(math.Inf(-1))
				if sum > 0 {
					lse[s.lseAt(b, h, i)] = float32(m + math.Log(sum))
				}
			}
		}
	}
}

// emuAttnBwd is attn_bwd_dq (dq) or attn_bwd_dkv (dk, dv): both sum P_ij·(dO_i·v_j − Δ_i) terms, Δ_i =
// dO_i·O_i, over the visible pairs of live queries.
func emuAttnBwd(a args, dq bool) {
	qr, kr, vv, mask, out, dout, lse := a.p(0), a.p(1), a.p(2), a.p(3), a.p(4), a.p(5), a.p(6)
	at := 8
	if !dq {
		at = 9
	}
	s := attnArgs{B: a.i(at), L: a.i(at + 1), Lk: a.i(at + 2), H: a.i(at + 3), KV: a.i(at + 4), hd: a.i(at + 5)}
	causal := a.i(at + 6)
	scale := 1 / math.Sqrt(float64(s.hd))
	acc := make([]float64, s.B*s.H*s.L*s.hd)  // dq
	ak := make([]float64, s.B*s.KV*s.Lk*s.hd) // dk
	av := make([]float64, s.B*s.KV*s.Lk*s.hd) // dv
	for b := range s.B {
		for h := range s.H {
			g := h / (s.H / s.KV)
			for i := range s.L {
				li := float64(lse[s.lseAt(b, h, i)])
				if math.IsInf(li, -1) {
					continue
				}
				var delta float64
				for d := range s.hd {
					delta += float64(dout[s.oRow(b, i, h)+d]) * float64(out[s.oRow(b, i, h)+d])
				}
				for j, v := range s.scores(qr, kr, mask, b, h, i, causal) {
					if math.IsNaN(v) {
						continue
					}
					var dp float64
					for d := range s.hd {
						dp += float64(dout[s.oRow(b, i, h)+d]) * float64(vv[s.kRow(b, g, j)+d])
					}
					p := math.Exp(v - li)
					ds := p * (dp - delta)
					for d := range s.hd {
						acc[s.qRow(b, h, i)+d] += ds * float64(kr[s.kRow(b, g, j)+d]) * scale
						ak[s.kRow(b, g, j)+d] += ds * float64(qr[s.qRow(b, h, i)+d]) * scale
						av[s.kRow(b, g, j)+d] += p * float64(dout[s.oRow(b, i, h)+d])
					}
				}
			}
		}
	}
	if dq {
		put(a.p(7), acc)
		return
	}
	put(a.p(7), ak)
	put(a.p(8), av)
}

func put(dst []float32, src []float64) {
	for i, v := range src {
		dst[i] = float32(v)
	}
}

func emuAttnPost(a args) {
	qkv, qw, kw, cs, sn := a.p(0), a.p(1), a.p(2), a.p(3), a.p(4)
	rq, rk, dq, dk, dv := a.p(5), a.p(6), a.p(7), a.p(8), a.p(9)
	dqkv, dwq, dwk := a.p(10), a.p(11), a.p(12)
	s := attnArgs{B: a.i(13), L: a.i(14), Lk: a.i(14), H: a.i(15), KV: a.i(16), hd: a.i(17)}
	slots, half := s.H+2*s.KV, s.hd/2
	for t := range s.B * s.L * slots {
		sl, bl := t%slots, t/slots
		b, l := bl/s.L, bl%s.L
		x, dst := qkv[(bl*slots+sl)*s.hd:], dqkv[(bl*slots+sl)*s.hd:]
		if sl >= s.H+s.KV {
			copy(dst[:s.hd], dv[s.kRow(b, sl-s.H-s.KV, l):][:s.hd])
			continue
		}
		isq := sl < s.H
		w, src := qw, dq[s.qRow(b, sl, l):]
		r := rq[(b*s.H+sl)*s.L+l]
		dw := dwq[((b*s.L+l)*s.H+sl)*s.hd:]
		if !isq {
			w, src = kw, dk[s.kRow(b, sl-s.H, l):]
			r = rk[(b*s.KV+sl-s.H)*s.L+l]
			dw = dwk[((b*s.L+l)*s.KV+sl-s.H)*s.hd:]
		}
		c, n := cs[bl*half:], sn[bl*half:]
		var dot float32
		for i := range half {
			g0 := src[2*i]*c[i] + src[2*i+1]*n[i]
			g1 := -src[2*i]*n[i] + src[2*i+1]*c[i]
			x0, x1 := x[2*i]*r, x[2*i+1]*r
			dw[2*i], dw[2*i+1] = g0*x0, g1*x1
			dot += g0*w[2*i]*x0 + g1*w[2*i+1]*x1
			dst[2*i], dst[2*i+1] = g0, g1
		}
		mean := dot / float32(s.hd)
		for d := range s.hd {
			dst[d] = r * (dst[d]*w[d] - x[d]*r*mean)
		}
	}
}

// emuXattnPrep is xattn_prep: per-head RMSNorm (no RoPE) into head-major rows, or a copy without w.
func emuXattnPrep(a args) {
	x, ld, w, dst, r := a.p(0), a.i(1), a.p(2), a.p(3), a.p(4)
	B, L, heads, hd, eps := a.i(5), a.i(6), a.i(7), a.i(8), a.d(9)
	for t := range B * L * heads {
		s, bl := t%heads, t/heads
		b, l := bl/L, bl%L
		xr, d := x[bl*ld+s*hd:], dst[((b*heads+s)*L+l)*hd:]
		if w == nil {
			copy(d[:hd], xr[:hd])
			continue
		}
		var ss float64
		for i := range hd {
			ss += float64(xr[i]) * float64(xr[i])
		}
		rs := float32(1 / math.Sqrt(ss/float64(hd)+eps))
		for i := range hd {
			d[i] = xr[i] * rs * w[i]
		}
		r[(b*heads+s)*L+l] = rs
	}
}

// emuXattnPost is xattn_post: back through the per-head RMSNorm, or a copy without w.
func emuXattnPost(a args) {
	x, ld, w, r, g, dx, ldx, dw := a.p(0), a.i(1), a.p(2), a.p(3), a.p(4), a.p(5), a.i(6), a.p(7)
	B, L, heads, hd := a.i(8), a.i(9), a.i(10), a.i(11)
	for t := range B * L * heads {
		s, bl := t%heads, t/heads
		b, l := bl/L, bl%L
		gr, d := g[((b*heads+s)*L+l)*hd:], dx[bl*ldx+s*hd:]
		if w == nil {
			copy(d[:hd], gr[:hd])
			continue
		}
		xr, rs, dwr := x[bl*ld+s*hd:], r[(b*heads+s)*L+l], dw[(bl*heads+s)*hd:]
		var dot float32
		for i := range hd {
			xh := xr[i] * rs
			dwr[i] = gr[i] * xh
			dot += gr[i] * w[i] * xh
		}
		mean := dot / float32(hd)
		for i := range hd {
			d[i] = rs * (gr[i]*w[i] - xr[i]*rs*mean)
		}
	}
}
