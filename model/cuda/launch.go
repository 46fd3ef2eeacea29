// Package cuda is the device side of the model: CUDA C kernels for the fused ops of model/ops
// (kernels/*.cu, compiled to the committed ptx/*.ptx by `go generate`), the launch geometry of each
// (this file: pure functions), the lowering of a compiled program (model/exec) to kernel launches,
// cuBLAS products and copies (lower*.go), two Backends that run those steps — the Emulator on any
// machine, and in builds with the cuda tag the GPU, over gorgonia.org/cu — and on top of them the
// device-resident Trainer and Resident weights for sampling, with the memory planner (memplan.go).
// docs/DESIGN.md §16 says what is verified where: everything but the CUDA code itself on the CPU,
// against the emulator; the kernels' results on a GPU, by tools/gpucheck.
package cuda

import (
	"errors"
	"fmt"
)

// Limits of every GPU from Volta (compute capability 7.0) on, the oldest the compute_70 PTX runs on.
const (
	MaxThreadsPerBlock = 1024
	MaxGridX           = 1<<31 - 1
	MaxGridYZ          = 65535
	// MaxSharedStatic is what a block may use without opting in; MaxSharedOptIn what Volta allows after
	// cuFuncSetAttribute (later GPUs allow more; 96 KiB keeps one limit for all).
	MaxSharedStatic = 48 << 10
	MaxSharedOptIn  = 96 << 10
)

// Tuning of the kernel families; the .cu files assume the same numbers (ATTN_TILE, ATTN_MAX_HD).
const (
	ElementwiseThreads = 256
	// ElementwiseMaxBlocks caps a grid-stride launch: past it threads take several elements.
	ElementwiseMaxBlocks = 1 << 16
	ReduceThreads        = 256
	ReduceBlocks         = 1024
	RowMaxBlocks         = 1 << 16
	AttnTile             = 64
	AttnMaxHeadDim       = 128
)

// Launch is one kernel launch's geometry.
type Launch struct {
	Grid, Block [3]int
	// Shared is the dynamic shared memory in bytes; OptIn says it exceeds MaxSharedStatic, so the
	// executor must raise the function's limit first.
	Shared int
	OptIn  bool
}

// Threads is the number of threads launched.
func (l Launch) Threads() int64 {
	return int64(l.Grid[0]) * int64(l.Grid[1]) * int64(l.Grid[2]) * int64(l.Block[0]) * int64(l.Block[1]) * int64(l.Block[2])
}

// Validate checks l against the device limits above.
func (l Launch) Validate() error {
	for i, g := range l.Grid {
		lim := MaxGridYZ
		if i == 0 {
			lim = MaxGridX
		}
		if g < 1 || g > lim {
			return fmt.Errorf("grid dimension %d is %d, want 1..%d", i, g, lim)
		}
	}
	t := 1
	for i, b := range l.Block {
		if b < 1 {
			return fmt.Errorf("block dimension %d is %d, want ≥ 1", i, b)
		}
		t *= b
	}
	if t > MaxThreadsPerBlock {
		return fmt.Errorf("block of %d threads, the limit is %d", t, MaxThreadsPerBlock)
	}
	if l.Block[0]%32 != 0 {
		return fmt.Errorf("block x %d is not a whole number of warps", l.Block[0])
	}
	switch {
	case l.Shared < 0:
		return fmt.Errorf("shared memory %d bytes", l.Shared)
	case l.Shared > MaxSharedOptIn:
		return fmt.Errorf("shared memory %d bytes exceeds the %d a block can opt in to", l.Shared, MaxSharedOptIn)
	case l.OptIn != (l.Shared > MaxSharedStatic):
		return fmt.Errorf("shared memory %d bytes with opt-in %v", l.Shared, l.OptIn)
	}
	return nil
}

// ErrEmpty is the geometry of an empty tensor: there is nothing to launch.
var ErrEmpty = errors.New("no elements: nothing to launch")

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func shared(bytes int) Launch { return Launch{Shared: bytes, OptIn: bytes > MaxSharedStatic} }

// Elementwise is the grid-stride launch over n elements (the GRID_STRIDE loop of common.cuh).
func Elementwise(n int64) (Launch, error) {
	if n <= 0 {
		return Launch{}, ErrEmpty
	}
	l := Launch{Grid: [3]int{int(min(ceilDiv(n, ElementwiseThreads), ElementwiseMaxBlocks)), 1, 1}, Block: [3]int{ElementwiseThreads, 1, 1}}
	return l, l.Validate()
}

// Rows is one block per row of D elements (RMSNorm, LayerNorm), rows past RowMaxBlocks taken by a
// stride loop; the block is the smallest whole number of warps covering D, at most 1024 threads, and
// the shared memory one double per warp (block_sum).
func Rows(rows int64, d int) (Launch, error) {
	if rows <= 0 || d <= 0 {
		return Launch{}, ErrEmpty
	}
	t := int(min(ceilDiv(int64(d), 32)*32, MaxThreadsPerBlock))
	l := shared(t / 32 * 8)
	l.Grid = [3]int{int(min(rows, RowMaxBlocks)), 1, 1}
	l.Block = [3]int{t, 1, 1}
	return l, l.Validate()
}

// Reduce is sq_partial's fixed grid; Partials is how many doubles it writes (sq_final's input).
func Reduce(n int64) (l Launch, partials int, err error) {
	if n <= 0 {
		return Launch{}, 0, ErrEmpty
	}
	l = shared(ReduceThreads / 32 * 8)
	l.Grid = [3]int{int(min(ceilDiv(n, ReduceThreads), ReduceBlocks)), 1, 1}
	l.Block = [3]int{ReduceThreads, 1, 1}
	return l, l.Grid[0], l.Validate()
}

// AttnShape is one attention call (model/ops.AttnOpts with the batch and sequence): L queries, and Lk
// keys (0: L, self-attention).
type AttnShape struct {
	B, L, Heads, KVHeads, HeadDim int
	Lk                            int
}

// Keys is the number of keys.
func (s AttnShape) Keys() int {
	if s.Lk == 0 {
		return s.L
	}
	return s.Lk
}

// Validate checks what the kernels assume.
func (s AttnShape) Validate() error {
	switch {
	case s.B < 1 || s.L < 1 || s.Lk < 0:
		return fmt.Errorf("attention: batch %d, length %d, keys %d, want ≥ 1", s.B, s.L, s.Lk)
	case s.Heads < 1 || s.KVHeads < 1 || s.Heads%s.KVHeads != 0:
		return fmt.Errorf("attention: heads %d, kv heads %d: want heads a multiple of kv heads", s.Heads, s.KVHeads)
	case s.HeadDim < 2 || s.HeadDim%2 != 0 || s.HeadDim > AttnMaxHeadDim:
		return fmt.Errorf("attention: head dim %d, want even and at most %d", s.HeadDim, AttnMaxHeadDim)
	}
	return nil
}

// AttnPrep is attn_prep's and attn_post's launch: one thread per (b, l, head slot).
func AttnPrep(s AttnShape) (Launch, error) {
	if err := s.Validate(); err != nil {
		return Launch{}, err
	}
	return Elementwise(int64(s.B) * int64(s.L) * int64(s.Heads+2*s.KVHeads))
}

// AttnQuery is attn_fwd's and attn_bwd_dq's launch: (query tile, head, sample) blocks of AttnTile
// threads, with a key and a value tile in shared memory.
func AttnQuery(s AttnShape) (Launch, error) {
	if err := s.Validate(); err != nil {
		return Launch{}, err
	}
	l := shared(2 * AttnTile * s.HeadDim * 4)
	l.Grid = [3]int{int(ceilDiv(int64(s.L), AttnTile)), s.Heads, s.B}
	l.Block = [3]int{AttnTile, 1, 1}
	return l, l.Validate()
}

// AttnKV is attn_bwd_dkv's launch: (key tile, kv head, sample) blocks; shared memory holds a query
// tile, its output-gradient tile and their log-sum-exp and Δ.
func AttnKV(s AttnShape) (Launch, error) {
	if err := s.Validate(); err != nil {
		return Launch{}, err
	}
	l := shared(2*AttnTile*s.HeadDim*4 + 2*AttnTile*4)
	l.Grid = [3]int{int(ceilDiv(int64(s.Keys()), AttnTile)), s.KVHeads, s.B}
	l.Block = [3]int{AttnTile, 1, 1}
	return l, l.Validate()
}

// Kernel names a kernel of the PTX and the number of parameters its launch passes.
type Kernel struct {
	Module, Name string
	Params       int
}

// Kernels lists every kernel the executor launches; a CPU test checks each against the PTX.
var Kernels = []Kernel{
	{"elementwise", "silu_fwd", 3}, {"elementwise", "silu_bwd", 4},
	{"elementwise", "swiglu_fwd", 4}, {"elementwise", "swiglu_bwd", 6},
	{"elementwise", "add_fwd", 4}, {"elementwise", "modulate_fwd", 6},
	{"elementwise", "sample_sums", 7}, {"elementwise", "gated_fwd", 7}, {"elementwise", "gated_bwd_dy", 6},
	{"elementwise", "bias_add", 4}, {"elementwise", "col_sum", 4}, {"elementwise", "scale_inplace", 3},
	{"norm", "rmsnorm_fwd", 7}, {"norm", "rmsnorm_bwd", 8}, {"norm", "layernorm_fwd", 5}, {"norm", "layernorm_bwd", 6},
	{"attention", "attn_prep", 16}, {"attention", "attn_fwd", 13}, {"attention", "attn_bwd_dq", 15},
	{"attention", "attn_bwd_dkv", 16}, {"attention", "attn_post", 18},
	{"attention", "xattn_prep", 10}, {"attention", "xattn_post", 12},
	{"patch", "patchify", 7}, {"patch", "unpatchify", 7}, {"patch", "avgpool_fwd", 6}, {"patch", "avgpool_bwd", 6},
	{"loss", "sq_partial", 4}, {"loss", "sq_final", 4}, {"loss", "mse_bwd", 6},
	{"optim", "adamw_step", 12}, {"optim", "ema_update", 4}, {"optim", "clip_scale", 5},
	{"text", "embed_fwd", 6}, {"text", "embed_bwd", 6}, {"text", "ce_rows", 7}, {"text", "ce_final", 5}, {"text", "ce_bwd", 9},
}
