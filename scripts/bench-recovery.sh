#!/bin/bash
# Recovery time, end to end, on real hosts launched by the fake EC2 (tests/e2e): from
# `terminate-instances` to the same node Ready + Reachable, split into phases, for a
# follower and for the leader, with the fake's lifecycle delays set to zero. As root:
#   scripts/bench-recovery.sh [RUNS]      (default 4 of each; ~2 min + 1 min per run)
# Prints one line per replacement and the median / max of each phase.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
runs=${1:-4}
# the tests find the MESSAGE_IDs they read the journals by in agent/messages.h (without
# it every "detection" phase came out empty)
export SK_SOURCE_DIR=${SK_SOURCE_DIR:-$PWD}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
E2E_SCENARIOS="grow follower leader" E2E_REPEAT=$runs E2E_TIMES=$out \
    E2E_FAKE_ARGS="--pending-delay 0 --shutdown-delay 0 --ip-release-delay 0 --volume-release-delay 0" \
    flock /tmp/sk-integration.lock bash tests/e2e/scenarios.sh >"$out.log" 2>&1 || {
    tail -n 40 "$out.log"
    rm -f "$out.log"
    exit 1
}
rm -f "$out.log"
echo "kind ip total detection swarm agent decision runinstances boot prepare engine raft"
cat "$out"
for kind in follower leader; do
    for col in 3 4 5 6 7 8 9 10 11 12; do
        awk -v k="$kind" -v c="$col" '$1 == k { print $c }' "$out" | sort -n |
            awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f/%.2f ", m, v[NR] }'
    done | sed "s/^/$kind median\/max: /"
    echo
done
