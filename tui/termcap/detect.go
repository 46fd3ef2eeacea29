package termcap

import (
	"time"

	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
)

// Bubble Tea v2 decodes terminal replies itself and hands them to Update as
// ultraviolet events: a DA1 reply arrives as uv.PrimaryDeviceAttributesEvent
// and a "CSI 6 ; h ; w t" reply as uv.CellSizeEvent (neither has a tea alias
// in v2.1.1). Queries go out through tea.Raw, which writes outside the
// renderer.

// RequestCellSize asks for the cell size in pixels (XTWINOPS 16).
const RequestCellSize = "\x1b[16t"

// DefaultTimeout is how long the detector waits for the DA1 answer. Local
// terminals answer in well under a millisecond; SSH adds a round trip.
const DefaultTimeout = 1500 * time.Millisecond

// CapsMsg carries the detector's decision to the app. Err is a bad
// LUMINA_IMAGES value, for the app to show; Decision is usable regardless.
type CapsMsg struct {
	Decision
	Err error
}

// timeoutMsg fires when the terminal has had its chance to answer.
type timeoutMsg struct{ d *Detector }

// Detector asks the terminal for DA1 and its cell size and turns the
// answers, or their absence, into one CapsMsg. Feed it every message;
// it ignores the ones that are not for it.
type Detector struct {
	env     Env
	timeout time.Duration
	reply   Reply
	done    bool
	last    Decision

	// ttyCell reads the cell size from the tty; replaced in tests.
	ttyCell func() (CellSize, bool)
}

// NewDetector makes a detector; timeout <= 0 means DefaultTimeout.
func NewDetector(env Env, timeout time.Duration) *Detector {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Detector{env: env, timeout: timeout, ttyCell: ttyCellSize}
}

// probeTTY refreshes the tty cell size and reports whether it changed.
func (d *Detector) probeTTY() bool {
	c, ok := d.ttyCell()
	if !ok || c == d.reply.TTYCell {
		return false
	}
	d.reply.TTYCell = c
	return true
}

// Done reports whether a decision has been made.
func (d *Detector) Done() bool { return d.done }

// Decision returns the latest decision (valid once Done).
func (d *Detector) Decision() Decision { return d.last }

// Init sends the queries, or decides at once when the override makes the
// terminal's answer irrelevant (halfblock/none need no cell size).
func (d *Detector) Init() tea.Cmd {
	d.probeTTY()
	if m, forced, err := d.env.Override(); err == nil && forced && m != Sixel {
		return d.decide()
	}
	// The cell-size query goes first: terminals answer in order and nearly
	// all answer DA1, so by the time DA1 arrives any cell-size reply is in.
	return tea.Batch(
		tea.Raw(RequestCellSize+ansi.RequestPrimaryDeviceAttributes),
		tea.Tick(d.timeout, func(time.Time) tea.Msg { return timeoutMsg{d} }),
	)
}

// Update consumes replies and the timeout; it returns a command delivering
// a CapsMsg when the decision is made or later changes (a new cell size).
func (d *Detector) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case uv.PrimaryDeviceAttributesEvent:
		if d.done {
			return nil
		}
		// Non-nil even when empty: an answer without attributes is still
		// an answer.
		d.reply.DA1 = append([]int{}, msg...)
		return d.decide()
	case uv.CellSizeEvent:
		c := CellSize{W: msg.Width, H: msg.Height}
		if !c.Valid() || c == d.reply.Cell {
			return nil
		}
		d.reply.Cell = c
		if d.done {
			return d.decide()
		}
	case tea.WindowSizeMsg:
		// A font change resizes the window in cells: the tty's pixel size
		// follows it, and a terminal that answered "CSI 16 t" is asked again
		// (its answer comes back as a CellSizeEvent).
		var cmds []tea.Cmd
		if d.probeTTY() && d.done {
			cmds = append(cmds, d.decide())
		}
		if d.reply.Cell.Valid() {
			cmds = append(cmds, tea.Raw(RequestCellSize))
		}
		return tea.Batch(cmds...)
	case timeoutMsg:
		if msg.d == d && !d.done {
			return d.decide()
		}
	}
	return nil
}

func (d *Detector) decide() tea.Cmd {
	dec, err := Decide(d.env, d.reply)
	d.done, d.last = true, dec
	return func() tea.Msg { return CapsMsg{Decision: dec, Err: err} }
}
