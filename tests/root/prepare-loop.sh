#!/bin/bash
# swarmkeeper prepare on real loop devices (real mkfs, libblkid, libmount):
# blank → formatted and mounted; our filesystem → mounted, data intact; anything
# else → exit 3 with the device byte-for-byte unchanged; idempotent second run;
# a taken mount point → exit 6; a bad daemon.json → exit 2, file untouched.
set -uo pipefail
. "$(dirname "$0")/../lib/common.sh"
require_root
require_cmd losetup mkfs.ext4 mkfs.xfs mkswap sfdisk cryptsetup findmnt blkid sha256sum
BIN=${SK_BIN:?}
export SWARMKEEPER_LOG=stderr

tmpdir T sk-prepare.XXXXXX
MNT=$T/mnt
DJ=$T/etc/docker/daemon.json

# Our mounts go first on the cleanup stack's way out (LIFO: registered last).
umount_all() { while findmnt -n "$MNT" >/dev/null 2>&1; do umount "$MNT" || break; done; }

prepare() { # DEVICE [extra --set ...]
        local dev=$1; shift
        "$BIN" --config /dev/null --config-dir "$T/none" prepare \
                --set Cluster.Name=test --set Host.InstanceId=i-0123456789abcdef0 \
                --set Host.PrivateIp=10.0.0.10 --set Host.AvailabilityZone=us-east-1a \
                --set Volume.Device="$dev" --set Volume.MountPoint="$MNT" \
                --set Engine.DaemonConfig="$DJ" --set Engine.Unit=sk-test-nonexistent.service \
                --set Volume.AttachTimeoutSec=2 "$@"
}

sum() { sha256sum "$1" | cut -d' ' -f1; }

# --- blank → formatted ext4, mounted, labelled -------------------------------------
make_loop 64 L1
on_exit umount_all
out=$(prepare "$L1" 2>&1); rc=$?
assert_eq "$rc" 0 "blank device: exit 0 ($out)"
assert_contains "$out" "Formatted blank device $L1 as ext4" "blank device: formatted"
assert_eq "$(blkid -p -o value -s TYPE "$L1")" ext4 "blank device: now ext4"
assert_eq "$(findmnt -n -o SOURCE "$MNT")" "$L1" "blank device: mounted at the mount point"
assert_contains "$(cat "$DJ")" '"swarmkeeper.logical-id=10.0.0.10"' "labels written"
assert_contains "$(cat "$DJ")" '"swarmkeeper.instance-id=i-0123456789abcdef0"' "instance label written"
uuid1=$(blkid -p -o value -s UUID "$L1")
ino1=$(stat -c %i "$DJ")
echo precious > "$MNT/data.txt"

# --- second run: nothing changes ---------------------------------------------------
out=$(prepare "$L1" 2>&1); rc=$?
assert_eq "$rc" 0 "second run: exit 0"
assert_contains "$out" "already mounted at $MNT; nothing to do" "second run: nothing to do"
assert_not_contains "$out" "Formatted" "second run: no format"
assert_eq "$(stat -c %i "$DJ")" "$ino1" "second run: daemon.json not rewritten"
assert_eq "$(findmnt -n "$MNT" | wc -l)" 1 "second run: mounted once"

# --- our filesystem with data: mounted as it is ------------------------------------
umount_all
out=$(prepare "$L1" 2>&1); rc=$?
assert_eq "$rc" 0 "existing ext4: exit 0 ($out)"
assert_contains "$out" "already holds an ext4 filesystem; mounting it as it is" "existing ext4: not reformatted"
assert_eq "$(blkid -p -o value -s UUID "$L1")" "$uuid1" "existing ext4: same UUID"
assert_eq "$(cat "$MNT/data.txt")" precious "existing ext4: file intact"

# --- another device on the mount point: refused ------------------------------------
umount_all
mount -t tmpfs sk-test-tmpfs "$MNT"
out=$(prepare "$L1" 2>&1); rc=$?
assert_eq "$rc" 6 "taken mount point: exit 6"
assert_contains "$out" "sk-test-tmpfs is already mounted on $MNT; refusing" "taken mount point: names the culprit"
umount "$MNT"

# --- mount point not empty: mounted over, nothing deleted ---------------------------
echo underneath > "$MNT/old-root-disk-file"
out=$(prepare "$L1" 2>&1); rc=$?
assert_eq "$rc" 0 "populated mount point: exit 0"
assert_contains "$out" "is not empty; its contents stay" "populated mount point: warned"
umount_all
assert_eq "$(cat "$MNT/old-root-disk-file")" underneath "populated mount point: contents kept"
rm -f "$MNT/old-root-disk-file"

# --- bad daemon.json: exit 2, untouched, volume not touched --------------------------
printf '{"debug": tru' > "$DJ"
before=$(sum "$DJ")
out=$(prepare "$L1" 2>&1); rc=$?
assert_eq "$rc" 2 "bad daemon.json: exit 2"
assert_contains "$out" "$DJ is not valid JSON" "bad daemon.json: names the file"
assert_eq "$(sum "$DJ")" "$before" "bad daemon.json: untouched"
assert_fail "bad daemon.json: volume not mounted" findmnt -n "$MNT"
rm -f "$DJ"

# --- foreign content: exit 3, not one byte written -----------------------------------
refuse_case() { # NAME SIZE_MB EXPECT SETUP-CMD...
        local name=$1 size=$2 expect=$3; shift 3
        local dev before out rc
        make_loop "$size" dev
        "$@" "$dev" >/dev/null 2>&1 || die "$name: setup failed: $*"
        sync
        before=$(sum "$dev")
        out=$(prepare "$dev" 2>&1); rc=$?
        assert_eq "$rc" 3 "$name: exit 3"
        assert_contains "$out" "Refusing to format $dev: found $expect" "$name: says what it found"
        assert_contains "$out" "Nothing was written" "$name: nothing written"
        assert_eq "$(sum "$dev")" "$before" "$name: device checksum unchanged"
        assert_fail "$name: not mounted" findmnt -n "$MNT"
}
mk_xfs() { mkfs.xfs -q "$1"; }
mk_luks() { printf 'k' > "$T/key"; cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 \
        --pbkdf-force-iterations 1000 --key-file "$T/key" "$1"; }
mk_gpt() { echo 'label: gpt' | sfdisk -q "$1"; }
mk_swap() { mkswap "$1"; }
mk_raid() { "$(dirname "$0")/mkraid-sb.py" "$1"; }
mk_random() { dd if=/dev/urandom of="$1" bs=4096 count=1 seek=100 conv=notrunc status=none; }
mk_ext3() { mkfs.ext3 -q "$1"; }
refuse_case "xfs when ext4 is expected" 320 "a signature of type xfs (filesystem)" mk_xfs
refuse_case "ext3 when ext4 is expected" 64 "a signature of type ext3 (filesystem)" mk_ext3
refuse_case "LUKS header" 64 "a signature of type crypto_LUKS (crypto)" mk_luks
refuse_case "GPT partition table" 64 "a partition table (gpt)" mk_gpt
refuse_case "swap" 64 "a signature of type swap (other)" mk_swap
refuse_case "RAID member" 64 "a signature of type linux_raid_member (raid)" mk_raid
refuse_case "random bytes at 400 KiB" 64 "no known signature, but non-zero data in the first MiB (at byte 409600)" mk_random

# --- xfs when xfs is configured ----------------------------------------------------
make_loop 320 L2
out=$(prepare "$L2" --set Volume.FileSystem=xfs 2>&1); rc=$?
assert_eq "$rc" 0 "blank → xfs: exit 0 ($out)"
assert_eq "$(findmnt -n -o FSTYPE "$MNT")" xfs "blank → xfs: mounted as xfs"
umount_all

# --- device never appears: exit 4 -----------------------------------------------------
out=$(prepare /dev/xvdz-not-here --set Volume.AttachTimeoutSec=1 2>&1); rc=$?
assert_eq "$rc" 4 "missing device: exit 4"
assert_contains "$out" "did not appear within 1 s" "missing device: says so"

# --- bad config: exit 2 naming the culprit --------------------------------------------
out=$(prepare "$L1" --set Volume.FileSystem=ntfs 2>&1); rc=$?
assert_eq "$rc" 2 "bad config: exit 2"
assert_contains "$out" "--set: Volume.FileSystem=ntfs must be 'ext4' or 'xfs'" "bad config: names key and why"

# --- worker without a volume: labels only ----------------------------------------------
out=$("$BIN" --config /dev/null --config-dir "$T/none" prepare --set Cluster.Name=test \
        --set Cluster.Role=worker --set Host.InstanceId=i-0123456789abcdef1 --set Host.PrivateIp=10.0.0.50 \
        --set Host.AvailabilityZone=us-east-1a --set Engine.DaemonConfig="$DJ" \
        --set Engine.Unit=sk-test-nonexistent.service 2>&1); rc=$?
assert_eq "$rc" 0 "worker: exit 0 ($out)"
assert_contains "$(cat "$DJ")" '"swarmkeeper.role=worker"' "worker: labelled"
assert_fail "worker: nothing mounted" findmnt -n "$MNT"

sk_summary
