package ops

import "math"

// RopeTables builds the multimodal RoPE tables for positions pos [B][L] of (caption index, row, col)
// triples. head_dim = sum(axesDims); the result is two flat [B, L, head_dim/2] tables. Each axis of
// width d contributes d/2 frequencies 1/θ^(2j/d), j = 0..d/2-1, and the three axes are concatenated in
// order, so pair i of a head (elements 2i, 2i+1) rotates by pos[axis]·freq.
//
// A position (-1, -1, -1) marks padding and gets the identity rotation (cos 1, sin 0); padded tokens are
// masked as keys anyway, but their queries still run, and the identity keeps them finite and inert.
// Rows of pos may be ragged: L is the longest row, and the missing tail of a shorter row is padding.
//
// The angles are computed in float64 (as the public Lumina code does before its complex64 cast).
// The PyTorch reference (tools/reference/nextdit.py) computes them in float32, so its outputs carry
// angle rounding of up to about |angle|·6e-8; compare against it with a tolerance that allows for that.
//
// axesDims must be non-negative and even, and theta (and RopeTablesScaled's scales) positive; otherwise
// there is no valid table and RopeTables returns nil, nil (the Attention op then reports the table
// length as wrong).
func RopeTables(pos [][][3]int, axesDims [3]int, theta float64) (cos, sin []float64) {
	return RopeTablesScaled(pos, axesDims, theta, [3]float64{1, 1, 1})
}

// RopeTablesScaled is RopeTables with each axis's positions multiplied by scale[axis] before they
// rotate: position interpolation, which lets a grid of patches stand for a finer or coarser one (see
// arch.Config.RopeGrid). A scale of 1 gives RopeTables' tables bit for bit.
func RopeTablesScaled(pos [][][3]int, axesDims [3]int, theta float64, scale [3]float64) (cos, sin []float64) {
	half := 0
	for _, d := range axesDims {
		if d < 0 || d%2 != 0 {
			return nil, nil
		}
		half += d / 2
	}
	if !(theta > 0) || math.IsInf(theta, 1) {
		return nil, nil
	}
	for _, k := range scale {
		if !(k > 0) || math.IsInf(k, 1) {
			return nil, nil
		}
	}
	B, L := len(pos), 0
	for _, row := range pos {
		L = max(L, len(row))
	}
	// freqs[i] is the frequency of pair i; axis[i] says which coordinate it reads.
	freqs := make([]float64, 0, half)
	axis := make([]int, 0, half)
	for a, d := range axesDims {
		for j := 0; j < d; j += 2 {
			freqs = append(freqs, 1/math.Pow(theta, float64(j)/float64(d)))
			axis = append(axis, a)
		}
	}
	cos = make([]float64, B*L*half)
	sin = make([]float64, B*L*half)
	for b, row := range pos {
		for l := 0; l < L; l++ {
			c := cos[(b*L+l)*half : (b*L+l+1)*half]
			s := sin[(b*L+l)*half : (b*L+l+1)*half]
			if l >= len(row) || row[l] == [3]int{-1, -1, -1} {
				for i := range c {
					c[i], s[i] = 1, 0
				}
				continue
			}
			p := row[l]
			for i, f := range freqs {
				s[i], c[i] = math.Sincos(float64(p[axis[i]]) * scale[axis[i]] * f)
			}
		}
	}
	return cos, sin
}

// ropeRow rotates one head vector in place: pairs (2i, 2i+1) by the angle whose cos, sin are c[i], s[i].
func ropeRow[T float32 | float64](x, c, s []T) {
	for i := range c {
		x1, x2 := x[2*i], x[2*i+1]
		x[2*i] = x1*c[i] - x2*s[i]
		x[2*i+1] = x1*s[i] + x2*c[i]
	}
}

// ropeRowT applies the transpose (= inverse) rotation, which is what carries a gradient back through RoPE.
func ropeRowT[T float32 | float64](x, c, s []T) {
	for i := range c {
		g1, g2 := x[2*i], x[2*i+1]
		x[2*i] = g1*c[i] + g2*s[i]
		x[2*i+1] = g2*c[i] - g1*s[i]
	}
}
