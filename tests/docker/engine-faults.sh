#!/bin/bash
# shellcheck disable=SC2054,SC2015  # commas are inside --set values; "A && B || die" is intended
# swarmkeeper — `swarmkeeper run` against engines that are not there or misbehave.
#
# Five agents side by side, each with its own fault: no socket at all, an engine that
# answers garbage, one that accepts and never answers, one whose /info is not JSON and
# whose events stream is broken, and one whose events subscription never answers.
# Each agent must keep running, say clearly what is wrong (log + STATUS), retry, keep
# feeding the watchdog (WATCHDOG_USEC=4 s: no gap between WATCHDOG=1 may reach it), and
# exit 0 on SIGTERM.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/common.sh
. "$HERE/../lib/common.sh"
# shellcheck source=tests/docker/lib.sh
. "$HERE/lib.sh"

dk_require
T0=$(now)
RUN_S=${SK_FAULT_RUN_S:-16}
dk_net_up
dk_host_up f 10.98.0.21
dk_notify_start

declare -A SRV=()
MODES=(garbage hang badjson eventshang)
for m in "${MODES[@]}"; do
    python3 "$HERE/fake-engine.py" "$DK_DIR/$m.sock" "$m" "$DK_DIR/$m.count" 2>>"$DK_DIR/$m.srv.log" &
    SRV[$m]=$!
    on_exit kill_pid "${SRV[$m]}"
done
for m in "${MODES[@]}"; do
    wait_for 10 test -S "$DK_DIR/$m.sock" || die "fake engine $m did not start"
done

DK_AGENT_ENV=(WATCHDOG_USEC=4000000)
COMMON=(--set Cluster.Managers=10.98.0.21,10.98.0.22 --set Cluster.BootstrapManager=10.98.0.22 --set Reconcile.IntervalSec=30)
for m in missing "${MODES[@]}"; do
    DK_IP[$m]=10.98.0.21
    DK_AGENT_NETNS=f DK_SOCK_OVERRIDE=$DK_DIR/$m.sock dk_agent_start "$m" "${COMMON[@]}"
done
log "agents started; watching them for ${RUN_S}s"
sleep "$RUN_S"

# max gap between the agent's start and its WATCHDOG=1 messages (seconds)
wd_max_gap() {
    local start=$1
    dk_notify_grep "$2" 'WATCHDOG=1' | awk -v s="$start" '
        { g = $1 - s; if (g > m) m = g; s = $1; n++ }
        END { printf "%d %.2f\n", n, m }'
}

for m in missing "${MODES[@]}"; do
    dk_agent_alive "$m" || { tail -n 20 "$DK_DIR/$m/agent.log" >&2; die "$m: the agent died"; }
    pass "$m: agent still running after ${RUN_S}s"
    read -r n gap < <(wd_max_gap "$T0" "$m")
    [ "$n" -ge $((RUN_S / 2 - 1)) ] || die "$m: only $n WATCHDOG=1 in ${RUN_S}s"
    awk -v g="$gap" 'BEGIN { exit !(g < 4.0) }' || die "$m: a ${gap}s gap between WATCHDOG=1 (WatchdogSec 4 s)"
    pass "$m: watchdog fed ($n pings, longest gap ${gap}s)"
    st=$(dk_notify_grep "$m" 'STATUS=' | tail -n 1 | sed 's/.*STATUS=//')
    log "$m: STATUS=$st"
    assert_not_contains "$(dk_notify_grep "$m" 'READY=1' || true)" "READY=1" "$m: never READY"
done

# the reasons, as an operator reads them
L() { cat "$DK_DIR/$1/agent.log"; }
assert_contains "$(L missing)" "$DK_DIR/missing.sock is unreachable: $DK_DIR/missing.sock: No such file or directory" \
    "missing: says the socket is not there"
assert_contains "$(dk_notify_grep missing STATUS= | tail -n 1)" "(no socket)" "missing: STATUS says no socket"
assert_contains "$(L garbage)" "is unreachable" "garbage: engine reported unreachable"
assert_contains "$(dk_notify_grep garbage STATUS= | tail -n 1)" "(bad answer)" "garbage: STATUS says bad answer"
assert_contains "$(L hang)" "is unreachable" "hang: engine reported unreachable"
assert_contains "$(dk_notify_grep hang STATUS= | tail -n 1)" "(no answer)" "hang: STATUS says no answer"
assert_contains "$(L badjson)" "not JSON" "badjson: says the answer is not JSON"
assert_contains "$(dk_notify_grep eventshang STATUS= | tail -n 1)" "waiting for Cluster.JoinToken" \
    "eventshang: not in a swarm, no token: STATUS says what it waits for"

# retries: each misbehaving engine was asked again and again, with backoff (not a busy loop)
for m in garbage hang; do
    n=$(wc -l <"$DK_DIR/$m.count")
    [ "$n" -ge 3 ] && [ "$n" -le 60 ] || die "$m: $n connection attempts in ${RUN_S}s"
    pass "$m: retried ($n attempts in ${RUN_S}s)"
done
n=$(grep -c '/info' "$DK_DIR/badjson.count" || true)
[ "$n" -ge 3 ] && [ "$n" -le 60 ] || die "badjson: $n /info requests"
pass "badjson: retried ($n /info requests)"
n=$(grep -c '/events' "$DK_DIR/eventshang.count" || true)
[ "$n" -ge 2 ] || die "eventshang: the silent events subscription was not given up and renewed ($n)"
pass "eventshang: events subscription renewed after its header timeout ($n subscriptions)"

for m in missing "${MODES[@]}"; do
    p=${DK_AGENT_PID[$m]}
    kill -TERM "$p"
    rc=0
    wait "$p" || rc=$?
    DK_AGENT_PID[$m]=
    assert_eq "$rc" 0 "$m: SIGTERM exits 0"
done
log "total $(elapsed "$T0")s"
sk_summary
