#!/usr/bin/env bash
# The device verification, on a machine with an NVIDIA GPU (docs/DESIGN.md §16): runs bin/gpucheck
# (built by `make cuda`), which compares every CUDA kernel with the CPU op it replaces and prints one
# table ending in "N passed, N failed". The binary needs the GPU machine's libcuda.so.1, libcublas.so.13
# and a libcudnn.so.9 (any: only its handle is created); CUBLAS_DIR / CUDNN_DIR add folders to search.
# usage: tools/gpu-check.sh [--dry-run] [gpucheck flags, e.g. --device 1 --only attention]
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${GPUCHECK:-bin/gpucheck}
if [ "${1:-}" = "--dry-run" ]; then
  go run ./tools/gpucheck --dry-run
  exit
fi
[ -x "$bin" ] || { echo "$bin not found: run make cuda first" >&2; exit 1; }
dirs=()
for d in "${CUBLAS_DIR:-}" "${CUDNN_DIR:-}" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -n "$d" ] && [ -d "$d" ] && dirs+=("$d")
done
# pip wheels of the CUDA libraries (nvidia-cublas, nvidia-cudnn) put them under site-packages/nvidia.
for py in python3 python; do
  command -v "$py" >/dev/null || continue
  while read -r d; do [ -d "$d" ] && dirs+=("$d"); done < <("$py" -c 'import site,glob
for s in site.getsitepackages(): print("\n".join(glob.glob(s+"/nvidia/*/lib")))' 2>/dev/null)
  break
done
export LD_LIBRARY_PATH="$(IFS=:; echo "${dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unset LD_BIND_NOW # cuDNN 9 lacks some cuDNN 8 functions gorgonia.org/cu/dnn wraps: bind lazily
missing=$(ldd "$bin" | grep 'not found')
if [ -n "$missing" ]; then
  echo "$bin: libraries not found (set CUBLAS_DIR / CUDNN_DIR):" >&2
  echo "$missing" >&2
  exit 1
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
exec "$bin" "$@"
