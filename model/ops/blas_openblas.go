//go:build openblas

package ops

/*
#cgo LDFLAGS: -lopenblas
extern void openblas_set_num_threads(int);
*/
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// BLAS names the BLAS behind Linear and gorgonia's own matmuls: OpenBLAS through gonum's netlib binding.
const BLAS = "OpenBLAS (netlib cgo, 1 thread)"

func init() {
	// Our kernels parallelise with goroutines, each calling single-threaded gemm; OpenBLAS's own threads
	// would spin-wait against them and oversubscribe the cores (43% of the time went to spin-waits when both did).
	C.openblas_set_num_threads(1)
	impl := netlib.Implementation{}
	blas32.Use(impl)
	blas64.Use(impl)
	G.Use(impl)
}
