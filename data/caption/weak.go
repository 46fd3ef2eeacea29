package caption

// The weak captioner stands in for the off-the-shelf captioners of the paper's Fig. 4 (Florence short
// captions): it writes one short English clause, and it makes the two mistakes such captioners make —
// it states wrong attributes and leaves objects out — at rates the experiment controls.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/lumina-workbench/lumina/data/world"
)

// WeakCaptioner writes short English captions with controlled mistakes.
type WeakCaptioner struct {
	// ErrorRate is the probability that each stated attribute (an object's colour, its shape, and the
	// background) is replaced by a wrong one.
	ErrorRate float64 `json:"error_rate" yaml:"error_rate"`
	// OmissionRate is the probability that each object is left out of the caption.
	OmissionRate float64 `json:"omission_rate" yaml:"omission_rate"`
}

// Validate checks that both rates are probabilities.
func (w WeakCaptioner) Validate() error {
	for _, r := range []struct {
		name string
		v    float64
	}{{"error_rate", w.ErrorRate}, {"omission_rate", w.OmissionRate}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("weak captioner: %s %v outside [0, 1]", r.name, r.v)
		}
	}
	return nil
}

// Caption writes e.g. "a red circle and two blue squares on a black background". Each object is
// omitted with probability OmissionRate; each stated colour, shape and the background is wrong with
// probability ErrorRate (a wrong value is drawn uniformly from the others). Rates outside [0, 1] act as
// clamped (Validate reports them).
func (w WeakCaptioner) Caption(s world.Scene, rng *rand.Rand) string {
	wrong := func() bool { return rng.Float64() < w.ErrorRate }
	type said struct {
		c  world.Colour
		sh world.Shape
	}
	var objs []said
	for _, o := range s.Objects {
		if rng.Float64() < w.OmissionRate {
			continue
		}
		x := said{o.Colour, o.Shape}
		if wrong() {
			x.c = world.Colour((int(o.Colour) + 1 + rng.IntN(world.NumColours-1)) % world.NumColours)
		}
		if wrong() && world.NumShapes > 1 {
			x.sh = world.Shape((int(o.Shape) + 1 + rng.IntN(world.NumShapes-1)) % world.NumShapes)
		}
		objs = append(objs, x)
	}
	bg := s.Background
	if wrong() {
		bg = world.Background((int(bg) + 1 + rng.IntN(world.NumBackgrounds-1)) % world.NumBackgrounds)
	}
	// Objects are named in the scene's order (which the sampler leaves random), so that a reader can
	// line the mentions up with the objects to measure the mistakes. A run of objects said alike is
	// grouped ("two blue squares") when no other object is said alike, since a numeral is an exact
	// count; otherwise each is named, a repeat as "another red circle".
	var parts []string
	for i := 0; i < len(objs); {
		g := objs[i]
		j := i + 1
		for j < len(objs) && objs[j] == g {
			j++
		}
		if j-i > 1 && !slices.Contains(objs[:i], g) && !slices.Contains(objs[j:], g) {
			parts = append(parts, enNumber(j-i)+" "+g.c.String()+" "+g.sh.Plural())
			i = j
			continue
		}
		if slices.Contains(objs[:i], g) {
			parts = append(parts, "another "+g.c.String()+" "+g.sh.String())
		} else {
			parts = append(parts, enArticle(g.c.String())+" "+g.c.String()+" "+g.sh.String())
		}
		i++
	}
	if len(parts) == 0 {
		return "a " + bg.String() + " background"
	}
	list := strings.Join(parts, ", ")
	if len(parts) > 1 {
		list = strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
	switch rng.IntN(3) {
	case 0:
		return list + " on a " + bg.String() + " background"
	case 1:
		return list + " against a " + bg.String() + " background"
	}
	return "a " + bg.String() + " background with " + list
}
