package lumina

import (
	"bytes"
	"context"
	"errors"
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

// stageInfo is what the runner passes BeginStage for stage i of p, run with settings st.
func stageInfo(p *train.Preset, i int, st train.Stage) train.StageInfo {
	return train.StageInfo{Index: i, Stage: st, Optimizer: p.Optimizer, Model: p.Model, TextEncoder: p.TextEncoder,
		Patch: p.Objective.Patch, Seed: p.Seed}
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

// cancelAfter is a context that turns cancelled once Err has been asked n times: it stops a step at
// a chosen safe point.
type cancelAfter struct {
	context.Context
	n, asked int
}

func (c *cancelAfter) Err() error {
	c.asked++
	if c.asked > c.n {
		return context.Canceled
	}
	return nil
}

// A step cancelled at either safe point (after the caption features, after the forward and backward)
// returns the context's error and leaves the model as it was: the same step run again gives, bit for
// bit, what an uncancelled model's step gives.
func TestStepStopsAtSafePointsWithoutChange(t *testing.T) {
	p := smallPreset(t)
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
	begin := func() *Model {
		m, err := New(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.BeginStage(stageInfo(p, 1, p.Stages[1])); err != nil {
			t.Fatal(err)
		}
		return m
	}
	weights := func(m *Model) []byte {
		var buf bytes.Buffer
		if err := m.SaveCheckpoint(&buf, map[string]string{}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	ref := begin()
	want, err := ref.Step(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{1, 2} {
		m := begin()
		before := weights(m)
		ctx := &cancelAfter{Context: context.Background(), n: at}
		if _, err := m.Step(ctx, b); !errors.Is(err, context.Canceled) || ctx.asked != at+1 {
			t.Fatalf("cancelled at safe point %d: %v after %d checks", at, err, ctx.asked)
		}
		if !bytes.Equal(before, weights(m)) {
			t.Fatalf("a step cancelled at safe point %d changed the model", at)
		}
		got, err := m.Step(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		if got != want || !bytes.Equal(weights(ref), weights(m)) {
			t.Fatalf("after a cancel at safe point %d the step gives %+v, an uncancelled one %+v (or other weights)", at, got, want)
		}
	}
}
