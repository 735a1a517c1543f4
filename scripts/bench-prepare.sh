#!/bin/bash
# Benchmark: `swarmkeeper prepare` on an already formatted volume (a loop device holding
# ext4), exec to exit, device present (no wait): wall time over N runs and peak RSS.
# Each run starts unmounted, so it probes with libblkid, mounts with libmount and checks
# the labels. Targets (issue 2): ≤ 50 ms, peak RSS ≤ 4 MiB. Run as root:
#   scripts/bench-prepare.sh [BUILDDIR] [RUNS]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}; RUNS=${2:-50}
BIN=$PWD/$BUILD/agent/swarmkeeper
. tests/lib/common.sh
require_root
tmpdir T sk-bench.XXXXXX
export RUNTIME_DIRECTORY=$T/run  # not the host's /run/swarmkeeper
make_loop 512 DEV
mkfs.ext4 -q "$DEV"
MNT=$T/mnt
on_exit sh -c "umount '$MNT' 2>/dev/null; true"
ARGS=(--config /dev/null --config-dir "$T/none" prepare --set Cluster.Name=bench
      --set Host.InstanceId=i-0123456789abcdef0 --set Host.PrivateIp=10.0.0.10
      --set Host.AvailabilityZone=us-east-1a --set Volume.Device="$DEV"
      --set Volume.MountPoint="$MNT" --set Engine.DaemonConfig="$T/daemon.json"
      --set Engine.Unit=sk-bench-nonexistent.service --set Log.Level=warning)
"$BIN" "${ARGS[@]}" || die "first prepare failed"

times=()
for i in $(seq "$RUNS"); do
        umount "$MNT"
        s=$(date +%s%N)
        "$BIN" "${ARGS[@]}" || die "prepare failed"
        e=$(date +%s%N)
        times+=($(( (e - s) / 1000 )))
done
umount "$MNT"
rss=$(/usr/bin/time -f %M "$BIN" "${ARGS[@]}" 2>&1 >/dev/null | tail -1)
printf '%s\n' "${times[@]}" | sort -n | awk -v runs="$RUNS" -v rss="$rss" '
        { t[NR] = $1; sum += $1 }
        END { printf "prepare (formatted volume, mount + labels), %d runs: median %.1f ms, p90 %.1f ms, min %.1f ms, max %.1f ms; peak RSS %.2f MiB\n",
              runs, t[int(NR/2)+1]/1000, t[int(NR*0.9)]/1000, t[1]/1000, t[NR]/1000, rss/1024 }'
