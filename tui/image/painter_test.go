package imgview

import (
	"image"
	"image/color"
	"strings"
	"testing"
	"time"

	"github.com/lumina-workbench/lumina/tui/internal/drive"

	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/tui/termcap"
)

// outcome sorts a Sync result into what the app would see.
type outcome struct {
	clear bool
	paint *PaintMsg
}

func sync(t *testing.T, p *Painter) outcome {
	t.Helper()
	var o outcome
	for _, m := range drive.Messages(p.Sync()) {
		switch m := m.(type) {
		case PaintMsg:
			if o.paint != nil {
				t.Fatal("two paints scheduled at once")
			}
			o.paint = &m
		default:
			if m != tea.ClearScreen() {
				t.Fatalf("unexpected message %T %v", m, m)
			}
			o.clear = true
		}
	}
	return o
}

// deliver hands a PaintMsg to the painter and sorts the result: the bytes
// written, or the PaintMsg it rescheduled while waiting for quiet.
func deliver(t *testing.T, p *Painter, m PaintMsg) (raw []byte, again *PaintMsg) {
	t.Helper()
	msgs := drive.Messages(p.Update(m))
	if len(msgs) == 0 {
		return nil, nil
	}
	if len(msgs) != 1 {
		t.Fatalf("paint produced %v, want one message", msgs)
	}
	switch m := msgs[0].(type) {
	case tea.RawMsg:
		return []byte(m.Msg.(string)), nil
	case PaintMsg:
		return nil, &m
	}
	t.Fatalf("paint produced %T", msgs[0])
	return nil, nil
}

// paint delivers a PaintMsg that is expected to paint (or do nothing).
func paint(t *testing.T, p *Painter, m PaintMsg) []byte {
	t.Helper()
	raw, again := deliver(t, p, m)
	if again != nil {
		t.Fatal("paint was postponed, want it painted")
	}
	return raw
}

// clock is a hand-driven clock for the painter's quiet rule.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func testImage(c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	img.SetRGBA(0, 0, white) // not a flat colour
	return img
}

// newSixelPainter has a clock that jumps an hour on every reading, so every
// state is long quiet by the time its paint arrives.
func newSixelPainter(t *testing.T) *Painter {
	p := NewPainter()
	p.Delay, p.MaxWait = time.Millisecond, time.Millisecond
	c := &clock{}
	p.now = func() time.Time { c.advance(time.Hour); return c.t }
	p.SetMode(termcap.Sixel, termcap.CellSize{W: 8, H: 16})
	p.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	p.SetBox(Box{Col: 10, Row: 2, Cols: 8, Rows: 4})
	return p
}

func TestPainterPaintsAndSettles(t *testing.T) {
	p := newSixelPainter(t)
	img := testImage(red)
	p.SetImage(img)
	o := sync(t, p)
	if o.clear || o.paint == nil {
		t.Fatalf("first sync: %+v, want a paint and no clear", o)
	}
	got := paint(t, p, *o.paint)
	want := SixelSequence(img, Box{Col: 10, Row: 2, Cols: 8, Rows: 4}, termcap.CellSize{W: 8, H: 16})
	if string(got) != string(want) || len(want) == 0 {
		t.Fatalf("painted %q, want %q", got, want)
	}
	if o := sync(t, p); o.clear || o.paint != nil {
		t.Errorf("nothing changed but sync gave %+v", o)
	}
	// The same picture again, even as a copy, is not a change.
	cp := image.NewRGBA(img.Rect)
	copy(cp.Pix, img.Pix)
	p.SetImage(cp)
	if o := sync(t, p); o.clear || o.paint != nil {
		t.Errorf("same image again: %+v", o)
	}
}

func TestPainterRepaintTriggers(t *testing.T) {
	settle := func(p *Painter) {
		if o := sync(t, p); o.paint != nil {
			paint(t, p, *o.paint)
		}
	}
	cases := []struct {
		name   string
		change func(p *Painter)
		clear  bool
	}{
		{"resize", func(p *Painter) { p.Update(tea.WindowSizeMsg{Width: 100, Height: 30}) }, false},
		{"invalidate", func(p *Painter) { p.Invalidate() }, false},
		{"new image same size", func(p *Painter) { p.SetImage(testImage(blue)) }, false},
		{"bigger box same corner", func(p *Painter) { p.SetBox(Box{Col: 10, Row: 2, Cols: 16, Rows: 8}) }, false},
		{"box moved", func(p *Painter) { p.SetBox(Box{Col: 11, Row: 2, Cols: 8, Rows: 4}) }, true},
		{"box shrunk", func(p *Painter) { p.SetBox(Box{Col: 10, Row: 2, Cols: 4, Rows: 2}) }, true},
		{"cell size changed", func(p *Painter) { p.SetMode(termcap.Sixel, termcap.CellSize{W: 10, H: 20}) }, true},
	}
	for _, c := range cases {
		p := newSixelPainter(t)
		p.SetImage(testImage(red))
		settle(p)
		c.change(p)
		o := sync(t, p)
		if o.paint == nil || o.clear != c.clear {
			t.Errorf("%s: got clear=%v paint=%v, want clear=%v and a paint", c.name, o.clear, o.paint != nil, c.clear)
			continue
		}
		if got := paint(t, p, *o.paint); string(got) != string(p.PaintBytes()) {
			t.Errorf("%s: painted bytes differ from PaintBytes", c.name)
		}
	}
}

func TestPainterNoteFrame(t *testing.T) {
	p := newSixelPainter(t)
	p.SetImage(testImage(red))
	frame := func(lines map[int]string) string {
		ls := make([]string, 24)
		for i, s := range lines {
			ls[i] = s
		}
		return strings.Join(ls, "\n")
	}
	p.NoteFrame(frame(map[int]string{0: "title"}))
	paint(t, p, *sync(t, p).paint)

	p.NoteFrame(frame(map[int]string{0: "title changed"})) // row 0 is above the box
	if o := sync(t, p); o.paint != nil {
		t.Error("a change above the box caused a repaint")
	}
	p.NoteFrame(frame(map[int]string{0: "title changed", 3: "loss 0.12"})) // row 3 is under it
	o := sync(t, p)
	if o.paint == nil || o.clear {
		t.Fatalf("a change on a row under the box: %+v, want a paint", o)
	}
	paint(t, p, *o.paint)
	p.NoteFrame(frame(map[int]string{0: "title changed", 3: "loss 0.12"}))
	if o := sync(t, p); o.paint != nil {
		t.Error("an unchanged frame caused a repaint")
	}
}

func TestPainterRemoveAndModes(t *testing.T) {
	p := newSixelPainter(t)
	p.SetImage(testImage(red))
	paint(t, p, *sync(t, p).paint)

	p.SetImage(nil)
	o := sync(t, p)
	if !o.clear || o.paint != nil {
		t.Fatalf("image removed: %+v, want a clear only", o)
	}
	if o := sync(t, p); o.clear || o.paint != nil {
		t.Errorf("second sync after removal: %+v", o)
	}

	// Leaving sixel mode clears what was painted; half-block writes nothing.
	p.SetImage(testImage(red))
	paint(t, p, *sync(t, p).paint)
	p.SetMode(termcap.HalfBlock, termcap.CellSize{})
	if o := sync(t, p); !o.clear || o.paint != nil {
		t.Errorf("switch to half-block: %+v, want a clear only", o)
	}
	p.Invalidate()
	if o := sync(t, p); o.clear || o.paint != nil {
		t.Errorf("half-block mode wrote something: %+v", o)
	}
	if got, want := p.Cells(), HalfBlock(testImage(red), 8, 4); got != want {
		t.Errorf("half-block Cells() = %q, want %q", got, want)
	}
	p.SetMode(termcap.Sixel, termcap.CellSize{})
	if got := p.Cells(); got != strings.Repeat("        \n", 3)+"        " {
		t.Errorf("sixel Cells() = %q, want 4 lines of 8 spaces", got)
	}
}

func TestPainterOnePaintInFlight(t *testing.T) {
	p := newSixelPainter(t)
	p.SetImage(testImage(red))
	first := sync(t, p).paint
	p.SetImage(testImage(blue))
	if o := sync(t, p); first == nil || o.paint != nil {
		t.Fatalf("want one paint in flight, got %v then %+v", first, o)
	}
	// The paint in flight paints the latest image.
	blueSeq := SixelSequence(testImage(blue), p.Box(), termcap.CellSize{W: 8, H: 16})
	if got := paint(t, p, *first); string(got) != string(blueSeq) {
		t.Error("the paint in flight did not paint the latest image")
	}

	// Removal cancels the paint in flight; a later paint has a new token.
	p.SetImage(testImage(red))
	stale := sync(t, p).paint
	p.SetImage(nil)
	sync(t, p)
	p.SetImage(testImage(green))
	fresh := sync(t, p).paint
	if stale == nil || fresh == nil {
		t.Fatal("expected two scheduled paints")
	}
	if got := paint(t, p, *stale); got != nil {
		t.Error("a cancelled paint wrote bytes")
	}
	if got := paint(t, p, *fresh); len(got) == 0 {
		t.Error("the fresh paint wrote nothing")
	}
	// A PaintMsg from another painter is not ours.
	other := newSixelPainter(t)
	other.SetImage(testImage(red))
	if got := paint(t, p, *sync(t, other).paint); got != nil {
		t.Error("painted on another painter's message")
	}
}

// The paint waits until the wanted state has been quiet for Delay, but no
// longer than MaxWait; a paint forced while the rows were still changing
// is followed by one more once they settle.
func TestPainterQuietRule(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	p := NewPainter()
	p.now = c.now
	p.Delay, p.MaxWait = 2*time.Millisecond, 10*time.Millisecond
	p.SetMode(termcap.Sixel, termcap.CellSize{W: 8, H: 16})
	p.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	p.SetBox(Box{Col: 10, Row: 2, Cols: 8, Rows: 4})
	p.SetImage(testImage(red))

	m := sync(t, p).paint
	c.advance(time.Millisecond)
	raw, again := deliver(t, p, *m)
	if raw != nil || again == nil {
		t.Fatalf("1 ms after the change: painted=%v rescheduled=%v, want it to wait", raw != nil, again != nil)
	}
	c.advance(2 * time.Millisecond)
	if raw := paint(t, p, *again); len(raw) == 0 {
		t.Fatal("3 ms after the change: no paint")
	}

	// A row under the image changes every millisecond.
	frame := func(i int) string { return strings.Repeat("\n", 3) + strings.Repeat("x", i) }
	i := 0
	step := func() {
		i++
		c.advance(time.Millisecond)
		p.NoteFrame(frame(i))
	}
	step()
	m = sync(t, p).paint
	if m == nil {
		t.Fatal("no paint after the rows changed")
	}
	var forcedAt int
	for raw == nil || forcedAt == 0 {
		step()
		if o := sync(t, p); o.paint != nil || o.clear {
			t.Fatalf("step %d: a second paint in flight or a clear: %+v", i, o)
		}
		raw, again = deliver(t, p, *m)
		if raw != nil {
			forcedAt = i
			break
		}
		if again == nil {
			t.Fatalf("step %d: paint dropped", i)
		}
		m = again
		if i > 50 {
			t.Fatal("never painted while the rows kept changing")
		}
	}
	// Scheduled at step 1, forced once 10 ms had passed.
	if forcedAt != 11 {
		t.Errorf("forced paint at step %d, want 11", forcedAt)
	}
	// Quiet from here on: the forced paint is confirmed by one more.
	m = sync(t, p).paint
	if m == nil {
		t.Fatal("no confirming paint after a forced one")
	}
	c.advance(5 * time.Millisecond)
	if raw := paint(t, p, *m); len(raw) == 0 {
		t.Fatal("confirming paint wrote nothing")
	}
	if o := sync(t, p); o.paint != nil {
		t.Error("still painting after the confirming paint")
	}
}

// A box reaching the last screen line is clipped so the terminal never
// scrolls after the sixel.
func TestPainterClipsToScreen(t *testing.T) {
	p := newSixelPainter(t)
	p.Update(tea.WindowSizeMsg{Width: 40, Height: 10})
	p.SetBox(Box{Col: 30, Row: 4, Cols: 20, Rows: 6})
	p.SetImage(testImage(red))
	want := SixelSequence(testImage(red), Box{Col: 30, Row: 4, Cols: 10, Rows: 5}, termcap.CellSize{W: 8, H: 16})
	if got := paint(t, p, *sync(t, p).paint); string(got) != string(want) {
		t.Errorf("clipped paint:\n got %q\nwant %q", got, want)
	}
	// No window size yet: nothing is painted.
	q := NewPainter()
	q.SetMode(termcap.Sixel, termcap.DefaultCellSize)
	q.SetBox(Box{Cols: 4, Rows: 4})
	q.SetImage(testImage(red))
	if o := sync(t, q); o.paint != nil || q.PaintBytes() != nil {
		t.Error("painted before knowing the screen size")
	}
}
