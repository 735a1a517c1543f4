#!/bin/bash
# Under real systemd (PID 1 in nspawn) with the project's hardened units installed and
# enabled (as on an AMI) and a loop device handed in as the EBS volume: `systemctl start
# docker` pulls in swarmkeeper-prepare, the volume is formatted and mounted before dockerd
# starts, and Docker's root dir is on it; `journalctl -x` shows the catalog entry. A
# second boot ("the replacement instance") mounts the same volume without formatting, and
# the engine's state is still there. The later steps run prepare again through a copy of
# the installed unit (same sandbox): new labels reload the engine, a running engine is
# stopped over the bus and started again. Disabled, prepare is no longer bound to docker.
# shellcheck disable=SC2016,SC2015  # scripts run inside the hosts expand there
set -uo pipefail
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/nspawn.sh"
require_root
nspawn_image

make_loop 512 VOL
IP=10.99.0.21

boot_host() { # NAME
        SK_BLOCKS="$VOL:/dev/xvdf" nspawn_start "$1" "$IP"
        nspawn_install_build "$1"
        nspawn_sh "$1" 'cat > /etc/swarmkeeper/swarmkeeper.conf.d/50-test.conf <<EOC
[Cluster]
Name=nstest
Managers=10.99.0.21
[Host]
InstanceId=i-0123456789abcdef0
PrivateIp=10.99.0.21
AvailabilityZone=us-east-1a
[Volume]
Device=/dev/xvdf
EOC'
}

mono() { nspawn_exec "$H" systemctl show "$1" -p "$2" --value; }

# --- first boot: blank volume ---------------------------------------------------------
H=sk-prep1
boot_host $H
out=$(nspawn_exec $H systemd-analyze verify --man=no /usr/lib/systemd/system/swarmkeeper-prepare.service \
        /usr/lib/systemd/system/swarmkeeper.service /usr/lib/systemd/system/docker.service 2>&1); rc=$?
assert_eq "$rc" 0 "systemd-analyze verify passes ($out)"
assert_eq "$(nspawn_exec $H systemctl is-active docker.service)" inactive "docker not started at boot"
assert_eq "$(nspawn_exec $H systemctl show docker.service -p Requires --value | tr ' ' '\n' | grep -c swarmkeeper-prepare)" 1 \
        "docker.service Requires= swarmkeeper-prepare (systemctl enable, RequiredBy=)"
for u in swarmkeeper-prepare.service swarmkeeper.service; do
        e=$(nspawn_exec $H systemd-analyze security --no-pager "$u" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
        log "systemd-analyze security $u in the host: $e"
done

t0=$(now)
assert_ok "systemctl start docker" nspawn_exec $H systemctl start docker.service
log "systemctl start docker (prepare: format + mount, then dockerd): $(elapsed "$t0") s"
assert_eq "$(nspawn_exec $H systemctl is-active swarmkeeper-prepare.service)" active "prepare pulled in and active"
assert_eq "$(nspawn_exec $H findmnt -n -o SOURCE,FSTYPE /var/lib/docker | tr -s ' ')" "/dev/xvdf ext4" \
        "volume mounted at /var/lib/docker"
assert_eq "$(nspawn_exec $H docker info --format '{{.DockerRootDir}}')" /var/lib/docker "Docker root dir"
assert_eq "$(nspawn_exec $H df --output=source /var/lib/docker/image | tail -1)" /dev/xvdf \
        "Docker's state is on the volume"
labels=$(nspawn_exec $H docker info --format '{{json .Labels}}')
assert_contains "$labels" '"swarmkeeper.cluster=nstest"' "engine carries the cluster label"
assert_contains "$labels" '"swarmkeeper.logical-id=10.99.0.21"' "engine carries the logical id label"

# ordering: prepare mounts synchronously and exits; dockerd is exec'd only after that.
# (var-lib-docker.mount's own timestamp is when PID 1 noticed the mount, later.)
prep_at=$(mono swarmkeeper-prepare.service ActiveEnterTimestampMonotonic)
dock_at=$(mono docker.service ExecMainStartTimestampMonotonic)
log "monotonic µs: prepare-done=$prep_at dockerd-exec=$dock_at"
[ "$prep_at" -gt 0 ] && [ "$prep_at" -le "$dock_at" ] ||
        die "ordering: prepare (which mounts the volume) must finish before dockerd starts"
pass "prepare (volume mounted) finished before dockerd started"

# the journal has the structured event with its fixed MESSAGE_ID
j=$(nspawn_journal $H -u swarmkeeper-prepare.service -o json MESSAGE_ID=bae19a65e64a4aa68be7905d36ed3ed1)
assert_contains "$j" '"SK_DEVICE":"/dev/xvdf"' "journal: volume formatted event with SK_DEVICE"
assert_contains "$j" '"SK_FILESYSTEM":"ext4"' "journal: SK_FILESYSTEM"
j=$(nspawn_journal $H -u swarmkeeper-prepare.service -o json MESSAGE_ID=ae6a74ae370e4a54a005b7bb200da937)
assert_contains "$j" '"SK_MOUNT_POINT":"/var/lib/docker"' "journal: volume mounted event"
# the catalog: journalctl -x explains the event (with the event's own fields filled in)
x=$(nspawn_journal $H -x -u swarmkeeper-prepare.service MESSAGE_ID=bae19a65e64a4aa68be7905d36ed3ed1)
assert_contains "$x" "Subject: swarmkeeper formatted a blank volume" "journalctl -x prints the catalog entry"
assert_contains "$x" "found device /dev/xvdf blank" "catalog entry with @SK_DEVICE@ filled in"

nspawn_exec $H sh -c 'echo survived > /var/lib/docker/sk-marker && sync'
nspawn_stop $H

# --- second boot, same volume: mounted as it is -----------------------------------------
H=sk-prep2
boot_host $H
assert_ok "second boot: systemctl start docker" nspawn_exec $H systemctl start docker.service
assert_eq "$(nspawn_exec $H cat /var/lib/docker/sk-marker)" survived "second boot: engine state came back"
j=$(nspawn_journal $H -u swarmkeeper-prepare.service -o json MESSAGE_ID=bae19a65e64a4aa68be7905d36ed3ed1)
assert_eq "$j" "" "second boot: not formatted again"
assert_contains "$(nspawn_journal $H -u swarmkeeper-prepare.service -o cat)" "already holds an ext4 filesystem" \
        "second boot: used as it is"

# prepare again, in the installed unit's sandbox: a copy of it, not bound to docker.service
nspawn_sh $H 'sed "/^\[Install\]/,\$d" /usr/lib/systemd/system/swarmkeeper-prepare.service \
        > /etc/systemd/system/sk-prepare-again.service && systemctl daemon-reload'
prepare_again() { nspawn_exec "$H" systemctl restart sk-prepare-again.service; }

# --- labels changed while the engine runs: written and docker reloaded (sd-bus) --------
nspawn_sh $H 'printf "[Engine]\nLabels=tier=db\n" > /etc/swarmkeeper/swarmkeeper.conf.d/60-labels.conf'
assert_ok "prepare (hardened unit) with a new label" prepare_again
has_label() { nspawn_exec "$H" docker info --format '{{json .Labels}}' | grep -q "$1"; }
wait_for 60 has_label tier=db || die "the new label did not reach the engine"
labels=$(nspawn_exec $H docker info --format '{{json .Labels}}')
assert_contains "$labels" '"tier=db"' "running engine reloaded with the new label"
assert_eq "$(nspawn_exec $H systemctl is-active docker.service)" active "engine still running after the reload"

# --- a running engine is stopped (sd-bus) before the mount and started again -----------
# A stand-in engine unit, so that the volume can be unmounted under it.
nspawn_sh $H 'printf "[Service]\nExecStart=/bin/sleep infinity\n" > /etc/systemd/system/sk-engine.service
systemctl daemon-reload && systemctl stop docker.service docker.socket && umount /var/lib/docker &&
systemctl start sk-engine.service'
assert_eq "$(nspawn_exec $H systemctl is-active sk-engine.service)" active "stand-in engine running"
before=$(nspawn_exec $H systemctl show sk-engine.service -p MainPID --value)
nspawn_sh $H 'printf "[Engine]\nUnit=sk-engine.service\n" > /etc/swarmkeeper/swarmkeeper.conf.d/70-engine.conf'
prepare_again; rc=$?
out=$(nspawn_journal $H -u sk-prepare-again.service -o cat)
assert_eq "$rc" 0 "prepare (hardened unit) with a running engine: exit 0 ($out)"
assert_contains "$out" "Stopping sk-engine.service before mounting its data directory" "engine stopped first"
assert_eq "$(nspawn_exec $H findmnt -n -o SOURCE /var/lib/docker)" /dev/xvdf "volume mounted again"
assert_eq "$(nspawn_exec $H systemctl is-active sk-engine.service)" active "engine started again"
assert_ne "$(nspawn_exec $H systemctl show sk-engine.service -p MainPID --value)" "$before" "engine was restarted"
assert_eq "$(nspawn_exec $H cat /var/lib/docker/sk-marker)" survived "data intact"

# --- the sandboxes as systemd sets them up: a copy of each installed unit runs a probe ---
nspawn_sh $H 'set -e
mknod /dev/sk-char c 10 237   # a char device no unit here needs (loop-control)
cat > /usr/local/bin/sk-probe <<"EOP"
#!/bin/sh
echo "caps $(awk "/^CapEff/ { print \$2 }" /proc/self/status)"
if (exec 3</dev/xvdf) 2>/dev/null; then echo "block yes"; else echo "block no"; fi
if (exec 3</dev/sk-char) 2>/dev/null; then echo "char yes"; else echo "char no"; fi
if touch /etc/sk-probe 2>/dev/null; then rm -f /etc/sk-probe; echo "etc-writable yes"; else echo "etc-writable no"; fi
if curl -sf --unix-socket /run/docker.sock http://engine/_ping >/dev/null; then echo "docker yes"; else echo "docker no"; fi
EOP
chmod 755 /usr/local/bin/sk-probe
for u in swarmkeeper-prepare swarmkeeper; do
    sed -e "/^\[Install\]/,\$d" -e "s|^ExecStart=.*|ExecStart=/usr/local/bin/sk-probe|" -e "s|^Type=.*|Type=oneshot|" \
        -e "/^\(ExecReload\|WatchdogSec\|Restart\|RemainAfterExit\|NotifyAccess\)=/d" \
        /usr/lib/systemd/system/$u.service >/etc/systemd/system/sk-probe-$u.service
done
systemctl daemon-reload'
probe() { nspawn_exec "$H" systemctl start "sk-probe-$1.service" && nspawn_journal "$H" -u "sk-probe-$1.service" -o cat | tr '\n' ' '; }
assert_ok "outside any unit the probe device opens" nspawn_sh $H 'exec 3</dev/sk-char'
p=$(probe swarmkeeper-prepare)
assert_contains "$p" "caps 0000000000200000" "prepare's sandbox: CAP_SYS_ADMIN and nothing else ($p)"
assert_contains "$p" "block yes" "prepare's sandbox: the volume opens"
assert_contains "$p" "char no" "prepare's sandbox: other devices do not (DevicePolicy)"
assert_contains "$p" "etc-writable yes" "prepare's sandbox: /etc writable (daemon.json)"
p=$(probe swarmkeeper)
assert_contains "$p" "caps 0000000000000000" "the agent's sandbox: no capability ($p)"
assert_contains "$p" "block no" "the agent's sandbox: no block device"
assert_contains "$p" "etc-writable no" "the agent's sandbox: read-only file system"
assert_contains "$p" "docker yes" "the agent's sandbox: the Docker socket answers"

# --- disabled, prepare no longer binds docker.service ----------------------------------
nspawn_exec $H systemctl disable --quiet swarmkeeper-prepare.service swarmkeeper.service
assert_eq "$(nspawn_exec $H systemctl show docker.service -p Requires --value | tr ' ' '\n' | grep -c swarmkeeper-prepare)" 0 \
        "disabled: docker.service does not require prepare"
nspawn_stop $H

sk_summary
