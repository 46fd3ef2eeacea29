package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MSE is the scalar mean over all elements of (pred − target)²; pred and target have the same shape.
func MSE(pred, target *G.Node) (*G.Node, error) { return apply(mseK{}, pred, target) }

// Embedding looks rows up: table [V, D], ids [B, L] (floats holding integer ids in [0, V); not
// differentiable) → [B, L, D]. A bad id is an error when the graph runs.
func Embedding(table, ids *G.Node) (*G.Node, error) { return apply(embedK{}, table, ids) }

// CrossEntropy is the scalar mean, over the rows n with mask[n] ≠ 0 (weighted by mask[n]), of
// −log softmax(logits[n])[targets[n]]: logits [N, V], targets [N] (ids as floats), mask [N]. targets and
// mask are not differentiable; targets of masked-out rows are not read. With no row left the loss is 0.
func CrossEntropy(logits, targets, mask *G.Node) (*G.Node, error) {
	return apply(ceK{}, logits, targets, mask)
}

// ---- MSE ----

type mseK struct{}

func (mseK) name() string        { return "MSE" }
func (mseK) arity() int          { return 2 }
func (mseK) diff() []bool        { return []bool{true, true} }
func (mseK) passThrough() []bool { return nil }
func (mseK) needsOut() bool      { return false }
func (mseK) outShape(in []tensor.Shape) (tensor.Shape, error) {
	if _, err := sameShapes(in); err != nil {
		return nil, err
	}
	if in[0].TotalSize() == 0 {
		return nil, fmt.Errorf("pred %v is empty", in[0])
	}
	return tensor.ScalarShape(), nil
}
func (mseK) forward(out *tensor.Dense, in []*tensor.Dense) error {
	if out.Dtype() == tensor.Float32 {
		data[float32](out)[0] = float32(mseFwd(data[float32](in[0]), data[float32](in[1])))
	} else {
		data[float64](out)[0] = mseFwd(data[float64](in[0]), data[float64](in[1]))
	}
	return nil
}
func (mseK) backward(grads []*tensor.Dense, gy, _ *tensor.Dense, in []*tensor.Dense) error {
	if gy.Dtype() == tensor.Float32 {
		mseBwd(data[float32](in[0]), data[float32](in[1]), float64(data[float32](gy)[0]), optData[float32](grads[0]), optData[float32](grads[1]))
	} else {
		mseBwd(data[float64](in[0]), data[float64](in[1]), data[float64](gy)[0], optData[float64](grads[0]), optData[float64](grads[1]))
	}
	return nil
}

// mseFwd sums per block in float64 and adds the blocks in order (deterministic on any core count).
func mseFwd[T float32 | float64](p, t []T) float64 {
	n := len(p)
	block := grain(n, 3)
	part := make([]float64, numBlocks(n, block))
	parallel(n, block, func(lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			d := float64(p[i]) - float64(t[i])
			s += d * d
		}
		part[lo/block] = s
	})
	var s float64
	for _, v := range part {
		s += v
	}
	return s / float64(n)
}

func mseBwd[T float32 | float64](p, t []T, g float64, dp, dt []T) {
	c := T(2 * g / float64(len(p)))
	elementwise(len(p), 3, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d := (p[i] - t[i]) * c
			if dp != nil {
				dp[i] = d
			}
			if dt != nil {
				dt[i] = -d
			}
		}
	})
}

// ---- ids ----

// readIDs converts float ids to ints, checking each is an integer in [0, n) (skipping rows whose mask is
// zero when mask is given).
func readIDs[T float32 | float64](what string, ids, mask []T, n int) ([]int, error) {
	out := make([]int, len(ids))
	for i, v := range ids {
		if mask != nil && mask[i] == 0 {
			out[i] = -1
			continue
		}
		f := float64(v)
		if f != math.Trunc(f) || f < 0 || f >= float64(n) {
			return nil, fmt.Errorf("%s %d is %v, want an integer in [0, %d)", what, i, f, n)
		}
		out[i] = int(f)
	}
	return out, nil
}

// ---- Embedding ----

type embedK struct{}

func (embedK) name() string        { return "Embedding" }
func (embedK) arity() int          { return 2 }
func (embedK) diff() []bool        { return []bool{true, false} }
func (embedK) passThrough() []bool { return nil }
func (embedK) needsOut() bool      { return false }
func (embedK) outShape(in []tensor.Shape) (tensor.Shape, error) {
	t, ids := in[0], in[1]
	if t.Dims() != 2 || ids.Dims() != 2 {
		return nil, fmt.Errorf("table %v, ids %v: want table [V, D] and ids [B, L]", t, ids)
	}
	return tensor.Shape{ids[0], ids[1], t[1]}, nil
}
func (embedK) forward(out *tensor.Dense, in []*tensor.Dense) error {
	if out.Dtype() == tensor.Float32 {
		return embedFwd(data[float32](in[0]), data[float32](in[1]), data[float32](out), in[0].Shape()[0])
	}
	return embedFwd(data[float64](in[0]), data[float64](in[1]), data[float64](out), in[0].Shape()[0])
}
func (embedK) backward(grads []*tensor.Dense, gy, _ *tensor.Dense, in []*tensor.Dense) error {
	if gy.Dtype() == tensor.Float32 {
		return embedBwd(data[float32](in[1]), data[float32](gy), data[float32](grads[0]), in[0].Shape()[0])
	}
	return embedBwd(data[float64](in[1]), data[float64](gy), data[float64](grads[0]), in[0].Shape()[0])
}

func embedFwd[T float32 | float64](table, idsF, out []T, V int) error {
	ids, err := readIDs("id", idsF, nil, V)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	D := len(out) / len(ids)
	parallel(len(ids), grain(len(ids), D), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			copy(out[i*D:(i+1)*D], table[ids[i]*D:(ids[i]+1)*D])
		}
	})
	return nil
}

// embedBwd scatters the rows of g into dtable, split by blocks of columns so that every element is summed
// over tokens in token order by a single goroutine.
func embedBwd[T float32 | float64](idsF, g, dtable []T, V int) error {
	ids, err := readIDs("id", idsF, nil, V)
	if err != nil {
		return err
	}
	if len(ids) == 0 || V == 0 {
		return nil
	}
	D := len(dtable) / V
	parallel(D, grain(D, len(ids)), func(lo, hi int) {
		for i, id := range ids {
			src, dst := g[i*D+lo:i*D+hi], dtable[id*D+lo:id*D+hi]
			for j, v := range src {
				dst[j] += v
			}
		}
	})
	return nil
}

// ---- CrossEntropy ----

type ceK struct{}

func (ceK) name() string        { return "CrossEntropy" }
func (ceK) arity() int          { return 3 }
func (ceK) diff() []bool        { return []bool{true, false, false} }
func (ceK) passThrough() []bool { return nil }
func (ceK) needsOut() bool      { return false }
func (ceK) outShape(in []tensor.Shape) (tensor.Shape, error) {
	l, t, m := in[0], in[1], in[2]
	if l.Dims() != 2 || l[1] == 0 || t.Dims() != 1 || t[0] != l[0] || !m.Eq(t) {
		return nil, fmt.Errorf("logits %v, targets %v, mask %v: want logits [N, V], targets [N], mask [N]", l, t, m)
	}
	return tensor.ScalarShape(), nil
}
func (ceK) forward(out *tensor.Dense, in []*tensor.Dense) error {
	V := in[0].Shape()[1]
	if out.Dtype() == tensor.Float32 {
		l, err := ceFwd(data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), V)
		data[float32](out)[0] = float32(l)
		return err
	}
	l, err := ceFwd(data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), V)
	data[float64](out)[0] = l
	return err
}
func (ceK) backward(grads []*tensor.Dense, gy, _ *tensor.Dense, in []*tensor.Dense) error {
	V := in[0].Shape()[1]
	if gy.Dtype() == tensor.Float32 {
		return ceBwd(data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), float64(data[float32](gy)[0]), data[float32](grads[0]), V)
	}
	return ceBwd(data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), data[float64](gy)[0], data[float64](grads[0]), V)
}

// logSumExp of one row, in float64.
func logSumExp[T float32 | float64](x []T) float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s)
}

func maskSum[T float32 | float64](mask []T) float64 {
	var m float64
	for _, v := range mask {
		m += float64(v)
	}
	return m
}

func ceFwd[T float32 | float64](logits, targetsF, mask []T, V int) (float64, error) {
	N := len(mask)
	tg, err := readIDs("target", targetsF, mask, V)
	if err != nil {
		return 0, err
	}
	M := maskSum(mask)
	if M == 0 {
		return 0, nil
	}
	block := grain(N, 3*V)
	part := make([]float64, numBlocks(N, block))
	parallel(N, block, func(lo, hi int) {
		var s float64
		for n := lo; n < hi; n++ {
			if mask[n] == 0 {
				continue
			}
			row := logits[n*V : (n+1)*V]
			s += float64(mask[n]) * (logSumExp(row) - float64(row[tg[n]]))
		}
		part[lo/block] = s
	})
	var s float64
	for _, v := range part {
		s += v
	}
	return s / M, nil
}

// ceBwd: dlogits[n] = g·mask[n]/M·(softmax(logits[n]) − onehot(target[n])).
func ceBwd[T float32 | float64](logits, targetsF, mask []T, g float64, dl []T, V int) error {
	N := len(mask)
	tg, err := readIDs("target", targetsF, mask, V)
	if err != nil {
		return err
	}
	M := maskSum(mask)
	if M == 0 {
		return nil
	}
	parallel(N, grain(N, 4*V), func(lo, hi int) {
		for n := lo; n < hi; n++ {
			if mask[n] == 0 {
				continue
			}
			row, dr := logits[n*V:(n+1)*V], dl[n*V:(n+1)*V]
			lse := logSumExp(row)
			c := g * float64(mask[n]) / M
			for j, v := range row {
				dr[j] = T(c * math.Exp(float64(v)-lse))
			}
			dr[tg[n]] -= T(c)
		}
	})
	return nil
}
