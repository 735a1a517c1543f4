#!/bin/bash
# shellcheck disable=SC2016
# The launch path, without a reconciler: the fake EC2 is all there is. Its hook boots a
# host from the AMI (the test image + the project's .deb, units enabled) for every
# instance that runs; real cloud-init reads the user-data of that launch from the fake
# (NoCloud seed per source address); the agent learns who it is from the fake IMDS
# (IMDSv2), attaches its own tagged volume through the fake EC2 API, which the hook hands
# in as /dev/sdf + /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol…; prepare formats
# and mounts it, docker starts on it. A second manager launched with `aws ec2
# run-instances` goes the same way; `aws ec2 terminate-instances` powers it off hard and
# its volume comes free. (Swarm formation is the scenarios' business: scenarios.sh.) The state log shows no logical id
# with two live instances and no volume attached twice.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
e2e_prologue

M1=10.99.0.11 M2=10.99.0.12 M3=10.99.0.13
e2e_fake_start --pending-delay 0.2 --shutdown-delay 0.5
e2e_seed e2elaunch "$M1,$M2,$M3" 0
# docker_up INSTANCE WHAT : its host booted and prepared, docker active (else its journal, die)
docker_up() {
    local h
    e2e_wait_started "$1"
    h=$(e2e_host "$1")
    wait_for 120 eval '[ "$(nspawn_exec "$h" systemctl is-active docker.service 2>/dev/null)" = active ]' || {
        nspawn_journal "$h" -b -u cloud-init.service -u swarmkeeper-prepare.service -u swarmkeeper.service | tail -n 60 >&2
        die "docker did not start on the $2"
    }
}
B=$E2E_BOOTSTRAP
t=$(now)
docker_up "$B" "bootstrap host"
H1=$(e2e_host "$B")
log "bootstrap host: seeded -> prepared, docker up in $(elapsed "$t") s"

# (its final stage waits for multi-user.target, i.e. for the agent's READY=1: not here)
assert_eq "$(nspawn_exec "$H1" systemctl is-active cloud-init.service cloud-config.service | tr '\n' ' ')" \
    "active active " "cloud-init's init and config stages ran"
st=$(nspawn_exec "$H1" cloud-init status --long 2>&1)
assert_contains "$st" "NoCloud" "cloud-init used the NoCloud seed"
assert_contains "$(grep 'GET /nocloud/user-data' "$E2E_DIR/fake.log" || true)" "$M1" \
    "the fake served the user-data to the host's own address"
assert_eq "$(nspawn_exec "$H1" stat -c '%a %U' /etc/swarmkeeper/swarmkeeper.conf.d/50-cluster.conf)" "600 root" \
    "cloud-init wrote the cluster drop-in, mode 0600"
assert_eq "$(nspawn_exec "$H1" ls /etc/swarmkeeper/swarmkeeper.conf.d)" "50-cluster.conf" \
    "the user-data is all the host is told (no other drop-in)"
vol1=$(aws_ec2 describe-volumes --filters "Name=tag:swarmkeeper:logical-id,Values=$M1" \
    --query 'Volumes[0].[VolumeId,State,Attachments[0].InstanceId]' --output text)
read -r V1 vstate vinst <<<"$vol1"
assert_eq "$vstate $vinst" "in-use $B" "prepare attached its own volume through the fake EC2 API"
assert_contains "$(nspawn_exec "$H1" readlink -f "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${V1//-/}")" "/dev/" \
    "the volume appears as /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${V1//-/}"
assert_eq "$(nspawn_exec "$H1" findmnt -n -o FSTYPE /var/lib/docker)" ext4 "the blank volume was formatted and mounted"
assert_contains "$(nspawn_exec "$H1" docker info --format '{{join .Labels " "}}')" "$B" \
    "the engine is labelled with the instance id from the fake IMDS"
calls=$(fake_get /_fake/calls)
assert_eq "$(jq -r '[.[] | select(.source == "'"$M1"'" and .action == "AttachVolume")] | length' <<<"$calls")" 1 \
    "one AttachVolume, signed with the host's IMDS role credentials"
assert_contains "$(grep "^fake-ec2: $M1 PUT /latest/api/token" "$E2E_DIR/fake.log" || true)" "200" "the host used IMDSv2"

# a second manager, launched with the real CLI
ud=$(e2e_user_data e2elaunch "$M1,$M2,$M3" 0)
tmpdir T
printf '%s\n' "$ud" >"$T/ud"
t=$(now)
out=$(aws_ec2 run-instances --image-id ami-0e2e0000000000001 --instance-type t3.small --count 1 \
    --subnet-id "$E2E_SUBNET" --private-ip-address "$M2" --user-data "file://$T/ud" \
    --iam-instance-profile "Name=$E2E_PROFILE" --metadata-options HttpTokens=required \
    --tag-specifications "ResourceType=instance,Tags=[{Key=swarmkeeper:cluster,Value=e2elaunch},{Key=swarmkeeper:logical-id,Value=$M2},{Key=swarmkeeper:role,Value=manager}]" \
    --query 'Instances[0].InstanceId' --output text) || die "aws ec2 run-instances failed"
I2=$out
docker_up "$I2" "launched host"
H2=$(e2e_host "$I2")
log "run-instances -> second host prepared, docker up in $(elapsed "$t") s"
assert_eq "$(nspawn_exec "$H2" findmnt -n -o FSTYPE /var/lib/docker)" ext4 "the launched host mounted its own volume"
assert_contains "$(nspawn_exec "$H2" docker info --format '{{join .Labels " "}}')" "$M2" \
    "the launched host's engine carries its logical id (from IMDS)"

# terminate: the host is powered off hard
aws_ec2 terminate-instances --instance-ids "$I2" >/dev/null || die "aws ec2 terminate-instances failed"
wait_for 90 test -f "$E2E_DIR/inst/$I2.stopped" || die "the terminated instance's host is still up"
assert_fail "the terminated host is gone" _sk_pid_is "$SK_RUN_DIR/$H2/nspawn.pid"
vstate2() { aws_ec2 describe-volumes --filters "Name=tag:swarmkeeper:logical-id,Values=$M2" --query 'Volumes[0].State' --output text; }
wait_for 90 eval '[ "$(vstate2)" = available ]'
assert_eq "$(vstate2)" available "the terminated instance's volume detached by itself"
e2e_hooks_idle 60 || die "hooks still pending"
grep -q '"instance-terminated"' "$E2E_DIR/state.log" && pass "the state log recorded the termination"
e2e_check_invariants
E2E_OK=1
sk_summary
