package world

import (
	"encoding/json"
	"fmt"
)

// Object is one shape in a scene. X and Y are its centre as fractions of the image width and height
// (x to the right, y downward), so the same scene renders at any resolution and aspect.
type Object struct {
	Shape  Shape   `json:"shape"`
	Colour Colour  `json:"colour"`
	Size   Size    `json:"size"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
}

// Cell is the 3×3 grid position of the object's centre.
func (o Object) Cell() Cell { return CellAt(o.X, o.Y) }

// Degradation lowers a render's quality; each field is a strength in [0, 1] (0 = none).
type Degradation struct {
	Noise   float64 `json:"noise,omitempty"`
	Blur    float64 `json:"blur,omitempty"`
	Clutter float64 `json:"clutter,omitempty"`
	// Clip pushes objects partly over the border.
	Clip float64 `json:"clip,omitempty"`
}

// Scene is everything a render, a caption and a judgement are made from.
type Scene struct {
	Background  Background  `json:"background"`
	Domain      Domain      `json:"domain"`
	Objects     []Object    `json:"objects"`
	Degradation Degradation `json:"degradation"`
}

// RelationKind is a spatial relation between two objects' centres.
type RelationKind uint8

const (
	LeftOf RelationKind = iota
	RightOf
	Above
	Below
	NumRelationKinds int = iota
)

var relationInfo = [...]struct{ name, zh string }{
	LeftOf:  {"left of", "在…左边"},
	RightOf: {"right of", "在…右边"},
	Above:   {"above", "在…上方"},
	Below:   {"below", "在…下方"},
}

func (k RelationKind) String() string { return relationInfo[k].name }

// Zh is the Chinese phrase, e.g. "在…左边".
func (k RelationKind) Zh() string { return relationInfo[k].zh }

// Relation says Objects[A] is Kind Objects[B].
type Relation struct {
	A, B int
	Kind RelationKind
}

// RelationMargin is how far apart (as a fraction of the side) two centres must be along an axis
// before a relation along that axis is stated: closer than this, "left of" would be a guess.
const RelationMargin = 0.15

// Relations derives every clear relation between pairs of objects from their centres.
func (s Scene) Relations() []Relation {
	var rs []Relation
	for a := range s.Objects {
		for b := range s.Objects {
			if a == b {
				continue
			}
			oa, ob := s.Objects[a], s.Objects[b]
			if ob.X-oa.X >= RelationMargin {
				rs = append(rs, Relation{a, b, LeftOf})
			}
			if oa.X-ob.X >= RelationMargin {
				rs = append(rs, Relation{a, b, RightOf})
			}
			if ob.Y-oa.Y >= RelationMargin {
				rs = append(rs, Relation{a, b, Above})
			}
			if oa.Y-ob.Y >= RelationMargin {
				rs = append(rs, Relation{a, b, Below})
			}
		}
	}
	return rs
}

// MaxObjects is the most objects a scene holds.
const MaxObjects = 4

// Validate checks the invariants a scene read from outside (JSON, a config) must hold.
func (s Scene) Validate() error {
	if n := len(s.Objects); n < 1 || n > MaxObjects {
		return fmt.Errorf("scene has %d objects, want 1 to %d", n, MaxObjects)
	}
	for i, o := range s.Objects {
		if int(o.Shape) >= NumShapes || int(o.Colour) >= NumColours || int(o.Size) >= NumSizes {
			return fmt.Errorf("object %d: shape, colour or size out of range", i)
		}
		if o.X < 0 || o.X > 1 || o.Y < 0 || o.Y > 1 {
			return fmt.Errorf("object %d: centre (%.3g, %.3g) outside [0,1]²", i, o.X, o.Y)
		}
	}
	if int(s.Background) >= NumBackgrounds || int(s.Domain) >= NumDomains {
		return fmt.Errorf("background or domain out of range")
	}
	d := s.Degradation
	for _, v := range []float64{d.Noise, d.Blur, d.Clutter, d.Clip} {
		if v < 0 || v > 1 {
			return fmt.Errorf("degradation strength %.3g outside [0,1]", v)
		}
	}
	return nil
}

// ParseSceneJSON reads and validates a scene; unknown names get an error that lists the allowed ones.
func ParseSceneJSON(b []byte) (Scene, error) {
	var s Scene
	if err := json.Unmarshal(b, &s); err != nil {
		return Scene{}, fmt.Errorf("parse scene: %w", err)
	}
	if err := s.Validate(); err != nil {
		return Scene{}, fmt.Errorf("invalid scene: %w", err)
	}
	return s, nil
}
