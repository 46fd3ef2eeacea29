package sampleview

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/internal/fake"
	"github.com/lumina-workbench/lumina/tui/internal/golden"
)

// threeSamples makes #1 (seed 0), #2 (seed 0, renorm off: the fake draws the same image) and #3
// (seed 1), and leaves the history focused.
func threeSamples(t *testing.T, m *Model) {
	t.Helper()
	typeText(t, m, "a red circle")
	hit(t, m, "ctrl+r")
	hit(t, m, "tab") // settings
	for range fRenorm {
		hit(t, m, "down")
	}
	hit(t, m, "space")
	hit(t, m, "g")
	for range fRenorm - fSeed {
		hit(t, m, "up")
	}
	hit(t, m, "right")
	hit(t, m, "g")
	hit(t, m, "tab") // history
}

// Space marks samples in the focused history, c shows them together with the settings that differ
// and each one's PSNR against the first; c again goes back to the single image.
func TestCompareMany(t *testing.T) {
	m, _ := newView(160, 48)
	threeSamples(t, m)
	if !m.hist.Focused() {
		t.Fatal("tab from the settings did not focus the history")
	}
	hit(t, m, "c")
	if m.compare {
		t.Fatal("compare with nothing marked should be refused")
	}
	for range 3 {
		hit(t, m, "space")
		hit(t, m, "up")
	}
	if f := m.fields.Fields[fSeed].Value; f != 1 {
		t.Fatalf("the history's keys reached the settings: seed %v", f)
	}
	hit(t, m, "c")
	if !m.compare || len(m.cmp) != 3 {
		t.Fatalf("compare %v with %d samples, want 3", m.compare, len(m.cmp))
	}
	// Marked from the newest: #3 is the reference, #2 differs from it, #1 is the same image as #2.
	out := ansi.Strip(m.View())
	for _, want := range []string{"Compare #3 #2 #1", "different seeds", "#3   reference", "#1   " + fmt.Sprintf("%.1f dB", m.psnr[2])} {
		if !strings.Contains(out, want) {
			t.Errorf("compare view lacks %q:\n%s", want, out)
		}
	}
	if m.psnr[1] != m.psnr[2] || m.psnr[1] <= 0 || m.psnr[1] > 60 {
		t.Errorf("PSNR %v: #2 and #1 are the same image, and differ from #3", m.psnr)
	}
	// The seed and renorm differ across the three; the solver does not.
	view := m.View()
	if !strings.Contains(view, m.common.Styles.Differs.Render("seed 1")) || strings.Contains(view, m.common.Styles.Differs.Render("euler×30")) {
		t.Error("the differing settings are not the ones highlighted")
	}
	if img, _ := m.ImageSlot(); img.Bounds().Dx() < 3*img.Bounds().Dy() {
		t.Errorf("mosaic %v is not three side by side", img.Bounds())
	}
	hit(t, m, "c")
	if m.compare {
		t.Error("c did not leave the comparison")
	}
}

func TestCompareGolden(t *testing.T) {
	for _, th := range []struct {
		name string
		dark bool
	}{{"dark", true}, {"light", false}} {
		for _, sz := range [][2]int{{80, 24}, {160, 48}} {
			w, h := sz[0], sz[1]
			c := common.New()
			c.Styles.SetDark(th.dark)
			m := New(c, fake.NewSampler())
			m.SetSize(w, h)
			threeSamples(t, m)
			for range 3 {
				hit(t, m, "space")
				hit(t, m, "up")
			}
			golden.Assert(t, fmt.Sprintf("marked_%s_%dx%d", th.name, w, h), m.View(), w, h)
			hit(t, m, "c")
			golden.Assert(t, fmt.Sprintf("compare3_%s_%dx%d", th.name, w, h), m.View(), w, h)
		}
	}
}

// With the history focused, / filters it by prompt, settings and number; the image follows the
// selection into the filtered list, and esc shows everything again.
func TestHistoryFilter(t *testing.T) {
	m, _ := newView(160, 48)
	threeSamples(t, m) // #3 is seed 1 and selected
	hit(t, m, "/")
	if !m.Capturing() {
		t.Fatal("the filter does not have the keyboard")
	}
	typeText(t, m, "R1")
	hit(t, m, "enter")
	if sel, _ := m.hist.Selected(); sel.ID != 1 || m.hist.Shown() != 1 {
		t.Errorf("filter R1: selected #%d, %d shown", sel.ID, m.hist.Shown())
	}
	out := ansi.Strip(m.View())
	if !strings.Contains(out, "History (1 of 3)") || !strings.Contains(out, "/R1 1/3") || strings.Contains(out, "#2 seed") {
		t.Errorf("filtered history:\n%s", out)
	}
	hit(t, m, "up")
	if sel, _ := m.hist.Selected(); sel.ID != 1 {
		t.Errorf("up left the filtered list: #%d", sel.ID)
	}
	hit(t, m, "esc")
	if m.hist.Shown() != 3 || m.histFilter.Active() {
		t.Error("esc did not clear the filter")
	}
}

func TestHistoryFilterGolden(t *testing.T) {
	for _, th := range []struct {
		name string
		dark bool
	}{{"dark", true}, {"light", false}} {
		for _, sz := range [][2]int{{80, 24}, {160, 48}} {
			w, h := sz[0], sz[1]
			c := common.New()
			c.Styles.SetDark(th.dark)
			m := New(c, fake.NewSampler())
			m.SetSize(w, h)
			threeSamples(t, m)
			hit(t, m, "/")
			typeText(t, m, "R1")
			golden.Assert(t, fmt.Sprintf("histfilter_%s_%dx%d", th.name, w, h), m.View(), w, h)
		}
	}
}
