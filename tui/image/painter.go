package imgview

import (
	"hash/fnv"
	"image"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/tui/termcap"
)

// Paint timing. Bubble Tea writes raw output just before each frame (60 fps
// by default), so a sixel written in the same tick as a frame that redraws
// the box's rows would be wiped by that frame. The Painter therefore paints
// only once the wanted state has been quiet for DefaultPaintDelay (a few
// frames, so the last change's frame is already out), which also folds a
// burst of resizes into one paint. When the rows under the image never go
// quiet (a live loss readout), it paints anyway after DefaultPaintMaxWait
// and then once more when things settle.
const (
	DefaultPaintDelay   = 50 * time.Millisecond
	DefaultPaintMaxWait = 250 * time.Millisecond
)

// PaintMsg tells the Painter that its delay is over; pass it back through
// Painter.Update.
type PaintMsg struct {
	p     *Painter
	token uint64
}

// state is everything that decides what the sixel on screen looks like and
// whether it is still there.
type state struct {
	box    Box // clipped to the screen
	img    uint64
	pw, ph int // scaled image size in pixels
	cell   termcap.CellSize
	screen [2]int
	gen    uint64
}

// Painter keeps one image on screen in the terminal's image mode. In sixel
// mode it paints outside the renderer (through tea.Raw) and repaints after a
// resize, a move, a new image, a new cell size, or a redraw of the rows
// under the image; in half-block mode the image lives in View() through
// Cells() and the Painter writes nothing.
//
// Use, from the app's Update (alternate screen required):
//
//	p.Update(msg)             // sees WindowSizeMsg and PaintMsg
//	p.SetMode(dec.Mode, dec.Cell)  // on termcap.CapsMsg
//	p.SetImage(img); p.SetBox(b)
//	p.NoteFrame(m.render())   // or p.Invalidate() when the rows were redrawn
//	return m, tea.Batch(cmd, p.Sync())
//
// and in View() put p.Cells() where the box is.
type Painter struct {
	// Delay is how long the state must be quiet before painting, MaxWait
	// the longest a paint waits for quiet; zero means the defaults.
	Delay, MaxWait time.Duration

	mode   termcap.Mode
	cell   termcap.CellSize
	screen [2]int

	img    image.Image
	imgSum uint64
	box    Box

	gen      uint64 // bumped by Invalidate
	frameSum uint64 // hash of the frame lines under the box

	painted  state // what the terminal shows, valid when onScreen
	onScreen bool

	lastWant     state     // the wanted state Sync saw last
	lastChange   time.Time // when it last changed
	pending      bool      // a PaintMsg is on its way
	pendingSince time.Time
	token        uint64 // identifies the live PaintMsg; older ones are ignored

	now func() time.Time // the clock; replaced in tests

	cells     string // cached Cells() result
	cellsKey  [4]uint64
	cellsMemo bool
}

// NewPainter makes a painter in half-block mode with the default cell size
// (a zero Painter works too, but paints nothing until SetMode gives it a
// cell size).
func NewPainter() *Painter {
	return &Painter{cell: termcap.DefaultCellSize, now: time.Now}
}

func (p *Painter) clock() time.Time {
	if p.now == nil { // a zero Painter
		return time.Now()
	}
	return p.now()
}

func (p *Painter) delays() (quiet, maxWait time.Duration) {
	quiet, maxWait = p.Delay, p.MaxWait
	if quiet <= 0 {
		quiet = DefaultPaintDelay
	}
	if maxWait <= 0 {
		maxWait = DefaultPaintMaxWait
	}
	return quiet, max(quiet, maxWait)
}

// tick schedules the live PaintMsg after d.
func (p *Painter) tick(d time.Duration) tea.Cmd {
	msg := PaintMsg{p: p, token: p.token}
	return tea.Tick(d, func(time.Time) tea.Msg { return msg })
}

// Mode is the current image mode.
func (p *Painter) Mode() termcap.Mode { return p.mode }

// SetMode sets the image mode and cell size (from termcap.CapsMsg); an
// invalid cell size keeps the previous one.
func (p *Painter) SetMode(m termcap.Mode, cell termcap.CellSize) {
	p.mode = m
	if cell.Valid() {
		p.cell = cell
	}
}

// SetImage sets the image to show; nil removes it. The image is hashed, so
// setting the same picture again (even a fresh copy) causes no repaint, and
// changing pixels in place does, once SetImage is called again.
func (p *Painter) SetImage(img image.Image) {
	if img == nil || img.Bounds().Empty() {
		p.img, p.imgSum = nil, 0
		return
	}
	p.img, p.imgSum = img, imageSum(img)
}

// SetBox sets the box of cells the image occupies.
func (p *Painter) SetBox(b Box) { p.box = b }

// Box is the box last set.
func (p *Painter) Box() Box { return p.box }

// Invalidate says the rows under the image were redrawn (or the screen was
// cleared), so the sixel is gone and must be painted again.
func (p *Painter) Invalidate() { p.gen++ }

// NoteFrame looks at the frame the app is about to show (its View content)
// and invalidates when any line the box spans differs from last time. Whole
// lines count, not just the box's columns, because the renderer may clear a
// line to its end when something left of the box changes.
func (p *Painter) NoteFrame(frame string) {
	h := fnv.New64a()
	lines := strings.Split(frame, "\n")
	for r := p.box.Row; r < p.box.Row+p.box.Rows && r < len(lines); r++ {
		if r < 0 {
			continue
		}
		h.Write([]byte(lines[r]))
		h.Write([]byte{'\n'})
	}
	if s := h.Sum64(); s != p.frameSum {
		p.frameSum = s
		p.Invalidate()
	}
}

// Update handles the messages the Painter cares about: tea.WindowSizeMsg
// (after which the renderer redraws everything, wiping the sixel) and its
// own PaintMsg, for which it returns the command that writes the sixel.
func (p *Painter) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		p.screen = [2]int{msg.Width, msg.Height}
	case PaintMsg:
		if msg.p != p || msg.token != p.token || !p.pending {
			return nil
		}
		want, ok := p.want()
		if !ok || (p.onScreen && want == p.painted) {
			p.pending = false
			return nil
		}
		now := p.clock()
		if want != p.lastWant { // changed without a Sync since
			p.lastWant, p.lastChange = want, now
		}
		quiet, maxWait := p.delays()
		calm := now.Sub(p.lastChange)
		if calm < quiet && now.Sub(p.pendingSince) < maxWait {
			return p.tick(quiet - calm)
		}
		p.pending = false
		seq := SixelSequence(p.img, want.box, want.cell)
		if seq == nil {
			return nil
		}
		p.painted, p.onScreen = want, true
		if calm < quiet {
			// Painted while the rows were still changing: the frame of the
			// latest change may land on top of it, so ask for one more
			// paint once things are quiet.
			p.painted.gen = ^want.gen
		}
		return tea.Raw(string(seq))
	}
	return nil
}

// PaintBytes is what the Painter would write for the current state, or nil
// when there is nothing to paint: the app can use it outside Bubble Tea.
func (p *Painter) PaintBytes() []byte {
	want, ok := p.want()
	if !ok {
		return nil
	}
	return SixelSequence(p.img, want.box, want.cell)
}

// want is the state the screen should be in, and whether a sixel should be
// on it at all.
func (p *Painter) want() (state, bool) {
	if p.mode != termcap.Sixel || p.img == nil || p.screen[0] <= 0 || p.screen[1] <= 0 {
		return state{}, false
	}
	b := p.box
	// A sixel that reaches the last screen line makes the terminal scroll
	// when the cursor steps below it, which would shift the whole TUI; keep
	// clear of the last line and of the right edge.
	b.Cols = min(b.Cols, p.screen[0]-b.Col)
	b.Rows = min(b.Rows, p.screen[1]-1-b.Row)
	if b.Empty() {
		return state{}, false
	}
	w, h := b.PixelSize(p.cell)
	ib := p.img.Bounds()
	pw, ph := fitSize(ib.Dx(), ib.Dy(), w, h)
	if pw == 0 || ph == 0 {
		return state{}, false
	}
	return state{box: b, img: p.imgSum, pw: pw, ph: ph, cell: p.cell, screen: p.screen, gen: p.gen}, true
}

// Sync compares what should be on screen with what was painted and returns
// the commands that get there: a delayed PaintMsg when a sixel must be
// (re)painted (see DefaultPaintDelay for the timing), and a full-screen redraw (tea.ClearScreen) when pixels of
// the old sixel would otherwise stay behind — image removed, box moved,
// or the new image covers less than the old one. Call it at the end of
// every Update; it returns nil when nothing needs doing.
func (p *Painter) Sync() tea.Cmd {
	want, ok := p.want()
	if want != p.lastWant {
		p.lastWant, p.lastChange = want, p.clock()
	}
	var cmds []tea.Cmd
	if p.onScreen {
		// After a resize the renderer erases the screen itself.
		resized := ok && want.screen != p.painted.screen
		if !ok || (!resized && !covers(want, p.painted)) {
			cmds = append(cmds, tea.ClearScreen)
			// The redraw wipes the old sixel.
			p.onScreen = false
		}
	}
	switch {
	case !ok:
		p.pending = false
	case p.pending:
		// The paint on its way will pick up the latest state.
	case !p.onScreen || want != p.painted:
		p.token++
		p.pending, p.pendingSince = true, p.clock()
		quiet, _ := p.delays()
		cmds = append(cmds, p.tick(quiet))
	}
	return tea.Batch(cmds...)
}

// covers reports whether painting a leaves no pixel of b visible: same top
// left corner and at least as large in both directions.
func covers(a, b state) bool {
	if a.box.Col != b.box.Col || a.box.Row != b.box.Row || a.cell != b.cell {
		return false
	}
	return a.pw >= b.pw && a.ph >= b.ph
}

// Cells is what the app puts in View() at the box: in half-block mode the
// image itself, otherwise blank cells the sixel is painted over (sixel) or
// that simply stay empty (none). Always exactly Rows lines of Cols cells.
func (p *Painter) Cells() string {
	b := p.box
	if b.Cols <= 0 || b.Rows <= 0 {
		return ""
	}
	key := [4]uint64{uint64(p.mode), p.imgSum, uint64(b.Cols), uint64(b.Rows)}
	if p.cellsMemo && key == p.cellsKey {
		return p.cells
	}
	var s string
	if p.mode == termcap.HalfBlock && p.img != nil {
		s = HalfBlock(p.img, b.Cols, b.Rows)
	} else {
		s = strings.TrimSuffix(strings.Repeat(strings.Repeat(" ", b.Cols)+"\n", b.Rows), "\n")
	}
	p.cells, p.cellsKey, p.cellsMemo = s, key, true
	return s
}

// imageSum hashes an image's size and pixels (as 8-bit RGBA).
func imageSum(img image.Image) uint64 {
	rgba := toRGBA(img)
	h := fnv.New64a()
	var dims [8]byte
	w, ht := rgba.Rect.Dx(), rgba.Rect.Dy()
	for i := range 4 {
		dims[i], dims[4+i] = byte(w>>(8*i)), byte(ht>>(8*i))
	}
	h.Write(dims[:])
	for y := range ht {
		h.Write(rgba.Pix[y*rgba.Stride : y*rgba.Stride+4*w])
	}
	return h.Sum64()
}
