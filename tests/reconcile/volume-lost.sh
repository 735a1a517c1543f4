#!/bin/bash
# shellcheck disable=SC2015  # "A && B || die" is intended
# swarmkeeper — a manager whose volume is lost for good (issue 7 §4, §7), with three real
# dockerd managers in network namespaces (tests/reconcile/lib.sh).
#
# b's host dies, its instance is terminated, its data dir is wiped and its volume deleted
# in the fake (while the leader's agent is stopped, so that it does not re-create b on the
# old volume first). The restarted leader's agent: demotes b's old node (Down, Unreachable;
# quorum holds with a and c), waits until it has no ManagerStatus, removes it (never
# forced), creates a new volume, launches b with the join token in its user-data. The host
# simulator boots b on the new volume: a fresh dockerd, and the agent with the drop-in from
# the user-data joins as a new node. Checks: the steps in that order, a new node id for b,
# the old one gone, three managers again, the join token only in the host's 0600 drop-in
# (never in a log or the call log), the state log's invariants.
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

rc_scenario volume-lost
ID_B=$(dk_self_id b)
OLD_B=${RC_IID[b]}
OLD_VOL=${RC_VID[b]}
T1=$(date +%s.%N)
dk_agent_stop a
rc_kill_host b
rm -rf --one-file-system "$DK_DIR/b/data" "$DK_DIR/b/exec"
fake POST "/_fake/instances/$OLD_B" '{"state": "terminated"}' >/dev/null
vol_free() { rc_state | python3 -c '
import json, sys
print(next(v["state"] for v in json.load(sys.stdin)["volumes"] if v["id"] == sys.argv[1]))' "$OLD_VOL" | grep -qx available; }
wait_for 20 vol_free || die "$OLD_VOL did not come free"
fake DELETE "/_fake/volumes/$OLD_VOL" >/dev/null || die "cannot delete $OLD_VOL in the fake"
log "b's instance $OLD_B terminated, its data dir and its volume $OLD_VOL gone"
rc_agent_start a "${RC_IID[a]}"

gone() { ! dk_docker a node inspect "$ID_B" >/dev/null 2>&1; }
rc_wait 90 gone || { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "b's old node $ID_B was not removed"; }
pass "b's old node $ID_B removed from the swarm"
new_b() { rc_managers_ok 3 && [ -n "$(dk_self_id b)" ] && [ "$(dk_self_id b)" != "$ID_B" ]; }
rc_wait 120 new_b || { tail -n 40 "$DK_DIR/a/agent.log" >&2; tail -n 20 "$DK_DIR/b/agent.log" >&2 || true; die "b did not join as a new manager"; }
NEW_ID=$(dk_self_id b)
assert_ne "$NEW_ID" "$ID_B" "b joined as a new node ($NEW_ID)"
rc_wait 30 rc_node_ok "$NEW_ID" || die "b's new node is not Ready and Reachable"
assert_eq "$(dk_docker a node ls --format '{{.ID}}' | grep -c "^$ID_B")" 0 "the old node is gone from the node list"

# the sequence, in the leader's log: demote → remove → create volume → launch (joins fresh)
seq=$(grep -oE 'demoted to worker|removed node [a-z0-9]+|created volume vol-[0-9a-f]+|launched manager i-[0-9a-f]+ for 10\.98\.0\.12.*(joins fresh|rejoins from its volume)' \
    "$DK_DIR/a/agent.log" | sed -E 's/ (vol|i)-[0-9a-f]+/ \1-x/; s/node [a-z0-9]+/node N/; s/ in subnet.*\(/ (/; s/ClientToken [^,]*, //')
log "leader's steps:"$'\n'"$seq"
assert_eq "$(sed -E 's/ for 10.98.0.12.*(joins fresh)/ \1/' <<<"$seq" | tr '\n' ';')" \
    "demoted to worker;removed node N;created volume vol-x;launched manager i-x joins fresh;" \
    "leader: demote, remove, create volume, launch to join fresh - once each, in that order"
assert_eq "$(rc_count "$T1" CreateVolume Success)" 1 "one CreateVolume"
# as Volume.SizeGiB, Volume.Type, Volume.Encrypted say (their defaults here), not 20 GiB in clear
assert_eq "$(rc_calls "$T1" CreateVolume | python3 -c '
import json, sys
p = next(c["params"] for c in map(json.loads, sys.stdin) if c["result"] == "Success")
print(p.get("Size"), p.get("VolumeType"), p.get("Encrypted"), p.get("KmsKeyId"))')" "50 gp3 true None" \
    "the new volume is 50 GiB gp3, encrypted with the default key"
NEW_VOL=${RC_VID[b]}
assert_ne "$NEW_VOL" "$OLD_VOL" "b runs on the new volume $NEW_VOL"
assert_eq "$(rc_count "$T1" RunInstances Success)" 1 "one RunInstances"
rc_wait 30 grep -q 'Joined the swarm' "$DK_DIR/b/agent.log" || die "b's agent did not log its join"
pass "b's agent joined with the token from its user-data"
assert_eq "$(stat -c %a "$DK_DIR/b/conf.d/50-cluster.conf")" 600 "the drop-in with the join token is 0600"
grep -q '^JoinToken=SWMTKN-' "$DK_DIR/b/conf.d/50-cluster.conf" || die "no join token in b's user-data drop-in"
pass "the launch's user-data carried a join token"
rc_no_secrets
rc_scenario_end
log "scenarios: ${RC_TIMES[*]}; total $(elapsed "$T0")s"
sk_summary
