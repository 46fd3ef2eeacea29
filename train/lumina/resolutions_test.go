package lumina

import (
	"bytes"
	"testing"

	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/train"
)

// TestCheckpointsRecordTrainedResolutions: checkpoints and the export carry the resolutions the DiT has
// trained at, across stages and across a checkpoint loaded into a fresh model (a resumed run), so the
// sampler can warn about others.
func TestCheckpointsRecordTrainedResolutions(t *testing.T) {
	p := smallPreset(t)
	begin := func(m *Model, i int) {
		t.Helper()
		if err := m.BeginStage(train.StageInfo{Index: i, Stage: p.Stages[i], Optimizer: p.Optimizer}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	begin(m, 0)
	if r, ok := m.Bundle(false).Meta[ckpt.MetaResolutions]; ok {
		t.Errorf("the text-encoder stage recorded resolutions %s", r)
	}
	begin(m, 1)
	var buf bytes.Buffer
	if err := m.SaveCheckpoint(&buf, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	f, err := ckpt.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Meta[ckpt.MetaResolutions]; got != "[16]" {
		t.Errorf("stage-1 checkpoint records %q, want [16]", got)
	}
	fresh, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	begin(fresh, 2)
	if _, err := fresh.LoadCheckpoint(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := fresh.Export(&buf); err != nil {
		t.Fatal(err)
	}
	if f, err = ckpt.Decode(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if got := f.Meta[ckpt.MetaResolutions]; got != "[16,32]" {
		t.Errorf("export after stages at 16 and 32 px records %q", got)
	}
}
