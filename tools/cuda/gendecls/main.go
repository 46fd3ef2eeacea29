// Command gendecls writes the project's minimal CUDA declarations headers (tools/cuda/include), which
// let `go build -tags cuda` compile gorgonia.org/cu, cu/blas and cu/dnn on a machine without the CUDA
// toolkit or cuDNN. It is a developer's tool, run by tools/cuda/gen.sh; CI only uses its output.
//
//   - cuda.h and cublas_v2.h: the declarations, out of an installed toolkit's headers, of exactly the
//     identifiers the cgo code names (C.x), and what those need, in the toolkit's order (mode headers).
//   - cudnn.h: cuDNN is in no package registry this project can use, so its declarations are inferred
//     from gorgonia.org/cu/dnn's own Go code: each function's parameter types from the arguments its call
//     sites pass, each enum's constants from the Go constants that name them (mode cudnn). The enum
//     values are placeholders (distinct per type, cudnnStatus_t's success 0); the project calls no
//     cuDNN function but the handle's create and destroy, which gorgonia's engine makes.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	mode := flag.String("mode", "", "headers, cudnn or stubs")
	out := flag.String("o", "", "output file")
	include := flag.String("include", "/usr/include", "folder of the installed CUDA headers (mode headers)")
	flag.Parse()
	var src []byte
	var err error
	switch *mode {
	case "headers":
		// Arguments: the headers to subset, then the package folders whose C.x they must declare.
		src, err = subsetHeaders(*include, flag.Args())
	case "cudnn":
		// Argument: the gorgonia.org/cu/dnn folder.
		if flag.NArg() != 1 {
			err = fmt.Errorf("mode cudnn takes the cu/dnn folder")
		} else {
			src, err = cudnnDecls(flag.Arg(0))
		}
	case "stubs":
		// Argument: a generated header.
		if flag.NArg() != 1 {
			err = fmt.Errorf("mode stubs takes a header")
		} else {
			src, err = stubSource(flag.Arg(0))
		}
	default:
		err = fmt.Errorf("-mode must be headers, cudnn or stubs")
	}
	if err == nil && *out == "" {
		err = fmt.Errorf("-o is required")
	}
	if err == nil {
		err = os.WriteFile(*out, src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendecls:", err)
		os.Exit(1)
	}
}
