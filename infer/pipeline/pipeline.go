// Package pipeline is the sampler's Denoiser for a checkpoint: the Next-DiT split where TeaCache cuts it,
// each part a Gorgonia graph cached per batch shape, and the frozen text encoder with a cache of caption
// features per prompt. The samplers and accelerations themselves are in infer, which knows nothing of
// graphs.
package pipeline

import (
	"fmt"
	"strconv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/model"
	"github.com/lumina-workbench/lumina/model/arch"
	"github.com/lumina-workbench/lumina/model/ckpt"
	"github.com/lumina-workbench/lumina/model/cuda"
	"github.com/lumina-workbench/lumina/model/exec"
	gu "github.com/lumina-workbench/lumina/model/graphutil"
	"github.com/lumina-workbench/lumina/model/textenc"
)

// MaxCaptionTokens bounds a prompt's length in text-encoder tokens (with <bos>); longer prompts are
// cut, as the paper's pipeline cuts at Gemma's maximum length.
const MaxCaptionTokens = 128

// Pipeline is a checkpoint ready to sample: the Next-DiT split where TeaCache cuts it (before the main
// layers, the main layers, the final layer), each part a Gorgonia graph cached per batch shape, and the
// frozen text encoder with a cache of caption features per prompt. It implements infer.Model. It is not
// safe for concurrent use: one sampling run at a time.
type Pipeline struct {
	Bundle *ckpt.Bundle
	Cfg    arch.Config
	enc    *textenc.Encoder
	feats  map[string]captionFeatures
	maxCap int
	pre    exec.GraphCache[model.Shape, *preGraph]
	main   exec.GraphCache[model.Shape, *mainGraph]
	post   exec.GraphCache[model.Shape, *postGraph]
	// arena is the CPU memory every graph runs in: they run one at a time and their outputs are copied
	// out at once, so a graph kept for another shape costs only its description.
	arena exec.Arena
	// dev runs the DiT's graphs on a device when set (UseDevice); the text encoder stays on the CPU.
	dev *cuda.Resident
	be  cuda.Backend
}

// UseDevice makes the DiT's graphs run on be with the weights resident there; a forward moves its
// inputs in and its outputs out. The caption features stay on the CPU, computed once per prompt. It
// must be called before the first sample; the pipeline owns be from then on and closes it with itself.
func (p *Pipeline) UseDevice(be cuda.Backend) error {
	if p.pre.Len()+p.main.Len()+p.post.Len() > 0 {
		return fmt.Errorf("pipeline: UseDevice after sampling began")
	}
	r, err := cuda.NewResident(be, p.Bundle.DiT.Tensors())
	if err != nil {
		return err
	}
	p.dev, p.be = r, be
	return nil
}

// graphRun runs one compiled part of the DiT and reads its outputs: on the CPU through the host
// machine, or on a device through a lowered program.
type graphRun interface {
	run(outputs ...*G.Node) ([][]float64, error)
	close()
}

type hostRun struct{ m *exec.Machine }

func (h hostRun) run(outputs ...*G.Node) ([][]float64, error) {
	if err := h.m.Run(); err != nil {
		return nil, err
	}
	out := make([][]float64, len(outputs))
	for i, n := range outputs {
		var err error
		if out[i], err = h.m.Float64s(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (hostRun) close() {}

type deviceRun struct {
	r  *cuda.Resident
	pr *cuda.Program
}

func (d deviceRun) run(outputs ...*G.Node) ([][]float64, error) {
	xs, err := d.r.Run(d.pr, outputs...)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, len(xs))
	for i, x := range xs {
		out[i] = make([]float64, len(x))
		for j, v := range x {
			out[i][j] = float64(v)
		}
	}
	return out, nil
}

func (deviceRun) close() {}

// runner is how the graph of model m computing outputs runs.
func (p *Pipeline) runner(m *model.NextDiT, outputs ...*G.Node) (graphRun, error) {
	if p.dev == nil {
		mach, err := exec.NewMachineIn(&p.arena, outputs...)
		if err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		return hostRun{mach}, nil
	}
	pr, err := p.dev.Lower(outputs, m.Params)
	if err != nil {
		return nil, fmt.Errorf("pipeline on the device: %w", err)
	}
	return deviceRun{p.dev, pr}, nil
}

type captionFeatures struct {
	v []float64 // [n, CapDim]
	n int
}

// Load loads a checkpoint bundle (float32) for sampling, refusing one whose DiT was never trained.
func Load(path string) (*Pipeline, error) {
	b, err := ckpt.LoadBundle(path, tensor.Float32)
	if err != nil {
		return nil, err
	}
	if err := b.CheckTrainedDiT(); err != nil {
		return nil, fmt.Errorf("checkpoint %s holds no trained DiT: %w", path, err)
	}
	return New(b)
}

// New wraps a loaded bundle.
func New(b *ckpt.Bundle) (*Pipeline, error) {
	if b.TextCfg.Dim != b.DiT.Cfg.CapDim {
		return nil, fmt.Errorf("pipeline: text encoder width %d, DiT caption width %d", b.TextCfg.Dim, b.DiT.Cfg.CapDim)
	}
	enc, err := textenc.NewEncoder(b.Tokenizer, b.TextCfg, b.TextW, b.DiT.Dtype)
	if err != nil {
		return nil, err
	}
	if enc.PromptOnly, err = arch.ParseCaptionContext(b.Meta[ckpt.MetaCaptionContext]); err != nil {
		return nil, fmt.Errorf("pipeline: checkpoint metadata: %w", err)
	}
	maxCap := min(MaxCaptionTokens, b.TextCfg.MaxLen)
	if n, err := strconv.Atoi(b.Meta[ckpt.MetaCaptionTokens]); err == nil && n > 0 {
		maxCap = min(n, b.TextCfg.MaxLen)
	}
	p := &Pipeline{Bundle: b, Cfg: b.DiT.Cfg, enc: enc, feats: map[string]captionFeatures{}, maxCap: maxCap}
	// A batch's main layers may run for a subset of its samples (TeaCache), so a shape has main graphs
	// for each subset size.
	p.pre.Max, p.main.Max, p.post.Max = keepShapes, 2*keepShapes, keepShapes
	p.pre.Close = func(g *preGraph) { g.r.close() }
	p.main.Close = func(g *mainGraph) { g.r.close() }
	p.post.Close = func(g *postGraph) { g.r.close() }
	return p, nil
}

// keepShapes bounds the shapes (a caption length, a resolution) whose graphs a pipeline keeps: they
// share one arena, but each keeps its attention state, and an evaluation meets dozens of lengths.
const keepShapes = 4

// CaptionTokens reports how many tokens of a full caption (system prompt included) the DiT is given
// (kept) and how many the caption has (total), both counting <bos>: the checkpoint was trained on
// captions of at most MaxCaption tokens, and longer ones are cut there.
func (p *Pipeline) CaptionTokens(text string) (kept, total int, err error) {
	return p.enc.Count(text, p.maxCap)
}

// MaxCaption is the most caption tokens the DiT is given.
func (p *Pipeline) MaxCaption() int { return p.maxCap }

// Channels is the model's latent channels.
func (p *Pipeline) Channels() int { return p.Cfg.Channels }

// Patch is the model's patch side: image sides must be multiples of it.
func (p *Pipeline) Patch() int { return p.Cfg.Patch }

// Close releases every cached graph.
func (p *Pipeline) Close() {
	p.pre.Clear()
	p.main.Clear()
	p.post.Clear()
	p.enc.Close()
	if p.be != nil {
		p.be.Close()
	}
}

// preGraph runs embedders and refiners and emits the main layers' sequence, SiLU(c), the first main
// block's modulated input and, in the cross-injection model, the refined caption.
type preGraph struct {
	in            *model.Inputs
	h, siluC, mod *G.Node
	text          *G.Node // [B, Lc, D]; nil in the joint model
	r             graphRun
}

type mainGraph struct {
	h, siluC *G.Node
	self     model.Rope  // the main layers' self-attention tables and key mask
	text     *model.Text // the caption the cross-attention reads; nil in the joint model
	out      *G.Node
	r        graphRun
}

type postGraph struct {
	h, siluC *G.Node
	v        *G.Node
	r        graphRun
}

// pipeState is one forward's state: the main layers' sequence of every sample, host side.
type pipeState struct {
	shape   model.Shape
	capLens []int
	cross   bool        // the cross-injection model: h holds image tokens only
	h       [][]float64 // per sample [L, D], L = Shape.MainTokens
	hIn     [][]float64 // per sample, the main stack's input at the last Main
	siluC   [][]float64 // per sample [A]
	mod     [][]float64 // per sample [L, D]
	text    [][]float64 // per sample [CapLen, D], the refined caption (cross-injection model only)
}

func (p *Pipeline) features(text string) (captionFeatures, error) {
	if f, ok := p.feats[text]; ok {
		return f, nil
	}
	v, _, lens, err := p.enc.Features([]string{text}, p.maxCap)
	if err != nil {
		return captionFeatures{}, err
	}
	f := captionFeatures{v: v, n: lens[0]}
	p.feats[text] = f
	return f, nil
}

// Begin encodes the captions (cached per text), builds the batch and runs everything before the main layers.
func (p *Pipeline) Begin(x []float32, shape [4]int, t []float32, cond []infer.Cond) (infer.State, error) {
	B, C, H, W := shape[0], shape[1], shape[2], shape[3]
	if C != p.Cfg.Channels {
		return nil, fmt.Errorf("pipeline: %d channels, model has %d", C, p.Cfg.Channels)
	}
	if len(cond) != B || len(t) != B || len(x) != B*C*H*W {
		return nil, fmt.Errorf("pipeline: batch of %d with %d conditions, %d times, %d values", B, len(cond), len(t), len(x))
	}
	fs := make([]captionFeatures, B)
	capLen := 1
	for i, c := range cond {
		f, err := p.features(c.Text)
		if err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		fs[i] = f
		capLen = max(capLen, f.n)
	}
	s := model.Shape{Batch: B, Height: H, Width: W, CapLen: capLen}
	g, err := p.pre.Get(s, func() (*preGraph, error) { return p.newPreGraph(s) })
	if err != nil {
		return nil, err
	}
	cd := p.Cfg.CapDim
	b := model.Batch{X: make([]float64, len(x)), T: make([]float64, B), Cap: make([]float64, B*capLen*cd), CapLens: make([]int, B)}
	for i, v := range x {
		b.X[i] = float64(v)
	}
	for i := range t {
		b.T[i] = float64(t[i])
		b.CapLens[i] = fs[i].n
		copy(b.Cap[i*capLen*cd:], fs[i].v)
	}
	if err := g.in.Set(p.Cfg, b); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	outs := []*G.Node{g.h, g.siluC, g.mod}
	if g.text != nil {
		outs = append(outs, g.text)
	}
	vals, err := g.r.run(outs...)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	st := &pipeState{shape: s, capLens: b.CapLens, cross: p.Cfg.Cross()}
	st.h, st.siluC, st.mod = split(vals[0], B), split(vals[1], B), split(vals[2], B)
	if g.text != nil {
		st.text = split(vals[3], B)
	}
	st.hIn = make([][]float64, B)
	return st, nil
}

// split cuts a batch's values into one slice per sample.
func split(all []float64, B int) [][]float64 {
	per := len(all) / B
	out := make([][]float64, B)
	for i := range out {
		out[i] = all[i*per : (i+1)*per]
	}
	return out
}

// validRowsD lists the rows of sample i's main sequence (rows of width D) that belong to it alone:
// in the joint model its real caption tokens and every image token (caption padding depends on the
// rest of the batch, so it is left out: the Denoiser's per-sample layout rule); in the cross-injection
// model, whose sequence is the image tokens, every row.
func (st *pipeState) validRowsD(i, D int) []int {
	L := len(st.h[i]) / D
	capRows, first := st.capLens[i], st.shape.CapLen
	if st.cross {
		capRows, first = 0, 0
	}
	rows := make([]int, 0, capRows+L-first)
	for r := 0; r < capRows; r++ {
		rows = append(rows, r)
	}
	for r := first; r < L; r++ {
		rows = append(rows, r)
	}
	return rows
}

func (p *Pipeline) gather(st *pipeState, rowsOf []float64, i int) []float32 {
	D := p.Cfg.Dim
	rows := st.validRowsD(i, D)
	out := make([]float32, 0, len(rows)*D)
	for _, r := range rows {
		for _, v := range rowsOf[r*D : (r+1)*D] {
			out = append(out, float32(v))
		}
	}
	return out
}

// Modulated is sample i's first-main-block modulated input on its valid tokens.
func (p *Pipeline) Modulated(s infer.State, i int) ([]float32, error) {
	st := s.(*pipeState)
	return p.gather(st, st.mod[i], i), nil
}

// Main runs the main layers for the listed samples as one batch.
func (p *Pipeline) Main(s infer.State, samples []int) error {
	st := s.(*pipeState)
	sub := model.Shape{Batch: len(samples), Height: st.shape.Height, Width: st.shape.Width, CapLen: st.shape.CapLen}
	g, err := p.main.Get(sub, func() (*mainGraph, error) { return p.newMainGraph(sub) })
	if err != nil {
		return err
	}
	var h, c, text []float64
	lens := make([]int, len(samples))
	for k, i := range samples {
		h = append(h, st.h[i]...)
		c = append(c, st.siluC[i]...)
		if st.cross {
			text = append(text, st.text[i]...)
		}
		lens[k] = st.capLens[i]
	}
	if err := gu.Fill(g.h, h); err != nil {
		return err
	}
	if err := gu.Fill(g.siluC, c); err != nil {
		return err
	}
	tables := model.RopeData(p.Cfg, sub, lens) // caption, image, joint
	if g.text != nil {
		// The image tokens attend among themselves at their own positions and read the caption, its
		// padding hidden by the caption's key mask.
		if err := tables[1].Fill(g.self); err != nil {
			return err
		}
		if err := gu.Fill(g.text.Tokens, text); err != nil {
			return err
		}
		if err := gu.Fill(g.text.Mask, tables[0].Mask); err != nil {
			return err
		}
	} else if err := tables[2].Fill(g.self); err != nil {
		return err
	}
	vals, err := g.r.run(g.out)
	if err != nil {
		return fmt.Errorf("pipeline main layers: %w", err)
	}
	out := split(vals[0], len(samples))
	for k, i := range samples {
		st.hIn[i] = st.h[i]
		st.h[i] = out[k]
	}
	return nil
}

// Residual is sample i's main-stack output minus input on its valid tokens.
func (p *Pipeline) Residual(s infer.State, i int) ([]float32, error) {
	st := s.(*pipeState)
	if st.hIn[i] == nil {
		return nil, fmt.Errorf("pipeline: no main-layer run for sample %d in this forward", i)
	}
	diff := make([]float64, len(st.h[i]))
	for j := range diff {
		diff[j] = st.h[i][j] - st.hIn[i][j]
	}
	return p.gather(st, diff, i), nil
}

// ApplyResidual adds a cached residual to sample i's valid tokens in place of the main layers.
func (p *Pipeline) ApplyResidual(s infer.State, i int, r []float32) error {
	st := s.(*pipeState)
	D := p.Cfg.Dim
	rows := st.validRowsD(i, D)
	if len(r) != len(rows)*D {
		return fmt.Errorf("pipeline: cached residual has %d values, sample %d needs %d", len(r), i, len(rows)*D)
	}
	h := append([]float64(nil), st.h[i]...)
	for k, row := range rows {
		for j := 0; j < D; j++ {
			h[row*D+j] += float64(r[k*D+j])
		}
	}
	st.h[i] = h
	return nil
}

// Finish runs the final layer on the whole batch.
func (p *Pipeline) Finish(s infer.State) ([]float32, error) {
	st := s.(*pipeState)
	g, err := p.post.Get(st.shape, func() (*postGraph, error) { return p.newPostGraph(st.shape) })
	if err != nil {
		return nil, err
	}
	var h, c []float64
	for i := range st.h {
		h = append(h, st.h[i]...)
		c = append(c, st.siluC[i]...)
	}
	if err := gu.Fill(g.h, h); err != nil {
		return nil, err
	}
	if err := gu.Fill(g.siluC, c); err != nil {
		return nil, err
	}
	vals, err := g.r.run(g.v)
	if err != nil {
		return nil, fmt.Errorf("pipeline final layer: %w", err)
	}
	v := vals[0]
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out, nil
}

// newPreGraph builds the embedders and refiners for shape s (preGraph).
func (p *Pipeline) newPreGraph(s model.Shape) (*preGraph, error) {
	w := p.Bundle.DiT
	g := G.NewGraph()
	m, err := model.NewNextDiT(g, w)
	if err != nil {
		return nil, err
	}
	in, err := model.NewInputs(g, w.Dtype, p.Cfg, s, "")
	if err != nil {
		return nil, err
	}
	st, err := m.Pre(in)
	if err != nil {
		return nil, err
	}
	mod, err := firstModulated(m, st.H, st.SiLUC)
	if err != nil {
		return nil, err
	}
	pg := &preGraph{in: in, h: st.H, siluC: st.SiLUC, mod: mod}
	outs := []*G.Node{pg.h, pg.siluC, pg.mod}
	if st.Text != nil {
		pg.text = st.Text.Tokens
		outs = append(outs, pg.text)
	}
	if pg.r, err = p.runner(m, outs...); err != nil {
		return nil, err
	}
	return pg, nil
}

func firstModulated(m *model.NextDiT, h, siluC *G.Node) (n *G.Node, err error) {
	defer gu.Catch(&err)
	if len(m.Layers) == 0 {
		return h, nil
	}
	l0 := m.Layers[0]
	return l0.ModulatedInput(h, l0.Modulation(siluC)), nil // [B, L, D]
}

// stackInputs builds a graph holding the model and the inputs that the main layers and the final layer
// both start from: the main sequence h [B, L, D] (L = Shape.MainTokens) and SiLU(c) [B, A].
func (p *Pipeline) stackInputs(s model.Shape) (*G.ExprGraph, *model.NextDiT, *G.Node, *G.Node, error) {
	w := p.Bundle.DiT
	g := G.NewGraph()
	m, err := model.NewNextDiT(g, w)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	L := s.MainTokens(p.Cfg)
	h := gu.Input(g, w.Dtype, "h", s.Batch, L, p.Cfg.Dim)           // [B, L, D]
	siluC := gu.Input(g, w.Dtype, "siluc", s.Batch, p.Cfg.AdaDim()) // [B, A]
	return g, m, h, siluC, nil
}

// newMainGraph builds the main layers for shape s (mainGraph).
func (p *Pipeline) newMainGraph(s model.Shape) (*mainGraph, error) {
	g, m, h, siluC, err := p.stackInputs(s)
	if err != nil {
		return nil, err
	}
	dt := p.Bundle.DiT.Dtype
	L, half := s.MainTokens(p.Cfg), p.Cfg.HeadDim()/2
	mg := &mainGraph{h: h, siluC: siluC, self: model.Rope{Cos: gu.Input(g, dt, "cos", s.Batch, L, half),
		Sin: gu.Input(g, dt, "sin", s.Batch, L, half), Mask: gu.Input(g, dt, "mask", s.Batch, L)}}
	stream := model.Stream{H: h, SiLUC: siluC}
	if p.Cfg.Cross() {
		mg.text = &model.Text{Tokens: gu.Input(g, dt, "text", s.Batch, s.CapLen, p.Cfg.Dim), // [B, Lc, D]
			Mask: gu.Input(g, dt, "text.mask", s.Batch, s.CapLen)} // [B, Lc]
		stream.Text = mg.text
	}
	if mg.out, err = m.Main(stream, mg.self); err != nil {
		return nil, err
	}
	if mg.r, err = p.runner(m, mg.out); err != nil {
		return nil, err
	}
	return mg, nil
}

// newPostGraph builds the final layer and unpatchify for shape s (postGraph).
func (p *Pipeline) newPostGraph(s model.Shape) (*postGraph, error) {
	_, m, h, siluC, err := p.stackInputs(s)
	if err != nil {
		return nil, err
	}
	pg := &postGraph{h: h, siluC: siluC}
	if pg.v, err = m.Post(pg.h, pg.siluC, s); err != nil {
		return nil, err
	}
	if pg.r, err = p.runner(m, pg.v); err != nil {
		return nil, err
	}
	return pg, nil
}
