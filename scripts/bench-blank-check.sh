#!/bin/bash
# Benchmark: the blank check prepare makes before it formats (libblkid with every
# prober, zeros in the first and last MiB and in >= 1024 samples of 64 KiB spread
# over the device), on a sparse loop device of SIZE (default 1 TiB), blank and then
# holding ext4 with its first MiB wiped. Run as root:
#   scripts/bench-blank-check.sh [BUILDDIR] [SIZE] [RUNS]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}; SIZE=${2:-1T}; RUNS=${3:-10}
BENCH=$PWD/$BUILD/tests/root/bench-blank-check
. tests/lib/common.sh
require_root
[ -x "$BENCH" ] || die "build $BENCH first (ninja -C $BUILD)"
tmpdir T sk-bench-blank.XXXXXX
truncate -s "$SIZE" "$T/disk.img"
DEV=$(losetup --find --show "$T/disk.img") || die "losetup failed"
on_exit losetup -d "$DEV"
"$BENCH" "$DEV" "$RUNS" || die "bench failed"
mkfs.ext4 -q -F -E nodiscard "$DEV" && dd if=/dev/zero of="$DEV" bs=1M count=1 conv=notrunc status=none
"$BENCH" "$DEV" "$RUNS" || die "bench failed"
