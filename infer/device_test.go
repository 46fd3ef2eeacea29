package infer

import (
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/internal/device"
)

func TestSampleOptionsDevice(t *testing.T) {
	o := DefaultSampleOptions()
	if o.Device.IsCUDA() {
		t.Fatal("the default device is not the CPU")
	}
	o.Device = device.Device{Kind: device.CUDA, Index: 2}
	if err := o.Validate(); err != nil {
		t.Fatalf("cuda:2: %v", err)
	}
	o.Device.Index = -1
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--device") {
		t.Fatalf("cuda:-1 validated (%v)", err)
	}
}
