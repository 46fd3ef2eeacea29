package exec

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/ops"
)

// Host runs a program on the CPU over one arena: fused ops through their model/ops kernels, moves
// through the program's runs, views as views. It is the reference a device executor is checked against.
type Host[T float32 | float64] struct {
	p     *Program
	arena []T
	// ext are the external buffers' offsets, past the arena.
	ext map[int]int
	// shared, when set, is where the arena lives instead (arena stays nil): read from it at each use,
	// since another host may have grown it, and holding on to the old memory would keep it alive.
	shared *Arena
}

// Arena is memory that the hosts of programs which never run at the same time share (the training
// graphs of one stage, one per caption length): each runs in it, grown to the largest program's size,
// instead of each holding an arena of its own. A host's outputs then stay valid only until any host
// sharing the arena runs. The attention state that no backward of a program reads is shared too.
type Arena struct {
	f32 []float32
	f64 []float64
	// state is the attention state of the hosts' forward-only attentions (Instr.StateUnread).
	state ops.State
}

// Bytes is the memory the arena holds now: the largest program that has run in it.
func (a *Arena) Bytes() int64 { return int64(len(a.f32))*4 + int64(len(a.f64))*8 }

// NewHost allocates the arena of p; T must be p's dtype.
func NewHost[T float32 | float64](p *Program) (*Host[T], error) {
	return newHost[T](p, nil)
}

// newHost makes a host of p with its own arena, or one in a, which p's external buffers cannot use:
// they must keep their contents from run to run.
func newHost[T float32 | float64](p *Program, a *Arena) (*Host[T], error) {
	var z T
	if want := p.Dtype; (want == tensor.Float32) != isF32(z) {
		return nil, fmt.Errorf("exec: host of %T for a %v program", z, want)
	}
	h := &Host[T]{p: p, ext: map[int]int{}, shared: a}
	n := p.ArenaSize
	for i, b := range p.Buffers {
		if b.External {
			h.ext[i] = n
			n += b.Size
		}
	}
	if a != nil {
		if n > p.ArenaSize {
			return nil, fmt.Errorf("exec: a program with external buffers cannot run in a shared arena")
		}
		for _, ins := range p.Instrs {
			if ins.StateUnread {
				ops.ShareState(ins.Node.Op(), &a.state)
			}
		}
		return h, nil
	}
	h.arena = nanSlice[T](n)
	return h, nil
}

// nanSlice is n elements of NaN: a value read before an instruction writes it shows in the results.
func nanSlice[T float32 | float64](n int) []T {
	s := make([]T, n)
	nan := T(math.NaN())
	for i := range s {
		s[i] = nan
	}
	return s
}

// take is the first n elements of a's memory of T, which grows (anew, NaN-filled) when smaller.
func take[T float32 | float64](a *Arena, n int) []T {
	s, ok := any(&a.f32).(*[]T) // a pointer in the interface: nothing is allocated
	if !ok {
		s = any(&a.f64).(*[]T)
	}
	if len(*s) < n {
		*s = nanSlice[T](n)
	}
	return (*s)[:n]
}

func isF32(v any) bool { _, ok := v.(float32); return ok }

// mem is the memory the host's program runs in.
func (h *Host[T]) mem() []T {
	if h.shared != nil {
		return take[T](h.shared, h.p.ArenaSize)
	}
	return h.arena
}

// Data is value v's elements in the arena (a slice of it, valid until the next Run for non-outputs).
func (h *Host[T]) Data(v int) []T {
	val := h.p.Values[v]
	off := h.p.Buffers[val.Buf].Offset + val.Offset
	if at, ok := h.ext[val.Buf]; ok {
		off = at + val.Offset
	}
	return h.mem()[off : off+val.Size]
}

// Output is node n's elements after the last Run; n must be one of the program's outputs.
func (h *Host[T]) Output(n *G.Node) ([]T, error) {
	v, ok := h.p.index[n]
	if !ok {
		return nil, fmt.Errorf("exec: node %s is not in the program", n.Name())
	}
	for _, o := range h.p.Outputs {
		if o == v {
			return h.Data(v), nil
		}
	}
	return nil, fmt.Errorf("exec: node %s is not an output of the program", n.Name())
}

// Run executes every instruction, reading each input node's current value.
func (h *Host[T]) Run() error {
	for i, ins := range h.p.Instrs {
		if err := h.step(ins); err != nil {
			return fmt.Errorf("exec: instruction %d (%s %s): %w", i, ins.Kind, ins.Node.Name(), err)
		}
	}
	return nil
}

func (h *Host[T]) step(ins Instr) error {
	var out []T
	if h.p.Values[ins.Out].Buf >= 0 {
		out = h.Data(ins.Out)
	}
	switch ins.Kind {
	case Input:
		v := ins.Node.Value()
		if v == nil {
			return fmt.Errorf("the input has no value")
		}
		return Fill(out, v)
	case Alias:
		return nil
	case Move:
		clear(out)
		for _, r := range ins.Runs {
			copy(out[r.Dst:r.Dst+r.N], h.Data(ins.In[r.In])[r.Src:r.Src+r.N])
		}
		return nil
	case Compute:
		if ins.Sum {
			a, b := h.Data(ins.In[0]), h.Data(ins.In[1])
			for j := range out {
				out[j] = a[j] + b[j]
			}
			return nil
		}
		args := make([]G.Value, len(ins.In))
		for j, v := range ins.In {
			args[j] = h.view(v)
		}
		res, err := ins.Node.Op().Do(args...)
		if err != nil {
			return err
		}
		if parts := h.p.Values[ins.Out].Parts; parts != nil {
			return h.scatter(parts, res)
		}
		return Fill(out, res)
	}
	return fmt.Errorf("unknown instruction kind %d", ins.Kind)
}

// scatter copies a fused backward's packed result into its gradients' buffers.
func (h *Host[T]) scatter(parts []int, packed G.Value) error {
	total := 0
	for _, q := range parts {
		total += h.p.Values[q].Size
	}
	all := make([]T, total)
	if err := Fill(all, packed); err != nil {
		return err
	}
	for _, q := range parts {
		n := copy(h.Data(q), all)
		all = all[n:]
	}
	return nil
}

// view is value v as a Gorgonia value over the arena (no copy): a tensor, or a scalar.
func (h *Host[T]) view(v int) G.Value {
	val := h.p.Values[v]
	d := h.Data(v)
	if val.Shape.IsScalar() {
		if x, ok := any(d[0]).(float32); ok {
			return G.NewF32(x)
		}
		return G.NewF64(any(d[0]).(float64))
	}
	return tensor.New(tensor.WithShape(val.Shape.Clone()...), tensor.WithBacking(d))
}

// Fill copies value v (a tensor, a view or a scalar) into dst, which must have as many elements.
func Fill[T float32 | float64](dst []T, v G.Value) error {
	switch t := v.(type) {
	case *tensor.Dense:
		if t.IsMaterializable() {
			t = t.Materialize().(*tensor.Dense)
		}
		switch src := t.Data().(type) {
		case []T:
			if len(src) != len(dst) {
				return fmt.Errorf("value of %d elements for %d", len(src), len(dst))
			}
			copy(dst, src)
		case T:
			if len(dst) != 1 {
				return fmt.Errorf("scalar for %d elements", len(dst))
			}
			dst[0] = src
		default:
			return fmt.Errorf("value of %T for %T elements", t.Data(), dst)
		}
	case *G.F32:
		return fillScalar(dst, any(float32(*t)))
	case *G.F64:
		return fillScalar(dst, any(float64(*t)))
	default:
		return fmt.Errorf("value of type %T", v)
	}
	return nil
}

func fillScalar[T float32 | float64](dst []T, x any) error {
	s, ok := x.(T)
	if !ok || len(dst) != 1 {
		return fmt.Errorf("scalar %T for %d elements of %T", x, len(dst), dst)
	}
	dst[0] = s
	return nil
}
