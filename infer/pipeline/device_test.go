package pipeline

import (
	"context"
	"testing"

	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/ckpt/ckpttest"
	"github.com/lumina-workbench/lumina/model/cuda"
)

// TestPipelineOnDeviceMatchesCPU samples the same image (CFG, CFG-Trunc, a 12×8 image) with the DiT on
// the CPU and on the emulated device with resident weights, in both text injections: every pixel value
// agrees within float32 rounding of a different summation order.
func TestPipelineOnDeviceMatchesCPU(t *testing.T) {
	for _, cfg := range []arch.Config{ckpttest.Config, ckpttest.CrossConfig} {
		t.Run(cfg.Injection(), func(t *testing.T) {
			emu := cuda.NewEmulator()
			sample := func(dev bool) []float32 {
				p, err := New(ckpttest.BundleOf(t, cfg))
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				if dev {
					if err := p.UseDevice(emu); err != nil {
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
			if emu.Steps == 0 {
				t.Fatal("the device pipeline ran nothing on the device")
			}
			r := maxRel(dev, cpu)
			t.Logf("device vs CPU: %.2g relative", r)
			if !(r <= 1e-4) {
				t.Fatalf("device image differs from the CPU's by %.3g relative", r)
			}
		})
	}
}
