#!/bin/bash
# shellcheck disable=SC2016
# The cluster heals itself end to end (issue 9), on one cluster, scenarios in sequence
# (each leaves the cluster whole for the next). Nothing plays EC2 but the fake; every
# instance it runs is a real host booted from the AMI (hook.sh). Each scenario ends with
# check_invariants.py on the fake's state log (never two live instances of one logical
# id, never a volume attached twice).
#   grow      only the bootstrap instance + one tagged volume per manager exist:
#             swarmkeeper grows to 3 managers + 2 workers; the join tokens are rotated after
#   follower  a follower manager terminated -> same IP, same volume, same node id
#             Ready + Reachable
#   leader    the leader terminated -> Raft elects another, whose agent re-creates it
#   agentkill the leader's agent SIGKILLed between RunInstances and AttachVolume ->
#             restarted, resumes, no second instance
#   worker    a worker terminated -> replaced to count, its Down node removed
#   scaledown Workers lowered -> a worker drained, then terminated, its node removed
#   fence     a follower's engine frozen -> fenced after GraceSec, re-created, same node
#   volume    a follower's volume deleted -> old node demoted and removed, new volume,
#             fresh join
#   unkind    stuck shutting-down, throttling, InvalidIPAddress.InUse for a minute,
#             eventual consistency -> converges with a bounded call rate
#   noprofile a worker gets no AWS credentials from IMDS (no instance profile); the
#             leader's host does
#   claim     a worker's engine claims a follower's logical id; that follower terminated
#             -> re-created all the same, the same node back
#   quorum    two of three managers terminated -> the survivor's agent re-creates both
#             (quorum-loss mode), same node ids, no --force-new-cluster
# E2E_SCENARIOS="grow follower ..." picks some (grow always runs); E2E_REPEAT=N runs
# follower and leader N times. With E2E_TIMES=FILE each replacement appends its recovery
# phases there (see phases(); scripts/bench-recovery.sh).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_prologue

SCEN=${E2E_SCENARIOS:-grow follower leader agentkill worker scaledown fence volume unkind noprofile claim quorum}
want() { [[ " $SCEN " == *" $1 "* ]]; }
M1=10.99.0.11 M2=10.99.0.12 M3=10.99.0.13
WORKERS=2
HEAL=${E2E_HEAL_TIMEOUT:-180}

# (E2E_FAKE_ARGS: the fake's lifecycle delays; the benchmark sets them all to 0)
# shellcheck disable=SC2086
e2e_fake_start ${E2E_FAKE_ARGS:---pending-delay 0.3 --shutdown-delay 0.5 --ip-release-delay 0.5 --volume-release-delay 0.5}
e2e_seed e2e "$M1,$M2,$M3" "$WORKERS" "[Reconcile]
GraceSec=60
StableSec=5
QuorumLossGraceSec=${E2E_QUORUM_GRACE:-20}"

# --- grow -----------------------------------------------------------------------------------
t=$(now)
wait_for 420 e2e_healthy 3 "$WORKERS" || { e2e_nodes >&2; die "grow: the cluster did not reach 3 managers + $WORKERS workers"; }
pass "grow: 3 managers + $WORKERS workers Ready (managers Reachable) in $(elapsed "$t") s, from the bootstrap alone"
nodes=$(e2e_nodes)
for ip in $M1 $M2 $M3; do
    assert_eq "$(awk -v ip="$ip" '$6 == ip && $2 == "manager"' <<<"$nodes" | wc -l)" 1 "grow: one manager node for $ip"
done
LH=$(e2e_host_of_ip "$(e2e_leader | awk '{ print $2 }')") || die "no leader host"
nspawn_exec "$LH" docker swarm update --dispatcher-heartbeat 2s >/dev/null || die "docker swarm update failed"
# every token handed out in a launch's user-data is dead now
tokens_rotated() {
    local cur ud
    cur=$(nspawn_exec "$LH" sh -c 'docker swarm join-token -q manager; docker swarm join-token -q worker') || return 1
    for ud in $(fake_get /_fake/state | jq -r '.instances | (if type == "object" then [.[]] else . end) | .[] | .user_data // empty'); do
        base64 -d <<<"$ud" 2>/dev/null | grep -o 'SWMTKN-[A-Za-z0-9-]*' | while read -r tok; do
            grep -qxF "$tok" <<<"$cur" && echo "$tok"
        done
    done | grep -q . && return 1
    return 0
}
wait_for 120 tokens_rotated
assert_ok "grow: the join tokens handed out in user-data were rotated after the joins" tokens_rotated
assert_eq "$(fake_get /_fake/state | jq '.instances | (if type == "object" then [.[]] else . end) | length')" \
    $((3 + WORKERS)) "grow: one instance per manager and worker, no more"
e2e_check_invariants

# phases TAG IP T_TERMINATE T_BACK NEWINSTANCE OLDNODE : one line of recovery phases (seconds):
#   TAG IP total detection swarm agent decision runinstances boot prepare engine raft
# detection: terminate -> a leader's agent plans the launch, split into swarm: terminate
# -> what that agent was told (the engine's first node event for the old node, and for the
# leader, its own election; 0 when the agent saw it first) and agent: -> the plan;
# decision: plan -> RunInstances; runinstances: -> instance-running (the fake's pending
# delay); boot: -> prepare starts (systemd, cloud-init); prepare: attach + mount
# (+ labels); engine: dockerd start; raft: dockerd up -> node Ready + Reachable (as polled)
phases() {
    local tag=$1 ip=$2 t0=$3 tb=$4 inst=$5 onode=$6 t name tplan trun trunning tps tpe tds tde h j tsig planner=
    name=$(e2e_host "$inst")
    tplan=
    for h in $(e2e_live_hosts | awk '{ print $2 }'); do
        t=$(nspawn_journal "$h" -b -u swarmkeeper.service -o short-unix "MESSAGE_ID=$MSG_PLAN" SK_ACTION=launch-manager \
            "SK_LOGICAL_ID=$ip" 2>/dev/null | awk -v t="$t0" '$1 > t { print $1; exit }')
        if [ -n "$t" ] && { [ -z "$tplan" ] || awk -v a="$t" -v b="$tplan" 'BEGIN { exit !(a < b) }'; }; then
            tplan=$t planner=$h
        fi
    done
    tsig=$t0
    if [ -n "$planner" ]; then
        # the later of: the first node event for the old node (its SK_NODE_ID field), this
        # agent's election (LEADER_GAINED); each only if it came before the plan (else the
        # agent saw it first: all of detection is its own)
        tsig=$( (nspawn_journal "$planner" -b -u swarmkeeper.service -o short-unix "SK_NODE_ID=$onode" 2>/dev/null |
            awk -v t="$t0" -v p="$tplan" '$1 > t && $1 <= p { print $1; exit }'
            nspawn_journal "$planner" -b -u swarmkeeper.service -o short-unix "MESSAGE_ID=$MSG_LEADER" 2>/dev/null |
                awk -v t="$t0" -v p="$tplan" '$1 > t && $1 <= p { print $1; exit }'
            echo "$t0") | sort -n | tail -n 1)
    fi
    trun=$(jq -r --arg ip "$ip" 'select(.action == "RunInstances" and .params.PrivateIpAddress == $ip) | .time' "$E2E_DIR/calls.log" |
        while read -r x; do date -d "$x" +%s.%N; done | awk -v t="$t0" '$1 > t' | sort -n | head -n 1)
    trunning=$(jq -r --arg i "$inst" 'select(.event == "instance-running" and .instance == $i) | .t' "$E2E_DIR/state.log" | head -n 1)
    j=$(nspawn_journal "$name" -b -o short-unix 2>/dev/null)
    tps=$(awk '/systemd\[1\]: Starting swarmkeeper-prepare.service/ { print $1; exit }' <<<"$j")
    tpe=$(awk '/systemd\[1\]: Finished swarmkeeper-prepare.service/ { print $1; exit }' <<<"$j")
    tds=$(awk '/systemd\[1\]: Starting docker.service/ { print $1; exit }' <<<"$j")
    tde=$(awk '/systemd\[1\]: Started docker.service/ { print $1; exit }' <<<"$j")
    awk -v tag="$tag" -v ip="$ip" -v t0="$t0" -v tb="$tb" -v a="${tplan:-0}" -v s="${tsig:-0}" -v b="${trun:-0}" \
        -v c="${trunning:-0}" -v d="${tps:-0}" -v e="${tpe:-0}" -v f="${tds:-0}" -v g="${tde:-0}" 'BEGIN {
        printf "%s %s %.2f %.2f %.2f %.2f %.2f %.2f %.2f %.2f %.2f %.2f\n", tag, ip, tb - t0, a - t0, s - t0, a - s, b - a, c - b, d - c, e - d, g - f, tb - g }'
}

MSG_PLAN=$(sk_message_id PLAN_ACTION)
MSG_LEADER=$(sk_message_id LEADER_GAINED)

# journal entries with these fields (MESSAGE_ID=…, SK_…=…) in this boot of any live host
journal_fields() {
    local h
    for h in $(e2e_live_hosts | awk '{ print $2 }'); do
        nspawn_journal "$h" -b -u swarmkeeper.service -o cat "$@" 2>/dev/null
    done
}
# node events (update, remove) since SINCE as the leader's engine recorded them:
# "TIME_NS ACTION NODE_ID ROLE_NEW AVAILABILITY_NEW"
node_events() {
    local lh
    lh=$(e2e_host_of_ip "$(e2e_leader | awk '{ print $2 }')") || return 1
    nspawn_exec "$lh" docker events --since "${1%.*}" --until "$(date +%s)" --filter type=node \
        --format '{{.TimeNano}} {{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "role.new"}}/{{index .Actor.Attributes "availability.new"}}'
}

# replace TAG IP... : terminate the instances at those addresses, wait until each node is
# back (same id, new instance, Ready + Reachable) and the whole cluster is healthy
replace() {
    local tag=$1 ip inst t0 ok=1
    shift
    local -A old_inst=() old_node=()
    nodes=$(e2e_nodes)
    for ip in "$@"; do
        old_node[$ip]=$(awk -v ip="$ip" '$6 == ip && $2 == "manager" { print $1 }' <<<"$nodes")
        old_inst[$ip]=$(e2e_instance_of_ip "$ip")
        if [ -z "${old_node[$ip]}" ] || [ -z "${old_inst[$ip]}" ]; then die "$tag: no node/instance for $ip"; fi
    done
    wait_for 120 e2e_healthy 3 "$WORKERS" || die "$tag: the cluster is not whole before the terminate"
    t0=$(now)
    for ip in "$@"; do
        aws_ec2 terminate-instances --instance-ids "${old_inst[$ip]}" >/dev/null || die "$tag: terminate-instances failed"
    done
    log "$tag: terminated ${old_inst[*]}"
    for ip in "$@"; do
        if wait_for "$HEAL" e2e_node_back "${old_node[$ip]}" "$ip" "${old_inst[$ip]}"; then
            inst=$(e2e_instance_of_ip "$ip")
            pass "$tag: $ip back as the same node ${old_node[$ip]} on $inst, Ready + Reachable, $(elapsed "$t0") s after terminate"
            [ -n "${E2E_TIMES:-}" ] && phases "$tag" "$ip" "$t0" "$(now)" "$inst" "${old_node[$ip]}" >>"$E2E_TIMES"
        else
            ok=0
            e2e_nodes >&2
            log "FAIL: $tag: $ip did not come back as node ${old_node[$ip]} within ${HEAL}s"
            SK_FAILED=$((${SK_FAILED:-0} + 1))
        fi
    done
    [ "$ok" = 1 ] || die "$tag failed"
    for ip in "$@"; do
        vol=$(aws_ec2 describe-volumes --filters "Name=tag:swarmkeeper:logical-id,Values=$ip" \
            --query 'Volumes[].Attachments[].InstanceId' --output text)
        assert_eq "$vol" "$(e2e_instance_of_ip "$ip")" "$tag: $ip's one volume is attached to its new instance"
    done
    wait_for 60 e2e_healthy 3 "$WORKERS" || die "$tag: the cluster is not whole again"
    pass "$tag: the cluster is whole again (3 managers, $WORKERS workers)"
    e2e_check_invariants
}

# agent_calls SINCE [ACTION [RESULT]] : the agents' EC2 calls (not the test's own CLI) since
# SINCE (epoch seconds), one JSON line each
agent_calls() {
    jq -c --arg k "$E2E_KEY" --argjson t "$1" --arg a "${2:-}" --arg r "${3:-}" \
        'select(.access_key != $k and .t > $t and ($a == "" or .action == $a) and ($r == "" or .result == $r))' \
        "$E2E_DIR/calls.log"
}
# live_instances TAG VALUE : how many instances tagged TAG=VALUE are not terminated (EC2's
# truth, from the fake)
live_instances() {
    fake_get /_fake/state | jq --arg k "$1" --arg v "$2" \
        '[.instances | (if type == "object" then [.[]] else . end) | .[] | select(.tags[$k] == $v and .state != "terminated")] | length'
}
# pick_follower : a follower manager; sets LIP (the leader's address) FIP FNODE FINST FHOST
pick_follower() {
    read -r _ LIP _ <<<"$(e2e_leader)"
    FIP=$(e2e_nodes | awk -v l="$LIP" '$2 == "manager" && $6 != l { print $6; exit }')
    FNODE=$(e2e_nodes | awk -v ip="$FIP" '$6 == ip && $2 == "manager" { print $1 }')
    FINST=$(e2e_instance_of_ip "$FIP")
    FHOST=$(e2e_host_of_ip "$FIP")
    if [ -z "$FIP" ] || [ -z "$FNODE" ] || [ -z "$FINST" ] || [ -z "$FHOST" ]; then die "no follower manager to pick"; fi
}

for ((rep = 1; rep <= ${E2E_REPEAT:-1}; rep++)); do
if want follower; then
    pick_follower
    replace follower "$FIP"
fi
if want leader; then
    read -r _ lip _ <<<"$(e2e_leader)"
    replace leader "$lip"
    read -r _ nlip _ <<<"$(e2e_leader)"
    assert_ne "$nlip" "" "leader: there is a leader"
fi
done
if want agentkill; then
    # the leader's agent SIGKILLed right after its RunInstances, before its AttachVolume
    # (every AttachVolume is held 6 s by the fake meanwhile): systemd restarts it, it finds
    # the launch by its ClientToken and goes on; never a second instance
    pick_follower
    LH=$(e2e_host_of_ip "$LIP") || die "agentkill: no leader host"
    fip=$FIP fnode=$FNODE finst=$FINST
    pid0=$(nspawn_exec "$LH" systemctl show -p MainPID --value swarmkeeper.service)
    fake_post /_fake/faults '{"action": "AttachVolume", "latency": 6, "count": 3}' >/dev/null || die "agentkill: fault injection failed"
    wait_for 120 e2e_healthy 3 "$WORKERS" || die "agentkill: the cluster is not whole before the terminate"
    t0=$(now)
    ran() { agent_calls "$t0" RunInstances | jq -r --arg ip "$fip" 'select(.params.PrivateIpAddress == $ip) | .t' | grep -q .; }
    aws_ec2 terminate-instances --instance-ids "$finst" >/dev/null || die "agentkill: terminate-instances failed"
    wait_for "$HEAL" ran || die "agentkill: no RunInstances for $fip"
    nspawn_exec "$LH" systemctl kill -s KILL swarmkeeper.service || die "agentkill: kill failed"
    log "agentkill: the leader's agent (pid $pid0 in $LH) SIGKILLed after RunInstances for $fip"
    wait_for "$HEAL" e2e_node_back "$fnode" "$fip" "$finst" || { e2e_nodes >&2; die "agentkill: $fip did not come back"; }
    pass "agentkill: $fip back as the same node $fnode, $(elapsed "$t0") s after terminate"
    pid1=$(nspawn_exec "$LH" systemctl show -p MainPID --value swarmkeeper.service)
    assert_ne "$pid1" "$pid0" "agentkill: the leader's agent was restarted by systemd (pid $pid0 -> $pid1)"
    assert_eq "$(live_instances swarmkeeper:logical-id "$fip")" 1 "agentkill: one live instance for $fip (no second launch)"
    fake_delete /_fake/faults >/dev/null || true
    wait_for 60 e2e_healthy 3 "$WORKERS" || die "agentkill: the cluster is not whole again"
    e2e_check_invariants
fi
if want worker; then
    wnode=$(e2e_nodes | awk '$2 == "worker" { print $1, $7; exit }')
    read -r wn wi <<<"$wnode"
    aws_ec2 terminate-instances --instance-ids "$wi" >/dev/null || die "worker: terminate-instances failed"
    t0=$(now)
    worker_replaced() {
        local nodes
        nodes=$(e2e_nodes) || return 1
        [ "$(awk '$2 == "worker" && $3 == "ready"' <<<"$nodes" | wc -l)" = "$WORKERS" ] &&
            ! awk '{ print $1 }' <<<"$nodes" | grep -qx "$wn"
    }
    wait_for "$HEAL" worker_replaced || { e2e_nodes >&2; die "worker: not replaced"; }
    pass "worker: $wi terminated -> a new worker Ready, the old node $wn removed, $(elapsed "$t0") s"
    e2e_check_invariants
fi
if want scaledown; then
    # Workers lowered on every manager (their cloud-init drop-in, then reload): one worker
    # drained, then its instance terminated and its node removed
    for ip in $M1 $M2 $M3; do
        h=$(e2e_host_of_ip "$ip") || die "scaledown: no host for $ip"
        nspawn_exec "$h" sed -i "s/^Workers=.*/Workers=$((WORKERS - 1))/" /etc/swarmkeeper/swarmkeeper.conf.d/50-cluster.conf ||
            die "scaledown: editing the drop-in on $h failed"
        nspawn_exec "$h" systemctl reload swarmkeeper.service || die "scaledown: reload on $h failed"
    done
    workers0=$(e2e_nodes | awk '$2 == "worker" { print $1 }' | sort)
    WORKERS=$((WORKERS - 1))
    t0=$(now)
    read -r _ lip _ <<<"$(e2e_leader)"
    SDH=$(e2e_host_of_ip "$lip") || die "scaledown: no leader host"
    drained=" "
    scaled() {
        local nodes
        # every worker node seen drained (sampled at each poll; a drain lasts DrainSec, 60 s)
        drained+=$(nspawn_exec "$SDH" docker node ls --filter role=worker --format '{{.ID}} {{.Availability}}' 2>/dev/null |
            awk '$2 == "Drain" { printf "%s ", $1 }')
        nodes=$(e2e_nodes) || return 1
        [ "$(awk '$2 == "worker"' <<<"$nodes" | wc -l)" = "$WORKERS" ] && [ "$(live_instances swarmkeeper:role worker)" = "$WORKERS" ]
    }
    wait_for "$HEAL" scaled || { e2e_nodes >&2; die "scaledown: not down to $WORKERS worker(s)"; }
    pass "scaledown: Workers lowered -> $WORKERS worker node and instance left, $(elapsed "$t0") s"
    gone=$(comm -23 <(echo "$workers0") <(e2e_nodes | awk '$2 == "worker" { print $1 }' | sort))
    assert_eq "$(wc -w <<<"$gone")" 1 "scaledown: one worker node gone ($gone)"
    # its node was seen drained (state: `docker node ls`, sampled while waiting) while it was
    # still in the swarm: drained before its instance was terminated and its node removed
    [[ "$drained" == *" $gone "* ]] ||
        die "scaledown: worker node $gone was never seen drained (drained: ${drained// /,})"
    pass "scaledown: the leader drained the worker before terminating it"
    e2e_check_invariants
fi
if want fence; then
    # a follower's engine frozen (SIGSTOP to dockerd): its instance runs, its node goes Down
    # and Unreachable; the leader's agent fences it (TerminateInstances) once that lasted
    # GraceSec (60 s) and re-creates it like any terminated manager: the same node back
    pick_follower
    t0=$(now)
    nspawn_exec "$FHOST" systemctl kill -s SIGSTOP docker.service || die "fence: freezing dockerd on $FHOST failed"
    log "fence: dockerd frozen on $FHOST ($FIP, $FINST)"
    fenced() { agent_calls "$t0" TerminateInstances Success | jq -r --arg i "$FINST" 'select(.params["InstanceId.1"] == $i) | .t' | grep -q .; }
    wait_for $((60 + HEAL)) fenced || { e2e_nodes >&2; die "fence: $FINST was not terminated"; }
    tf=$(agent_calls "$t0" TerminateInstances Success | jq -r --arg i "$FINST" 'select(.params["InstanceId.1"] == $i) | .t' | head -n 1)
    assert_ok "fence: TerminateInstances for $FINST no sooner than GraceSec (60 s) after the freeze ($(awk -v a="$tf" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s)" \
        awk -v a="$tf" -v b="$t0" 'BEGIN { exit !(a - b >= 60) }'
    wait_for "$HEAL" e2e_node_back "$FNODE" "$FIP" "$FINST" || { e2e_nodes >&2; die "fence: $FIP did not come back"; }
    pass "fence: $FIP fenced and back as the same node $FNODE, $(elapsed "$t0") s after the freeze"
    why=$(journal_fields "MESSAGE_ID=$(sk_message_id FENCE)" "SK_INSTANCE_ID=$FINST" -o json | jq -r '.SK_REASON // empty' | head -n 1)
    assert_ne "$why" "" "fence: the leader's agent said why it fenced (FENCE, SK_REASON: $why)"
    wait_for 60 e2e_healthy 3 "$WORKERS" || die "fence: the cluster is not whole again"
    e2e_check_invariants
fi
if want volume; then
    # a follower's volume lost for good: its instance terminated and the volume deleted
    # (launches refused meanwhile with InsufficientInstanceCapacity, so that the leader does
    # not re-create it on the old volume first). The leader's agent demotes the old node,
    # removes it, creates a new volume and launches a manager that joins fresh: a new node id
    pick_follower
    vol=$(aws_ec2 describe-volumes --filters "Name=tag:swarmkeeper:logical-id,Values=$FIP" --query 'Volumes[0].VolumeId' --output text)
    [[ "$vol" == vol-* ]] || die "volume: no volume for $FIP"
    fake_post /_fake/faults '{"action": "RunInstances", "code": "InsufficientInstanceCapacity", "seconds": 120}' >/dev/null ||
        die "volume: fault injection failed"
    t0=$(now)
    aws_ec2 terminate-instances --instance-ids "$FINST" >/dev/null || die "volume: terminate-instances failed"
    vol_free() { [ "$(aws_ec2 describe-volumes --volume-ids "$vol" --query 'Volumes[0].State' --output text)" = available ]; }
    wait_for 30 vol_free || die "volume: $vol did not come free"
    fake_delete "/_fake/volumes/$vol" >/dev/null || die "volume: deleting $vol failed"
    t_del=$(now)
    # a pass that listed the volume before it went launches into the fault (its client's
    # retries included) before launches work again: passes run one at a time, so two
    # volume listings after the deletion mean that pass is over
    relisted() { [ "$(agent_calls "$t_del" DescribeVolumes Success | grep -c .)" -ge 2 ]; }
    wait_for 120 relisted || die "volume: the agents did not list the volumes again"
    fake_delete /_fake/faults >/dev/null || true
    log "volume: $FINST terminated, its volume $vol deleted"
    fresh() {
        local nodes
        nodes=$(e2e_nodes) || return 1
        ! awk '{ print $1 }' <<<"$nodes" | grep -qx "$FNODE" &&
            [ "$(awk -v ip="$FIP" '$6 == ip && $2 == "manager" && $3 == "ready" && $4 == "reachable"' <<<"$nodes" | wc -l)" = 1 ]
    }
    wait_for $((HEAL + 60)) fresh || { e2e_nodes >&2; die "volume: $FIP did not join fresh"; }
    nn=$(e2e_nodes | awk -v ip="$FIP" '$6 == ip && $2 == "manager" { print $1 }')
    pass "volume: $FIP joined fresh as node $nn (old node $FNODE removed), $(elapsed "$t0") s after terminate"
    nv=$(aws_ec2 describe-volumes --filters "Name=tag:swarmkeeper:logical-id,Values=$FIP" --query 'Volumes[].[VolumeId,Attachments[0].InstanceId]' --output text)
    assert_eq "$(wc -l <<<"$nv")" 1 "volume: one volume tagged for $FIP"
    assert_ne "$(awk '{ print $1 }' <<<"$nv")" "$vol" "volume: a new volume ($(awk '{ print $1 }' <<<"$nv"))"
    assert_eq "$(awk '{ print $2 }' <<<"$nv")" "$(e2e_instance_of_ip "$FIP")" "volume: attached to $FIP's new instance"
    # the order, by time: the old node removed (the engine's node events; Docker removes no
    # manager, forced or not, before it is demoted, and a node event carries no role for a
    # Down node's demotion), a volume created and a manager launched for FIP (the call log);
    # that it joined fresh is the new node id above (the token sits base64-encoded inside the
    # user-data's cloud-config, not greppable here)
    seq=$({
        node_events "$t0" | awk -v n="$FNODE" '$3 == n && $2 == "remove" { printf "%.3f remove\n", $1 / 1e9; exit }'
        agent_calls "$t0" CreateVolume Success | jq -r '"\(.t) create-volume"' | head -n 1
        agent_calls "$t0" RunInstances Success | jq -r --arg ip "$FIP" 'select(.params.PrivateIpAddress == $ip) | "\(.t) launch"' | head -n 1
    } | sort -n | awk '{ print $2 }' | tr '\n' ';')
    assert_eq "$seq" "remove;create-volume;launch;" \
        "volume: the leader (demoted and) removed the old node, created a volume, then launched a manager"
    wait_for 60 e2e_healthy 3 "$WORKERS" || die "volume: the cluster is not whole again"
    e2e_check_invariants
fi
if want unkind; then
    # EC2 as unkind as it gets, for one follower's replacement: its instance hangs in
    # shutting-down (its host off as the shutdown began) until the agents have listed it
    # hanging three times; DescribeInstances and DescribeVolumes throttled
    # (RequestLimitExceeded, 6 calls each) meanwhile; its address in use
    # (InvalidIPAddress.InUse) for 60 s after terminated and until a launch met it; the new instance missing from
    # DescribeInstances for 5 s (eventual consistency). Converges: nothing launched while
    # it hangs, one new instance, the same node back, a bounded call rate
    pick_follower
    # the address stays in use after the termination until the agents have met it in use
    # (below), not for a number of seconds
    fake_post /_fake/ip-release "{\"ip\": \"$FIP\", \"delay\": 86400}" >/dev/null || die "unkind: ip-release failed"
    fake_post "/_fake/instances/$FINST" '{"stuck": true}' >/dev/null || die "unkind: stuck failed"
    t0=$(now)
    aws_ec2 terminate-instances --instance-ids "$FINST" >/dev/null || die "unkind: terminate-instances failed"
    for a in DescribeInstances DescribeVolumes; do
        fake_post /_fake/faults "{\"action\": \"$a\", \"code\": \"RequestLimitExceeded\", \"count\": 6}" >/dev/null
    done
    # throttled, then three answered listings that saw it hang: none launches
    throttled() { agent_calls "$t0" "" RequestLimitExceeded | grep -q .; }
    wait_for "$HEAL" throttled || die "unkind: the agents were never throttled"
    t_thr=$(now)
    listed_thrice() { [ "$(agent_calls "$t_thr" DescribeInstances Success | grep -c .)" -ge 3 ]; }
    wait_for "$HEAL" listed_thrice || die "unkind: no answered DescribeInstances after the throttling"
    assert_eq "$(agent_calls "$t0" RunInstances | jq -r --arg ip "$FIP" 'select(.params.PrivateIpAddress == $ip)' | grep -c .)" 0 \
        "unkind: no RunInstances for $FIP while $FINST hangs in shutting-down"
    assert_ne "$(agent_calls "$t0" "" RequestLimitExceeded | grep -c .)" 0 "unkind: the agents were throttled (RequestLimitExceeded)"
    fake_post /_fake/consistency '{"listing_lag": 5}' >/dev/null
    fake_post "/_fake/instances/$FINST" '{"stuck": false}' >/dev/null || die "unkind: unstick failed"
    tterm=$(now)
    log "unkind: $FINST released from shutting-down; $FIP stays in use for 60 s and until a launch met it in use"
    # a minute of the address in use (the agents' backoff over it), and at least one launch
    # refused for it however slow the machine: the test frees it, not a clock
    inuse() {
        agent_calls "$t0" RunInstances InvalidIPAddress.InUse | grep -q . &&
            awk -v a="$(now)" -v b="$tterm" 'BEGIN { exit !(a - b >= 60) }'
    }
    wait_for $((HEAL + 60)) inuse || die "unkind: no RunInstances refused with InvalidIPAddress.InUse"
    fake_post /_fake/ip-release "{\"ip\": \"$FIP\", \"delay\": 0}" >/dev/null
    wait_for $((HEAL + 60)) e2e_node_back "$FNODE" "$FIP" "$FINST" || { e2e_nodes >&2; die "unkind: $FIP did not come back"; }
    pass "unkind: $FIP back as the same node $FNODE, $(elapsed "$tterm") s after its instance terminated"
    fake_post /_fake/consistency '{"listing_lag": 0}' >/dev/null
    fake_post /_fake/ip-release "{\"ip\": \"$FIP\", \"delay\": null}" >/dev/null
    runs=$(agent_calls "$t0" RunInstances | jq -r --arg ip "$FIP" 'select(.params.PrivateIpAddress == $ip) | .result')
    assert_ne "$(grep -c InvalidIPAddress.InUse <<<"$runs")" 0 "unkind: RunInstances refused with InvalidIPAddress.InUse ($(grep -c InvalidIPAddress.InUse <<<"$runs") times)"
    assert_eq "$(live_instances swarmkeeper:logical-id "$FIP")" 1 "unkind: one live instance for $FIP"
    # the call rate, every agent together, from the terminate to the node back
    dur=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.0f", a - b }')
    total=$(agent_calls "$t0" | grep -c .)
    peak=$(agent_calls "$t0" | jq -r '.t | floor' | awk '{ c[int($1 / 10)]++ } END { m = 0; for (k in c) if (c[k] > m) m = c[k]; print m }')
    log "unkind: the agents made $total EC2 calls in $dur s ($(agent_calls "$t0" | jq -r .action | sort | uniq -c | awk '{ printf "%s %s, ", $2, $1 }')at most $peak in a 10 s window)"
    assert_ok "unkind: at most 30 EC2 calls in any 10 s window ($peak)" test "$peak" -le 30
    assert_ok "unkind: at most 1.5 EC2 calls a second on average ($total in $dur s)" awk -v n="$total" -v d="$dur" 'BEGIN { exit !(n <= 1.5 * d) }'
    assert_ok "unkind: at most 8 RunInstances for $FIP ($(grep -c . <<<"$runs"))" test "$(grep -c . <<<"$runs")" -le 8
    wait_for 60 e2e_healthy 3 "$WORKERS" || die "unkind: the cluster is not whole again"
    e2e_check_invariants
fi
if want noprofile; then
    # Only managers hold AWS power: a worker launched by the leader has no instance profile,
    # so IMDS gives it no credentials at all, while a manager's host gets its role's
    wi=$(e2e_nodes | awk '$2 == "worker" { print $7; exit }')
    wh=$(e2e_live_hosts | awk -v i="$wi" '$1 == i { print $2 }')
    [ -n "$wh" ] || die "noprofile: no worker host"
    read -r _ lip _ <<<"$(e2e_leader)"
    mh=$(e2e_host_of_ip "$lip") || die "noprofile: no manager host"
    creds_code() { # HOST: the HTTP status of IMDS' role listing, as the host itself asks
        nspawn_exec "$1" sh -c "t=\$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' '$E2E_URL/latest/api/token') &&
            curl -s -o /dev/null -w '%{http_code}' -H \"X-aws-ec2-metadata-token: \$t\" '$E2E_URL/latest/meta-data/iam/security-credentials/'"
    }
    assert_eq "$(creds_code "$wh")" 404 "noprofile: worker $wi gets no AWS credentials from IMDS"
    assert_eq "$(creds_code "$mh")" 200 "noprofile: the leader's host gets its role's credentials"
    wl=$(agent_calls 0 RunInstances Success | jq -r 'select(.params.PrivateIpAddress == null) | [.params | keys[] | select(startswith("IamInstanceProfile"))] | length' | sort -u | tr '\n' ' ')
    assert_eq "$wl" "0 " "noprofile: every worker launch carried no IamInstanceProfile"
fi
if want claim; then
    # Engine labels are self-reported: a worker whose engine claims a manager's seat
    # (swarmkeeper.logical-id=<a follower's IP>, as a compromised worker could) must not
    # stand for that seat: the follower terminated is re-created all the same
    pick_follower
    wi=$(e2e_nodes | awk '$2 == "worker" { print $7; exit }')
    wh=$(e2e_live_hosts | awk -v i="$wi" '$1 == i { print $2 }')
    [ -n "$wh" ] || die "claim: no worker host"
    relabel() { # HOST LOGICAL-ID|"": rewrite the engine's logical-id label, restart the engine
        nspawn_exec "$1" sh -c "jq --arg l '$2' '.labels = ([(.labels // [])[] | select(startswith(\"swarmkeeper.logical-id=\") | not)] + (if \$l == \"\" then [] else [\"swarmkeeper.logical-id=\" + \$l] end))' \
            /etc/docker/daemon.json >/etc/docker/daemon.json.new && mv /etc/docker/daemon.json.new /etc/docker/daemon.json && systemctl restart docker.service"
    }
    relabel "$wh" "$FIP" || die "claim: relabelling worker $wi failed"
    claimed() { e2e_nodes | awk -v ip="$FIP" '$2 == "worker" && $3 == "ready" && $6 == ip' | grep -q .; }
    wait_for 90 claimed || { e2e_nodes >&2; die "claim: worker $wi's claim on $FIP is not in the swarm"; }
    log "claim: worker $wi ($wh) claims $FIP"
    replace claim "$FIP"
    relabel "$wh" "" || die "claim: restoring worker $wi's labels failed"
    wait_for 90 e2e_healthy 3 "$WORKERS" || die "claim: the cluster is not whole again"
fi
if want quorum; then
    pick_follower
    HEAL=$((HEAL + 120)) replace quorum "$LIP" "$FIP"
    assert_ne "$(journal_fields "MESSAGE_ID=$(sk_message_id QUORUM_LOST)" | grep -c .)" 0 \
        "quorum: a surviving agent reported the quorum loss (QUORUM_LOST) and acted on it"
    assert_not_contains "$(cat "$E2E_DIR"/journal-*.txt 2>/dev/null; for h in $(e2e_live_hosts | awk '{ print $2 }'); do nspawn_journal "$h" -b -o cat 2>/dev/null; done)" \
        "force-new-cluster" "quorum: no --force-new-cluster anywhere"
fi

E2E_OK=1
sk_summary
