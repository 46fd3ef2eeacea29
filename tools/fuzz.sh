#!/usr/bin/env bash
# Runs every fuzz target in the repository in turn (`go test -fuzz` takes one target of one package at a
# time) for FUZZTIME each. Usage: tools/fuzz.sh [go test flags…], e.g. -tags openblas.
#
# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded" when -fuzztime ends while a
# loaded machine's worker is still mid-input (fixed in Go 1.27). A real finding always writes a failing
# input under testdata/fuzz/TARGET/; a failure with that message and no input written is that race, and
# the target runs once more. Any other failure, or the race twice, fails the run.
set -uo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}
FUZZMINIMIZE=${FUZZMINIMIZE:-100x}
FUZZPARALLEL=${FUZZPARALLEL:-2}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_target DIR TARGET [flags…]: 0 passed, 1 failed, 2 the coordinator's deadline race.
run_target() {
  local dir=$1 target=$2
  shift 2
  "$GO" test "$@" -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZE" \
    -parallel "$FUZZPARALLEL" "$dir" 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" = 0 ] && return 0
  if [ -z "$(git ls-files --others -- "$dir/testdata/fuzz/$target")" ] &&
    grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
    return 2
  fi
  return 1
}

for file in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
  dir=$(dirname "$file")
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
    echo "== $dir $target"
    run_target "$dir" "$target" "$@"
    rc=$?
    if [ $rc = 2 ]; then
      echo "-- $target: the fuzz coordinator's deadline race (no failing input written); running it again"
      run_target "$dir" "$target" "$@"
      rc=$?
    fi
    if [ $rc != 0 ]; then
      for c in $(git ls-files --others -- "$dir/testdata/fuzz/$target"); do echo "-- $c"; cat "$c"; done
      exit 1
    fi
  done
done
