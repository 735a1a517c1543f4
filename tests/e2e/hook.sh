#!/bin/bash
# The fake EC2's --hook: its lifecycle events become real hosts (tests/lib/nspawn.sh).
#   hook.sh instance-running ID IP AZ      boot a host from the AMI ($SK_IMAGE_DIR) in its
#                                          own netns with IP on the bridge; returns once its
#                                          PID 1 runs (the boot may wait for the volume,
#                                          which the next hook hands in)
#   hook.sh instance-terminated ID IP      power it off hard: SIGKILL to its PID 1
#   hook.sh instance-shutting-down ID IP   the same, as the shutdown begins (the fake runs
#                                          with --hook-shutting-down: an instance slow or
#                                          stuck in shutting-down is no longer running)
#   hook.sh volume-attached VOL INST DEV   the loop device of VOL appears in the host as DEV
#                                          and /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_<vol>
#   hook.sh volume-detached VOL INST       it disappears
# Run by the fake (one event at a time, in order) with the test's environment: E2E_DIR
# (state: inst/<id> = host name, vol/<vol> = "LOOPDEV IMG", att/<vol> = "INST DEV"),
# SK_IMAGE_DIR (the AMI). What it starts outlives it: the test that started the fake
# stops every host and loop device listed in E2E_DIR (lib.sh, _e2e_teardown).
# shellcheck disable=SC2016  # wait_for eval strings expand when evaluated
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
if [ -z "${E2E_DIR:-}" ] || [ ! -d "$E2E_DIR" ]; then die "hook: no E2E_DIR"; fi
exec 2>>"$E2E_DIR/hook.log"
event=${1:-}
shift || true
t0=$(now)
what="$event $*"
log "hook: $what"

# what this hook started stays: the test owns it from here on
keep() {
    : >"$SK_CLEANUP_FILE"
    log "hook: $what: done in $(elapsed "$t0") s"
}

host_alive() { _sk_pid_is "$SK_RUN_DIR/$1/leader.pid"; }

case "$event" in
instance-running)
    id=$1 ip=$2
    name=$(e2e_host "$id")
    if ! _sk_ip_in_bridge_net "$ip"; then
        log "hook: $id has $ip, outside the test bridge: no host"
        exit 0
    fi
    echo "$name" >"$E2E_DIR/inst/$id"
    SK_BOOT_WAIT=0 nspawn_start "$name" "$ip" \
        --bind-ro="$E2E_DIR/seed.cfg:/etc/cloud/cloud.cfg.d/90-e2e-seed.cfg"
    cat "$E2E_DIR/owner" >"$SK_RUN_DIR/$name/owner"
    now >"$E2E_DIR/inst/$id.started"
    keep
    ;;
instance-terminated | instance-shutting-down)
    id=$1
    [ -f "$E2E_DIR/inst/$id" ] || exit 0
    [ -f "$E2E_DIR/inst/$id.stopped" ] && exit 0 # off since its shutdown began
    name=$(cat "$E2E_DIR/inst/$id")
    # EC2 pulls the plug: no shutdown, no unit stops, no sync
    if host_alive "$name"; then
        kill -KILL "$(cat "$SK_RUN_DIR/$name/leader.pid")" 2>/dev/null || true
    fi
    if _sk_pid_is "$SK_RUN_DIR/$name/nspawn.pid"; then
        wait_for 10 eval '! _sk_pid_is "$SK_RUN_DIR/$name/nspawn.pid"' ||
            kill -KILL "$(cat "$SK_RUN_DIR/$name/nspawn.pid")" 2>/dev/null || true
    fi
    nspawn_stop "$name"
    now >"$E2E_DIR/inst/$id.stopped"
    keep
    ;;
volume-attached)
    vol=$1 inst=$2 dev=$3
    if [ ! -f "$E2E_DIR/vol/$vol" ]; then
        vd=/var/tmp/sk-e2e-vols.$(cat "$E2E_DIR/owner")
        mkdir -p "$vd"
        img=$vd/$vol.img
        truncate -s "${E2E_VOLUME_MB:-768}M" "$img" || die "truncate $img failed"
        loop=$(losetup --find --show "$img") || die "losetup $img failed"
        echo "$loop $img" >"$E2E_DIR/vol/$vol"
    fi
    read -r loop _ <"$E2E_DIR/vol/$vol"
    echo "$inst $dev" >"$E2E_DIR/att/$vol"
    [ -f "$E2E_DIR/inst/$inst" ] || { log "hook: $inst has no host"; exit 0; }
    name=$(cat "$E2E_DIR/inst/$inst")
    host_alive "$name" || { log "hook: host $name of $inst is gone"; exit 0; }
    nspawn_add_block "$name" "$loop" "$dev" "nvme-Amazon_Elastic_Block_Store_${vol//-/}"
    keep
    ;;
volume-detached)
    vol=$1 inst=$2
    [ -f "$E2E_DIR/att/$vol" ] || exit 0
    read -r ainst dev <"$E2E_DIR/att/$vol"
    rm -f "$E2E_DIR/att/$vol"
    [ "$ainst" = "$inst" ] && [ -f "$E2E_DIR/inst/$inst" ] || exit 0
    name=$(cat "$E2E_DIR/inst/$inst")
    host_alive "$name" || exit 0
    nspawn_remove_block "$name" "$dev" || log "hook: removing $dev from $name failed"
    keep
    ;;
*)
    log "hook: ignoring event '$event'"
    ;;
esac
exit 0
