//go:build cuda

package cuda

import (
	"fmt"
	"runtime"
	"unsafe"

	"gorgonia.org/cu"
)

// Device is one CUDA device with the project's PTX modules loaded: device-resident float32 buffers and
// kernel launches, through gorgonia.org/cu's driver API. GPU runs lowered programs on it; the kernel
// checks of tools/gpucheck launch on it directly, one kernel at a time.
type Device struct {
	Index int
	Name  string
	ctx   cu.CUContext
	fns   map[string]cu.Function
}

// Open makes a context on device index and loads every module of Kernels (on one OS thread: the
// context is current there while the modules load).
func Open(index int) (*Device, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: counting devices: %w", err)
	}
	if index < 0 || index >= n {
		return nil, fmt.Errorf("cuda: device %d does not exist (this machine has %d)", index, n)
	}
	dev := cu.Device(index)
	name, err := dev.Name()
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: %w", index, err)
	}
	ctx, err := dev.MakeContext(cu.SchedAuto)
	if err != nil {
		return nil, fmt.Errorf("cuda: context on device %d: %w", index, err)
	}
	d := &Device{Index: index, Name: name, ctx: ctx, fns: map[string]cu.Function{}}
	mods := map[string]cu.Module{}
	for _, k := range Kernels {
		m, ok := mods[k.Module]
		if !ok {
			src, err := PTX(k.Module)
			if err != nil {
				return nil, err
			}
			if m, err = cu.LoadData(src); err != nil {
				return nil, fmt.Errorf("cuda: loading ptx/%s.ptx: %w", k.Module, err)
			}
			mods[k.Module] = m
		}
		fn, err := m.Function(k.Name)
		if err != nil {
			return nil, fmt.Errorf("cuda: kernel %s in ptx/%s.ptx: %w", k.Name, k.Module, err)
		}
		d.fns[k.Name] = fn
	}
	return d, nil
}

// Bind makes the device's context current on this goroutine's OS thread, which it keeps until release:
// the driver's current context is per thread, and Go moves goroutines between threads.
func (d *Device) Bind() (release func(), err error) {
	runtime.LockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("cuda: binding device %d's context: %w", d.Index, err)
	}
	return runtime.UnlockOSThread, nil
}

// MemInfo is the device's free and total memory in bytes.
func (d *Device) MemInfo() (free, total int64, err error) { return cu.MemInfo() }

// Buf is a device buffer of N float32s (or, for reduction partials, N/2 doubles).
type Buf struct {
	ptr cu.DevicePtr
	N   int
}

// Alloc allocates n float32s, zeroed.
func (d *Device) Alloc(n int) (Buf, error) {
	p, err := cu.MemAlloc(int64(max(n, 1)) * 4)
	if err != nil {
		return Buf{}, fmt.Errorf("cuda: allocating %d floats: %w", n, err)
	}
	if err := cu.MemsetD32(p, 0, int64(max(n, 1))); err != nil {
		return Buf{}, fmt.Errorf("cuda: zeroing: %w", err)
	}
	return Buf{ptr: p, N: n}, nil
}

// Upload copies x to a new buffer.
func (d *Device) Upload(x []float32) (Buf, error) {
	b, err := d.Alloc(len(x))
	if err != nil || len(x) == 0 {
		return b, err
	}
	if err := cu.MemcpyHtoD(b.ptr, unsafe.Pointer(&x[0]), int64(len(x))*4); err != nil {
		return Buf{}, fmt.Errorf("cuda: upload: %w", err)
	}
	return b, nil
}

// Download copies b to the host.
func (d *Device) Download(b Buf) ([]float32, error) {
	out := make([]float32, b.N)
	if b.N == 0 {
		return out, nil
	}
	if err := cu.MemcpyDtoH(unsafe.Pointer(&out[0]), b.ptr, int64(b.N)*4); err != nil {
		return nil, fmt.Errorf("cuda: download: %w", err)
	}
	return out, nil
}

// Free releases b.
func (d *Device) Free(b Buf) { cu.MemFree(b.ptr) }

// NullBuf is a NULL pointer argument (an optional buffer left out).
var NullBuf = Buf{}

// Launch runs kernel name with geometry l and the arguments in the order of its .cu signature: Buf for
// pointers, int for C int, int64 for long long, float64 for double; it returns once the kernel has run,
// so an error is the kernel's own.
func (d *Device) Launch(name string, l Launch, args ...any) error {
	return d.launch(name, l, true, args)
}

// LaunchAsync is Launch without waiting: kernels on the default stream still run in order, and an
// error during the run surfaces at the next synchronising call.
func (d *Device) LaunchAsync(name string, l Launch, args ...any) error {
	return d.launch(name, l, false, args)
}

func (d *Device) launch(name string, l Launch, sync bool, args []any) error {
	fn, ok := d.fns[name]
	if !ok {
		return fmt.Errorf("cuda: no kernel %q", name)
	}
	if err := l.Validate(); err != nil {
		return fmt.Errorf("cuda: %s: %w", name, err)
	}
	if l.OptIn {
		// gorgonia.org/cu v0.9.6 has no cuFuncSetAttribute: past 48 KiB the launch would fail.
		return fmt.Errorf("cuda: %s needs %d bytes of shared memory, over the 48 KiB a launch gets without opting in, "+
			"which this executor cannot do yet (attention with head dim up to 94 fits)", name, l.Shared)
	}
	// Each parameter points at a value of its C type; the values live in one slice each kind.
	ptrs := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case Buf:
			p := new(uint64)
			*p = uint64(v.ptr)
			ptrs[i] = unsafe.Pointer(p)
		case int:
			p := new(int32)
			*p = int32(v)
			ptrs[i] = unsafe.Pointer(p)
		case int64:
			p := new(int64)
			*p = v
			ptrs[i] = unsafe.Pointer(p)
		case float64:
			p := new(float64)
			*p = v
			ptrs[i] = unsafe.Pointer(p)
		default:
			return fmt.Errorf("cuda: %s: argument %d has type %T", name, i, a)
		}
	}
	launch := fn.Launch
	if sync {
		launch = fn.LaunchAndSync
	}
	if err := launch(l.Grid[0], l.Grid[1], l.Grid[2], l.Block[0], l.Block[1], l.Block[2], l.Shared, cu.Stream{}, ptrs); err != nil {
		return fmt.Errorf("cuda: %s: %w", name, err)
	}
	return nil
}

// Close destroys the context.
func (d *Device) Close() error { return d.ctx.Destroy() }
