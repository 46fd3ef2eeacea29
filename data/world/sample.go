package world

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// HoldoutRule names a combination of attributes that the sampler never produces, so that a model can be
// tested on compositions it has never seen ("green triangle", "red@top left"). A nil field matches
// anything; an object is excluded only when every non-nil field matches.
//
// In JSON and YAML a rule is its text form (MarshalText), e.g. "green triangle".
type HoldoutRule struct {
	Colour *Colour
	Shape  *Shape
	Cell   *Cell
}

// Excludes reports whether the rule forbids o. A rule with no fields set forbids nothing: an empty rule
// is almost certainly a configuration mistake, and Validate reports it.
func (r HoldoutRule) Excludes(o Object) bool {
	if r.Colour == nil && r.Shape == nil && r.Cell == nil {
		return false
	}
	return r.excludes(o.Colour, o.Shape, o.Cell())
}

func (r HoldoutRule) excludes(c Colour, s Shape, cell Cell) bool {
	if r.Colour == nil && r.Shape == nil && r.Cell == nil {
		return false
	}
	return (r.Colour == nil || *r.Colour == c) &&
		(r.Shape == nil || *r.Shape == s) &&
		(r.Cell == nil || *r.Cell == cell)
}

// String writes the rule in the form ParseHoldoutRule reads.
func (r HoldoutRule) String() string {
	var words []string
	if r.Colour != nil {
		words = append(words, r.Colour.String())
	}
	if r.Shape != nil {
		words = append(words, r.Shape.String())
	}
	s := strings.Join(words, " ")
	if r.Cell != nil {
		s += "@" + r.Cell.String()
	}
	return s
}

// ParseHoldoutRule reads "colour shape@cell" where each part is optional but at least one is given:
// "green triangle", "red@top left", "square@center", "@bottom right", "blue". Words are case-insensitive.
func ParseHoldoutRule(s string) (HoldoutRule, error) {
	var r HoldoutRule
	attrs, cellName, hasCell := strings.Cut(s, "@")
	if hasCell {
		cellName = strings.Join(strings.Fields(cellName), " ")
		var c Cell
		if err := c.UnmarshalText([]byte(cellName)); err != nil {
			return HoldoutRule{}, fmt.Errorf("holdout rule %q: %w", s, err)
		}
		r.Cell = &c
	}
	for _, w := range strings.Fields(attrs) {
		if c, err := ParseColour(w); err == nil {
			if r.Colour != nil {
				return HoldoutRule{}, fmt.Errorf("holdout rule %q: two colours (%s and %s)", s, *r.Colour, c)
			}
			r.Colour = &c
			continue
		}
		if sh, err := ParseShape(w); err == nil {
			if r.Shape != nil {
				return HoldoutRule{}, fmt.Errorf("holdout rule %q: two shapes (%s and %s)", s, *r.Shape, sh)
			}
			r.Shape = &sh
			continue
		}
		return HoldoutRule{}, fmt.Errorf("holdout rule %q: unknown word %q (allowed colours: %s; shapes: %s; a position follows '@': %s)",
			s, w,
			names(NumColours, func(i int) string { return Colour(i).String() }),
			names(NumShapes, func(i int) string { return Shape(i).String() }),
			names(NumCells, func(i int) string { return Cell(i).String() }))
	}
	if r.Colour == nil && r.Shape == nil && r.Cell == nil {
		return HoldoutRule{}, fmt.Errorf("holdout rule %q names nothing (want e.g. \"green triangle\" or \"red@top left\")", s)
	}
	return r, nil
}

func (r HoldoutRule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r *HoldoutRule) UnmarshalText(b []byte) error {
	v, err := ParseHoldoutRule(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// SamplerConfig controls scene sampling.
type SamplerConfig struct {
	// MinObjects and MaxObjects bound the object count (1..MaxObjects), drawn uniformly.
	MinObjects int `json:"min_objects" yaml:"min_objects"`
	MaxObjects int `json:"max_objects" yaml:"max_objects"`
	// PhotoFrac is the share of scenes in the "photo" domain; the rest are "flat".
	PhotoFrac float64 `json:"photo_frac" yaml:"photo_frac"`
	// DegradeFrac is the share of scenes that get at least one degradation; the others are clean
	// (Quality 1).
	DegradeFrac float64 `json:"degrade_frac" yaml:"degrade_frac"`
	// GrayFrac is the share of scenes on a gray background; the rest are black.
	GrayFrac float64 `json:"gray_frac" yaml:"gray_frac"`
	// Jitter is how far (as a fraction of the side) a centre may move from its cell centre. It must stay
	// well below the cell half-width 1/6 so that the cell is never ambiguous.
	Jitter float64 `json:"jitter" yaml:"jitter"`
	// Holdout lists combinations that are never sampled.
	Holdout []HoldoutRule `json:"holdout,omitempty" yaml:"holdout,omitempty"`
	// ObjectWeights, when set, weighs the object counts MinObjects..MaxObjects (one relative weight each,
	// in that order) instead of drawing them uniformly: a uniform 1..4 puts half the scenes at three or
	// four objects, which crowd the frame with small shapes.
	ObjectWeights []float64 `json:"object_weights,omitempty" yaml:"object_weights,omitempty"`
	// SizeWeights, when set, weighs small, medium and large (relative weights) instead of drawing sizes
	// uniformly. A size that does not fit is redrawn, so crowded scenes still lean small.
	SizeWeights []float64 `json:"size_weights,omitempty" yaml:"size_weights,omitempty"`
}

// DefaultSamplerConfig is the world the tiny presets train on.
func DefaultSamplerConfig() SamplerConfig {
	return SamplerConfig{
		MinObjects:  1,
		MaxObjects:  MaxObjects,
		PhotoFrac:   0.3,
		DegradeFrac: 0.3,
		GrayFrac:    0.5,
		Jitter:      0.05,
	}
}

// MaxJitter is the largest allowed Jitter: it keeps every centre at least 0.1 of the side (3 px at
// 32 px) inside its cell, so that a parser reading back the centre finds the same cell.
const MaxJitter = 1.0/6 - 0.1

// PlacementMargin is the smallest gap, as a fraction of the shorter side, between the bounding boxes
// of two objects. It is wide enough (2 px at 32 px) that a σ = 1 px blur does not join two objects into
// one blob at the parser's half-coverage threshold.
const PlacementMargin = 0.065

// Validate checks the config; the error names the field at fault.
func (c SamplerConfig) Validate() error {
	if c.MinObjects < 1 || c.MinObjects > MaxObjects {
		return fmt.Errorf("sampler config: min_objects %d outside 1..%d", c.MinObjects, MaxObjects)
	}
	if c.MaxObjects < c.MinObjects || c.MaxObjects > MaxObjects {
		return fmt.Errorf("sampler config: max_objects %d outside %d..%d", c.MaxObjects, c.MinObjects, MaxObjects)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"photo_frac", c.PhotoFrac}, {"degrade_frac", c.DegradeFrac}, {"gray_frac", c.GrayFrac}} {
		if !(f.v >= 0 && f.v <= 1) {
			return fmt.Errorf("sampler config: %s %g outside [0,1]", f.name, f.v)
		}
	}
	if err := checkWeights("object_weights", c.ObjectWeights, c.MaxObjects-c.MinObjects+1); err != nil {
		return err
	}
	if err := checkWeights("size_weights", c.SizeWeights, NumSizes); err != nil {
		return err
	}
	if !(c.Jitter >= 0 && c.Jitter <= MaxJitter) {
		return fmt.Errorf("sampler config: jitter %g outside [0, %.3f]", c.Jitter, MaxJitter)
	}
	for i, r := range c.Holdout {
		if r.Colour == nil && r.Shape == nil && r.Cell == nil {
			return fmt.Errorf("sampler config: holdout rule %d names nothing", i)
		}
		if (r.Colour != nil && int(*r.Colour) >= NumColours) || (r.Shape != nil && int(*r.Shape) >= NumShapes) ||
			(r.Cell != nil && int(*r.Cell) >= NumCells) {
			return fmt.Errorf("sampler config: holdout rule %d has an attribute out of range", i)
		}
	}
	allowed := c.allowedCombos()
	if len(allowed) == 0 {
		return fmt.Errorf("sampler config: the holdout rules exclude every colour, shape and position")
	}
	cells := map[Cell]bool{}
	for _, a := range allowed {
		cells[a.cell] = true
	}
	// Four small objects always fit in the four corners; fewer distinct cells than objects cannot work.
	if len(cells) < c.MinObjects {
		return fmt.Errorf("sampler config: the holdout rules leave %d positions, fewer than min_objects %d", len(cells), c.MinObjects)
	}
	return nil
}

// checkWeights accepts no weights, or n finite non-negative ones with a positive sum.
func checkWeights(name string, w []float64, n int) error {
	if w == nil {
		return nil
	}
	if len(w) != n {
		return fmt.Errorf("sampler config: %s has %d weights, want %d", name, len(w), n)
	}
	sum := 0.0
	for i, v := range w {
		if !(v >= 0) || math.IsInf(v, 1) {
			return fmt.Errorf("sampler config: %s[%d] = %g, want a finite weight ≥ 0", name, i, v)
		}
		sum += v
	}
	if !(sum > 0) {
		return fmt.Errorf("sampler config: %s are all zero", name)
	}
	return nil
}

// drawIndex draws 0..n−1 uniformly when w is nil, else with probability proportional to w (which has
// length n). The uniform case makes exactly the draw it always made, so configs without weights keep
// their scenes.
func drawIndex(rng *rand.Rand, w []float64, n int) int {
	if len(w) != n {
		return rng.IntN(n)
	}
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	u := rng.Float64() * sum
	for i, v := range w {
		if u < v {
			return i
		}
		u -= v
	}
	for i := n - 1; i > 0; i-- { // rounding left u ≥ the last weight: take the last positive one
		if w[i] > 0 {
			return i
		}
	}
	return 0
}

type combo struct {
	colour Colour
	shape  Shape
	cell   Cell
}

func (c SamplerConfig) allowedCombos() []combo {
	out := make([]combo, 0, NumColours*NumShapes*NumCells)
	for cell := Cell(0); int(cell) < NumCells; cell++ {
		for col := Colour(0); int(col) < NumColours; col++ {
			for sh := Shape(0); int(sh) < NumShapes; sh++ {
				ok := true
				for _, r := range c.Holdout {
					if r.excludes(col, sh, cell) {
						ok = false
						break
					}
				}
				if ok {
					out = append(out, combo{col, sh, cell})
				}
			}
		}
	}
	return out
}

// degradeWeight is how much each degradation at full strength lowers Quality: blur and noise destroy
// the most detail, clutter the least.
var degradeWeight = struct{ noise, blur, clutter, clip float64 }{0.6, 0.7, 0.5, 0.6}

// Quality is in [0,1]: 1 for a clean render, falling multiplicatively with the strength of each
// degradation, so two mild degradations score lower than either alone.
func (s Scene) Quality() float64 {
	d := s.Degradation
	q := 1.0
	for _, f := range []struct{ w, v float64 }{
		{degradeWeight.noise, d.Noise}, {degradeWeight.blur, d.Blur},
		{degradeWeight.clutter, d.Clutter}, {degradeWeight.clip, d.Clip},
	} {
		v := math.Min(math.Max(f.v, 0), 1)
		q *= 1 - f.w*v
	}
	return q
}

// SampleScene draws one scene. The same rng state and config give the same scene. cfg should have
// passed Validate; an invalid config is repaired to the nearest valid one rather than panicking (the
// object count is clamped to 1..MaxObjects, and a holdout set that excludes everything is ignored).
func SampleScene(rng *rand.Rand, cfg SamplerConfig) Scene {
	lo, hi := min(max(cfg.MinObjects, 1), MaxObjects), min(max(cfg.MaxObjects, 1), MaxObjects)
	if hi < lo {
		hi = lo
	}
	jitter := math.Min(math.Max(cfg.Jitter, 0), MaxJitter)
	allowed := cfg.allowedCombos()
	if len(allowed) == 0 {
		allowed = SamplerConfig{}.allowedCombos()
	}

	var s Scene
	if rng.Float64() < cfg.GrayFrac {
		s.Background = Gray
	}
	if rng.Float64() < cfg.PhotoFrac {
		s.Domain = Photo
	}
	if rng.Float64() < cfg.DegradeFrac {
		s.Degradation = sampleDegradation(rng)
	}
	n := lo + drawIndex(rng, cfg.ObjectWeights, hi-lo+1)
	// Clip pushes this many objects over the border; they must sit in an outer cell to have one.
	nClip := 0
	if s.Degradation.Clip > 0 {
		nClip = 1
		if s.Degradation.Clip > 0.5 {
			nClip = 2
		}
	}
	for ; n >= 1; n-- {
		for attempt := 0; attempt < 60; attempt++ {
			if objs, ok := placeObjects(rng, n, min(nClip, n), s.Degradation.Clip, jitter, allowed, cfg.Holdout, cfg.SizeWeights); ok {
				s.Objects = objs
				return s
			}
		}
		// No layout found: very restrictive holdout rules can make n objects impossible to place,
		// and a smaller scene is better than none.
	}
	// One object without clipping always fits somewhere in an allowed cell.
	s.Degradation.Clip = 0
	for {
		if objs, ok := placeObjects(rng, 1, 0, 0, jitter, allowed, cfg.Holdout, cfg.SizeWeights); ok {
			s.Objects = objs
			return s
		}
	}
}

func sampleDegradation(rng *rand.Rand) Degradation {
	var d Degradation
	for d == (Degradation{}) {
		strength := func() float64 { return 0.2 + 0.8*rng.Float64() }
		if rng.Float64() < 0.5 {
			d.Noise = strength()
		}
		if rng.Float64() < 0.5 {
			d.Blur = strength()
		}
		if rng.Float64() < 0.5 {
			d.Clutter = strength()
		}
		if rng.Float64() < 0.4 {
			d.Clip = strength()
		}
	}
	return d
}

// cellCentre is the centre of a grid cell along one axis.
func cellCentre(i int) float64 { return (float64(i) + 0.5) / 3 }

// placeObjects makes one attempt at a layout of n objects, the first nClip pushed over the border.
func placeObjects(rng *rand.Rand, n, nClip int, clip, jitter float64, allowed []combo, holdout []HoldoutRule, sizeW []float64) ([]Object, bool) {
	objs := make([]Object, 0, n)
	used := [NumCells]bool{}
	for i := 0; i < n; i++ {
		wantClip := i < nClip
		placed := false
		for try := 0; try < 40 && !placed; try++ {
			cb := allowed[rng.IntN(len(allowed))]
			if used[cb.cell] || (wantClip && cb.cell == 4) {
				continue
			}
			o := Object{Shape: cb.shape, Colour: cb.colour, Size: Size(drawIndex(rng, sizeW, NumSizes))}
			half := o.Size.Frac() / 2
			o.X = clampTo(cellCentre(cb.cell.Col())+jitter*(2*rng.Float64()-1), half, 1-half)
			o.Y = clampTo(cellCentre(cb.cell.Row())+jitter*(2*rng.Float64()-1), half, 1-half)
			if wantClip {
				o.X, o.Y = clipPush(rng, cb.cell, o, clip)
			}
			if o.Cell() != cb.cell || excludedBy(holdout, o) || overlapsAny(o, objs) {
				continue
			}
			objs = append(objs, o)
			used[cb.cell] = true
			placed = true
		}
		if !placed {
			return nil, false
		}
	}
	return objs, true
}

// clipPush moves an object in an outer cell towards its border until a share of its extent lies
// outside the image. It stays in its cell, since it only moves outward.
func clipPush(rng *rand.Rand, cell Cell, o Object, strength float64) (x, y float64) {
	x, y = o.X, o.Y
	ext := o.Size.Frac()
	out := 0.15 + 0.3*strength // share of the extent beyond the border
	pushX := cell.Col() != 1
	pushY := cell.Row() != 1
	if pushX && pushY { // corner: one axis, or both
		switch rng.IntN(3) {
		case 0:
			pushY = false
		case 1:
			pushX = false
		}
	}
	if pushX {
		if cell.Col() == 0 {
			x = ext * (0.5 - out)
		} else {
			x = 1 - ext*(0.5-out)
		}
	}
	if pushY {
		if cell.Row() == 0 {
			y = ext * (0.5 - out)
		} else {
			y = 1 - ext*(0.5-out)
		}
	}
	return x, y
}

func excludedBy(rules []HoldoutRule, o Object) bool {
	for _, r := range rules {
		if r.Excludes(o) {
			return true
		}
	}
	return false
}

// overlapsAny reports whether o's bounding box, grown by PlacementMargin, meets any placed object's.
// Boxes are in units of the shorter side: a rectangle render scales extents by min(w, h) but positions
// by w and h, so gaps there can only grow.
func overlapsAny(o Object, placed []Object) bool {
	for _, p := range placed {
		gap := (o.Size.Frac()+p.Size.Frac())/2 + PlacementMargin
		if math.Abs(o.X-p.X) < gap && math.Abs(o.Y-p.Y) < gap {
			return true
		}
	}
	return false
}

func clampTo(v, lo, hi float64) float64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
