package lumina

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/model/cuda"
	"github.com/lumina-workbench/lumina/train"
)

// TestDeviceTrainingMatchesCPU trains the same model the same way on the CPU and on the emulated device
// (a DiT stage with the aux loss, a binding clip and an EMA): the step results agree, the checkpoints
// written from the device (after syncing its state to the host) hold the same weights, moments and EMA,
// and a device model resumed from that checkpoint takes the same next step as the CPU model.
func TestDeviceTrainingMatchesCPU(t *testing.T) {
	p := smallPreset(t)
	p.Data.Items = 200
	st := p.Stages[2]
	st.Resolution, st.Batch = 16, 2
	p.Stages[2] = st
	p.Optimizer.GradClip = 0.05
	src, err := train.NewBatchSource(p, p.Seed)
	if err != nil {
		t.Fatal(err)
	}
	info := stageInfo(p, 2, st)
	emu := cuda.NewEmulator()
	begin := func(dev bool) *Model {
		m, err := New(p)
		if err != nil {
			t.Fatal(err)
		}
		if dev {
			m.UseDevice(emu)
		}
		if err := m.BeginStage(info); err != nil {
			t.Fatal(err)
		}
		return m
	}
	step := func(m *Model, k int) train.StepResult {
		b, err := src.Batch(2, k)
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Step(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	same := func(what string, got, want float64, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol*math.Abs(want) {
			t.Errorf("%s: device %.9g, cpu %.9g", what, got, want)
		}
	}
	cpu, dev := begin(false), begin(true)
	clipped := false
	for k := range 3 {
		before := emu.Steps
		c, d := step(cpu, k), step(dev, k)
		if emu.Steps == before {
			t.Fatalf("step %d of the device model ran nothing on the device", k)
		}
		if c.Skipped || d.Skipped {
			t.Fatalf("step %d skipped: cpu %+v, device %+v", k, c, d)
		}
		same("loss", d.Loss, c.Loss, 1e-5)
		same("aux loss", d.AuxLoss, c.AuxLoss, 1e-5)
		same("gradient norm", d.GradNorm, c.GradNorm, 1e-5)
		clipped = clipped || c.GradNorm > p.Optimizer.GradClip
	}
	if !clipped {
		t.Fatal("the clip never bound")
	}
	var cb, db bytes.Buffer
	if err := cpu.SaveCheckpoint(&cb, nil); err != nil {
		t.Fatal(err)
	}
	if err := dev.SaveCheckpoint(&db, nil); err != nil {
		t.Fatal(err)
	}
	cf, err := ckpt.Decode(cb.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	df, err := ckpt.Decode(db.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.Tensors) != len(df.Tensors) {
		t.Fatalf("checkpoints of %d and %d tensors", len(df.Tensors), len(cf.Tensors))
	}
	worst := 0.0
	for name, want := range cf.Tensors {
		got, ok := df.Tensors[name]
		if !ok {
			t.Fatalf("the device checkpoint lacks %s", name)
		}
		r := relErr32(got.Float32s(), want.Float32s())
		if !(r <= 1e-4) {
			t.Errorf("%s: differs by %.3g relative", name, r)
		}
		worst = max(worst, r)
	}
	t.Logf("worst relative difference over %d checkpoint tensors: %.2g", len(cf.Tensors), worst)

	resumed := begin(true)
	if _, err := resumed.LoadCheckpoint(bytes.NewReader(db.Bytes())); err != nil {
		t.Fatal(err)
	}
	c, r := step(cpu, 3), step(resumed, 3)
	same("loss after resuming", r.Loss, c.Loss, 1e-4)
	same("gradient norm after resuming", r.GradNorm, c.GradNorm, 1e-4)
}

// The text encoder's stage on the emulated device takes the CPU's steps: the same next-token losses
// and gradient norms, and after syncing, the same weights.
func TestDeviceTextEncoderStageMatchesCPU(t *testing.T) {
	p := smallPreset(t)
	p.Data.Items = 200
	st := p.Stages[0]
	st.Batch = 4
	p.Stages[0] = st
	src, err := train.NewBatchSource(p, p.Seed)
	if err != nil {
		t.Fatal(err)
	}
	info := stageInfo(p, 0, st)
	var models [2]*Model
	emu := cuda.NewEmulator()
	for i := range models {
		m, err := New(p)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			m.UseDevice(emu)
		}
		if err := m.BeginStage(info); err != nil {
			t.Fatal(err)
		}
		models[i] = m
	}
	for k := range 3 {
		b, err := src.Batch(0, k)
		if err != nil {
			t.Fatal(err)
		}
		var res [2]train.StepResult
		for i, m := range models {
			if res[i], err = m.Step(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
		c, d := res[0], res[1]
		if emu.Steps == 0 {
			t.Fatal("the device model ran nothing on the device")
		}
		if c.Skipped || d.Skipped || math.Abs(d.Loss-c.Loss) > 1e-5*c.Loss || math.Abs(d.GradNorm-c.GradNorm) > 1e-5*c.GradNorm {
			t.Fatalf("step %d: device %+v, cpu %+v", k, d, c)
		}
	}
	if err := models[1].syncHost(); err != nil {
		t.Fatal(err)
	}
	for _, pr := range models[0].TextCfg.ParamShapes() {
		if r := relErr32(models[1].TextW[pr.Name].Float32s(), models[0].TextW[pr.Name].Float32s()); !(r <= 1e-4) {
			t.Errorf("%s differs by %.3g relative", pr.Name, r)
		}
	}
}

// On the device a DiT step's caption features come from one batched forward of the frozen encoder there;
// they are the CPU's per-caption features to float32 rounding, token for token.
func TestDeviceCaptionFeaturesMatchCPU(t *testing.T) {
	p := smallPreset(t)
	p.Data.Items = 200
	st := p.Stages[1]
	st.Batch = 6
	p.Stages[1] = st
	src, err := train.NewBatchSource(p, p.Seed)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Batch(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	info := stageInfo(p, 1, st)
	var feats [2][]capFeat
	for i := range feats {
		m, err := New(p)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			m.UseDevice(cuda.NewEmulator())
		}
		if err := m.BeginStage(info); err != nil {
			t.Fatal(err)
		}
		if (i == 1) != (m.enc.Run != nil) {
			t.Fatalf("model %d: the encoder runs on the device: %v", i, m.enc.Run != nil)
		}
		if feats[i], err = m.stepFeatures(b); err != nil {
			t.Fatal(err)
		}
	}
	for k := range feats[0] {
		c, d := feats[0][k], feats[1][k]
		if c.n != d.n || len(c.v) != len(d.v) {
			t.Fatalf("caption %d: %d tokens on the CPU, %d on the device", k, c.n, d.n)
		}
		if r := relErr32(d.v, c.v); r > 1e-5 {
			t.Errorf("caption %d (%q): features differ by %.3g", k, b.Captions[k], r)
		}
	}
}

func relErr32(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		num = max(num, math.Abs(float64(got[i])-float64(want[i])))
		den = max(den, math.Abs(float64(want[i])))
	}
	return num / max(den, 1e-30)
}
