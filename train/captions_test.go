package train

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lumina-workbench/lumina/data/caption"
	"github.com/lumina-workbench/lumina/data/world"
)

func testScene(domain world.Domain) world.Scene {
	return world.Scene{Domain: domain, Objects: []world.Object{{Shape: world.Circle, Colour: world.Red, Size: world.Medium, X: 0.5, Y: 0.5}}}
}

func TestCaptionDropoutAndSystemPrompts(t *testing.T) {
	cfg := CaptionConfig{Mix: CaptionMix{Detailed: 1, Medium: 1, Short: 1, Tag: 1}, ZhFrac: 0.3, Dropout: 0.1, SystemPrompt: SystemByDomain}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 40000
	dropped, zh := 0, 0
	for i := range n {
		dom := world.Domain(i % 2)
		s := testScene(dom)
		ch := ChooseCaption(cfg, s, i, nil, rng, func(g caption.Granularity, l caption.Lang, weak bool) string {
			return caption.Write(s, g, l, rng)
		})
		if ch.Dropped {
			dropped++
			if ch.Text != "" || ch.HasTemplate || ch.Key != "" {
				t.Fatalf("dropped caption %+v is not the bare empty string", ch)
			}
			continue
		}
		if ch.Lang == caption.Zh {
			zh++
		}
		want := caption.SystemPrompt(caption.TemplateFor(dom))
		if !strings.HasPrefix(ch.Text, want) || len(ch.Text) == len(want) || ch.Template != caption.TemplateFor(dom) {
			t.Fatalf("domain %v: caption %q lacks its system prompt %q", dom, ch.Text, want)
		}
	}
	sd := math.Sqrt(0.1 * 0.9 / n)
	if f := float64(dropped) / n; math.Abs(f-0.1) > 4*sd {
		t.Errorf("dropout frequency %v, want 0.1 ± %v", f, 4*sd)
	}
	kept := float64(n - dropped)
	if f := float64(zh) / kept; math.Abs(f-0.3) > 4*math.Sqrt(0.21/kept) {
		t.Errorf("Chinese frequency %v, want 0.3", f)
	}
	// Dual panel: Template C with the panel's name, whatever the domain rule says.
	cfg.Dropout = 0
	cfg.SystemPrompt = SystemNone
	k := world.EdgePanel
	ch := ChooseCaption(cfg, testScene(world.Photo), 1, &k, rng, func(caption.Granularity, caption.Lang, bool) string { return "x" })
	if ch.Text != caption.DualPanelSystemPrompt(caption.EdgeMapKind)+"x" || ch.Template != caption.TemplateC {
		t.Errorf("dual-panel caption %q", ch.Text)
	}
	ch = ChooseCaption(cfg, testScene(world.Photo), 1, nil, rng, func(caption.Granularity, caption.Lang, bool) string { return "x" })
	if ch.Text != "x" || ch.HasTemplate {
		t.Errorf("system_prompt none gave %q", ch.Text)
	}
}

func TestGranularityMixFrequencies(t *testing.T) {
	cfg := CaptionConfig{Mix: CaptionMix{Detailed: 4, Medium: 3, Short: 0, Tag: 2, Weak: 1}, SystemPrompt: SystemNone}
	want := map[string]float64{"detailed": 0.4, "medium": 0.3, "short": 0, "tag": 0.2, "weak": 0.1}
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 50000
	got := map[string]float64{}
	s := testScene(world.Flat)
	for i := range n {
		ch := ChooseCaption(cfg, s, i, nil, rng, func(g caption.Granularity, l caption.Lang, weak bool) string {
			if weak {
				return "weak"
			}
			return g.String()
		})
		if ch.Text == "weak" != ch.Weak {
			t.Fatalf("weak flag %v for %q", ch.Weak, ch.Text)
		}
		got[ch.Text]++
	}
	for k, p := range want {
		f := got[k] / n
		if math.Abs(f-p) > 4*math.Sqrt(p*(1-p)/n)+1e-12 {
			t.Errorf("%s: frequency %v, want %v", k, f, p)
		}
	}
	bad := CaptionConfig{Mix: CaptionMix{}, SystemPrompt: SystemNone}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "mix") {
		t.Errorf("all-zero mix: %v", err)
	}
}
