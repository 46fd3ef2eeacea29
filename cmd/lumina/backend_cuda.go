//go:build cuda

package main

import (
	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/model/cuda"
)

func init() {
	openBackend = func(d device.Device) (cuda.Backend, error) { return cuda.OpenGPU(d.Index) }
}
