package infer

// Guide combines one sample's conditional and unconditional velocities with classifier-free guidance,
// v = v_u + w·(v_c − v_u), then applies CFG-Renorm when renorm > 0: with m = ‖v_c‖·renorm over all of
// C, H, W, if ‖v‖ ≥ m then v ← v·m/‖v‖. The clamp only ever shrinks v; it never enlarges a small one.
// vc and vu must have the same length; the result is a new slice.
func Guide(vc, vu []float32, w, renorm float64) []float32 {
	v := make([]float32, len(vc))
	w32 := float32(w)
	for i := range v {
		v[i] = vu[i] + w32*(vc[i]-vu[i])
	}
	if renorm > 0 {
		m := norm2(vc) * renorm
		n := norm2(v)
		// n > 0 guards the 0/0 of an all-zero v (then m is 0 too and there is nothing to clamp).
		if n >= m && n > 0 {
			f := float32(m / n)
			for i := range v {
				v[i] *= f
			}
		}
	}
	return v
}
