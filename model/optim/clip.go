package optim

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// ErrNonFiniteNorm is returned by ClipGradNorm when the gradients hold a NaN or an infinity; the
// gradients are then left as they are and the caller should skip the step.
var ErrNonFiniteNorm = errors.New("gradient norm is not finite")

// GlobalNorm is the L2 norm of all gradients taken together, accumulated in float64.
func GlobalNorm(grads []*tensor.Dense) (float64, error) {
	var ss float64
	for i, g := range grads {
		if err := checkDense(g, "grad", i); err != nil {
			return 0, fmt.Errorf("global norm: %w", err)
		}
		switch g.Dtype() {
		case tensor.Float32:
			for _, v := range g.Float32s() {
				ss += float64(v) * float64(v)
			}
		case tensor.Float64:
			for _, v := range g.Float64s() {
				ss += v * v
			}
		}
	}
	return math.Sqrt(ss), nil
}

// ClipGradNorm is torch.nn.utils.clip_grad_norm_: it returns the global norm before clipping and,
// when that norm exceeds maxNorm, scales every gradient by maxNorm/(norm + 1e-6).
func ClipGradNorm(grads []*tensor.Dense, maxNorm float64) (float64, error) {
	if !(maxNorm > 0) {
		return 0, fmt.Errorf("clip grad norm: max norm %g, must be positive", maxNorm)
	}
	norm, err := GlobalNorm(grads)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, ErrNonFiniteNorm
	}
	coef := maxNorm / (norm + 1e-6)
	if coef >= 1 {
		return norm, nil
	}
	for _, g := range grads {
		switch g.Dtype() {
		case tensor.Float32:
			s := g.Float32s()
			for j := range s {
				s[j] = float32(float64(s[j]) * coef)
			}
		case tensor.Float64:
			s := g.Float64s()
			for j := range s {
				s[j] *= coef
			}
		}
	}
	return norm, nil
}

// ZeroGrads sets every gradient to zero: gorgonia accumulates gradients across runs otherwise.
func ZeroGrads(grads []*tensor.Dense) error {
	for i, g := range grads {
		if err := checkDense(g, "grad", i); err != nil {
			return fmt.Errorf("zero grads: %w", err)
		}
		switch g.Dtype() {
		case tensor.Float32:
			clear(g.Float32s())
		case tensor.Float64:
			clear(g.Float64s())
		}
	}
	return nil
}
