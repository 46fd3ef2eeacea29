package caption

// The system prompts of the paper's Table 1, byte for byte (docs/DESIGN.md §4.2).
// They are prepended to every caption (Templates A and B tell the two domains apart, Template C asks for
// a dual-panel image) and end with " <Prompt Start> ".

import (
	"fmt"
	"strings"

	"github.com/lumina-workbench/lumina/data/world"
)

// Template is one of the paper's system prompts.
type Template uint8

const (
	TemplateA Template = iota
	TemplateB
	TemplateC
	NumTemplates int = iota
)

const (
	systemPromptA = "You are an assistant designed to generate high-quality images based on user prompts. <Prompt Start> "
	systemPromptB = "You are an assistant designed to generate superior images with the superior degree of image-text alignment based on textual prompts or user prompts. <Prompt Start> "
	systemPromptC = "Generate a dual-panel image where the <lower half> displays a <depth map>, while the <upper half> retains the original image for direct visual comparison. <Prompt Start> "
)

// The lower-panel kinds a Template C prompt can name.
const (
	DepthMapKind         = "depth map"
	EdgeMapKind          = "edge map"
	SegmentationMaskKind = "segmentation mask"
)

var templateNames = [...]string{TemplateA: "A", TemplateB: "B", TemplateC: "C"}

func (t Template) String() string {
	if int(t) < len(templateNames) {
		return templateNames[t]
	}
	return fmt.Sprintf("Template(%d)", uint8(t))
}

// ParseTemplate reads "A", "B" or "C" (as `lumina sample --system` takes them).
func ParseTemplate(s string) (Template, error) {
	for i, n := range templateNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Template(i), nil
		}
	}
	return 0, fmt.Errorf("unknown system prompt template %q (allowed: A, B, C)", s)
}

func (t Template) MarshalText() ([]byte, error) { return []byte(t.String()), nil }
func (t *Template) UnmarshalText(b []byte) error {
	v, err := ParseTemplate(string(b))
	*t = v
	return err
}

// SystemPrompt is the template's exact text, ending " <Prompt Start> "; Template C names the depth map.
// An unknown template gets "" (no system prompt), as the unconditional branch has.
func SystemPrompt(t Template) string {
	switch t {
	case TemplateA:
		return systemPromptA
	case TemplateB:
		return systemPromptB
	case TemplateC:
		return systemPromptC
	}
	return ""
}

// DualPanelSystemPrompt is Template C with kind ("depth map", "edge map", "segmentation mask", or any
// other target image type, as Table 1 allows) in place of "depth map"; only the bracketed name changes,
// so the depth-map prompt is byte-identical to SystemPrompt(TemplateC).
func DualPanelSystemPrompt(kind string) string {
	return strings.Replace(systemPromptC, "<"+DepthMapKind+">", "<"+kind+">", 1)
}

// PanelPromptKind is the name Template C gives a dual-panel lower half: DepthPanel → "depth map",
// EdgePanel → "edge map", MaskPanel → "segmentation mask" (an unknown kind → "depth map").
func PanelPromptKind(k world.PanelKind) string {
	switch k {
	case world.EdgePanel:
		return EdgeMapKind
	case world.MaskPanel:
		return SegmentationMaskKind
	}
	return DepthMapKind
}

// TemplateFor is the multi-domain rule: flat synthetic renders get Template A, photos Template B.
func TemplateFor(d world.Domain) Template {
	if d == world.Photo {
		return TemplateB
	}
	return TemplateA
}

// WithSystemPrompt prepends the template's system prompt to a caption.
func WithSystemPrompt(t Template, caption string) string {
	return SystemPrompt(t) + caption
}
