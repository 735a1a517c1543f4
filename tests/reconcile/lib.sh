# shellcheck shell=bash
# shellcheck disable=SC2054,SC2015,SC2034,SC2013  # commas in --set values; "A && B || die"; globals for the scripts
# swarmkeeper — the reconcile scenarios' cluster: the fake EC2 on the test bridge, three real
# dockerd managers a, b, c (10.98.0.11-13) in network namespaces, each with its agent, and a
# host simulator that plays what EC2 would do to the hosts. Sources tests/lib/common.sh and
# tests/docker/lib.sh itself; a scenario's prologue is
#   HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd); . "$HERE/lib.sh"; rc_up
#
#   rc_up                     everything above (RC_FAKE_ARGS: more options for the fake); a inits and
#                             leads; agents ready
#   rc_step                   the host simulator: reads the fake's new hook events and acts:
#                               instance-terminated ID → that host's agent and dockerd are
#                                 killed (SIGKILL, by PID)
#                               volume-attached VOL INST → the host of VOL's logical id boots
#                                 as INST: dockerd on the volume's data dir (a fresh one for a
#                                 new volume: prepare formatted it), then the agent with the
#                                 drop-in from its launch's user-data (the join token, if any)
#   rc_wait TIMEOUT CMD...    wait_for that runs rc_step before each try
#   fake METHOD PATH [JSON]   the fake's control API
#   rc_calls [SINCE] [ACTION...]  successful-or-not EC2 calls since SINCE (epoch s), JSON lines
#   rc_kill_host NAME         the host dies: agent + dockerd SIGKILLed
#   rc_node_ok NODE_ID        Ready + Reachable as some live engine sees it
#   rc_managers_ok N          N managers Ready + Reachable
#   rc_invariants             check_invariants.py on the state log
#   rc_scenario NAME / rc_scenario_end   timing of one scenario ("scenario NAME: N s")
#   rc_agent_state NAME EXPR  EXPR (python, over the dict s) on NAME's agent's state.json (what
#                             `swarmkeeper status` reads; written after every pass)
#   rc_passes NAME N [T]      wait (T s, default 120) until NAME's agent has finished N more
#                             passes (state.json rewritten N times): "a few passes" by count,
#                             not by seconds
#   rc_node_events SINCE      the swarm's node events since SINCE as a live engine recorded
#                             them: "TIME_NS ACTION NODE_ID ROLE_NEW" lines (demote, rm)
#
# Every wait here is on state (the fake's state and call log, the engines' answers, the
# agents' state.json and READY=1, the journal's MESSAGE_IDs and fields for events no state
# shows), with a deadline generous enough for a loaded 2-core machine; no wait or check reads
# the wording of a log line. The agents log to a journal of the test's own (DK_AGENT_JOURNAL).

# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/docker/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../docker/lib.sh"
RC_HOSTS=(a b c)
RC_MANAGERS=10.98.0.11,10.98.0.12,10.98.0.13
RC_FAKE_DIR=${SK_FAKE_EC2_DIR:-$SK_SOURCE_DIR/tests/fake-ec2}
declare -A RC_IID=() RC_VID=() RC_VOLDIR=()
RC_FAKE_ARGS=()

fake() { # METHOD PATH [JSON]
    curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} "$FAKE$2"
}

# The EC2 calls (JSON lines {t, action, source, status, result, params, applied}) since
# SINCE (epoch seconds, default 0), of the given actions (default all).
rc_calls() {
    local since=${1:-0}
    shift || true
    fake GET /_fake/calls | python3 -c '
import json, sys
since, acts = float(sys.argv[1]), set(sys.argv[2:])
for c in json.load(sys.stdin):
    if c["time"] >= since and (not acts or c["action"] in acts):
        print(json.dumps({"t": c["time"], "action": c["action"], "source": c["source"], "status": c["status"],
                          "result": c["result"], "applied": c.get("applied", False), "params": c["params"]}))' "$since" "$@"
}

# rc_count SINCE ACTION [RESULT] : how many calls
rc_count() {
    rc_calls "$1" "$2" | python3 -c '
import json, sys
want = sys.argv[1] if len(sys.argv) > 1 else None
print(sum(1 for l in sys.stdin if want is None or json.loads(l)["result"] == want))' ${3:+"$3"}
}

rc_state() { fake GET /_fake/state; }

# the live instances (id) of a logical id
rc_live_instances() {
    rc_state | python3 -c '
import json, sys
for i in json.load(sys.stdin)["instances"]:
    if i.get("tags", {}).get("swarmkeeper:logical-id") == sys.argv[1] and i["state"] != "terminated":
        print(i["id"])' "$1"
}

_rc_host_of_ip() {
    local h
    for h in "${RC_HOSTS[@]}"; do [ "${DK_IP[$h]}" = "$1" ] && { echo "$h"; return 0; }; done
    return 1
}

_rc_vol_lid() {
    rc_state | python3 -c '
import json, sys
for v in json.load(sys.stdin)["volumes"]:
    if v["id"] == sys.argv[1]:
        print(v.get("tags", {}).get("swarmkeeper:logical-id", ""))' "$1"
}

rc_kill_agent() { # NAME : SIGKILL by PID
    local p=${DK_AGENT_PID[$1]:-}
    [ -n "$p" ] || return 0
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    DK_AGENT_PID[$1]=
}

rc_kill_host() {
    rc_kill_agent "$1"
    dk_dockerd_kill "$1" KILL
    # what dockerd left mounted below its data dir
    local m
    for m in $(awk -v d="$DK_DIR/$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
}

# start NAME's agent as the host of instance IID (ARGS: extra)
rc_agent_start() {
    local h=$1 iid=$2
    shift 2
    dk_agent_start "$h" "${RC_COMMON[@]}" --set "Host.InstanceId=$iid" --set Host.AvailabilityZone=us-east-1a "$@"
}

# the host of VOL's logical id boots as INST on VOL
_rc_boot() {
    local vol=$1 inst=$2 lid h d ud
    lid=$(_rc_vol_lid "$vol")
    h=$(_rc_host_of_ip "$lid") || { log "sim: volume $vol (logical id '$lid') is no host's"; return 0; }
    [ "${RC_IID[$h]:-}" = "$inst" ] && [ -n "${DK_DOCKERD_PID[$h]:-}" ] && return 0
    rc_kill_host "$h"
    d=$DK_DIR/$h
    if [ "${RC_VOLDIR[$h]:-}" != "$vol" ]; then
        # another volume than the one this host's data dir holds: a fresh file system
        log "sim: $h boots on a new volume $vol: fresh data dir"
        rm -rf --one-file-system "$d/data" "$d/exec"
        RC_VOLDIR[$h]=$vol
        dk_mark_formatted "$h"
    fi
    RC_IID[$h]=$inst
    RC_VID[$h]=$vol
    # cloud-init: the launch's user-data, fetched from the fake as the instance (by its IP)
    ud=$(nsenter --net="/run/netns/$(_dk_ns "$h")" curl -sf "$FAKE/nocloud/user-data") ||
        die "sim: no user-data for $inst"
    mkdir -p "$d/conf.d"
    python3 -c '
import base64, re, sys
m = re.search(r"- path: /etc/swarmkeeper/swarmkeeper.conf.d/50-cluster.conf\n(?:    .*\n)*?    content: (\S+)", sys.stdin.read())
if not m:
    sys.exit("no 50-cluster.conf in the user-data")
sys.stdout.write(base64.b64decode(m.group(1)).decode())' <<<"$ud" >"$d/conf.d/50-cluster.conf" || die "sim: bad user-data for $inst"
    chmod 600 "$d/conf.d/50-cluster.conf"
    log "sim: $h boots as $inst on $vol"
    dk_dockerd_start "$h"
    rc_agent_start "$h" "$inst"
}

RC_HOOK_SEEN=0
rc_step() {
    local lines n ev a1 a2 h
    n=$(wc -l <"$RC_HOOK_LOG")
    [ "$n" -gt "$RC_HOOK_SEEN" ] || return 0
    mapfile -t lines < <(sed -n "$((RC_HOOK_SEEN + 1)),${n}p" "$RC_HOOK_LOG")
    RC_HOOK_SEEN=$n
    for l in "${lines[@]}"; do
        read -r ev a1 a2 _ <<<"$l"
        case "$ev" in
            instance-terminated)
                for h in "${RC_HOSTS[@]}"; do
                    [ "${RC_IID[$h]:-}" = "$a1" ] && [ -n "${DK_DOCKERD_PID[$h]:-}" ] && {
                        log "sim: $a1 terminated: $h's host is gone"
                        rc_kill_host "$h"
                    }
                done
                ;;
            volume-attached) _rc_boot "$a1" "$a2" ;;
        esac
    done
    return 0
}

_rc_step_then() {
    rc_step
    "$@"
}
rc_wait() {
    local t=$1
    shift
    wait_for "$t" _rc_step_then "$@"
}


_rc_live_engines() {
    local h
    for h in "${RC_HOSTS[@]}"; do [ -n "${DK_DOCKERD_PID[$h]:-}" ] && echo "$h"; done
}

rc_node_ok() {
    local h
    for h in $(_rc_live_engines); do
        [ "$(dk_docker "$h" node inspect "$1" --format '{{.Status.State}} {{.ManagerStatus.Reachability}}' 2>/dev/null)" = \
            "ready reachable" ] && return 0
    done
    return 1
}

rc_managers_ok() {
    local h
    for h in $(_rc_live_engines); do
        [ "$(dk_docker "$h" node ls --format '{{.Status}} {{.ManagerStatus}}' 2>/dev/null |
            grep -cE '^Ready (Leader|Reachable)$')" = "$1" ] && return 0
    done
    return 1
}

rc_leader_host() { # the host whose engine leads
    local h
    for h in $(_rc_live_engines); do
        [ "$(dk_docker "$h" node ls --format '{{.Self}} {{.ManagerStatus}}' 2>/dev/null | grep -c '^true Leader$')" = 1 ] &&
            { echo "$h"; return 0; }
    done
    return 1
}

rc_agent_state() { # NAME EXPR
    local f=$DK_DIR/$1/run/state.json
    [ -s "$f" ] || return 1
    python3 -c '
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(1)  # being replaced
print(eval(sys.argv[2]))' "$f" "$2"
}
rc_agent_state_is() { [ "$(rc_agent_state "$1" "$2" 2>/dev/null)" = "$3" ]; } # NAME EXPR VALUE

_rc_pass_stamp() { rc_agent_state "$1" 's["time_usec"]' 2>/dev/null || echo 0; }
_rc_passes_done() { # NAME N
    local t
    t=$(_rc_pass_stamp "$1")
    [ "$t" != "$_RC_PASS_LAST" ] && { _RC_PASS_LAST=$t; _RC_PASS_N=$((_RC_PASS_N + 1)); }
    [ "$_RC_PASS_N" -ge "$2" ]
}
rc_passes() { # NAME N [TIMEOUT]
    _RC_PASS_LAST=$(_rc_pass_stamp "$1")
    _RC_PASS_N=0
    rc_wait "${3:-120}" _rc_passes_done "$1" "$2"
}

# node events (update, remove) since SINCE (epoch s) as one live engine saw them:
# "TIME_NS ACTION NODE_ID ROLE_NEW" (ROLE_NEW empty when the event carries none)
rc_node_events() {
    local h
    h=$(_rc_live_engines | head -n 1)
    dk_docker "$h" events --since "${1%.*}" --until "$(date +%s)" --filter type=node \
        --format '{{.TimeNano}} {{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "role.new"}}'
}

rc_invariants() {
    /usr/bin/python3 "$RC_FAKE_DIR/check_invariants.py" "$RC_STATE_LOG" ||
        die "the state log breaks an invariant"
    pass "state log: no logical id with two live instances, no volume attached twice"
}

RC_TIMES=()
rc_scenario() {
    RC_SCEN=$1
    RC_SCEN_T0=$(now)
    log "=== scenario $RC_SCEN ==="
}
rc_scenario_end() {
    local e
    e=$(elapsed "$RC_SCEN_T0")
    rc_invariants
    RC_TIMES+=("$RC_SCEN ${e}s")
    log "=== scenario $RC_SCEN passed in ${e}s ==="
    [ -n "${SK_BENCH_OUT:-}" ] && echo "scenario $RC_SCEN $e" >>"$SK_BENCH_OUT"
    return 0
}

rc_up() {
    local h ip tags
    dk_require
    require_cmd /usr/bin/python3
    dk_net_up
    ip addr add 10.98.0.1/24 dev "$DK_BRIDGE"
    for h in "${RC_HOSTS[@]}"; do
        dk_host_up "$h" "10.98.0.$((11 + $(printf '%d' "'$h") - 97))"
    done
    for h in "${RC_HOSTS[@]}"; do dk_dockerd_start "$h"; done

    RC_HOOK_LOG=$DK_DIR/hook.log
    : >"$RC_HOOK_LOG"
    cat >"$DK_DIR/hook.sh" <<EOF
#!/bin/sh
echo "\$*" >>"$RC_HOOK_LOG"
EOF
    chmod +x "$DK_DIR/hook.sh"
    RC_STATE_LOG=$DK_DIR/state.log
    local call_log=()
    if [ -n "${SK_EC2_CALL_LOG_DIR:-}" ]; then
        mkdir -p "$SK_EC2_CALL_LOG_DIR"
        call_log=(--call-log "$SK_EC2_CALL_LOG_DIR/reconcile-$(basename "$0" .sh)-$$.log")
    fi
    /usr/bin/python3 "$RC_FAKE_DIR/fake_ec2.py" --listen 10.98.0.1:0 --port-file "$DK_DIR/fake.port" \
        --access-key AKIDSCEN --secret-key scen-secret --region us-east-1 --pending-delay 0.5 --shutdown-delay 0.5 \
        --hook "$DK_DIR/hook.sh" --state-log "$RC_STATE_LOG" "${call_log[@]}" "${RC_FAKE_ARGS[@]}" 2>"$DK_DIR/fake.log" &
    RC_FAKE_PID=$!
    on_exit kill_pid "$RC_FAKE_PID"
    wait_for 60 test -s "$DK_DIR/fake.port" || die "the fake EC2 did not start"
    FAKE=http://10.98.0.1:$(cat "$DK_DIR/fake.port")
    fake POST /_fake/subnets '{"id": "subnet-0a1b2c3d", "az": "us-east-1a", "cidr": "10.98.0.0/24"}' >/dev/null
    for h in "${RC_HOSTS[@]}"; do
        ip=${DK_IP[$h]}
        tags="{\"swarmkeeper:cluster\": \"scen\", \"swarmkeeper:logical-id\": \"$ip\", \"swarmkeeper:role\": \"manager\"}"
        RC_IID[$h]=$(fake POST /_fake/instances "{\"private_ip\": \"$ip\", \"subnet\": \"subnet-0a1b2c3d\", \"tags\": $tags, \"iam_instance_profile\": \"arn:aws:iam::123456789012:instance-profile/swarmkeeper\", \"hooks\": false}" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
        RC_VID[$h]=$(fake POST /_fake/volumes "{\"az\": \"us-east-1a\", \"size\": 8, \"tags\": $tags, \"attached_to\": \"${RC_IID[$h]}\", \"hooks\": false}" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
        RC_VOLDIR[$h]=${RC_VID[$h]}
    done

    dk_docker a swarm init --advertise-addr 10.98.0.11 >/dev/null
    # Down within a few seconds of a dead engine (default: 5 s heartbeat, ~15 s to Down)
    dk_docker a swarm update --dispatcher-heartbeat 1s >/dev/null
    local token
    token=$(dk_docker a swarm join-token -q manager)
    for h in b c; do dk_docker "$h" swarm join --token "$token" --advertise-addr "${DK_IP[$h]}" 10.98.0.11:2377 >/dev/null; done
    RC_MANAGER_TOKEN=$token

    RC_COMMON=(--set Cluster.Name=scen --set "Cluster.Managers=$RC_MANAGERS"
        --set Cluster.BootstrapManager=10.98.0.11 --set AWS.Region=us-east-1 --set "AWS.Endpoint=$FAKE"
        --set "AWS.MetadataEndpoint=$FAKE" --set Launch.ImageId=ami-0123456789abcdef0 --set Launch.InstanceType=t3.small
        --set Launch.SubnetIds=subnet-0a1b2c3d --set Launch.InstanceProfile=swarmkeeper --set Launch.SecurityGroupIds=sg-0a1b2c3d
        --set AWS.AllowPlainHttp=yes --set Reconcile.IntervalSec=1 --set Reconcile.GraceSec=60 --set Reconcile.StableSec=3
        --set "Reconcile.QuorumLossGraceSec=${RC_QUORUM_LOSS_GRACE:-600}")
    DK_AGENT_ENV=(AWS_ACCESS_KEY_ID=AKIDSCEN AWS_SECRET_ACCESS_KEY=scen-secret)
    dk_notify_start
    DK_AGENT_JOURNAL=1
    for h in "${RC_HOSTS[@]}"; do rc_agent_start "$h" "${RC_IID[$h]}"; done
    for h in "${RC_HOSTS[@]}"; do
        wait_for 120 dk_agent_ready "$h" || { tail -n 30 "$DK_DIR/$h/agent.log" >&2; die "agent $h: no READY=1"; }
    done
    wait_for 60 rc_managers_ok 3 || die "not three managers Ready and Reachable"
    pass "three managers, three agents ready; a leads"
}

# no join token in any agent log (its text and every field of its journal) or in the call log
rc_no_secrets() {
    local h
    for h in "${RC_HOSTS[@]}"; do
        [ -f "$DK_DIR/$h/agent.log" ] &&
            assert_not_contains "$(cat "$DK_DIR/$h/agent.log" "$DK_DIR/$h/journal.jsonl" 2>/dev/null)" "SWMTKN" \
                "$h: no join token in the agent's log or journal"
    done
    assert_not_contains "$(fake GET /_fake/calls)" "SWMTKN" "no join token in the call log"
}
