package world

import "fmt"

// ObjectRef picks objects by the attributes it names; a nil field matches anything.
type ObjectRef struct {
	Colour *Colour `json:"colour,omitempty"`
	Shape  *Shape  `json:"shape,omitempty"`
	Size   *Size   `json:"size,omitempty"`
	Cell   *Cell   `json:"cell,omitempty"`
}

// Matches reports whether o has every attribute r names.
func (r ObjectRef) Matches(o Object) bool {
	return (r.Colour == nil || *r.Colour == o.Colour) &&
		(r.Shape == nil || *r.Shape == o.Shape) &&
		(r.Size == nil || *r.Size == o.Size) &&
		(r.Cell == nil || *r.Cell == o.Cell())
}

// FactKind says what a Fact asserts.
type FactKind uint8

const (
	// FactExists: some object matches Obj.
	FactExists FactKind = iota
	// FactCount: exactly Count objects match Obj.
	FactCount
	// FactRelation: some object matching Obj is Rel of some other object matching Other.
	FactRelation
	// FactBackground: the background is Background.
	FactBackground
	// FactDomain: the render style is Domain.
	FactDomain
)

// Fact is one checkable statement about a scene: what captions state, what prompts ask for, and what
// ToyEval checks in a parsed image.
type Fact struct {
	Kind       FactKind     `json:"kind"`
	Obj        ObjectRef    `json:"obj"`
	Count      int          `json:"count,omitempty"`
	Other      ObjectRef    `json:"other"`
	Rel        RelationKind `json:"rel,omitempty"`
	Background Background   `json:"background,omitempty"`
	Domain     Domain       `json:"domain,omitempty"`
}

// Holds reports whether the fact is true of s.
func (f Fact) Holds(s Scene) bool {
	switch f.Kind {
	case FactExists:
		for _, o := range s.Objects {
			if f.Obj.Matches(o) {
				return true
			}
		}
		return false
	case FactCount:
		n := 0
		for _, o := range s.Objects {
			if f.Obj.Matches(o) {
				n++
			}
		}
		return n == f.Count
	case FactRelation:
		for _, r := range s.Relations() {
			if r.Kind == f.Rel && f.Obj.Matches(s.Objects[r.A]) && f.Other.Matches(s.Objects[r.B]) {
				return true
			}
		}
		return false
	case FactBackground:
		return s.Background == f.Background
	case FactDomain:
		return s.Domain == f.Domain
	}
	return false
}

// Ptr returns a pointer to v, for building ObjectRefs.
func Ptr[T any](v T) *T { return &v }

// ValidateFacts checks facts read from outside: known kinds and attribute values in range.
func ValidateFacts(fs []Fact) error {
	ref := func(r ObjectRef) error {
		switch {
		case r.Colour != nil && int(*r.Colour) >= NumColours:
			return fmt.Errorf("colour %d out of range", *r.Colour)
		case r.Shape != nil && int(*r.Shape) >= NumShapes:
			return fmt.Errorf("shape %d out of range", *r.Shape)
		case r.Size != nil && int(*r.Size) >= NumSizes:
			return fmt.Errorf("size %d out of range", *r.Size)
		case r.Cell != nil && int(*r.Cell) >= NumCells:
			return fmt.Errorf("cell %d out of range", *r.Cell)
		}
		return nil
	}
	for i, f := range fs {
		var err error
		switch f.Kind {
		case FactExists:
			err = ref(f.Obj)
		case FactCount:
			err = ref(f.Obj)
			// A count above MaxObjects is a fact no scene satisfies ("six triangles", which the caption
			// reader reads): it is judged false, not refused.
			if err == nil && f.Count < 0 {
				err = fmt.Errorf("count %d is negative", f.Count)
			}
		case FactRelation:
			if err = ref(f.Obj); err == nil {
				err = ref(f.Other)
			}
			if err == nil && f.Rel > Below {
				err = fmt.Errorf("relation %d out of range", f.Rel)
			}
		case FactBackground:
			if int(f.Background) >= NumBackgrounds {
				err = fmt.Errorf("background %d out of range", f.Background)
			}
		case FactDomain:
			if int(f.Domain) >= NumDomains {
				err = fmt.Errorf("domain %d out of range", f.Domain)
			}
		default:
			err = fmt.Errorf("unknown kind %d", f.Kind)
		}
		if err != nil {
			return fmt.Errorf("fact %d: %w", i, err)
		}
	}
	return nil
}
