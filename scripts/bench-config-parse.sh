#!/bin/bash
# The INI parser on large pathological inputs (issue 10): prints ms per input, best of 3.
#   scripts/bench-config-parse.sh [BUILDDIR] [KiB] [MAX_MS]
# With MAX_MS, exits 1 if any input took longer (the unit suite runs 200 KiB, 200 ms).
set -euo pipefail
B=${1:-build}; KIB=${2:-200}; MAX=${3:-}
exe=$B/tests/unit/bench-config-parse
[ -x "$exe" ] || { echo "build $exe first (ninja -C $B)" >&2; exit 2; }
if [ -n "$MAX" ]; then exec "$exe" --max-ms "$MAX" "$KIB"; else exec "$exe" "$KIB"; fi
