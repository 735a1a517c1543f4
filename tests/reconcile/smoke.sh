#!/bin/bash
# shellcheck disable=SC2054,SC2015  # commas are inside --set values; "A && B || die" is intended
# swarmkeeper — the leader re-creates a lost manager: end to end with the fake EC2 and three
# real dockerd managers in network namespaces.
#
# The fake EC2 listens on the test bridge (10.98.0.1); a, b, c (10.98.0.11-13) form a swarm
# and run the agent with [Launch] configured. `plan` on a healthy cluster has nothing to do.
# Then b's host dies: its dockerd is killed and its instance terminated through the fake.
# Checks: the leader's agent calls RunInstances with PrivateIpAddress=10.98.0.12, the subnet
# whose CIDR holds it, the tags (the instance's; its root volume without the logical id),
# IMDSv2 required, the instance profile and the ClientToken derived from the old instance;
# once the fake reports the new instance running, AttachVolume of b's volume to it. When the attachment is reported (the fake's
# hook), b's dockerd restarts on its old data dir in its namespace → the same node id comes
# back Ready and Reachable, the agent logs "node back" (NODE_BACK by MESSAGE_ID and fields);
# exactly one launch; no token in any log or in the call log; the fake's state log keeps the
# invariants. Every wait is on state (the fake's call log, hook and state, the engines, the
# leader's state.json and `status --json`, journal entries by MESSAGE_ID); "a few passes"
# are counted in the leader's passes, not in seconds.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/common.sh
. "$HERE/../lib/common.sh"
# shellcheck source=tests/docker/lib.sh
. "$HERE/../docker/lib.sh"

dk_require
require_cmd /usr/bin/python3
T0=$(now)
dk_net_up
# the fake lives on the bridge, in the host's namespace; nothing routes beyond it
ip addr add 10.98.0.1/24 dev "$DK_BRIDGE"
dk_host_up a 10.98.0.11
dk_host_up b 10.98.0.12
dk_host_up c 10.98.0.13
for h in a b c; do dk_dockerd_start "$h"; done
log "three engines up in $(elapsed "$T0")s"

# --- the fake EC2 --------------------------------------------------------------------------
HOOK_LOG=$DK_DIR/hook.log
: >"$HOOK_LOG"
cat >"$DK_DIR/hook.sh" <<EOF
#!/bin/sh
echo "\$*" >>"$HOOK_LOG"
EOF
chmod +x "$DK_DIR/hook.sh"
STATE_LOG=$DK_DIR/state.log
FAKE_DIR=${SK_FAKE_EC2_DIR:-$SK_SOURCE_DIR/tests/fake-ec2}
# every EC2 call the agents make goes into the run's call log (the IAM policy check reads it)
CALL_LOG=()
if [ -n "${SK_EC2_CALL_LOG_DIR:-}" ]; then
    mkdir -p "$SK_EC2_CALL_LOG_DIR"
    CALL_LOG=(--call-log "$SK_EC2_CALL_LOG_DIR/reconcile-smoke-$$.log")
fi
/usr/bin/python3 "$FAKE_DIR/fake_ec2.py" --listen 10.98.0.1:0 --port-file "$DK_DIR/fake.port" \
    --access-key AKIDSMOKE --secret-key smoke-secret --region us-east-1 --pending-delay 0.5 --shutdown-delay 0.5 \
    --hook "$DK_DIR/hook.sh" --state-log "$STATE_LOG" "${CALL_LOG[@]}" 2>"$DK_DIR/fake.log" &
FAKE_PID=$!
on_exit kill_pid "$FAKE_PID"
wait_for 60 test -s "$DK_DIR/fake.port" || die "the fake EC2 did not start"
FAKE=http://10.98.0.1:$(cat "$DK_DIR/fake.port")
fake() { # METHOD PATH [JSON]
    curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} "$FAKE$2"
}
fake POST /_fake/subnets '{"id": "subnet-0a1b2c3d", "az": "us-east-1a", "cidr": "10.98.0.0/24"}' >/dev/null
declare -A IID=() VID=()
for h in a b c; do
    ip=${DK_IP[$h]}
    tags="{\"swarmkeeper:cluster\": \"smoke\", \"swarmkeeper:logical-id\": \"$ip\", \"swarmkeeper:role\": \"manager\"}"
    IID[$h]=$(fake POST /_fake/instances "{\"private_ip\": \"$ip\", \"subnet\": \"subnet-0a1b2c3d\", \"tags\": $tags, \"iam_instance_profile\": \"arn:aws:iam::123456789012:instance-profile/swarmkeeper\", \"hooks\": false}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    VID[$h]=$(fake POST /_fake/volumes "{\"az\": \"us-east-1a\", \"size\": 8, \"tags\": $tags, \"attached_to\": \"${IID[$h]}\", \"hooks\": false}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
done
log "fake EC2 at $FAKE: instances ${IID[*]}, volumes ${VID[*]}"

# --- the swarm, and the agents ------------------------------------------------------------
dk_docker a swarm init --advertise-addr 10.98.0.11 >/dev/null
TOKEN=$(dk_docker a swarm join-token -q manager)
for h in b c; do dk_docker "$h" swarm join --token "$TOKEN" --advertise-addr "${DK_IP[$h]}" 10.98.0.11:2377 >/dev/null; done
ID_B=$(dk_self_id b)
COMMON=(--set Cluster.Name=smoke --set Cluster.Managers=10.98.0.11,10.98.0.12,10.98.0.13
    --set Cluster.BootstrapManager=10.98.0.11 --set AWS.Region=us-east-1 --set "AWS.Endpoint=$FAKE"
    --set "AWS.MetadataEndpoint=$FAKE" --set Launch.ImageId=ami-0123456789abcdef0 --set Launch.InstanceType=t3.small
    --set Launch.SubnetIds=subnet-0a1b2c3d --set Launch.InstanceProfile=swarmkeeper --set Launch.SecurityGroupIds=sg-0a1b2c3d
    --set AWS.AllowPlainHttp=yes --set Reconcile.IntervalSec=2 --set Reconcile.GraceSec=60 --set Reconcile.StableSec=5 --set Reconcile.QuorumLossGraceSec=600)
dk_notify_start
DK_AGENT_JOURNAL=1
for h in a b c; do
    mkdir -p "$DK_DIR/run-$h"
    DK_AGENT_ENV=(AWS_ACCESS_KEY_ID=AKIDSMOKE AWS_SECRET_ACCESS_KEY=smoke-secret "RUNTIME_DIRECTORY=$DK_DIR/run-$h")
    dk_agent_start "$h" "${COMMON[@]}" --set "Host.InstanceId=${IID[$h]}"
done
for h in a b c; do
    wait_for 120 dk_agent_ready "$h" || { tail -n 30 "$DK_DIR/$h/agent.log" >&2; die "agent $h: no READY=1"; }
done
pass "three agents ready; a leads"

# N more passes of a's agent (its state.json, rewritten after every pass)
pass_stamp() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["time_usec"])' "$DK_DIR/run-a/state.json" 2>/dev/null || echo 0; }
passes_done() {
    local t
    t=$(pass_stamp)
    [ "$t" != "$PASS_LAST" ] && { PASS_LAST=$t; PASS_N=$((PASS_N + 1)); }
    [ "$PASS_N" -ge "$1" ]
}
passes() { # N [TIMEOUT]
    PASS_LAST=$(pass_stamp)
    PASS_N=0
    wait_for "${2:-120}" passes_done "$1" || die "a's agent did not finish $1 more passes"
}

# --- the leader marks every manager's volume as holding swarm state ------------------------------
all_marked() {
    [ "$(fake GET /_fake/state | python3 -c '
import json, sys
print(all((v.get("tags") or {}).get("swarmkeeper:has-state") == "yes" for v in json.load(sys.stdin)["volumes"]))')" = True ]
}
wait_for 120 all_marked || die "a's agent did not mark the managers' volumes (swarmkeeper:has-state)"
pass "a's agent marked the three managers' volumes as holding swarm state"

# --- plan on a healthy cluster: nothing to do --------------------------------------------------
PLAN=(--config /dev/null --config-dir "$DK_DIR/a/conf.d" --set "Engine.Socket=$(dk_sock a)" "${COMMON[@]}")
out=$(env AWS_ACCESS_KEY_ID=AKIDSMOKE AWS_SECRET_ACCESS_KEY=smoke-secret "$SK_BIN" plan "${PLAN[@]}" 2>&1) ||
    die "plan failed: $out"
log "plan:"$'\n'"$out"
assert_eq "$(grep -c '^10\.98\.0\.1[123] .*running .*in-use .*ready' <<<"$out")" 3 "plan: three managers running, volumes in use, nodes ready"
json=$(env AWS_ACCESS_KEY_ID=AKIDSMOKE AWS_SECRET_ACCESS_KEY=smoke-secret "$SK_BIN" plan --json "${PLAN[@]}")
assert_eq "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["leader"], [a["kind"] for a in d["actions"] if a["kind"] not in ("wait", "report")])' <<<"$json")" \
    "True []" "plan --json: the leader, nothing to change"
# memory of an idle leader (a) and follower (c): RSS, PSS, anonymous (smaps_rollup, KiB)
mem() { awk '/^(Rss|Pss|Anonymous):/ { printf "%s %s ", $1, $2 }' "/proc/${DK_AGENT_PID[$1]}/smaps_rollup"; }
[ "$(cat "/proc/${DK_AGENT_PID[a]}/comm")" = swarmkeeper ] || die "DK_AGENT_PID[a] is not the agent"
MEM_LEADER=$(mem a)
MEM_FOLLOWER=$(mem c)
log "memory (KiB): leader $MEM_LEADER; follower $MEM_FOLLOWER"
passes 2
fake DELETE /_fake/calls >/dev/null

# --- b's host dies -------------------------------------------------------------------------
log "b's host dies: dockerd killed, instance ${IID[b]} terminated"
dk_dockerd_kill b KILL
t_term=$(now)
fake POST "/_fake/instances/${IID[b]}" '{"state": "terminated"}' >/dev/null

runs() { fake GET /_fake/calls | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["action"] == sys.argv[1] and c["status"] == 200:
        print(json.dumps(c["params"], sort_keys=True))' "$1"; }
has_run() { [ -n "$(runs RunInstances)" ]; }
wait_for 180 has_run ||
    { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "no RunInstances within 180 s"; }
T_RUN=$(fake GET /_fake/calls | python3 -c '
import json, sys
print(min(c["time"] for c in json.load(sys.stdin) if c["action"] == "RunInstances" and c["status"] == 200))')
LATENCY=$(awk -v a="$T_RUN" -v b="$t_term" 'BEGIN { printf "%.2f", a - b }')
log "RunInstances ${LATENCY}s after the termination"
RUN=$(runs RunInstances | head -n 1)
check_param() { # KEY VALUE
    assert_eq "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2]))' "$RUN" "$1")" "$2" "RunInstances $1=$2"
}
check_param PrivateIpAddress 10.98.0.12
check_param SubnetId subnet-0a1b2c3d
check_param MetadataOptions.HttpTokens required
check_param IamInstanceProfile.Name swarmkeeper
check_param ImageId ami-0123456789abcdef0
check_param InstanceType t3.small
check_param SecurityGroupId.1 sg-0a1b2c3d
check_param MinCount 1
check_param MaxCount 1
tags=$(python3 -c '
import json, sys
p = json.loads(sys.argv[1])
for n in range(1, 5):
    rt = p.get("TagSpecification.%d.ResourceType" % n)
    if not rt:
        break
    t = {}
    for k in range(1, 10):
        key = p.get("TagSpecification.%d.Tag.%d.Key" % (n, k))
        if key:
            t[key] = p.get("TagSpecification.%d.Tag.%d.Value" % (n, k))
    print(rt, t["swarmkeeper:cluster"], t.get("swarmkeeper:logical-id"), t["swarmkeeper:role"])' "$RUN")
# the root volume made with the instance must not look like the manager's data volume
assert_eq "$tags" "instance smoke 10.98.0.12 manager"$'\n'"volume smoke None manager" "RunInstances: instance and volume tags"
token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ClientToken"])' "$RUN")
[ ${#token} -le 64 ] && [ -n "$token" ] || die "ClientToken '$token' empty or longer than 64"
wait_for 60 dk_journal_has a "$(sk_message_id INSTANCE_LAUNCHED)" SK_LOGICAL_ID=10.98.0.12 "SK_CLIENT_TOKEN=$token" ||
    die "the agent did not log the launch (INSTANCE_LAUNCHED) with its ClientToken"
pass "the agent logged the launch with its ClientToken (INSTANCE_LAUNCHED, SK_CLIENT_TOKEN)"
pass "ClientToken $token"

NEW=$(fake GET /_fake/state | python3 -c '
import json, sys
s = json.load(sys.stdin)
for i in s["instances"]:
    if i.get("tags", {}).get("swarmkeeper:logical-id") == "10.98.0.12" and i["state"] != "terminated":
        print(i["id"])')
[ -n "$NEW" ] || die "no new instance for 10.98.0.12"
wait_for 120 grep -q "^volume-attached ${VID[b]} $NEW " "$HOOK_LOG" ||
    { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "volume ${VID[b]} never attached to $NEW"; }
ATT=$(runs AttachVolume | head -n 1)
assert_eq "$(python3 -c 'import json,sys; p=json.loads(sys.argv[1]); print(p["VolumeId"], p["InstanceId"], p["Device"])' "$ATT")" \
    "${VID[b]} $NEW /dev/sdf" "AttachVolume ${VID[b]} → $NEW as /dev/sdf"
log "volume attached $(elapsed "$t_term")s after the termination"

# --- the new host boots on the old volume: same node ---------------------------------------
dk_dockerd_start b
node_ok() { [ "$(dk_docker a node inspect "$ID_B" --format '{{.Status.State}} {{.ManagerStatus.Reachability}}' 2>/dev/null)" = "ready reachable" ]; }
wait_for 120 node_ok || die "node $ID_B did not come back Ready and Reachable"
assert_eq "$(dk_self_id b)" "$ID_B" "b: the same node id after the replacement"
back_logged() { dk_journal a "$(sk_message_id NODE_BACK)" SK_LOGICAL_ID=10.98.0.12 "SK_NODE_ID=$ID_B"; }
back_seen() { [ -n "$(back_logged)" ]; }
wait_for 60 back_seen || die "the leader's agent did not log the node back (NODE_BACK)"
pass "node back logged (NODE_BACK): SK_RECOVERY_SEC=$(back_logged | head -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin).get("SK_RECOVERY_SEC"))')"
log "recovered $(elapsed "$t_term")s after the termination"

# --- status: desired against actual, and the leader's in-flight state --------------------------
wait_for 60 test -s "$DK_DIR/run-a/state.json" || die "the leader's agent wrote no state.json"
ST=(env AWS_ACCESS_KEY_ID=AKIDSMOKE AWS_SECRET_ACCESS_KEY=smoke-secret "RUNTIME_DIRECTORY=$DK_DIR/run-a" "$SK_BIN" status "${PLAN[@]}")
nothing_in_flight() {
    [ "$("${ST[@]}" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["reconciler"]["inflight"])' 2>/dev/null)" = "[]" ]
}
wait_for 60 nothing_in_flight || die "status --json: something still in flight"
out=$("${ST[@]}")
log "status:"$'\n'"$out"
assert_eq "$(grep -c '^10\.98\.0\.1[123] .*running .*in-use .*ready *reachable' <<<"$out")" 3 "status: three managers, desired = actual"
assert_contains "$out" "Workers: 0 desired" "status: the worker count"
json=$("${ST[@]}" --json)
assert_eq "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["desired"]["managers"]), d["reconciler"]["leader"], d["reconciler"]["inflight"])' <<<"$json")" \
    "3 True []" "status --json: three managers, the leader's state, nothing in flight"

passes 3 # a few more passes: nothing else may happen
assert_eq "$(runs RunInstances | wc -l)" 1 "exactly one RunInstances"
assert_eq "$(runs AttachVolume | wc -l)" 1 "exactly one AttachVolume"
assert_eq "$(runs TerminateInstances | wc -l)" 0 "nothing terminated"

# --- steady state: the node list shows everything as desired, EC2 is left alone ----------------
fake DELETE /_fake/calls >/dev/null
passes 10 240 # ten passes (20 s at IntervalSec=2 on an idle machine)
STEADY=$(fake GET /_fake/calls | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
assert_eq "$STEADY" 0 "steady state: no EC2 call in ten passes (a full observation every 5 min)"
[ -n "${SK_BENCH_OUT:-}" ] && printf 'latency %s\nmem_leader %s\nmem_follower %s\nsteady_calls_20s %s\n' \
    "$LATENCY" "$MEM_LEADER" "$MEM_FOLLOWER" "$STEADY" >>"$SK_BENCH_OUT"
for h in a b c; do
    assert_not_contains "$(cat "$DK_DIR/$h/agent.log" "$DK_DIR/$h/journal.jsonl")" "$TOKEN" "$h: the join token is not in the log or journal"
done
assert_not_contains "$(fake GET /_fake/calls)" "SWMTKN" "no join token in the call log"
if [ -f "$FAKE_DIR/check_invariants.py" ]; then
    /usr/bin/python3 "$FAKE_DIR/check_invariants.py" "$STATE_LOG" && pass "state log invariants hold" ||
        die "the state log breaks an invariant"
fi
log "total $(elapsed "$T0")s"
sk_summary
