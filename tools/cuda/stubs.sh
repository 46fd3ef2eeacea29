#!/usr/bin/env bash
# Builds link-only stub libraries (libcuda.so, libcublas.so, libcudnn.so) into DIR from the declarations
# in tools/cuda/include, so `go build -tags cuda` links without the CUDA toolkit. Each stub carries the
# SONAME of the real library a GPU machine has (CUBLAS_SONAME, CUDNN_SONAME override), so the binary asks
# for that library by name at run time; the stubs themselves are never loaded.
# usage: tools/cuda/stubs.sh DIR
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir=${1:?usage: stubs.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
CUBLAS_SONAME=${CUBLAS_SONAME:-libcublas.so.13}
CUDNN_SONAME=${CUDNN_SONAME:-libcudnn.so.9}
CC=${CC:-gcc}
(cd "$root" && go build -o "$dir/gendecls" ./tools/cuda/gendecls)
build() { # header lib soname
  "$dir/gendecls" -mode stubs -o "$dir/$2.c" "$root/tools/cuda/include/$1"
  "$CC" -shared -fPIC -O0 -o "$dir/$2.so" -Wl,-soname,"$3" "$dir/$2.c"
}
build cuda.h libcuda libcuda.so.1
build cublas_v2.h libcublas "$CUBLAS_SONAME"
build cudnn.h libcudnn "$CUDNN_SONAME"
