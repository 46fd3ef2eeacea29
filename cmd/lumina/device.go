package main

import (
	"fmt"
	"io"

	"github.com/lumina-workbench/lumina/infer/pipeline"
	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/model/cuda"
)

// parseDevice reads --device and refuses, before anything is loaded or written, a device this binary
// cannot run the model on (a CUDA device in a build without CUDA).
func parseDevice(s string) (device.Device, error) {
	d, err := device.Parse(s)
	if err != nil {
		return d, err
	}
	if err := d.Check(); err != nil {
		return d, err
	}
	return d, nil
}

// openBackend opens a CUDA device's backend; the cuda build sets it (backend_cuda.go), tests may set an
// emulator. A build without CUDA never gets here: parseDevice refuses the device first.
var openBackend = func(d device.Device) (cuda.Backend, error) { return nil, device.ErrNoCUDA }

// loadPipeline loads a checkpoint for sampling on d; on a CUDA device the DiT's weights move there and
// the pipeline owns the backend. checkFits, when set, sees the device's free memory first.
func loadPipeline(path string, d device.Device, checkFits func(free int64) error) (*pipeline.Pipeline, error) {
	var be cuda.Backend
	if d.IsCUDA() {
		var err error
		if be, err = openBackend(d); err != nil {
			return nil, err
		}
		if checkFits != nil {
			free, _, err := be.MemInfo()
			if err == nil {
				err = checkFits(free)
			}
			if err != nil {
				be.Close()
				return nil, err
			}
		}
	}
	p, err := pipeline.Load(path)
	if err != nil {
		if be != nil {
			be.Close()
		}
		return nil, err
	}
	if be != nil {
		if err := p.UseDevice(be); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// reportDevice says on w where the model runs, when that is a device.
func reportDevice(w io.Writer, name string, free, total int64) {
	fmt.Fprintf(w, "device: %s, %s free of %s\n", name, gib(free), gib(total))
}
