#!/bin/bash
# One reconcile planning pass (rc_plan) for 7 managers + 1,000 workers (target ≤ 5 ms),
# in five shapes (steady, one manager lost, scale up, scale down, dead worker nodes),
# then 10,000 workers to show how it grows. Thread CPU time, so other processes on a
# shared machine do not count; no privileges, no network.
#
#   scripts/bench-plan.sh [BUILD_DIR] [RUNS]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
RUNS=${2:-500}
BENCH=$BUILD/tests/unit/bench-plan

ninja -C "$BUILD" tests/unit/bench-plan >/dev/null
echo "# $(uname -r), $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
BUILDTYPE=$(python3 -c 'import json, sys; print(next(o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "buildtype"))' \
        "$BUILD/meson-info/intro-buildoptions.json")
echo "# $(basename "$BUILD") build ($BUILDTYPE, $(sed -n 's/^C compiler for the host machine: [^ ]* (\([^ ]* [^ ]*\).*/\1/p' "$BUILD/meson-logs/meson-log.txt" | head -1)), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## 7 managers + 1,000 workers"
"$BENCH" --workers 1000 --runs "$RUNS"
echo
echo "## 7 managers + 10,000 workers"
"$BENCH" --workers 10000 --runs $((RUNS / 10 > 0 ? RUNS / 10 : 1))

# Instructions are what the load on a shared machine does not change (rc_plan only,
# one pass of each of the five shapes at 1,000 and at 10,000 workers).
if command -v valgrind >/dev/null; then
        echo
        echo "## instructions in rc_plan, five passes (valgrind --tool=callgrind)"
        T=$(mktemp -d /tmp/sk-bench-plan.XXXXXX)
        trap 'rm -rf "$T"' EXIT
        for w in 1000 10000; do
                valgrind --tool=callgrind --toggle-collect=rc_plan --callgrind-out-file="$T/cg" \
                        "$BENCH" --workers "$w" --runs 1 >/dev/null 2>&1
                printf '%6s workers: %s\n' "$w" "$(callgrind_annotate "$T/cg" | sed -n 's/ *(100.0%)  PROGRAM TOTALS//p' | tr -d ' ')"
        done
fi
