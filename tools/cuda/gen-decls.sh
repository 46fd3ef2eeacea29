#!/usr/bin/env bash
# Regenerates tools/cuda/include/{cuda.h,cublas_v2.h,cudnn.h}, the declarations that let the cuda build
# compile without the CUDA toolkit (docs/DESIGN.md §16). Needs the toolkit's headers (Debian:
# nvidia-cuda-dev, in non-free) in CUDA_INCLUDE; cuDNN's are inferred from gorgonia.org/cu/dnn itself.
# Run it when gorgonia.org/cu changes version; commit the result.
set -euo pipefail
cd "$(dirname "$0")/../.."
CUDA_INCLUDE=${CUDA_INCLUDE:-/usr/include}
[ -f "$CUDA_INCLUDE/cuda.h" ] || { echo "no cuda.h in $CUDA_INCLUDE: install nvidia-cuda-dev or set CUDA_INCLUDE" >&2; exit 1; }
CU=$(go list -m -f '{{.Dir}}' gorgonia.org/cu)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/gendecls" ./tools/cuda/gendecls
out=tools/cuda/include
# cu's cgo, and the project's own cgo under model/cuda if it has any.
"$tmp/gendecls" -mode headers -include "$CUDA_INCLUDE" -o $out/cuda.h cuda.h "$CU" model/cuda
"$tmp/gendecls" -mode headers -include "$CUDA_INCLUDE" -o $out/cublas_v2.h cublas_v2.h "$CU/blas"
"$tmp/gendecls" -mode cudnn -o $out/cudnn.h "$CU/dnn"
wc -l $out/*.h
