#!/bin/bash
# Issue 15: the planner alone derives ClientTokens. rc_client_token() and rc_seat_token()
# are called in agent/plan*.c and nowhere else in agent/ (the executor carries out the token
# the action carries, or refuses the action: tests/aws/test-act-client.c).
set -uo pipefail
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
src=${SK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

calls=$(grep -nE '\brc_(client|seat)_token[[:space:]]*\(' "$src"/agent/*.c | grep -vE "^$src/agent/plan[a-z-]*\.c:" || true)
assert_eq "$calls" "" "no ClientToken derived outside the planner (agent/plan*.c)"
n=$(grep -cE '\brc_(client|seat)_token[[:space:]]*\(' "$src"/agent/plan*.c | awk -F: '{ s += $2 } END { print s + 0 }')
if [ "$n" -ge 3 ]; then
    pass "the planner derives them ($n places in agent/plan*.c)"
else
    die "the planner derives none? ($n)"
fi
sk_summary
