#!/bin/bash
# shellcheck disable=SC2016
# No seat starves the others (issue 14), on real hosts. Five managers, so that a majority
# survives two losses. M1's instance is terminated and its address stays in use for good
# (InvalidIPAddress.InUse: as if a foreign interface took it): its recovery cannot
# progress. Past Reconcile.SeatDeadlineSec the leader's agent reports M1 (MESSAGE_ID
# SEAT_STUCK) and releases the one-at-a-time slot: M2, terminated then, is re-created all
# the same (the same node back). Once the address is free, M1 comes back too. Ends with
# check_invariants.py on the fake's state log.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_prologue

MS=(10.99.0.21 10.99.0.22 10.99.0.23 10.99.0.24 10.99.0.25)
HEAL=${E2E_HEAL_TIMEOUT:-240}
DEADLINE=40

e2e_fake_start --pending-delay 0.3 --shutdown-delay 0.5 --ip-release-delay 0.5 --volume-release-delay 0.5
e2e_seed dl "$(IFS=,; echo "${MS[*]}")" 0 "[Reconcile]
GraceSec=60
StableSec=5
SeatDeadlineSec=$DEADLINE
QuorumLossGraceSec=600"

t=$(now)
wait_for 900 e2e_healthy 5 0 || { e2e_nodes >&2; die "grow: the cluster did not reach 5 managers"; }
pass "grow: 5 managers Ready and Reachable in $(elapsed "$t") s, from the bootstrap alone"
read -r _ LIP _ <<<"$(e2e_leader)"
LH=$(e2e_host_of_ip "$LIP") || die "no leader host"
nspawn_exec "$LH" docker swarm update --dispatcher-heartbeat 2s >/dev/null || die "docker swarm update failed"

# two followers: A (stuck) and B (the second loss)
read -r A B _ < <(e2e_nodes | awk -v l="$LIP" '$2 == "manager" && $6 != l { printf "%s ", $6 } END { print "" }')
if [ -z "$A" ] || [ -z "$B" ]; then die "no two followers"; fi
AI=$(e2e_instance_of_ip "$A") BI=$(e2e_instance_of_ip "$B")
AN=$(e2e_nodes | awk -v ip="$A" '$6 == ip && $2 == "manager" { print $1 }')
BN=$(e2e_nodes | awk -v ip="$B" '$6 == ip && $2 == "manager" { print $1 }')
if [ -z "$AI" ] || [ -z "$BI" ] || [ -z "$AN" ] || [ -z "$BN" ]; then die "no node/instance for $A or $B"; fi

fake_post /_fake/ip-release "{\"ip\": \"$A\", \"delay\": 100000}" >/dev/null || die "holding $A's address failed"
t0=$(now)
aws_ec2 terminate-instances --instance-ids "$AI" >/dev/null || die "terminate-instances $AI failed"
log "deadline: $AI ($A) terminated; its address stays in use"
STUCK=$(sk_message_id SEAT_STUCK 2>/dev/null || sed -n 's/.*SK_MESSAGE_SEAT_STUCK *"\([0-9a-f]*\)".*/\1/p' "$E2E_SRC/agent/messages.h")
[ -n "$STUCK" ] || die "no SEAT_STUCK MESSAGE_ID"
stuck() { nspawn_journal "$LH" -b -u swarmkeeper.service "MESSAGE_ID=$STUCK" "SK_LOGICAL_ID=$A" -o cat 2>/dev/null | grep -q .; }
wait_for $((DEADLINE + HEAL)) stuck || { e2e_agent_journal "$LH" | tail -n 40 >&2; die "deadline: no SEAT_STUCK report for $A"; }
ts=$(now)
pass "deadline: the leader reported $A stuck (SEAT_STUCK) $(elapsed "$t0") s after its terminate (SeatDeadlineSec=$DEADLINE)"
assert_ok "deadline: no sooner than SeatDeadlineSec" awk -v a="$ts" -v b="$t0" -v d="$DEADLINE" 'BEGIN { exit !(a - b >= d) }'
live_for() { # IP: how many instances tagged for it are not terminated (EC2's truth, from the fake)
    fake_get /_fake/state | jq --arg v "$1" \
        '[.instances | (if type == "object" then [.[]] else . end) | .[] | select(.tags["swarmkeeper:logical-id"] == $v and .state != "terminated")] | length'
}
assert_eq "$(live_for "$A")" 0 "deadline: no live instance for $A (its address is in use)"

t1=$(now)
aws_ec2 terminate-instances --instance-ids "$BI" >/dev/null || die "terminate-instances $BI failed"
log "deadline: $BI ($B) terminated while $A is stuck"
wait_for "$HEAL" e2e_node_back "$BN" "$B" "$BI" || { e2e_nodes >&2; die "deadline: $B was not re-created while $A is stuck"; }
pass "deadline: $B back as the same node $BN, $(elapsed "$t1") s after its terminate, with $A still stuck"

fake_post /_fake/ip-release "{\"ip\": \"$A\", \"delay\": null}" >/dev/null || die "releasing $A's address failed"
t2=$(now)
wait_for "$HEAL" e2e_node_back "$AN" "$A" "$AI" || { e2e_nodes >&2; die "deadline: $A did not come back once its address was free"; }
pass "deadline: $A back as the same node $AN, $(elapsed "$t2") s after its address was released"
wait_for 120 e2e_healthy 5 0 || { e2e_nodes >&2; die "deadline: the cluster is not whole again"; }
e2e_check_invariants

E2E_OK=1
sk_summary
