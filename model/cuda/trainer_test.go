package cuda

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/optim"
)

// TestTrainerMatchesCPUSteps trains two copies of the same model on the same batch for a few steps, one
// the CPU way (the tape machine, optim.ClipGradNorm, AdamW.Step, EMA.Update) and one through the
// Trainer on the emulator, with a clip that binds and an EMA: losses, gradient norms, and after Sync the
// weights, moments and EMA agree (relative 1e-4 per tensor; the device sums float32 in another order).
func TestTrainerMatchesCPUSteps(t *testing.T) {
	cfg, err := arch.LookupConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	s := model.Shape{Batch: 2, Height: 16, Width: 16, CapLen: 8}
	cpu, err := model.RandomStep(cfg, tensor.Float32, s, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	dev, err := model.RandomStep(cfg, tensor.Float32, s, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	cp, dp := cpu.Model.W.Tensors(), dev.Model.W.Tensors()
	conf := optim.AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.01}
	const clip, decay = 0.5, 0.9
	cOpt, _ := optim.NewAdamW(conf, cp)
	cEMA, _ := optim.NewEMA(decay, cp)
	dOpt, _ := optim.NewAdamW(conf, dp)
	dEMA, _ := optim.NewEMA(decay, dp)

	tr, err := NewTrainer(NewEmulator(), dp, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Load(nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	clipped := false
	for step := range 4 {
		want, err := cpu.RunSet()
		if err != nil {
			t.Fatal(err)
		}
		wantNorm, err := optim.ClipGradNorm(cpu.Grads(), clip)
		if err != nil {
			t.Fatal(err)
		}
		clipped = clipped || wantNorm > clip
		if err := cOpt.Step(cp, cpu.Grads()); err != nil {
			t.Fatal(err)
		}
		if err := cEMA.Update(cp); err != nil {
			t.Fatal(err)
		}
		ls, norm, err := tr.Grads(FlowGraph(dev), clip)
		if err != nil {
			t.Fatal(err)
		}
		got := FlowLosses(ls)
		k, err := dOpt.Advance()
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Update(k, decay); err != nil {
			t.Fatal(err)
		}
		for _, c := range [][3]any{{"loss", got.Total, want.Total}, {"main", got.Main, want.Main}, {"aux", got.Aux, want.Aux}, {"norm", norm, wantNorm}} {
			g, w := c[1].(float64), c[2].(float64)
			if math.Abs(g-w) > 1e-5*math.Abs(w) {
				t.Errorf("step %d %s: device %.9g, cpu %.9g", step, c[0], g, w)
			}
		}
		t.Logf("step %d: loss %.6f (cpu %.6f), norm %.4f (cpu %.4f)", step, got.Total, want.Total, norm, wantNorm)
	}
	if !clipped {
		t.Fatalf("the clip never bound: the test does not check the factor")
	}
	dm, dv := make([]*tensor.Dense, len(dp)), make([]*tensor.Dense, len(dp))
	for i := range dp {
		m, v := dOpt.Moments(i)
		dm[i], dv[i] = m, v
	}
	de, _ := dEMA.Weights()
	if err := tr.Sync(dm, dv, de); err != nil {
		t.Fatal(err)
	}
	ce, _ := cEMA.Weights()
	worst := 0.0
	for i := range cp {
		cm, cv := cOpt.Moments(i)
		for _, pair := range [][2]*tensor.Dense{{dp[i], cp[i]}, {dm[i], cm}, {dv[i], cv}, {de[i], ce[i]}} {
			r := relErr32(pair[0].Float32s(), pair[1].Float32s())
			worst = max(worst, r)
			if r > 1e-4 {
				t.Fatalf("parameter %d: state differs by %.3g relative", i, r)
			}
		}
	}
	t.Logf("worst relative difference of weights, moments and EMA after 4 steps: %.2g", worst)
}

func relErr32(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		num = max(num, math.Abs(float64(got[i])-float64(want[i])))
		den = max(den, math.Abs(float64(want[i])))
	}
	if math.IsNaN(num) {
		return math.Inf(1)
	}
	return num / max(den, 1e-30)
}

// TrainingBytes, what the training commands check against the device's free memory, is what a Trainer
// then allocates: the state it reserves and the arena its step's program runs in.
func TestTrainingBytesIsWhatTrainingAllocates(t *testing.T) {
	cfg, err := arch.LookupConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	fl, err := model.RandomStep(cfg, tensor.Float32, model.Shape{Batch: 2, Height: 16, Width: 16, CapLen: 8}, 3)
	if err != nil {
		t.Fatal(err)
	}
	params := fl.Model.W.Tensors()
	frozen := tensor.New(tensor.WithShape(7, 3), tensor.Of(tensor.Float32))
	state, arena, err := TrainingBytes(FlowGraph(fl), true, frozen)
	if err != nil {
		t.Fatal(err)
	}
	emu := NewEmulator()
	tr, err := NewTrainer(emu, params, true, frozen)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Load(nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tr.Grads(FlowGraph(fl), math.Inf(1)); err != nil {
		t.Fatal(err)
	}
	if got := 4 * int64(len(emu.state)); got != state {
		t.Errorf("state: %d bytes allocated, %d counted", got, state)
	}
	if got := 4 * int64(len(emu.arena)); got != arena {
		t.Errorf("arena: %d bytes allocated, %d counted", got, arena)
	}
}
