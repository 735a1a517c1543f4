#!/bin/bash
# shellcheck disable=SC2054,SC2015  # commas are inside --set values; "A && B || die" is intended
# swarmkeeper — `swarmkeeper run` against engines that are not there or misbehave.
#
# Six agents side by side, each with its own fault: no socket at all, an engine that
# answers garbage, one that accepts and never answers, one whose /info is not JSON and
# whose events stream is broken, one whose events subscription never answers, and one
# that fails every join with HTTP 500 echoing the join token.
# Each agent must keep running, say clearly what is wrong (log + STATUS), retry, keep
# feeding the watchdog (WATCHDOG_USEC=4 s: no gap between WATCHDOG=1 may reach it), and
# exit 0 on SIGTERM — within 1 s even while a request to a hanging engine is in flight.
# The failing join: an HTTP answer is an engine error, not an unreachable engine; the join
# backoff holds (at most 3 attempts in any 10 s); the token is nowhere in the log or the
# STATUS.
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
MODES=(garbage hang badjson eventshang join500)
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
# a well-formed token, known to nobody: SWMTKN-1-<50>-<25>
TOKEN=SWMTKN-1-$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 50)-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 25)
mkdir -p "$DK_DIR/join500/conf.d"
(umask 077 && printf '[Cluster]\nJoinToken=%s\n' "$TOKEN" >"$DK_DIR/join500/conf.d/50-token.conf")
declare -A T_START=()
for m in missing "${MODES[@]}"; do
    DK_IP[$m]=10.98.0.21
    T_START[$m]=$(now)
    DK_AGENT_NETNS=f DK_SOCK_OVERRIDE=$DK_DIR/$m.sock dk_agent_start "$m" "${COMMON[@]}"
done
log "agents started; watching them for ${RUN_S}s"
sleep "$RUN_S"

T_END=$(now)
# the longest time without a WATCHDOG=1 from the agent, between the agent's start (taken
# right before it was spawned: the test's own set-up is not the agent's silence) and the end
# of the watch (seconds): the pings themselves and the time since the last one. How
# many pings fit in the window is not asserted: sd-event pings at a random point between
# 1/2 and 3/4 of WATCHDOG_USEC, so the count varies; a gap that reaches WatchdogSec is
# what would make systemd kill the agent.
wd_max_gap() {
    local start=$1
    dk_notify_grep "$2" 'WATCHDOG=1' | awk -v s="$start" -v e="$T_END" '
        { g = $1 - s; if (g > m) m = g; s = $1; n++ }
        END { g = e - s; if (g > m) m = g; printf "%d %.2f\n", n, m }'
}

for m in missing "${MODES[@]}"; do
    dk_agent_alive "$m" || { tail -n 20 "$DK_DIR/$m/agent.log" >&2; die "$m: the agent died"; }
    pass "$m: agent still running after ${RUN_S}s"
    read -r n gap < <(wd_max_gap "${T_START[$m]}" "$m")
    [ "$n" -ge 2 ] || die "$m: only $n WATCHDOG=1 in ${RUN_S}s"
    awk -v g="$gap" 'BEGIN { exit !(g < 4.0) }' || die "$m: a ${gap}s gap between WATCHDOG=1 (WatchdogSec 4 s)"
    pass "$m: watchdog fed ($n pings, longest gap ${gap}s)"
    st=$(dk_notify_grep "$m" 'STATUS=' | tail -n 1 | sed 's/.*STATUS=//')
    log "$m: STATUS=$st"
    assert_not_contains "$(dk_notify_grep "$m" 'READY=1' || true)" "READY=1" "$m: never READY"
done

# the reasons, as an operator reads them
L() { cat "$DK_DIR/$1/agent.log"; }
# the failing join first: the token, the backoff, an HTTP answer is an answer
for m in missing "${MODES[@]}"; do
    assert_not_contains "$(L "$m")" "$TOKEN" "$m: the join token is not in the log"
done
assert_not_contains "$(L join500)" "SWMTKN-1-" "join500: no join token at all in the log"
assert_not_contains "$(cat "$DK_DIR/notify.log")" "SWMTKN-1-" "no join token in anything told to systemd"
# the join backoff: at most 3 joins in any 10 s window, and it did retry
joins=$(grep 'POST /v[0-9.]*/swarm/join' "$DK_DIR/join500.count" | awk '{ print $1 }')
n=$(wc -w <<<"$joins")
[ "$n" -ge 2 ] || die "join500: only $n join attempts in ${RUN_S}s"
worst=$(awk '{ t[NR] = $1 } END { m = 0; for (i = 1; i <= NR; i++) { c = 0; for (j = i; j <= NR; j++) if (t[j] - t[i] < 10) c++; if (c > m) m = c }; print m }' <<<"$joins")
[ "$worst" -le 3 ] || die "join500: $worst join attempts within 10 s ($n in ${RUN_S}s)"
pass "join500: $n join attempts in ${RUN_S}s, at most $worst in any 10 s"
assert_contains "$(L join500)" "the engine answered HTTP 500: rpc error" "join500: the engine's error is logged as an answer"
assert_not_contains "$(L join500)" "is unreachable" "join500: an HTTP 500 is not an unreachable engine"
assert_contains "$(dk_notify_grep join500 STATUS= | tail -n 1)" "failed (engine error), retrying" "join500: STATUS says the join failed"
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

# SIGTERM while a request to the hanging engine is in flight: a new connection just came.
# Between two connections: the 5 s request timeout + a backoff of up to 10 s (full jitter,
# capped): wait up to 20 s for the next one.
n0=$(wc -l <"$DK_DIR/hang.count")
wait_for 20 sh -c "[ \$(wc -l <'$DK_DIR/hang.count') -gt $n0 ]" || die "hang: no new request to the hanging engine"
sleep 0.3
for m in hang missing "${MODES[@]}"; do
    p=${DK_AGENT_PID[$m]}
    [ -n "$p" ] || continue
    t=$(now)
    kill -TERM "$p"
    rc=0
    wait "$p" || rc=$?
    took=$(awk -v s="$t" -v e="$(date +%s.%N)" 'BEGIN { printf "%d", (e - s) * 1000 }')
    DK_AGENT_PID[$m]=
    assert_eq "$rc" 0 "$m: SIGTERM exits 0"
    [ "$took" -lt 1000 ] || die "$m: SIGTERM took ${took} ms (a request in flight must not hold it)"
    pass "$m: exited ${took} ms after SIGTERM"
done
log "total $(elapsed "$T0")s"
sk_summary
