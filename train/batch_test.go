package train

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/model/flow"
)

func TestBatchIsAPureFunctionOfSeedStageStep(t *testing.T) {
	p := testPreset(t)
	a, err := NewBatchSource(p, 9)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewBatchSource(p, 9)
	c, _ := NewBatchSource(p, 10)
	// Ask in different orders: the answer may not depend on what was asked before.
	x1, _ := a.Batch(2, 5)
	a.Batch(1, 0)
	a.Batch(2, 4)
	x2, _ := a.Batch(2, 5)
	b.Batch(1, 3)
	y, _ := b.Batch(2, 5)
	if !reflect.DeepEqual(x1, x2) || !reflect.DeepEqual(x1, y) {
		t.Fatal("the same (seed, stage, step) gave different batches")
	}
	z, _ := c.Batch(2, 5)
	if reflect.DeepEqual(x1.Noise, z.Noise) || reflect.DeepEqual(x1.T, z.T) {
		t.Error("another seed gave the same noise or t")
	}
	w, _ := a.Batch(2, 6)
	if reflect.DeepEqual(x1.Noise, w.Noise) {
		t.Error("the next step has the same noise")
	}
}

func TestBatchContents(t *testing.T) {
	p := testPreset(t)
	bs, err := NewBatchSource(p, p.Seed)
	if err != nil {
		t.Fatal(err)
	}
	// Text-encoder stage: captions only, never dropped.
	te, _ := bs.Batch(0, 0)
	if te.Images != nil || te.Aux != nil || len(te.Captions) != p.Stages[0].Batch {
		t.Fatalf("text-encoder batch: images %v aux %v captions %d", te.Images != nil, te.Aux != nil, len(te.Captions))
	}
	// Aux: AvgPool4 of the same images, fresh noise and t.
	b, err := bs.Batch(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b.Aux == nil {
		t.Fatal("aux stage without aux batch")
	}
	B := len(b.Items)
	pooled, _ := flow.AvgPool(b.Images, B, Channels, b.Height, b.Width)
	if !reflect.DeepEqual(pooled, b.Aux.Images) || b.Aux.Width != b.Width/4 {
		t.Error("aux images are not AvgPool4 of the batch images")
	}
	if reflect.DeepEqual(b.Aux.T, b.T) || b.Aux.Noise[0] == b.Noise[0] {
		t.Error("aux t or noise equal to the main forward's")
	}
	if len(b.Noise) != B*Channels*16*16 || len(b.Aux.Noise) != B*Channels*4*4 {
		t.Errorf("noise lengths %d %d", len(b.Noise), len(b.Aux.Noise))
	}
	// Images are the renders, in [-1, 1].
	img, _ := world.Render(b.Items[0].Scene, 16, 16)
	back := world.CHWToImage(b.Images[:Channels*256], 16, 16)
	if !reflect.DeepEqual(img.Pix, back.Pix) {
		t.Error("image 0 is not the scene's render")
	}
	// No aux without aux_loss.
	b1, _ := bs.Batch(1, 0)
	if b1.Aux != nil {
		t.Error("aux batch in a stage without aux loss")
	}
	// The stage subset: stage 2 draws the best 10% only, each once per epoch.
	sub, _ := bs.Dataset().Subset(10)
	inSub := map[int]bool{}
	for _, i := range sub {
		inSub[i] = true
	}
	seen := map[int]int{}
	steps := len(sub) / p.Stages[2].Batch
	for s := range steps {
		bb, _ := bs.Batch(2, s)
		for _, it := range bb.Items {
			if !inSub[it.Index] {
				t.Fatalf("item %d is outside the stage's subset", it.Index)
			}
			seen[it.Index]++
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("item %d drawn %d times in one epoch", i, n)
		}
	}
}

func TestDualPanelBatches(t *testing.T) {
	p := testPreset(t)
	bs, _ := NewBatchSource(p, p.Seed)
	dual := 0
	const steps = 200
	for s := range steps {
		b, err := bs.Batch(3, s)
		if err != nil {
			t.Fatal(err)
		}
		if !b.DualPanel {
			if b.Height != b.Width {
				t.Fatal("single batch not square")
			}
			continue
		}
		dual++
		if b.Height != 2*b.Width || b.Aux.Height != b.Height/4 {
			t.Fatalf("dual panel %d×%d, aux %d×%d", b.Width, b.Height, b.Aux.Width, b.Aux.Height)
		}
		for _, it := range b.Items {
			if it.Caption.Dropped {
				continue
			}
			if !strings.HasPrefix(it.Caption.Text, "Generate a dual-panel image") || it.Caption.Template != caption.TemplateC {
				t.Fatalf("dual-panel caption %q", it.Caption.Text)
			}
			if it.Panel != world.DepthPanel && it.Panel != world.EdgePanel {
				t.Fatalf("panel %v not in the stage's kinds", it.Panel)
			}
		}
	}
	if f := float64(dual) / steps; math.Abs(f-0.5) > 4*math.Sqrt(0.25/steps) {
		t.Errorf("dual-panel share %v, want 0.5", f)
	}
}

func TestLRSchedule(t *testing.T) {
	st := Stage{LR: 1, Warmup: 4, Steps: 14}
	for i, want := range []float64{0.25, 0.5, 0.75, 1, 1, 1} {
		if got := LRAt(st, i); got != want {
			t.Errorf("constant step %d: %v, want %v", i, got, want)
		}
	}
	st.LRSchedule, st.MinLR = ScheduleCosine, 0.1
	if got := LRAt(st, 4); got != 1 {
		t.Errorf("cosine at warm-up end %v", got)
	}
	if got := LRAt(st, 9); math.Abs(got-0.55) > 1e-12 {
		t.Errorf("cosine midway %v, want 0.55", got)
	}
	if got := LRAt(st, 14); math.Abs(got-0.1) > 1e-12 {
		t.Errorf("cosine end %v, want 0.1", got)
	}
}

// BenchmarkBatchTinyHighRes builds tiny-cpu's stage-2 batches (32 renders at 32 px, noise, aux).
func BenchmarkBatchTinyHighRes(b *testing.B) {
	p, err := LoadPreset("tiny-cpu", "")
	if err != nil {
		b.Fatal(err)
	}
	bs, err := NewBatchSource(p, p.Seed)
	if err != nil {
		b.Fatal(err)
	}
	bs.Batch(2, 0) // ranks the dataset once
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := bs.Batch(2, i); err != nil {
			b.Fatal(err)
		}
	}
}
