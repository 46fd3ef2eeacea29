package data

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
