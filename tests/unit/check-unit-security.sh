#!/bin/bash
# The units stay locked down: `systemd-analyze security` exposure of swarmkeeper.service
# at most 2.0, of swarmkeeper-prepare.service at most 4.5 (both were ~9 before the
# sandboxing), and the settings the design depends on are there.
set -uo pipefail
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
src=${SK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
require_cmd systemd-analyze

exposure() { # UNITFILE -> "8.9"
    systemd-analyze security --offline=yes --no-pager "$1" 2>/dev/null |
        sed -nE 's/^→ Overall exposure level for [^:]+: ([0-9]+\.[0-9]+).*/\1/p'
}
check() { # UNIT MAX
    local e
    e=$(exposure "$src/units/$1")
    [ -n "$e" ] || die "systemd-analyze security gave no exposure for $1"
    log "$1: exposure $e (limit $2)"
    awk -v e="$e" -v m="$2" 'BEGIN { exit !(e <= m) }' || die "$1: exposure $e is above $2"
    pass "$1: exposure $e <= $2"
}
check swarmkeeper.service 2.0
check swarmkeeper-prepare.service 4.5

key() { sed -nE "s/^$2=(.*)/\\1/p" "$src/units/$1" | tail -n 1; }
for u in swarmkeeper.service swarmkeeper-prepare.service; do
    assert_eq "$(key $u LimitCORE)" 0 "$u: no core dumps (it holds secrets)"
    assert_eq "$(key $u NoNewPrivileges)" yes "$u: NoNewPrivileges"
done
assert_eq "$(key swarmkeeper.service CapabilityBoundingSet)" "" "daemon: no capability at all"
assert_eq "$(key swarmkeeper.service RestartPreventExitStatus)" 2 "daemon: a bad configuration (exit 2) is not restarted"
assert_eq "$(key swarmkeeper-prepare.service CapabilityBoundingSet)" CAP_SYS_ADMIN "prepare: mount(2) only"
# the mount must reach the host: no option that gives prepare its own mount namespace
ns=$(grep -E '^(ProtectSystem|ProtectHome|PrivateTmp|PrivateDevices|PrivateMounts|ProtectKernelTunables|ProtectKernelModules|ProtectKernelLogs|ProtectControlGroups|ProtectProc|ProcSubset|ReadOnlyPaths|ReadWritePaths|InaccessiblePaths|TemporaryFileSystem|BindPaths|BindReadOnlyPaths|PrivateUsers|MountFlags|RootDirectory|RootImage)=' \
    "$src/units/swarmkeeper-prepare.service")
assert_eq "$ns" "" "prepare: nothing that makes a private mount namespace"
# installed but not enabled, nothing touches docker.service
assert_eq "$(key swarmkeeper-prepare.service RequiredBy)" docker.service "prepare: linked into docker.service by systemctl enable"
dropins=("$src"/units/docker.service.d)
[ -e "${dropins[0]}" ] && die "units/docker.service.d exists: the package must ship no docker.service drop-in"
pass "no docker.service drop-in shipped"
sk_summary
