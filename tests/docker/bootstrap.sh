#!/bin/bash
# shellcheck disable=SC2054,SC2015  # commas are inside --set values; "A && B || die" is intended
# swarmkeeper — who may initialize a new swarm, and who this host is, against real engines.
#
# Two dockerd (a, b) in network namespaces and the fake EC2/IMDS in a third (m). No
# agent here is told anything under [Host]: `run` asks the metadata service, which finds
# the instance by the caller's source address (as `prepare` does).
#
#   1. a is the bootstrap manager, b's swarm port is closed, but a's volume was not
#      freshly formatted (no $RUNTIME_DIRECTORY/formatted): a never initializes.
#   2. The marker is there; b's swarm port answers for a while after a short silence:
#      no init while b answers, nor before every other manager stayed silent for
#      SWARMKEEPER_INIT_QUIET_SEC in a row; then a initializes, and the marker is gone.
#   1b. The marker is there but a holds a join token: a never initializes (it may only join).
#   3. b (no [Host] either) joins via a alone: its own address is not a join remote.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/common.sh
. "$HERE/../lib/common.sh"
# shellcheck source=tests/docker/lib.sh
. "$HERE/lib.sh"

dk_require
[ -x /usr/bin/python3 ] || die "no /usr/bin/python3"
T0=$(now)
dk_net_up
dk_host_up a 10.98.0.41
dk_host_up b 10.98.0.42
dk_host_up m 10.98.0.49
for h in a b; do dk_dockerd_start "$h"; done
dk_notify_start

# --- the fake metadata service, in m's namespace -------------------------------------------
ip netns exec "$(_dk_ns m)" /usr/bin/python3 "$HERE/../fake-ec2/fake_ec2.py" --listen 10.98.0.49:0 \
    --port-file "$DK_DIR/imds.port" --access-key AKIDTEST --secret-key SECRETTEST 2>"$DK_DIR/imds.log" &
IMDS_PID=$!
on_exit kill_pid "$IMDS_PID"
wait_for 15 test -s "$DK_DIR/imds.port" || die "the fake IMDS did not start: $(cat "$DK_DIR/imds.log")"
URL=http://10.98.0.49:$(cat "$DK_DIR/imds.port")
ctl() { ip netns exec "$(_dk_ns m)" curl -sS --fail --noproxy '*' -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} "$URL$2"; }
for h in a b; do
    ctl POST /_fake/instances "{\"private_ip\": \"${DK_IP[$h]}\", \"az\": \"us-east-1a\", \"hooks\": false}" >/dev/null ||
        die "cannot seed instance $h"
done
log "engines and the fake IMDS up in $(elapsed "$T0")s"

COMMON=(--set Cluster.Name=test --set Cluster.Managers=10.98.0.41,10.98.0.42 --set Cluster.BootstrapManager=10.98.0.41
    --set Reconcile.IntervalSec=30 --set "AWS.MetadataEndpoint=$URL")
export DK_AGENT_NO_HOST=1
# events by MESSAGE_ID and fields (the agent's journal of this test), the text for the operator
DK_AGENT_JOURNAL=1
jhas() { dk_journal_has "$1" "$(sk_message_id "$2")" "_PID=${DK_AGENT_PID[$1]}" "${@:3}"; } # NAME MSG [K=V...]
L() { cat "$DK_DIR/$1/agent.log"; }
state() { dk_docker "$1" info --format '{{.Swarm.LocalNodeState}}'; }

# --- 1. no marker: never init ----------------------------------------------------------------
DK_AGENT_ENV=(SWARMKEEPER_INIT_QUIET_SEC=1)
dk_agent_start a "${COMMON[@]}"
wait_for 15 jhas a INIT_WITHHELD SK_REASON=not-fresh ||
    { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "a: no INIT_WITHHELD (not-fresh) event"; }
pass "a: init withheld, the volume was not formatted in this boot"
assert_contains "$(L a)" "private IP 10.98.0.41, zone us-east-1a" "a: identity from the metadata service"
assert_contains "$(L a)" "bootstrap manager" "a: knows it is the bootstrap manager (Host.PrivateIp from IMDS)"
sleep 3
assert_eq "$(state a)" inactive "a: no marker, 4 s of silence from b: no swarm initialized"
! jhas a SWARM_INITIALIZED && pass "a: no SWARM_INITIALIZED event" || die "a: a SWARM_INITIALIZED event"
dk_agent_alive a || die "a died"
dk_agent_stop a

# --- 1b. marker and a join token: a host holding a token never initializes -----------------------
# (issue 14: the bootstrap manager used to init on a fresh volume after the quiet period even
# with a token in hand; a partition during its replacement made two swarms)
dk_mark_formatted a
mkdir -p "$DK_DIR/a/conf.d"
(umask 077 && printf '[Cluster]\nJoinToken=%s\n' \
    "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx" >"$DK_DIR/a/conf.d/50-token.conf")
DK_AGENT_ENV=(SWARMKEEPER_INIT_QUIET_SEC=1)
: >"$DK_DIR/a/agent.log"
dk_agent_start a "${COMMON[@]}"
# eight quiet periods: the old rule had initialized after the first
sleep 8
# (its join attempts towards b leave the engine "pending" or "inactive", never "active")
assert_ne "$(state a)" active "a: a join token, a fresh volume, 8 s of silence from b: no swarm initialized"
jhas a INIT_WITHHELD SK_REASON=has-token && pass "a: init withheld because it holds a join token" ||
    die "a: no INIT_WITHHELD (has-token) event"
[ -e "$DK_DIR/a/run/formatted" ] && pass "a: the formatted marker is still there (no init consumed it)" ||
    die "a: the marker is gone"
dk_agent_alive a || die "a died"
dk_agent_stop a
rm -f "$DK_DIR/a/conf.d/50-token.conf" "$DK_DIR/a/run/formatted"
dk_docker a swarm leave --force >/dev/null 2>&1 || true
a_inactive() { [ "$(state a)" = inactive ]; }
wait_for 30 a_inactive || die "a: its engine did not go back to inactive after the join attempts"

# --- 2. marker; b answers for a moment; then silence long enough ------------------------------
dk_mark_formatted a
DK_AGENT_ENV=(SWARMKEEPER_INIT_QUIET_SEC=4)
: >"$DK_DIR/a/agent.log"
t=$(now)
dk_agent_start a "${COMMON[@]}"
sleep 1.5
# something answers on b's swarm port (b's engine is not in a swarm: the port is free)
ip netns exec "$(_dk_ns b)" /usr/bin/python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.98.0.42", 2377)); s.listen(64)
s.settimeout(0.2)
end = time.time() + 4
while time.time() < end:
    try:
        c, _ = s.accept(); c.close()
    except socket.timeout:
        pass
' &
LISTENER=$!
on_exit kill_pid "$LISTENER"
wait_for 10 jhas a INIT_WITHHELD SK_REASON=peer-answered SK_PEER=10.98.0.42 ||
    { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "a: never saw b answering"; }
pass "a: saw b answer on the swarm port"
assert_eq "$(state a)" inactive "a: 1.5 s of silence is not enough (quiet period 4 s): no init"
wait "$LISTENER" || true
t_quiet=$(now)
log "b's swarm port closed again after $(elapsed "$t")s"
sleep 2
assert_eq "$(state a)" inactive "a: 2 s after b went silent: still no init"
wait_for 20 dk_agent_ready a || { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "a: no READY=1 after the quiet period"; }
took=$(elapsed "$t_quiet")
awk -v t="$took" 'BEGIN { exit !(t >= 4.0) }' || die "a: initialized ${took}s after b went silent (< 4 s)"
pass "a: initialized ${took}s after b went silent (quiet period 4 s)"
assert_eq "$(state a)" active "a: in a swarm"
jhas a SWARM_INITIALIZED && pass "a: a SWARM_INITIALIZED event" || die "a: no SWARM_INITIALIZED event"
[ ! -e "$DK_DIR/a/run/formatted" ] && pass "a: the formatted marker is gone" || die "a: the marker is still there"

# --- 3. b joins via a alone --------------------------------------------------------------------
TOKEN=$(dk_docker a swarm join-token -q manager)
mkdir -p "$DK_DIR/b/conf.d"
(umask 077 && printf '[Cluster]\nJoinToken=%s\n' "$TOKEN" >"$DK_DIR/b/conf.d/50-token.conf")
DK_AGENT_ENV=()
dk_agent_start b "${COMMON[@]}"
wait_for 60 dk_agent_ready b || { tail -n 30 "$DK_DIR/b/agent.log" >&2; die "b: no READY=1"; }
assert_contains "$(L b)" "private IP 10.98.0.42" "b: identity from the metadata service"
assert_contains "$(L b)" "Joined the swarm via 10.98.0.41:2377." "b: joined via a alone (not via itself)"
assert_not_contains "$(L b)" "10.98.0.42:2377" "b: its own address was never a join remote"
assert_eq "$(dk_docker a node ls --format '{{.ManagerStatus}}' | grep -cE '^(Leader|Reachable)$')" 2 "two managers"

for h in a b; do
    assert_not_contains "$(L "$h")" "SWMTKN-" "$h: no join token in the log"
done
assert_not_contains "$(cat "$DK_DIR/notify.log")" "SWMTKN-" "no join token told to systemd"
for h in a b; do
    p=${DK_AGENT_PID[$h]}
    kill -TERM "$p"
    rc=0
    wait "$p" || rc=$?
    DK_AGENT_PID[$h]=
    assert_eq "$rc" 0 "$h: SIGTERM exits 0"
done
log "total $(elapsed "$T0")s"
sk_summary
