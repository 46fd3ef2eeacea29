// Package device names where a model runs: the CPU, or one CUDA device. It is pure (no graph
// library, no cgo), so the options of infer and train, the CLI and the TUI can all carry a Device.
package device

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind is the kind of processor.
type Kind uint8

const (
	// CPU is the zero Kind, so a zero Device is the CPU: options that never mention a device keep
	// running where they always did.
	CPU Kind = iota
	// CUDA is an NVIDIA GPU driven through the CUDA driver API.
	CUDA
)

// MaxCUDAIndex bounds the ordinal of --device cuda:N: far above any machine's GPU count, low enough
// that a typo is refused as such.
const MaxCUDAIndex = 63

// Device is where a model runs: the CPU, or CUDA device Index.
type Device struct {
	Kind  Kind
	Index int
}

// Flag is the help text of every command's --device flag.
const Flag = "the `DEVICE` the model runs on: cpu, or cuda[:N] (CUDA device N, default 0; needs a build made with make cuda)"

// Parse reads "cpu", "cuda" or "cuda:N" (case-insensitive, surrounding spaces ignored).
func Parse(s string) (Device, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case t == "cpu":
		return Device{Kind: CPU}, nil
	case t == "cuda":
		return Device{Kind: CUDA}, nil
	case strings.HasPrefix(t, "cuda:"):
		n, err := strconv.Atoi(t[len("cuda:"):])
		if err != nil || n < 0 || n > MaxCUDAIndex {
			return Device{}, fmt.Errorf("--device %q: the CUDA device must be cuda:N with N in 0..%d", s, MaxCUDAIndex)
		}
		return Device{Kind: CUDA, Index: n}, nil
	}
	return Device{}, fmt.Errorf("--device %q: want cpu, cuda or cuda:N", s)
}

// String is the form Parse reads back: "cpu" or "cuda:N".
func (d Device) String() string {
	if d.Kind == CUDA {
		return "cuda:" + strconv.Itoa(d.Index)
	}
	return "cpu"
}

// IsCUDA reports whether d is a CUDA device.
func (d Device) IsCUDA() bool { return d.Kind == CUDA }

// Validate checks the fields of a Device built by hand (Parse only returns valid ones).
func (d Device) Validate() error {
	switch d.Kind {
	case CPU:
		if d.Index != 0 {
			return fmt.Errorf("device: the CPU has no index, got %d", d.Index)
		}
	case CUDA:
		if d.Index < 0 || d.Index > MaxCUDAIndex {
			return fmt.Errorf("device: CUDA device %d out of range 0..%d", d.Index, MaxCUDAIndex)
		}
	default:
		return fmt.Errorf("device: unknown kind %d", d.Kind)
	}
	return nil
}

// ErrNoCUDA is what a build without CUDA answers to a CUDA device.
var ErrNoCUDA = errors.New("this lumina was built without CUDA; build with `make cuda` (docs/DESIGN.md §16) to use --device cuda")

// Check says whether this binary can run on d: a valid device, and for a CUDA device a build with the
// cuda tag (CUDABuilt). Whether the device exists is asked of the driver later, by the executor.
func (d Device) Check() error {
	if err := d.Validate(); err != nil {
		return err
	}
	if d.Kind == CUDA && !CUDABuilt {
		return ErrNoCUDA
	}
	return nil
}
