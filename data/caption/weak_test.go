package caption

import (
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"

	"github.com/lumina-workbench/lumina/data/world"
)

type weakMention struct {
	c  world.Colour
	sh world.Shape
}

// weakMeasure reads a weak caption back with Read, item by item (the caption lists its objects
// in the scene's order, separated by commas, "and", "with", "on"/"against"), and counts against the
// scene the stated attributes, the wrong ones and the objects left out. The mentions are lined up with
// the objects in order by the alignment with the fewest mismatches; when objects were left out that
// alignment may pair a wrong mention with a neighbour it happens to fit better, so the measured error
// rate can only be a slight underestimate.
func weakMeasure(t *testing.T, s world.Scene, text string) (stated, wrong, omitted int) {
	t.Helper()
	var ms []weakMention
	bgSaid := 0
	for _, piece := range weakSplit.Split(text, -1) {
		fs, err := Read(piece, En)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			switch {
			case f.Kind == world.FactBackground:
				bgSaid++
				stated++
				if !f.Holds(s) {
					wrong++
				}
			case (f.Kind == world.FactExists || f.Kind == world.FactCount) && f.Obj.Colour != nil && f.Obj.Shape != nil &&
				f.Obj.Size == nil && f.Obj.Cell == nil:
				n := 1
				if f.Kind == world.FactCount {
					n = f.Count
				}
				for range n {
					ms = append(ms, weakMention{*f.Obj.Colour, *f.Obj.Shape})
				}
			default:
				t.Fatalf("weak caption %q: unexpected fact %s in %q", text, factKey(f), piece)
			}
		}
	}
	if bgSaid != 1 {
		t.Fatalf("weak caption %q states the background %d times", text, bgSaid)
	}
	m, n := len(ms), len(s.Objects)
	if m > n {
		t.Fatalf("weak caption %q names %d objects, the scene has %d", text, m, n)
	}
	stated += 2 * m
	omitted = n - m
	// dp[i][j]: fewest mismatches aligning the first i mentions with some i of the first j objects.
	const inf = math.MaxInt / 2
	dp := make([][]int, m+1)
	for i := range dp {
		dp[i] = make([]int, n+1)
		for j := range dp[i] {
			if i > 0 {
				dp[i][j] = inf
			}
		}
	}
	for i := 1; i <= m; i++ {
		for j := i; j <= n; j++ {
			c := 0
			if ms[i-1].c != s.Objects[j-1].Colour {
				c++
			}
			if ms[i-1].sh != s.Objects[j-1].Shape {
				c++
			}
			dp[i][j] = min(dp[i][j-1], dp[i-1][j-1]+c)
		}
	}
	return stated, wrong + dp[m][n], omitted
}

var weakSplit = regexp.MustCompile(`,| and | with | on a | against a `)

func TestWeakCaptionerRates(t *testing.T) {
	for _, w := range []WeakCaptioner{{ErrorRate: 0.1, OmissionRate: 0.1}, {ErrorRate: 0.3, OmissionRate: 0.2}} {
		rng := rand.New(rand.NewPCG(13, 14))
		var stated, wrong, omitted, objects int
		for i := 0; i < 5000; i++ {
			s := hardScene(rng)
			st, wr, om := weakMeasure(t, s, w.Caption(s, rng))
			stated, wrong, omitted, objects = stated+st, wrong+wr, omitted+om, objects+len(s.Objects)
		}
		er := float64(wrong) / float64(stated)
		or := float64(omitted) / float64(objects)
		t.Logf("%+v: measured error rate %.4f over %d attributes, omission rate %.4f over %d objects", w, er, stated, or, objects)
		if math.Abs(er-w.ErrorRate) > 0.02 {
			t.Errorf("%+v: measured error rate %.4f", w, er)
		}
		if math.Abs(or-w.OmissionRate) > 0.02 {
			t.Errorf("%+v: measured omission rate %.4f", w, or)
		}
	}
}

// A perfect weak captioner says the short caption's facts and the background, all true.
func TestWeakCaptionerPerfect(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for i := 0; i < 500; i++ {
		s := hardScene(rng)
		text := WeakCaptioner{}.Caption(s, rng)
		fs, err := Read(text, En)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if !f.Holds(s) {
				t.Fatalf("%q: false fact %s", text, factKey(f))
			}
		}
		// Each object is named once; a repeated kind read whole collapses to one fact, so count by item.
		if st, wr, om := weakMeasure(t, s, text); wr != 0 || om != 0 || st != 2*len(s.Objects)+1 {
			t.Fatalf("%q: %d stated, %d wrong, %d omitted", text, st, wr, om)
		}
		// Grouped kinds state exact counts, as the short caption would.
		short := factKeys(Facts(s, Short))
		for _, f := range fs {
			if f.Kind == world.FactCount && !slices.Contains(short, factKey(f)) {
				t.Fatalf("%q: count %s not in the short caption's facts", text, factKey(f))
			}
		}
	}
}

func TestWeakCaptionerValidate(t *testing.T) {
	if err := (WeakCaptioner{0.1, 0.2}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, w := range []WeakCaptioner{{-0.1, 0}, {0, 1.5}, {math.NaN(), 0}} {
		if err := w.Validate(); err == nil {
			t.Errorf("%+v accepted", w)
		}
	}
	s := world.Scene{Background: world.Black, Objects: []world.Object{{Shape: world.Circle, Colour: world.Red, X: 0.5, Y: 0.5}}}
	if got := (WeakCaptioner{OmissionRate: 1}).Caption(s, rand.New(rand.NewPCG(1, 1))); got != "a black background" {
		t.Fatalf("all omitted: %q", got)
	}
}
