#!/usr/bin/env bash
# Caption-length check: the same (shortened) tiny-cpu preset trained on tag-only, short-only and
# detailed-only captions, then each final checkpoint scored on the full ToyEval suite.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-runs/caplen}
mkdir -p "$out"
for v in tag short detailed; do
	./bin/lumina train --config "docs/experiments/caption-length/$v.yaml" --run "$out/$v" | grep -a 'finished'
	echo "$v: last metrics line: $(tail -n 1 "$out/$v/metrics.jsonl")"
	./bin/lumina eval --ckpt "$out/$v/final.safetensors" --suite all > "$out/$v/toyeval.txt"
	cat "$out/$v/toyeval.txt"
done
