package sampleview

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/tui/common"
	"github.com/lumina-workbench/lumina/tui/internal/drive"
	"github.com/lumina-workbench/lumina/tui/internal/fake"
	"github.com/lumina-workbench/lumina/tui/internal/golden"
)

// drain runs cmd and feeds every message it yields back into the view until nothing is left.
func drain(t *testing.T, m *Model, cmd tea.Cmd) {
	t.Helper()
	drive.Settle(t, func(msg tea.Msg) tea.Cmd { _, next := m.Update(msg); return next }, cmd)
}

func typeText(t *testing.T, m *Model, s string) {
	for _, r := range s {
		hit(t, m, string(r))
	}
}

func hit(t *testing.T, m *Model, s string) {
	t.Helper()
	drain(t, m, func() tea.Msg { return drive.Key(s) })
}

func newView(w, h int) (*Model, *fake.Sampler) {
	s := fake.NewSampler()
	m := New(common.New(), s)
	m.SetSize(w, h)
	return m, s
}

func TestTypingAndGenerating(t *testing.T) {
	m, s := newView(80, 21)
	if !m.Capturing() {
		t.Fatal("the prompt should have the keyboard at start")
	}
	typeText(t, m, "a red circle")
	hit(t, m, "ctrl+r")
	if len(s.Calls) != 1 {
		t.Fatalf("sampler called %d times, want 1", len(s.Calls))
	}
	req := s.Calls[0]
	if req.Prompt != "a red circle" {
		t.Errorf("prompt %q", req.Prompt)
	}
	want := infer.DefaultSampleOptions()
	if req.Options.Steps != want.Steps || req.Options.CFG != want.CFG || req.Options.Solver != want.Solver ||
		req.Options.Renorm != want.Renorm || req.Options.Trunc != want.Trunc || req.Options.TeaCache != 0 {
		t.Errorf("options %+v, want the defaults %+v", req.Options, want)
	}
	if req.Width != 32 || req.Height != 32 {
		t.Errorf("size %dx%d, want the model's default 32", req.Width, req.Height)
	}
	if m.Busy() {
		t.Error("still busy after DoneMsg")
	}
	out := ansi.Strip(m.View())
	// Guided all the way: two forwards per step; TeaCache off, so no skip count.
	wantTiming := fmt.Sprintf("NFE %d · fwd %d · 12ms/step · total %s", want.Steps-1, 2*(want.Steps-1), "348ms")
	if !strings.Contains(out, wantTiming) {
		t.Errorf("view lacks the timing line %q:\n%s", wantTiming, out)
	}
	if img, _ := m.ImageSlot(); img == nil {
		t.Error("no image after a sample")
	}
	if !strings.Contains(m.View(), "▀") {
		t.Error("no half-block image in the view")
	}
}

// The prompt edits as a text area does; the view adds clearing it whole and keeps it in the layout.
func TestPromptEditing(t *testing.T) {
	m, _ := newView(80, 21)
	key := func(code rune, mod tea.KeyMod) {
		drain(t, m, func() tea.Msg { return tea.KeyPressMsg{Code: code, Mod: mod} })
	}
	typeText(t, m, "ab")
	hit(t, m, "enter")
	drain(t, m, func() tea.Msg { return tea.PasteMsg{Content: "cd\r\nef"} })
	if got := m.prompt.Value(); got != "ab\ncd\nef" {
		t.Fatalf("prompt %q after typing, enter and a CRLF paste", got)
	}
	hit(t, m, "up")
	key(tea.KeyBackspace, 0) // "cd" loses its "d": the cursor kept column 2
	hit(t, m, "up")
	key(tea.KeyHome, 0)
	key(tea.KeyDelete, 0)
	if got := m.prompt.Value(); got != "b\nc\nef" {
		t.Fatalf("prompt %q after backspace and delete", got)
	}
	hit(t, m, "esc")
	typeText(t, m, "x")
	if m.Capturing() || m.prompt.Value() != "b\nc\nef" {
		t.Error("the prompt still takes keys after esc")
	}
	hit(t, m, "shift+tab") // back from the settings to the prompt
	key('u', tea.ModCtrl)
	if m.prompt.Value() != "" {
		t.Errorf("ctrl+u left %q", m.prompt.Value())
	}
	for _, sz := range [][2]int{{80, 21}, {160, 48}} {
		m.SetSize(sz[0], sz[1])
		l := m.layout()
		lines := strings.Split(m.prompt.View(), "\n")
		if len(lines) != l.promptH || ansi.StringWidth(lines[0]) != l.leftW {
			t.Errorf("%dx%d: prompt is %d lines of %d cells, want %d of %d",
				sz[0], sz[1], len(lines), ansi.StringWidth(lines[0]), l.promptH, l.leftW)
		}
	}
}

func TestSettingsChangeRequest(t *testing.T) {
	m, _ := newView(80, 21)
	hit(t, m, "tab") // to the settings
	if m.Capturing() {
		t.Fatal("settings focus should release the keyboard")
	}
	// Down to Steps (System, Seed, Resolution, Steps) and raise it by 2.
	for range 3 {
		hit(t, m, "down")
	}
	hit(t, m, "right")
	hit(t, m, "right")
	// Down to Solver and pick the next one.
	hit(t, m, "down")
	hit(t, m, "down")
	hit(t, m, "right")
	// Down to Trunc (Shift, Renorm, Trunc) and switch it on.
	for range 3 {
		hit(t, m, "down")
	}
	hit(t, m, "space")
	// TeaCache on too.
	hit(t, m, "down")
	hit(t, m, "space")
	r := m.Spec()
	if r.Options.Steps != 32 {
		t.Errorf("steps %d, want 32", r.Options.Steps)
	}
	if r.Options.Solver != infer.SolverMidpoint {
		t.Errorf("solver %q, want midpoint", r.Options.Solver)
	}
	if r.Options.Trunc != 0.8 {
		t.Errorf("trunc %v, want 0.8", r.Options.Trunc)
	}
	if r.Options.TeaCache != 0.3 || len(r.Options.TeaCoeffs) != 2 {
		t.Errorf("teacache %v coeffs %v, want 0.3 with the model's coefficients", r.Options.TeaCache, r.Options.TeaCoeffs)
	}
	if r.Options.NFE() != 2*(32-1) {
		t.Errorf("NFE %d for midpoint with 32 points, want 62", r.Options.NFE())
	}
}

func TestTeaCacheNeedsCoefficients(t *testing.T) {
	s := fake.NewSampler()
	s.ModelInfo.TeaCoeffs = nil
	m := New(common.New(), s)
	m.SetSize(160, 48)
	hit(t, m, "tab")
	for range fTea {
		hit(t, m, "down")
	}
	hit(t, m, "space")
	if m.Spec().Options.TeaCache != 0 {
		t.Error("TeaCache switched on for a model without coefficients")
	}
	if !strings.Contains(ansi.Strip(m.View()), "n/a model has no coefficients") {
		t.Error("the view does not say why TeaCache is unavailable")
	}
}

func TestEmptyPromptAndNoSampler(t *testing.T) {
	m, s := newView(80, 21)
	hit(t, m, "ctrl+r")
	if len(s.Calls) != 0 || !strings.Contains(ansi.Strip(m.View()), "the prompt is empty") {
		t.Error("an empty prompt should be refused with a message")
	}
	m2 := New(common.New(), nil)
	m2.SetSize(80, 21)
	typeText(t, m2, "x")
	hit(t, m2, "ctrl+r")
	if !strings.Contains(ansi.Strip(m2.View()), "no checkpoint loaded") {
		t.Error("no sampler: the view should say so")
	}
}

func TestSamplerError(t *testing.T) {
	m, s := newView(80, 21)
	s.Err = errors.New("out of memory")
	typeText(t, m, "a blue square")
	hit(t, m, "ctrl+r")
	if !strings.Contains(ansi.Strip(m.View()), "sampling failed: out of memory") {
		t.Errorf("error not shown:\n%s", ansi.Strip(m.View()))
	}
}

func TestCancel(t *testing.T) {
	m, s := newView(80, 21)
	s.Block = make(chan struct{})
	typeText(t, m, "a blue square")
	_, cmd := m.Update(drive.Key("ctrl+r"))
	if !m.Busy() {
		t.Fatal("not busy after generate")
	}
	m.StopJob()
	drain(t, m, cmd)
	if m.Busy() || !strings.Contains(ansi.Strip(m.View()), "cancelled") {
		t.Error("cancel did not end the job")
	}
}

func TestHistoryAndCompare(t *testing.T) {
	m, _ := newView(160, 45)
	typeText(t, m, "a red circle")
	hit(t, m, "ctrl+r")
	hit(t, m, "tab")
	// Renorm off for the second sample: same seed, different toggle.
	for range fRenorm {
		hit(t, m, "down")
	}
	hit(t, m, "space")
	hit(t, m, "g")
	if m.hist.Len() != 2 {
		t.Fatalf("history has %d entries, want 2", m.hist.Len())
	}
	hit(t, m, "c")
	if m.compare {
		t.Fatal("compare without a mark should be refused")
	}
	hit(t, m, "[")
	hit(t, m, "m")
	hit(t, m, "]")
	hit(t, m, "c")
	if !m.compare {
		t.Fatal("compare did not start")
	}
	img, box := m.ImageSlot()
	if img.Bounds().Dx() <= img.Bounds().Dy() {
		t.Errorf("compare image %v is not side by side", img.Bounds())
	}
	if box.Cols != m.layout().rightW {
		t.Errorf("compare box %+v should span the right column", box)
	}
	out := ansi.Strip(m.View())
	if !strings.Contains(out, "Compare #1 #2") || !strings.Contains(out, "same seed") || !strings.Contains(out, "R– ") {
		t.Errorf("compare view lacks its labels:\n%s", out)
	}
}

func TestGolden(t *testing.T) {
	for _, th := range []struct {
		name string
		dark bool
	}{{"dark", true}, {"light", false}} {
		for _, sz := range [][2]int{{80, 24}, {160, 48}} {
			w, h := sz[0], sz[1]
			name := func(state string) string { return fmt.Sprintf("%s_%s_%dx%d", state, th.name, w, h) }
			c := common.New()
			c.Styles.SetDark(th.dark)
			m := New(c, fake.NewSampler())
			m.SetSize(w, h)
			golden.Assert(t, name("empty"), m.View(), w, h)
			typeText(t, m, "a red circle left of a blue square")
			hit(t, m, "ctrl+r")
			hit(t, m, "tab")
			golden.Assert(t, name("sample"), m.View(), w, h)
			hit(t, m, "down")
			hit(t, m, "enter")
			typeText(t, m, "99999999999")
			hit(t, m, "enter")
			golden.Assert(t, name("edit_refused"), m.View(), w, h)
		}
	}
}

// Every number is typed: enter (or e) opens the value with its allowed range, a value outside it is
// refused with the range, q and digits are typed rather than quitting or switching views, and the
// typed values reach the sampler.
func TestTypedValues(t *testing.T) {
	m, s := newView(160, 48)
	typeText(t, m, "a red circle")
	hit(t, m, "tab") // to the settings, on System
	hit(t, m, "down")
	hit(t, m, "enter")
	if !m.Capturing() {
		t.Fatal("the seed editor does not capture the keyboard")
	}
	if out := ansi.Strip(m.View()); !strings.Contains(out, "0–2147483648") {
		t.Errorf("the seed editor does not show its range:\n%s", out)
	}
	typeText(t, m, "12345")
	hit(t, m, "enter")
	for range fCFG - fSeed {
		hit(t, m, "down")
	}
	hit(t, m, "e")
	typeText(t, m, "75")
	hit(t, m, "enter")
	if out := ansi.Strip(m.View()); !strings.Contains(out, "CFG scale must be in 0.0–50.0") || !m.Capturing() {
		t.Errorf("75 was not refused with the range:\n%s", out)
	}
	hit(t, m, "backspace")
	hit(t, m, "backspace")
	typeText(t, m, "7.5")
	hit(t, m, "enter")
	if m.Capturing() {
		t.Fatal("the editor stayed open after a good value")
	}
	hit(t, m, "g")
	if len(s.Calls) != 1 {
		t.Fatalf("%d samples", len(s.Calls))
	}
	if o := s.Calls[0].Options; o.Seed != 12345 || o.CFG != 7.5 {
		t.Errorf("sampled with seed %d cfg %v, want 12345 and 7.5", o.Seed, o.CFG)
	}
}

// r draws a new seed in the field's range.
func TestRandomSeed(t *testing.T) {
	m, _ := newView(80, 24)
	m.seeds = func() uint64 { return 1<<31 + 42 }
	hit(t, m, "tab")
	hit(t, m, "r")
	if got := m.Spec().Options.Seed; got != 41 {
		t.Errorf("seed %d, want 41 (the draw modulo the field's range)", got)
	}
}
