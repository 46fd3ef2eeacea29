// Package world is the procedural world of simple shapes that the project trains on and judges with:
// its fixed vocabulary, scenes and the facts that can be checked in them, the scene sampler with its
// hold-out rules and quality score, the flat and photo renderer with degradations and dual panels, and
// the conversion between images and the model's pixel tensors.
//
// The vocabulary in this file is fixed by the product's specification: tools outside the project rely
// on these names and colours, so they are never renamed.
package world

import (
	"fmt"
	"image/color"
	"strings"
)

// Colour is one of the world's eight object colours.
type Colour uint8

// The palette, in the order of the fixed vocabulary (docs/DESIGN.md §6).
const (
	Red Colour = iota
	Green
	Blue
	Yellow
	Purple
	Orange
	Cyan
	White
	NumColours int = iota
)

var colourInfo = [...]struct {
	name, zh string
	rgb      color.RGBA
}{
	Red:    {"red", "红色", color.RGBA{220, 40, 40, 255}},
	Green:  {"green", "绿色", color.RGBA{40, 180, 70, 255}},
	Blue:   {"blue", "蓝色", color.RGBA{40, 90, 230, 255}},
	Yellow: {"yellow", "黄色", color.RGBA{235, 215, 40, 255}},
	Purple: {"purple", "紫色", color.RGBA{150, 60, 210, 255}},
	Orange: {"orange", "橙色", color.RGBA{245, 140, 30, 255}},
	Cyan:   {"cyan", "青色", color.RGBA{40, 205, 215, 255}},
	White:  {"white", "白色", color.RGBA{240, 240, 240, 255}},
}

func (c Colour) String() string { return colourInfo[c].name }

// Zh is the Chinese name, e.g. "红色".
func (c Colour) Zh() string { return colourInfo[c].zh }

// RGB is the sRGB value of a flat render.
func (c Colour) RGB() color.RGBA { return colourInfo[c].rgb }

func (c Colour) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

func (c *Colour) UnmarshalText(b []byte) error {
	v, err := ParseColour(string(b))
	*c = v
	return err
}

// ParseColour reads an English colour name; the error lists the allowed names.
func ParseColour(s string) (Colour, error) {
	for i, ci := range colourInfo {
		if strings.EqualFold(s, ci.name) {
			return Colour(i), nil
		}
	}
	return 0, fmt.Errorf("unknown colour %q (allowed: %s)", s, names(len(colourInfo), func(i int) string { return colourInfo[i].name }))
}

// Background is the scene's backdrop; the "photo" domain renders soft gradients and texture around it.
type Background uint8

const (
	Black Background = iota
	Gray
	NumBackgrounds int = iota
)

var backgroundInfo = [...]struct {
	name, zh string
	rgb      color.RGBA
}{
	Black: {"black", "黑色", color.RGBA{15, 15, 15, 255}},
	Gray:  {"gray", "灰色", color.RGBA{120, 120, 120, 255}},
}

func (b Background) String() string               { return backgroundInfo[b].name }
func (b Background) Zh() string                   { return backgroundInfo[b].zh }
func (b Background) RGB() color.RGBA              { return backgroundInfo[b].rgb }
func (b Background) MarshalText() ([]byte, error) { return []byte(b.String()), nil }
func (b *Background) UnmarshalText(t []byte) error {
	for i, bi := range backgroundInfo {
		if strings.EqualFold(string(t), bi.name) {
			*b = Background(i)
			return nil
		}
	}
	return fmt.Errorf("unknown background %q (allowed: %s)", t, names(len(backgroundInfo), func(i int) string { return backgroundInfo[i].name }))
}

// Shape is an object's outline. Circle, square and triangle are always there; more may be appended.
type Shape uint8

const (
	Circle Shape = iota
	Square
	Triangle
	NumShapes int = iota
)

var shapeInfo = [...]struct{ name, plural, zh string }{
	Circle:   {"circle", "circles", "圆形"},
	Square:   {"square", "squares", "正方形"},
	Triangle: {"triangle", "triangles", "三角形"},
}

func (s Shape) String() string { return shapeInfo[s].name }

// Plural is the English plural, e.g. "circles".
func (s Shape) Plural() string               { return shapeInfo[s].plural }
func (s Shape) Zh() string                   { return shapeInfo[s].zh }
func (s Shape) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
func (s *Shape) UnmarshalText(t []byte) error {
	v, err := ParseShape(string(t))
	*s = v
	return err
}

// ParseShape reads an English shape name (singular or plural).
func ParseShape(s string) (Shape, error) {
	for i, si := range shapeInfo {
		if strings.EqualFold(s, si.name) || strings.EqualFold(s, si.plural) {
			return Shape(i), nil
		}
	}
	return 0, fmt.Errorf("unknown shape %q (allowed: %s)", s, names(len(shapeInfo), func(i int) string { return shapeInfo[i].name }))
}

// Size is an object's size class: about 0.2, 0.3 and 0.45 of the image side.
type Size uint8

const (
	Small Size = iota
	Medium
	Large
	NumSizes int = iota
)

var sizeInfo = [...]struct {
	name, zh string
	frac     float64
}{
	Small:  {"small", "小", 0.2},
	Medium: {"medium", "中等大小", 0.3},
	Large:  {"large", "大", 0.45},
}

func (s Size) String() string { return sizeInfo[s].name }
func (s Size) Zh() string     { return sizeInfo[s].zh }

// Frac is the object's extent as a fraction of the image side.
func (s Size) Frac() float64                { return sizeInfo[s].frac }
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
func (s *Size) UnmarshalText(t []byte) error {
	for i, si := range sizeInfo {
		if strings.EqualFold(string(t), si.name) {
			*s = Size(i)
			return nil
		}
	}
	return fmt.Errorf("unknown size %q (allowed: %s)", t, names(len(sizeInfo), func(i int) string { return sizeInfo[i].name }))
}

// Cell is a position on the 3×3 grid, row-major: 0 = top left, 4 = center, 8 = bottom right.
type Cell uint8

const NumCells = 9

var cellInfo = [NumCells]struct{ name, zh string }{
	{"top left", "左上角"}, {"top", "上方"}, {"top right", "右上角"},
	{"left", "左侧"}, {"center", "中央"}, {"right", "右侧"},
	{"bottom left", "左下角"}, {"bottom", "下方"}, {"bottom right", "右下角"},
}

func (c Cell) String() string { return cellInfo[c].name }
func (c Cell) Zh() string     { return cellInfo[c].zh }

// Row and Col are 0..2 from the top left.
func (c Cell) Row() int { return int(c) / 3 }
func (c Cell) Col() int { return int(c) % 3 }

// CellAt maps a centre in [0,1]² (x right, y down) to its grid cell.
func CellAt(x, y float64) Cell {
	clamp := func(v float64) int {
		i := int(v * 3)
		if i < 0 {
			return 0
		}
		if i > 2 {
			return 2
		}
		return i
	}
	return Cell(clamp(y)*3 + clamp(x))
}

func (c Cell) MarshalText() ([]byte, error) { return []byte(c.String()), nil }
func (c *Cell) UnmarshalText(t []byte) error {
	for i, ci := range cellInfo {
		if strings.EqualFold(string(t), ci.name) {
			*c = Cell(i)
			return nil
		}
	}
	return fmt.Errorf("unknown position %q (allowed: %s)", t, names(NumCells, func(i int) string { return cellInfo[i].name }))
}

// Domain is the render style; it picks the system prompt (flat → Template A, photo → Template B).
type Domain uint8

const (
	Flat Domain = iota
	Photo
	NumDomains int = iota
)

var domainNames = [...]string{Flat: "flat", Photo: "photo"}

func (d Domain) String() string               { return domainNames[d] }
func (d Domain) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
func (d *Domain) UnmarshalText(t []byte) error {
	for i, n := range domainNames {
		if strings.EqualFold(string(t), n) {
			*d = Domain(i)
			return nil
		}
	}
	return fmt.Errorf("unknown domain %q (allowed: flat, photo)", t)
}

func names(n int, name func(int) string) string {
	s := make([]string, n)
	for i := range s {
		s[i] = name(i)
	}
	return strings.Join(s, ", ")
}
