// Package exec compiles a Gorgonia graph (forward and, after G.Grad, backward) into a flat program over
// one arena of floats, and runs it on the host. The program is what a device executor needs and a
// Gorgonia machine hides: the order of the ops, where every value lives, which values are views of
// others, which ops only move data (as lists of contiguous runs), and an arena layout that reuses the
// memory of values no later op reads. model/cuda lowers the same program to kernel launches; the host
// runner here is its reference, and it must give bit for bit what a Gorgonia tape machine gives.
package exec

import (
	"fmt"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/ops"
)

// Kind is what an instruction does.
type Kind int

const (
	// Input copies a node's current value (a weight, a batch tensor, a constant) into the arena.
	Input Kind = iota
	// Compute runs an op: a fused op of model/ops or an element-wise sum of two values.
	Compute
	// Move writes its output only by copying contiguous runs of its inputs (slices, concatenations,
	// a slice's gradient); elements no run covers are zero.
	Move
	// Alias makes a value that shares its input's memory (a reshape, a gradient extracted from a packed
	// backward buffer); nothing runs.
	Alias
)

func (k Kind) String() string {
	return [...]string{"input", "compute", "move", "alias"}[k]
}

// Run is one contiguous copy of a Move: N elements from input In at Src to the output at Dst.
type Run struct{ In, Src, Dst, N int }

// Value is one node's value: Size elements at Offset of buffer Buf. A fused backward's packed
// gradients are not one buffer but Parts, one value (and buffer) per gradient, Buf −1: each gradient
// then lives only as long as it is read, where one packed buffer would keep every activation gradient
// alive as long as the parameter gradient beside it.
type Value struct {
	Node   *G.Node
	Shape  tensor.Shape
	Size   int
	Buf    int
	Offset int
	Parts  []int
}

// Instr is one step of a program.
type Instr struct {
	Kind Kind
	Node *G.Node
	// In are the values the step reads (for a Move, in the order Run.In counts); Out is the value it
	// defines.
	In  []int
	Out int
	// Fused describes a model/ops op; Sum is true for the element-wise sum of two values.
	Fused *ops.Desc
	Sum   bool
	// StateUnread is set on a fused attention's forward whose backward is not in the program: nothing
	// reads the state it keeps, so hosts sharing an arena share that state too (ops.ShareState).
	StateUnread bool
	Runs        []Run
}

// Buffer is one allocation of the arena: Size elements at Offset, live from instruction First to Last
// (inclusive). Pinned buffers (inputs and outputs) live through the whole program. An External buffer
// is not in the arena (Offset −1): whoever runs the program places it (a device's resident weights).
type Buffer struct {
	Size, Offset int
	First, Last  int
	Pinned       bool
	External     bool
}

// Program is a compiled graph.
type Program struct {
	Dtype   tensor.Dtype
	Values  []Value
	Instrs  []Instr
	Buffers []Buffer
	// ArenaSize is the elements of the arena all buffers are laid out in; BufferTotal what they would
	// take without reuse.
	ArenaSize, BufferTotal int
	// OpState is the bytes the program's ops keep between calls beyond the arena (ops.StateBytes):
	// the fused attentions' saved forward.
	OpState int64
	Outputs []int
	index   map[*G.Node]int
}

// HostBytes is the memory the program holds when it runs on the CPU (Machine): its arena with the
// external buffers, and its ops' state.
func (p *Program) HostBytes() int64 {
	n := int64(p.ArenaSize)
	for _, b := range p.Buffers {
		if b.External {
			n += int64(b.Size)
		}
	}
	return n*int64(p.Dtype.Size()) + p.OpState
}

// Index is the index in Values of node n's value, if the program has one.
func (p *Program) Index(n *G.Node) (int, bool) {
	i, ok := p.index[n]
	return i, ok
}

// Compile makes the program that computes outputs (and every value they need) from the graph's
// inputs. Every output's buffer stays valid after a run; other values may be overwritten by later ops.
// The values of external nodes (inputs or outputs) that own their buffer get no arena space: they
// live where the runner keeps them, across runs and programs. External nodes the outputs do not need
// are ignored (a part of a model uses some of its weights).
func Compile(outputs, external []*G.Node) (*Program, error) {
	if len(outputs) == 0 {
		return nil, fmt.Errorf("exec: no outputs to compute")
	}
	c := &compiler{p: &Program{Dtype: outputs[0].Dtype(), index: map[*G.Node]int{}}, seen: map[*G.Node]bool{}}
	if c.p.Dtype != tensor.Float32 && c.p.Dtype != tensor.Float64 {
		return nil, fmt.Errorf("exec: dtype %v, want Float32 or Float64", c.p.Dtype)
	}
	for _, o := range outputs {
		if err := c.visit(o); err != nil {
			return nil, err
		}
	}
	for _, o := range outputs {
		c.p.Outputs = append(c.p.Outputs, c.p.index[o])
	}
	for _, n := range external {
		v, ok := c.p.index[n]
		if !ok {
			continue
		}
		val := c.p.Values[v]
		if val.Buf >= 0 && val.Offset == 0 && val.Size == c.p.Buffers[val.Buf].Size {
			c.p.Buffers[val.Buf].External = true
		}
	}
	c.p.markUnreadState()
	c.p.plan()
	return c.p, nil
}

// markUnreadState sets StateUnread on the fused attention forwards whose backward the program lacks.
func (p *Program) markUnreadState() {
	read := map[any]bool{}
	for _, ins := range p.Instrs {
		if ins.Fused != nil && ins.Fused.Role == ops.Backward {
			if o := ops.StateOwner(ins.Node.Op()); o != nil {
				read[o] = true
			}
		}
	}
	for i, ins := range p.Instrs {
		if ins.Fused != nil && ins.Fused.Role == ops.Forward {
			if o := ops.StateOwner(ins.Node.Op()); o != nil && !read[o] {
				p.Instrs[i].StateUnread = true
			}
		}
	}
}

type compiler struct {
	p    *Program
	seen map[*G.Node]bool
}

func children(n *G.Node) []*G.Node {
	var out []*G.Node
	for it := n.Graph().From(n.ID()); it.Next(); {
		out = append(out, it.Node().(*G.Node))
	}
	return out
}

// visit appends n's instruction after those of its children (depth first, children in order), so the
// program order is deterministic for a given graph.
func (c *compiler) visit(n *G.Node) error {
	if c.seen[n] {
		return nil
	}
	c.seen[n] = true
	if n.Dtype() != c.p.Dtype {
		return fmt.Errorf("exec: node %s is %v, the program is %v", n.Name(), n.Dtype(), c.p.Dtype)
	}
	ch := children(n)
	for _, k := range ch {
		if err := c.visit(k); err != nil {
			return err
		}
	}
	in := make([]int, len(ch))
	for i, k := range ch {
		in[i] = c.p.index[k]
	}
	ins, err := c.instr(n, in)
	if err != nil {
		return fmt.Errorf("exec: node %s (%v): %w", n.Name(), n.Op(), err)
	}
	c.p.Instrs = append(c.p.Instrs, ins)
	return nil
}

// value adds n's value: its own buffer, or a view into in's buffer at off.
func (c *compiler) value(n *G.Node, view bool, of, off int) int {
	s := n.Shape()
	size := 1
	if !s.IsScalar() {
		size = s.TotalSize()
	}
	v := Value{Node: n, Shape: s, Size: size}
	if view {
		base := c.p.Values[of]
		v.Buf, v.Offset = base.Buf, base.Offset+off
	} else {
		v.Buf = len(c.p.Buffers)
		c.p.Buffers = append(c.p.Buffers, Buffer{Size: size})
	}
	c.p.Values = append(c.p.Values, v)
	id := len(c.p.Values) - 1
	c.p.index[n] = id
	return id
}

// split gives the packed output of a fused backward one value and buffer per gradient, in order.
func (c *compiler) split(out int, d ops.Desc, in []int) error {
	packed := &c.p.Values[out]
	c.p.Buffers = c.p.Buffers[:packed.Buf] // the packed buffer itself is never allocated
	packed.Buf = -1
	total := 0
	for _, i := range d.Packed {
		if i >= len(in) {
			return fmt.Errorf("gradient of input %d of %d", i, len(in))
		}
		src := c.p.Values[in[i]]
		c.p.Values = append(c.p.Values, Value{Shape: src.Shape.Clone(), Size: src.Size, Buf: len(c.p.Buffers)})
		c.p.Buffers = append(c.p.Buffers, Buffer{Size: src.Size})
		c.p.Values[out].Parts = append(c.p.Values[out].Parts, len(c.p.Values)-1)
		total += src.Size
	}
	if total != c.p.Values[out].Size {
		return fmt.Errorf("packed gradients of %d elements for parts of %d", c.p.Values[out].Size, total)
	}
	return nil
}

// part is the gradient of packed value v that starts at offset off.
func (c *compiler) part(v, off int, s tensor.Shape) (int, error) {
	at := 0
	for _, p := range c.p.Values[v].Parts {
		if at == off {
			if !c.p.Values[p].Shape.Eq(s) {
				return 0, fmt.Errorf("gradient at %d has shape %v, the view %v", off, c.p.Values[p].Shape, s)
			}
			return p, nil
		}
		at += c.p.Values[p].Size
	}
	return 0, fmt.Errorf("no gradient starts at offset %d of the packed buffer", off)
}

// shapes are the shapes of values vs.
func (c *compiler) shapes(vs []int) []tensor.Shape {
	out := make([]tensor.Shape, len(vs))
	for i, v := range vs {
		out[i] = c.p.Values[v].Shape
	}
	return out
}

func (c *compiler) instr(n *G.Node, in []int) (Instr, error) {
	if len(in) == 0 {
		if n.Value() == nil && n.Op() != nil && !strings.HasPrefix(fmt.Sprint(n.Op()), "const") {
			return Instr{}, fmt.Errorf("a leaf that is neither an input nor a constant")
		}
		return Instr{Kind: Input, Node: n, Out: c.value(n, false, 0, 0)}, nil
	}
	op := n.Op()
	t := fmt.Sprintf("%T", op)
	// Whether an op may overwrite an input (a hint for Gorgonia's machines) does not matter here: fused
	// ops run through Do, which never does, and sums and moves are the program's own code.
	if d, ok := ops.Describe(op); ok {
		if d.Role == ops.Extract {
			part, err := c.part(in[0], d.Offset, n.Shape())
			if err != nil {
				return Instr{}, err
			}
			return Instr{Kind: Alias, Node: n, In: in, Out: c.value(n, true, part, 0), Fused: &d}, nil
		}
		state, err := ops.StateBytes(op, c.shapes(in), c.p.Dtype)
		if err != nil {
			return Instr{}, err
		}
		c.p.OpState += state
		out := c.value(n, false, 0, 0)
		if d.Role == ops.Backward {
			if err := c.split(out, d, in); err != nil {
				return Instr{}, err
			}
		}
		return Instr{Kind: Compute, Node: n, In: in, Out: out, Fused: &d}, nil
	}
	switch t {
	case "gorgonia.reshapeOp":
		return Instr{Kind: Alias, Node: n, In: in, Out: c.value(n, true, in[0], 0)}, nil
	case "gorgonia.elemBinOp":
		if !strings.HasPrefix(op.String(), "+ ") || len(in) != 2 {
			return Instr{}, fmt.Errorf("element-wise op %q: only the sum of two values runs here", op)
		}
		a, b := c.p.Values[in[0]], c.p.Values[in[1]]
		if !a.Shape.Eq(b.Shape) || !a.Shape.Eq(n.Shape()) {
			return Instr{}, fmt.Errorf("sum of shapes %v and %v into %v: broadcasting does not run here", a.Shape, b.Shape, n.Shape())
		}
		return Instr{Kind: Compute, Node: n, In: in, Out: c.value(n, false, 0, 0), Sum: true}, nil
	case "*gorgonia.sliceOp", "gorgonia.sliceOp", "gorgonia.concatOp", "gorgonia.sliceIncrOp":
		srcs := in
		if t == "gorgonia.sliceIncrOp" {
			srcs = in[1:] // the first input gives only the shape: the output is zero outside the slice
		}
		out := c.value(n, false, 0, 0)
		runs, err := c.runs(op, in, srcs, t == "gorgonia.sliceIncrOp")
		if err != nil {
			return Instr{}, err
		}
		return Instr{Kind: Move, Node: n, In: srcs, Out: out, Runs: runs}, nil
	default:
		return Instr{}, fmt.Errorf("op type %s is not one the executor runs", t)
	}
}
