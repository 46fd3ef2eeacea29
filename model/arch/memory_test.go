package arch

import (
	"math"
	"testing"
)

// TestForwardBytesByInjection: a main layer of the cross-injection model holds the image tokens through
// the whole block, the caption tokens once more at width dim (its keys and values), and image × image
// plus image × caption scores; the joint model holds caption + image tokens throughout with their square
// of scores. The difference of the two estimates is that, summed over the main layers, plus the extra
// parameters; the refiners cost the same in both.
func TestForwardBytesByInjection(t *testing.T) {
	joint, _ := LookupConfig("tiny")
	cross := joint
	cross.TextInjection = TextCross
	m := forwardMemory
	const b, side, capLen = 2, 32, 40
	img := float64((side / joint.Patch) * (side / joint.Patch))
	D, F, H, c := float64(joint.Dim), float64(joint.FFNHidden()), float64(joint.Heads), float64(capLen)
	perTok := m.perTokenD*D + m.perTokenF*F
	jointLayer := b*(img+c)*perTok + m.perScore*b*H*(img+c)*(img+c)
	crossLayer := b*img*perTok + m.perTokenD*b*(img+c)*D + m.perScore*b*H*(img*img+img*c)
	want := float64(joint.Layers)*(crossLayer-jointLayer) + m.perParam*float64(cross.ParamCount()-joint.ParamCount())
	got := float64(cross.ForwardBytes(b, side, side, capLen) - joint.ForwardBytes(b, side, side, capLen))
	if math.Abs(got-want) > 2 { // the two estimates are rounded to bytes
		t.Fatalf("cross - joint forward estimate %.0f bytes, want %.0f", got, want)
	}
	// At this shape the caption dominates: the cross model, whose main layers skip the caption's FFN
	// and its quadratic scores, needs less.
	if got >= 0 {
		t.Errorf("cross estimate not below joint with %d caption tokens and %.0f image tokens", capLen, img)
	}
}
