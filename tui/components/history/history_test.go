package history

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/infer"
	"github.com/lumina-workbench/lumina/tui/common"
)

func entry(id int, seed uint64, renorm float64) Entry {
	o := infer.DefaultSampleOptions()
	o.Seed, o.Renorm = seed, renorm
	return Entry{ID: id, Gen: &infer.Generated{Spec: infer.Spec{Width: 32, Height: 32, Options: o},
		Result: &infer.Result{NFE: 29, Steps: make([]infer.StepInfo, 29), Total: 290 * time.Millisecond}}}
}

func TestStrip(t *testing.T) {
	m := New(common.New())
	m.SetSize(70, 4)
	if !strings.Contains(ansi.Strip(m.View()), "no samples yet") {
		t.Error("empty strip")
	}
	m.Add(entry(1, 5, 1))
	m.Add(entry(2, 5, 0))
	m.Update(tea.KeyPressMsg{Code: '[', Text: "["})
	m.Update(tea.KeyPressMsg{Code: 'm', Text: "m"})
	cmd := m.Update(tea.KeyPressMsg{Code: ']', Text: "]"})
	if cmd == nil || cmd().(SelectedMsg).Index != 1 {
		t.Error("no SelectedMsg for the move")
	}
	marked := m.Marked()
	if len(marked) != 1 {
		t.Fatalf("%d marked, want 1", len(marked))
	}
	a := marked[0]
	b, _ := m.Selected()
	if a.ID != 1 || b.ID != 2 {
		t.Errorf("marked %d selected %d", a.ID, b.ID)
	}
	if !strings.Contains(a.Settings(), "R1 T– C–") || !strings.Contains(b.Settings(), "R– T– C–") {
		t.Errorf("settings %q / %q", a.Settings(), b.Settings())
	}
	b.Gen.Result.Forwards = 40
	if got := b.Timing(); got != "NFE 29 · fwd 40 · 10ms/step · total 290ms" {
		t.Errorf("timing %q", got)
	}
	// With TeaCache on, the main stacks it skipped of all it could have run.
	b.Gen.Spec.Options.TeaCache = 0.3
	b.Gen.Result.MainSkipped, b.Gen.Result.MainComputed = 12, 28
	if got := b.Timing(); got != "NFE 29 · fwd 40 · skip 12/40 · 10ms/step · total 290ms" {
		t.Errorf("timing with TeaCache %q", got)
	}
	out := ansi.Strip(m.View())
	if !strings.Contains(out, "1 #1") || !strings.Contains(out, "History (2)") {
		t.Errorf("view:\n%s", out)
	}
}

func TestRound(t *testing.T) {
	cases := map[time.Duration]string{
		1234567 * time.Microsecond:  "1.23s",
		12345678 * time.Microsecond: "12.3s",
		1234 * time.Microsecond:     "1.23ms",
		45678 * time.Microsecond:    "45.7ms",
	}
	for d, want := range cases {
		if got := Round(d).String(); got != want {
			t.Errorf("Round(%v) = %s, want %s", d, got, want)
		}
	}
}

// Space marks only while the strip is focused; marks keep their order, unmark, and stop at MaxMarks.
func TestMarks(t *testing.T) {
	m := New(common.New())
	m.SetSize(70, 12)
	for i := range MaxMarks + 1 {
		m.Add(entry(i+1, uint64(i), 1))
	}
	space := tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	up := tea.KeyPressMsg{Code: tea.KeyUp}
	m.Update(space)
	m.Update(up)
	if len(m.Marked()) != 0 {
		t.Fatal("space marked, or up moved, without focus")
	}
	m.SetFocused(true)
	m.Update(space) // #10
	m.Update(up)
	m.Update(space) // #9
	m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	m.Update(space) // #10 again: unmarked
	if got := m.Marked(); len(got) != 1 || got[0].ID != 9 {
		t.Fatalf("marked %v, want #9 only", got)
	}
	m.Update(up) // on #9
	for range MaxMarks - 1 {
		m.Update(up)
		m.Update(space) // #8 … #1
	}
	for range MaxMarks {
		m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	}
	m.Update(space) // #10 would be the tenth
	if got := m.Marked(); len(got) != MaxMarks || !m.Full {
		t.Errorf("%d marked (full %v), want %d and the last refused", len(got), m.Full, MaxMarks)
	}
	if got := m.Marked(); got[0].ID != 9 || got[1].ID != 8 {
		t.Errorf("marks out of order: #%d #%d", got[0].ID, got[1].ID)
	}
}
