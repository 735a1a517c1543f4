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
# the user-data joins as a new node. Checks: the steps in that order (the engine's node
# events and the fake's call log, by their times; the demotion is implied by the removal), a new node id for b, the old one gone,
# three managers again, b's agent joined (READY=1, SWARM_JOINED by MESSAGE_ID), the join
# token only in the host's 0600 drop-in (never in a log or the call log), the state log's
# invariants. Every wait is on state.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/reconcile/lib.sh
. "$HERE/lib.sh"

T0=$(now)
rc_up
log "cluster up in $(elapsed "$T0")s"

rc_scenario volume-lost
ID_B=$(dk_self_id b)
OLD_B=${RC_IID[b]}
OLD_VOL=${RC_VID[b]}
# the leader has marked b's volume as holding swarm state (and b's node records its id):
# what lets a restarted agent ask EC2 about that volume by id once it is gone
marked() { rc_state | python3 -c '
import json, sys
v = next(v for v in json.load(sys.stdin)["volumes"] if v["id"] == sys.argv[1])
print((v.get("tags") or {}).get("swarmkeeper:has-state", ""))' "$OLD_VOL" | grep -qx yes &&
    [ "$(dk_docker a node inspect "$ID_B" --format '{{index .Spec.Labels "swarmkeeper.volume-id"}}')" = "$OLD_VOL" ]; }
rc_wait 120 marked || die "b's volume $OLD_VOL was never marked (has-state tag, node label)"
T1=$(date +%s.%N)
dk_agent_stop a
rc_kill_host b
rm -rf --one-file-system "$DK_DIR/b/data" "$DK_DIR/b/exec"
fake POST "/_fake/instances/$OLD_B" '{"state": "terminated"}' >/dev/null
vol_free() { rc_state | python3 -c '
import json, sys
print(next(v["state"] for v in json.load(sys.stdin)["volumes"] if v["id"] == sys.argv[1]))' "$OLD_VOL" | grep -qx available; }
wait_for 60 vol_free || die "$OLD_VOL did not come free"
fake DELETE "/_fake/volumes/$OLD_VOL" >/dev/null || die "cannot delete $OLD_VOL in the fake"
log "b's instance $OLD_B terminated, its data dir and its volume $OLD_VOL gone"
rc_agent_start a "${RC_IID[a]}"

gone() { ! dk_docker a node inspect "$ID_B" >/dev/null 2>&1; }
rc_wait 180 gone || { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "b's old node $ID_B was not removed"; }
pass "b's old node $ID_B removed from the swarm"
new_b() { rc_managers_ok 3 && [ -n "$(dk_self_id b)" ] && [ "$(dk_self_id b)" != "$ID_B" ]; }
rc_wait 240 new_b || { tail -n 40 "$DK_DIR/a/agent.log" >&2; tail -n 20 "$DK_DIR/b/agent.log" >&2 || true; die "b did not join as a new manager"; }
NEW_ID=$(dk_self_id b)
assert_ne "$NEW_ID" "$ID_B" "b joined as a new node ($NEW_ID)"
rc_wait 60 rc_node_ok "$NEW_ID" || die "b's new node is not Ready and Reachable"
assert_eq "$(dk_docker a node ls --format '{{.ID}}' | grep -c "^$ID_B")" 0 "the old node is gone from the node list"

# the sequence: demote → remove (the engine's node events) → create volume → launch (the
# fake's call log), each once, ordered by their times (one host clock)
# the sequence: demote → remove → create volume → launch. The engine's node events show the
# removal (a node event carries no role for a Down node's demotion, and the agent logs the
# demotion with no MESSAGE_ID); Docker removes no manager, forced or not, before it is
# demoted, so the removal of b's old manager node is the demotion's proof. Volume and launch:
# the fake's call log. Each once, ordered by their times (one host clock).
seq=$({
    rc_node_events "$T1" | awk -v id="$ID_B" '$3 == id && $2 == "remove" { printf "%.3f remove\n", $1 / 1e9 }'
    rc_calls "$T1" CreateVolume RunInstances | python3 -c '
import json, sys
for l in sys.stdin:
    c = json.loads(l)
    if c["result"] == "Success" and c["action"] == "CreateVolume":
        print("%.3f create-volume" % c["t"])
    elif c["result"] == "Success" and c["params"].get("PrivateIpAddress") == "10.98.0.12":
        print("%.3f launch" % c["t"])'
} | sort -n | awk '{ print $2 }' | tr '\n' ';')
assert_eq "$seq" "remove;create-volume;launch;" \
    "leader: (demote,) remove the old manager node, create a volume, launch - once each, in that order"
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
b_joined() { dk_agent_ready b && dk_journal_has b "$(sk_message_id SWARM_JOINED)" "_PID=${DK_AGENT_PID[b]}"; }
rc_wait 60 b_joined || die "b's agent: no READY=1 or no SWARM_JOINED"
pass "b's agent joined with the token from its user-data (READY=1, SWARM_JOINED)"
assert_eq "$(stat -c %a "$DK_DIR/b/conf.d/50-cluster.conf")" 600 "the drop-in with the join token is 0600"
grep -q '^JoinToken=SWMTKN-' "$DK_DIR/b/conf.d/50-cluster.conf" || die "no join token in b's user-data drop-in"
pass "the launch's user-data carried a join token"
rc_no_secrets
rc_scenario_end
log "scenarios: ${RC_TIMES[*]}; total $(elapsed "$T0")s"
sk_summary
