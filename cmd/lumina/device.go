package main

import (
	"errors"

	"github.com/lumina-workbench/lumina/internal/device"
)

// errCUDAModels is what a CUDA build answers to --device cuda for a whole model: the kernels, the
// launch geometry and the memory planner exist (model/cuda), but the graphs of model, train/lumina and
// infer/pipeline still run on the CPU executor. Refusing is honest; silently training on the CPU is not.
var errCUDAModels = errors.New("--device cuda: this build has the CUDA kernels (check them with `make gpu-check`), " +
	"but the model's graphs do not run on the GPU yet; use --device cpu")

// parseDevice reads --device and refuses, before anything is loaded or written, a device this binary
// cannot run the model on.
func parseDevice(s string) (device.Device, error) {
	d, err := device.Parse(s)
	if err != nil {
		return d, err
	}
	if err := d.Check(); err != nil {
		return d, err
	}
	if d.IsCUDA() {
		return d, errCUDAModels
	}
	return d, nil
}
