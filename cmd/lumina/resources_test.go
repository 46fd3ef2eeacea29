package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCheckMemory(t *testing.T) {
	defer func(f func() (int64, bool)) { memAvailable = f }(memAvailable)
	memAvailable = func() (int64, bool) { return 4 << 30, true }
	var out bytes.Buffer
	if err := checkMemory(&out, "stage 2", 8<<30, false); err == nil || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "8.0 GiB") {
		t.Errorf("8 GiB on a 4 GiB machine: %v", err)
	}
	out.Reset()
	if err := checkMemory(&out, "stage 2", 8<<30, true); err != nil || !strings.Contains(out.String(), "--force") {
		t.Errorf("forced: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := checkMemory(&out, "stage 2", 3<<30, false); err != nil || !strings.Contains(out.String(), "close to the limit") {
		t.Errorf("3 of 4 GiB: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := checkMemory(&out, "stage 2", 1<<30, false); err != nil || strings.Contains(out.String(), "close") || !strings.Contains(out.String(), "1.0 GiB at peak; 4.0 GiB available") {
		t.Errorf("1 of 4 GiB: %v\n%s", err, out.String())
	}
	memAvailable = func() (int64, bool) { return 0, false }
	out.Reset()
	if err := checkMemory(&out, "stage 2", 1<<40, false); err != nil || !strings.Contains(out.String(), "unknown") {
		t.Errorf("unknown availability: %v\n%s", err, out.String())
	}
}
