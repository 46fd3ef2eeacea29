package ops

import (
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestBLASRouting: under the openblas tag both precisions go to the cgo OpenBLAS binding, otherwise to
// gonum's pure Go; BLAS names whichever it is.
func TestBLASRouting(t *testing.T) {
	_, native32 := blas32.Implementation().(gonum.Implementation)
	_, native64 := blas64.Implementation().(gonum.Implementation)
	openblas := strings.HasPrefix(BLAS, "OpenBLAS")
	if native32 == openblas || native64 == openblas {
		t.Fatalf("BLAS %q but blas32 native = %t, blas64 native = %t", BLAS, native32, native64)
	}
	t.Logf("BLAS: %s", BLAS)
}
