package ops

import (
	"reflect"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// heldBytes is what the slices of a cache hold (their capacity), its workers' scratch included,
// found by walking its fields so that a buffer added to a cache is counted without a change here.
func heldBytes(v reflect.Value) int64 {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return 0
		}
		return heldBytes(v.Elem())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			var n int64
			for i := range v.Len() {
				n += heldBytes(v.Index(i))
			}
			return n
		}
		return int64(v.Cap()) * int64(v.Type().Elem().Size())
	case reflect.Struct:
		var n int64
		for i := range v.NumField() {
			n += heldBytes(v.Field(i))
		}
		return n
	}
	return 0
}

// What StateBytes predicts for the forward and backward nodes of the fused attentions equals what
// their caches hold after a forward and backward run, self- and cross-attention, both dtypes, and
// forward-only graphs hold the forward's part alone.
func TestStateBytesIsWhatAttentionHolds(t *testing.T) {
	sc := newAttnCase(21, []int{2, 3}, 2, 2, 4, 2, [3]int{2, 2, 4}, false)
	xc := newXattnCase(81, 5, 4, 2, 6, []int{3, 1, 0})
	for _, tc := range []struct {
		name string
		ins  []tin
		fn   graphFn
	}{
		{"self", attnIns(sc, true), attnFn(sc.s, true)},
		{"cross", xc.ins(true), xc.fn(true)},
	} {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			for _, grad := range []bool{false, true} {
				h, err := newHarness(dt, tc.ins, tc.fn, grad)
				if err != nil {
					t.Fatal(err)
				}
				if err := h.run(); err != nil {
					t.Fatal(err)
				}
				var want, held int64
				for _, n := range h.g.AllNodes() {
					var in []tensor.Shape
					for it := h.g.From(n.ID()); it.Next(); {
						in = append(in, it.Node().(*G.Node).Shape())
					}
					b, err := StateBytes(n.Op(), in, dt)
					if err != nil {
						t.Fatal(err)
					}
					want += b
					if f, ok := n.Op().(*fwdOp); ok {
						held += heldBytes(reflect.ValueOf(f.k).Elem())
					}
				}
				h.m.Close()
				if want == 0 || held != want {
					t.Errorf("%s %v grad=%t: StateBytes %d, the caches hold %d", tc.name, dt, grad, want, held)
				}
			}
		}
	}
}
