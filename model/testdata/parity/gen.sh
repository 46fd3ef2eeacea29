#!/usr/bin/env bash
# Regenerates the parity fixtures with the repository's PyTorch reference, tools/reference/nextdit.py
# (needs /usr/bin/python3 with torch and numpy). The committed files are exactly this command's output,
# byte for byte; the Go parity test reads them.
set -euo pipefail
cd "$(dirname "$0")"
/usr/bin/python3 ../../../tools/reference/nextdit.py --export . --dim 64 --layers 2 --heads 4 --kv 2 \
  --refiners 1 --axes 4,6,6 --multiple-of 32 --res 16 --patch 4 --cap 6
