package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Patchify cuts images into patch tokens: x [B, C, H, W] → [B, (H/p)·(W/p), p·p·C], tokens row-major
// over the patch grid and, inside a patch, the order (ph, pw, c) with c fastest (docs/DESIGN.md §2).
func Patchify(x *G.Node, p int) (*G.Node, error) {
	if p <= 0 {
		return nil, fmt.Errorf("Patchify: patch %d, want > 0", p)
	}
	return apply(patchK{p: p}, x)
}

// Unpatchify is Patchify's inverse: x [B, (h/p)·(w/p), p·p·c] → [B, c, h, w].
func Unpatchify(x *G.Node, p, c, h, w int) (*G.Node, error) {
	if p <= 0 || c <= 0 || h <= 0 || w <= 0 || h%p != 0 || w%p != 0 {
		return nil, fmt.Errorf("Unpatchify: patch %d, image %d×%d×%d: want positive sizes divisible by the patch", p, c, h, w)
	}
	return apply(unpatchK{p: p, c: c, h: h, w: w}, x)
}

// AvgPool averages k×k blocks: x [B, C, H, W] → [B, C, H/k, W/k] (H, W multiples of k). Unlike stock
// AvgPool2D its backward is right: every input of a block gets g/k².
func AvgPool(x *G.Node, k int) (*G.Node, error) {
	if k <= 0 {
		return nil, fmt.Errorf("AvgPool: kernel %d, want > 0", k)
	}
	return apply(avgPoolK{k: k}, x)
}

// patchGeom is one image batch and its patch grid.
type patchGeom struct{ B, C, H, W, p int }

// move copies between the image layout [B, C, H, W] and the token layout [B, N, p·p·C]: toTokens writes
// tok from img, otherwise img from tok. It is a permutation, so each direction is the other's gradient.
func patchMove[T float32 | float64](g patchGeom, img, tok []T, toTokens bool) {
	hp, wp := g.H/g.p, g.W/g.p
	P := g.p * g.p * g.C
	parallel(g.B*hp, grain(g.B*hp, wp*P), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			b, pr := r/hp, r%hp
			for pc := 0; pc < wp; pc++ {
				t := tok[(b*hp*wp+pr*wp+pc)*P:][:P] // one token
				for ph := 0; ph < g.p; ph++ {
					for pw := 0; pw < g.p; pw++ {
						for c := 0; c < g.C; c++ {
							i := ((b*g.C+c)*g.H+pr*g.p+ph)*g.W + pc*g.p + pw
							j := (ph*g.p+pw)*g.C + c
							if toTokens {
								t[j] = img[i]
							} else {
								img[i] = t[j]
							}
						}
					}
				}
			}
		}
	})
}

func patchMoveD(g patchGeom, img, tok *tensor.Dense, toTokens bool) {
	if img.Dtype() == tensor.Float32 {
		patchMove(g, data[float32](img), data[float32](tok), toTokens)
	} else {
		patchMove(g, data[float64](img), data[float64](tok), toTokens)
	}
}

type patchK struct{ p int }

func (k patchK) name() string      { return fmt.Sprintf("Patchify(p=%d)", k.p) }
func (patchK) arity() int          { return 1 }
func (patchK) diff() []bool        { return []bool{true} }
func (patchK) passThrough() []bool { return nil }
func (patchK) needsOut() bool      { return false }
func (k patchK) geom(s tensor.Shape) (patchGeom, error) {
	if s.Dims() != 4 || s[2]%k.p != 0 || s[3]%k.p != 0 {
		return patchGeom{}, fmt.Errorf("x %v: want [B, C, H, W] with H and W multiples of %d", s, k.p)
	}
	return patchGeom{B: s[0], C: s[1], H: s[2], W: s[3], p: k.p}, nil
}
func (k patchK) outShape(in []tensor.Shape) (tensor.Shape, error) {
	g, err := k.geom(in[0])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{g.B, (g.H / g.p) * (g.W / g.p), g.p * g.p * g.C}, nil
}
func (k patchK) forward(out *tensor.Dense, in []*tensor.Dense) error {
	g, err := k.geom(in[0].Shape())
	if err != nil {
		return err
	}
	patchMoveD(g, in[0], out, true)
	return nil
}
func (k patchK) backward(grads []*tensor.Dense, gy, _ *tensor.Dense, in []*tensor.Dense) error {
	g, err := k.geom(in[0].Shape())
	if err != nil {
		return err
	}
	patchMoveD(g, grads[0], gy, false)
	return nil
}

type unpatchK struct{ p, c, h, w int }

func (k unpatchK) name() string {
	return fmt.Sprintf("Unpatchify(p=%d,c=%d,h=%d,w=%d)", k.p, k.c, k.h, k.w)
}
func (unpatchK) arity() int          { return 1 }
func (unpatchK) diff() []bool        { return []bool{true} }
func (unpatchK) passThrough() []bool { return nil }
func (unpatchK) needsOut() bool      { return false }
func (k unpatchK) geom(s tensor.Shape) (patchGeom, error) {
	n, P := (k.h/k.p)*(k.w/k.p), k.p*k.p*k.c
	if s.Dims() != 3 || s[1] != n || s[2] != P {
		return patchGeom{}, fmt.Errorf("x %v: want [B, %d, %d] for %d×%d×%d images in %d×%d patches", s, n, P, k.c, k.h, k.w, k.p, k.p)
	}
	return patchGeom{B: s[0], C: k.c, H: k.h, W: k.w, p: k.p}, nil
}
func (k unpatchK) outShape(in []tensor.Shape) (tensor.Shape, error) {
	g, err := k.geom(in[0])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{g.B, g.C, g.H, g.W}, nil
}
func (k unpatchK) forward(out *tensor.Dense, in []*tensor.Dense) error {
	g, err := k.geom(in[0].Shape())
	if err != nil {
		return err
	}
	patchMoveD(g, out, in[0], false)
	return nil
}
func (k unpatchK) backward(grads []*tensor.Dense, gy, _ *tensor.Dense, in []*tensor.Dense) error {
	g, err := k.geom(in[0].Shape())
	if err != nil {
		return err
	}
	patchMoveD(g, gy, grads[0], true)
	return nil
}

type avgPoolK struct{ k int }

func (k avgPoolK) name() string      { return fmt.Sprintf("AvgPool(k=%d)", k.k) }
func (avgPoolK) arity() int          { return 1 }
func (avgPoolK) diff() []bool        { return []bool{true} }
func (avgPoolK) passThrough() []bool { return nil }
func (avgPoolK) needsOut() bool      { return false }
func (k avgPoolK) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	if s.Dims() != 4 || s[2]%k.k != 0 || s[3]%k.k != 0 {
		return nil, fmt.Errorf("x %v: want [B, C, H, W] with H and W multiples of %d", s, k.k)
	}
	return tensor.Shape{s[0], s[1], s[2] / k.k, s[3] / k.k}, nil
}
func (k avgPoolK) forward(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	if out.Dtype() == tensor.Float32 {
		avgPool(data[float32](in[0]), data[float32](out), s[0]*s[1], s[2], s[3], k.k, true)
	} else {
		avgPool(data[float64](in[0]), data[float64](out), s[0]*s[1], s[2], s[3], k.k, true)
	}
	return nil
}
func (k avgPoolK) backward(grads []*tensor.Dense, gy, _ *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	if gy.Dtype() == tensor.Float32 {
		avgPool(data[float32](grads[0]), data[float32](gy), s[0]*s[1], s[2], s[3], k.k, false)
	} else {
		avgPool(data[float64](grads[0]), data[float64](gy), s[0]*s[1], s[2], s[3], k.k, false)
	}
	return nil
}

// avgPool moves between the full image x [N, H, W] and the pooled y [N, H/k, W/k]: forward y = block
// means of x, otherwise (backward) x = y/k² spread over each block.
func avgPool[T float32 | float64](x, y []T, N, H, W, k int, forward bool) {
	ho, wo := H/k, W/k
	inv := 1 / T(k*k)
	parallel(N*ho, grain(N*ho, W*k), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			n, i := r/ho, r%ho
			yr := y[r*wo : (r+1)*wo]
			for di := 0; di < k; di++ {
				xr := x[(n*H+i*k+di)*W:][:W]
				for j := range yr {
					for dj := 0; dj < k; dj++ {
						if forward {
							yr[j] += xr[j*k+dj]
						} else {
							xr[j*k+dj] = yr[j] * inv
						}
					}
				}
			}
			if forward {
				for j := range yr {
					yr[j] *= inv
				}
			}
		}
	})
}
