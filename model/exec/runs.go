package exec

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// runs finds where a data-moving op puts each element by running it once on tagged inputs: element i
// of source k holds k·2³² + i + 1 (exact in float64), so each output element names its source, and 0
// means none. Adjacent elements from adjacent places of one source merge into one run. This asks the op
// itself what it does, so the runs cannot drift from Gorgonia's meaning of a slice or a concatenation.
func (c *compiler) runs(op G.Op, in, srcs []int, shapeOnlyFirst bool) ([]Run, error) {
	vals := make([]G.Value, len(in))
	k := 0
	for i, id := range in {
		v := c.p.Values[id]
		if v.Shape.IsScalar() {
			return nil, fmt.Errorf("moving data out of a scalar")
		}
		data := make([]float64, v.Size)
		if !(shapeOnlyFirst && i == 0) {
			if v.Size >= 1<<32 || k >= 1<<20 {
				return nil, fmt.Errorf("input of %d elements is too large to trace", v.Size)
			}
			for j := range data {
				data[j] = float64(k<<32 + j + 1)
			}
			k++
		}
		vals[i] = tensor.New(tensor.WithShape(v.Shape.Clone()...), tensor.WithBacking(data))
	}
	res, err := op.Do(vals...)
	if err != nil {
		return nil, fmt.Errorf("tracing the op: %w", err)
	}
	out, err := flat64(res)
	if err != nil {
		return nil, err
	}
	if want := c.p.Values[len(c.p.Values)-1].Size; len(out) != want {
		return nil, fmt.Errorf("traced %d elements, the output has %d", len(out), want)
	}
	var runs []Run
	for j, code := range out {
		if code == 0 {
			continue
		}
		src, at := int(code-1)>>32, int(code-1)&(1<<32-1)
		if src >= len(srcs) {
			return nil, fmt.Errorf("traced a source %d of %d", src, len(srcs))
		}
		if n := len(runs); n > 0 {
			r := &runs[n-1]
			if r.In == src && r.Src+r.N == at && r.Dst+r.N == j {
				r.N++
				continue
			}
		}
		runs = append(runs, Run{In: src, Src: at, Dst: j, N: 1})
	}
	return runs, nil
}

// flat64 is a float64 value's elements in row-major order, a view materialised.
func flat64(v G.Value) ([]float64, error) {
	switch t := v.(type) {
	case *tensor.Dense:
		if t.IsMaterializable() {
			t = t.Materialize().(*tensor.Dense)
		}
		d, ok := t.Data().([]float64)
		if !ok {
			return []float64{t.Data().(float64)}, nil
		}
		return d, nil
	case *G.F64:
		return []float64{float64(*t)}, nil
	default:
		return nil, fmt.Errorf("traced a value of type %T", v)
	}
}
