// Package imagebox reserves a box of cells for an image inside View(): in half-block mode it draws the
// image there (imgview.HalfBlock), in sixel mode it leaves the cells blank for the painter, which
// paints outside the renderer, and with images off it says so.
package imagebox

import (
	"fmt"
	"image"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/lumina-workbench/lumina/tui/common"
	imgview "github.com/lumina-workbench/lumina/tui/image"
	"github.com/lumina-workbench/lumina/tui/termcap"
)

// Model is one image box. The zero value is an empty box; Views are cached because HalfBlock is the
// costliest thing a frame draws.
type Model struct {
	common.Common
	img         image.Image
	placeholder string

	cache    string
	cacheKey [4]any
}

// New makes an empty box.
func New(c common.Common) *Model { return &Model{Common: c} }

// SetImage sets the image; nil clears it.
func (m *Model) SetImage(img image.Image) { m.img = img }

// Image is the image shown, or nil.
func (m *Model) Image() image.Image { return m.img }

// SetPlaceholder is the text shown while there is no image.
func (m *Model) SetPlaceholder(s string) { m.placeholder = s }

// Update takes the image mode.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	if msg, ok := msg.(common.ImageModeMsg); ok {
		m.ImageMode = msg.Mode
	}
	return nil
}

// View is exactly Height lines of exactly Width cells.
func (m *Model) View() string {
	w, h := m.Width, m.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	key := [4]any{m.img, w, h, m.ImageMode}
	if m.cache != "" && key == m.cacheKey {
		return m.cache
	}
	var s string
	switch {
	case m.img == nil:
		s = m.centred(m.Styles.Dim.Render(m.placeholder))
	case m.ImageMode == termcap.HalfBlock:
		s = common.FitBlock(imgview.HalfBlock(m.img, w, h), w, h)
	case m.ImageMode == termcap.Sixel:
		s = common.FitBlock("", w, h)
	default:
		b := m.img.Bounds()
		s = m.centred(m.Styles.Dim.Render(fmt.Sprintf("[%d×%d image; images are off]", b.Dx(), b.Dy())))
	}
	m.cache, m.cacheKey = s, key
	return s
}

func (m *Model) centred(text string) string {
	lines := make([]string, m.Height)
	lines[m.Height/2] = strings.Repeat(" ", max(0, (m.Width-lipWidth(text))/2)) + text
	return common.FitBlock(strings.Join(lines, "\n"), m.Width, m.Height)
}

// Box is the box of cells this model fills when its View is placed at (col, row); the painter
// scales the image into it exactly as HalfBlock does, top-left aligned.
func (m *Model) Box(col, row int) imgview.Box {
	return imgview.Box{Col: col, Row: row, Cols: m.Width, Rows: m.Height}
}
