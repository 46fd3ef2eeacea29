#!/usr/bin/env bash
# Regenerates the parity fixtures from the PyTorch reference (needs /usr/bin/python3 with torch).
# The committed files were made with exactly this command; the Go parity test reads them.
set -euo pipefail
cd "$(dirname "$0")"
ref=../../../../shared/bench
/usr/bin/python3 "$ref/ref_nextdit.py" --export . --dim 64 --layers 2 --heads 4 --kv 2 --refiners 1 \
  --axes 4,6,6 --multiple-of 32 --res 16 --patch 4 --cap 6
/usr/bin/python3 gen_rope.py "$ref"
