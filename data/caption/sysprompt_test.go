package caption

import (
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/data/world"
)

// The literals are the paper's Table 1, typed out again rather than built from the code's parts.
func TestSystemPromptsExact(t *testing.T) {
	want := map[Template]string{
		TemplateA: "You are an assistant designed to generate high-quality images based on user prompts. <Prompt Start> ",
		TemplateB: "You are an assistant designed to generate superior images with the superior degree of image-text alignment based on textual prompts or user prompts. <Prompt Start> ",
		TemplateC: "Generate a dual-panel image where the <lower half> displays a <depth map>, while the <upper half> retains the original image for direct visual comparison. <Prompt Start> ",
	}
	for tp, w := range want {
		if got := SystemPrompt(tp); got != w {
			t.Errorf("template %v:\n got  %q\n want %q", tp, got, w)
		}
	}
	if got := DualPanelSystemPrompt(DepthMapKind); got != want[TemplateC] {
		t.Errorf("depth-map dual panel prompt %q", got)
	}
	if got, w := DualPanelSystemPrompt(EdgeMapKind), "Generate a dual-panel image where the <lower half> displays a <edge map>, while the <upper half> retains the original image for direct visual comparison. <Prompt Start> "; got != w {
		t.Errorf("edge map prompt %q", got)
	}
	if got := DualPanelSystemPrompt(SegmentationMaskKind); !strings.Contains(got, "displays a <segmentation mask>, while") || !strings.HasSuffix(got, " <Prompt Start> ") {
		t.Errorf("mask prompt %q", got)
	}
	if DualPanelSystemPrompt(PanelPromptKind(world.DepthPanel)) != want[TemplateC] ||
		!strings.Contains(DualPanelSystemPrompt(PanelPromptKind(world.MaskPanel)), "<segmentation mask>") ||
		!strings.Contains(DualPanelSystemPrompt(PanelPromptKind(world.EdgePanel)), "<edge map>") {
		t.Error("PanelPromptKind does not name the panels as Template C does")
	}
	if SystemPrompt(Template(9)) != "" {
		t.Error("unknown template should have no system prompt")
	}
}

func TestTemplateRules(t *testing.T) {
	if TemplateFor(world.Flat) != TemplateA || TemplateFor(world.Photo) != TemplateB {
		t.Fatal("flat → A, photo → B")
	}
	if got := WithSystemPrompt(TemplateB, "a red circle"); got != SystemPrompt(TemplateB)+"a red circle" {
		t.Fatalf("WithSystemPrompt: %q", got)
	}
	for _, s := range []string{"A", "b", " C "} {
		if _, err := ParseTemplate(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ParseTemplate("D"); err == nil || !strings.Contains(err.Error(), "A, B, C") {
		t.Fatalf("bad template: %v", err)
	}
}
