//go:build !openblas

package ops

// BLAS names the BLAS behind Linear and gorgonia's own matmuls: gonum's pure-Go implementation.
const BLAS = "gonum (pure Go)"
