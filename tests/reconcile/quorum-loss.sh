#!/bin/bash
# shellcheck disable=SC2015  # "A && B || die" is intended
# swarmkeeper — the swarm loses its majority and gets it back (issue 7 §4 "Quorum lost",
# §7), with three real dockerd managers in network namespaces (tests/reconcile/lib.sh).
#
# b's and c's hosts die together and their instances are terminated: a alone has no
# quorum, the swarm no leader. After Reconcile.QuorumLossGraceSec (8 s here) without a
# leader, a's agent re-creates both terminated managers on their intact volumes (the
# quorum-loss exception: nothing else), the host simulator boots them on their own data
# dirs, and the swarm has its leader and three managers again with the same node ids —
# no --force-new-cluster (which would have left b and c outside the new one-member Raft).
# Checks: the agent was in quorum-loss mode (its state.json, and its journal entry by
# MESSAGE_ID), the launches (a's RunInstances in the call log) rejoin from their volumes (no
# join token in their user-data), nothing terminated, no volume created, no node removed (the
# engine's node events) or demoted (each node's spec role), the state log's invariants.
# Every wait is on state.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/reconcile/lib.sh
. "$HERE/lib.sh"

T0=$(now)
RC_QUORUM_LOSS_GRACE=8
rc_up
log "cluster up in $(elapsed "$T0")s"

rc_scenario quorum-loss
declare -A NODE=()
for h in a b c; do NODE[$h]=$(dk_self_id "$h"); done
CLUSTER_ID=$(dk_docker a info --format '{{.Swarm.Cluster.ID}}')
T1=$(date +%s.%N)
rc_kill_host b
rc_kill_host c
fake POST "/_fake/instances/${RC_IID[b]}" '{"state": "terminated"}' >/dev/null
fake POST "/_fake/instances/${RC_IID[c]}" '{"state": "terminated"}' >/dev/null
t_loss=$(now)
log "b's and c's hosts died, their instances terminated: a alone"
in_qlm() { rc_agent_state_is a 's["quorum_loss_mode"]' True; }
rc_wait 120 in_qlm ||
    { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "a's agent never entered quorum-loss mode"; }
pass "a's agent: no leader for QuorumLossGraceSec → quorum-loss mode ($(elapsed "$t_loss")s after the loss)"
dk_journal_has a "$(sk_message_id QUORUM_LOST)" || die "a's agent did not log QUORUM_LOST"
pass "a's agent logged QUORUM_LOST (MESSAGE_ID $(sk_message_id QUORUM_LOST))"
back() { rc_managers_ok 3; }
rc_wait 240 back || { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "the swarm did not get three managers back"; }
log "quorum back $(elapsed "$t_loss")s after the loss"
for h in a b c; do
    assert_eq "$(dk_self_id "$h")" "${NODE[$h]}" "$h: the same node id"
done
assert_eq "$(dk_docker a info --format '{{.Swarm.Cluster.ID}}')" "$CLUSTER_ID" "the same cluster"
restored() { rc_agent_state_is a 's["quorum_loss_mode"]' False && dk_journal_has a "$(sk_message_id QUORUM_RESTORED)"; }
rc_wait 60 restored || die "a's agent did not leave quorum-loss mode (state.json, QUORUM_RESTORED)"
pass "a's agent left quorum-loss mode and logged QUORUM_RESTORED"
# the launches: a's RunInstances that ran an instance, one ClientToken per logical id
launched=$(rc_calls "$T1" RunInstances | python3 -c '
import json, sys
seen = set()
for l in sys.stdin:
    c = json.loads(l)
    if c["source"] == "10.98.0.11" and (c["result"] == "Success" or c["applied"]):
        seen.add((c["params"].get("PrivateIpAddress"), c["params"].get("ClientToken")))
print(" ".join(sorted(ip for ip, _ in seen)))')
assert_eq "$launched" "10.98.0.12 10.98.0.13" "a's agent re-created b and c (one ClientToken each)"
for h in b c; do
    if grep -q '^JoinToken' "$DK_DIR/$h/conf.d/50-cluster.conf"; then die "$h's user-data carries a join token"; fi
done
pass "no join token in the user-data of the re-created managers"
assert_eq "$(rc_count "$T1" TerminateInstances)" 0 "nothing terminated"
assert_eq "$(rc_count "$T1" CreateVolume)" 0 "no volume created"
ev=$(rc_node_events "$T1")
assert_eq "$(awk '$2 == "remove"' <<<"$ev" | wc -l)" 0 "no node removed (the engine's node events)"
# no node demoted: each is still a manager by its spec (the agent never promotes; a node
# event carries no role for a Down node's demotion)
for h in a b c; do
    assert_eq "$(dk_docker a node inspect "${NODE[$h]}" --format '{{.Spec.Role}}')" manager "$h: still a manager (never demoted)"
done
for lid in 10.98.0.12 10.98.0.13; do
    assert_eq "$(rc_live_instances "$lid" | wc -l)" 1 "$lid: one live instance"
done
rc_no_secrets
rc_scenario_end
log "scenarios: ${RC_TIMES[*]}; total $(elapsed "$T0")s"
sk_summary
