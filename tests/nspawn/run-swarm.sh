#!/bin/bash
# shellcheck disable=SC2016  # the scripts run inside the hosts expand there
# swarmkeeper — swarmkeeper.service under real systemd (PID 1 in nspawn), three hosts.
#
# Each host runs the project's units with its own dockerd (Debian docker.io). The EBS
# part is not under test here: swarmkeeper-prepare.service is replaced by a no-op
# drop-in and /var/lib/docker is a fresh host directory. Checks: the unit verifies;
# `systemctl start swarmkeeper` returns only once the node is an active (reachable)
# manager — bootstrap init on the first host, joins with a token from a 0600 drop-in on
# the others; StatusText shows the state ("leader" only on the leader); the journal has
# the structured events with their MESSAGE_IDs and fields, and never the token;
# `systemctl reload` re-reads the configuration; the watchdog fires on a frozen agent
# (SIGSTOP) and systemd restarts it; `systemctl stop` leaves the swarm as it is;
# `swarmkeeper status` in a host.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/common.sh
. "$HERE/../lib/common.sh"
# shellcheck source=tests/lib/nspawn.sh
. "$HERE/../lib/nspawn.sh"

require_root
[ -n "${SK_BUILD_DIR:-}" ] || die "SK_BUILD_DIR not set"
T0=$(now)
nspawn_image

H=(skrun-a skrun-b skrun-c)
IP=(10.99.0.31 10.99.0.32 10.99.0.33)
MANAGERS=$(IFS=,; echo "${IP[*]}")

setup_host() { # INDEX
    local h=${H[$1]} ip=${IP[$1]}
    SK_DOCKER_DATA=1 nspawn_start "$h" "$ip"
    nspawn_install_build "$h"
    nspawn_sh "$h" '
        set -e
        mkdir -p /etc/systemd/system/swarmkeeper-prepare.service.d /etc/docker
        printf "[Service]\nExecStart=\nExecStart=/bin/true\n" \
            >/etc/systemd/system/swarmkeeper-prepare.service.d/50-test-noop.conf
        # what prepare would have written: the engine labels
        printf "{\"labels\": [\"swarmkeeper.cluster=nstest\", \"swarmkeeper.logical-id=%s\"]}\n" "$1" \
            >/etc/docker/daemon.json
        cat >/etc/swarmkeeper/swarmkeeper.conf.d/50-test.conf <<EOF
[Cluster]
Name=nstest
Managers=$2
BootstrapManager=$3
[Host]
PrivateIp=$1
InstanceId=i-0123456789abcdef0
AvailabilityZone=test-1a
EOF
        # a short quiet period before a bootstrap init (the default is 30 s)
        mkdir -p /etc/systemd/system/swarmkeeper.service.d
        printf "[Service]\nEnvironment=SWARMKEEPER_INIT_QUIET_SEC=1\n" \
            >/etc/systemd/system/swarmkeeper.service.d/50-test-quiet.conf
        systemctl daemon-reload' "$ip" "$MANAGERS" "${IP[0]}"
}

for i in 0 1 2; do setup_host "$i"; done
log "three hosts up in $(elapsed "$T0")s"

A=${H[0]}
out=$(nspawn_exec "$A" systemd-analyze verify --man=no /usr/lib/systemd/system/swarmkeeper.service 2>&1) ||
    die "systemd-analyze verify swarmkeeper.service: $out"
pass "swarmkeeper.service verifies"
prop() { nspawn_exec "$1" systemctl show swarmkeeper.service -p "$2" --value; }
assert_eq "$(prop "$A" Type)" notify "Type=notify"
assert_contains "$(prop "$A" Requires)" docker.service "Requires=docker.service"
assert_contains "$(prop "$A" After)" swarmkeeper-prepare.service "After=swarmkeeper-prepare.service"
assert_eq "$(prop "$A" Restart)" on-failure "Restart=on-failure"

# --- bootstrap: start blocks until the swarm exists and this node leads ---------------------
# what prepare leaves when it formatted the volume in this boot (its unit is a no-op here)
nspawn_sh "$A" 'mkdir -p /run/swarmkeeper && echo FILESYSTEM=ext4 >/run/swarmkeeper/formatted'
t=$(now)
nspawn_exec "$A" systemctl start swarmkeeper.service || {
    nspawn_journal "$A" -u swarmkeeper.service -u docker.service -u swarmkeeper-prepare.service --no-pager | tail -n 40 >&2
    die "$A: systemctl start swarmkeeper failed"
}
pass "$A: systemctl start swarmkeeper"
T_A=$(elapsed "$t")
assert_eq "$(nspawn_exec "$A" docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')" \
    "active true" "$A: active manager as soon as start returned"
assert_eq "$(prop "$A" StatusText)" "manager, leader" "$A: StatusText"
assert_eq "$(prop "$A" WatchdogUSec)" 1min "WatchdogSec=60, and the agent runs under it"
assert_eq "$(nspawn_exec "$A" systemctl is-active docker.service)" active "$A: docker.service pulled in"

# --- joins: the token in a 0600 drop-in -------------------------------------------------------
TOKEN=$(nspawn_exec "$A" docker swarm join-token -q manager)
[ -n "$TOKEN" ] || die "no join token"
for h in "${H[1]}" "${H[2]}"; do
    nspawn_sh "$h" 'umask 077; printf "[Cluster]\nJoinToken=%s\n" "$1" >/etc/swarmkeeper/swarmkeeper.conf.d/60-token.conf' "$TOKEN"
    assert_eq "$(nspawn_exec "$h" stat -c %a /etc/swarmkeeper/swarmkeeper.conf.d/60-token.conf)" 600 "$h: token drop-in is 0600"
done
t=$(now)
nspawn_exec "${H[1]}" systemctl start swarmkeeper.service &
pb=$!
nspawn_exec "${H[2]}" systemctl start swarmkeeper.service &
pc=$!
rb=0 rc=0
wait "$pb" || rb=$?
wait "$pc" || rc=$?
T_BC=$(elapsed "$t")
assert_eq "$rb/$rc" 0/0 "both joins: systemctl start returned success"
for h in "${H[1]}" "${H[2]}"; do
    id=$(nspawn_exec "$h" docker info --format '{{.Swarm.NodeID}}')
    assert_eq "$(nspawn_exec "$A" docker node inspect "$id" --format '{{.ManagerStatus.Reachability}}')" reachable \
        "$h: a reachable manager as soon as start returned"
    assert_eq "$(prop "$h" StatusText)" "manager, reachable, follower" "$h: StatusText"
done
log "start: bootstrap ${T_A}s, two joins ${T_BC}s"

# --- the journal ------------------------------------------------------------------------------
J() { nspawn_journal "$1" -u swarmkeeper.service -o json "${@:2}"; }
j=$(J "$A" MESSAGE_ID=b4de82557cac47ea8b3ded2a83c962d9)
assert_contains "$j" "\"SK_ADVERTISE_ADDR\":\"${IP[0]}\"" "journal: swarm initialized, SK_ADVERTISE_ADDR"
assert_contains "$j" '"SK_NODE_ID":"' "journal: swarm initialized, SK_NODE_ID"
j=$(J "$A" MESSAGE_ID=19a5333c39224c27bc9845be44cb76aa)
assert_contains "$j" '"PRIORITY":"5"' "journal: leader gained (notice)"
j=$(J "${H[1]}" MESSAGE_ID=8e7949ff540f4f27a883714427f4f265)
assert_contains "$j" "\"SK_REMOTES\":\"${IP[0]}:2377, ${IP[2]}:2377\"" "journal: swarm joined with SK_REMOTES"
assert_contains "$(J "${H[1]}" SK_STATUS="manager, reachable, follower")" '"SK_STATUS"' "journal: SK_STATUS field"
for h in "${H[@]}"; do
    assert_not_contains "$(nspawn_journal "$h" -o json)" "$TOKEN" "$h: the token is nowhere in the journal"
    assert_not_contains "$(nspawn_exec "$h" swarmkeeper config 2>&1)" "$TOKEN" "$h: nor in 'swarmkeeper config'"
done

# --- status, reload, stop ------------------------------------------------------------------------
out=$(nspawn_exec "${H[2]}" swarmkeeper status)
log "status:"$'\n'"$out"
assert_eq "$(grep -c '^10\.99\.0\.3[123] ' <<<"$out")" 3 "status in a host: three managers with logical ids"
assert_eq "$(awk '$NF == "yes" { print $1 }' <<<"$out")" "${IP[0]}" "status: the leader mark"

assert_ok "reload" nspawn_exec "${H[1]}" systemctl reload swarmkeeper.service
reloaded() { [ -n "$(J "${H[1]}" MESSAGE_ID=0ebebcbbee324fb1950c9cbcaf45fcef 2>/dev/null)" ]; }
wait_for 60 reloaded || die "journal: no CONFIG_RELOADED after the reload"
pass "journal: reloaded (CONFIG_RELOADED)"
assert_eq "$(nspawn_exec "${H[1]}" systemctl is-active swarmkeeper.service)" active "still active after reload"

# --- the watchdog fires: a frozen agent is restarted by systemd ------------------------------
# A short WatchdogSec= (and abort/restart times) in a drop-in; SIGSTOP freezes the agent,
# so nothing feeds the watchdog: systemd must kill it with a watchdog result and start it
# again, and the node is a reachable manager once more.
W=${H[2]}
nspawn_sh "$W" '
    printf "[Service]\nWatchdogSec=3\nTimeoutAbortSec=2\nRestartSec=1\n" \
        >/etc/systemd/system/swarmkeeper.service.d/60-test-watchdog.conf
    systemctl daemon-reload && systemctl restart swarmkeeper.service'
assert_eq "$(prop "$W" WatchdogUSec)" 3s "$W: WatchdogSec=3 from the drop-in"
pid0=$(prop "$W" MainPID)
n0=$(prop "$W" NRestarts)
# what lives in the runtime directory (prepare's marker, state.json) survives a restart
nspawn_exec "$W" touch /run/swarmkeeper/test-preserved
sleep 4 # alive and feeding the watchdog: no restart
assert_eq "$(prop "$W" MainPID)" "$pid0" "$W: a running agent feeds the watchdog (not restarted in 4 s)"
t=$(now)
nspawn_exec "$W" kill -STOP "$pid0"
restarted() { [ "$(prop "$W" NRestarts)" -gt "$n0" ] && [ "$(prop "$W" ActiveState)" = active ]; }
wait_for 90 restarted || {
    nspawn_journal "$W" -u swarmkeeper.service --no-pager | tail -n 20 >&2
    die "$W: a frozen agent was not restarted by the watchdog"
}
log "$W: frozen agent restarted after $(elapsed "$t")s"
# systemd's own structured entry for the failure: UNIT_RESULT=watchdog (not its wording)
wd_logged() { [ -n "$(nspawn_journal "$W" -o cat UNIT=swarmkeeper.service UNIT_RESULT=watchdog 2>/dev/null)" ]; }
wait_for 30 wd_logged || die "$W: no UNIT_RESULT=watchdog entry for swarmkeeper.service"
pass "$W: the unit failed with result 'watchdog' (UNIT_RESULT=watchdog)"
assert_ne "$(prop "$W" MainPID)" "$pid0" "$W: a new agent runs"
assert_ok "$W: /run/swarmkeeper survived the restart" nspawn_exec "$W" test -e /run/swarmkeeper/test-preserved
assert_eq "$(prop "$W" StatusText)" "manager, reachable, follower" "$W: back as a reachable manager"
nspawn_sh "$W" 'rm -f /etc/systemd/system/swarmkeeper.service.d/60-test-watchdog.conf && systemctl daemon-reload'

for h in "${H[@]}"; do
    assert_ok "$h: systemctl stop swarmkeeper" nspawn_exec "$h" systemctl stop swarmkeeper.service
    assert_eq "$(prop "$h" Result)" success "$h: stopped cleanly"
done
assert_eq "$(nspawn_exec "$A" docker node ls --format '{{.ManagerStatus}}' | grep -cE '^(Leader|Reachable)$')" 3 \
    "stopping the agents left the swarm as it was"

log "total $(elapsed "$T0")s"
sk_summary
