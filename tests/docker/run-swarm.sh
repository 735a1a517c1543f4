#!/bin/bash
# shellcheck disable=SC2054,SC2015  # commas are inside --set values; "A && B || die" is intended
# swarmkeeper — `swarmkeeper run` against three real engines.
#
# Four dockerd (a, b, c; w) in their own network namespaces on 10.98.0.0/24. Agent a is the
# bootstrap manager: it initializes the swarm; b and c join with the manager token (read
# from a's engine, handed over in a 0600 drop-in). Checks: READY only once the node is an
# active, reachable manager; STATUS carries "leader" exactly on the leader; `status`
# (table and --json); killing the leader's engine moves the leader mark to the new
# leader's agent within 2 s of its engine knowing; the killed engine comes back on its
# data root as the same node; a worker (w) joins and `status` there asks for a manager; an
# agent restarted on a node already in the swarm needs no token; SIGHUP reloads; SIGTERM
# exits without leaving the swarm.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/common.sh
. "$HERE/../lib/common.sh"
# shellcheck source=tests/docker/lib.sh
. "$HERE/lib.sh"

dk_require
T0=$(now)
dk_net_up
dk_host_up a 10.98.0.11
dk_host_up b 10.98.0.12
dk_host_up c 10.98.0.13
dk_host_up w 10.98.0.14
for h in a b c w; do dk_dockerd_start "$h"; done
log "four engines up in $(elapsed "$T0")s"
dk_notify_start
# the agents log to the test's journal: events are checked by MESSAGE_ID and fields
DK_AGENT_JOURNAL=1
jhas() { dk_journal_has "$1" "$(sk_message_id "$2")" "_PID=${DK_AGENT_PID[$1]}" "${@:3}"; } # NAME MSG [K=V...]

COMMON=(--set Cluster.Name=test --set Cluster.Managers=10.98.0.11,10.98.0.12,10.98.0.13
    --set Cluster.BootstrapManager=10.98.0.11 --set Reconcile.IntervalSec=30)
DK_AGENT_ENV=(WATCHDOG_USEC=20000000)

# the first notify line (timestamp) matching REGEX from NAME's agent
first_ts() { dk_notify_grep "$1" "$2" | head -n 1 | awk '{ print $1 }'; }
engine_manager_state() { # NAME NODE_ID → "Reachable"/"Leader"/"Unreachable"
    dk_docker "$1" node inspect "$2" --format '{{.ManagerStatus.Reachability}} {{.ManagerStatus.Leader}}' 2>/dev/null
}

# --- bootstrap ---------------------------------------------------------------------------
# as `prepare` leaves it on a freshly formatted volume; b's and c's engines are up but not
# in a swarm (their swarm ports are closed): after 1 s of that, a initializes
dk_mark_formatted a
t=$(now)
DK_AGENT_ENV=(WATCHDOG_USEC=20000000 SWARMKEEPER_INIT_QUIET_SEC=1)
dk_agent_start a "${COMMON[@]}"
DK_AGENT_ENV=(WATCHDOG_USEC=20000000)
wait_for 60 dk_agent_ready a || { cat "$DK_DIR/a/agent.log" >&2; die "agent a: no READY=1"; }
T_INIT=$(elapsed "$t")
assert_eq "$(dk_docker a info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')" "active true" \
    "a: engine is an active manager"
ID_A=$(dk_self_id a)
assert_contains "$(dk_notify_grep a 'READY=1')" "STATUS=manager, leader" "a: READY=1 with STATUS=manager, leader"
wait_for 30 jhas a SWARM_INITIALIZED || die "a: no SWARM_INITIALIZED in its journal"
pass "a: logged the init (SWARM_INITIALIZED)"
dk_notify_grep a 'STATUS=initializing swarm' >/dev/null && pass "a: STATUS said it was initializing" ||
    die "a: no 'initializing swarm' STATUS"
[ ! -e "$DK_DIR/a/run/formatted" ] && pass "a: the formatted marker is gone after the init" ||
    die "a: the formatted marker is still there after the init"

# --- joins -------------------------------------------------------------------------------
TOKEN=$(dk_docker a swarm join-token -q manager)
[ -n "$TOKEN" ] || die "no manager join token"
for h in b c; do
    mkdir -p "$DK_DIR/$h/conf.d"
    (umask 077 && printf '[Cluster]\nJoinToken=%s\n' "$TOKEN" >"$DK_DIR/$h/conf.d/50-token.conf")
done
t=$(now)
dk_agent_start b "${COMMON[@]}"
dk_agent_start c "${COMMON[@]}"
for h in b c; do
    wait_for 120 dk_agent_ready "$h" || { tail -n 40 "$DK_DIR/$h/agent.log" >&2; die "agent $h: no READY=1"; }
done
T_JOIN=$(elapsed "$t")
for h in b c; do
    id=$(dk_self_id "$h")
    assert_eq "$(engine_manager_state a "$id")" "reachable false" "$h: reachable manager per a's engine"
    r=$(first_ts "$h" 'READY=1')
    j=$(first_ts "$h" 'STATUS=joining swarm via')
    [ -n "$j" ] && awk -v r="$r" -v j="$j" 'BEGIN { exit !(r >= j) }' ||
        die "$h: READY=1 ($r) before or without 'joining swarm' ($j)"
    pass "$h: READY=1 came after the join"
    assert_contains "$(dk_notify_grep "$h" 'READY=1')" "STATUS=manager, reachable, follower" "$h: READY with follower STATUS"
    wait_for 30 jhas "$h" SWARM_JOINED || die "$h: no SWARM_JOINED in its journal"
    pass "$h: logged the join (SWARM_JOINED)"
done
n=$(dk_docker a node ls --format '{{.ManagerStatus}}' | grep -cE '^(Leader|Reachable)$')
assert_eq "$n" 3 "three reachable managers"
# READY of b/c only once all of that held: their READY is later than a's
for h in a b c; do
    assert_eq "$(dk_notify_grep "$h" 'READY=1' | wc -l)" 1 "$h: exactly one READY=1"
    assert_eq "$(dk_notify_grep "$h" 'STATUS=.*leader' | grep -vc 'STATUS=manager, leader' || true)" 0 \
        "$h: 'leader' only ever in the leader's STATUS"
done
log "init ${T_INIT}s, joins ${T_JOIN}s"

# --- status verb -------------------------------------------------------------------------
ST=(--config /dev/null --config-dir "$DK_DIR/a/conf.d" --set "Engine.Socket=$(dk_sock b)")
out=$("$SK_BIN" status "${ST[@]}")
log "status:"$'\n'"$out"
assert_eq "$(grep -c '^10\.98\.0\.' <<<"$out")" 3 "status: three rows with logical ids"
assert_eq "$(awk '$NF == "yes"' <<<"$out" | awk '{ print $2 }')" "$ID_A" "status: leader mark on a"
json=$("$SK_BIN" status --json "${ST[@]}")
assert_eq "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["nodes"]), sum(n["leader"] for n in d["nodes"]), sorted(n["logical_id"] for n in d["nodes"]))' <<<"$json")" \
    "3 1 ['10.98.0.11', '10.98.0.12', '10.98.0.13']" "status --json: 3 nodes, 1 leader, logical ids"

# --- a worker ------------------------------------------------------------------------------
mkdir -p "$DK_DIR/w/conf.d"
(umask 077 && printf '[Cluster]\nRole=worker\nJoinToken=%s\n' "$(dk_docker a swarm join-token -q worker)" \
    >"$DK_DIR/w/conf.d/50-token.conf")
dk_agent_start w "${COMMON[@]}"
wait_for 60 dk_agent_ready w || { tail -n 40 "$DK_DIR/w/agent.log" >&2; die "agent w: no READY=1"; }
assert_contains "$(dk_notify_grep w 'READY=1')" "STATUS=worker, active" "w: READY=1 as an active worker"
assert_eq "$(dk_docker a node ls --filter role=worker --format '{{.Hostname}} {{.Status}}')" "w Ready" "w: a ready worker"
rc=0
out=$("$SK_BIN" status --config /dev/null --config-dir "$DK_DIR/w/conf.d" --set "Engine.Socket=$(dk_sock w)" 2>&1) || rc=$?
assert_eq "$rc" 7 "status on a worker: exit 7 (engine)"
assert_contains "$out" "needs a manager" "status on a worker says it needs a manager"

# --- an agent restarted on a node already in the swarm: no token needed -----------------------
dk_agent_stop b
rm -f "$DK_DIR/b/conf.d/50-token.conf"
: >"$DK_DIR/b/agent.log"
dk_agent_start b "${COMMON[@]}"
wait_for 30 dk_agent_ready b || { tail -n 40 "$DK_DIR/b/agent.log" >&2; die "restarted agent b: no READY=1"; }
assert_contains "$(dk_notify_grep b 'READY=1')" "STATUS=manager, reachable, follower" "b restarted: READY as a follower, without a token"
# everything it logged up to READY is in (its status entry, logged before READY=1): no join
st_logged() { dk_journal b "" "_PID=${DK_AGENT_PID[b]}" "SK_STATUS=manager, reachable, follower" | grep -q .; }
wait_for 30 st_logged || die "b restarted: its status never reached the journal"
if jhas b SWARM_JOINED; then die "b restarted: it joined again"; fi
pass "b restarted: no join (no SWARM_JOINED)"

# --- SIGHUP ------------------------------------------------------------------------------
kill -HUP "${DK_AGENT_PID[b]}"
wait_for 30 jhas b CONFIG_RELOADED || die "b: no reload (CONFIG_RELOADED) after SIGHUP"
pass "b: SIGHUP reloads the configuration"
dk_agent_alive b || die "b: died on SIGHUP"
printf '[Cluster]\nRole=bogus\n' >"$DK_DIR/b/conf.d/90-bad.conf"
kill -HUP "${DK_AGENT_PID[b]}"
# the reload is over when READY=1 follows its RELOADING=1 (the third READY=1 of this agent:
# start, the good reload, this one); refused: no second CONFIG_RELOADED
readies() { [ "$(dk_notify_grep b 'READY=1' | wc -l)" -ge "$1" ]; }
wait_for 30 readies 3 || die "b: the second SIGHUP's reload never ended (READY=1)"
rm -f "$DK_DIR/b/conf.d/90-bad.conf"
assert_eq "$(dk_journal b "$(sk_message_id CONFIG_RELOADED)" "_PID=${DK_AGENT_PID[b]}" | wc -l)" 1 \
    "b: a bad config on SIGHUP was not loaded (no second CONFIG_RELOADED)"
dk_agent_alive b || die "b: died on a bad reload"
assert_eq "$(dk_agent_status b)" "manager, reachable, follower" "b: a bad config on SIGHUP keeps the old one"

# --- leader failover ---------------------------------------------------------------------
# The engines' own view: a poller asks b's and c's engines every 50 ms whether they lead,
# recording the first time one says yes.
ID_B=$(dk_self_id b)
ID_C=$(dk_self_id c)
/usr/bin/python3 "$(dirname "$0")/engine-leader-poll.py" "$(dk_sock b)" "$ID_B" b "$(dk_sock c)" "$ID_C" c \
        >"$DK_DIR/engine-leader.log" 2>/dev/null &
POLLER=$!
on_exit kill_pid "$POLLER"
sleep 0.5
t=$(now)
log "killing a's engine (the leader)"
dk_dockerd_kill a KILL
wait_for 90 test -s "$DK_DIR/engine-leader.log" || die "no engine reported a new leader"
read -r T_ENGINE NEW <"$DK_DIR/engine-leader.log"
log "engine $NEW knows it leads after $(awk -v a="$T_ENGINE" -v b="$t" 'BEGIN { printf "%.2f", a - b }')s"
wait_for 30 dk_agent_status_is "$NEW" "manager, leader" || die "agent $NEW: STATUS never says leader ($(dk_agent_status "$NEW"))"
T_AGENT=$(dk_notify_grep "$NEW" 'STATUS=manager, leader' | tail -n 1 | awk '{ print $1 }')
LAT=$(awk -v a="$T_AGENT" -v e="$T_ENGINE" 'BEGIN { printf "%.3f", a - e }')
log "agent $NEW reported leadership ${LAT}s after its engine knew"
awk -v l="$LAT" 'BEGIN { exit !(l <= 2.0) }' || die "leadership reported ${LAT}s after the engine knew (> 2 s)"
pass "new leader's agent ($NEW) reports leadership within 2 s (${LAT}s)"
wait_for 30 jhas "$NEW" LEADER_GAINED || die "agent $NEW: no LEADER_GAINED"
pass "agent $NEW: logged its leadership (LEADER_GAINED)"
OTHER=b
[ "$NEW" = b ] && OTHER=c
wait_for 60 dk_agent_status_is "$OTHER" "manager, reachable, follower" ||
    die "agent $OTHER: STATUS '$(dk_agent_status "$OTHER")'"
pass "agent $OTHER stays a follower"
wait_for 30 jhas a LEADER_LOST || die "agent a: no LEADER_LOST"
pass "agent a: logged that it lost leadership"
dk_agent_alive a || die "agent a died with its engine"
assert_contains "$(dk_agent_status a)" "waiting for Docker engine" "agent a: STATUS waits for its engine"
echo "$LAT" >"$DK_DIR/failover-latency"
[ -n "${SK_BENCH_OUT:-}" ] && echo "$LAT" >>"$SK_BENCH_OUT"

# --- the old leader's engine comes back ---------------------------------------------------
dk_dockerd_start a
wait_for 60 dk_agent_status_is a "manager, reachable, follower" || die "agent a: STATUS '$(dk_agent_status a)'"
assert_eq "$(dk_self_id a)" "$ID_A" "a: same node ID after the restart"
assert_eq "$(engine_manager_state "$NEW" "$ID_A")" "reachable false" "a: reachable manager again"
assert_eq "$(dk_notify_grep a 'READY=1' | wc -l)" 1 "a: no second READY"

# --- SIGTERM: exit 0, still in the swarm -----------------------------------------------------
for h in a b c w; do
    p=${DK_AGENT_PID[$h]}
    kill -TERM "$p"
    rc=0
    wait "$p" || rc=$?
    DK_AGENT_PID[$h]=
    assert_eq "$rc" 0 "$h: SIGTERM exits 0"
done
assert_eq "$(dk_docker b node ls --format '{{.ManagerStatus}}' | grep -cE '^(Leader|Reachable)$')" 3 \
    "three managers after the agents stopped (nobody left)"
WTOKEN=$(dk_docker b swarm join-token -q worker)
for h in a b c w; do
    L=$(cat "$DK_DIR/$h/agent.log" "$DK_DIR/$h/journal.jsonl")
    assert_not_contains "$L" "$TOKEN" "$h: the manager join token is not in the log or journal"
    assert_not_contains "$L" "$WTOKEN" "$h: the worker join token is not in the log or journal"
    assert_not_contains "$L" "SWMTKN-" "$h: no join token at all in the log or journal"
done
assert_not_contains "$(cat "$DK_DIR/notify.log")" "SWMTKN-" "no join token in anything told to systemd (STATUS=)"
log "total $(elapsed "$T0")s"
sk_summary
