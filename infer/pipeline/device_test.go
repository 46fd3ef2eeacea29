package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/model/ckpt/ckpttest"
	"github.com/lumina-workbench/lumina/model/cuda"
)

// TestPipelineOnDeviceMatchesCPU samples the same image (CFG, CFG-Trunc, the renormalisation, a
// 12×8 image) with the DiT on the CPU and on the emulated device with resident weights: every pixel
// value agrees within float32 rounding of a different summation order.
func TestPipelineOnDeviceMatchesCPU(t *testing.T) {
	sample := func(dev bool) []float32 {
		p, err := New(ckpttest.BundleOf(t, ckpttest.Config))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if dev {
			if err := p.UseDevice(cuda.NewEmulator()); err != nil {
				t.Fatal(err)
			}
		}
		opts := infer.DefaultSampleOptions()
		opts.Steps, opts.Trunc = 6, 0.6
		res, err := infer.Sample(context.Background(), p, infer.Request{Prompts: []string{"a red circle on the left"}, Shape: [3]int{3, 12, 8}}, opts)
		if err != nil {
			t.Fatal(err)
		}
		return res.Images[0]
	}
	cpu, dev := sample(false), sample(true)
	r := maxRel(dev, cpu)
	t.Logf("device vs CPU: %.2g relative", r)
	if !(r <= 1e-4) {
		t.Fatalf("device image differs from the CPU's by %.3g relative", r)
	}
}

// The cross-injection model's cross-attention has no device kernel: sampling on the device refuses it
// by name instead of falling back to the CPU.
func TestPipelineOnDeviceRefusesCrossAttention(t *testing.T) {
	p, err := New(ckpttest.BundleOf(t, ckpttest.CrossConfig))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.UseDevice(cuda.NewEmulator()); err != nil {
		t.Fatal(err)
	}
	_, err = infer.Sample(context.Background(), p, infer.Request{Prompts: []string{"a red circle"}, Shape: [3]int{3, 8, 8}}, infer.DefaultSampleOptions())
	if err == nil || !strings.Contains(err.Error(), "CrossAttention has no CUDA kernel") {
		t.Fatalf("cross-injection model on the device: %v", err)
	}
}
