#!/bin/bash
# The local demo, on a fresh Debian 12 machine, as root:
#   sudo scripts/demo.sh
# Nothing plays EC2 but a fake EC2 API + IMDS (tests/fake-ec2), and everything it launches
# is a real host: systemd as PID 1 in systemd-nspawn, its own network namespace and
# private IP, booted from an "AMI" (Debian 12 + docker.io + cloud-init + swarmkeeper's own
# .deb, units enabled), told nothing but the user-data of its launch (cloud-init). Volumes
# are loop devices that appear in a host when AttachVolume completes.
#
# 1. As conf/aws/cloudformation.yaml would: one bootstrap instance and one tagged volume
#    per manager. swarmkeeper grows the cluster to 3 managers + 2 workers by itself.
# 2. `swarmkeeper status` on the leader.
# 3. The leader's instance is terminated with the real AWS CLI
#    (`aws ec2 terminate-instances --endpoint-url <fake>`); Raft elects a new leader, whose
#    agent re-creates the instance with the same IP and volume: the same node comes back.
#    Its journal shows it deciding and acting.
# Ends with one line per replacement:
#   demo: replaced <logical-id> old=<instance-id> new=<instance-id> node=<node-id> same-node=<yes|no> recovery=<seconds>s
# and exits non-zero if anything went wrong. Everything is removed at the end;
# DEMO_KEEP=1 keeps the hosts up until you press Enter.
# shellcheck disable=SC2016  # jmespath in single quotes
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
SRC=$PWD
if [ -z "${SK_BUILD_DIR:-}" ]; then
    # as the main job: set up and build; as a test (meson sets SK_BUILD_DIR), use that build
    scripts/setup-deps.sh
    { [ -d build ] || meson setup build; } && ninja -C build || exit 1
    export SK_SOURCE_DIR=$SRC SK_BUILD_DIR=$SRC/build SK_BIN=$SRC/build/agent/swarmkeeper
fi
. tests/lib/common.sh
. tests/lib/nspawn.sh
. tests/e2e/lib.sh
require_root

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
indent() { sed 's/^/   | /'; }
CLUSTER=demo
MANAGERS=10.99.0.11,10.99.0.12,10.99.0.13
WORKERS=2
GROW_TIMEOUT=${DEMO_GROW_TIMEOUT:-420}
HEAL_TIMEOUT=${DEMO_HEAL_TIMEOUT:-240}
results=()
rc=0

say "1. The AMI: Debian 12 + docker.io + cloud-init + swarmkeeper's .deb (built once, cached)"
e2e_deb
e2e_ami
echo "   package: $(basename "$SK_DEB"); image: $SK_IMAGE_DIR"

say "2. The fake EC2 + IMDS on the test bridge; what CloudFormation creates: the bootstrap instance, one volume per manager"
e2e_fake_start --pending-delay 0.5 --shutdown-delay 1 --ip-release-delay 1 --volume-release-delay 1
e2e_seed "$CLUSTER" "$MANAGERS" "$WORKERS" "[Reconcile]
GraceSec=60
StableSec=5
[Log]
Level=info"
aws_ec2 describe-volumes --query 'Volumes[].[VolumeId,State,Tags[?Key==`swarmkeeper:logical-id`]|[0].Value]' --output text | indent
aws_ec2 describe-instances --query 'Reservations[].Instances[].[InstanceId,State.Name,PrivateIpAddress]' --output text | indent

say "3. swarmkeeper grows the cluster to 3 managers + $WORKERS workers by itself (up to ${GROW_TIMEOUT}s)"
t=$(now)
if wait_for "$GROW_TIMEOUT" e2e_healthy 3 "$WORKERS"; then
    echo "   grown in $(elapsed "$t") s"
else
    e2e_nodes | indent
    E2E_OK=
    die "the cluster did not grow to 3 managers + $WORKERS workers"
fi
e2e_nodes | awk '{ printf "%s %-7s %-5s %-11s leader=%-5s %s %s\n", $1, $2, $3, $4, $5, $6, $7 }' | indent
# Swarm's default heartbeat (5 s) makes a dead node Down after ~15 s; 2 s makes it ~6 s
read -r LNODE LIP LINST <<<"$(e2e_leader)"
LHOST=$(e2e_host_of_ip "$LIP") || die "no host for the leader $LIP"
nspawn_exec "$LHOST" docker swarm update --dispatcher-heartbeat 2s >/dev/null || die "docker swarm update failed"

say "4. swarmkeeper status (on the leader, $LIP)"
nspawn_exec "$LHOST" swarmkeeper status | indent

say "5. The leader's instance terminated: aws ec2 terminate-instances --endpoint-url $E2E_URL --instance-ids $LINST"
sleep 5 # the agents see the cluster as it is now (stable period)
t0=$(now)
aws_ec2 terminate-instances --instance-ids "$LINST" --output text | indent || die "terminate-instances failed"
t=$(now)
if wait_for "$HEAL_TIMEOUT" e2e_node_back "$LNODE" "$LIP" "$LINST"; then
    recovery=$(elapsed "$t0")
else
    recovery=-
    rc=1
    log "the node $LNODE did not come back within ${HEAL_TIMEOUT}s"
fi
NEWINST=$(e2e_instance_of_ip "$LIP")
read -r _ NLIP _ <<<"$(e2e_leader)"
say "6. The new leader ($NLIP): its agent decided and acted (journal)"
NLHOST=$(e2e_host_of_ip "$NLIP") && e2e_agent_journal "$NLHOST" |
    grep -iE 'leader|replac|launch|attach|back|terminated|missing|plan' | tail -n 25 | indent
say "   the re-created host ($LIP, $NEWINST): prepare found its volume with the swarm state on it"
NH=$(e2e_host_of_ip "$LIP") && nspawn_journal "$NH" -b -u swarmkeeper-prepare.service -u swarmkeeper.service -o cat |
    grep -vE '^(Start|Finish)' | head -n 20 | indent
NEWNODE=$(e2e_nodes | awk -v ip="$LIP" '$6 == ip && $2 == "manager" { print $1; exit }')
same=no
[ "$NEWNODE" = "$LNODE" ] && same=yes
[ "$same" = yes ] || rc=1
results+=("demo: replaced $LIP old=$LINST new=${NEWINST:-none} node=${NEWNODE:-none} same-node=$same recovery=${recovery}s")

say "7. The cluster after healing"
# (the workers' and followers' view settles a few seconds after the node is back)
wait_for 60 e2e_healthy 3 "$WORKERS" || { rc=1; log "the cluster is not back to 3 managers + $WORKERS workers"; }
e2e_nodes | awk '{ printf "%s %-7s %-5s %-11s leader=%-5s %s %s\n", $1, $2, $3, $4, $5, $6, $7 }' | indent
e2e_hooks_idle 60 || true
out=$(/usr/bin/python3 "$E2E_FAKE_DIR/check_invariants.py" "$E2E_DIR/state.log" 2>&1) || { rc=1; echo "$out"; }
echo "   fake EC2 state log: $out"

if [ "${DEMO_KEEP:-0}" = 1 ]; then
    say "Hosts are up (nsenter via tests/lib/nspawn.sh; fake at $E2E_URL). Press Enter to tear everything down."
    read -r _
fi
[ "$rc" = 0 ] && E2E_OK=1
echo
for r in "${results[@]}"; do echo "$r"; done
exit "$rc"
