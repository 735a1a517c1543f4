#!/bin/bash
# shellcheck disable=SC2054,SC2015  # commas are inside --set values; "A && B || die" is intended
# swarmkeeper — benchmark of `swarmkeeper run` with a 3-manager swarm of real engines.
#
#   sudo SK_BIN=build/agent/swarmkeeper scripts/bench-run.sh [IDLE_SECONDS [FAILOVERS]]
#
# Three dockerd in network namespaces (as in tests/docker), three agents; once all are
# READY and settled, IDLE_SECONDS (60) of idle: per agent RSS (VmRSS, VmHWM), CPU % and
# the number of engine requests (the agents' debug log has one line per request; the
# events subscription is counted apart). Then FAILOVERS (3) times: kill the leader's
# engine and measure how long after the new leader's engine knows it the agent reports
# it (STATUS "manager, leader"), and after the kill. Prints a Markdown table.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IDLE_S=${1:-60}
ROUNDS=${2:-3}
: "${SK_BIN:=$SRC/build/agent/swarmkeeper}"
export SK_BIN
# shellcheck source=tests/lib/common.sh
. "$SRC/tests/lib/common.sh"
# shellcheck source=tests/docker/lib.sh
. "$SRC/tests/docker/lib.sh"

dk_require
dk_net_up
NAMES=(a b c)
declare -A IPS=([a]=10.98.0.11 [b]=10.98.0.12 [c]=10.98.0.13)
for h in "${NAMES[@]}"; do dk_host_up "$h" "${IPS[$h]}"; done
for h in "${NAMES[@]}"; do dk_dockerd_start "$h"; done
dk_notify_start
COMMON=(--set Cluster.Name=bench --set Cluster.Managers=10.98.0.11,10.98.0.12,10.98.0.13
    --set Cluster.BootstrapManager=10.98.0.11 --set Reconcile.IntervalSec=30)
DK_AGENT_ENV=(WATCHDOG_USEC=60000000)

dk_agent_start a "${COMMON[@]}"
wait_for 60 dk_agent_ready a || die "agent a not READY"
TOKEN=$(dk_docker a swarm join-token -q manager)
for h in b c; do
    mkdir -p "$DK_DIR/$h/conf.d"
    (umask 077 && printf '[Cluster]\nJoinToken=%s\n' "$TOKEN" >"$DK_DIR/$h/conf.d/50-token.conf")
    dk_agent_start "$h" "${COMMON[@]}"
done
for h in b c; do wait_for 120 dk_agent_ready "$h" || die "agent $h not READY"; done
log "swarm of three managers up; settling 5 s"
sleep 5

# --- idle -------------------------------------------------------------------------------------
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
req_count() { grep -c 'swarmkeeper: HTTP ' "$DK_DIR/$1/agent.log" || true; }
declare -A C0=() R0=() E0=()
for h in "${NAMES[@]}"; do
    p=${DK_AGENT_PID[$h]}
    C0[$h]=$(cpu_ticks "$p")
    R0[$h]=$(req_count "$h")
    E0[$h]=$(grep -c "Subscribed to the engine" "$DK_DIR/$h/agent.log" || true)
done
log "idle for ${IDLE_S}s"
sleep "$IDLE_S"
printf '\n| agent | role | VmRSS | VmHWM | CPU | engine requests in %ss | events subscriptions |\n' "$IDLE_S"
printf '|---|---|---|---|---|---|---|\n'
for h in "${NAMES[@]}"; do
    p=${DK_AGENT_PID[$h]}
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status")
    hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$p/status")
    c1=$(cpu_ticks "$p")
    cpu=$(awk -v a="${C0[$h]}" -v b="$c1" -v hz="$HZ" -v s="$IDLE_S" 'BEGIN { printf "%.3f %%", (b - a) / hz / s * 100 }')
    req=$(($(req_count "$h") - R0[$h]))
    ev=$(($(grep -c "Subscribed to the engine" "$DK_DIR/$h/agent.log" || true) - E0[$h]))
    printf '| %s | %s | %.1f MiB | %.1f MiB | %s | %s | %s |\n' "$h" "$(dk_agent_status "$h")" \
        "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')" \
        "$cpu" "$req" "$ev"
done

# --- failovers ----------------------------------------------------------------------------------
leader_name() {
    local h
    for h in "${NAMES[@]}"; do
        dk_agent_status_is "$h" "manager, leader" && { echo "$h"; return 0; }
    done
    return 1
}
printf '\n| failover | killed | new leader | election (kill → engine knows) | agent after engine | agent after kill |\n'
printf '|---|---|---|---|---|---|\n'
for ((i = 1; i <= ROUNDS; i++)); do
    old=$(leader_name) || die "no agent reports leadership"
    args=()
    for h in "${NAMES[@]}"; do
        [ "$h" = "$old" ] && continue
        args+=("$(dk_sock "$h")" "$(dk_self_id "$h")" "$h")
    done
    rm -f "$DK_DIR/engine-leader.log"
    /usr/bin/python3 "$SRC/tests/docker/engine-leader-poll.py" "${args[@]}" >"$DK_DIR/engine-leader.log" 2>/dev/null &
    poller=$!
    sleep 0.5
    tk=$(date +%s.%N)
    dk_dockerd_kill "$old" KILL
    wait_for 90 test -s "$DK_DIR/engine-leader.log" || die "no new leader"
    read -r te new <"$DK_DIR/engine-leader.log"
    wait_for 10 dk_agent_status_is "$new" "manager, leader" || die "agent $new never reports leadership"
    ta=$(dk_notify_grep "$new" 'STATUS=manager, leader' | tail -n 1 | awk '{ print $1 }')
    kill_pid "$poller"
    printf '| %d | %s | %s | %.2f s | %.3f s | %.2f s |\n' "$i" "$old" "$new" \
        "$(awk -v a="$te" -v b="$tk" 'BEGIN { print a - b }')" \
        "$(awk -v a="$ta" -v b="$te" 'BEGIN { print a - b }')" \
        "$(awk -v a="$ta" -v b="$tk" 'BEGIN { print a - b }')"
    dk_dockerd_start "$old"
    wait_for 60 dk_agent_status_is "$old" "manager, reachable, follower" || die "agent $old did not come back"
done
echo
log "done"
