# shellcheck shell=bash
# swarmkeeper — test hosts: real systemd (PID 1) in systemd-nspawn, one network namespace
# per host, all on one host bridge. Source after common.sh:
#
#   . tests/lib/common.sh; . tests/lib/nspawn.sh
#   require_root; nspawn_image
#   nspawn_start a 10.99.0.11          # netns sk-a, hostname a, on bridge skbr0
#   nspawn_exec a systemctl status
#
# Network: one bridge $SK_BRIDGE (skbr0) with $SK_BRIDGE_ADDR (10.99.0.1/24) on the host
# side (the fake EC2/IMDS listens there); each host has eth0 = its IP/24 in its own netns.
# Hosts reach each other and the host; there is NO default route and no NAT, so nothing
# (169.254.169.254, AWS, the internet) is reachable from inside.
#
# API (NAME: [a-z0-9][a-z0-9-]*, at most 12 chars):
#   nspawn_image                        build (once, cached, flock'ed) the bookworm rootfs
#   nspawn_start NAME IP [NSPAWN_ARGS...]   boot a host; waits for running/degraded;
#                                       registers nspawn_stop NAME on the cleanup stack
#   nspawn_stop NAME                    poweroff (escalating by PID), remove cgroups, veth,
#                                       netns, run dir; bridge when the last host is gone.
#                                       Idempotent; also cleans a stale earlier run.
#   nspawn_stop_all                     stop every host this test started
#   nspawn_exec NAME CMD...             run CMD inside (all namespaces; clean env)
#   nspawn_sh NAME 'SCRIPT' [ARGS...]   sh -c SCRIPT inside
#   nspawn_root NAME                    print /proc/LEADER/root (host path of the ct's /)
#   nspawn_leader NAME                  print the container's PID 1 (host PID)
#   nspawn_pid NAME                     print the systemd-nspawn PID
#   nspawn_state NAME                   print `systemctl is-system-running` inside
#   nspawn_journal NAME [JOURNALCTL_ARGS...]
#   nspawn_add_block NAME HOSTDEV CTPATH [BYID_LINK_NAME]
#   nspawn_remove_block NAME CTPATH
#   nspawn_install_build NAME [BUILDDIR] [SRCDIR]   (defaults: $SK_BUILD_DIR, $SK_SOURCE_DIR)
#                                       binary, units, catalog, config; enables the units
#   nspawn_install_deb NAME DEB         dpkg -i the project's package in a running host
#   nspawn_ami_image VAR DEB [SCRIPT]   an AMI: image + package + units enabled (overlay)
#   nspawn_cp NAME HOSTFILE CTPATH [MODE]   copy a file in
#
# Environment:
#   SK_IMAGE_DIR        rootfs cache            (/var/tmp/swarmkeeper-image)
#   SK_RUN_DIR          per-host state          (/run/swarmkeeper-test)
#   SK_BRIDGE           host bridge             (skbr0)
#   SK_BRIDGE_ADDR      host side of the bridge (10.99.0.1/24)
#   SK_MIRROR           Debian mirror for debootstrap (default: the one apt uses for the
#                       suite, from $SK_APT_DIR (/etc/apt); no source there is an error)
#   SK_BOOT_TIMEOUT     seconds to wait for boot (120)
#   SK_BOOT_WAIT        per nspawn_start: 0 -> return once the container's PID 1 runs
#   SK_STOP_TIMEOUT     seconds for a clean poweroff before escalating (20)
#   SK_DOCKER_DATA      per nspawn_start: ""   -> nothing bound at /var/lib/docker (default:
#                                                  `swarmkeeper prepare` mounts the volume)
#                                         "1"  -> fresh host dir (on disk, removed on stop)
#                                         PATH -> bind this host dir (kept)
#   SK_BLOCKS           per nspawn_start: "HOSTDEV:CTPATH[:BYID] ..." block devices present
#                       from the very start of the boot (before any unit runs; for units
#                       that are enabled in the image): nspawn --bind of the device node,
#                       by-id links from a host dir bound at /dev/disk/by-id
# Set by nspawn_start / nspawn_image: SK_BOOT_S (seconds to running), SK_IMAGE_BUILD_S.
# Per host in $SK_RUN_DIR/NAME/: nspawn.pid, leader.pid (+ .start = start time, guards
# against PID reuse), ip, owner, cgroup, cmdline, console.log, boot_s.
#
# The image: Debian bookworm minbase + systemd, dbus, iproute2, util-linux, e2fsprogs,
# xfsprogs, libmount1, libblkid1, libsystemd0, libcurl4, libjson-c5, libxml2, libexpat1,
# docker.io (dockerd, containerd, runc, iptables), busybox-static, curl, jq, procps,
# ca-certificates, cloud-init (disabled: /etc/cloud/cloud-init.disabled; network config
# off, locale off). No
# hostname and an empty machine-id in the image (each boot gets its own); docker.service,
# docker.socket and containerd.service are disabled (start them, or let the units under
# test pull them in); apt/e2scrub/fstrim timers, getty, firstboot, timesyncd and
# networkd-wait-online are masked. --volatile=overlay: every boot starts from the image.
#
# Notes:
#   * make loop devices (make_loop) BEFORE nspawn_start: the cleanup stack is LIFO, so the
#     host is stopped before its device is detached;
#   * udevd does not run in the containers: nothing creates /dev nodes or by-id links but
#     nspawn_add_block / SK_BLOCKS;
#   * no default route: `docker swarm init/join` need --advertise-addr (and best
#     --listen-addr) = the host's IP;
#   * the container's cgroup2 tree has no controllers (they stay on the host's v1
#     hierarchies): dockerd warns "Unable to find memory/cpu/io/pids controller" and cannot
#     enforce limits;
#   * tests using this library must not run in parallel with each other if they use the same
#     host names or IPs (meson: is_parallel : false).

# shellcheck disable=SC2034,SC2016,SC2013,SC2015,SC2044
[ -n "${SK_NSPAWN_SH:-}" ] && return 0
SK_NSPAWN_SH=1
[ -n "${SK_COMMON_SH:-}" ] || {
    echo "nspawn.sh: source common.sh first" >&2
    exit 1
}

SK_IMAGE_DIR=${SK_IMAGE_DIR:-/var/tmp/swarmkeeper-image}
SK_RUN_DIR=${SK_RUN_DIR:-/run/swarmkeeper-test}
SK_BRIDGE=${SK_BRIDGE:-skbr0}
SK_BRIDGE_ADDR=${SK_BRIDGE_ADDR:-10.99.0.1/24}
SK_BOOT_TIMEOUT=${SK_BOOT_TIMEOUT:-120}
SK_STOP_TIMEOUT=${SK_STOP_TIMEOUT:-20}

# Bump when the package list or the image tweaks change: the cache is rebuilt.
SK_IMAGE_VERSION=3
SK_IMAGE_STAMP=etc/swarmkeeper-test-image
SK_IMAGE_SUITE=bookworm
SK_IMAGE_BASE_PKGS=systemd,systemd-sysv,dbus,iproute2
SK_IMAGE_PKGS=(
    systemd systemd-sysv dbus iproute2 util-linux mount procps kmod
    e2fsprogs xfsprogs libmount1 libblkid1 libsystemd0 libcurl4 libjson-c5 libxml2 libexpat1
    docker.io busybox-static curl jq
    ca-certificates cloud-init
)
# units that would hang or wait for a network that is not there, or that make the boot
# slow or non-deterministic
SK_IMAGE_MASK=(
    systemd-networkd-wait-online.service
    apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service
    e2scrub_all.timer e2scrub_all.service e2scrub_reap.service fstrim.timer dpkg-db-backup.timer
    systemd-firstboot.service console-getty.service getty@.service
    systemd-timesyncd.service
)
# enabled by the packages; started on demand by the tests (docker.service pulls in
# docker.socket and containerd.service) — never at boot, before a volume is mounted
SK_IMAGE_DISABLE=(docker.service docker.socket containerd.service)

_sk_ns_log() { log "nspawn: $*"; }

# _sk_mirror : the Debian archive for $SK_IMAGE_SUITE, from $SK_MIRROR or from the apt
# configuration of this machine (one-line *.list and deb822 *.sources); never a built-in
# host name. Fails with a message when apt knows no source for the suite.
_sk_mirror() {
    if [ -n "${SK_MIRROR:-}" ]; then
        echo "$SK_MIRROR"
        return 0
    fi
    local -a lists=() sources=()
    local f m
    local etc=${SK_APT_DIR:-/etc/apt}
    [ -f "$etc/sources.list" ] && lists+=("$etc/sources.list")
    for f in "$etc"/sources.list.d/*.list; do [ -f "$f" ] && lists+=("$f"); done
    for f in "$etc"/sources.list.d/*.sources; do [ -f "$f" ] && sources+=("$f"); done
    m=""
    if [ ${#lists[@]} -gt 0 ]; then
        # deb [opt=val ...] URI SUITE COMPONENTS...
        m=$(awk -v suite="$SK_IMAGE_SUITE" '
            { sub(/#.*/, "") }
            $1 != "deb" { next }
            { i = 2
              if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
              if ($(i + 1) == suite && $i ~ /^(https?|ftp):/) { print $i; exit } }' "${lists[@]}")
    fi
    if [ -z "$m" ] && [ ${#sources[@]} -gt 0 ]; then
        # deb822 stanzas: Types, URIs, Suites, Enabled (continuation lines ignored)
        m=$(awk -v suite="$SK_IMAGE_SUITE" '
            function flush(   n, i, s, u) {
                if (types ~ /(^| )deb( |$)/ && enabled != "no") {
                    n = split(suites, s, " ")
                    for (i = 1; i <= n; i++) if (s[i] == suite) {
                        split(uris, u, " ")
                        if (u[1] ~ /^(https?|ftp):/) { print u[1]; found = 1 }
                        break
                    }
                }
                types = uris = suites = enabled = ""
            }
            FNR == 1 { if (!found) flush() }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { if (!found) flush(); next }
            { key = tolower($1); $1 = ""; sub(/^ +/, ""); val = $0 }
            key == "types:" { types = val } key == "uris:" { uris = val }
            key == "suites:" { suites = val } key == "enabled:" { enabled = tolower(val) }
            END { if (!found) flush() }' "${sources[@]}" | head -n 1)
    fi
    if [ -z "$m" ]; then
        log "nspawn: no Debian archive for '$SK_IMAGE_SUITE' in the apt configuration" \
            "(/etc/apt/sources.list, /etc/apt/sources.list.d/*.list, *.sources); set SK_MIRROR=URL"
        return 1
    fi
    echo "$m"
}

# install host tools if missing
_sk_host_tools() {
    local -a need=()
    command -v systemd-nspawn >/dev/null || need+=(systemd-container)
    command -v debootstrap >/dev/null || need+=(debootstrap)
    command -v nsenter >/dev/null || need+=(util-linux)
    command -v ip >/dev/null || need+=(iproute2)
    command -v flock >/dev/null || need+=(util-linux)
    [ ${#need[@]} = 0 ] && return 0
    _sk_ns_log "installing host packages: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; } ||
        die "apt-get install ${need[*]} failed"
}

_sk_image_ok() {
    [ -x "$SK_IMAGE_DIR/lib/systemd/systemd" ] &&
        [ "$(cat "$SK_IMAGE_DIR/$SK_IMAGE_STAMP" 2>/dev/null)" = "swarmkeeper-test-image $SK_IMAGE_VERSION" ]
}

# _sk_image_build DIR : debootstrap + packages + tweaks into DIR (must not exist)
_sk_image_build() {
    local root=$1 mirror
    mirror=$(_sk_mirror) || return 1
    _sk_ns_log "debootstrap $SK_IMAGE_SUITE from $mirror into $root"
    debootstrap --variant=minbase --include="$SK_IMAGE_BASE_PKGS" \
        "$SK_IMAGE_SUITE" "$root" "$mirror" >"$root.log" 2>&1 || {
        tail -n 30 "$root.log" >&2
        return 1
    }
    # no daemon may start inside the chroot while packages are installed
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    _sk_ns_log "apt-get install ${SK_IMAGE_PKGS[*]}"
    chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C \
        apt-get install -y -q --no-install-recommends "${SK_IMAGE_PKGS[@]}" >>"$root.log" 2>&1 || {
        tail -n 30 "$root.log" >&2
        return 1
    }
    chroot "$root" apt-get clean >/dev/null 2>&1
    rm -f "$root/usr/sbin/policy-rc.d"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
    # identity comes from nspawn at boot: hostname = NAME, random machine-id per boot
    # (a machine-id baked into the image would be shared by every host)
    rm -f "$root/etc/hostname"
    : >"$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"
    ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
    # dockerd makes its engine key on first start: never ship one
    rm -f "$root/etc/docker/key.json"
    # cloud-init stays off (its Ec2 datasource would look for 169.254.169.254) unless a
    # test turns it on (nspawn_ami_image); it never touches the network configuration
    # (the harness sets eth0 up), and the image has no locales
    touch "$root/etc/cloud/cloud-init.disabled"
    printf 'network: {config: disabled}\nlocale: false\n' >"$root/etc/cloud/cloud.cfg.d/05-swarmkeeper-test.cfg"
    systemctl --root="$root" --quiet mask "${SK_IMAGE_MASK[@]}" 2>/dev/null || true
    systemctl --root="$root" --quiet disable "${SK_IMAGE_DISABLE[@]}" 2>/dev/null || true
    # journal: keep it in memory (the root is a tmpfs overlay anyway), readable by tests
    mkdir -p "$root/etc/systemd/journald.conf.d"
    printf '[Journal]\nStorage=volatile\nRateLimitBurst=0\n' \
        >"$root/etc/systemd/journald.conf.d/10-swarmkeeper-test.conf"
    echo "swarmkeeper-test-image $SK_IMAGE_VERSION" >"$root/$SK_IMAGE_STAMP"
}

# nspawn_image : make sure the cached rootfs exists and is current (builds it once)
nspawn_image() {
    _sk_host_tools
    _sk_image_ok && return 0
    local lock=$SK_IMAGE_DIR.lock t0 tmp rc
    mkdir -p "$(dirname "$SK_IMAGE_DIR")"
    exec {_sk_imgfd}>"$lock"
    _sk_ns_log "waiting for image lock $lock"
    flock "$_sk_imgfd"
    if _sk_image_ok; then
        exec {_sk_imgfd}>&-
        return 0
    fi
    t0=$(now)
    tmp=$(mktemp -d "$SK_IMAGE_DIR.build.XXXXXX")
    # an interrupted build never leaves a half image behind
    on_exit rm -rf --one-file-system -- "$tmp" "$tmp.log" "$tmp.old"
    rmdir "$tmp"
    if _sk_image_build "$tmp"; then rc=0; else rc=$?; fi
    if [ "$rc" = 0 ]; then
        if [ -e "$SK_IMAGE_DIR" ]; then
            mv "$SK_IMAGE_DIR" "$tmp.old" && rm -rf --one-file-system "$tmp.old"
        fi
        mv "$tmp" "$SK_IMAGE_DIR"
        rm -f "$tmp.log"
    fi
    exec {_sk_imgfd}>&-
    [ "$rc" = 0 ] || die "image build failed (see the log tail above)"
    SK_IMAGE_BUILD_S=$(elapsed "$t0")
    _sk_ns_log "image built in ${SK_IMAGE_BUILD_S}s: $SK_IMAGE_DIR ($(du -sh "$SK_IMAGE_DIR" 2>/dev/null | cut -f1))"
}

# ---------------------------------------------------------------------------------------
# hosts

_sk_ns_name_ok() {
    [[ "$1" =~ ^[a-z0-9][a-z0-9-]{0,11}$ ]] || die "bad test host name '$1' (a-z0-9-, at most 12 chars)"
}
_sk_rd() { echo "$SK_RUN_DIR/$1"; }
_sk_cg() { echo "sk-nspawn-$1"; }
_sk_starttime() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }

# _sk_pid_is FILE : the PID recorded in FILE (with its start time in FILE.start) is alive
_sk_pid_is() {
    local f=$1 p st
    p=$(cat "$f" 2>/dev/null) || return 1
    [ -n "$p" ] && [ -d "/proc/$p" ] || return 1
    grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null && return 1
    st=$(_sk_starttime "$p")
    [ -n "$st" ] && [ "$st" = "$(cat "$f.start" 2>/dev/null)" ]
}
_sk_record_pid() { echo "$2" >"$1" && _sk_starttime "$2" >"$1.start"; }

# nspawn_pid NAME / nspawn_leader NAME : print the PID if the process is alive
nspawn_pid() {
    local f
    f=$(_sk_rd "$1")/nspawn.pid
    _sk_pid_is "$f" && cat "$f"
}
nspawn_leader() {
    local f
    f=$(_sk_rd "$1")/leader.pid
    _sk_pid_is "$f" && cat "$f"
}

nspawn_root() {
    local l
    l=$(nspawn_leader "$1") || die "test host $1 is not running"
    echo "/proc/$l/root"
}

# nspawn_exec NAME CMD... : run CMD in all the namespaces of the container, clean env.
# (the command lives in the caller's cgroup but in the container's PID namespace: it dies
# with the container. Long-running things belong in `systemd-run` inside.)
nspawn_exec() {
    local name=$1 l
    shift
    l=$(nspawn_leader "$name") || {
        log "nspawn_exec: test host $name is not running"
        return 125
    }
    nsenter -t "$l" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb PAGER=cat SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 "$@"
}

# nspawn_sh NAME 'SCRIPT' [ARGS...]
nspawn_sh() {
    local name=$1 script=$2
    shift 2
    nspawn_exec "$name" sh -c "$script" sh "$@"
}

nspawn_state() { nspawn_exec "$1" systemctl is-system-running 2>/dev/null; }

nspawn_journal() {
    local name=$1
    shift
    nspawn_exec "$name" journalctl --no-pager -q "$@"
}

# nspawn_cp NAME HOSTFILE CTPATH [MODE] : copy a file into the running container
# (through the container's own mount namespace, so symlinks resolve inside)
nspawn_cp() {
    local name=$1 src=$2 dst=$3 mode=${4:-}
    [ -n "$mode" ] || mode=$(stat -c %a "$src") || return 1
    nspawn_sh "$name" 'mkdir -p "$(dirname "$1")" && cat >"$1.sk-tmp" && chmod "$2" "$1.sk-tmp" && mv -f "$1.sk-tmp" "$1"' \
        "$dst" "$mode" <"$src"
}

# --- bridge (shared by every host, also across concurrent tests) ----------------------
_sk_bridge_locked() {
    # runs "$@" with the bridge lock held (never starts long-lived processes)
    mkdir -p "$SK_RUN_DIR"
    (
        flock 9
        "$@"
    ) 9>"$SK_RUN_DIR.lock"
}

_sk_bridge_up_unlocked() {
    ip link show dev "$SK_BRIDGE" >/dev/null 2>&1 && return 0
    local net=${SK_BRIDGE_ADDR%/*}
    if ip -o -4 addr show | grep -v " $SK_BRIDGE " | grep -qF " ${net}/"; then
        log "nspawn: $net is already configured on another host interface"
        return 1
    fi
    # A fixed address: a bridge without one takes the lowest of its ports', which changes
    # as hosts come and go, and every host's ARP entry for the fake (IMDS, EC2) goes stale
    # for seconds (a VPC's router never changes its address)
    ip link add "$SK_BRIDGE" address 02:5b:00:00:00:01 type bridge stp_state 0 forward_delay 0 || return 1
    sysctl -qw "net.ipv6.conf.$SK_BRIDGE.disable_ipv6=1" 2>/dev/null || true
    ip addr add "$SK_BRIDGE_ADDR" dev "$SK_BRIDGE" || return 1
    ip link set "$SK_BRIDGE" up
}

# _sk_net_up NAME IP/PREFIX : netns sk-NAME, veth sk-NAME (host, on the bridge) <-> eth0
_sk_net_up_unlocked() {
    local name=$1 cidr=$2 ns=sk-$1
    _sk_bridge_up_unlocked || return 1
    ip netns add "$ns" || return 1
    # eth0's address follows from the IP: a host re-created with the same IP has the same
    # MAC, so the other hosts' ARP entries for it never go stale (in a VPC the router
    # answers for every address; nobody keeps a stale entry for a re-created instance)
    local mac
    mac=$(_sk_ip_mac "${cidr%/*}") || return 1
    ip link add "$ns" type veth peer name eth0 address "$mac" netns "$ns" || return 1
    sysctl -qw "net.ipv6.conf.$ns.disable_ipv6=1" 2>/dev/null || true
    ip link set "$ns" master "$SK_BRIDGE" up || return 1
    ip -n "$ns" link set lo up || return 1
    ip -n "$ns" addr add "$cidr" dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
    # deliberately no default route, no NAT: only the bridge subnet is reachable
}

_sk_net_down_unlocked() {
    local name=$1 ns=sk-$1
    ip link del "$ns" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    if ip link show dev "$SK_BRIDGE" >/dev/null 2>&1 &&
        [ -z "$(ip -o link show master "$SK_BRIDGE" 2>/dev/null)" ]; then
        ip link del "$SK_BRIDGE" || true
        # the last host is gone: nspawn's (empty) state dirs too
        rmdir /run/systemd/nspawn/propagate /run/systemd/nspawn/locks /run/systemd/nspawn 2>/dev/null || true
    fi
    return 0
}

# _sk_ip_mac IP : a locally administered unicast MAC made from the IPv4 address
_sk_ip_mac() {
    local IFS=. a b c d
    read -r a b c d <<<"$1"
    [[ "$a.$b.$c.$d" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || return 1
    printf '02:5c:%02x:%02x:%02x:%02x\n' "$a" "$b" "$c" "$d"
}

_sk_ip2int() {
    local IFS=. a b c d
    read -r a b c d <<<"$1"
    [[ "$a.$b.$c.$d" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || return 1
    echo $(((a << 24) | (b << 16) | (c << 8) | d))
}
# the host's IP must be in the bridge's subnet, and be neither the bridge's nor net/bcast
_sk_ip_in_bridge_net() {
    local ip br len mask
    ip=$(_sk_ip2int "$1") || return 1
    br=$(_sk_ip2int "${SK_BRIDGE_ADDR%/*}") || return 1
    len=${SK_BRIDGE_ADDR#*/}
    mask=$(((0xffffffff << (32 - len)) & 0xffffffff))
    [ $((ip & mask)) = $((br & mask)) ] && [ "$ip" != "$br" ] &&
        [ $((ip & ~mask & 0xffffffff)) != 0 ] && [ $((ip & ~mask & 0xffffffff)) != $((~mask & 0xffffffff)) ]
}

_sk_find_leader() {
    local p=$1 c
    # systemd-nspawn is a subreaper: the container's PID 1 is its direct child (NOT the
    # short-lived intermediate child, which has another comm)
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
        [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] && { echo "$c"; return 0; }
    done
    return 1
}

_sk_booted() {
    local st
    st=$(nspawn_exec "$1" timeout 10 systemctl is-system-running --wait 2>/dev/null) || true
    case "$st" in running | degraded) return 0 ;; esac
    return 1
}

_sk_nspawn_alive() { _sk_pid_is "$(_sk_rd "$1")/nspawn.pid"; }

# nspawn_start NAME IP[/PREFIX] [EXTRA_NSPAWN_ARGS...]
nspawn_start() {
    local name=$1 ip=$2
    shift 2
    _sk_ns_name_ok "$name"
    local rd cg ns=sk-$name t0 l prefix=${SK_BRIDGE_ADDR#*/} h spec dev ctp byid st
    rd=$(_sk_rd "$name")
    cg=$(_sk_cg "$name")
    [[ "$ip" == */* ]] || ip=$ip/$prefix
    nspawn_image
    # leftovers of an earlier, killed run of a host with this name
    if [ -e "$rd" ] || ip netns list | grep -qx "$ns\( .*\)\?"; then
        log "nspawn: cleaning up a stale test host $name"
        nspawn_stop "$name"
    fi
    _sk_ip_in_bridge_net "${ip%/*}" || die "IP ${ip%/*} is not in the bridge network $SK_BRIDGE_ADDR"
    local other
    for other in "$SK_RUN_DIR"/*/ip; do
        [ -f "$other" ] && [ "$(cat "$other")" = "${ip%/*}" ] && die "IP ${ip%/*} is already used by $(basename "$(dirname "$other")")"
    done
    t0=$(now)
    mkdir -p "$rd"
    echo "${ip%/*}" >"$rd/ip"
    echo "$SK_CLEANUP_OWNER" >"$rd/owner"
    on_exit nspawn_stop "$name"
    _sk_bridge_locked _sk_net_up_unlocked "$name" "$ip" || die "network setup for $name failed"

    local -a args=(-q -D "$SK_IMAGE_DIR" --boot --register=no --keep-unit --volatile=overlay
        --network-namespace-path="/run/netns/$ns" --console=pipe
        --machine="$name" --hostname="$name"
        --capability=all --system-call-filter='@keyring bpf')
    case "${SK_DOCKER_DATA:-}" in
        "") ;;
        1)
            local dd
            dd=$(mktemp -d "/var/tmp/sk-docker-$name.XXXXXX") || die "mktemp failed"
            echo "$dd" >"$rd/docker-data"
            args+=(--bind="$dd:/var/lib/docker")
            ;;
        *)
            mkdir -p "$SK_DOCKER_DATA"
            args+=(--bind="$SK_DOCKER_DATA:/var/lib/docker")
            ;;
    esac
    for spec in ${SK_BLOCKS:-}; do
        IFS=: read -r dev ctp byid <<<"$spec"
        [ -b "$dev" ] && [ -n "$ctp" ] || die "SK_BLOCKS: bad entry '$spec'"
        args+=(--bind="$dev:$ctp")
        if [ -n "$byid" ]; then
            mkdir -p "$rd/by-id"
            ln -sfn "../../${ctp#/dev/}" "$rd/by-id/$byid"
        fi
    done
    [ -d "$rd/by-id" ] && args+=(--bind="$rd/by-id:/dev/disk/by-id")
    args+=("$@")
    printf '%q ' systemd-nspawn "${args[@]}" >"$rd/cmdline"

    # own cgroup (hybrid host: name=systemd v1 + unified v2); nspawn creates payload/ and
    # supervisor/ below it. setsid: a ^C of the test reaches the test, not the container.
    for h in systemd unified; do mkdir -p "/sys/fs/cgroup/$h/$cg"; done
    echo "$cg" >"$rd/cgroup"
    # UNIFIED_HIERARCHY=1: pure cgroup2 in the container (the host's hybrid v1 controllers
    # would be read-only: nested dockerd needs writable cgroups).
    # API_VFS_WRITABLE=network: /proc/sys/net writable (only the container's own netns):
    # nspawn keeps it read-only with --network-namespace-path, and dockerd must set
    # net.ipv4.ip_forward (and swarm more net sysctls) or it does not start.
    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 SYSTEMD_NSPAWN_API_VFS_WRITABLE=network \
        setsid sh -c '
        echo $$ >"$1/nspawn.pid.new" || exit 1
        for h in systemd unified; do echo $$ >"/sys/fs/cgroup/$h/$2/cgroup.procs" || exit 1; done
        shift 2
        exec "$@"' sk-nspawn "$rd" "$cg" systemd-nspawn "${args[@]}" \
        </dev/null >"$rd/console.log" 2>&1 &
    wait_for 60 test -s "$rd/nspawn.pid.new" || die "systemd-nspawn for $name did not start"
    local p
    p=$(cat "$rd/nspawn.pid.new")
    wait_for 30 sh -c "grep -qx systemd-nspawn /proc/$p/comm || ! test -d /proc/$p" || true
    _sk_record_pid "$rd/nspawn.pid" "$p"
    rm -f "$rd/nspawn.pid.new"
    if ! wait_for 90 _sk_find_leader "$p" >/dev/null; then
        tail -n 40 "$rd/console.log" >&2
        die "container $name: no systemd leader (nspawn pid $p)"
    fi
    l=$(_sk_find_leader "$p")
    _sk_record_pid "$rd/leader.pid" "$l"
    if [ "${SK_BOOT_WAIT:-1}" = 0 ]; then
        # the caller waits (or not): e.g. a hook that must return while the boot waits
        # for a device the next hook hands in
        _sk_ns_log "host $name started: ${ip%/*} on $SK_BRIDGE, nspawn pid $p, leader $l (not waiting for the boot)"
        return 0
    fi
    if ! wait_for "$SK_BOOT_TIMEOUT" _sk_booted "$name"; then
        tail -n 40 "$rd/console.log" >&2
        _sk_nspawn_alive "$name" && nspawn_exec "$name" systemctl --failed --no-legend >&2
        die "container $name did not finish booting within ${SK_BOOT_TIMEOUT}s"
    fi
    st=$(nspawn_state "$name") || true
    if [ "$st" != running ]; then
        log "nspawn: $name is $st; failed units: $(nspawn_exec "$name" systemctl --failed --no-legend --plain | awk '{ printf "%s ", $1 }')"
    fi
    SK_BOOT_S=$(elapsed "$t0")
    echo "$SK_BOOT_S" >"$rd/boot_s"
    _sk_ns_log "host $name up: ${ip%/*} on $SK_BRIDGE, nspawn pid $p, leader $l, $st, boot ${SK_BOOT_S}s"
}

# _sk_kill_tree_by_pid CGDIR : SIGKILL every PID still listed in a cgroup tree
_sk_cg_kill() {
    local d=$1 pid
    [ -d "$d" ] || return 0
    for pid in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    return 0
}
_sk_cg_empty() {
    local d=$1
    [ -d "$d" ] || return 0
    [ -z "$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)" ]
}

# nspawn_stop NAME : idempotent
nspawn_stop() {
    local name=$1 rd cg p h t0 dd
    rd=$(_sk_rd "$name")
    cg=$(_sk_cg "$name")
    t0=$(now)
    if _sk_pid_is "$rd/nspawn.pid"; then
        p=$(cat "$rd/nspawn.pid")
        # 1st SIGTERM: nspawn asks the container's PID 1 for a clean poweroff
        kill -TERM "$p" 2>/dev/null || true
        if ! wait_for "$SK_STOP_TIMEOUT" eval '! _sk_pid_is "$rd/nspawn.pid"'; then
            log "nspawn: $name did not power off within ${SK_STOP_TIMEOUT}s, terminating"
            # 2nd SIGTERM: nspawn kills the payload
            kill -TERM "$p" 2>/dev/null || true
            if ! wait_for 5 eval '! _sk_pid_is "$rd/nspawn.pid"'; then
                if _sk_pid_is "$rd/leader.pid"; then kill -KILL "$(cat "$rd/leader.pid")" 2>/dev/null || true; fi
                sleep 0.5
                if _sk_pid_is "$rd/nspawn.pid"; then kill -KILL "$p" 2>/dev/null || true; fi
                wait_for 5 eval '! _sk_pid_is "$rd/nspawn.pid"' || log "nspawn: $name: nspawn pid $p survives SIGKILL"
            fi
        fi
    fi
    # processes left in the container's cgroups (there should be none: the PID namespace
    # dies with its PID 1) are killed by PID; then the cgroup dirs go
    for h in systemd unified; do
        [ -d "/sys/fs/cgroup/$h/$cg" ] || continue
        wait_for 5 _sk_cg_empty "/sys/fs/cgroup/$h/$cg" || {
            _sk_cg_kill "/sys/fs/cgroup/$h/$cg"
            wait_for 5 _sk_cg_empty "/sys/fs/cgroup/$h/$cg" || true
        }
        wait_for 5 sh -c "find '/sys/fs/cgroup/$h/$cg' -depth -type d -exec rmdir {} + 2>/dev/null; ! test -d '/sys/fs/cgroup/$h/$cg'" ||
            log "nspawn: cannot remove cgroup /sys/fs/cgroup/$h/$cg"
    done
    _sk_bridge_locked _sk_net_down_unlocked "$name" || true
    if [ -f "$rd/docker-data" ]; then
        dd=$(cat "$rd/docker-data")
        case "$dd" in
            /var/tmp/sk-docker-*)
                if grep -qF " $dd" /proc/self/mountinfo; then
                    log "nspawn: mounts left below $dd, not removing it"
                else
                    rm -rf --one-file-system -- "$dd" || true
                fi
                ;;
        esac
    fi
    if [ -d "$rd" ]; then
        rm -rf --one-file-system -- "$rd" || true
        _sk_ns_log "host $name stopped in $(elapsed "$t0")s"
    fi
    rmdir "$SK_RUN_DIR" 2>/dev/null || true
    return 0
}

# nspawn_stop_all : every host started by this test (same cleanup owner)
nspawn_stop_all() {
    local o
    for o in "$SK_RUN_DIR"/*/owner; do
        [ -f "$o" ] || continue
        if [ "$(cat "$o")" = "$SK_CLEANUP_OWNER" ]; then nspawn_stop "$(basename "$(dirname "$o")")"; fi
    done
    return 0
}

# ---------------------------------------------------------------------------------------
# block devices

# nspawn_add_block NAME HOSTDEV CTPATH [BYID_LINK_NAME]
nspawn_add_block() {
    local name=$1 dev=$2 ctp=$3 byid=${4:-} maj min
    [ -b "$dev" ] || die "nspawn_add_block: $dev is not a block device"
    case "$ctp" in /dev/*) ;; *) die "nspawn_add_block: $ctp is not below /dev" ;; esac
    maj=$((0x$(stat -L -c %t "$dev")))
    min=$((0x$(stat -L -c %T "$dev")))
    # the container's /dev is nspawn's own tmpfs: a node made there with the host's
    # major:minor is usable by every process in the container (the nspawn cgroup has no
    # device restriction: no machined/scope, and the host's devices cgroup is unrestricted)
    nspawn_sh "$name" '
        set -e
        rm -f "$1"; mkdir -p "$(dirname "$1")"
        mknod -m 0660 "$1" b "$2" "$3"
        chown root:disk "$1" 2>/dev/null || true
        if [ -n "$4" ]; then
            mkdir -p /dev/disk/by-id
            ln -sfn "../../${1#/dev/}" "/dev/disk/by-id/$4"
        fi' "$ctp" "$maj" "$min" "$byid" || die "nspawn_add_block: $dev -> $name:$ctp failed"
    _sk_ns_log "block $dev ($maj:$min) -> $name:$ctp${byid:+ (by-id/$byid)}"
}

# nspawn_remove_block NAME CTPATH : the node and every by-id link to it
nspawn_remove_block() {
    local name=$1 ctp=$2
    nspawn_sh "$name" '
        for l in /dev/disk/by-id/*; do
            [ -L "$l" ] && [ "$(readlink -f "$l")" = "$1" ] && rm -f "$l"
        done
        umount "$1" 2>/dev/null; rm -f "$1"; ! test -e "$1"' "$ctp"
}

# ---------------------------------------------------------------------------------------
# the project's package: an "AMI"

# nspawn_ami_image VAR DEB [SCRIPT] : what an operator's AMI is: the test image with the
# project's .deb installed (dpkg -i in a chroot: nothing runs) and its units enabled
# (systemctl enable swarmkeeper-prepare swarmkeeper), as an overlay of the cached image
# mounted at a fresh directory; VAR=that directory, to boot with
# `SK_IMAGE_DIR=$VAR nspawn_start ...`. SCRIPT (sh -c, in a chroot of it) customises it
# further. Unmounted and removed on exit (register it before the hosts that use it).
nspawn_ami_image() {
    local var=$1 deb=$2 script=${3:-} d
    [ -f "$deb" ] || die "nspawn_ami_image: no package $deb"
    nspawn_image
    d=$(mktemp -d /var/tmp/sk-ami.XXXXXX) || die "mktemp failed"
    on_exit rm -rf --one-file-system -- "$d"
    mkdir "$d/upper" "$d/work" "$d/root"
    mount -t overlay sk-ami -o "lowerdir=$SK_IMAGE_DIR,upperdir=$d/upper,workdir=$d/work" "$d/root" ||
        die "nspawn_ami_image: overlay mount failed"
    on_exit umount "$d/root"
    cp "$deb" "$d/root/tmp/swarmkeeper.deb"
    chroot "$d/root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C \
        dpkg -i /tmp/swarmkeeper.deb >"$d/dpkg.log" 2>&1 || {
        cat "$d/dpkg.log" >&2
        die "nspawn_ami_image: dpkg -i $deb failed"
    }
    rm -f "$d/root/tmp/swarmkeeper.deb"
    systemctl --root="$d/root" --quiet enable swarmkeeper-prepare.service swarmkeeper.service ||
        die "nspawn_ami_image: systemctl enable failed"
    if [ -n "$script" ]; then
        chroot "$d/root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C sh -ec "$script" ||
            die "nspawn_ami_image: the customising script failed"
    fi
    printf -v "$var" %s "$d/root"
    _sk_ns_log "AMI image $d/root: $(basename "$deb") installed, units enabled"
}

# nspawn_install_deb NAME DEB : dpkg -i the package in a running host (its maintainer
# scripts run against the host's systemd, as on a live machine)
nspawn_install_deb() {
    local name=$1 deb=$2
    nspawn_cp "$name" "$deb" /tmp/swarmkeeper.deb 0644 || die "copying $deb failed"
    nspawn_exec "$name" env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/swarmkeeper.deb
}

# ---------------------------------------------------------------------------------------
# the project's build

_sk_srcdir() { (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd); }

# nspawn_install_build NAME [BUILDDIR] [SRCDIR] : install what exists of the binary, the
# units + drop-ins (where the package puts them: /usr/lib/systemd/system, so a test can
# still override in /etc), the journal catalog and the config, then daemon-reload and
# `systemctl enable swarmkeeper-prepare swarmkeeper` as an AMI build does (not with
# SK_NO_ENABLE=1). Files generated in BUILDDIR
# win over the sources; empty (placeholder) unit files are skipped. BUILDDIR defaults to
# $SK_BUILD_DIR, SRCDIR to $SK_SOURCE_DIR or this checkout; $SK_BIN is a last resort.
nspawn_install_build() {
    local name=$1 build=${2:-${SK_BUILD_DIR:-}} src=${3:-${SK_SOURCE_DIR:-}} f d b bin=""
    local unitdir=/usr/lib/systemd/system
    [ -n "$build" ] || die "nspawn_install_build: no BUILDDIR (nor SK_BUILD_DIR)"
    [ -n "$src" ] || src=$(_sk_srcdir)
    for f in "$build/swarmkeeper" "$build/agent/swarmkeeper" "$build/src/swarmkeeper" "${SK_BIN:-}"; do
        if [ -f "$f" ] && [ -x "$f" ]; then bin=$f; break; fi
    done
    if [ -n "$bin" ]; then
        nspawn_cp "$name" "$bin" /usr/bin/swarmkeeper 0755 || die "copying $bin failed"
    else
        log "nspawn_install_build: no swarmkeeper binary in $build"
    fi
    local -A seen=()
    local -a done_=()
    for d in "$build/units" "$src/units"; do
        [ -d "$d" ] || continue
        for f in "$d"/*.service "$d"/*.socket "$d"/*.timer "$d"/*.target "$d"/*.path \
            "$d"/*.mount "$d"/*.d/*.conf; do
            [ -f "$f" ] || continue
            b=${f#"$d"/}
            [ -n "${seen[$b]:-}" ] && continue
            seen[$b]=1
            if [ ! -s "$f" ]; then
                log "nspawn_install_build: skipping empty $f"
                continue
            fi
            nspawn_cp "$name" "$f" "$unitdir/$b" 0644 || die "copying $f failed"
            done_+=("$b")
        done
    done
    for f in "$build/conf/swarmkeeper.conf" "$src/conf/swarmkeeper.conf"; do
        if [ -f "$f" ]; then
            nspawn_cp "$name" "$f" /etc/swarmkeeper/swarmkeeper.conf 0644 || die "copying $f failed"
            done_+=(swarmkeeper.conf)
            break
        fi
    done
    for d in "$build/units" "$src/units"; do
        for f in "$d"/*.catalog; do
            [ -f "$f" ] && [ -z "${seen[${f##*/}]:-}" ] || continue
            seen[${f##*/}]=1
            nspawn_cp "$name" "$f" "/usr/lib/systemd/catalog/${f##*/}" 0644 || die "copying $f failed"
            done_+=("${f##*/}")
        done
    done
    [ -n "${seen[swarmkeeper.catalog]:-}" ] && { nspawn_exec "$name" journalctl --update-catalog || die "journalctl --update-catalog in $name failed"; }
    nspawn_exec "$name" mkdir -p -m 0700 /etc/swarmkeeper/swarmkeeper.conf.d
    nspawn_exec "$name" systemctl daemon-reload || die "daemon-reload in $name failed"
    # as an AMI build does (the package enables nothing): prepare is linked into
    # docker.service (RequiredBy=), the agent into multi-user.target
    local -a en=()
    for b in swarmkeeper-prepare.service swarmkeeper.service; do
        [[ " ${done_[*]} " == *" $b "* ]] && en+=("$b")
    done
    if [ ${#en[@]} -gt 0 ] && [ -z "${SK_NO_ENABLE:-}" ]; then
        nspawn_exec "$name" systemctl enable --quiet "${en[@]}" || die "systemctl enable ${en[*]} in $name failed"
    fi
    _sk_ns_log "installed into $name: ${bin:-no binary}; ${done_[*]:-no units/config}"
}
