#!/bin/bash
# shellcheck disable=SC2016  # the scripts run inside the hosts expand there
# The project's own .deb, as operators meet it.
#
# 1. An AMI (the test image + the package installed + `systemctl enable swarmkeeper-prepare
#    swarmkeeper`) boots with a blank volume and the README's user-data, served to real
#    cloud-init (Debian's 22.4) by the fake EC2's NoCloud seed on the bridge: cloud-init writes
#    the 0600 drop-in, prepare runs after it, formats and mounts the volume, docker starts
#    on it, the agent initialises the swarm; no ordering cycle; `journalctl -x` explains
#    the events from the installed catalog.
# 2. On a host with Docker and no swarmkeeper configuration, installing the package
#    starts, enables and formats nothing, and `systemctl restart docker` still works;
#    enabled, docker requires prepare; an upgrade restarts the agent and never prepare or
#    docker; removing it stops the agent, never docker, and docker restarts afterwards.
# shellcheck disable=SC2015
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/common.sh
. "$HERE/../lib/common.sh"
# shellcheck source=tests/lib/nspawn.sh
. "$HERE/../lib/nspawn.sh"
require_root
SRC=$(cd "$HERE/../.." && pwd)
nspawn_image

# --- the package: $SK_DEB (CI builds it first) or built now from this tree -----------------
DEB=${SK_DEB:-}
if [ -z "$DEB" ]; then
    tmpdir DEBDIR
    t=$(now)
    "$SRC/scripts/build-deb.sh" "$DEBDIR" >"$DEBDIR/build.log" 2>&1 || { tail -n 30 "$DEBDIR/build.log" >&2; die "build-deb.sh failed"; }
    DEB=$(find "$DEBDIR" -name 'swarmkeeper_*.deb' | head -n 1)
    log "built $(basename "$DEB") in $(elapsed "$t") s"
fi
[ -f "$DEB" ] || die "no package: $DEB"

# --- 1. the AMI and cloud-init ------------------------------------------------------------
IP=10.99.0.51
BRIDGE_IP=${SK_BRIDGE_ADDR%/*}
tmpdir SEED
# the README's one-liner, with this test's cluster: the instance's user-data
cat >"$SEED/user-data" <<EOU
#cloud-config
write_files: [{path: /etc/swarmkeeper/swarmkeeper.conf.d/50-cluster.conf, permissions: '0600', content: "[Cluster]\\nName=nstest\\nManagers=$IP\\nBootstrapManager=$IP\\n"}]
EOU
# The project's fake EC2 serves the NoCloud seed to each instance by its source address
# (meta-data with the instance id, user-data as given at launch), on the bridge's host
# address only. The bridge exists once a host is up: make it now so the fake can bind.
_sk_bridge_locked _sk_bridge_up_unlocked || die "bridge setup failed"
/usr/bin/python3 "$SRC/tests/fake-ec2/fake_ec2.py" --listen "$BRIDGE_IP:0" --port-file "$SEED/port" \
    --access-key AKIDTEST --secret-key "sk-test-$$" 2>"$SEED/fake.log" &
FAKE_PID=$!
on_exit kill_pid "$FAKE_PID"
wait_for 10 test -s "$SEED/port" || { cat "$SEED/fake.log" >&2; die "the fake EC2 did not start"; }
PORT=$(cat "$SEED/port")
fake() { # METHOD PATH [JSON]
    curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} "http://$BRIDGE_IP:$PORT$2"
}
fake POST /_fake/subnets '{"id": "subnet-0b1d9e", "az": "us-east-1a", "cidr": "10.99.0.0/24"}' >/dev/null ||
    die "fake: subnet"
inst=$(fake POST /_fake/instances "$(/usr/bin/python3 -c '
import json, sys
print(json.dumps({"private_ip": sys.argv[1], "subnet": "subnet-0b1d9e", "hooks": False,
                  "tags": {"swarmkeeper:cluster": "nstest", "swarmkeeper:logical-id": sys.argv[1]},
                  "user_data": open(sys.argv[2]).read()}))' "$IP" "$SEED/user-data")") || die "fake: seed instance"
IID=$(echo "$inst" | jq -r .id)
log "the fake EC2 on $BRIDGE_IP:$PORT; instance $IID at $IP"

# What the AMI needs on top of the package in this test: cloud-init on, with the NoCloud
# seed on the bridge; what IMDS would tell (no IMDS here), the volume's device name, and
# AWS endpoints that go nowhere (nothing may try to reach AWS).
nspawn_ami_image AMI "$DEB" "
rm -f /etc/cloud/cloud-init.disabled
printf 'datasource_list: [ NoCloud, None ]\ndatasource:\n  NoCloud:\n    seedfrom: http://$BRIDGE_IP:$PORT/nocloud/\n' \
    >/etc/cloud/cloud.cfg.d/90-swarmkeeper-test.cfg
printf 'policy: enabled\n' >/etc/cloud/ds-identify.cfg
umask 077
printf '[Host]\nInstanceId=$IID\nPrivateIp=$IP\nAvailabilityZone=us-east-1a\n[Volume]\nDevice=/dev/xvdf\n[AWS]\nRegion=us-east-1\nEndpoint=http://127.0.0.1:9/\nMetadataEndpoint=http://127.0.0.1:9\n' \
    >/etc/swarmkeeper/swarmkeeper.conf.d/40-test-host.conf"

make_loop 512 VOL
H=sk-ami1
t=$(now)
SK_IMAGE_DIR=$AMI SK_BLOCKS="$VOL:/dev/xvdf" nspawn_start "$H" "$IP"
log "AMI boot (cloud-init, prepare: format + mount, docker, swarm init): $(elapsed "$t") s"
show() { nspawn_exec "$H" systemctl show "$1" -p "$2" --value; }
jfail() { nspawn_journal "$H" -b -u cloud-init.service -u swarmkeeper-prepare.service -u swarmkeeper.service | tail -n 40 >&2; }

st=$(nspawn_exec "$H" cloud-init status --long 2>&1)
assert_contains "$st" "status: done" "cloud-init ran to the end ($st)"
assert_contains "$st" "NoCloud" "cloud-init used the NoCloud seed"
assert_contains "$(cat "$SEED/fake.log")" "GET /nocloud/user-data" "the seed's user-data was fetched from the fake"
assert_eq "$(nspawn_exec "$H" cloud-init query instance_id 2>/dev/null)" "$IID" "cloud-init knows the instance id from the seed"
assert_eq "$(nspawn_exec "$H" stat -c '%a %U' /etc/swarmkeeper/swarmkeeper.conf.d/50-cluster.conf)" "600 root" \
    "cloud-init wrote the drop-in, mode 0600"
assert_eq "$(nspawn_exec "$H" stat -c %a /etc/swarmkeeper/swarmkeeper.conf.d)" 700 "conf.d is 0700 (package)"
assert_contains "$(nspawn_exec "$H" swarmkeeper config)" "Name=nstest" "the agent reads the cluster from it"
assert_eq "$(show swarmkeeper-prepare.service ActiveState)" active "prepare ran at boot" || jfail
ci_done=$(show cloud-init.service ActiveEnterTimestampMonotonic)
prep_start=$(show swarmkeeper-prepare.service ExecMainStartTimestampMonotonic)
[ "$ci_done" -gt 0 ] && [ "$ci_done" -le "$prep_start" ] ||
    die "prepare ($prep_start) must start after cloud-init.service finished ($ci_done)"
pass "prepare started after cloud-init wrote the configuration"
assert_eq "$(nspawn_exec "$H" findmnt -n -o SOURCE,FSTYPE /var/lib/docker | tr -s ' ')" "/dev/xvdf ext4" \
    "the blank volume was formatted and mounted"
assert_eq "$(show docker.service ActiveState)" active "docker runs (pulled in by the agent)"
prep_done=$(show swarmkeeper-prepare.service ActiveEnterTimestampMonotonic)
dock_start=$(show docker.service ExecMainStartTimestampMonotonic)
[ "$prep_done" -le "$dock_start" ] || die "dockerd started before prepare finished"
pass "dockerd started after prepare"
assert_eq "$(show swarmkeeper.service ActiveState)" active "the agent runs" || jfail
assert_eq "$(nspawn_exec "$H" docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')" \
    "active true" "the bootstrap manager initialised the swarm"
cyc=$(nspawn_journal "$H" -b -p warning -o cat | grep -i "ordering cycle" || true)
assert_eq "$cyc" "" "no ordering cycle at boot"
out=$(nspawn_exec "$H" systemd-analyze verify --man=no swarmkeeper-prepare.service swarmkeeper.service \
    docker.service cloud-init.service 2>&1); rc=$?
assert_eq "$rc" 0 "systemd-analyze verify in the host ($out)"
x=$(nspawn_journal "$H" -x -u swarmkeeper-prepare.service MESSAGE_ID=bae19a65e64a4aa68be7905d36ed3ed1)
assert_contains "$x" "Subject: swarmkeeper formatted a blank volume" "journalctl -x: the installed catalog explains the event"
x=$(nspawn_journal "$H" -x -u swarmkeeper.service MESSAGE_ID=b4de82557cac47ea8b3ded2a83c962d9)
assert_contains "$x" "Subject: swarmkeeper initialised a new swarm" "journalctl -x: swarm initialised"
nspawn_stop "$H"

# --- 2. the package on a host with Docker and no configuration ------------------------------
H=sk-pkg2
nspawn_start "$H" 10.99.0.52
nspawn_exec "$H" systemctl start docker.service || die "docker does not start before the package"
pid0=$(show docker.service MainPID)
out=$(nspawn_install_deb "$H" "$DEB" 2>&1) || die "dpkg -i failed: $out"
pass "dpkg -i"
for u in swarmkeeper-prepare.service swarmkeeper.service; do
    assert_eq "$(nspawn_exec "$H" systemctl is-enabled "$u")" disabled "installed: $u not enabled"
    assert_eq "$(show "$u" ActiveState)" inactive "installed: $u not started"
done
assert_eq "$(show docker.service MainPID)" "$pid0" "installed: dockerd untouched"
assert_eq "$(show docker.service Requires | grep -c swarmkeeper)" 0 "installed: docker.service does not require prepare"
assert_eq "$(nspawn_exec "$H" dpkg-query -W -f='${Conffiles}' swarmkeeper | awk '{ print $1 }' | grep -c /etc/swarmkeeper/swarmkeeper.conf)" 1 \
    "swarmkeeper.conf is a conffile"
assert_ok "installed: systemctl restart docker works" nspawn_exec "$H" systemctl restart docker.service
assert_eq "$(show swarmkeeper-prepare.service ActiveState)" inactive "restart docker: prepare not pulled in"
assert_fail "nothing mounted at /var/lib/docker" nspawn_exec "$H" mountpoint -q /var/lib/docker

# enabled (as an AMI build does): docker requires prepare. prepare and the agent are
# stand-ins here (no volume, no swarm): the point is what the package does to them.
nspawn_exec "$H" systemctl enable --quiet swarmkeeper-prepare.service swarmkeeper.service
assert_eq "$(show docker.service Requires | tr ' ' '\n' | grep -c '^swarmkeeper-prepare.service$')" 1 \
    "enabled: docker.service requires prepare"
nspawn_sh "$H" '
set -e
mkdir -p /etc/systemd/system/swarmkeeper-prepare.service.d /etc/systemd/system/swarmkeeper.service.d
printf "[Service]\nExecStart=\nExecStart=/bin/true\n" >/etc/systemd/system/swarmkeeper-prepare.service.d/50-test.conf
printf "[Service]\nType=simple\nWatchdogSec=0\nExecStart=\nExecStart=/bin/sleep infinity\n" >/etc/systemd/system/swarmkeeper.service.d/50-test.conf
systemctl daemon-reload
systemctl restart docker.service
systemctl start swarmkeeper.service'
pid_d=$(show docker.service MainPID)
prep_t=$(show swarmkeeper-prepare.service ActiveEnterTimestampMonotonic)
pid_a=$(show swarmkeeper.service MainPID)
[ "$prep_t" -gt 0 ] && [ "$pid_a" -gt 0 ] || die "stand-ins did not start"
out=$(nspawn_install_deb "$H" "$DEB" 2>&1) || die "upgrade (dpkg -i again) failed: $out"
assert_eq "$(show swarmkeeper-prepare.service ActiveEnterTimestampMonotonic)" "$prep_t" "upgrade: prepare not restarted"
assert_eq "$(show docker.service MainPID)" "$pid_d" "upgrade: dockerd not restarted"
assert_ne "$(show swarmkeeper.service MainPID)" "$pid_a" "upgrade: the agent restarted"
assert_eq "$(show swarmkeeper.service ActiveState)" active "upgrade: the agent runs"

out=$(nspawn_exec "$H" dpkg -r swarmkeeper 2>&1) || die "dpkg -r failed: $out"
assert_eq "$(show swarmkeeper.service ActiveState)" inactive "removed: the agent stopped"
assert_eq "$(show docker.service MainPID)" "$pid_d" "removed: dockerd not stopped"
assert_ok "removed: systemctl restart docker works" nspawn_exec "$H" systemctl restart docker.service
assert_eq "$(show docker.service ActiveState)" active "removed: docker runs"
nspawn_stop "$H"
sk_summary
