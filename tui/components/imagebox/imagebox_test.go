package imagebox

import (
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/lumina-workbench/lumina/tui/common"
	imgview "github.com/lumina-workbench/lumina/tui/image"
	"github.com/lumina-workbench/lumina/tui/termcap"
)

func TestModes(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	m := New(common.New())
	m.SetSize(8, 4)
	m.SetPlaceholder("none yet")
	if !strings.Contains(m.View(), "none yet") {
		t.Error("placeholder")
	}
	m.SetImage(img)
	if m.View() != imgview.HalfBlock(img, 8, 4) {
		t.Error("half-block mode must draw imgview.HalfBlock")
	}
	m.Update(common.ImageModeMsg{Mode: termcap.Sixel})
	if strings.TrimSpace(ansi.Strip(m.View())) != "" {
		t.Error("sixel mode must leave the cells blank")
	}
	m.Update(common.ImageModeMsg{Mode: termcap.None})
	m.SetSize(40, 4)
	if !strings.Contains(m.View(), "8×8 image") {
		t.Error("none mode should say an image is there")
	}
	m.SetSize(8, 4)
	for _, l := range strings.Split(m.View(), "\n") {
		if ansi.StringWidth(l) != 8 {
			t.Fatalf("line %q not 8 wide", l)
		}
	}
	if b := m.Box(3, 2); b != (imgview.Box{Col: 3, Row: 2, Cols: 8, Rows: 4}) {
		t.Errorf("box %+v", b)
	}
}
