#!/usr/bin/env bash
# Compiles model/cuda/kernels/*.cu to PTX (model/cuda/ptx/*.ptx), which is committed and embedded, so
# building and running the cuda flavour needs no nvcc. Run by `go generate ./model/cuda` after a kernel
# changes. compute_70 PTX is JIT-compiled by the driver for any GPU from Volta on (Hopper included).
# Exact arithmetic flags (no fused multiply-add contraction, IEEE division and square root) keep the
# kernels within rounding of the CPU ops they are checked against.
set -euo pipefail
cd "$(dirname "$0")/../../model/cuda"
command -v nvcc >/dev/null || { echo "nvcc not found (Debian: apt-get install nvidia-cuda-toolkit, from non-free)" >&2; exit 1; }
ARCH=${PTX_ARCH:-compute_70}
mkdir -p ptx
for f in kernels/*.cu; do
  name=$(basename "$f" .cu)
  nvcc -arch="$ARCH" -ptx -fmad=false -prec-div=true -prec-sqrt=true -ftz=false -Wno-deprecated-gpu-targets \
    -o "ptx/$name.ptx" "$f"
done
echo "wrote $(ls ptx/*.ptx | wc -l) PTX modules ($(nvcc --version | grep -o 'release [0-9.]*'), $ARCH)"
