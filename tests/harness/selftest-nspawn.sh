#!/bin/bash
# shellcheck disable=SC2016
# swarmkeeper — self-test of the test-host library (tests/lib/nspawn.sh).
#
# Boots two real systemd hosts in systemd-nspawn (10.99.0.11, 10.99.0.12 on bridge skbr0)
# and checks what the integration tests rely on: boot, names, host<->host and
# host<->bridge TCP, no default route / no way to 169.254.169.254, loop devices handed in
# (after boot, and at boot via SK_BLOCKS) usable by services, nested dockerd, and that
# stopping leaves nothing behind. Root only; exit 77 = skipped (a failure under CI=true).
#
#   sudo tests/harness/selftest-nspawn.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/common.sh
. "$HERE/../lib/common.sh"
# shellcheck source=tests/lib/nspawn.sh
. "$HERE/../lib/nspawn.sh"

require_root
for c in ip nsenter losetup flock setsid; do command -v "$c" >/dev/null || skip "missing $c"; done

A=skself-a
B=skself-b
IPA=10.99.0.11
IPB=10.99.0.12
HOSTIP=${SK_BRIDGE_ADDR%/*}
PORT=7777

# leftovers of an earlier run of this test that was SIGKILLed (nspawn_start would do it too)
nspawn_stop "$A"
nspawn_stop "$B"
bridge_existed=0
ip link show dev "$SK_BRIDGE" >/dev/null 2>&1 && bridge_existed=1

# --- image ---------------------------------------------------------------------------
t=$(now)
nspawn_image
T_IMAGE=$(elapsed "$t")
log "image ready in ${T_IMAGE}s (${SK_IMAGE_BUILD_S:-cached})"

# --- devices first: on the cleanup stack they are then released AFTER the hosts stop ---
make_loop 128 LOOPA
make_loop 320 LOOPB   # mkfs.xfs wants >= 300 MB
log "loop devices: $LOOPA ($LOOPA_IMG), $LOOPB ($LOOPB_IMG)"

# --- boot -----------------------------------------------------------------------------
SK_DOCKER_DATA=1 nspawn_start "$A" "$IPA"
T_BOOT_A=$SK_BOOT_S
SK_DOCKER_DATA=1 SK_BLOCKS="$LOOPB:/dev/xvdg:selftest-boot-disk" nspawn_start "$B" "$IPB"
T_BOOT_B=$SK_BOOT_S

# everything that must be gone afterwards
PIDS=""
for h in "$A" "$B"; do
    PIDS="$PIDS $(nspawn_pid "$h") $(nspawn_leader "$h")"
done

for h in "$A" "$B"; do
    st=$(nspawn_state "$h" || true)
    case "$st" in running | degraded) pass "$h: systemd is $st" ;; *) die "$h: state '$st'" ;; esac
    assert_eq "$(nspawn_exec "$h" hostname)" "$h" "$h: hostname"
    assert_eq "$(nspawn_exec "$h" cat /proc/1/comm)" "systemd" "$h: PID 1 is systemd"
    assert_eq "$(nspawn_exec "$h" stat -f -c %T /sys/fs/cgroup)" "cgroup2fs" "$h: pure cgroup2 inside"
done
assert_ne "$(nspawn_exec "$A" cat /etc/machine-id)" "$(nspawn_exec "$B" cat /etc/machine-id)" \
    "machine-ids differ"
assert_eq "$(nspawn_exec "$A" systemctl is-enabled docker.service 2>/dev/null || true)" "disabled" \
    "docker.service is not started at boot"

# --- network ----------------------------------------------------------------------------
# TCP listeners as services (systemd-run) in both hosts, answering their hostname
for h in "$A" "$B"; do
    nspawn_exec "$h" systemd-run -q --unit=sk-listen busybox nc -ll -p "$PORT" -e /bin/hostname
done
tcp_get() { timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && cat <&3' sh "$1" "$2" 2>/dev/null; }
ct_tcp_get() {
    nspawn_exec "$1" timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && cat <&3' sh "$2" "$3" 2>/dev/null
}
wait_for 10 tcp_get "$IPB" "$PORT" >/dev/null || true
assert_eq "$(ct_tcp_get "$A" "$IPB" "$PORT")" "$B" "A -> B:$PORT over TCP"
assert_eq "$(ct_tcp_get "$B" "$IPA" "$PORT")" "$A" "B -> A:$PORT over TCP"
assert_eq "$(tcp_get "$IPA" "$PORT")" "$A" "host -> A:$PORT"
assert_eq "$(tcp_get "$IPB" "$PORT")" "$B" "host -> B:$PORT"

# container -> host (where the fake EC2/IMDS will listen): one-shot listener on the bridge IP
python3 -c '
import socket, sys
s = socket.create_server((sys.argv[1], int(sys.argv[2])))
s.settimeout(30)
for _ in range(2):
    c, _ = s.accept(); c.sendall(b"hello-from-host\n"); c.close()
' "$HOSTIP" 7778 &
LISTENER=$!
on_exit kill_pid "$LISTENER"
wait_for 5 sh -c "ss -Hltn 'sport = :7778' | grep -q 7778" 2>/dev/null || sleep 1
assert_eq "$(ct_tcp_get "$A" "$HOSTIP" 7778)" "hello-from-host" "A -> host $HOSTIP"
assert_eq "$(ct_tcp_get "$B" "$HOSTIP" 7778)" "hello-from-host" "B -> host $HOSTIP"
wait "$LISTENER" 2>/dev/null || true

for h in "$A" "$B"; do
    routes=$(nspawn_exec "$h" ip route show)
    assert_not_contains "$routes" "default" "$h: no IPv4 default route"
    assert_not_contains "$(nspawn_exec "$h" ip -6 route show)" "default" "$h: no IPv6 default route"
    assert_fail "$h: 169.254.169.254 has no route" nspawn_sh "$h" "ip route get 169.254.169.254 2>/dev/null"
    assert_fail "$h: 1.1.1.1 has no route" nspawn_sh "$h" "ip route get 1.1.1.1 2>/dev/null"
    assert_eq "$(nspawn_exec "$h" ip -o -4 addr show dev eth0 | awk '{ print $4 }')" \
        "$([ "$h" = "$A" ] && echo $IPA || echo $IPB)/24" "$h: eth0 address"
done

# --- block device handed in after boot (A: /dev/xvdf + by-id link) ------------------------
nspawn_add_block "$A" "$LOOPA" /dev/xvdf selftest-vol
assert_eq "$(nspawn_exec "$A" readlink -f /dev/disk/by-id/selftest-vol)" /dev/xvdf "A: by-id link"
out=$(nspawn_exec "$A" systemd-run -q --wait --pipe --unit=sk-blk -p Type=oneshot sh -c '
    set -e
    mkfs.ext4 -q -F -L skvol /dev/disk/by-id/selftest-vol
    mkdir -p /mnt/vol
    mount /dev/xvdf /mnt/vol
    echo payload-42 > /mnt/vol/file
    umount /mnt/vol
    mount /dev/xvdf /mnt/vol
    cat /mnt/vol/file
    blkid -o value -s TYPE /dev/xvdf
    umount /mnt/vol') || die "A: using the volume from a service failed: $out"
assert_eq "$out" "payload-42
ext4" "A: a service formats, mounts, writes and reads /dev/xvdf"
assert_eq "$(blkid -o value -s LABEL "$LOOPA")" "skvol" "host sees the filesystem made inside A"
# a service with a private mount namespace (ProtectSystem) sees the node too
assert_eq "$(nspawn_exec "$A" systemd-run -q --wait --pipe -p ProtectSystem=strict \
    blkid -o value -s LABEL /dev/xvdf)" "skvol" "A: sandboxed service reads /dev/xvdf"
nspawn_remove_block "$A" /dev/xvdf
assert_fail "A: /dev/xvdf removed" nspawn_exec "$A" test -e /dev/xvdf
assert_fail "A: by-id link removed" nspawn_exec "$A" test -L /dev/disk/by-id/selftest-vol

# --- block device present from the start of the boot (B: SK_BLOCKS) -------------------------
assert_eq "$(nspawn_exec "$B" readlink -f /dev/disk/by-id/selftest-boot-disk)" /dev/xvdg "B: by-id link at boot"
out=$(nspawn_exec "$B" systemd-run -q --wait --pipe sh -c '
    set -e
    test -b /dev/xvdg
    mkfs.xfs -q -f -L skboot /dev/xvdg
    mkdir -p /mnt/b && mount /dev/disk/by-id/selftest-boot-disk /mnt/b
    echo boot-disk-ok > /mnt/b/f && umount /mnt/b && mount /dev/xvdg /mnt/b
    cat /mnt/b/f; umount /mnt/b') || die "B: using the boot-time device failed: $out"
assert_eq "$out" "boot-disk-ok" "B: service uses a device handed in at boot (xfs)"
assert_eq "$(blkid -o value -s TYPE "$LOOPB")" "xfs" "host sees the xfs made inside B"

# --- nspawn_install_build: a fake build + source tree ----------------------------------------
tmpdir FAKE
mkdir -p "$FAKE/build/agent" "$FAKE/build/units" "$FAKE/src/units/docker.service.d" "$FAKE/src/conf"
printf '#!/bin/sh\necho fake-swarmkeeper "$@"\n' >"$FAKE/build/agent/swarmkeeper"
chmod 755 "$FAKE/build/agent/swarmkeeper"
printf '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/bin/swarmkeeper from-src\n' \
    >"$FAKE/src/units/sk-fake.service"
printf '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/bin/swarmkeeper from-build\n' \
    >"$FAKE/build/units/sk-fake.service"
: >"$FAKE/src/units/sk-empty.service"
printf '[Service]\nEnvironment=SK_SELFTEST_DROPIN=1\n' >"$FAKE/src/units/docker.service.d/50-selftest.conf"
printf '# selftest\n' >"$FAKE/src/conf/swarmkeeper.conf"
nspawn_install_build "$B" "$FAKE/build" "$FAKE/src"
assert_eq "$(nspawn_exec "$B" swarmkeeper x)" "fake-swarmkeeper x" "B: binary installed in /usr/bin"
assert_eq "$(nspawn_exec "$B" systemctl show -P ExecStart sk-fake.service | grep -o 'from-[a-z]*' | head -1)" \
    "from-build" "B: the unit generated in the build dir wins"
assert_ok "B: the installed unit starts" nspawn_exec "$B" systemctl start sk-fake.service
assert_fail "B: empty placeholder unit not installed" nspawn_exec "$B" test -e /usr/lib/systemd/system/sk-empty.service
assert_contains "$(nspawn_exec "$B" systemctl show -P DropInPaths docker.service)" "docker.service.d/50-selftest.conf" \
    "B: docker.service drop-in installed"
assert_eq "$(nspawn_exec "$B" cat /etc/swarmkeeper/swarmkeeper.conf)" "# selftest" "B: config installed"

# --- nested docker (both hosts have a fresh host dir bound at /var/lib/docker) --------------
t=$(now)
nspawn_exec "$A" systemctl start docker.service || {
    nspawn_journal "$A" -u docker -u containerd -n 50 >&2
    die "A: docker.service failed to start"
}
wait_for 30 nspawn_exec "$A" docker info >/dev/null 2>&1 || die "A: docker info does not answer"
T_DOCKER=$(elapsed "$t")
info=$(nspawn_exec "$A" docker info --format '{{.ServerVersion}} {{.Driver}} {{.CgroupVersion}} {{.Swarm.LocalNodeState}}')
log "A: docker info: $info (up in ${T_DOCKER}s)"
assert_contains "$info" "overlay2" "A: dockerd uses overlay2 on the bound dir"
assert_contains "$info" "inactive" "A: docker answers, swarm inactive"
# a container from a local image (no registry here): busybox-static imported as an image
out=$(nspawn_exec "$A" sh -c 'd=$(mktemp -d); mkdir "$d/bin"; cp /bin/busybox "$d/bin/"; ln -s busybox "$d/bin/sh"
    tar -C "$d" -c . | docker import - sk-bb >/dev/null && rm -rf "$d"
    docker run --rm sk-bb sh -c "echo nested-ok"') || die "A: docker run failed: $out"
assert_eq "$out" "nested-ok" "A: docker run works in the nested dockerd"

# --- Swarm Raft between two hosts over the bridge (no default route: advertise explicitly) --
t=$(now)
assert_ok "B: docker starts" nspawn_exec "$B" systemctl start docker.service
assert_contains "$(nspawn_exec "$B" systemctl show -P Environment docker.service)" "SK_SELFTEST_DROPIN=1" \
    "B: dockerd runs with the drop-in"
nspawn_exec "$A" docker swarm init --advertise-addr "$IPA" --listen-addr "$IPA:2377" >/dev/null ||
    die "A: docker swarm init failed"
tok=$(nspawn_exec "$A" docker swarm join-token -q manager)
nspawn_exec "$B" docker swarm join --token "$tok" --advertise-addr "$IPB" --listen-addr "$IPB:2377" "$IPA:2377" >/dev/null ||
    die "B: docker swarm join failed"
wait_for 30 sh -c "test \"\$(nsenter -t $(nspawn_leader "$A") -a docker node ls --format '{{.Status}} {{.ManagerStatus}}' | sort | tr '\n' ' ')\" = 'Ready Leader Ready Reachable '" ||
    die "swarm: $(nspawn_exec "$A" docker node ls)"
T_SWARM=$(elapsed "$t")
pass "swarm of two managers $A + $B is up (${T_SWARM}s)"
assert_eq "$(nspawn_exec "$B" docker info --format '{{.Swarm.NodeAddr}} {{.Swarm.ControlAvailable}}')" "$IPB true" \
    "B: swarm manager on $IPB"

# --- stop and check that nothing is left -------------------------------------------------
for h in "$A" "$B"; do
    cg=$(_sk_cg "$h")
    PIDS="$PIDS $(find "/sys/fs/cgroup/unified/$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')"
done
t=$(now)
nspawn_stop "$B"
T_STOP_B=$(elapsed "$t")
t=$(now)
nspawn_stop "$A"
T_STOP_A=$(elapsed "$t")
nspawn_stop "$B" # idempotent
pass "nspawn_stop twice is fine"
DOCKER_DIRS=$(ls -d /var/tmp/sk-docker-"$A".* /var/tmp/sk-docker-"$B".* 2>/dev/null || true)
assert_eq "$DOCKER_DIRS" "" "docker data dirs removed"

# the rest of the stack (loop devices, temp dirs) now, so that it can be checked
run_cleanup

for h in "$A" "$B"; do
    assert_fail "netns sk-$h gone" sh -c "ip netns list | grep -qw 'sk-$h'"
    assert_fail "veth sk-$h gone" sh -c "ip link show dev 'sk-$h' 2>/dev/null"
    for c in systemd unified; do
        assert_fail "cgroup $c/$(_sk_cg "$h") gone" test -d "/sys/fs/cgroup/$c/$(_sk_cg "$h")"
    done
    assert_fail "run dir of $h gone" test -e "$SK_RUN_DIR/$h"
done
if [ "$bridge_existed" = 0 ]; then
    assert_fail "bridge $SK_BRIDGE gone" sh -c "ip link show dev '$SK_BRIDGE' 2>/dev/null"
    assert_fail "no nspawn state left in /run/systemd/nspawn" test -d /run/systemd/nspawn/propagate
fi
alive=""
for p in $PIDS; do [ -d "/proc/$p" ] && alive="$alive $p($(cat "/proc/$p/comm" 2>/dev/null))"; done
assert_eq "$alive" "" "no process of the hosts is alive (checked: $(echo "$PIDS" | wc -w) PIDs)"
for img in "$LOOPA_IMG" "$LOOPB_IMG"; do
    assert_eq "$(losetup -n -O NAME -j "$img" 2>/dev/null)" "" "loop device for $img detached"
    assert_fail "$(dirname "$img") removed" test -e "$img"
done
assert_eq "$(grep -cF -e "$LOOPA_IMG" -e "$LOOPB_IMG" -e /var/tmp/sk-docker-skself- -e "$SK_IMAGE_DIR" \
    -e "$SK_RUN_DIR" -e /run/netns/sk-skself- /proc/self/mountinfo || true)" "0" "no mounts of ours left on the host"

log "timings: image ${T_IMAGE}s${SK_IMAGE_BUILD_S:+ (built in ${SK_IMAGE_BUILD_S}s)}," \
    "boot $A ${T_BOOT_A}s, boot $B ${T_BOOT_B}s, dockerd ${T_DOCKER}s, swarm ${T_SWARM}s," \
    "stop $B ${T_STOP_B}s, stop $A ${T_STOP_A}s (both with a swarm manager)"
sk_summary
