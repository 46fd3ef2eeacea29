#!/usr/bin/env bash
# Regenerates the parity fixtures with the repository's PyTorch reference, tools/reference/nextdit.py
# (needs /usr/bin/python3 with torch and numpy: Debian's python3-torch). The committed files are exactly
# this command's output, byte for byte, whichever BLAS library torch is linked with: the export computes
# its products without BLAS, and ATEN_CPU_CAPABILITY=default keeps torch on the kernels every x86-64 CPU
# runs, so the rounding does not depend on the machine either. The Go parity test reads the files.
set -euo pipefail
cd "$(dirname "$0")"
ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 /usr/bin/python3 ../../../tools/reference/nextdit.py --export . \
  --dim 64 --layers 2 --heads 4 --kv 2 --refiners 1 --axes 4,6,6 --multiple-of 32 --res 16 --patch 4 --cap 6
