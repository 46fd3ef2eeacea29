package cuda

import (
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/model/arch"
)

// planCfg is small enough to count by hand: dim 16, 2 heads of 8, 1 kv head, FFN hidden 64.
var planCfg = arch.Config{Name: "plan", Dim: 16, Layers: 1, Heads: 2, KVHeads: 1, AxesDims: [3]int{2, 2, 4}, MultipleOf: 16,
	Refiners: 1, Patch: 2, Channels: 1, CapDim: 4, FreqDim: 8, AdaLNMax: 1024, NormEps: 1e-5}

// Batch 2 of 4×4 px with 3 caption tokens: 4 image tokens, joint sequence 7. Per row a modulated block
// keeps 10·16 + 2·32 (qkv, rotated q|k|v) + 16 (attention output) + 3·64 (FFN) + 5 (2·2 + 1 rstd and
// lse rows) = 437 floats.
func TestSamplePlanByHand(t *testing.T) {
	if planCfg.FFNHidden() != 64 || planCfg.HeadDim() != 8 {
		t.Fatalf("config: ffn %d, head dim %d", planCfg.FFNHidden(), planCfg.HeadDim())
	}
	p, err := SamplePlan(planCfg, 2, 4, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Weights, x and v (2·32), captions 24, two blocks' activations 2·14·437, rope 112, mask 14.
	if want := 4 * (planCfg.ParamCount() + 64 + 24 + 2*14*437 + 112 + 14); p.Total() != want {
		t.Fatalf("total %d, want %d", p.Total(), want)
	}
}

// The flash attention keeps no L×L matrix: memory is linear in the caption length (the second
// difference over equal steps is zero), where the CPU estimate grows with its square.
func TestPlanIsLinearInSequenceLength(t *testing.T) {
	c, err := arch.LookupConfig("small")
	if err != nil {
		t.Fatal(err)
	}
	at := func(capLen int) int64 {
		p, err := SamplePlan(c, 2, 64, 64, capLen)
		if err != nil {
			t.Fatal(err)
		}
		return p.Total()
	}
	a, b, d := at(64), at(128), at(192)
	if b-a != d-b || b <= a {
		t.Fatalf("totals %d, %d, %d at 64, 128, 192 tokens: not linear", a, b, d)
	}
}

func TestPlanRefusals(t *testing.T) {
	if _, err := SamplePlan(planCfg, 0, 4, 4, 3); err == nil {
		t.Error("batch 0 planned")
	}
	if _, err := SamplePlan(planCfg, 1, 5, 4, 3); err == nil {
		t.Error("a side that is no multiple of the patch planned")
	}
	p, _ := SamplePlan(planCfg, 2, 4, 4, 3)
	if err := CheckFits(p, p.Total(), false); err != nil {
		t.Errorf("an exact fit refused: %v", err)
	}
	err := CheckFits(p, p.Total()-1, false)
	if err == nil || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "GiB") {
		t.Errorf("one byte short: %v", err)
	}
	if err := CheckFits(p, 0, true); err != nil {
		t.Errorf("--force refused: %v", err)
	}
}
