#!/usr/bin/env bash
# Regenerates the parity fixtures of the cross-attention variant (text_injection: cross) with the
# repository's PyTorch reference, tools/reference/nextdit.py: the architecture of ../parity/gen.sh with
# the caption read by cross-attention. Byte-reproducible for the reasons given there (products without
# BLAS, ATEN_CPU_CAPABILITY=default, one thread). The Go parity test reads the files.
set -euo pipefail
cd "$(dirname "$0")"
ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 /usr/bin/python3 ../../../tools/reference/nextdit.py --export . \
  --dim 64 --layers 2 --heads 4 --kv 2 --refiners 1 --axes 4,6,6 --multiple-of 32 --res 16 --patch 4 --cap 6 \
  --text-injection cross
