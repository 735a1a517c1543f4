#!/bin/bash
# shellcheck disable=SC2015  # "A && B || die" is intended
# swarmkeeper — the leader re-creates lost managers while the fake EC2 is as unkind as EC2
# (issue 7 §7), with three real dockerd managers in network namespaces (tests/reconcile/lib.sh).
#
# faults: b's host dies and its instance hangs in shutting-down (stuck) → nothing is launched
#   while it does; then it terminates, and on the way back: a RequestLimitExceeded burst on
#   DescribeInstances (while it is stuck), InvalidIPAddress.InUse after terminated (until the test frees the address), a RunInstances
#   that is carried out but whose answer is lost (InternalError "after") with the new
#   instance missing from DescribeInstances for a while (eventual consistency), and an
#   AttachVolume refused with IncorrectState. (b's address is freed by the test once the
#   launch's faults are armed.) Checks: one new instance for b's logical id
#   (the ClientToken retry returned it), b's node comes back with its node id.
# agent-kill: c's host dies; the leader's agent is SIGKILLed right after the call log shows
#   its RunInstances (the new instance is invisible to DescribeInstances until the restarted
#   agent has listed once, so no AttachVolume can have happened; the fake's listing lag, set
#   and lifted by the test), and restarted: it finishes the replacement with no
#   second instance (a second RunInstances, if any, has the same ClientToken and returns
#   the same instance): the restarted agent attaches c's volume, c's node comes back.
# After each: the fake's state log keeps the invariants.
# Every wait is on state (the fake's call log and state, the engines, the leader's
# state.json, journal entries by MESSAGE_ID); "nothing happens while ..." is counted in the
# leader's passes, not in seconds.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/reconcile/lib.sh
. "$HERE/lib.sh"

T0=$(now)
rc_up
log "cluster up in $(elapsed "$T0")s"

# the instances of a logical id ever seen in the state log
instances_of() {
    python3 -c '
import json, sys
ids = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("kind") == "instance" and e.get("logical_id") == sys.argv[2] and e["instance"] not in ids:
        ids.append(e["instance"])
print(" ".join(ids))' "$RC_STATE_LOG" "$1"
}
run_tokens() { # SINCE IP : the ClientTokens of successful RunInstances for IP
    rc_calls "$1" RunInstances | python3 -c '
import json, sys
for l in sys.stdin:
    c = json.loads(l)
    if c["params"].get("PrivateIpAddress") == sys.argv[1] and (c["result"] == "Success" or c["applied"]):
        print(c["params"]["ClientToken"])' "$2" | sort -u
}

# --- scenario 1: b replaced under every fault ------------------------------------------
rc_scenario faults
ID_B=$(dk_self_id b)
MSG_NODE_BACK=$(sk_message_id NODE_BACK)
from_a() { grep -c '"source": "10.98.0.11"' || true; }
# successful DescribeInstances from a's agent since SINCE
a_described() { rc_calls "$1" DescribeInstances | grep '"result": "Success"' | from_a; }
OLD_B=${RC_IID[b]}
T1=$(date +%s.%N)
# b's address stays in use after the termination until the test frees it (below), once the
# faults of the launch are armed — not for a number of seconds that a slow machine overruns
fake POST /_fake/ip-release '{"ip": "10.98.0.12", "delay": 86400}' >/dev/null
rc_kill_host b
fake POST "/_fake/instances/$OLD_B" '{"state": "shutting-down", "stuck": true}' >/dev/null
log "b's host died; $OLD_B stuck in shutting-down"
# the leader sees b's node Down, asks EC2: shutting-down is present, never missing — its
# plan (state.json) waits for b's logical id instead of launching
plans_wait() {
    rc_agent_state_is a 'any(l.split(":")[0] == "wait logical-id=10.98.0.12" for l in s["plan"])' True
}
rc_wait 90 plans_wait ||
    { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "the leader did not plan a wait for the shutting-down instance"; }
pass "the leader's plan waits for b's logical id ($OLD_B shutting-down)"
# a throttling burst (more than one call's retries) while it is stuck
fake POST /_fake/faults '{"action": "DescribeInstances", "code": "RequestLimitExceeded", "count": 7}' >/dev/null
burst_over() { [ "$(fake GET /_fake/faults)" = "[]" ]; }
rc_wait 90 burst_over || die "the throttling burst was not used up"
# three more passes that saw the instance stuck (answered listings): none launches
t_burst=$(date +%s.%N)
listed_thrice() { [ "$(a_described "$t_burst")" -ge 3 ]; }
rc_wait 120 listed_thrice || { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "the leader did not list the instances again after the burst"; }
assert_eq "$(rc_count "$T1" RunInstances)" 0 "no RunInstances while $OLD_B is stuck in shutting-down (3 listings after the burst)"
# the instance terminates
fake POST "/_fake/instances/$OLD_B" '{"stuck": false, "state": "terminated"}' >/dev/null
t_term=$(now)
log "$OLD_B terminated; its address stays in use"
saw_inuse() { [ "$(rc_count "$T1" RunInstances InvalidIPAddress.InUse)" -ge 1 ]; }
rc_wait 120 saw_inuse ||
    { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "no InvalidIPAddress.InUse seen"; }
assert_ne "$(rc_count "$T1" DescribeInstances RequestLimitExceeded)" 0 "DescribeInstances throttled (RequestLimitExceeded)"
assert_ne "$(rc_count "$T1" RunInstances InvalidIPAddress.InUse)" 0 "RunInstances refused: InvalidIPAddress.InUse"
# the next RunInstances is carried out but its answer is lost; the new instance stays out of
# DescribeInstances for 6 s; the first AttachVolume finds the instance not running
fake POST /_fake/faults '{"action": "RunInstances", "code": "InternalError", "after": true, "count": 1}' >/dev/null
fake POST /_fake/consistency '{"listing_lag": 6}' >/dev/null
NEW_MSG='{"action": "AttachVolume", "code": "IncorrectState", "message": "Instance is not '"'"'running'"'"'.", "count": 1}'
fake POST /_fake/faults "$NEW_MSG" >/dev/null
fake POST /_fake/ip-release '{"ip": "10.98.0.12", "delay": 0}' >/dev/null
log "faults armed; b's address is free"
has_attach() { [ "$(rc_count "$T1" AttachVolume Success)" -ge 1 ]; }
rc_wait 180 has_attach || { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "no successful AttachVolume for b"; }
fake POST /_fake/consistency '{"listing_lag": 0}' >/dev/null
assert_eq "$(rc_calls "$T1" RunInstances | python3 -c '
import json, sys
print(sum(1 for l in sys.stdin if json.loads(l)["applied"]))')" 1 "one RunInstances carried out with its answer lost"
assert_eq "$(run_tokens "$T1" 10.98.0.12 | wc -l)" 1 "every RunInstances for b that launched used one ClientToken"
assert_eq "$(rc_count "$T1" AttachVolume IncorrectState)" 1 "AttachVolume refused once: IncorrectState"
ids=$(instances_of 10.98.0.12)
assert_eq "$(wc -w <<<"$ids")" 2 "b's logical id: the old instance and exactly one new ($ids)"
NEW_B=$(rc_live_instances 10.98.0.12)
assert_eq "$NEW_B" "$(awk '{ print $2 }' <<<"$ids")" "the live instance of b is the one new instance"
rc_wait 120 rc_node_ok "$ID_B" || die "b's node $ID_B did not come back Ready and Reachable"
assert_eq "$(dk_self_id b)" "$ID_B" "b: the same node id after the replacement"
# the agent that launched b follows it until it is back (after StableSec)
rc_wait 60 dk_journal_has a "$MSG_NODE_BACK" SK_LOGICAL_ID=10.98.0.12 "SK_NODE_ID=$ID_B" ||
    die "no 'node back' (MESSAGE_ID $MSG_NODE_BACK) for b"
pass "the leader's agent: b's node back (MESSAGE_ID $MSG_NODE_BACK)"
log "b recovered $(elapsed "$t_term")s after its instance terminated"
rc_scenario_end

# --- scenario 2: the leader's agent killed between RunInstances and AttachVolume ----------
rc_scenario agent-kill
rc_wait 60 rc_managers_ok 3 || die "three managers before agent-kill"
ID_C=$(dk_self_id c)
OLD_C=${RC_IID[c]}
# b's replacement over: nothing in flight in the leader's state
idle() { rc_agent_state_is a 'len(s["inflight"])' 0; }
rc_wait 60 idle || die "the leader still has something in flight after b's replacement"
# c's new instance stays out of DescribeInstances until the test lifts the lag (below): no
# AttachVolume can happen before the kill, however slow the machine. The lag is global
# (instances launched less than LAG s ago are unlisted): b's new instance, launched in the
# scenario above, must stay listed, so LAG is its age less 5 s, and it is at least 40 s old
t_blaunch=$(rc_calls "$T1" RunInstances | python3 -c '
import json, sys
ts = [c["t"] for c in map(json.loads, sys.stdin)
      if c["params"].get("PrivateIpAddress") == "10.98.0.12" and (c["result"] == "Success" or c["applied"])]
print(min(ts))')
b_old() { awk -v t="$t_blaunch" -v n="$(date +%s.%N)" 'BEGIN { exit !(n - t >= 45) }'; }
rc_wait 120 b_old || die "clock: b's new instance is not 45 s old after 120 s"
T2=$(date +%s.%N)
LAG=$(awk -v t="$t_blaunch" -v n="$T2" 'BEGIN { printf "%d", n - t - 5 }')
fake POST /_fake/consistency "{\"listing_lag\": $LAG}" >/dev/null
log "listing lag ${LAG}s: b's instance listed, c's next one not"
rc_kill_host c
fake POST "/_fake/instances/$OLD_C" '{"state": "terminated"}' >/dev/null
has_run() { [ -n "$(run_tokens "$T2" 10.98.0.13)" ]; }
wait_for 120 has_run || { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "no RunInstances for c"; }
rc_kill_agent a
t_kill=$(date +%s.%N)
pass "the leader's agent SIGKILLed after RunInstances for c"
assert_eq "$(rc_count "$T2" AttachVolume)" 0 "no AttachVolume before the kill"
rc_agent_start a "${RC_IID[a]}"
# the restarted agent's first listing still misses the new instance (its RunInstances, if
# it makes one, has the same ClientToken and returns it); then the listing catches up
relisted() { [ "$(a_described "$t_kill")" -ge 1 ]; }
rc_wait 120 relisted || { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "the restarted agent did not list the instances"; }
fake POST /_fake/consistency '{"listing_lag": 0}' >/dev/null
# finished: the restarted agent attached c's volume (the call log) and c's node is back
# (the engines). Whether it also logs "node back" depends on whether its own RunInstances
# (the same ClientToken) or the listing found the instance first: not what this proves.
attached_after_kill() { [ "$(rc_calls "$t_kill" AttachVolume | grep '"result": "Success"' | from_a)" -ge 1 ]; }
finished() { attached_after_kill && rc_node_ok "$ID_C"; }
rc_wait 180 finished ||
    { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "the restarted agent did not finish c's replacement"; }
pass "the restarted agent attached c's volume; c's node $ID_C is back Ready and Reachable"
assert_eq "$(dk_self_id c)" "$ID_C" "c: the same node id"
assert_eq "$(run_tokens "$T2" 10.98.0.13 | wc -l)" 1 "c: every RunInstances used one ClientToken"
ids=$(instances_of 10.98.0.13)
assert_eq "$(wc -w <<<"$ids")" 2 "c's logical id: the old instance and exactly one new ($ids)"
assert_eq "$(rc_count "$t_kill" AttachVolume Success)" 1 "the restarted agent attached c's volume once"
log "RunInstances for c after the restart: $(rc_count "$t_kill" RunInstances Success) (same token, same instance)"
rc_scenario_end

rc_wait 60 rc_managers_ok 3 || die "three managers at the end"
rc_no_secrets
log "scenarios: ${RC_TIMES[*]}; total $(elapsed "$T0")s"
sk_summary
