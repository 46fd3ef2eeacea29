package train

// The caption each training sample is trained with: which captioner and granularity, which language,
// which system prompt, and caption dropout.

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/world"
)

// CaptionMix weighs the caption sources one is drawn from per sample. Weights need not sum to one.
// Weak is the deliberately weaker captioner (caption.WeakCaptioner), the stand-in for the off-the-shelf
// captioners of the paper's Fig. 4; it writes English only.
type CaptionMix struct {
	Detailed float64 `yaml:"detailed" json:"detailed"`
	Medium   float64 `yaml:"medium" json:"medium"`
	Short    float64 `yaml:"short" json:"short"`
	Tag      float64 `yaml:"tag" json:"tag"`
	Brief    float64 `yaml:"brief,omitempty" json:"brief,omitempty"`
	Weak     float64 `yaml:"weak,omitempty" json:"weak,omitempty"`
}

// weights are in caption.Granularity order, then the weak captioner.
func (m CaptionMix) weights() [6]float64 {
	return [6]float64{m.Detailed, m.Medium, m.Short, m.Tag, m.Brief, m.Weak}
}

// sourceWeak is the index after the granularities.
const sourceWeak = caption.NumGranularities

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
	Weak caption.WeakCaptioner `yaml:"weak_captioner,omitempty" json:"weak_captioner,omitempty"`
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
	Granularity caption.Granularity
	Weak        bool
	Lang        caption.Lang
	// Template is the system prompt used; HasTemplate is false for SystemNone and dropped captions.
	Template    caption.Template
	HasTemplate bool
	// Key identifies Text without its wording randomness: equal keys mean equal texts (within one
	// run's dataset), so a model can cache caption features under it. "" for a dropped caption.
	Key string
}

// CaptionSource produces the raw caption (no system prompt) of the scene at a granularity and language,
// or the weak captioner's caption when weak is true. The batch source backs it with the dataset's
// per-item captions, so the same item asked the same way always reads the same.
type CaptionSource func(g caption.Granularity, lang caption.Lang, weak bool) string

// ChooseCaption draws one sample's caption. It always makes the same three draws from rng (dropout,
// source, language), in that order, so changing one probability never shifts the others' streams.
// panel, when not nil, makes a dual-panel (Template C) caption for that lower-panel kind.
func ChooseCaption(c CaptionConfig, s world.Scene, item int, panel *world.PanelKind, rng *rand.Rand, src CaptionSource) CaptionChoice {
	uDrop, uSrc, uLang := rng.Float64(), rng.Float64(), rng.Float64()
	var ch CaptionChoice
	ch.Lang = caption.En
	if uLang < c.ZhFrac {
		ch.Lang = caption.Zh
	}
	k := c.Mix.pick(uSrc)
	if k == sourceWeak {
		ch.Weak = true
		ch.Lang = caption.En
	} else {
		ch.Granularity = caption.Granularity(k)
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
		ch.Template, ch.HasTemplate = caption.TemplateC, true
		sys = caption.DualPanelSystemPrompt(caption.PanelPromptKind(*panel))
	case c.SystemPrompt == SystemByDomain:
		ch.Template, ch.HasTemplate = caption.TemplateFor(s.Domain), true
	case c.SystemPrompt == "A":
		ch.Template, ch.HasTemplate = caption.TemplateA, true
	case c.SystemPrompt == "B":
		ch.Template, ch.HasTemplate = caption.TemplateB, true
	}
	if ch.HasTemplate && panel == nil {
		sys = caption.SystemPrompt(ch.Template)
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
