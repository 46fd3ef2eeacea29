// Package termcap decides how the TUI may draw images: sixel graphics when
// the terminal says it can, a half-block true-colour fallback otherwise, or
// nothing at all. It parses the terminal's replies to the primary
// device-attributes query (DA1) and the cell-size query (XTWINOPS 16), and
// offers a Bubble Tea detector that asks both and settles on a decision.
package termcap

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Mode is how images are drawn.
type Mode int

const (
	// HalfBlock draws two pixels per cell with "▀" and true-colour SGR; it is
	// the zero value because it works nearly everywhere.
	HalfBlock Mode = iota
	// Sixel paints DEC sixel graphics outside the renderer.
	Sixel
	// None draws no images (dumb terminals, or the user asked for none).
	None
)

func (m Mode) String() string {
	switch m {
	case HalfBlock:
		return "halfblock"
	case Sixel:
		return "sixel"
	case None:
		return "none"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// EnvVar is the environment override; it beats every other signal.
const EnvVar = "LUMINA_IMAGES"

// ParseMode reads a mode name as written in LUMINA_IMAGES.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "sixel":
		return Sixel, nil
	case "halfblock", "half-block":
		return HalfBlock, nil
	case "none", "off":
		return None, nil
	}
	return HalfBlock, fmt.Errorf("%s=%q: want sixel, halfblock or none", EnvVar, s)
}

// CellSize is the size of one character cell in pixels.
type CellSize struct {
	W, H int
}

// DefaultCellSize is assumed when the terminal does not report its cell size;
// 10×20 is typical of a 10–11 pt monospace font.
var DefaultCellSize = CellSize{W: 10, H: 20}

// Valid reports whether both sides are positive.
func (c CellSize) Valid() bool { return c.W > 0 && c.H > 0 }

// ParseDA1 parses a primary device-attributes reply, "CSI ? Ps ; ... c",
// into its parameters (the first one is the terminal class, e.g. 62–65, or 1
// for a VT100 such as tmux and screen report). Surrounding bytes are not
// allowed: the caller hands over one reply.
func ParseDA1(reply string) ([]int, error) {
	body, ok := strings.CutPrefix(reply, "\x1b[?")
	if !ok {
		// 8-bit CSI, which some terminals use when asked to.
		body, ok = strings.CutPrefix(reply, "\x9b?")
	}
	if !ok {
		return nil, fmt.Errorf("DA1 reply %q: does not start with CSI ?", reply)
	}
	body, ok = strings.CutSuffix(body, "c")
	if !ok {
		return nil, fmt.Errorf("DA1 reply %q: does not end with c", reply)
	}
	params, err := parseParams(body)
	if err != nil {
		return nil, fmt.Errorf("DA1 reply %q: %w", reply, err)
	}
	if len(params) == 0 {
		return nil, fmt.Errorf("DA1 reply %q: no parameters", reply)
	}
	return params, nil
}

// SupportsSixel reports whether DA1 parameters announce sixel graphics
// (attribute 4). The first parameter is the terminal class, not an
// attribute: a VT132 answers "CSI ? 4 ; 6 c" and has no sixel.
func SupportsSixel(da1 []int) bool {
	return len(da1) > 1 && slices.Contains(da1[1:], 4)
}

// ParseCellSizeReply parses the reply to "CSI 16 t", which is
// "CSI 6 ; height ; width t" (height first, as xterm sends it).
func ParseCellSizeReply(reply string) (CellSize, error) {
	body, ok := strings.CutPrefix(reply, "\x1b[")
	if !ok {
		return CellSize{}, fmt.Errorf("cell size reply %q: does not start with CSI", reply)
	}
	body, ok = strings.CutSuffix(body, "t")
	if !ok {
		return CellSize{}, fmt.Errorf("cell size reply %q: does not end with t", reply)
	}
	p, err := parseParams(body)
	if err != nil {
		return CellSize{}, fmt.Errorf("cell size reply %q: %w", reply, err)
	}
	if len(p) != 3 || p[0] != 6 {
		return CellSize{}, fmt.Errorf("cell size reply %q: want 6;height;width", reply)
	}
	c := CellSize{W: p[2], H: p[1]}
	if !c.Valid() {
		return CellSize{}, fmt.Errorf("cell size reply %q: non-positive size %dx%d", reply, c.W, c.H)
	}
	return c, nil
}

// CellSizeFromWinsize derives the cell size from a window size in cells and
// pixels (TIOCGWINSZ's ws_col, ws_row, ws_xpixel, ws_ypixel); false when
// the pixel fields are unset, as many terminals leave them.
func CellSizeFromWinsize(cols, rows, xpixel, ypixel int) (CellSize, bool) {
	if cols <= 0 || rows <= 0 || xpixel <= 0 || ypixel <= 0 {
		return CellSize{}, false
	}
	c := CellSize{W: xpixel / cols, H: ypixel / rows}
	return c, c.Valid()
}

// parseParams splits "1;2;;4" into numbers; an empty parameter is 0, as in
// ECMA-48.
func parseParams(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ";")
	out := make([]int, len(parts))
	for i, p := range parts {
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("parameter %d %q is not a non-negative number", i+1, p)
		}
		out[i] = n
	}
	return out, nil
}

// Env holds the environment the decision looks at.
type Env struct {
	Images string // LUMINA_IMAGES
	Term   string // TERM
	TMUX   string // TMUX, set inside tmux
	STY    string // STY, set inside GNU screen
}

// EnvFrom reads the decision's environment through getenv (os.Getenv in the
// app, a map in tests).
func EnvFrom(getenv func(string) string) Env {
	return Env{Images: getenv(EnvVar), Term: getenv("TERM"), TMUX: getenv("TMUX"), STY: getenv("STY")}
}

// Reply is what the terminal answered; DA1 is nil when it did not answer
// within the timeout.
type Reply struct {
	DA1  []int
	Cell CellSize // from "CSI 16 t"; zero when the terminal did not report it
	// TTYCell is the cell size from the tty's window size in pixels, used
	// when the terminal does not answer "CSI 16 t"; zero when unknown.
	TTYCell CellSize
}

// Decision is the outcome, with a human-readable reason for the status bar
// and logs.
type Decision struct {
	Mode     Mode
	Cell     CellSize
	CellFrom string // "terminal", "tty" or "default"
	Reason   string
}

// Override returns the mode forced by LUMINA_IMAGES, if any. A bad value is
// an error (the caller shows it and carries on with the detected mode).
func (e Env) Override() (Mode, bool, error) {
	if strings.TrimSpace(e.Images) == "" {
		return 0, false, nil
	}
	m, err := ParseMode(e.Images)
	if err != nil {
		return 0, false, err
	}
	return m, true, nil
}

// Decide picks the image mode and cell size. The cell size is the
// terminal's "CSI 16 t" answer, else the tty's pixel size, else
// DefaultCellSize. Mode order: the LUMINA_IMAGES override; TERM=dumb
// → none; no DA1 answer → half-block; DA1 attribute 4 → sixel; otherwise
// half-block. Inside tmux or screen the DA1 answer comes from the
// multiplexer, not the outer terminal, so it is exactly the right judge of
// whether sixel will get through; the hint only explains the fallback.
// The error reports a bad override; the returned Decision is still usable.
func Decide(env Env, r Reply) (Decision, error) {
	d := Decision{Cell: DefaultCellSize, CellFrom: "default"}
	switch {
	case r.Cell.Valid():
		d.Cell, d.CellFrom = r.Cell, "terminal"
	case r.TTYCell.Valid():
		d.Cell, d.CellFrom = r.TTYCell, "tty"
	}
	m, forced, err := env.Override()
	if forced {
		d.Mode, d.Reason = m, EnvVar+"="+m.String()
		return d, nil
	}
	switch {
	case env.Term == "dumb":
		d.Mode, d.Reason = None, "TERM=dumb"
	case r.DA1 == nil:
		d.Mode, d.Reason = HalfBlock, "no answer to the device-attributes query"
	case SupportsSixel(r.DA1):
		d.Mode, d.Reason = Sixel, "terminal reports sixel (DA1 attribute 4)"
	case env.TMUX != "":
		d.Mode, d.Reason = HalfBlock, "inside tmux without sixel support"
	case env.STY != "":
		d.Mode, d.Reason = HalfBlock, "inside GNU screen (no sixel)"
	default:
		d.Mode, d.Reason = HalfBlock, "terminal does not report sixel"
	}
	return d, err
}
