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
# Checks: the agent said it was in quorum-loss mode, the launches rejoin from their
# volumes (no join token in their user-data), nothing terminated, no volume created,
# no node demoted or removed, the state log's invariants.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/common.sh
. "$HERE/../lib/common.sh"
# shellcheck source=tests/docker/lib.sh
. "$HERE/../docker/lib.sh"
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
rc_wait 60 grep -q 'The swarm has had no leader for' "$DK_DIR/a/agent.log" ||
    { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "a's agent never entered quorum-loss mode"; }
pass "a's agent: no leader for QuorumLossGraceSec → quorum-loss mode ($(elapsed "$t_loss")s after the loss)"
back() { rc_managers_ok 3; }
rc_wait 120 back || { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "the swarm did not get three managers back"; }
log "quorum back $(elapsed "$t_loss")s after the loss"
for h in a b c; do
    assert_eq "$(dk_self_id "$h")" "${NODE[$h]}" "$h: the same node id"
done
assert_eq "$(dk_docker a info --format '{{.Swarm.Cluster.ID}}')" "$CLUSTER_ID" "the same cluster"
rc_wait 30 grep -q 'The swarm has a leader again' "$DK_DIR/a/agent.log" || die "a's agent did not log the leader's return"
launched=$(grep -oE 'launched manager i-[0-9a-f]+ for 10\.98\.0\.1[23] .*(joins fresh|rejoins from its volume)' "$DK_DIR/a/agent.log" |
    sed -E 's/i-[0-9a-f]+ //; s/ in .*, / /' | sort)
assert_eq "$launched" "launched manager for 10.98.0.12 rejoins from its volume"$'\n'"launched manager for 10.98.0.13 rejoins from its volume" \
    "a's agent re-created b and c, each to rejoin from its volume"
for h in b c; do
    if grep -q '^JoinToken' "$DK_DIR/$h/conf.d/50-cluster.conf"; then die "$h's user-data carries a join token"; fi
done
pass "no join token in the user-data of the re-created managers"
assert_eq "$(rc_count "$T1" TerminateInstances)" 0 "nothing terminated"
assert_eq "$(rc_count "$T1" CreateVolume)" 0 "no volume created"
assert_not_contains "$(cat "$DK_DIR/a/agent.log")" "demoted to worker" "no node demoted"
assert_not_contains "$(cat "$DK_DIR/a/agent.log")" "removed node" "no node removed"
for lid in 10.98.0.12 10.98.0.13; do
    assert_eq "$(rc_live_instances "$lid" | wc -l)" 1 "$lid: one live instance"
done
rc_no_secrets
rc_scenario_end
log "scenarios: ${RC_TIMES[*]}; total $(elapsed "$T0")s"
sk_summary
