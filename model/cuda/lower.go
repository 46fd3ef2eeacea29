package cuda

import (
	"fmt"
	"sort"

	G "gorgonia.org/gorgonia"

	"github.com/lumina-workbench/lumina/model/exec"
	"github.com/lumina-workbench/lumina/model/ops"
)

// Lowering: a compiled program (model/exec) becomes a list of device steps over one allocation, the
// program's arena followed by a workspace for the scratch buffers of one instruction at a time
// (attention's head-major copies and log-sum-exps, RMSNorm's per-row weight gradients, the loss's
// partial sums). Every step names places by offset, so the list is pure data: the cuda build runs it
// with kernel launches and cuBLAS, and Emulator runs it on the CPU to check the lowering itself.
//
// Attention's backward recomputes its forward (prep and the online softmax) instead of keeping the
// log-sum-exps from the forward pass: each instruction stays self-contained, at the cost of one more
// attention forward per layer in training.

// Space is one of the two device allocations steps address: a program's own arena (its values and
// workspace), or the state that outlives programs and is shared by them (resident weights, gradients,
// optimiser moments, the EMA).
type Space uint8

const (
	ArenaSpace Space = iota
	StateSpace
)

// Ptr is a place in device memory, in float32 elements from the start of its space; Off < 0 is NULL.
type Ptr struct {
	Off   int64
	Space Space
}

// Null is a NULL pointer argument (an optional input left out).
var Null = Ptr{Off: -1}

// IsNull says p is NULL.
func (p Ptr) IsNull() bool { return p.Off < 0 }

// Add is p moved n floats on.
func (p Ptr) Add(n int64) Ptr { return Ptr{Off: p.Off + n, Space: p.Space} }

// Gemm is a row-major product C[M, N] = op(A)[M, K]·op(B)[K, N] + Beta·C, each matrix stored densely
// (leading dimension its stored row length).
type Gemm struct {
	TransA, TransB bool
	M, N, K        int
	A, B, C        Ptr
	Beta           float32
}

// Cublas is the column-major call that computes g: cuBLAS sees the row-major C as Cᵀ, so it computes
// Cᵀ = op(B)ᵀ·op(A)ᵀ with the operands swapped.
type Cublas struct {
	TransA, TransB bool
	M, N, K        int
	A              Ptr
	Lda            int
	B              Ptr
	Ldb            int
	C              Ptr
	Ldc            int
	Beta           float32
}

// Cublas is g as cuBLAS's column-major sgemm.
func (g Gemm) Cublas() Cublas {
	ld := func(trans bool, rows, cols int) int { // the stored row length of an op(X) of rows × cols
		if trans {
			return rows
		}
		return cols
	}
	return Cublas{TransA: g.TransB, TransB: g.TransA, M: g.N, N: g.M, K: g.K,
		A: g.B, Lda: ld(g.TransB, g.K, g.N), B: g.A, Ldb: ld(g.TransA, g.M, g.K), C: g.C, Ldc: g.N, Beta: g.Beta}
}

// StepKind is what a step does.
type StepKind int

const (
	// UploadStep copies an input value (a weight, a batch tensor, a constant) from the host.
	UploadStep StepKind = iota
	// KernelStep launches Name with Launch and Args (Ptr, int for C int, int64, float64).
	KernelStep
	// GemmStep is a cuBLAS sgemm.
	GemmStep
	// CopyStep copies N floats from Src to Dst; ZeroStep clears N floats at Dst.
	CopyStep
	ZeroStep
)

// Step is one device operation.
type Step struct {
	Kind     StepKind
	Value    int // UploadStep: the program's value
	Name     string
	Launch   Launch
	Args     []any
	Gemm     Gemm
	Dst, Src Ptr
	N        int64
}

// Lowered is a program as device steps.
type Lowered struct {
	Prog  *exec.Program
	Steps []Step
	// Size is the floats of the program's arena space: Prog.ArenaSize, then Workspace.
	Size, Workspace int64
	// From says which instruction each step lowers (−1: a copy of an output to its state place).
	From []int
	// places are the buffers moved to the state space.
	places map[int]Ptr
}

// Place is where value v lives.
func (l *Lowered) Place(v int) Ptr {
	val := l.Prog.Values[v]
	if p, ok := l.places[val.Buf]; ok {
		return p.Add(int64(val.Offset))
	}
	return Ptr{Off: int64(l.Prog.Buffers[val.Buf].Offset + val.Offset)}
}

// Lower lowers a float32 program. state places some of its nodes in the state space: an input there is
// resident (read in place, never uploaded); an output there is written there (in place when it has a
// buffer of its own, else copied there after the last step); nodes not in the program are ignored. It
// fails on an op with no kernel, naming it.
func Lower(p *exec.Program, state map[*G.Node]Ptr) (*Lowered, error) {
	if p.Dtype.Name() != "float32" {
		return nil, fmt.Errorf("cuda: the device runs float32 programs, this one is %v", p.Dtype)
	}
	lw := &lowerer{l: &Lowered{Prog: p, places: map[int]Ptr{}}}
	copies, err := lw.place(state)
	if err != nil {
		return nil, err
	}
	for i, ins := range p.Instrs {
		if ins.Kind == exec.Input {
			if _, ok := state[ins.Node]; ok {
				continue // resident
			}
		}
		lw.ws, lw.at = 0, i
		if err := lw.instr(ins); err != nil {
			return nil, fmt.Errorf("cuda: lowering %s (%v): %w", ins.Node.Name(), ins.Node.Op(), err)
		}
		lw.l.Workspace = max(lw.l.Workspace, lw.ws)
	}
	lw.at = -1
	for _, c := range copies {
		lw.add(Step{Kind: CopyStep, Dst: c.dst, Src: lw.l.Place(c.v), N: int64(p.Values[c.v].Size)})
	}
	lw.l.Size = int64(p.ArenaSize) + lw.l.Workspace
	return lw.l, nil
}

type stateCopy struct {
	v   int
	dst Ptr
}

// place puts the external buffers of state's nodes at their state places; a node in state whose value
// shares a buffer is copied there instead. Every external buffer must get a place.
func (lw *lowerer) place(state map[*G.Node]Ptr) ([]stateCopy, error) {
	p := lw.l.Prog
	var copies []stateCopy
	for n, at := range state {
		if at.Space != StateSpace || at.IsNull() {
			return nil, fmt.Errorf("cuda: node %s placed at %+v, not in the state space", n.Name(), at)
		}
		id, ok := p.Index(n)
		if !ok {
			continue // a weight this program does not use
		}
		if b := p.Values[id].Buf; b >= 0 && p.Buffers[b].External {
			lw.l.places[b] = at
			continue
		}
		copies = append(copies, stateCopy{v: id, dst: at})
	}
	for i, b := range p.Buffers {
		if _, ok := lw.l.places[i]; b.External && !ok {
			return nil, fmt.Errorf("cuda: an external buffer of %d floats has no place in the state space", b.Size)
		}
	}
	// A deterministic order of the copies, whatever the map's.
	sort.Slice(copies, func(a, b int) bool { return copies[a].dst.Off < copies[b].dst.Off })
	return copies, nil
}

type lowerer struct {
	l      *Lowered
	ws     int64 // workspace used by the current instruction
	at     int
	failed error
}

func (lw *lowerer) add(s Step) {
	lw.l.Steps = append(lw.l.Steps, s)
	lw.l.From = append(lw.l.From, lw.at)
}

// ptr is value v's place.
func (lw *lowerer) ptr(v int) Ptr { return lw.l.Place(v) }

// scratch takes n floats of workspace for the current instruction, at an even offset of the arena
// (8-byte aligned: doubles live there too).
func (lw *lowerer) scratch(n int64) Ptr {
	if (int64(lw.l.Prog.ArenaSize)+lw.ws)%2 != 0 {
		lw.ws++
	}
	p := Ptr{Off: int64(lw.l.Prog.ArenaSize) + lw.ws}
	lw.ws += max(n, 1)
	return p
}

func (lw *lowerer) kernel(name string, l Launch, err error, args ...any) {
	if err != nil && lw.failed == nil {
		lw.failed = fmt.Errorf("%s: %w", name, err)
	}
	lw.add(Step{Kind: KernelStep, Name: name, Launch: l, Args: args})
}

func (lw *lowerer) elementwise(name string, n int64, args ...any) {
	l, err := Elementwise(n)
	lw.kernel(name, l, err, args...)
}

func (lw *lowerer) instr(ins exec.Instr) error {
	p := lw.l.Prog
	switch ins.Kind {
	case exec.Input:
		lw.add(Step{Kind: UploadStep, Value: ins.Out})
	case exec.Alias:
	case exec.Move:
		out := lw.ptr(ins.Out)
		covered := 0
		for _, r := range ins.Runs {
			covered += r.N
		}
		if covered < p.Values[ins.Out].Size {
			lw.add(Step{Kind: ZeroStep, Dst: out, N: int64(p.Values[ins.Out].Size)})
		}
		for _, r := range ins.Runs {
			src := lw.ptr(ins.In[r.In])
			lw.add(Step{Kind: CopyStep, Dst: out.Add(int64(r.Dst)), Src: src.Add(int64(r.Src)), N: int64(r.N)})
		}
	case exec.Compute:
		if ins.Sum {
			n := int64(p.Values[ins.Out].Size)
			lw.elementwise("add_fwd", n, lw.ptr(ins.In[0]), lw.ptr(ins.In[1]), lw.ptr(ins.Out), n)
			break
		}
		var err error
		if ins.Fused.Role == ops.Forward {
			err = lw.forward(ins, *ins.Fused)
		} else {
			err = lw.backward(ins, *ins.Fused)
		}
		if err != nil {
			return err
		}
	}
	return lw.failed
}
