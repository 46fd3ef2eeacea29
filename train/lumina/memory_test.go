package lumina

import (
	"context"
	"testing"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/train"
)

// What StageMemory counts for a stage's training graphs is what training allocates: after steps
// whose batches reach the longest caption bucket the shared arena is exactly the largest program's,
// every graph kept holds at most that program's attention state, and releasing the graphs (before
// sampling) frees the arena.
func TestStageMemoryCountsWhatTrainingAllocates(t *testing.T) {
	p := smallPreset(t)
	p.Data.Items = 200
	const stage = 2 // 32 px with the aux loss
	st := p.Stages[stage]
	st.Batch = 2
	p.Stages[stage] = st
	m, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	src, err := train.NewBatchSource(p, p.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.BeginStage(stageInfo(p, stage, st)); err != nil {
		t.Fatal(err)
	}
	top := (m.capTokens + capBucket - 1) / capBucket * capBucket
	largest, err := m.flowProgram(model.Shape{Batch: st.Batch, Height: st.Resolution, Width: st.Resolution, CapLen: top}, st.AuxLoss)
	if err != nil {
		t.Fatal(err)
	}
	reached := false
	for step := 0; step < 40 && !reached; step++ {
		b, err := src.Batch(stage, step)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Step(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		for k := range m.flows.All() {
			reached = reached || k.s.CapLen == top
		}
	}
	if !reached {
		t.Fatalf("no batch of 40 reached the %d-token bucket", top)
	}
	if got, want := m.arena.Bytes(), int64(largest.ArenaSize)*4; got != want {
		t.Errorf("the stage's arena holds %d bytes, StageMemory counts %d", got, want)
	}
	if m.flows.Len() < 2 {
		t.Errorf("%d graphs kept: the test wants batches of two caption buckets", m.flows.Len())
	}
	for k, fl := range m.flows.All() {
		prog, err := fl.Program()
		if err != nil {
			t.Fatal(err)
		}
		if prog.OpState > largest.OpState || (k.s.CapLen == top && prog.OpState != largest.OpState) {
			t.Errorf("graph %+v keeps %d bytes of attention state, the largest program %d", k.s, prog.OpState, largest.OpState)
		}
	}
	all, err := m.StageMemory(st)
	if err != nil {
		t.Fatal(err)
	}
	if min := largest.HostBytes(); all < 2*min {
		t.Errorf("StageMemory %d is below twice the largest graph's %d", all, min)
	}
	m.releaseGraphs()
	if m.arena.Bytes() != 0 || m.flows.Len() != 0 {
		t.Errorf("after release: arena %d bytes, %d graphs", m.arena.Bytes(), m.flows.Len())
	}
}
