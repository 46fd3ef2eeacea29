package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/train"
)

func TestProgressOutput(t *testing.T) {
	var buf bytes.Buffer
	p := &Progress{W: &buf, TTY: false, LogEvery: time.Hour, Width: 10}
	p.Handle(train.StageStarted{Stage: 1, Name: "low-res", Kind: train.KindDiT, Steps: 10})
	p.Handle(train.StepEvent{Stage: 1, StageName: "low-res", Step: 1, Steps: 10, Loss: 0.5, ETA: 90 * time.Second})
	p.Handle(train.StepEvent{Stage: 1, StageName: "low-res", Step: 2, Steps: 10, Loss: 0.4}) // within LogEvery: quiet
	p.Handle(train.StepEvent{Stage: 1, StageName: "low-res", Step: 10, Steps: 10, Loss: 0.3})
	out := buf.String()
	if strings.Contains(out, "\r") || strings.Count(out, "\n") != 3 || !strings.Contains(out, "ETA 1m30s") || strings.Contains(out, "step 2/10") {
		t.Errorf("plain output:\n%s", out)
	}
	buf.Reset()
	p = &Progress{W: &buf, TTY: true, Width: 10}
	p.Handle(train.StepEvent{Stage: 1, StageName: "low-res", Step: 5, Steps: 10, Loss: 0.5, ETA: time.Minute})
	if out := buf.String(); !strings.HasPrefix(out, "\r") || !strings.Contains(ansi.Strip(out), "█████░░░░░ 5/10") || strings.Contains(out, "\n") {
		t.Errorf("terminal output %q", out)
	}
}

// TestProgressImages: a batch of images on a terminal is one bar line redrawn in place and ended at the
// last image; elsewhere, log lines at most every LogEvery and always the last one.
func TestProgressImages(t *testing.T) {
	var buf bytes.Buffer
	p := &Progress{W: &buf, TTY: true, Width: 10}
	p.Images("eval", 0, 4, 0)
	p.Images("eval", 2, 4, 3*time.Second)
	out := ansi.Strip(buf.String())
	if !strings.Contains(out, "eval ░░░░░░░░░░ 0/4 images, ETA ?") || !strings.Contains(out, "eval █████░░░░░ 2/4 images, 1.5 s/image, ETA 3s") ||
		strings.Contains(out, "\n") {
		t.Errorf("terminal output %q", out)
	}
	p.Clear()
	p.Images("eval", 4, 4, 6*time.Second)
	if out := buf.String(); !strings.HasSuffix(ansi.Strip(out), "eval ██████████ 4/4 images in 6s\n") {
		t.Errorf("terminal output at the end %q", out)
	}
	buf.Reset()
	p = &Progress{W: &buf, LogEvery: time.Hour}
	for i := 0; i <= 5; i++ {
		p.Images("sample", i, 5, time.Duration(i)*time.Second)
	}
	if out := buf.String(); out != "sample 0/5 images, ETA ?\nsample 5/5 images in 5s\n" {
		t.Errorf("plain output %q", out)
	}
}
