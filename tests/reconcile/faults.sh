#!/bin/bash
# shellcheck disable=SC2015  # "A && B || die" is intended
# swarmkeeper — the leader re-creates lost managers while the fake EC2 is as unkind as EC2
# (issue 7 §7), with three real dockerd managers in network namespaces (tests/reconcile/lib.sh).
#
# faults: b's host dies and its instance hangs in shutting-down (stuck) → nothing is launched
#   while it does; then it terminates, and on the way back: a RequestLimitExceeded burst on
#   DescribeInstances (while it is stuck), InvalidIPAddress.InUse for a while after terminated, a RunInstances
#   that is carried out but whose answer is lost (InternalError "after") with the new
#   instance missing from DescribeInstances for a while (eventual consistency), and an
#   AttachVolume refused with IncorrectState. Checks: one new instance for b's logical id
#   (the ClientToken retry returned it), b's node comes back with its node id.
# agent-kill: c's host dies; the leader's agent is SIGKILLed right after the call log shows
#   its RunInstances (the new instance is invisible to DescribeInstances for 8 s, so no
#   AttachVolume can have happened), and restarted: it finishes the replacement with no
#   second instance (a second RunInstances, if any, has the same ClientToken and returns
#   the same instance), c's node comes back.
# After each: the fake's state log keeps the invariants.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/common.sh
. "$HERE/../lib/common.sh"
# shellcheck source=tests/docker/lib.sh
. "$HERE/../docker/lib.sh"
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
OLD_B=${RC_IID[b]}
T1=$(date +%s.%N)
fake POST /_fake/ip-release '{"ip": "10.98.0.12", "delay": 8}' >/dev/null
rc_kill_host b
fake POST "/_fake/instances/$OLD_B" '{"state": "shutting-down", "stuck": true}' >/dev/null
log "b's host died; $OLD_B stuck in shutting-down"
# the leader sees b's node Down, asks EC2: shutting-down is present, never missing
rc_wait 30 grep -q "instance $OLD_B is shutting-down" "$DK_DIR/a/agent.log" ||
    { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "the leader did not plan a wait for the shutting-down instance"; }
# a throttling burst (more than one call's retries) while it is stuck
fake POST /_fake/faults '{"action": "DescribeInstances", "code": "RequestLimitExceeded", "count": 7}' >/dev/null
rc_sleep 5
assert_eq "$(rc_count "$T1" RunInstances)" 0 "no RunInstances while $OLD_B is stuck in shutting-down"
burst_over() { [ "$(fake GET /_fake/faults)" = "[]" ]; }
rc_wait 20 burst_over || die "the throttling burst was not used up"
# the instance terminates
fake POST "/_fake/instances/$OLD_B" '{"stuck": false, "state": "terminated"}' >/dev/null
t_term=$(now)
log "$OLD_B terminated; its address stays in use for 8 s"
saw_inuse() { [ "$(rc_count "$T1" RunInstances InvalidIPAddress.InUse)" -ge 1 ]; }
rc_wait 40 saw_inuse ||
    { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "no InvalidIPAddress.InUse seen"; }
assert_ne "$(rc_count "$T1" DescribeInstances RequestLimitExceeded)" 0 "DescribeInstances throttled (RequestLimitExceeded)"
assert_ne "$(rc_count "$T1" RunInstances InvalidIPAddress.InUse)" 0 "RunInstances refused: InvalidIPAddress.InUse"
# the next RunInstances is carried out but its answer is lost; the new instance stays out of
# DescribeInstances for 6 s; the first AttachVolume finds the instance not running
fake POST /_fake/faults '{"action": "RunInstances", "code": "InternalError", "after": true, "count": 1}' >/dev/null
fake POST /_fake/consistency '{"listing_lag": 6}' >/dev/null
NEW_MSG='{"action": "AttachVolume", "code": "IncorrectState", "message": "Instance is not '"'"'running'"'"'.", "count": 1}'
fake POST /_fake/faults "$NEW_MSG" >/dev/null
has_attach() { [ "$(rc_count "$T1" AttachVolume Success)" -ge 1 ]; }
rc_wait 90 has_attach || { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "no successful AttachVolume for b"; }
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
rc_wait 60 rc_node_ok "$ID_B" || die "b's node $ID_B did not come back Ready and Reachable"
assert_eq "$(dk_self_id b)" "$ID_B" "b: the same node id after the replacement"
rc_wait 30 grep -q "manager 10.98.0.12 is back as node $ID_B" "$DK_DIR/a/agent.log" || die "no 'node back' for b"
log "b recovered $(elapsed "$t_term")s after its instance terminated"
rc_scenario_end

# --- scenario 2: the leader's agent killed between RunInstances and AttachVolume ----------
rc_scenario agent-kill
rc_wait 30 rc_managers_ok 3 || die "three managers before agent-kill"
ID_C=$(dk_self_id c)
OLD_C=${RC_IID[c]}
rc_sleep 4 # b stable
T2=$(date +%s.%N)
fake POST /_fake/consistency '{"listing_lag": 8}' >/dev/null
rc_kill_host c
fake POST "/_fake/instances/$OLD_C" '{"state": "terminated"}' >/dev/null
has_run() { [ -n "$(run_tokens "$T2" 10.98.0.13)" ]; }
wait_for 60 has_run || { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "no RunInstances for c"; }
rc_kill_agent a
t_kill=$(date +%s.%N)
pass "the leader's agent SIGKILLed after RunInstances for c"
assert_eq "$(rc_count "$T2" AttachVolume)" 0 "no AttachVolume before the kill"
rc_agent_start a "${RC_IID[a]}"
rc_wait 60 grep -q "is back as node $ID_C" "$DK_DIR/a/agent.log" ||
    { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "the restarted agent did not finish c's replacement"; }
fake POST /_fake/consistency '{"listing_lag": 0}' >/dev/null
assert_eq "$(dk_self_id c)" "$ID_C" "c: the same node id"
assert_eq "$(run_tokens "$T2" 10.98.0.13 | wc -l)" 1 "c: every RunInstances used one ClientToken"
ids=$(instances_of 10.98.0.13)
assert_eq "$(wc -w <<<"$ids")" 2 "c's logical id: the old instance and exactly one new ($ids)"
assert_eq "$(rc_count "$t_kill" AttachVolume Success)" 1 "the restarted agent attached c's volume once"
log "RunInstances for c after the restart: $(rc_count "$t_kill" RunInstances Success) (same token, same instance)"
rc_scenario_end

rc_wait 30 rc_managers_ok 3 || die "three managers at the end"
rc_no_secrets
log "scenarios: ${RC_TIMES[*]}; total $(elapsed "$T0")s"
sk_summary
