// Package model holds the Unified Next-DiT as Gorgonia graph modules, one struct per module with a
// Forward, built from an arch.Config: the embedders, refiners, joint blocks and final layer, the
// training graph of the flow-matching loss and a plain forward graph. The fused ops it is made of are in
// model/ops, the text encoder in model/textenc.
package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/lumina-workbench/lumina/model/arch"
	gu "github.com/lumina-workbench/lumina/model/graphutil"
	"github.com/lumina-workbench/lumina/model/ops"
)

// Weights are a Next-DiT's parameter values, named as ParamShapes names them. Graphs bind their parameter
// nodes to these tensors, so several graphs (training at two resolutions, the aux-loss forward, the sampler)
// share one set of weights and see every optimiser update.
type Weights struct {
	Cfg   arch.Config
	Dtype tensor.Dtype
	T     map[string]*tensor.Dense
}

// NewWeights initialises a model as the reference does: xavier-uniform linears with zero biases, a
// N(0, 0.02) timestep MLP, unit norm weights, and zero adaLN and final layers, so every modulated block
// starts as the identity. One deviation: the caption projection is xavier-uniform, not the reference's
// N(0, 0.02). At that scale a caption token enters at a quarter of the unit RMS that each sandwich-norm
// residual adds, so after the context refiner every token is close to the average of its (40–60 token,
// system-prompt-dominated) caption, and our small models learned to ignore captions altogether.
func NewWeights(cfg arch.Config, dt tensor.Dtype, seed uint64) (*Weights, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("weights: dtype %v, want float32 or float64", dt)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6c756d696e61))
	w := &Weights{Cfg: cfg, Dtype: dt, T: make(map[string]*tensor.Dense)}
	for _, p := range cfg.ParamShapes() {
		v := make([]float64, p.Size())
		switch {
		case strings.HasSuffix(p.Name, ".bias") || strings.HasPrefix(p.Name, "final") || strings.Contains(p.Name, ".ada."):
			// zero
		case len(p.Shape) == 1:
			for i := range v {
				v[i] = 1
			}
		case strings.HasPrefix(p.Name, "t_mlp."):
			for i := range v {
				v[i] = 0.02 * rng.NormFloat64()
			}
		default:
			bound := math.Sqrt(6 / float64(p.Shape[0]+p.Shape[1]))
			for i := range v {
				v[i] = bound * (2*rng.Float64() - 1)
			}
		}
		w.T[p.Name] = gu.DenseFrom(dt, p.Shape, v)
	}
	return w, nil
}

// Tensors are the weights in ParamShapes order.
func (w *Weights) Tensors() []*tensor.Dense {
	var ts []*tensor.Dense
	for _, p := range w.Cfg.ParamShapes() {
		ts = append(ts, w.T[p.Name])
	}
	return ts
}

// Check reports a missing, extra or mis-shaped tensor.
func (w *Weights) Check() error {
	want := w.Cfg.ParamShapes()
	seen := make(map[string]bool, len(want))
	for _, p := range want {
		t, ok := w.T[p.Name]
		if !ok {
			return fmt.Errorf("weights: missing tensor %s", p.Name)
		}
		if !gu.SameShape(t.Shape(), p.Shape) {
			return fmt.Errorf("weights: tensor %s has shape %v, want %v", p.Name, []int(t.Shape()), p.Shape)
		}
		if t.Dtype() != w.Dtype {
			return fmt.Errorf("weights: tensor %s is %v, want %v", p.Name, t.Dtype(), w.Dtype)
		}
		seen[p.Name] = true
	}
	for name := range w.T {
		if !seen[name] {
			return fmt.Errorf("weights: unexpected tensor %s", name)
		}
	}
	return nil
}

// NextDiT is the Unified Next-DiT's modules bound to one graph.
type NextDiT struct {
	Cfg      arch.Config
	TEmb     TimestepEmbedder
	CapEmb   CaptionEmbedder
	XEmb     Linear
	NoiseRef []*JointBlock
	CtxRef   []*JointBlock
	Layers   []*JointBlock
	Final    FinalLayer
	// Params are the parameter nodes in ParamShapes order, for Grad and the optimiser; W holds their
	// tensors.
	Params []*G.Node
	W      *Weights
}

// NewNextDiT creates the parameter nodes in g, bound to w's tensors, and wires the modules.
func NewNextDiT(g *G.ExprGraph, w *Weights) (m *NextDiT, err error) {
	defer gu.Catch(&err)
	if err := w.Check(); err != nil {
		return nil, err
	}
	cfg := w.Cfg
	ps := paramSet{}
	m = &NextDiT{Cfg: cfg, W: w}
	for _, p := range cfg.ParamShapes() {
		n := G.NewTensor(g, w.Dtype, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(w.T[p.Name]))
		ps[p.Name] = n
		m.Params = append(m.Params, n)
	}
	m.TEmb = TimestepEmbedder{L0: ps.linear("t_mlp.0", true), L2: ps.linear("t_mlp.2", true)}
	m.CapEmb = CaptionEmbedder{Norm: RMSNorm{ps.get("cap_emb.0.weight"), cfg.NormEps}, Proj: ps.linear("cap_emb.1", true)}
	m.XEmb = ps.linear("x_emb", true)
	for i := 0; i < cfg.Refiners; i++ {
		m.NoiseRef = append(m.NoiseRef, ps.block(cfg, fmt.Sprintf("noise_ref.%d", i), true, false))
		m.CtxRef = append(m.CtxRef, ps.block(cfg, fmt.Sprintf("ctx_ref.%d", i), false, false))
	}
	for i := 0; i < cfg.Layers; i++ {
		m.Layers = append(m.Layers, ps.block(cfg, fmt.Sprintf("layers.%d", i), true, cfg.Cross()))
	}
	m.Final = FinalLayer{Ada: ps.linear("final_ada.1", true), Proj: ps.linear("final", true)}
	return m, nil
}

// Shape is the static shape of one forward pass; a graph is built per Shape.
type Shape struct {
	Batch, Height, Width int // image size in pixels
	CapLen               int // padded caption length
}

// ImageTokens is the number of patches.
func (s Shape) ImageTokens(patch int) int { return (s.Height / patch) * (s.Width / patch) }

// MainTokens is the length of the sequence the main layers run on: caption and image tokens in the
// joint model, the image tokens alone in the cross-injection one.
func (s Shape) MainTokens(cfg arch.Config) int {
	if cfg.Cross() {
		return s.ImageTokens(cfg.Patch)
	}
	return s.CapLen + s.ImageTokens(cfg.Patch)
}

// Inputs are one forward pass's graph inputs. Rope tables and masks are inputs, not constants, because
// they depend on each sample's caption length.
type Inputs struct {
	Shape   Shape
	X       *G.Node // [B, C, H, W]
	TFreq   *G.Node // [B, FreqDim]
	Cap     *G.Node // [B, Lc, CapDim]
	CapRope Rope    // [B, Lc, hd/2]; its mask is the caption's key mask
	ImgRope Rope    // [B, Limg, hd/2]
	Joint   Rope    // [B, Lc+Limg, hd/2]; the joint model only (the zero Rope in the cross one)
	// MainRope is the main layers' self-attention: Joint, or ImgRope in the cross-injection model.
	MainRope Rope
}

// NewInputs creates the input nodes (zero-filled) for one forward; prefix keeps names unique when a graph
// holds two forwards (the aux loss).
func NewInputs(g *G.ExprGraph, dt tensor.Dtype, cfg arch.Config, s Shape, prefix string) (*Inputs, error) {
	if s.Batch < 1 || s.CapLen < 1 || s.Height < cfg.Patch || s.Width < cfg.Patch ||
		s.Height%cfg.Patch != 0 || s.Width%cfg.Patch != 0 {
		return nil, fmt.Errorf("forward shape %+v invalid for patch %d (sides must be positive multiples of it, batch and caption length ≥ 1)", s, cfg.Patch)
	}
	half := cfg.HeadDim() / 2
	li := s.ImageTokens(cfg.Patch)
	node := func(name string, shape ...int) *G.Node { return gu.Input(g, dt, prefix+name, shape...) }
	rope := func(name string, l int) Rope {
		return Rope{Cos: node(name+".cos", s.Batch, l, half), Sin: node(name+".sin", s.Batch, l, half),
			Mask: node(name+".mask", s.Batch, l)}
	}
	in := &Inputs{
		Shape:   s,
		X:       node("x", s.Batch, cfg.Channels, s.Height, s.Width),
		TFreq:   node("tfreq", s.Batch, cfg.FreqDim),
		Cap:     node("cap", s.Batch, s.CapLen, cfg.CapDim),
		CapRope: rope("rope.cap", s.CapLen),
		ImgRope: rope("rope.img", li),
	}
	if cfg.Cross() {
		in.MainRope = in.ImgRope
	} else {
		in.Joint = rope("rope.joint", s.CapLen+li)
		in.MainRope = in.Joint
	}
	return in, nil
}

// Batch is one forward's data. Caption rows are padded to the graph's CapLen; CapLens holds each
// sample's real length (0 for the empty caption of CFG's unconditional branch and caption dropout).
type Batch struct {
	X       []float64 // [B, C, H, W]
	T       []float64 // [B], t = 0 noise, t = 1 data
	Cap     []float64 // [B, Lc, CapDim]
	CapLens []int     // [B]
}

// Set copies a batch into the input nodes and computes the timestep sinusoids, rope tables and masks.
func (in *Inputs) Set(cfg arch.Config, b Batch) error {
	s := in.Shape
	if len(b.T) != s.Batch || len(b.CapLens) != s.Batch {
		return fmt.Errorf("batch has %d times and %d caption lengths, want %d", len(b.T), len(b.CapLens), s.Batch)
	}
	for i, n := range b.CapLens {
		if n < 0 || n > s.CapLen {
			return fmt.Errorf("sample %d: caption length %d outside [0, %d]", i, n, s.CapLen)
		}
	}
	if err := gu.Fill(in.X, b.X); err != nil {
		return fmt.Errorf("x: %w", err)
	}
	if err := gu.Fill(in.Cap, b.Cap); err != nil {
		return fmt.Errorf("caption features: %w", err)
	}
	if err := gu.Fill(in.TFreq, TimestepFreqs(b.T, cfg.FreqDim)); err != nil {
		return err
	}
	tables := RopeData(cfg, s, b.CapLens)
	for i, r := range []Rope{in.CapRope, in.ImgRope, in.Joint} {
		if r.Cos == nil {
			continue // no joint sequence in the cross-injection model
		}
		if err := tables[i].Fill(r); err != nil {
			return err
		}
	}
	return nil
}

// RopeValues are one sequence's rotary tables and key mask, as values to feed a Rope's nodes.
type RopeValues struct{ Cos, Sin, Mask []float64 }

// Fill copies the values into r's input nodes.
func (v RopeValues) Fill(r Rope) error {
	for _, f := range []struct {
		n *G.Node
		v []float64
	}{{r.Cos, v.Cos}, {r.Sin, v.Sin}, {r.Mask, v.Mask}} {
		if err := gu.Fill(f.n, f.v); err != nil {
			return err
		}
	}
	return nil
}

// RopeData computes the caption, image and joint sequences' rotary tables and key masks for a batch
// whose samples have the given unpadded caption lengths.
func RopeData(cfg arch.Config, s Shape, capLens []int) [3]RopeValues {
	capPos, imgPos, jointPos := Positions(s, cfg.Patch, capLens)
	masks := [3]func(bi, li int) bool{
		func(bi, li int) bool { return li < capLens[bi] },
		func(int, int) bool { return true },
		func(bi, li int) bool { return li >= s.CapLen || li < capLens[bi] },
	}
	scale := [3]float64{1, 1, 1}
	if cfg.RopeGrid > 0 {
		k := float64(cfg.RopeGrid) / float64(min(s.Height, s.Width)/cfg.Patch)
		scale[1], scale[2] = k, k
	}
	var out [3]RopeValues
	for i, pos := range [3][][][3]int{capPos, imgPos, jointPos} {
		out[i].Cos, out[i].Sin = ops.RopeTablesScaled(pos, cfg.AxesDims, 10000, scale)
		for bi := range pos {
			for li := range pos[bi] {
				m := 0.0
				if masks[i](bi, li) {
					m = 1
				}
				out[i].Mask = append(out[i].Mask, m)
			}
		}
	}
	return out
}

// Positions are the 3-axis RoPE positions: caption token i at (i, 0, 0) and image patch (r, c) at
// (cap_len, r, c), cap_len being the sample's unpadded caption length, as the reference does.
func Positions(s Shape, patch int, capLens []int) (capPos, imgPos, jointPos [][][3]int) {
	h, w := s.Height/patch, s.Width/patch
	for bi := 0; bi < s.Batch; bi++ {
		cp := make([][3]int, s.CapLen)
		for i := range cp {
			cp[i] = [3]int{i, 0, 0}
		}
		ip := make([][3]int, 0, h*w)
		for r := 0; r < h; r++ {
			for c := 0; c < w; c++ {
				ip = append(ip, [3]int{capLens[bi], r, c})
			}
		}
		capPos = append(capPos, cp)
		imgPos = append(imgPos, ip)
		jointPos = append(jointPos, append(append([][3]int{}, cp...), ip...))
	}
	return capPos, imgPos, jointPos
}

// TimestepFreqs is the 256-d sinusoid of raw t in [0, 1] (not ×1000): [cos(t·f), sin(t·f)],
// f_i = exp(−ln(10000)·i/half).
func TimestepFreqs(t []float64, dim int) []float64 {
	half := dim / 2
	out := make([]float64, 0, len(t)*dim)
	for _, tv := range t {
		row := make([]float64, dim)
		for i := 0; i < half; i++ {
			a := tv * math.Exp(-math.Log(10000)*float64(i)/float64(half))
			row[i], row[half+i] = math.Cos(a), math.Sin(a)
		}
		out = append(out, row...)
	}
	return out
}

// Stream is what passes from Pre to Main and on to Post: the token sequence the main layers run on,
// and what every main block and the final layer read beside it.
type Stream struct {
	// H is [caption | image] [B, Lc+Limg, D] in the joint model, the image tokens [B, Limg, D] in the
	// cross-injection one.
	H *G.Node
	// SiLUC is SiLU(c) [B, A], the input of every adaLN.
	SiLUC *G.Node
	// Text is the refined caption the cross-attention reads; nil in the joint model.
	Text *Text
}

// Pre runs everything before the main layers: c, the context refiner on caption tokens, patchify and the
// noise refiner on image tokens, then, in the joint model, the joint sequence [caption | image].
func (m *NextDiT) Pre(in *Inputs) (st Stream, err error) {
	defer gu.Catch(&err)
	c := m.TEmb.Forward(in.TFreq)    // [B, A]
	siluC := gu.Must(ops.SiLU(c))    // [B, A]
	capf := m.CapEmb.Forward(in.Cap) // [B, Lc, D]
	for _, b := range m.CtxRef {
		capf = b.Forward(capf, in.CapRope, nil, nil) // [B, Lc, D]
	}
	img := m.XEmb.Forward(gu.Must(ops.Patchify(in.X, m.Cfg.Patch))) // [B, Limg, D]
	for _, b := range m.NoiseRef {
		img = b.Forward(img, in.ImgRope, siluC, nil) // [B, Limg, D]
	}
	if m.Cfg.Cross() {
		return Stream{H: img, SiLUC: siluC, Text: &Text{Tokens: capf, Mask: in.CapRope.Mask}}, nil
	}
	return Stream{H: gu.Must(G.Concat(1, capf, img)), SiLUC: siluC}, nil // H [B, Lc+Limg, D]
}

// Main runs the main blocks on st.H with the self-attention tables and mask self (Inputs.MainRope).
func (m *NextDiT) Main(st Stream, self Rope) (out *G.Node, err error) {
	defer gu.Catch(&err)
	h := st.H
	for _, b := range m.Layers {
		h = b.Forward(h, self, st.SiLUC, st.Text) // [B, L, D]
	}
	return h, nil
}

// Post runs the final layer on the image tokens and unpatchifies to the velocity; h is Main's output.
func (m *NextDiT) Post(h, siluC *G.Node, s Shape) (v *G.Node, err error) {
	defer gu.Catch(&err)
	p := m.Cfg.Patch
	z := m.Final.Forward(h, siluC) // [B, L, p·p·C]
	li, ppc := s.ImageTokens(p), p*p*m.Cfg.Channels
	if !m.Cfg.Cross() {
		z = gu.Must(G.Slice(z, nil, G.S(s.CapLen, s.CapLen+li))) // [B, Limg, p·p·C]
		// Gorgonia drops an axis sliced to length 1 (a 4×4 aux image in 4×4 patches is one token).
		z = gu.Must(G.Reshape(z, tensor.Shape{s.Batch, li, ppc})) // [B, Limg, p·p·C]
	}
	return gu.Must(ops.Unpatchify(z, p, m.Cfg.Channels, s.Height, s.Width)), nil // [B, C, H, W]
}

// Forward is the whole model: v = NextDiT(x_t, t, caption features).
func (m *NextDiT) Forward(in *Inputs) (*G.Node, error) {
	st, err := m.Pre(in)
	if err != nil {
		return nil, fmt.Errorf("next-dit forward: %w", err)
	}
	h, err := m.Main(st, in.MainRope)
	if err != nil {
		return nil, fmt.Errorf("next-dit forward: %w", err)
	}
	v, err := m.Post(h, st.SiLUC, in.Shape)
	if err != nil {
		return nil, fmt.Errorf("next-dit forward: %w", err)
	}
	return v, nil
}
