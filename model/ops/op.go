// Package ops holds the fused Gorgonia ops of the model: each op is a pure CPU kernel (forward and
// backward, generic over float32/float64, parallel over rows with goroutines) wrapped by one generic glue.
//
// The glue (this file) turns a kernel into three kinds of Gorgonia op:
//   - the forward op;
//   - one backward op that computes the gradients of all differentiable inputs at once, into a single
//     packed 1-D buffer (so a multi-input backward such as Linear or Attention runs once, not once per input);
//   - per-input extract ops that hand out a view of their part of the packed buffer (no copy).
//
// Gradients that equal the output gradient exactly (the x of Add or GatedResidual) are passed through as
// the gradient node itself, with no op at all.
package ops

import (
	"encoding/binary"
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// kernel is the math of one fused op; the glue does the Gorgonia plumbing.
type kernel interface {
	// name is the op's name with every parameter that changes its result: it is the op's hash.
	name() string
	// arity is the number of inputs.
	arity() int
	// diff says which inputs are differentiable.
	diff() []bool
	// passThrough says which inputs have the output gradient itself as their gradient (same shape as the
	// output, ∂out/∂in = identity). nil means none.
	passThrough() []bool
	// needsOut says whether backward reads the forward output.
	needsOut() bool
	// outShape is the output shape for these input shapes, or an error naming the mismatch.
	outShape(in []tensor.Shape) (tensor.Shape, error)
	// forward writes the output into out (allocated, zeroed, of the output shape and the inputs' dtype).
	forward(out *tensor.Dense, in []*tensor.Dense) error
	// backward writes dL/d(in[i]) into grads[i] (zeroed, of in[i]'s shape) for every i with grads[i] != nil.
	// out is nil unless needsOut. gy has the output's shape.
	backward(grads []*tensor.Dense, gy, out *tensor.Dense, in []*tensor.Dense) error
}

// apply builds the forward node of k over the inputs, checking shapes and dtypes now, at graph time.
func apply(k kernel, inputs ...*G.Node) (*G.Node, error) {
	if len(inputs) != k.arity() {
		return nil, fmt.Errorf("%s: %d inputs, want %d", k.name(), len(inputs), k.arity())
	}
	shapes := make([]tensor.Shape, len(inputs))
	var dt tensor.Dtype
	for i, n := range inputs {
		if n == nil {
			return nil, fmt.Errorf("%s: input %d is nil", k.name(), i)
		}
		d, err := nodeDtype(n)
		if err != nil {
			return nil, fmt.Errorf("%s: input %d (%s): %w", k.name(), i, n.Name(), err)
		}
		if i == 0 {
			dt = d
		} else if d != dt {
			return nil, fmt.Errorf("%s: input %d (%s) is %v, input 0 is %v", k.name(), i, n.Name(), d, dt)
		}
		shapes[i] = n.Shape().Clone()
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("%s: dtype %v, want Float32 or Float64", k.name(), dt)
	}
	os, err := k.outShape(shapes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.name(), err)
	}
	op := &fwdOp{k: k, inDims: dimsOf(shapes), outDims: os.Dims()}
	out, err := G.ApplyOp(op, inputs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.name(), err)
	}
	return out, nil
}

func nodeDtype(n *G.Node) (tensor.Dtype, error) {
	switch t := n.Type().(type) {
	case tensor.Dtype:
		return t, nil
	case G.TensorType:
		if d, ok := t.Of.(tensor.Dtype); ok {
			return d, nil
		}
	case *G.TensorType:
		if d, ok := t.Of.(tensor.Dtype); ok {
			return d, nil
		}
	}
	return tensor.Dtype{}, fmt.Errorf("type %v has no concrete dtype", n.Type())
}

func dimsOf(s []tensor.Shape) []int {
	d := make([]int, len(s))
	for i := range s {
		d[i] = s[i].Dims()
	}
	return d
}

// typeOf is the Gorgonia type of a value with dims axes and element type a: scalars are bare.
func typeOf(dims int, a hm.Type) hm.Type {
	if dims == 0 {
		return a
	}
	return G.TensorType{Dims: dims, Of: a}
}

func fnType(in []int, out int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(in)+1)
	for _, d := range in {
		ts = append(ts, typeOf(d, a))
	}
	return hm.NewFnType(append(ts, typeOf(out, a))...)
}

func hashOf(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// shapesOf reads the shapes Gorgonia passes to InferShape.
func shapesOf(ds []G.DimSizer) ([]tensor.Shape, error) {
	s := make([]tensor.Shape, len(ds))
	for i, d := range ds {
		sh, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("input %d: %T is not a shape", i, d)
		}
		s[i] = sh
	}
	return s, nil
}

// ---- values ----

// asDense turns a Gorgonia value into a contiguous Float32/Float64 *tensor.Dense (scalars become shape
// [1]), copying only when the value is a strided or transposed view.
func asDense(v G.Value) (*tensor.Dense, error) {
	switch t := v.(type) {
	case *tensor.Dense:
		if t.Dtype() != tensor.Float32 && t.Dtype() != tensor.Float64 {
			return nil, fmt.Errorf("dtype %v, want Float32 or Float64", t.Dtype())
		}
		if t.RequiresIterator() {
			m, ok := t.Materialize().(*tensor.Dense)
			if !ok {
				return nil, fmt.Errorf("materialize %v: not a *tensor.Dense", t.Shape())
			}
			return m, nil
		}
		return t, nil
	case *G.F64:
		return tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{float64(*t)})), nil
	case *G.F32:
		return tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{float32(*t)})), nil
	case nil:
		return nil, fmt.Errorf("no value")
	}
	return nil, fmt.Errorf("value of type %T, want a float tensor or scalar", v)
}

// data is the element slice of a contiguous Dense, of exactly its shape's size (1 for a scalar).
func data[T float32 | float64](d *tensor.Dense) []T {
	n := sizeOf(d.Shape())
	var z T
	if _, ok := any(z).(float32); ok {
		return any(d.Float32s()[:n]).([]T)
	}
	return any(d.Float64s()[:n]).([]T)
}

func newDense(dt tensor.Dtype, s tensor.Shape) *tensor.Dense {
	if s.IsScalar() {
		s = tensor.Shape{1}
	}
	return tensor.New(tensor.Of(dt), tensor.WithShape(s.Clone()...))
}

// viewOf is a Dense of shape s over backing[off:off+size(s)], sharing memory.
func viewOf(backing *tensor.Dense, off int, s tensor.Shape) *tensor.Dense {
	n := s.TotalSize()
	if s.IsScalar() {
		s, n = tensor.Shape{1}, 1
	}
	var b any
	if backing.Dtype() == tensor.Float32 {
		b = backing.Float32s()[off : off+n : off+n]
	} else {
		b = backing.Float64s()[off : off+n : off+n]
	}
	return tensor.New(tensor.WithShape(s.Clone()...), tensor.WithBacking(b))
}

// result converts an internal Dense back to what Gorgonia expects for a value of shape s: scalars are
// *G.F32/*G.F64 values.
func result(d *tensor.Dense, s tensor.Shape) G.Value {
	if !s.IsScalar() {
		return d
	}
	if d.Dtype() == tensor.Float32 {
		return G.NewF32(d.Float32s()[0])
	}
	return G.NewF64(d.Float64s()[0])
}

func denseAll(name string, vals []G.Value) ([]*tensor.Dense, tensor.Dtype, error) {
	ds := make([]*tensor.Dense, len(vals))
	var dt tensor.Dtype
	for i, v := range vals {
		d, err := asDense(v)
		if err != nil {
			return nil, dt, fmt.Errorf("%s: input %d: %w", name, i, err)
		}
		if i == 0 {
			dt = d.Dtype()
		} else if d.Dtype() != dt {
			return nil, dt, fmt.Errorf("%s: input %d is %v, input 0 is %v", name, i, d.Dtype(), dt)
		}
		ds[i] = d
	}
	return ds, dt, nil
}

// logicalShapes are the shapes the kernel sees: scalars (which asDense makes [1]) are reported as
// scalars so that the kernel's outShape check agrees with graph time.
func logicalShapes(vals []G.Value) []tensor.Shape {
	s := make([]tensor.Shape, len(vals))
	for i, v := range vals {
		s[i] = v.Shape()
	}
	return s
}

// ---- forward op ----

// Every op here says ReturnsPtr false and OverwritesInput −1, and allocates its output in Do. In
// Gorgonia v0.9.18 the register allocator gives each node a fresh register unless its op overwrites an
// input, and Reset empties the registers, so no preallocated output ever reaches an op (UsePreallocDo
// would never be called); in-place writes would save one allocation per op at the risk of clobbering a
// value a backward op still reads, or an input node's own tensor.

type fwdOp struct {
	k       kernel
	inDims  []int
	outDims int
}

func (o *fwdOp) Arity() int     { return len(o.inDims) }
func (o *fwdOp) Type() hm.Type  { return fnType(o.inDims, o.outDims) }
func (o *fwdOp) String() string { return o.k.name() }
func (o *fwdOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "fwd:%s:%v", o.k.name(), o.inDims)
}
func (o *fwdOp) Hashcode() uint32     { return hashOf(fmt.Sprintf("fwd:%s:%v", o.k.name(), o.inDims)) }
func (o *fwdOp) ReturnsPtr() bool     { return false }
func (o *fwdOp) CallsExtern() bool    { return false }
func (o *fwdOp) OverwritesInput() int { return -1 }
func (o *fwdOp) DiffWRT(n int) []bool { return o.k.diff() }
func (o *fwdOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(ds)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.k.name(), err)
	}
	return o.k.outShape(s)
}

func (o *fwdOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != len(o.inDims) {
		return nil, fmt.Errorf("%s: %d inputs, want %d", o.k.name(), len(vals), len(o.inDims))
	}
	os, err := o.k.outShape(logicalShapes(vals))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.k.name(), err)
	}
	in, dt, err := denseAll(o.k.name(), vals)
	if err != nil {
		return nil, err
	}
	out := newDense(dt, os)
	if err := o.k.forward(out, in); err != nil {
		return nil, fmt.Errorf("%s: %w", o.k.name(), err)
	}
	return result(out, os), nil
}

// SymDiff builds one backward node for all the packed gradients and a view per input.
func (o *fwdOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	k := o.k
	diff, pass := k.diff(), k.passThrough()
	res := make(G.Nodes, len(inputs))
	var packed []int
	for i := range inputs {
		switch {
		case !diff[i]:
		case pass != nil && pass[i]:
			res[i] = grad
		default:
			packed = append(packed, i)
		}
	}
	if len(packed) == 0 {
		return res, nil
	}
	children := append(G.Nodes{}, inputs...)
	inDims := append([]int{}, o.inDims...)
	if k.needsOut() {
		children = append(children, output)
		inDims = append(inDims, o.outDims)
	}
	children = append(children, grad)
	inDims = append(inDims, o.outDims)
	b, err := G.ApplyOp(&bwdOp{k: k, inDims: inDims, packed: packed}, children...)
	if err != nil {
		return nil, fmt.Errorf("%s backward: %w", k.name(), err)
	}
	off := 0
	for _, i := range packed {
		s := inputs[i].Shape().Clone()
		res[i], err = G.ApplyOp(&extractOp{name: k.name(), off: off, shape: s}, b)
		if err != nil {
			return nil, fmt.Errorf("%s backward, gradient %d: %w", k.name(), i, err)
		}
		off += sizeOf(s)
	}
	return res, nil
}

func sizeOf(s tensor.Shape) int {
	if s.IsScalar() {
		return 1
	}
	return s.TotalSize()
}

// ---- backward op ----

// bwdOp's inputs are the forward inputs, then the forward output if the kernel needs it, then the output
// gradient; its output is the gradients of the inputs listed in packed, concatenated flat in that order.
type bwdOp struct {
	k      kernel
	inDims []int
	packed []int
}

func (o *bwdOp) Arity() int     { return len(o.inDims) }
func (o *bwdOp) Type() hm.Type  { return fnType(o.inDims, 1) }
func (o *bwdOp) String() string { return o.k.name() + "ᵀ" }
func (o *bwdOp) key() string    { return fmt.Sprintf("bwd:%s:%v:%v", o.k.name(), o.inDims, o.packed) }
func (o *bwdOp) WriteHash(h hash.Hash) {
	h.Write([]byte(o.key()))
}
func (o *bwdOp) Hashcode() uint32     { return hashOf(o.key()) }
func (o *bwdOp) ReturnsPtr() bool     { return false }
func (o *bwdOp) CallsExtern() bool    { return false }
func (o *bwdOp) OverwritesInput() int { return -1 }

// DiffWRT: no second derivatives; the backward is a leaf of differentiation.
func (o *bwdOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (o *bwdOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s: second derivatives are not implemented", o)
}

func (o *bwdOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(ds)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	n := 0
	for _, i := range o.packed {
		n += sizeOf(s[i])
	}
	return tensor.Shape{n}, nil
}

func (o *bwdOp) Do(vals ...G.Value) (G.Value, error) {
	k := o.k
	n := k.arity()
	want := n + 1
	if k.needsOut() {
		want++
	}
	if len(vals) != want {
		return nil, fmt.Errorf("%s: %d inputs, want %d", o, len(vals), want)
	}
	shapes := logicalShapes(vals)
	ds, dt, err := denseAll(o.String(), vals)
	if err != nil {
		return nil, err
	}
	os, err := k.outShape(shapes[:n])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	gy := ds[len(ds)-1]
	if !shapes[len(ds)-1].Eq(os) {
		return nil, fmt.Errorf("%s: output gradient shape %v, want %v", o, shapes[len(ds)-1], os)
	}
	var out *tensor.Dense
	if k.needsOut() {
		out = ds[n]
	}
	total := 0
	for _, i := range o.packed {
		total += sizeOf(shapes[i])
	}
	buf := newDense(dt, tensor.Shape{total})
	grads := make([]*tensor.Dense, n)
	off := 0
	for _, i := range o.packed {
		grads[i] = viewOf(buf, off, shapes[i])
		off += sizeOf(shapes[i])
	}
	if err := k.backward(grads, gy, out, ds[:n]); err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	return buf, nil
}

// ---- extract op ----

// extractOp hands out one input's gradient as a view of the packed buffer. Sharing memory is safe: each
// view covers a disjoint range, so an in-place consumer of one gradient cannot touch another.
type extractOp struct {
	name  string
	off   int
	shape tensor.Shape
}

func (o *extractOp) Arity() int     { return 1 }
func (o *extractOp) Type() hm.Type  { return fnType([]int{1}, o.shape.Dims()) }
func (o *extractOp) String() string { return fmt.Sprintf("∂%s[%d:%v]", o.name, o.off, o.shape) }
func (o *extractOp) WriteHash(h hash.Hash) {
	h.Write([]byte("extract:" + o.name))
	binary.Write(h, binary.LittleEndian, int64(o.off))
	fmt.Fprintf(h, "%v", o.shape)
}
func (o *extractOp) Hashcode() uint32 {
	return hashOf(fmt.Sprintf("extract:%s:%d:%v", o.name, o.off, o.shape))
}
func (o *extractOp) ReturnsPtr() bool                                  { return false }
func (o *extractOp) CallsExtern() bool                                 { return false }
func (o *extractOp) OverwritesInput() int                              { return -1 }
func (o *extractOp) DiffWRT(n int) []bool                              { return make([]bool, n) }
func (o *extractOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) { return o.shape.Clone(), nil }
func (o *extractOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%s: second derivatives are not implemented", o)
}

func (o *extractOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 1 {
		return nil, fmt.Errorf("%s: %d inputs, want 1", o, len(vals))
	}
	b, err := asDense(vals[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	if n := b.Shape().TotalSize(); o.off+sizeOf(o.shape) > n {
		return nil, fmt.Errorf("%s: packed gradient has %d elements, need %d", o, n, o.off+sizeOf(o.shape))
	}
	return result(viewOf(b, o.off, o.shape), o.shape), nil
}
