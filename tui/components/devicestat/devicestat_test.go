package devicestat

import (
	"context"
	"errors"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/tui/common"
)

type monitor struct {
	s     device.Stats
	err   error
	calls int
}

func (m *monitor) Stats(context.Context) (device.Stats, error) { m.calls++; return m.s, m.err }

func TestSegment(t *testing.T) {
	mon := &monitor{s: device.Stats{Device: device.Device{Kind: device.CUDA}, Name: "NVIDIA H100 80GB HBM3", MemUsed: 2 << 30, MemTotal: 80 << 30, Util: 9}}
	m := New(common.New(), mon)
	if got := ansi.Strip(m.View(60)); got != "device…" {
		t.Errorf("before the first answer: %q", got)
	}
	next := m.Update(m.Init()())
	if next == nil || mon.calls != 1 {
		t.Fatalf("after an answer: next poll %v, %d calls", next != nil, mon.calls)
	}
	for _, c := range []struct {
		w    int
		want string
	}{
		{60, "cuda:0 NVIDIA H100 80GB HBM3 · 2.0/80.0 GiB · 9%"},
		{30, "cuda:0 · 2.0/80.0 GiB · 9%"},
		{12, "cuda:0 · 2.…"},
		{0, ""},
	} {
		if got := ansi.Strip(m.View(c.w)); got != c.want {
			t.Errorf("width %d: %q, want %q", c.w, got, c.want)
		}
	}
	// Another segment's answer is not this one's.
	other := New(common.New(), &monitor{err: errors.New("x")})
	if m.Update(other.Init()()) != nil {
		t.Error("took another segment's answer")
	}
	mon.err = errors.New("nvidia-smi: exit status 9")
	m.Update(m.poll()())
	if got := ansi.Strip(m.View(60)); got != "cuda:0: nvidia-smi: exit status 9" {
		t.Errorf("failing monitor: %q", got)
	}
	if New(common.New(), nil).Init() != nil || New(common.New(), nil).View(60) != "" {
		t.Error("no device, but a segment")
	}
}
