package device

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Device
	}{
		{"cpu", Device{}},
		{" CPU ", Device{}},
		{"cuda", Device{Kind: CUDA}},
		{"cuda:0", Device{Kind: CUDA}},
		{"CUDA:3", Device{Kind: CUDA, Index: 3}},
		{"cuda:63", Device{Kind: CUDA, Index: 63}},
	} {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if back, err := Parse(got.String()); err != nil || back != got {
			t.Errorf("Parse(%q.String() = %q) = %v, %v", c.in, got.String(), back, err)
		}
	}
	for _, in := range []string{"", "gpu", "cuda:", "cuda:-1", "cuda:64", "cuda:x", "cuda:1:2", "cpu:0", "cuda0"} {
		if d, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, d)
		} else if !strings.Contains(err.Error(), "--device") {
			t.Errorf("Parse(%q): %v does not name the flag", in, err)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, d := range []Device{{}, {Kind: CUDA}, {Kind: CUDA, Index: MaxCUDAIndex}} {
		if err := d.Validate(); err != nil {
			t.Errorf("%v: %v", d, err)
		}
	}
	for _, d := range []Device{{Index: 1}, {Kind: CUDA, Index: -1}, {Kind: CUDA, Index: MaxCUDAIndex + 1}, {Kind: 7}} {
		if err := d.Validate(); err == nil {
			t.Errorf("%+v validated", d)
		}
	}
}

func TestCheckCPUBuild(t *testing.T) {
	if err := (Device{}).Check(); err != nil {
		t.Fatalf("the CPU: %v", err)
	}
	err := Device{Kind: CUDA, Index: 1}.Check()
	if CUDABuilt {
		if err != nil {
			t.Fatalf("a CUDA build refused cuda:1: %v", err)
		}
		return
	}
	if !errors.Is(err, ErrNoCUDA) {
		t.Fatalf("a CPU build asked for cuda:1 answered %v, want ErrNoCUDA", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "make cuda") {
		t.Fatalf("message %q: want one line that says how to build with CUDA", msg)
	}
}
