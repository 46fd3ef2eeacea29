// Package lumina is the trainable Lumina-Image 2.0 model that train's runner drives: the causal text
// encoder (stage 0, next-token loss) and the Next-DiT (the flow objective with the auxiliary loss) as
// Gorgonia graphs, AdamW with global-norm clipping, the EMA, and the checkpoint state exact resumption
// needs. The runner, the batches and the run folder are in train, which builds no graphs.
package lumina

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"runtime/debug"
	"strconv"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/world"
	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/model/cuda"
	"github.com/lumina-workbench/lumina/model/exec"
	"github.com/lumina-workbench/lumina/model/flow"
	"github.com/lumina-workbench/lumina/model/optim"
	"github.com/lumina-workbench/lumina/model/textenc"
	"github.com/lumina-workbench/lumina/train"
)

// Training-checkpoint metadata beside the bundle's.
const (
	metaStage = ckpt.MetaTrainStage // index of the stage whose optimiser state the file holds
	metaKind  = ckpt.MetaTrainKind  // that stage's kind
)

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// capBucket rounds padded caption lengths up to a multiple of this, so a stage builds a handful of
// graphs instead of one per caption length.
const capBucket = 16

// maxGraphs bounds the compiled graphs kept per kind: they share one arena, but each keeps its
// attention state.
const maxGraphs = 3

// flowKey is a DiT training graph's shape and whether it has the aux loss.
type flowKey struct {
	s   model.Shape
	aux bool
}

// SampleFunc generates images from a bundle: the CLI wires the sampler (infer) in, since train and
// infer sit side by side and neither imports the other.
type SampleFunc func(ctx context.Context, b *ckpt.Bundle, prompts []string, w, h int, seed uint64) ([]image.Image, error)

// Model is train.Model for the real networks: the causal text encoder (stage 0, next-token loss) and
// the Next-DiT (flow matching with the auxiliary loss), trained with AdamW, global-norm clipping and an
// EMA. All tensors are float32. It also implements train.Sampler when SampleWith is set.
type Model struct {
	DiT       *model.Weights
	TextCfg   arch.LMConfig
	TextW     map[string]*tensor.Dense
	Tokenizer *textenc.Tokenizer
	// SampleWith, if set, makes periodic sample grids and stage-end ToyEval possible.
	SampleWith SampleFunc

	preset string
	optCfg train.OptimizerConfig
	stage  train.StageInfo
	active bool
	names  []string
	params []*tensor.Dense
	opt    *optim.AdamW
	ema    *optim.EMA

	enc       *textenc.Encoder
	capTokens int
	// promptOnly is the preset's caption context (textenc.Encoder.PromptOnly).
	promptOnly bool
	capCache   map[string]capFeat
	capMax     int
	flows      exec.GraphCache[flowKey, *model.FlowLoss]
	lms        exec.GraphCache[[2]int, *textenc.LMLoss] // by batch and length

	// resolutions are the image sides the DiT has trained at, in this process or the checkpoints loaded.
	resolutions []int

	// arena is the CPU memory the stage's training graphs run in, one at a time.
	arena exec.Arena

	// dev runs every stage on a device when set (UseDevice).
	dev *deviceState
}

// deviceState is the device side of DiT training: the backend, the trainer of the stage begun, and
// which copy of the weights and optimiser state is newer.
type deviceState struct {
	be cuda.Backend
	tr *cuda.Trainer // of the stage begun
	// dirty: the device has stepped since the host tensors were last synced; stale: the host tensors
	// were loaded (a checkpoint) after the device state was.
	dirty, stale bool
}

// UseDevice makes every stage train on be: the weights, gradients, moments and EMA stay on the device,
// and a step moves only the batch in and the losses out (cuda.Trainer). In a DiT stage the frozen text
// encoder is resident too, and the captions' features come from batched forwards there, cached per
// caption.
func (m *Model) UseDevice(be cuda.Backend) { m.dev = &deviceState{be: be} }

type capFeat struct {
	v []float32 // [n, CapDim]
	n int
}

// New builds the tokenizer from the captioner's corpus (deterministic for the preset's seed) and
// initialises both networks.
func New(p *train.Preset) (*Model, error) {
	tok, err := BuildTokenizer(p.Seed)
	if err != nil {
		return nil, err
	}
	cfg, err := arch.LookupConfig(p.Model)
	if err != nil {
		return nil, err
	}
	cfg.RopeGrid = p.RopeGrid
	if cfg.TextInjection, err = arch.ParseTextInjection(p.TextInjection); err != nil {
		return nil, fmt.Errorf("preset %s: %w", p.Name, err)
	}
	if p.Objective.Patch != 0 && p.Objective.Patch != cfg.Patch {
		return nil, fmt.Errorf("preset %s: objective.patch %d, model %s has patch %d", p.Name, p.Objective.Patch, cfg.Name, cfg.Patch)
	}
	tc, err := arch.LookupLMConfig(p.TextEncoder, tok.Size())
	if err != nil {
		return nil, err
	}
	tc.FeatureLayer = p.TextFeatureLayer
	if err := tc.Validate(); err != nil {
		return nil, fmt.Errorf("preset %s: text_feature_layer: %w", p.Name, err)
	}
	if tc.Dim != cfg.CapDim {
		return nil, fmt.Errorf("preset %s: text encoder width %d, model %s takes caption features of width %d", p.Name, tc.Dim, cfg.Name, cfg.CapDim)
	}
	w, err := model.NewWeights(cfg, tensor.Float32, p.Seed)
	if err != nil {
		return nil, err
	}
	tw, err := textenc.NewLMWeights(tc, tensor.Float32, p.Seed+1)
	if err != nil {
		return nil, err
	}
	capTokens := tc.MaxLen
	if p.CaptionTokens > 0 {
		capTokens = min(p.CaptionTokens, tc.MaxLen)
	}
	promptOnly, err := arch.ParseCaptionContext(p.CaptionContext)
	if err != nil {
		return nil, fmt.Errorf("preset %s: %w", p.Name, err)
	}
	m := &Model{preset: p.Name, DiT: w, TextCfg: tc, TextW: tw, Tokenizer: tok, optCfg: p.Optimizer, capMax: 20000, capTokens: capTokens, promptOnly: promptOnly}
	m.flows.Max, m.lms.Max = maxGraphs, maxGraphs
	m.flows.Close = func(f *model.FlowLoss) { m.forgetOnDevice(f); f.Close() }
	m.lms.Close = func(l *textenc.LMLoss) { m.forgetOnDevice(l); l.Close() }
	return m, nil
}

// BuildTokenizer builds the vocabulary from the captioner's corpus and every system prompt.
func BuildTokenizer(seed uint64) (*textenc.Tokenizer, error) {
	corpus := caption.Corpus(20000, seed)
	for t := caption.Template(0); int(t) < caption.NumTemplates; t++ {
		corpus = append(corpus, caption.SystemPrompt(t))
	}
	for k := world.PanelKind(0); int(k) < world.NumPanelKinds; k++ {
		corpus = append(corpus, caption.DualPanelSystemPrompt(caption.PanelPromptKind(k)))
	}
	tok, err := textenc.Build(corpus, 1, 100000)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return tok, nil
}

// BeginStage starts stage st's optimiser and EMA from the current weights.
func (m *Model) BeginStage(st train.StageInfo) error {
	m.stage, m.active = st, true
	m.names, m.params = nil, nil
	// The last stage's training graphs (another kind, resolution or batch) and their arena hold memory
	// this stage will not use.
	m.releaseGraphs()
	if st.Stage.Kind == train.KindDiT {
		m.resolutions = ckpt.WithResolutions(m.resolutions, st.Stage.Resolution)
	}
	if st.Stage.Kind == train.KindTextEncoder {
		for _, p := range m.TextCfg.ParamShapes() {
			m.names = append(m.names, ckpt.TextPrefix+p.Name)
			m.params = append(m.params, m.TextW[p.Name])
		}
	} else {
		for _, p := range m.DiT.Cfg.ParamShapes() {
			m.names = append(m.names, p.Name)
			m.params = append(m.params, m.DiT.T[p.Name])
		}
	}
	o := st.Optimizer
	opt, err := optim.NewAdamW(optim.AdamWConfig{LR: st.Stage.LR, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay}, m.params)
	if err != nil {
		return fmt.Errorf("stage %s: %w", st.Stage.Name, err)
	}
	m.opt, m.ema = opt, nil
	if st.Stage.EMADecay > 0 {
		if m.ema, err = optim.NewEMA(st.Stage.EMADecay, m.params); err != nil {
			return fmt.Errorf("stage %s: %w", st.Stage.Name, err)
		}
	}
	if err := m.beginDevice(st); err != nil {
		return fmt.Errorf("stage %s: %w", st.Stage.Name, err)
	}
	// The text encoder may have changed (stage 0) or been reloaded: cached features are stale.
	m.capCache = map[string]capFeat{}
	if m.enc != nil {
		m.enc.Close()
	}
	if m.enc, err = textenc.NewEncoder(m.Tokenizer, m.TextCfg, m.TextW, tensor.Float32); err != nil {
		return err
	}
	m.enc.PromptOnly = m.promptOnly
	if m.dev != nil && st.Stage.Kind == train.KindDiT {
		m.enc.Run = m.deviceFeatures
	}
	return nil
}

// forgetOnDevice drops the device programs compiled for graph key, when training runs on a device.
func (m *Model) forgetOnDevice(key any) {
	if m.dev != nil && m.dev.tr != nil {
		m.dev.tr.Forget(key)
	}
}

// releaseGraphs closes the training graphs and frees their arena; the next step builds its graph again.
func (m *Model) releaseGraphs() {
	m.flows.Clear()
	m.lms.Clear()
	m.arena = exec.Arena{}
}

// deviceFeatures runs a caption-feature graph of the frozen text encoder on the device.
func (m *Model) deviceFeatures(lm *textenc.LM) ([]float64, error) {
	outs, err := m.dev.tr.Forward(lm, G.Nodes{lm.Features}, lm.Params)
	if err != nil {
		return nil, err
	}
	f := make([]float64, len(outs[0]))
	for i, v := range outs[0] {
		f[i] = float64(v)
	}
	return f, nil
}

// beginDevice gives a stage its device trainer, the state starting from the host tensors (fresh
// moments, the EMA at the weights, as optim starts them).
func (m *Model) beginDevice(st train.StageInfo) error {
	if m.dev == nil {
		return nil
	}
	if m.dev.tr != nil {
		m.dev.tr.Close()
		m.dev.tr = nil
	}
	m.dev.dirty, m.dev.stale = false, false
	var frozen []*tensor.Dense // a DiT stage reads the text encoder for its caption features
	if st.Stage.Kind == train.KindDiT {
		frozen = textenc.ParamTensors(m.TextCfg, m.TextW)
	}
	tr, err := cuda.NewTrainer(m.dev.be, m.params, m.ema != nil, frozen...)
	if err != nil {
		return err
	}
	m.dev.tr = tr
	return tr.Load(nil, nil, nil)
}

// deviceMoments are the host tensors the device state mirrors: AdamW's moments and the EMA.
func (m *Model) deviceMoments() (mm, vv, ema []*tensor.Dense, err error) {
	for i := range m.params {
		a, b := m.opt.Moments(i)
		mm, vv = append(mm, a), append(vv, b)
	}
	if m.ema != nil {
		if ema, err = m.ema.Weights(); err != nil {
			return nil, nil, nil, err
		}
	}
	return mm, vv, ema, nil
}

// syncHost brings the host tensors up to date with the device after steps there, before anything
// reads them (a checkpoint, a sample, the export).
func (m *Model) syncHost() error {
	if m.dev == nil || m.dev.tr == nil || !m.dev.dirty {
		return nil
	}
	mm, vv, ema, err := m.deviceMoments()
	if err != nil {
		return err
	}
	if err := m.dev.tr.Sync(mm, vv, ema); err != nil {
		return err
	}
	m.dev.dirty = false
	return nil
}

// syncDevice brings the device state up to date with host tensors loaded from a checkpoint.
func (m *Model) syncDevice() error {
	if !m.dev.stale {
		return nil
	}
	mm, vv, ema, err := m.deviceMoments()
	if err != nil {
		return err
	}
	if err := m.dev.tr.Load(mm, vv, ema); err != nil {
		return err
	}
	m.dev.stale = false
	return nil
}

// Step is one optimisation step on b. A cancelled ctx ends it at the next safe point (before the
// forward, before the update) with ctx's error and the model as it was.
func (m *Model) Step(ctx context.Context, b *train.Batch) (train.StepResult, error) {
	if !m.active {
		return train.StepResult{}, errors.New("lumina: Step before BeginStage")
	}
	if err := ctx.Err(); err != nil {
		return train.StepResult{}, err
	}
	if m.dev != nil && m.dev.tr != nil {
		return m.deviceStep(ctx, b)
	}
	var res train.StepResult
	var grads []*tensor.Dense
	var err error
	if b.Kind == train.KindTextEncoder {
		res, grads, err = m.lmStep(b)
	} else {
		res, grads, err = m.ditStep(ctx, b)
	}
	if err != nil {
		return train.StepResult{}, err
	}
	// A safe point: the update below changes the weights, the optimiser and the EMA together or not at
	// all, and nothing before it changed what a later step computes.
	if err := ctx.Err(); err != nil {
		return train.StepResult{}, err
	}
	if !finite(res.Loss) || !finite(res.AuxLoss) {
		return train.StepResult{Loss: res.Loss, AuxLoss: res.AuxLoss, GradNorm: math.NaN(), Skipped: true}, nil
	}
	norm, err := optim.ClipGradNorm(grads, m.clip())
	if errors.Is(err, optim.ErrNonFiniteNorm) {
		res.GradNorm, res.Skipped = norm, true
		return res, nil
	}
	if err != nil {
		return train.StepResult{}, err
	}
	res.GradNorm = norm
	m.opt.Config.LR = b.LR
	if err := m.opt.Step(m.params, grads); err != nil {
		return train.StepResult{}, err
	}
	if m.ema != nil {
		if err := m.ema.Update(m.params); err != nil {
			return train.StepResult{}, err
		}
	}
	return res, nil
}

// deviceStep is Step on the device: the same decisions (skip on a non-finite loss or gradient norm,
// clip, AdamW, EMA) with the arithmetic in cuda.Trainer.
func (m *Model) deviceStep(ctx context.Context, b *train.Batch) (train.StepResult, error) {
	if err := m.syncDevice(); err != nil {
		return train.StepResult{}, err
	}
	var g cuda.Graph
	if b.Kind == train.KindTextEncoder {
		lml, err := m.lmGraph(b)
		if err != nil {
			return train.StepResult{}, err
		}
		g = cuda.LMGraph(lml)
	} else {
		fl, err := m.ditGraph(ctx, b)
		if err != nil {
			return train.StepResult{}, err
		}
		g = cuda.FlowGraph(fl)
	}
	ls, norm, err := m.dev.tr.Grads(g, m.clip())
	if err != nil {
		return train.StepResult{}, err
	}
	res := train.StepResult{Loss: ls[0]}
	if b.Kind == train.KindDiT {
		lv := cuda.FlowLosses(ls)
		res = train.StepResult{Loss: lv.Main, AuxLoss: lv.Aux}
	}
	// The same safe point as the CPU's: nothing has changed the weights yet.
	if err := ctx.Err(); err != nil {
		return train.StepResult{}, err
	}
	if !finite(res.Loss) || !finite(res.AuxLoss) {
		return train.StepResult{Loss: res.Loss, AuxLoss: res.AuxLoss, GradNorm: math.NaN(), Skipped: true}, nil
	}
	res.GradNorm = norm
	if !finite(norm) {
		res.Skipped = true
		return res, nil
	}
	m.opt.Config.LR = b.LR
	k, err := m.opt.Advance()
	if err != nil {
		return train.StepResult{}, err
	}
	decay := 0.0
	if m.ema != nil {
		decay = m.ema.Decay
	}
	m.dev.dirty = true
	if err := m.dev.tr.Update(k, decay); err != nil {
		return train.StepResult{}, err
	}
	return res, nil
}

// clip is the global-norm bound of the optimiser (+Inf: none).
func (m *Model) clip() float64 {
	if m.optCfg.GradClip <= 0 {
		return math.Inf(1)
	}
	return m.optCfg.GradClip
}

// ditStep runs the flow-matching forward and backward (and the aux forward) on one batch; it returns
// ctx's error between the caption features and the forward.
func (m *Model) ditStep(ctx context.Context, b *train.Batch) (train.StepResult, []*tensor.Dense, error) {
	fl, err := m.ditGraph(ctx, b)
	if err != nil {
		return train.StepResult{}, nil, err
	}
	lv, err := fl.RunSet()
	if err != nil {
		return train.StepResult{}, nil, err
	}
	return train.StepResult{Loss: lv.Main, AuxLoss: lv.Aux}, fl.Grads(), nil
}

// ditGraph is the training graph for b's shape with b placed in its inputs: x_t, t, the caption
// features (computed first; ctx is checked after them) and the targets, main and aux.
func (m *Model) ditGraph(ctx context.Context, b *train.Batch) (*model.FlowLoss, error) {
	cfg := m.DiT.Cfg
	B := len(b.Captions)
	feats, err := m.stepFeatures(b)
	if err != nil {
		return nil, err
	}
	capLen := 1
	for _, f := range feats {
		capLen = max(capLen, f.n)
	}
	// A safe point: the features change nothing the next step computes (stepFeatures).
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	capLen = (capLen + capBucket - 1) / capBucket * capBucket
	cap := make([]float64, B*capLen*cfg.CapDim)
	lens := make([]int, B)
	for i, f := range feats {
		lens[i] = f.n
		row := cap[i*capLen*cfg.CapDim:]
		for j, v := range f.v {
			row[j] = float64(v)
		}
	}
	main, target, err := flowBatch(b.Images, b.Noise, b.T, cap, lens)
	if err != nil {
		return nil, err
	}
	s := model.Shape{Batch: B, Height: b.Height, Width: b.Width, CapLen: capLen}
	var aux *model.Batch
	var auxTarget []float64
	if b.Aux != nil {
		a, t, err := flowBatch(b.Aux.Images, b.Aux.Noise, b.Aux.T, cap, lens)
		if err != nil {
			return nil, err
		}
		aux, auxTarget = &a, t
	}
	fl, err := m.flows.Get(flowKey{s, aux != nil}, func() (*model.FlowLoss, error) {
		fl, err := model.NewFlowLoss(m.DiT, s, aux != nil)
		if err == nil {
			fl.Arena = &m.arena
		}
		return fl, err
	})
	if err != nil {
		return nil, err
	}
	if err := fl.Set(main, target, aux, auxTarget); err != nil {
		return nil, err
	}
	return fl, nil
}

// flowBatch is the model's input for one forward of the flow objective: x_t with its times and caption
// features, and the velocity target.
func flowBatch(x1, x0 []float32, t []float64, cap []float64, lens []int) (model.Batch, []float64, error) {
	xt, u, err := flow.Interpolate(x1, x0, t)
	if err != nil {
		return model.Batch{}, nil, err
	}
	return model.Batch{X: xt, T: t, Cap: cap, CapLens: lens}, u, nil
}

// stepFeatures are the caption features of b's captions. On the CPU each caption is encoded alone and
// cached (captionFeatures). On a device the step's captions are encoded in one batch, uncached: one
// forward there costs less than one caption's on the CPU, and a step's batch is the same whenever it
// runs, so a resumed run still sees exactly the features an uninterrupted one did.
func (m *Model) stepFeatures(b *train.Batch) ([]capFeat, error) {
	feats := make([]capFeat, len(b.Captions))
	if m.enc.Run == nil {
		for i, c := range b.Captions {
			f, err := m.captionFeatures(b.Items[i].Caption.Key, c)
			if err != nil {
				return nil, err
			}
			feats[i] = f
		}
		return feats, nil
	}
	v, L, lens, err := m.enc.Features(b.Captions, m.capTokens)
	if err != nil {
		return nil, fmt.Errorf("caption features: %w", err)
	}
	D := m.TextCfg.Dim
	for i, n := range lens {
		f := capFeat{v: make([]float32, n*D), n: n}
		for j, x := range v[i*L*D : i*L*D+n*D] {
			f.v[j] = float32(x)
		}
		feats[i] = f
	}
	return feats, nil
}

// captionFeatures encodes one caption alone (batch 1, its own length), so its features never depend
// on the batch or on what is cached: a resumed run sees exactly the features an uninterrupted one did.
func (m *Model) captionFeatures(key, text string) (capFeat, error) {
	if text == "" {
		key = "\x00empty"
	}
	if f, ok := m.capCache[key]; ok && key != "" {
		return f, nil
	}
	v, _, lens, err := m.enc.Features([]string{text}, m.capTokens)
	if err != nil {
		return capFeat{}, fmt.Errorf("caption features: %w", err)
	}
	f := capFeat{v: make([]float32, len(v)), n: lens[0]}
	for i, x := range v {
		f.v[i] = float32(x)
	}
	if key != "" && len(m.capCache) < m.capMax {
		m.capCache[key] = f
	}
	return f, nil
}

// lmStep runs the next-token loss on the batch's captions on the CPU.
func (m *Model) lmStep(b *train.Batch) (train.StepResult, []*tensor.Dense, error) {
	lml, err := m.lmGraph(b)
	if err != nil {
		return train.StepResult{}, nil, err
	}
	loss, err := lml.RunSet()
	if err != nil {
		return train.StepResult{}, nil, err
	}
	grads, err := lml.Grads()
	if err != nil {
		return train.StepResult{}, nil, err
	}
	return train.StepResult{Loss: loss}, grads, nil
}

// lmGraph is the text encoder's training graph for b's captions (<bos> caption <eos>, cut to MaxLen)
// with them placed in its inputs.
func (m *Model) lmGraph(b *train.Batch) (*textenc.LMLoss, error) {
	ids, lens, err := m.enc.Tokenize(b.Captions, m.TextCfg.MaxLen-1)
	if err != nil {
		return nil, err
	}
	eos, _ := m.Tokenizer.ID("<eos>")
	L := 1
	for i := range ids {
		ids[i] = append(ids[i], eos)
		lens[i]++
		L = max(L, lens[i])
	}
	L = min((L+capBucket-1)/capBucket*capBucket, m.TextCfg.MaxLen)
	B := len(ids)
	lml, err := m.lms.Get([2]int{B, L}, func() (*textenc.LMLoss, error) {
		lml, err := textenc.NewLMLoss(m.TextCfg, m.TextW, tensor.Float32, B, L)
		if err == nil {
			lml.Arena = &m.arena
		}
		return lml, err
	})
	if err != nil {
		return nil, err
	}
	if err := lml.Set(ids, lens); err != nil {
		return nil, err
	}
	return lml, nil
}

// Bundle is the model as a sampling checkpoint; with useEMA the DiT weights are the EMA's (shared,
// not copied: use it before the next Step).
func (m *Model) Bundle(useEMA bool) *ckpt.Bundle {
	w := m.DiT
	if useEMA && m.ema != nil && m.stage.Stage.Kind == train.KindDiT {
		shadow, err := m.ema.Weights()
		if err == nil {
			w = &model.Weights{Cfg: m.DiT.Cfg, Dtype: m.DiT.Dtype, T: map[string]*tensor.Dense{}}
			for i, n := range m.names {
				w.T[n] = shadow[i]
			}
		}
	}
	b := &ckpt.Bundle{DiT: w, TextCfg: m.TextCfg, TextW: m.TextW, Tokenizer: m.Tokenizer,
		Meta: map[string]string{ckpt.MetaCaptionTokens: strconv.Itoa(m.capTokens), ckpt.MetaCaptionContext: m.captionContext()}}
	if len(m.resolutions) > 0 {
		b.Meta[ckpt.MetaResolutions] = ckpt.ResolutionsMeta(m.resolutions)
	}
	return b
}

func (m *Model) captionContext() string {
	if m.promptOnly {
		return arch.CaptionContextPrompt
	}
	return arch.CaptionContextFull
}

// Sample makes one image per prompt with the current EMA weights.
func (m *Model) Sample(ctx context.Context, prompts []string, w, h int, seed uint64) ([]image.Image, error) {
	if m.SampleWith == nil {
		return nil, errors.New("no sampler wired in")
	}
	if err := m.syncHost(); err != nil {
		return nil, err
	}
	if m.dev == nil {
		m.releaseGraphs() // sampling's graphs need not sit beside the training graphs' memory
	}
	return m.SampleWith(ctx, m.Bundle(true), prompts, w, h, seed)
}

// SaveCheckpoint writes a bundle (loadable by `lumina sample`) plus the optimiser and EMA state under
// ckpt.TrainPrefix.
func (m *Model) SaveCheckpoint(w io.Writer, meta map[string]string) error {
	if err := m.syncHost(); err != nil {
		return err
	}
	ts, bm, err := ckpt.BundleFile(m.Bundle(false))
	if err != nil {
		return err
	}
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	if m.active {
		if err := m.addTrainState(ts, md); err != nil {
			return err
		}
	}
	for k, v := range bm {
		md[k] = v
	}
	return ckpt.Encode(w, ts, md)
}

// addTrainState adds the optimiser's and the EMA's state of the stage begun, under ckpt.TrainPrefix.
func (m *Model) addTrainState(ts map[string]*tensor.Dense, md map[string]string) error {
	add := func(state map[string]*tensor.Dense, meta map[string]string) {
		for k, v := range state {
			ts[ckpt.TrainPrefix+k] = v
		}
		for k, v := range meta {
			md[ckpt.TrainPrefix+k] = v
		}
	}
	ost, om, err := m.opt.State(m.names)
	if err != nil {
		return err
	}
	add(ost, om)
	if m.ema != nil {
		es, em, err := m.ema.State(m.names)
		if err != nil {
			return err
		}
		add(es, em)
		if m.stage.Stage.Kind == train.KindDiT {
			md[ckpt.MetaEMA] = "1"
		}
	}
	md[metaStage] = strconv.Itoa(m.stage.Index)
	md[metaKind] = string(m.stage.Stage.Kind)
	return nil
}

// Export writes the sampling checkpoint of a finished run: the EMA weights (when the stage kept them),
// the text encoder and tokenizer, and the preset's name; no training state.
func (m *Model) Export(w io.Writer) error {
	if err := m.syncHost(); err != nil {
		return err
	}
	b := m.Bundle(true)
	b.Meta["preset"] = m.preset
	return ckpt.WriteBundle(w, b)
}

// LoadCheckpoint restores the weights (in place: the compiled graphs stay bound to them) and, when the
// file belongs to the stage begun, the optimiser and EMA state.
func (m *Model) LoadCheckpoint(r io.Reader) (map[string]string, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	f, err := ckpt.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if err := ckpt.CheckConfig(f.Meta, m.DiT.Cfg); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	tokJSON, _ := m.Tokenizer.MarshalJSON()
	if !bytes.Equal([]byte(f.Meta[ckpt.MetaTokenizer]), tokJSON) {
		return nil, errors.New("checkpoint: its tokenizer differs from this run's (was it made with another seed or corpus?)")
	}
	copyIn := func(dst *tensor.Dense, name string) error {
		src, ok := f.Tensors[name]
		if !ok {
			return fmt.Errorf("checkpoint: missing tensor %s", name)
		}
		d, s := dst.Data().([]float32), src.Float32s()
		if len(d) != len(s) {
			return fmt.Errorf("checkpoint: tensor %s has %d values, want %d", name, len(s), len(d))
		}
		copy(d, s)
		return nil
	}
	for _, p := range m.DiT.Cfg.ParamShapes() {
		if err := copyIn(m.DiT.T[p.Name], p.Name); err != nil {
			return nil, err
		}
	}
	for _, p := range m.TextCfg.ParamShapes() {
		if err := copyIn(m.TextW[p.Name], ckpt.TextPrefix+p.Name); err != nil {
			return nil, err
		}
	}
	if m.active && f.Meta[metaStage] == strconv.Itoa(m.stage.Index) {
		state := map[string]*tensor.Dense{}
		meta := map[string]string{}
		for k, v := range f.Tensors {
			if n, ok := strings.CutPrefix(k, ckpt.TrainPrefix); ok {
				state[n] = v
			}
		}
		for k, v := range f.Meta {
			if n, ok := strings.CutPrefix(k, ckpt.TrainPrefix); ok {
				meta[n] = v
			}
		}
		if err := m.opt.LoadState(m.names, state, meta); err != nil {
			return nil, fmt.Errorf("checkpoint optimiser state: %w", err)
		}
		if m.ema != nil {
			if err := m.ema.LoadState(m.names, state); err != nil {
				return nil, fmt.Errorf("checkpoint EMA state: %w", err)
			}
		}
	}
	m.resolutions = ckpt.WithResolutions(m.resolutions, ckpt.Resolutions(f.Meta)...)
	m.capCache = map[string]capFeat{}
	if m.dev != nil && m.dev.tr != nil {
		m.dev.stale, m.dev.dirty = true, false
	}
	return f.Meta, nil
}

// StageMemory is the peak memory, in bytes, of training stage st on the CPU, counted before it starts
// from what the stage will hold: the weights (the DiT's and the text encoder's), the stage's AdamW
// moments and EMA, its training graphs (one shared arena the size of its largest compiled program, the
// longest caption bucket with the aux loss when on, and the attention state of each graph it keeps, up
// to maxGraphs) and the cache of caption features. Go's collector lets the heap grow to (1 + GOGC/100)
// times what is live before collecting, and a step makes far more garbage than that, so the peak is
// the live total times that growth, plus the process's own.
func (m *Model) StageMemory(st train.Stage) (int64, error) {
	if m.dev != nil {
		return 0, nil // the tensors live on the device (DeviceStageMemory); the graphs never run here
	}
	var p *exec.Program
	var trained, buckets int64
	var err error
	if st.Kind == train.KindTextEncoder {
		trained = m.TextCfg.ParamCount()
		buckets = int64((m.TextCfg.MaxLen + capBucket - 1) / capBucket)
		p, err = m.lmProgram(st.Batch, m.TextCfg.MaxLen)
	} else {
		trained = m.DiT.Cfg.ParamCount()
		top := (m.capTokens + capBucket - 1) / capBucket * capBucket
		buckets = int64(top / capBucket)
		h := st.Resolution
		if st.DualPanel != nil {
			h *= 2 // the larger of the stage's two shapes bounds both
			buckets *= 2
		}
		p, err = m.flowProgram(model.Shape{Batch: st.Batch, Height: h, Width: st.Resolution, CapLen: top}, st.AuxLoss)
	}
	if err != nil {
		return 0, fmt.Errorf("counting its memory: %w", err)
	}
	const f32 = 4
	weights := (m.DiT.Cfg.ParamCount() + m.TextCfg.ParamCount()) * f32
	optState := 2 * trained * f32 // AdamW's moments
	if st.EMADecay > 0 {
		optState += trained * f32
	}
	graphs := p.HostBytes() + (min(maxGraphs, buckets)-1)*p.OpState
	var cache int64
	if st.Kind == train.KindDiT {
		cache = int64(m.capMax) * int64(m.capTokens) * int64(m.DiT.Cfg.CapDim) * f32
	}
	live := weights + optState + graphs + cache
	return processBytes + int64(gcGrowth()*float64(live)), nil
}

// processBytes is what the process holds besides the tensors StageMemory counts: the Go runtime, the
// tokenizer, batches, the text encoder's per-caption feature graphs.
const processBytes = 64 << 20

// gcGrowth is how far the heap grows over what is live before the collector runs: 1 + GOGC/100.
func gcGrowth() float64 {
	pct := debug.SetGCPercent(100)
	debug.SetGCPercent(pct)
	if pct < 0 { // collection off: the heap only grows; count the default's growth
		pct = 100
	}
	return 1 + float64(pct)/100
}

// flowProgram is the compiled CPU program of the DiT's training graph of shape s, built and compiled
// without running it.
func (m *Model) flowProgram(s model.Shape, aux bool) (*exec.Program, error) {
	fl, err := model.NewFlowLoss(m.DiT, s, aux)
	if err != nil {
		return nil, err
	}
	defer fl.Close()
	return fl.Program()
}

// lmProgram is the compiled program of the text encoder's training graph of b rows of l tokens.
func (m *Model) lmProgram(b, l int) (*exec.Program, error) {
	lml, err := textenc.NewLMLoss(m.TextCfg, m.TextW, tensor.Float32, b, l)
	if err != nil {
		return nil, err
	}
	defer lml.Close()
	return lml.Program()
}

// cublasSlack is device memory the driver side takes beyond the program's buffers (cuBLAS's
// workspace and the allocator's rounding).
const cublasSlack = 64 << 20

// DeviceStageMemory is the device memory a stage trains in: the trainer's state (with the frozen text
// encoder of a DiT stage) and the arena of the stage's largest program (the longest caption bucket, the
// aux loss when on, or the caption-feature forward; for the text encoder its longest rows), counted
// exactly from the lowered programs, plus cublasSlack.
func (m *Model) DeviceStageMemory(st train.Stage) (int64, error) {
	var g cuda.Graph
	var frozen []*tensor.Dense
	var featArena int64 // a DiT stage's caption-feature forward, which shares the arena
	if st.Kind == train.KindTextEncoder {
		lml, err := textenc.NewLMLoss(m.TextCfg, m.TextW, tensor.Float32, st.Batch, m.TextCfg.MaxLen)
		if err != nil {
			return 0, err
		}
		defer lml.Close()
		g = cuda.LMGraph(lml)
	} else {
		frozen = textenc.ParamTensors(m.TextCfg, m.TextW)
		lm, err := textenc.NewFeatureLM(G.NewGraph(), m.TextCfg, m.TextW, tensor.Float32, st.Batch, m.TextCfg.MaxLen)
		if err != nil {
			return 0, err
		}
		if featArena, err = cuda.ProgramBytes(G.Nodes{lm.Features}, lm.Params); err != nil {
			return 0, err
		}
		h, w := st.Resolution, st.Resolution
		if st.DualPanel != nil {
			h *= 2
		}
		top := (m.capTokens + capBucket - 1) / capBucket * capBucket
		fl, err := model.NewFlowLoss(m.DiT, model.Shape{Batch: st.Batch, Height: h, Width: w, CapLen: top}, st.AuxLoss)
		if err != nil {
			return 0, err
		}
		defer fl.Close()
		g = cuda.FlowGraph(fl)
	}
	state, arena, err := cuda.TrainingBytes(g, st.EMADecay > 0, frozen...)
	if err != nil {
		return 0, err
	}
	return state + max(arena, featArena) + cublasSlack, nil
}
