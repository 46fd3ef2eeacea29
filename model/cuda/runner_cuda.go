//go:build cuda

package cuda

/*
#cgo LDFLAGS: -lcublas
#include <stdint.h>
#include <cublas_v2.h>

// Device addresses cross from Go as integers; the casts to pointers happen here, in C.
static cublasStatus_t lumina_sgemm(cublasHandle_t h, int ta, int tb, int m, int n, int k,
                                   uintptr_t a, int lda, uintptr_t b, int ldb, float beta, uintptr_t c, int ldc) {
	const float alpha = 1.0f;
	return cublasSgemm(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
	                   &alpha, (const float *)a, lda, (const float *)b, ldb, &beta, (float *)c, ldc);
}
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/lumina-workbench/lumina/model/exec"
)

// GPU is the Backend of a CUDA device: kernels through Device.LaunchAsync, products through cuBLAS,
// copies through the driver, all on the default stream in step order; Run waits for its steps to finish
// at its end. With LUMINA_CUDA_SYNC=1 every kernel is waited for, so an error names the kernel that
// failed (slower; for debugging).
type GPU struct {
	D            *Device
	state, arena Buf
	blas         C.cublasHandle_t
	sync         bool
}

// OpenGPU opens device index with the project's kernels and a cuBLAS handle.
func OpenGPU(index int) (*GPU, error) {
	d, err := Open(index)
	if err != nil {
		return nil, err
	}
	g := &GPU{D: d, sync: os.Getenv("LUMINA_CUDA_SYNC") == "1"}
	release, err := d.Bind()
	if err != nil {
		d.Close()
		return nil, err
	}
	defer release()
	if st := C.cublasCreate(&g.blas); st != C.CUBLAS_STATUS_SUCCESS {
		d.Close()
		return nil, fmt.Errorf("cuda: creating a cuBLAS handle: status %d", int(st))
	}
	return g, nil
}

// Name is the device's name and index.
func (g *GPU) Name() string { return fmt.Sprintf("cuda:%d (%s)", g.D.Index, g.D.Name) }

// Reserve allocates the state space, zeroed.
func (g *GPU) Reserve(n int64) error {
	release, err := g.D.Bind()
	if err != nil {
		return err
	}
	defer release()
	if g.state.ptr != 0 {
		g.D.Free(g.state)
		g.state = Buf{}
	}
	b, err := g.D.Alloc(int(n))
	if err != nil {
		return fmt.Errorf("cuda: the state space (%d MiB): %w", n*4>>20, err)
	}
	g.state = b
	return nil
}

// at is the device buffer of n floats at p.
func (g *GPU) at(p Ptr, n int64) Buf {
	if p.IsNull() {
		return NullBuf
	}
	base := g.state
	if p.Space == ArenaSpace {
		base = g.arena
	}
	return Buf{ptr: base.ptr + cu.DevicePtr(p.Off*4), N: int(n)}
}

// Read copies n floats at p to the host.
func (g *GPU) Read(p Ptr, n int64) ([]float32, error) {
	release, err := g.D.Bind()
	if err != nil {
		return nil, err
	}
	defer release()
	return g.D.Download(g.at(p, n))
}

// Write copies data to p.
func (g *GPU) Write(p Ptr, data []float32) error {
	release, err := g.D.Bind()
	if err != nil {
		return err
	}
	defer release()
	if len(data) == 0 {
		return nil
	}
	if err := cu.MemcpyHtoD(g.at(p, int64(len(data))).ptr, unsafe.Pointer(&data[0]), int64(len(data))*4); err != nil {
		return fmt.Errorf("cuda: upload: %w", err)
	}
	return nil
}

// MemInfo is the device's free and total memory.
func (g *GPU) MemInfo() (free, total int64, err error) {
	release, err := g.D.Bind()
	if err != nil {
		return 0, 0, err
	}
	defer release()
	return g.D.MemInfo()
}

// grow makes the arena hold at least n floats.
func (g *GPU) grow(n int64) error {
	if int64(g.arena.N) >= n {
		return nil
	}
	if g.arena.ptr != 0 {
		g.D.Free(g.arena)
		g.arena = Buf{}
	}
	b, err := g.D.Alloc(int(n))
	if err != nil {
		return fmt.Errorf("cuda: a program's arena (%d MiB): %w", n*4>>20, err)
	}
	g.arena = b
	return nil
}

// Close frees everything and destroys the context.
func (g *GPU) Close() error {
	if release, err := g.D.Bind(); err == nil {
		defer release()
	}
	for _, b := range []Buf{g.arena, g.state} {
		if b.ptr != 0 {
			g.D.Free(b)
		}
	}
	C.cublasDestroy(g.blas)
	return g.D.Close()
}

// Run executes steps; inputs are read from their nodes' current values.
func (g *GPU) Run(l *Lowered, steps []Step) error {
	release, err := g.D.Bind()
	if err != nil {
		return err
	}
	defer release()
	if l != nil {
		if err := g.grow(l.Size); err != nil {
			return err
		}
	}
	for i, s := range steps {
		if err := g.step(l, s); err != nil {
			return fmt.Errorf("cuda: %s: %w", describeStep(l, steps, i), err)
		}
	}
	if err := cu.Synchronize(); err != nil {
		return fmt.Errorf("cuda: running %d steps (LUMINA_CUDA_SYNC=1 names the kernel that failed): %w", len(steps), err)
	}
	return nil
}

func (g *GPU) step(l *Lowered, s Step) error {
	switch s.Kind {
	case UploadStep:
		val := l.Prog.Values[s.Value]
		host := make([]float32, val.Size)
		if err := exec.Fill(host, val.Node.Value()); err != nil {
			return err
		}
		return g.Write(l.Place(s.Value), host)
	case ZeroStep:
		return cu.MemsetD32(g.at(s.Dst, s.N).ptr, 0, s.N)
	case CopyStep:
		return cu.MemcpyDtoD(g.at(s.Dst, s.N).ptr, g.at(s.Src, s.N).ptr, s.N*4)
	case GemmStep:
		return g.sgemm(s.Gemm.Cublas())
	case KernelStep:
		args := make([]any, len(s.Args))
		for i, a := range s.Args {
			p, ok := a.(Ptr)
			if !ok {
				args[i] = a
				continue
			}
			args[i] = g.at(p, 0)
		}
		if g.sync {
			return g.D.Launch(s.Name, s.Launch, args...)
		}
		return g.D.LaunchAsync(s.Name, s.Launch, args...)
	}
	return fmt.Errorf("unknown step kind %d", s.Kind)
}

func (g *GPU) sgemm(c Cublas) error {
	bufs := [3]Buf{g.at(c.A, 0), g.at(c.B, 0), g.at(c.C, 0)}
	st := C.lumina_sgemm(g.blas, cbool(c.TransA), cbool(c.TransB), C.int(c.M), C.int(c.N), C.int(c.K),
		C.uintptr_t(bufs[0].ptr), C.int(c.Lda), C.uintptr_t(bufs[1].ptr), C.int(c.Ldb),
		C.float(c.Beta), C.uintptr_t(bufs[2].ptr), C.int(c.Ldc))
	if st != C.CUBLAS_STATUS_SUCCESS {
		return fmt.Errorf("cublasSgemm: status %d", int(st))
	}
	return nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
