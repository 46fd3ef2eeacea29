package world

import (
	"fmt"
	"hash/fnv"
	"image"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/lumina-workbench/lumina/data/internal/raster"
)

// MinRenderSide and MaxRenderSide bound a render's width and height in pixels.
const (
	MinRenderSide = 16
	MaxRenderSide = 256
)

// CheckRenderSize reports a width or height outside MinRenderSide..MaxRenderSide.
func CheckRenderSize(w, h int) error {
	if w < MinRenderSide || w > MaxRenderSide || h < MinRenderSide || h > MaxRenderSide {
		return fmt.Errorf("render size %d×%d: width and height must each be in %d..%d", w, h, MinRenderSide, MaxRenderSide)
	}
	return nil
}

// Render draws the scene at w×h pixels. Positions are fractions of w and h; an object's extent is
// Size.Frac() × min(w, h), so a rectangle stretches the layout, never the shapes. The output is a
// deterministic function of the scene and the size: the "photo" texture and the degradations draw from
// a generator seeded by the scene itself.
func Render(s Scene, w, h int) (*image.RGBA, error) {
	if err := CheckRenderSize(w, h); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return render(s, w, h).RGBA(), nil
}

// shapeGeom is an object in pixel units: centre and extent (bounding-box side).
type shapeGeom struct {
	shape     Shape
	cx, cy, e float64
	x0, y0    int // pixel range that can be touched, with a 2 px halo for anti-aliasing and outlines
	x1, y1    int
}

func geomOf(o Object, w, h int) shapeGeom {
	e := o.Size.Frac() * float64(min(w, h))
	g := shapeGeom{shape: o.Shape, cx: o.X * float64(w), cy: o.Y * float64(h), e: e}
	g.x0 = max(int(math.Floor(g.cx-e/2))-2, 0)
	g.x1 = min(int(math.Ceil(g.cx+e/2))+2, w)
	g.y0 = max(int(math.Floor(g.cy-e/2))-2, 0)
	g.y1 = min(int(math.Ceil(g.cy+e/2))+2, h)
	return g
}

var invSqrt5 = 1 / math.Sqrt(5)

// sd is the signed distance in pixels from (px, py) to the shape's outline, negative inside. The
// triangle (apex up, base at the bottom of the box, as wide as it is tall) uses the max of its three
// edge distances: exact inside and along the edges, a little short near the corners outside, which
// only matters for the last fraction of a pixel of anti-aliasing.
func (g *shapeGeom) sd(px, py float64) float64 {
	dx, dy := px-g.cx, py-g.cy
	r := g.e / 2
	switch g.shape {
	case Circle:
		return math.Sqrt(dx*dx+dy*dy) - r
	case Square:
		qx, qy := math.Abs(dx)-r, math.Abs(dy)-r
		out := math.Hypot(math.Max(qx, 0), math.Max(qy, 0))
		return out + math.Min(math.Max(qx, qy), 0)
	default: // Triangle
		bottom := dy - r
		// Edges from the apex (0, -r) to (∓r, r): outward normals (∓2, -1)/√5.
		ay := dy + r
		left := (-2*dx - ay) * invSqrt5
		right := (2*dx - ay) * invSqrt5
		return math.Max(bottom, math.Max(left, right))
	}
}

// coverage turns a signed distance into the share of a pixel inside the shape (a one-pixel ramp).
func coverage(d float64) float64 {
	if d <= -0.5 {
		return 1
	}
	if d >= 0.5 {
		return 0
	}
	return 0.5 - d
}

// sceneRNG seeds the texture and degradations from the scene's content, so Render needs no rng and the
// same scene renders the same at every call.
func sceneRNG(s Scene, salt uint64) *rand.Rand {
	f := fnv.New64a()
	var b [8]byte
	put := func(u uint64) {
		for i := range b {
			b[i] = byte(u >> (8 * i))
		}
		f.Write(b[:])
	}
	put(uint64(s.Background)<<8 | uint64(s.Domain))
	for _, o := range s.Objects {
		put(uint64(o.Shape)<<16 | uint64(o.Colour)<<8 | uint64(o.Size))
		put(math.Float64bits(o.X))
		put(math.Float64bits(o.Y))
	}
	d := s.Degradation
	for _, v := range []float64{d.Noise, d.Blur, d.Clutter, d.Clip} {
		put(math.Float64bits(v))
	}
	h := f.Sum64()
	return rand.New(rand.NewPCG(h, h^salt^0x9e3779b97f4a7c15))
}

// hashNoise is a fixed pseudo-random value in [-1, 1) for a pixel, cheap enough for every pixel.
func hashNoise(x, y int, seed uint64) float64 {
	z := seed ^ uint64(x)*0x9e3779b97f4a7c15 ^ uint64(y)*0xc2b2ae3d27d4eb4f
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11)/float64(1<<52) - 1
}

// Photo-domain amplitudes, in 0..255 units or relative brightness. They are kept small so that the
// mean colour of every object stays nearest its palette colour (the parser test checks this).
const (
	photoBgGradient = 14.0 // background brightness change from one corner to the opposite
	photoBgTexture  = 5.0  // smooth background texture
	photoGrain      = 3.0  // per-pixel grain, background and objects
	photoShade      = 0.14 // object brightness ±, lit from the top left
)

func render(s Scene, w, h int) *raster.Canvas {
	c := raster.New(w, h)
	m := float64(min(w, h))
	rng := sceneRNG(s, 1)
	bg := s.Background.RGB()
	br, bgG, bb := float64(bg.R), float64(bg.G), float64(bg.B)
	var seed uint64
	if s.Domain == Photo {
		seed = rng.Uint64()
		// Soft gradient in a random direction plus a smooth texture from a coarse lattice.
		ang := 2 * math.Pi * rng.Float64()
		gx, gy := math.Cos(ang), math.Sin(ang)
		const lat = 5
		var lattice [lat * lat]float64
		for i := range lattice {
			lattice[i] = 2*rng.Float64() - 1
		}
		for y := 0; y < h; y++ {
			fy := (float64(y) + 0.5) / float64(h)
			ly := fy * (lat - 1)
			iy := min(int(ly), lat-2)
			ty := ly - float64(iy)
			for x := 0; x < w; x++ {
				fx := (float64(x) + 0.5) / float64(w)
				lx := fx * (lat - 1)
				ix := min(int(lx), lat-2)
				tx := lx - float64(ix)
				tex := (lattice[iy*lat+ix]*(1-tx)+lattice[iy*lat+ix+1]*tx)*(1-ty) +
					(lattice[(iy+1)*lat+ix]*(1-tx)+lattice[(iy+1)*lat+ix+1]*tx)*ty
				v := photoBgGradient*((fx-0.5)*gx+(fy-0.5)*gy) + photoBgTexture*tex + photoGrain*hashNoise(x, y, seed)
				i := (y*w + x) * 3
				c.Pix[i], c.Pix[i+1], c.Pix[i+2] = float32(br+v), float32(bgG+v), float32(bb+v)
			}
		}
	} else {
		c.Fill(float32(br), float32(bgG), float32(bb))
	}

	if s.Degradation.Clutter > 0 {
		drawClutter(c, rng, s.Background, s.Degradation.Clutter, m)
	}

	for _, o := range s.Objects {
		g := geomOf(o, w, h)
		col := o.Colour.RGB()
		cr, cg, cb := float64(col.R), float64(col.G), float64(col.B)
		for y := g.y0; y < g.y1; y++ {
			py := float64(y) + 0.5
			for x := g.x0; x < g.x1; x++ {
				px := float64(x) + 0.5
				a := coverage(g.sd(px, py))
				if a == 0 {
					continue
				}
				r, gg, b := cr, cg, cb
				if s.Domain == Photo {
					// Lit from the top left: brighter there, darker bottom right, mean-neutral over the box.
					shade := -((px - g.cx) + (py - g.cy)) / g.e
					f := 1 + photoShade*shade
					grain := photoGrain * hashNoise(x, y, seed^0x5bd1e995)
					r, gg, b = r*f+grain, gg*f+grain, b*f+grain
				}
				i := (y*w + x) * 3
				p := c.Pix[i : i+3 : i+3]
				af := float32(a)
				p[0] += af * (float32(r) - p[0])
				p[1] += af * (float32(gg) - p[1])
				p[2] += af * (float32(b) - p[2])
			}
		}
	}

	if s.Degradation.Blur > 0 {
		// 0.4 to 1.5 px at 32 px, scaled with the resolution so the same scene looks alike at every size.
		c = raster.Blur(c, (0.4+1.1*s.Degradation.Blur)*m/32)
	}
	if s.Degradation.Noise > 0 {
		std := float32(8 + 30*s.Degradation.Noise)
		for i := range c.Pix {
			c.Pix[i] += std * float32(rng.NormFloat64())
		}
	}
	return c
}

// drawClutter scatters short thin strokes in greys that are neither a background nor a palette colour.
// They go down before the objects, so they never hide one.
func drawClutter(c *raster.Canvas, rng *rand.Rand, bg Background, strength, m float64) {
	n := 2 + int(math.Round(4*strength))
	width := math.Max(1, m/32) * 0.9
	for k := 0; k < n; k++ {
		var grey float64
		if bg == Black {
			grey = 60 + 35*rng.Float64()
		} else {
			grey = 40 + 35*rng.Float64()
		}
		x0 := rng.Float64() * float64(c.W)
		y0 := rng.Float64() * float64(c.H)
		ang := 2 * math.Pi * rng.Float64()
		l := (0.08 + 0.1*rng.Float64()) * m
		x1, y1 := x0+l*math.Cos(ang), y0+l*math.Sin(ang)
		xa := max(int(math.Floor(math.Min(x0, x1)-width))-1, 0)
		xb := min(int(math.Ceil(math.Max(x0, x1)+width))+1, c.W)
		ya := max(int(math.Floor(math.Min(y0, y1)-width))-1, 0)
		yb := min(int(math.Ceil(math.Max(y0, y1)+width))+1, c.H)
		for y := ya; y < yb; y++ {
			for x := xa; x < xb; x++ {
				a := coverage(segDist(float64(x)+0.5, float64(y)+0.5, x0, y0, x1, y1) - width/2)
				if a == 0 {
					continue
				}
				i := (y*c.W + x) * 3
				for ch := 0; ch < 3; ch++ {
					c.Pix[i+ch] += float32(a) * (float32(grey) - c.Pix[i+ch])
				}
			}
		}
	}
}

func segDist(px, py, x0, y0, x1, y1 float64) float64 {
	dx, dy := x1-x0, y1-y0
	t := ((px-x0)*dx + (py-y0)*dy) / (dx*dx + dy*dy)
	t = math.Min(math.Max(t, 0), 1)
	return math.Hypot(px-(x0+t*dx), py-(y0+t*dy))
}

// PanelKind is what the lower half of a dual-panel (Template C) image shows.
type PanelKind uint8

const (
	DepthPanel PanelKind = iota
	EdgePanel
	MaskPanel
	NumPanelKinds int = iota
)

var panelNames = [...]string{DepthPanel: "depth", EdgePanel: "edge", MaskPanel: "mask"}

func (k PanelKind) String() string {
	if int(k) < len(panelNames) {
		return panelNames[k]
	}
	return fmt.Sprintf("PanelKind(%d)", uint8(k))
}

// ParsePanelKind reads "depth", "edge" or "mask".
func ParsePanelKind(s string) (PanelKind, error) {
	for i, n := range panelNames {
		if strings.EqualFold(s, n) {
			return PanelKind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown panel kind %q (allowed: %s)", s, strings.Join(panelNames[:], ", "))
}

func (k PanelKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }
func (k *PanelKind) UnmarshalText(b []byte) error {
	v, err := ParsePanelKind(string(b))
	*k = v
	return err
}

// Depth-map greys: the background is far (dark); bigger objects are read as nearer (brighter).
var depthGrey = [NumSizes]float64{Small: 110, Medium: 175, Large: 240}

const depthBackground = 20

// RenderDualPanel draws a w×h Template C image: the upper half is the scene rendered at w × h/2 (with
// its degradations), the lower half the same layout as a clean depth map, edge map or segmentation mask
// (white objects on black). h must be even so that both halves have the same size.
func RenderDualPanel(s Scene, w, h int, kind PanelKind) (*image.RGBA, error) {
	if err := CheckRenderSize(w, h); err != nil {
		return nil, fmt.Errorf("dual panel: %w", err)
	}
	if h%2 != 0 {
		return nil, fmt.Errorf("dual panel size %d×%d: height must be even (two halves of %d×h/2)", w, h, w)
	}
	if int(kind) >= NumPanelKinds {
		return nil, fmt.Errorf("dual panel: unknown panel kind %d (allowed: %s)", kind, strings.Join(panelNames[:], ", "))
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("dual panel: %w", err)
	}
	hh := h / 2
	top := render(s, w, hh).RGBA()
	bottom := renderPanel(s, w, hh, kind).RGBA()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	copy(out.Pix[:len(top.Pix)], top.Pix)
	copy(out.Pix[len(top.Pix):], bottom.Pix)
	return out, nil
}

func renderPanel(s Scene, w, h int, kind PanelKind) *raster.Canvas {
	c := raster.New(w, h)
	if kind == DepthPanel {
		c.Fill(depthBackground, depthBackground, depthBackground)
	}
	lw := math.Max(1, float64(min(w, h))/32) // outline width in pixels
	for _, o := range s.Objects {
		g := geomOf(o, w, h)
		var v float64
		switch kind {
		case DepthPanel:
			v = depthGrey[o.Size]
		default:
			v = 255
		}
		for y := g.y0; y < g.y1; y++ {
			for x := g.x0; x < g.x1; x++ {
				d := g.sd(float64(x)+0.5, float64(y)+0.5)
				var a float64
				if kind == EdgePanel {
					a = coverage(math.Abs(d) - lw/2)
				} else {
					a = coverage(d)
				}
				if a == 0 {
					continue
				}
				i := (y*w + x) * 3
				for ch := 0; ch < 3; ch++ {
					c.Pix[i+ch] += float32(a) * (float32(v) - c.Pix[i+ch])
				}
			}
		}
	}
	return c
}
