package train

// The flow-matching objective of REFERENCE.md §2, in the model-independent parts: the time t, the
// resolution shift, the interpolant x_t and its target, AvgPool4 for the auxiliary loss, and the
// caption each sample is trained with. The tensor versions live in the model; these float64/float32
// loops are the reference they are tested against, and what the batch source uses.

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/lumina-workbench/lumina/data"
)

// TimeDist is how the flow time t is drawn before any shift.
type TimeDist string

const (
	// Uniform draws t from U[0, 1).
	Uniform TimeDist = "uniform"
	// LogitNormal draws t = sigmoid(z), z ~ N(0, 1): most mass near t = 0.5.
	LogitNormal TimeDist = "logit-normal"
)

// Validate names the allowed values.
func (d TimeDist) Validate() error {
	switch d {
	case Uniform, LogitNormal:
		return nil
	}
	return fmt.Errorf("unknown t distribution %q (allowed: %s, %s)", string(d), Uniform, LogitNormal)
}

// SampleT draws one t in [0, 1] (t = 0 is noise, t = 1 is data).
func SampleT(d TimeDist, rng *rand.Rand) float64 {
	if d == LogitNormal {
		return 1 / (1 + math.Exp(-rng.NormFloat64()))
	}
	return rng.Float64()
}

// The two anchor points of the resolution shift: μ is linear in the image token count through
// (256 tokens, 0.5) and (4096 tokens, 1.15), as the reference code does for 256² and 1024² images.
const (
	shiftTokensLo, shiftMuLo = 256, 0.5
	shiftTokensHi, shiftMuHi = 4096, 1.15
)

// MuForTokens is the resolution shift's μ for an image of n tokens.
//
// Our images are tiny: a 32×32 image in patches of 4 is 64 tokens, far below the 256-token anchor. We
// extrapolate the same line rather than clamp it, because the line is what the recipe defines and
// its slope is gentle: μ(0) = 0.457, μ(16) = 0.459, μ(64) = 0.4675, μ(256) = 0.5. Every tiny image
// therefore gets about the 256² shift (e^μ ≈ 1.6, median t 0.5 → 0.39), which is what the paper
// trains its low-resolution stage with; the shift only starts to grow at GPU-sized images. A preset
// that wants something else sets objective.shift_mu.
func MuForTokens(n int) float64 {
	return shiftMuLo + (shiftMuHi-shiftMuLo)*float64(n-shiftTokensLo)/float64(shiftTokensHi-shiftTokensLo)
}

// Tokens is the image token count of a w×h image in patches of p.
func Tokens(w, h, p int) int {
	if p <= 0 {
		return 0
	}
	return (w / p) * (h / p)
}

// ShiftT applies the resolution shift to t: on the noise level s = 1−t, s' = e^μ·s / (e^μ·s + 1 − s),
// and t' = 1 − s'. μ > 0 moves mass toward noise (smaller t). It maps [0,1] onto [0,1] monotonically,
// with no division by zero at either end.
func ShiftT(t, mu float64) float64 {
	// 1 − s' = (1 − s)/(e^μ·s + 1 − s), written in t so that both ends are exact.
	return t / (math.Exp(mu)*(1-t) + t)
}

// TimeSampler draws the per-sample t of a training step.
type TimeSampler struct {
	Dist TimeDist
	// Shift turns the resolution shift on; Mu is its μ (MuForTokens of the stage's token count, or a
	// preset's override).
	Shift bool
	Mu    float64
}

// Sample draws one (shifted) t.
func (ts TimeSampler) Sample(rng *rand.Rand) float64 {
	t := SampleT(ts.Dist, rng)
	if ts.Shift {
		t = ShiftT(t, ts.Mu)
	}
	return t
}

// Interpolate writes the flow-matching pair of one sample: x_t = t·x1 + (1−t)·x0 and the velocity
// target u = x1 − x0, with x1 the data and x0 the noise. All four slices have the same length.
func Interpolate(x1, x0 []float32, t float64, xt, u []float32) error {
	if len(x0) != len(x1) || len(xt) != len(x1) || len(u) != len(x1) {
		return fmt.Errorf("interpolate: lengths differ (x1 %d, x0 %d, xt %d, u %d)", len(x1), len(x0), len(xt), len(u))
	}
	tf := float32(t)
	for i := range x1 {
		xt[i] = tf*x1[i] + (1-tf)*x0[i]
		u[i] = x1[i] - x0[i]
	}
	return nil
}

// FlowLoss is the per-sample loss of REFERENCE.md §2: the mean over C, H, W of (v − u)², for b samples
// laid out one after another, accumulated in float64.
func FlowLoss(v, u []float32, b int) ([]float64, error) {
	if b <= 0 || len(v) != len(u) || len(v)%b != 0 {
		return nil, fmt.Errorf("flow loss: %d predictions, %d targets, batch %d", len(v), len(u), b)
	}
	per := len(v) / b
	out := make([]float64, b)
	for i := range b {
		var sum float64
		for k := i * per; k < (i+1)*per; k++ {
			d := float64(v[k]) - float64(u[k])
			sum += d * d
		}
		out[i] = sum / float64(per)
	}
	return out, nil
}

// AvgPool4 averages non-overlapping 4×4 blocks of a [b, c, h, w] image batch into [b, c, h/4, w/4]:
// the input of the auxiliary low-resolution loss.
func AvgPool4(src []float32, b, c, h, w int) ([]float32, error) {
	if b <= 0 || c <= 0 || h <= 0 || w <= 0 || h%4 != 0 || w%4 != 0 {
		return nil, fmt.Errorf("avgpool4: shape [%d, %d, %d, %d] needs positive sizes and h, w divisible by 4", b, c, h, w)
	}
	if len(src) != b*c*h*w {
		return nil, fmt.Errorf("avgpool4: %d values for shape [%d, %d, %d, %d]", len(src), b, c, h, w)
	}
	oh, ow := h/4, w/4
	out := make([]float32, b*c*oh*ow)
	for p := range b * c {
		plane := src[p*h*w : (p+1)*h*w]
		dst := out[p*oh*ow : (p+1)*oh*ow]
		for y := range oh {
			for x := range ow {
				var sum float32
				for dy := range 4 {
					row := plane[(4*y+dy)*w+4*x:]
					sum += row[0] + row[1] + row[2] + row[3]
				}
				dst[y*ow+x] = sum / 16
			}
		}
	}
	return out, nil
}

// CaptionMix weighs the caption sources one is drawn from per sample. Weights need not sum to one.
// Weak is the deliberately weaker captioner (data.WeakCaptioner), the stand-in for the off-the-shelf
// captioners of the paper's Fig. 4; it writes English only.
type CaptionMix struct {
	Detailed float64 `yaml:"detailed" json:"detailed"`
	Medium   float64 `yaml:"medium" json:"medium"`
	Short    float64 `yaml:"short" json:"short"`
	Tag      float64 `yaml:"tag" json:"tag"`
	Brief    float64 `yaml:"brief,omitempty" json:"brief,omitempty"`
	Weak     float64 `yaml:"weak,omitempty" json:"weak,omitempty"`
}

// weights are in data.Granularity order, then the weak captioner.
func (m CaptionMix) weights() [6]float64 {
	return [6]float64{m.Detailed, m.Medium, m.Short, m.Tag, m.Brief, m.Weak}
}

// sourceWeak is the index after the granularities.
const sourceWeak = data.NumGranularities

// pick draws a source index 0..sourceWeak with u in [0, 1).
func (m CaptionMix) pick(u float64) int {
	w := m.weights()
	var total float64
	for _, v := range w {
		total += v
	}
	x := u * total
	last := 0
	for i, v := range w {
		if v <= 0 {
			continue
		}
		last = i
		if x < v {
			return i
		}
		x -= v
	}
	return last // rounding at the top end
}

// System-prompt policies.
const (
	// SystemByDomain prepends Template A to flat renders and Template B to photos (the paper's rule).
	SystemByDomain = "domain"
	// SystemNone trains without system prompts (an ablation).
	SystemNone = "none"
)

// CaptionConfig is how a sample's caption is chosen.
type CaptionConfig struct {
	Mix CaptionMix `yaml:"mix" json:"mix"`
	// ZhFrac is the share of captions in Chinese (the weak captioner always writes English).
	ZhFrac float64 `yaml:"zh_frac" json:"zh_frac"`
	// Dropout is the probability that the whole caption, system prompt included, becomes "".
	Dropout float64 `yaml:"dropout" json:"dropout"`
	// SystemPrompt is "domain" (A for flat, B for photo), "none", or "A"/"B" for every sample.
	// Dual-panel samples always get Template C: it is the task instruction, not a style.
	SystemPrompt string `yaml:"system_prompt" json:"system_prompt"`
	// Weak sets the weak captioner's error and omission rates.
	Weak data.WeakCaptioner `yaml:"weak_captioner,omitempty" json:"weak_captioner,omitempty"`
}

// Validate names the field at fault.
func (c CaptionConfig) Validate() error {
	var total float64
	for i, w := range c.Mix.weights() {
		name := [...]string{"detailed", "medium", "short", "tag", "brief", "weak"}[i]
		if math.IsNaN(w) || w < 0 || math.IsInf(w, 0) {
			return fmt.Errorf("mix.%s %v must be a finite weight ≥ 0", name, w)
		}
		total += w
	}
	if total <= 0 {
		return fmt.Errorf("mix: every weight is 0; give at least one of detailed, medium, short, tag, brief, weak a positive weight")
	}
	if !(c.ZhFrac >= 0 && c.ZhFrac <= 1) {
		return fmt.Errorf("zh_frac %v outside [0, 1]", c.ZhFrac)
	}
	if !(c.Dropout >= 0 && c.Dropout <= 1) {
		return fmt.Errorf("dropout %v outside [0, 1]", c.Dropout)
	}
	switch c.SystemPrompt {
	case SystemByDomain, SystemNone, "A", "B":
	default:
		return fmt.Errorf("system_prompt %q unknown (allowed: domain, none, A, B)", c.SystemPrompt)
	}
	if err := c.Weak.Validate(); err != nil {
		return fmt.Errorf("weak_captioner: %w", err)
	}
	return nil
}

// CaptionChoice is the caption one sample is trained with, and how it was made.
type CaptionChoice struct {
	// Text is what the text encoder sees: system prompt + caption, or "" when dropped.
	Text string
	// Dropped is true when caption dropout replaced the whole string by "".
	Dropped bool
	// Source is the granularity (when Weak is false).
	Granularity data.Granularity
	Weak        bool
	Lang        data.Lang
	// Template is the system prompt used; HasTemplate is false for SystemNone and dropped captions.
	Template    data.Template
	HasTemplate bool
	// Key identifies Text without its wording randomness: equal keys mean equal texts (within one
	// run's dataset), so a model can cache caption features under it. "" for a dropped caption.
	Key string
}

// CaptionSource produces the raw caption (no system prompt) of the scene at a granularity and language,
// or the weak captioner's caption when weak is true. The batch source backs it with the dataset's
// per-item captions, so the same item asked the same way always reads the same.
type CaptionSource func(g data.Granularity, lang data.Lang, weak bool) string

// ChooseCaption draws one sample's caption. It always makes the same three draws from rng (dropout,
// source, language), in that order, so changing one probability never shifts the others' streams.
// panel, when not nil, makes a dual-panel (Template C) caption for that lower-panel kind.
func ChooseCaption(c CaptionConfig, s data.Scene, item int, panel *data.PanelKind, rng *rand.Rand, src CaptionSource) CaptionChoice {
	uDrop, uSrc, uLang := rng.Float64(), rng.Float64(), rng.Float64()
	var ch CaptionChoice
	ch.Lang = data.En
	if uLang < c.ZhFrac {
		ch.Lang = data.Zh
	}
	k := c.Mix.pick(uSrc)
	if k == sourceWeak {
		ch.Weak = true
		ch.Lang = data.En
	} else {
		ch.Granularity = data.Granularity(k)
	}
	if uDrop < c.Dropout {
		// The unconditional branch at inference sees "" with no system prompt: train exactly that.
		ch.Dropped = true
		return ch
	}
	text := src(ch.Granularity, ch.Lang, ch.Weak)
	sys := ""
	switch {
	case panel != nil:
		ch.Template, ch.HasTemplate = data.TemplateC, true
		sys = data.DualPanelSystemPrompt(panelPromptName(*panel))
	case c.SystemPrompt == SystemByDomain:
		ch.Template, ch.HasTemplate = data.TemplateFor(s.Domain), true
	case c.SystemPrompt == "A":
		ch.Template, ch.HasTemplate = data.TemplateA, true
	case c.SystemPrompt == "B":
		ch.Template, ch.HasTemplate = data.TemplateB, true
	}
	if ch.HasTemplate && panel == nil {
		sys = data.SystemPrompt(ch.Template)
	}
	ch.Text = sys + text
	src2 := ch.Granularity.String()
	if ch.Weak {
		src2 = "weak"
	}
	tmpl := "-"
	if ch.HasTemplate {
		tmpl = ch.Template.String()
		if panel != nil {
			tmpl += ":" + panel.String()
		}
	}
	ch.Key = fmt.Sprintf("%d/%s/%s/%s", item, src2, ch.Lang, tmpl)
	return ch
}

// panelPromptName is the bracketed name Template C uses for a lower-panel kind.
func panelPromptName(k data.PanelKind) string {
	switch k {
	case data.EdgePanel:
		return data.EdgeMapKind
	case data.MaskPanel:
		return data.SegmentationMaskKind
	}
	return data.DepthMapKind
}
