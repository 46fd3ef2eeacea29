package lumina

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/train"
)

// A --config overlay `text_injection: cross` builds the cross-injection Next-DiT; a training step on it
// is deterministic and moves the cross-attention's weights (the loss reaches them); the choice travels
// in the checkpoint's config, and a joint model refuses that checkpoint naming the key.
func TestTextInjectionTravelsWithTheModel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cross.yaml")
	if err := os.WriteFile(path, []byte("text_injection: cross\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := train.LoadPreset("", path)
	if err != nil {
		t.Fatal(err)
	}
	p.Data.Items = 200
	p.Stages[1].Batch = 2
	src, err := train.NewBatchSource(p, p.Seed)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Batch(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	step := func() (*Model, train.StepResult) {
		m, err := New(p)
		if err != nil {
			t.Fatal(err)
		}
		if !m.DiT.Cfg.Cross() {
			t.Fatalf("overlay text_injection: cross built a %q model", m.DiT.Cfg.Injection())
		}
		if err := m.BeginStage(stageInfo(p, 1, p.Stages[1])); err != nil {
			t.Fatal(err)
		}
		// Three steps: the adaLN layers start at zero, so until a step has moved the cross-attention's
		// gate off zero no gradient reaches its weights.
		var res train.StepResult
		for range 3 {
			if res, err = m.Step(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
		return m, res
	}
	m, res := step()
	if res.Skipped || math.IsNaN(res.Loss) || res.Loss <= 0 {
		t.Fatalf("cross step: %+v", res)
	}
	if _, again := step(); math.Float64bits(again.Loss) != math.Float64bits(res.Loss) {
		t.Fatalf("the same steps gave losses %v and %v", res.Loss, again.Loss)
	}
	moved := false
	for _, v := range m.DiT.T["layers.0.xattn.q.weight"].Data().([]float32) {
		moved = moved || v != 0
	}
	fresh, _ := New(p)
	if !moved || bytesOf(fresh.DiT.T["layers.0.xattn.kv.weight"]) == bytesOf(m.DiT.T["layers.0.xattn.kv.weight"]) {
		t.Fatal("training did not reach the cross-attention's weights")
	}

	bundle := filepath.Join(t.TempDir(), "b.safetensors")
	if err := ckpt.SaveBundle(bundle, m.Bundle(false)); err != nil {
		t.Fatal(err)
	}
	meta, err := ckpt.ReadMeta(bundle)
	if err != nil || !strings.Contains(meta[ckpt.MetaConfig], `"text_injection":"cross"`) {
		t.Fatalf("bundle config %q (%v): want text_injection cross recorded", meta[ckpt.MetaConfig], err)
	}
	if lb, err := ckpt.LoadBundle(bundle, tensor.Float32); err != nil || lb.DiT.Cfg.TextInjection != arch.TextCross {
		t.Fatalf("bundle loads as %+v, %v", lb, err)
	}
	var buf bytes.Buffer
	if err := m.SaveCheckpoint(&buf, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	joint, err := New(smallPreset(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := joint.LoadCheckpoint(bytes.NewReader(buf.Bytes())); err == nil || !strings.Contains(err.Error(), "text_injection") {
		t.Errorf("a cross checkpoint loaded into a joint model: %v", err)
	}
}

func bytesOf(t *tensor.Dense) string {
	var buf bytes.Buffer
	for _, v := range t.Data().([]float32) {
		b := math.Float32bits(v)
		buf.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
	}
	return buf.String()
}
