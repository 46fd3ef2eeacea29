#!/usr/bin/env bash
# The device verification, on a machine with an NVIDIA GPU (docs/DESIGN.md §16), from the binaries
# `make cuda` builds (bin/gpucheck, bin/lumina-cuda; a Go toolchain is not needed there):
#   1. bin/gpucheck: every CUDA kernel against the CPU op it replaces, and whole programs (a training
#      step's loss and gradients, a sampling forward, a 200-step loss curve) against the CPU, in one table
#      ending "N passed, N failed";
#   2. speed: `lumina bench train --device cuda` against the PyTorch reference on the same GPU, at the
#      tiny config (batch 64, 32 px) and at the base config (batch 16, 64 px, patch 2);
#   3. with --train DIR: the gpu-base preset trained on the GPU into DIR, then scored by
#      `lumina eval --suite all --repeats 3` on the GPU.
# The binaries need the GPU machine's libcuda.so.1, libcublas.so.13 and a libcudnn.so.9 (any: only its
# handle is created); CUBLAS_DIR / CUDNN_DIR add folders to search. PYTHON names the Python with torch.
# usage: tools/gpu-check.sh [--dry-run] [--no-speed] [--train DIR] [gpucheck flags, e.g. --only attention]
set -uo pipefail
cd "$(dirname "$0")/.."
check=${GPUCHECK:-bin/gpucheck}
lumina=${LUMINA_CUDA:-bin/lumina-cuda}
speed=1
train=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) go run ./tools/gpucheck --dry-run; exit ;;
    --no-speed) speed=0 ;;
    --train) train=${2:?--train needs a folder}; shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
for b in "$check" "$lumina"; do
  [ -x "$b" ] || { echo "$b not found: run make cuda first" >&2; exit 1; }
done
dirs=()
for d in "${CUBLAS_DIR:-}" "${CUDNN_DIR:-}" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -n "$d" ] && [ -d "$d" ] && dirs+=("$d")
done
# pip wheels of the CUDA libraries (nvidia-cublas, nvidia-cudnn) put them under site-packages/nvidia.
py=${PYTHON:-}
for cand in python3 python; do
  [ -n "$py" ] && break
  command -v "$cand" >/dev/null && py=$cand
done
if [ -n "$py" ]; then
  while read -r d; do [ -d "$d" ] && dirs+=("$d"); done < <("$py" -c 'import site,glob
for s in site.getsitepackages(): print("\n".join(glob.glob(s+"/nvidia/*/lib")))' 2>/dev/null)
fi
export LD_LIBRARY_PATH="$(IFS=:; echo "${dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unset LD_BIND_NOW # cuDNN 9 lacks some cuDNN 8 functions gorgonia.org/cu/dnn wraps: bind lazily
for b in "$check" "$lumina"; do
  missing=$(ldd "$b" | grep 'not found')
  if [ -n "$missing" ]; then
    echo "$b: libraries not found (set CUBLAS_DIR / CUDNN_DIR):" >&2
    echo "$missing" >&2
    exit 1
  fi
done
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
"$check" "${args[@]}"
status=$?
if [ "$speed" = 1 ]; then
  ref=()
  [ -n "$py" ] && ref=(--python "$(command -v "$py")")
  echo
  echo "speed (a): tiny, batch 64, 32 px"
  "$lumina" bench train --device cuda --batch 64 --res 32 --steps 20 "${ref[@]}" || status=1
  echo
  echo "speed (b): base (dim 512, 12 layers, patch 2), batch 16, 64 px"
  "$lumina" bench train --device cuda --model base --res 64 --batch 16 --steps 10 "${ref[@]}" || status=1
fi
if [ -n "$train" ]; then
  echo
  echo "quality: gpu-base trained on the GPU into $train"
  "$lumina" train --preset gpu-base --device cuda --run "$train" || exit 1
  "$lumina" eval --device cuda --ckpt "$train/final.safetensors" --suite all --repeats 3 || status=1
fi
exit $status
