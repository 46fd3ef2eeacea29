package lumina

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/train"
)

// smallPreset is tiny-cpu: building a model needs only its architecture and seed.
func smallPreset(t *testing.T) *train.Preset {
	t.Helper()
	p, err := train.LoadPreset("tiny-cpu", "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The preset's rope_grid reaches the model, travels in the exported bundle (so the sampler places
// patches as training did), and a run folder trained without it does not resume into a preset with it.
func TestRopeGridTravelsWithTheModel(t *testing.T) {
	p := smallPreset(t)
	p.RopeGrid = 8
	m, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.DiT.Cfg.RopeGrid != 8 {
		t.Fatalf("model rope_grid %d, preset 8", m.DiT.Cfg.RopeGrid)
	}
	path := filepath.Join(t.TempDir(), "b.safetensors")
	if err := ckpt.SaveBundle(path, m.Bundle(false)); err != nil {
		t.Fatal(err)
	}
	b, err := ckpt.LoadBundle(path, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if b.DiT.Cfg.RopeGrid != 8 {
		t.Errorf("bundle rope_grid %d after a round trip, want 8", b.DiT.Cfg.RopeGrid)
	}

	var buf bytes.Buffer
	if err := m.SaveCheckpoint(&buf, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	p0 := smallPreset(t)
	plain, err := New(p0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.LoadCheckpoint(bytes.NewReader(buf.Bytes())); err == nil || !strings.Contains(err.Error(), "rope_grid") {
		t.Errorf("a rope_grid 8 checkpoint loaded into a rope_grid 0 model: %v", err)
	}
}
