package infer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/toyeval"
	"github.com/lumina-workbench/lumina/data/world"
)

// MaxPromptBytes bounds a prompt: far beyond any caption the captioner writes, small enough that a
// pasted file is refused with a message instead of being cut silently.
const MaxPromptBytes = 4096

// CheckPrompt refuses an empty, oversized or non-UTF-8 prompt, and one holding control characters
// (NUL, escape sequences, …: pasted binary, never a description), with a message that says what to do.
// Tabs and line breaks are whitespace to the tokenizer and pass.
func CheckPrompt(p string) error {
	switch {
	case !utf8.ValidString(p):
		return errors.New("prompt is not valid UTF-8 text: re-save it as UTF-8")
	case strings.TrimSpace(p) == "":
		return errors.New("prompt is empty: describe the image, e.g. \"a red circle to the left of a blue square\"")
	case len(p) > MaxPromptBytes:
		return fmt.Errorf("prompt is %d bytes, more than %d: shorten it", len(p), MaxPromptBytes)
	}
	for i, r := range p {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return fmt.Errorf("prompt holds the control character %U at byte %d: remove it (a prompt is plain text)", r, i)
		}
	}
	return nil
}

// System is the system prompt choice of a sampling run: a template, or none.
type System struct {
	Template caption.Template
	None     bool
}

// ParseSystem reads --system: A, B, C or none.
func ParseSystem(s string) (System, error) {
	if strings.EqualFold(s, "none") {
		return System{None: true}, nil
	}
	t, err := caption.ParseTemplate(s)
	if err != nil {
		return System{}, fmt.Errorf("--system must be A, B, C or none, got %q", s)
	}
	return System{Template: t}, nil
}

func (s System) String() string {
	if s.None {
		return "none"
	}
	return s.Template.String()
}

// Full is the caption the model sees: the system prompt (if any) followed by the prompt.
func (s System) Full(prompt string) string {
	if s.None {
		return prompt
	}
	return caption.WithSystemPrompt(s.Template, prompt)
}

// Spec is one image to generate.
type Spec struct {
	Prompt        string
	System        System
	Width, Height int
	Options       SampleOptions
	OnStep        func(StepInfo)
}

// Generated is one finished image with everything its sidecar records.
type Generated struct {
	Image   *image.RGBA
	Result  *Result
	Spec    Spec
	Sidecar toyeval.ImageSidecar
}

// Model is a Denoiser for one checkpoint, with the latent geometry a request must fit.
type Model interface {
	Denoiser
	// Channels is the number of latent channels.
	Channels() int
	// Patch is the patch side: image sides must be multiples of it.
	Patch() int
}

// Generate samples one image. The same spec and checkpoint give the same pixels: the noise comes from
// the seed alone.
func Generate(ctx context.Context, p Model, spec Spec) (*Generated, error) {
	if err := CheckPrompt(spec.Prompt); err != nil {
		return nil, err
	}
	if err := spec.Options.Validate(); err != nil {
		return nil, err
	}
	patch := p.Patch()
	for _, side := range []struct {
		name string
		v    int
	}{{"width", spec.Width}, {"height", spec.Height}} {
		if side.v < MinSide || side.v > MaxSide || side.v%patch != 0 {
			return nil, fmt.Errorf("--res: image %s %d must be in %d..%d and a multiple of the model's patch size %d", side.name, side.v, MinSide, MaxSide, patch)
		}
	}
	req := Request{Prompts: []string{spec.System.Full(spec.Prompt)}, Shape: [3]int{p.Channels(), spec.Height, spec.Width}, OnStep: spec.OnStep}
	res, err := Sample(ctx, p, req, spec.Options)
	if err != nil {
		return nil, err
	}
	img := world.CHWToImage(res.Images[0], spec.Width, spec.Height)
	return &Generated{Image: img, Result: res, Spec: spec, Sidecar: NewSidecar(spec, res)}, nil
}

// NewSidecar is the sidecar of an image sampled for spec: the prompt, seed, every setting and the
// timings (FromSidecar reads them back).
func NewSidecar(spec Spec, res *Result) toyeval.ImageSidecar {
	o := spec.Options
	perStep := make([]float64, len(res.Steps))
	for i, s := range res.Steps {
		perStep[i] = ms(s.Wall)
	}
	seed := o.Seed
	sc := toyeval.ImageSidecar{
		Prompt: spec.Prompt,
		Seed:   &seed,
		Settings: map[string]any{
			"system": spec.System.String(), "width": spec.Width, "height": spec.Height,
			"steps": o.Steps, "cfg": o.CFG, "solver": o.Solver, "shift": o.Shift,
			"renorm": o.Renorm, "trunc": o.Trunc, "teacache": o.TeaCache,
			"nfe": res.NFE, "forwards": res.Forwards, "main_skipped": res.MainSkipped,
			"wall_ms_total": ms(res.Total), "wall_ms_per_step": perStep,
		},
	}
	// Prompts the caption reader understands carry their facts, so `lumina eval --images` can judge them.
	if facts, err := caption.Read(spec.Prompt, detectLang(spec.Prompt)); err == nil && len(facts) > 0 {
		sc.Facts = facts
	}
	return sc
}

// FromSidecar reads back what NewSidecar wrote: the spec (without OnStep and TeaCache coefficients)
// and the result's counts and timings (without latents). A sidecar without settings is refused.
func FromSidecar(sc toyeval.ImageSidecar) (Spec, *Result, error) {
	st := sc.Settings
	if st == nil || sc.Seed == nil {
		return Spec{}, nil, errors.New("sidecar has no sampling settings")
	}
	num := func(k string) float64 {
		v, _ := st[k].(float64) // JSON numbers
		if i, ok := st[k].(int); ok {
			v = float64(i)
		}
		return v
	}
	str := func(k string) string { v, _ := st[k].(string); return v }
	sys, err := ParseSystem(str("system"))
	if err != nil {
		return Spec{}, nil, fmt.Errorf("sidecar: %w", err)
	}
	spec := Spec{Prompt: sc.Prompt, System: sys, Width: int(num("width")), Height: int(num("height")), Options: SampleOptions{
		Steps: int(num("steps")), CFG: num("cfg"), Solver: str("solver"), Shift: num("shift"), Renorm: num("renorm"),
		Trunc: num("trunc"), TeaCache: num("teacache"), Seed: *sc.Seed,
	}}
	res := &Result{NFE: int(num("nfe")), Forwards: int(num("forwards")), MainSkipped: int(num("main_skipped")),
		Total: time.Duration(num("wall_ms_total") * float64(time.Millisecond))}
	steps, _ := st["wall_ms_per_step"].([]any)
	if f, ok := st["wall_ms_per_step"].([]float64); ok {
		for _, v := range f {
			steps = append(steps, v)
		}
	}
	for i, v := range steps {
		ms, _ := v.(float64)
		res.Steps = append(res.Steps, StepInfo{Step: i, Of: len(steps), Wall: time.Duration(ms * float64(time.Millisecond))})
	}
	return spec, res, nil
}

func detectLang(s string) caption.Lang {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return caption.Zh
		}
	}
	return caption.En
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// TeaCoeffsFromMeta reads a checkpoint's fitted TeaCache polynomial (JSON, highest power first).
func TeaCoeffsFromMeta(s string) ([]float64, error) {
	if s == "" {
		return nil, errors.New("the checkpoint has no fitted TeaCache polynomial")
	}
	var c []float64
	if err := json.Unmarshal([]byte(s), &c); err != nil || len(c) < 2 {
		return nil, fmt.Errorf("the checkpoint's TeaCache polynomial %q is not a list of at least two numbers", s)
	}
	return c, nil
}

// TeaCoeffsMeta is the metadata value recording a fitted polynomial.
func TeaCoeffsMeta(c []float64) string {
	b, _ := json.Marshal(c) // finite floats only: FitTeaCache rejects NaN
	return string(b)
}
