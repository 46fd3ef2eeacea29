// Command demo shows one rendered scene the way the workbench will: asks the
// terminal what it can do (DA1, cell size), paints a sixel outside Bubble
// Tea's renderer when it can, and shows the half-block fallback beside it
// for comparison.
//
//	go run ./tui/image/demo            # q quits
//	go run ./tui/image/demo -hold 3s   # quits by itself (for screenshots)
//	go run ./tui/image/demo -tick 100ms  # redraws a row under the sixel
//	go run ./tui/image/demo -photo      # the shaded "photo" domain
//	go run ./tui/image/demo -raw       # no Bubble Tea: clear, write the sixel, exit
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	imgview "github.com/lumina-workbench/lumina/tui/image"
	"github.com/lumina-workbench/lumina/tui/termcap"
)

type quitMsg struct{}

type tickMsg struct{}

type model struct {
	det     *termcap.Detector
	painter *imgview.Painter
	hb      string // half-block copy, always shown for comparison
	status  string
	w, h    int
	hold    time.Duration
	tick    time.Duration
	ticks   int
}

// tickCmd drives a counter drawn on a row under the sixel, so the renderer
// keeps redrawing that row and the painter has to keep repainting.
func (m model) tickCmd() tea.Cmd {
	if m.tick <= 0 {
		return nil
	}
	return tea.Tick(m.tick, func(time.Time) tea.Msg { return tickMsg{} })
}

var (
	sixelBox = imgview.Box{Col: 2, Row: 3, Cols: 32, Rows: 16}
	hbBox    = imgview.Box{Col: 38, Row: 3, Cols: 32, Rows: 16}
)

func (m model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.det.Init(), m.tickCmd()}
	if m.hold > 0 {
		cmds = append(cmds, tea.Tick(m.hold, func(time.Time) tea.Msg { return quitMsg{} }))
	}
	return tea.Batch(cmds...)
}

func (m model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	cmds = append(cmds, m.det.Update(msg), m.painter.Update(msg))
	switch msg := msg.(type) {
	case termcap.CapsMsg:
		m.painter.SetMode(msg.Mode, msg.Cell)
		m.status = fmt.Sprintf("mode %s (%s), cell %dx%d px from %s", msg.Mode, msg.Reason, msg.Cell.W, msg.Cell.H, msg.CellFrom)
		if msg.Err != nil {
			m.status += " (" + msg.Err.Error() + ")"
		}
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
	case tea.KeyPressMsg:
		if msg.String() == "q" || msg.String() == "ctrl+c" {
			return m, tea.Quit
		}
	case quitMsg:
		return m, tea.Quit
	case tickMsg:
		m.ticks++
		cmds = append(cmds, m.tickCmd())
	}
	m.painter.NoteFrame(m.render())
	cmds = append(cmds, m.painter.Sync())
	return m, tea.Batch(cmds...)
}

// render lays the screen out line by line: the painter's cells (blank in
// sixel mode, the picture in half-block mode) on the left, the half-block
// copy on the right, both exactly 32 cells wide.
func (m model) render() string {
	pad := func(s string, w int) string {
		s = ansi.Truncate(s, w, "")
		return s + strings.Repeat(" ", w-ansi.StringWidth(s))
	}
	gap := strings.Repeat(" ", hbBox.Col-sixelBox.Col-sixelBox.Cols)
	lines := []string{
		"lumina image demo — q quits",
		m.status,
		pad(strings.Repeat(" ", sixelBox.Col)+"painter ("+m.painter.Mode().String()+")", hbBox.Col) + "half-block fallback",
	}
	cells := strings.Split(m.painter.Cells(), "\n")
	hb := strings.Split(m.hb, "\n")
	for i := range sixelBox.Rows {
		l := strings.Repeat(" ", sixelBox.Col) + cells[i] + gap + hb[i]
		if i == 5 && m.tick > 0 {
			l += fmt.Sprintf("  redraws of this row: %d", m.ticks)
		}
		lines = append(lines, l)
	}
	for len(lines) < m.h {
		lines = append(lines, "")
	}
	if m.w > 0 {
		for i, l := range lines {
			lines[i] = pad(l, m.w)
		}
	}
	return strings.Join(lines, "\n")
}

func (m model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	return v
}

func main() {
	hold := flag.Duration("hold", 0, "quit after this long (0: wait for q)")
	tick := flag.Duration("tick", 0, "redraw a row under the image this often (0: never), to exercise repainting")
	raw := flag.Bool("raw", false, "write the sixel straight to stdout with the default cell size and exit")
	flag.Parse()

	img, err := picture()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	if *raw {
		os.Stdout.WriteString("\x1b[H\x1b[2J")
		os.Stdout.Write(imgview.SixelSequence(img, sixelBox, termcap.DefaultCellSize))
		os.Stdout.WriteString(fmt.Sprintf("\x1b[%d;1H", sixelBox.Row+sixelBox.Rows+2))
		return
	}

	p := imgview.NewPainter()
	p.SetBox(sixelBox)
	p.SetImage(img)
	m := model{
		det:     termcap.NewDetector(termcap.EnvFrom(os.Getenv), 0),
		painter: p,
		hb:      imgview.HalfBlock(img, hbBox.Cols, hbBox.Rows),
		status:  "asking the terminal…",
		hold:    *hold,
		tick:    *tick,
	}
	if _, err := tea.NewProgram(m).Run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
