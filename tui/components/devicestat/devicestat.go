// Package devicestat is the status line's device segment: the GPU the model runs on, its memory in use
// and its utilisation, polled every few seconds from a tea.Cmd.
package devicestat

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/lumina-workbench/lumina/internal/device"
	"github.com/lumina-workbench/lumina/tui/backend"
	"github.com/lumina-workbench/lumina/tui/common"
)

// Interval is how often the device is asked.
const Interval = 2 * time.Second

// statsMsg is one answer of the monitor; gen tells the polls of one Model apart from another's.
type statsMsg struct {
	stats device.Stats
	err   error
	gen   *Model
}

// Model is the segment.
type Model struct {
	common common.Common
	mon    backend.DeviceMonitor
	stats  device.Stats
	err    error
	known  bool
}

// New makes the segment for mon (nil: no device, an empty segment).
func New(c common.Common, mon backend.DeviceMonitor) *Model { return &Model{common: c, mon: mon} }

// Init asks the device at once.
func (m *Model) Init() tea.Cmd { return m.poll() }

func (m *Model) poll() tea.Cmd {
	if m.mon == nil {
		return nil
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), Interval)
		defer cancel()
		s, err := m.mon.Stats(ctx)
		return statsMsg{stats: s, err: err, gen: m}
	}
}

// Update takes an answer and schedules the next question.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	sm, ok := msg.(statsMsg)
	if !ok || sm.gen != m {
		return nil
	}
	m.stats, m.err, m.known = sm.stats, sm.err, true
	return tea.Tick(Interval, func(time.Time) tea.Msg { return m.poll()() })
}

// View is the segment, at most maxWidth cells (cut with an ellipsis), "" without a device.
func (m *Model) View(maxWidth int) string {
	if m.mon == nil || maxWidth <= 0 {
		return ""
	}
	st := m.common.Styles
	var s string
	switch {
	case !m.known:
		return st.Dim.Render(ansi.Truncate("device…", maxWidth, "…"))
	case m.err != nil:
		s = m.stats.Device.String() + ": " + m.err.Error()
		return st.Warn.Render(ansi.Truncate(s, maxWidth, "…"))
	default:
		// The name goes first when the width is short: the memory and the load are what change.
		s = m.stats.String()
		if ansi.StringWidth(s) > maxWidth {
			s = m.stats.Short()
		}
	}
	return st.Dim.Render(ansi.Truncate(s, maxWidth, "…"))
}
