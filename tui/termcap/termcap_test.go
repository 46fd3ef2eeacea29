package termcap

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/tui/internal/drive"

	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"
)

// DA1 replies as real terminals send them. replyXterm379 was read back
// from an XTerm 379 started with -ti vt340; the others are as those terminals answer.
const (
	replyVT340    = "\x1b[?63;1;2;4;6;9;15;22c"
	replyXterm379 = "\x1b[?63;1;2;4;6;9;15;16;22;28c"
	replyXterm    = "\x1b[?64;1;2;6;9;15;18;21;22c" // plain xterm, no sixel
	replyTmux     = "\x1b[?1;2c"                    // tmux: a VT100 with AVO
	replyVT132    = "\x1b[?4;6c"                    // class 4 is VT132, not sixel
)

func TestParseDA1(t *testing.T) {
	cases := []struct {
		reply string
		want  []int
		sixel bool
	}{
		{replyVT340, []int{63, 1, 2, 4, 6, 9, 15, 22}, true},
		{replyXterm379, []int{63, 1, 2, 4, 6, 9, 15, 16, 22, 28}, true},
		{replyXterm, []int{64, 1, 2, 6, 9, 15, 18, 21, 22}, false},
		{replyTmux, []int{1, 2}, false},
		{replyVT132, []int{4, 6}, false},
		{"\x9b?62;4c", []int{62, 4}, true},
	}
	for _, c := range cases {
		got, err := ParseDA1(c.reply)
		if err != nil {
			t.Fatalf("ParseDA1(%q): %v", c.reply, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("ParseDA1(%q) = %v, want %v", c.reply, got, c.want)
		}
		if s := SupportsSixel(got); s != c.sixel {
			t.Errorf("SupportsSixel(%q) = %v, want %v", c.reply, s, c.sixel)
		}
	}
}

func TestParseDA1Errors(t *testing.T) {
	for _, bad := range []string{"", "\x1b[?c", "\x1b[63;4c", "\x1b[?63;4", "\x1b[?63;x;4c", "\x1b[>1;2c"} {
		if got, err := ParseDA1(bad); err == nil {
			t.Errorf("ParseDA1(%q) = %v, want error", bad, got)
		}
	}
}

// The detector switches on the event types Bubble Tea's own decoder makes
// from these bytes; check that the real replies decode to them.
func TestUVDecodesReplies(t *testing.T) {
	var dec uv.EventDecoder
	n, ev := dec.Decode([]byte(replyVT340))
	da, ok := ev.(uv.PrimaryDeviceAttributesEvent)
	if !ok || n != len(replyVT340) {
		t.Fatalf("decode %q: got %T (%d bytes), want PrimaryDeviceAttributesEvent", replyVT340, ev, n)
	}
	if !SupportsSixel(da) {
		t.Errorf("decoded %v: sixel not seen", da)
	}
	const cellReply = "\x1b[6;17;8t"
	n, ev = dec.Decode([]byte(cellReply))
	cs, ok := ev.(uv.CellSizeEvent)
	if !ok || n != len(cellReply) || cs.Width != 8 || cs.Height != 17 {
		t.Fatalf("decode cell size: got %T %+v (%d bytes)", ev, ev, n)
	}
}

func TestParseCellSizeReply(t *testing.T) {
	got, err := ParseCellSizeReply("\x1b[6;17;8t")
	if err != nil {
		t.Fatal(err)
	}
	if got != (CellSize{W: 8, H: 17}) {
		t.Errorf("got %+v, want W=8 H=17 (reply is height first)", got)
	}
	for _, bad := range []string{"\x1b[4;600;800t", "\x1b[6;0;8t", "\x1b[6;17t", "6;17;8t", "\x1b[6;17;8"} {
		if c, err := ParseCellSizeReply(bad); err == nil {
			t.Errorf("ParseCellSizeReply(%q) = %+v, want error", bad, c)
		}
	}
}

func TestCellSizeFromWinsize(t *testing.T) {
	// 140x45 cells of 8x17 px, as the xterm in tools/xterm_shot.sh reports.
	c, ok := CellSizeFromWinsize(140, 45, 1120, 765)
	if !ok || c != (CellSize{W: 8, H: 17}) {
		t.Errorf("got %+v %v, want 8x17", c, ok)
	}
	for _, bad := range [][4]int{{80, 24, 0, 0}, {0, 24, 800, 480}, {80, 24, 40, 480}} {
		if c, ok := CellSizeFromWinsize(bad[0], bad[1], bad[2], bad[3]); ok {
			t.Errorf("%v: got %+v, want not ok", bad, c)
		}
	}
}

func env(m map[string]string) Env { return EnvFrom(func(k string) string { return m[k] }) }

func TestDecide(t *testing.T) {
	vt340, _ := ParseDA1(replyVT340)
	xterm, _ := ParseDA1(replyXterm)
	tmux, _ := ParseDA1(replyTmux)
	cases := []struct {
		name string
		env  map[string]string
		r    Reply
		want Mode
		err  bool
	}{
		{"vt340", map[string]string{"TERM": "xterm"}, Reply{DA1: vt340}, Sixel, false},
		{"xterm", map[string]string{"TERM": "xterm-256color"}, Reply{DA1: xterm}, HalfBlock, false},
		{"tmux", map[string]string{"TERM": "tmux-256color", "TMUX": "/tmp/tmux-0/default,1,0"}, Reply{DA1: tmux}, HalfBlock, false},
		{"tmux with sixel", map[string]string{"TMUX": "x"}, Reply{DA1: vt340}, Sixel, false},
		{"no answer", map[string]string{"TERM": "xterm"}, Reply{}, HalfBlock, false},
		{"dumb", map[string]string{"TERM": "dumb"}, Reply{DA1: vt340}, None, false},
		{"override beats sixel reply", map[string]string{EnvVar: "halfblock"}, Reply{DA1: vt340}, HalfBlock, false},
		{"override sixel without answer", map[string]string{EnvVar: "sixel"}, Reply{}, Sixel, false},
		{"override none", map[string]string{EnvVar: " NONE "}, Reply{DA1: vt340}, None, false},
		{"override beats dumb", map[string]string{EnvVar: "sixel", "TERM": "dumb"}, Reply{}, Sixel, false},
		{"bad override", map[string]string{EnvVar: "kitty"}, Reply{DA1: vt340}, Sixel, true},
	}
	for _, c := range cases {
		d, err := Decide(env(c.env), c.r)
		if (err != nil) != c.err {
			t.Errorf("%s: err = %v, want error %v", c.name, err, c.err)
		}
		if err != nil && !strings.Contains(err.Error(), EnvVar) {
			t.Errorf("%s: error %q does not name %s", c.name, err, EnvVar)
		}
		if d.Mode != c.want {
			t.Errorf("%s: mode %v (%s), want %v", c.name, d.Mode, d.Reason, c.want)
		}
		if d.Cell != DefaultCellSize || d.CellFrom != "default" {
			t.Errorf("%s: cell %+v from %q, want default", c.name, d.Cell, d.CellFrom)
		}
	}
	d, _ := Decide(Env{}, Reply{DA1: vt340, Cell: CellSize{W: 7, H: 15}, TTYCell: CellSize{W: 8, H: 17}})
	if d.Cell != (CellSize{W: 7, H: 15}) || d.CellFrom != "terminal" {
		t.Errorf("reported cell size not preferred: %+v", d)
	}
	d, _ = Decide(Env{}, Reply{DA1: vt340, TTYCell: CellSize{W: 8, H: 17}})
	if d.Cell != (CellSize{W: 8, H: 17}) || d.CellFrom != "tty" {
		t.Errorf("tty cell size not used: %+v", d)
	}
}

func onlyCaps(t *testing.T, msgs []tea.Msg) CapsMsg {
	t.Helper()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages %v, want one CapsMsg", len(msgs), msgs)
	}
	c, ok := msgs[0].(CapsMsg)
	if !ok {
		t.Fatalf("got %T, want CapsMsg", msgs[0])
	}
	return c
}

// A terminal that never answers: the query goes out, the timeout fires,
// and the detector settles on half-block.
// noTTY stands in for a tty without pixel sizes.
func noTTY() (CellSize, bool) { return CellSize{}, false }

func TestDetectorNoAnswer(t *testing.T) {
	d := NewDetector(env(map[string]string{"TERM": "xterm"}), 5*time.Millisecond)
	d.ttyCell = noTTY
	msgs := drive.Messages(d.Init())
	var sawQuery bool
	var timeout tea.Msg
	for _, m := range msgs {
		switch m := m.(type) {
		case tea.RawMsg:
			s, _ := m.Msg.(string)
			sawQuery = strings.Contains(s, "\x1b[c") && strings.Contains(s, RequestCellSize)
		case timeoutMsg:
			timeout = m
		}
	}
	if !sawQuery {
		t.Fatalf("Init did not send the DA1 and cell-size queries: %v", msgs)
	}
	if timeout == nil {
		t.Fatalf("Init did not schedule a timeout: %v", msgs)
	}
	if d.Done() {
		t.Fatal("decided before the timeout")
	}
	c := onlyCaps(t, drive.Messages(d.Update(timeout)))
	if c.Mode != HalfBlock || c.Cell != DefaultCellSize || c.Err != nil {
		t.Errorf("no answer: got %+v, want half-block with default cell", c)
	}
	// A late answer does not flip the decision under the app's feet.
	if cmd := d.Update(uv.PrimaryDeviceAttributesEvent{63, 4}); cmd != nil {
		t.Errorf("late DA1 produced a command")
	}
}

func TestDetectorAnswer(t *testing.T) {
	d := NewDetector(env(nil), time.Hour)
	d.ttyCell = noTTY
	_ = d.Init() // the hour-long timer is never run
	if cmd := d.Update(uv.CellSizeEvent{Width: 7, Height: 15}); cmd != nil {
		t.Fatal("cell size alone should not decide")
	}
	da, _ := ParseDA1(replyVT340)
	c := onlyCaps(t, drive.Messages(d.Update(uv.PrimaryDeviceAttributesEvent(da))))
	if c.Mode != Sixel || c.Cell != (CellSize{W: 7, H: 15}) {
		t.Errorf("got %+v, want sixel 7x15", c)
	}
	// A stale timeout from the same detector changes nothing.
	if cmd := d.Update(timeoutMsg{d}); cmd != nil {
		t.Error("timeout after the answer produced a command")
	}
	// A font change re-reports the cell size.
	c = onlyCaps(t, drive.Messages(d.Update(uv.CellSizeEvent{Width: 9, Height: 18})))
	if c.Mode != Sixel || c.Cell != (CellSize{W: 9, H: 18}) {
		t.Errorf("after cell change: %+v", c)
	}
}

func TestDetectorOverrideSkipsQuery(t *testing.T) {
	d := NewDetector(env(map[string]string{EnvVar: "none"}), time.Hour)
	d.ttyCell = noTTY
	c := onlyCaps(t, drive.Messages(d.Init()))
	if c.Mode != None {
		t.Errorf("got %v, want none", c.Mode)
	}
}

// xterm refuses "CSI 16 t" by default but fills the tty's pixel size; a
// font change shows up as a resize.
func TestDetectorTTYCellSize(t *testing.T) {
	tty := CellSize{W: 8, H: 17}
	d := NewDetector(env(nil), time.Hour)
	d.ttyCell = func() (CellSize, bool) { return tty, true }
	_ = d.Init()
	c := onlyCaps(t, drive.Messages(d.Update(uv.PrimaryDeviceAttributesEvent{63, 4})))
	if c.Mode != Sixel || c.Cell != tty || c.CellFrom != "tty" {
		t.Fatalf("got %+v, want sixel with the tty's 8x17", c)
	}
	if cmd := d.Update(tea.WindowSizeMsg{Width: 140, Height: 45}); cmd != nil {
		t.Error("resize without a cell change produced a command")
	}
	tty = CellSize{W: 10, H: 21}
	c = onlyCaps(t, drive.Messages(d.Update(tea.WindowSizeMsg{Width: 112, Height: 36})))
	if c.Cell != tty {
		t.Errorf("after font change: %+v, want 10x21", c.Cell)
	}
}
