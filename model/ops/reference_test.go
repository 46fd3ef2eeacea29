package ops

import (
	"math"
	"testing"
)

// The reference wrappers compute what the ops do: spot values by hand.
func TestReferenceWrappers(t *testing.T) {
	y, dx := RefSiLU([]float32{0, 2}, []float32{1, 1})
	if y[0] != 0 || math.Abs(float64(y[1])-2/(1+math.Exp(-2))) > 1e-6 || dx[0] != 0.5 {
		t.Fatalf("silu %v %v", y, dx)
	}
	r, _, dw := RefRMSNorm([]float32{3, 4}, []float32{1, 2}, []float32{1, 0}, 0)
	rs := 1 / math.Sqrt(12.5)
	if math.Abs(float64(r[0])-3*rs) > 1e-6 || math.Abs(float64(r[1])-8*rs) > 1e-6 || math.Abs(float64(dw[0])-3*rs) > 1e-6 {
		t.Fatalf("rmsnorm %v dw %v", r, dw)
	}
	if _, _, _, _, err := RefAttention(1, 1, AttnOpts{Heads: 3, KVHeads: 2}, nil, []float32{1, 1}, nil, nil, nil, nil, nil); err == nil {
		t.Fatal("3 heads on 2 kv heads accepted")
	}
}
