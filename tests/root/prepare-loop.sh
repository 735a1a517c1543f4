#!/bin/bash
# swarmkeeper prepare on real loop devices (real mkfs, libblkid, libmount):
# blank → formatted and mounted; our filesystem → mounted, data intact; anything
# else → exit 3 with the device byte-for-byte unchanged; idempotent second run;
# a taken mount point → exit 6; a bad daemon.json → exit 2, file untouched; a name
# re-pointed between probe and mkfs → exit 3, nothing written; mkfs sees only PATH and
# never discards; $RUNTIME_DIRECTORY/formatted after a format only.
set -uo pipefail
. "$(dirname "$0")/../lib/common.sh"
require_root
require_cmd losetup mkfs.ext4 mkfs.xfs mkswap sfdisk cryptsetup findmnt blkid sha256sum flock partx
BIN=${SK_BIN:?}
HOOKED=${SK_BIN_HOOKED:?}
export SWARMKEEPER_LOG=stderr

tmpdir T sk-prepare.XXXXXX
MNT=$T/mnt
DJ=$T/etc/docker/daemon.json
# The marker for the daemon goes here, not into the host's /run/swarmkeeper.
export RUNTIME_DIRECTORY=$T/run
MARK=$RUNTIME_DIRECTORY/formatted

# mkfs wrappers first on PATH: they record their arguments and the environment they
# were started with (/proc/$$/environ: before the shell adds anything), then run the
# real mkfs. AWS_* and a made-up secret are in prepare's environment: none may reach mkfs.
mkdir -p "$T/fakebin"
for tool in mkfs.ext4 mkfs.xfs; do
        real=$(command -v "$tool")
        cat > "$T/fakebin/$tool" <<EOS
#!/bin/sh
tr '\\0' '\\n' < /proc/\$\$/environ > "$T/$tool.env"
echo "\$*" > "$T/$tool.args"
exec "$real" "\$@"
EOS
        chmod +x "$T/fakebin/$tool"
done
export PATH="$T/fakebin:$PATH"
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=sk-test-secret-must-not-leak
export SK_TEST_NOT_FOR_CHILDREN=sk-test-secret-must-not-leak

# Our mounts go first on the cleanup stack's way out (LIFO: registered last).
umount_all() { while findmnt -n "$MNT" >/dev/null 2>&1; do umount "$MNT" || break; done; }

prepare() { # DEVICE [extra --set ...]
        local dev=$1; shift
        "${PREPARE_BIN:-$BIN}" --config /dev/null --config-dir "$T/none" prepare \
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

# mkfs got the device we held, without discard, and nothing of our environment but PATH.
assert_eq "$(cat "$T/mkfs.ext4.args")" "-q -E nodiscard /proc/self/fd/3" "mkfs.ext4: the held device, no discard"
assert_eq "$(cat "$T/mkfs.ext4.env")" "PATH=$PATH" "mkfs.ext4: environment is PATH only"
assert_not_contains "$(cat "$T/mkfs.ext4.env")" "sk-test-secret-must-not-leak" "mkfs.ext4: no secret inherited"

# The daemon's marker: written after a format, 0644, naming device, volume and time.
assert_ok "marker: written after a format" test -f "$MARK"
assert_eq "$(stat -c %a "$MARK")" 644 "marker: mode 0644"
assert_contains "$(cat "$MARK")" "DEVICE=$L1" "marker: names the device"
assert_contains "$(cat "$MARK")" "FILESYSTEM=ext4" "marker: names the filesystem"
assert_contains "$(cat "$MARK")" "FORMATTED_AT=$(date -u +%Y-%m-%d)" "marker: carries the time"

# --- second run: nothing changes ---------------------------------------------------
out=$(prepare "$L1" 2>&1); rc=$?
assert_eq "$rc" 0 "second run: exit 0"
assert_contains "$out" "already mounted at $MNT; nothing to do" "second run: nothing to do"
assert_not_contains "$out" "Formatted" "second run: no format"
assert_eq "$(stat -c %i "$DJ")" "$ino1" "second run: daemon.json not rewritten"
assert_eq "$(findmnt -n "$MNT" | wc -l)" 1 "second run: mounted once"
assert_ok "second run (already mounted): marker kept" test -f "$MARK"

# --- our filesystem with data: mounted as it is ------------------------------------
umount_all
out=$(prepare "$L1" 2>&1); rc=$?
assert_eq "$rc" 0 "existing ext4: exit 0 ($out)"
assert_contains "$out" "already holds an ext4 filesystem; mounting it as it is" "existing ext4: not reformatted"
assert_eq "$(blkid -p -o value -s UUID "$L1")" "$uuid1" "existing ext4: same UUID"
assert_eq "$(cat "$MNT/data.txt")" precious "existing ext4: file intact"
assert_fail "existing ext4 mounted: no marker" test -e "$MARK"

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
# A disk whose first MiB was wiped: the backup GPT at its end and the filesystem in its
# partition are still there, and libblkid alone finds nothing.
mk_gpt_wiped() { printf 'label: gpt\nstart=2048, size=61440\n' | sfdisk -q "$1" &&
        mkfs.ext4 -q -F -E offset=1048576,nodiscard "$1" 30M &&
        dd if=/dev/zero of="$1" bs=1M count=1 conv=notrunc status=none; }
# An ext4 whose first MiB (primary superblock) was wiped: backups and tables remain.
mk_ext4_wiped() { mkfs.ext4 -q -F -E nodiscard "$1" &&
        dd if=/dev/zero of="$1" bs=1M count=1 conv=notrunc status=none; }
mk_tail() { dd if=/dev/urandom of="$1" bs=512 count=1 seek=$((64 * 2048 - 3)) conv=notrunc status=none; }
mk_middle() { printf 'x' | dd of="$1" bs=1 seek=$((40 * 1024 * 1024 + 100)) conv=notrunc status=none; }
refuse_case "GPT with its first MiB wiped" 64 "a partition table (gpt)" mk_gpt_wiped
refuse_case "ext4 with its first MiB wiped" 64 "no known signature, but non-zero data at byte" mk_ext4_wiped
refuse_case "data in the last MiB" 64 "no known signature, but non-zero data in the last MiB" mk_tail
refuse_case "data at a sampled offset" 64 "no known signature, but non-zero data at byte 41943140" mk_middle

# --- the name re-pointed between probe and mkfs: refused, nothing written -------------
# Through the test build's seam, right after the probe found the device blank, the
# name (as a by-id link would be) is turned to a device holding ext4 and data.
make_loop 64 LB   # blank: what the name pointed at when probed
make_loop 64 LX   # holds data
mkfs.ext4 -q "$LX"
sync
ln -s "$LB" "$T/by-id-link"
sum_b=$(sum "$LB"); sum_x=$(sum "$LX")
out=$(SK_TEST_HOOK_BEFORE_FORMAT="ln -sfn '$LX' '$T/by-id-link'" PREPARE_BIN=$HOOKED prepare "$T/by-id-link" 2>&1); rc=$?
assert_eq "$rc" 3 "re-pointed before mkfs: exit 3 ($out)"
assert_contains "$out" "$T/by-id-link no longer points at the device checked ($LB" "re-pointed before mkfs: says so"
assert_eq "$(sum "$LX")" "$sum_x" "re-pointed before mkfs: the ext4 device unchanged"
assert_eq "$(sum "$LB")" "$sum_b" "re-pointed before mkfs: the blank device unchanged"
assert_fail "re-pointed before mkfs: not mounted" findmnt -n "$MNT"
assert_fail "re-pointed before mkfs: no marker" test -e "$MARK"

# Re-pointed while mkfs runs (its wrapper does it): mkfs still formats only the
# device we held and checked, and the name that now points elsewhere is not mounted.
ln -sfn "$LB" "$T/by-id-link"
cat > "$T/fakebin/mkfs.ext4.pre" <<EOS
ln -sfn '$LX' '$T/by-id-link'
EOS
sed -i "2i . '$T/fakebin/mkfs.ext4.pre'" "$T/fakebin/mkfs.ext4"
out=$(prepare "$T/by-id-link" 2>&1); rc=$?
sed -i '2d' "$T/fakebin/mkfs.ext4"
assert_eq "$rc" 3 "re-pointed during mkfs: exit 3 ($out)"
assert_contains "$out" "no longer points at the device checked" "re-pointed during mkfs: says so"
assert_eq "$(sum "$LX")" "$sum_x" "re-pointed during mkfs: the ext4 device unchanged"
assert_eq "$(blkid -p -o value -s TYPE "$LB")" ext4 "re-pointed during mkfs: the held device got the filesystem"
assert_fail "re-pointed during mkfs: not mounted" findmnt -n "$MNT"

# --- the held device is locked as udev honours: flock on the whole disk ---------------
# A partition: prepare formats /dev/loopNp1 and holds the lock on /dev/loopN while it
# does (the hook, run right before mkfs, cannot take it).
make_loop 64 LP
printf 'label: gpt\nstart=2048, size=61440\n' | sfdisk -q "$LP" || die "sfdisk $LP failed"
partx --add "$LP" 2>/dev/null || true
wait_for 30 test -b "${LP}p1" || die "${LP}p1 did not appear"
out=$(SK_TEST_HOOK_BEFORE_FORMAT="flock -n -x '$LP' true; echo \$? > '$T/lock-rc'" PREPARE_BIN=$HOOKED \
        prepare "${LP}p1" 2>&1); rc=$?
assert_eq "$rc" 0 "partition: formatted and mounted ($out)"
assert_eq "$(findmnt -n -o SOURCE "$MNT")" "${LP}p1" "partition: mounted"
assert_eq "$(cat "$T/lock-rc")" 1 "partition: the whole disk was locked while prepare held it"
assert_ok "partition: the lock is gone with prepare" flock -n -x "$LP" true
umount_all

# --- xfs when xfs is configured ----------------------------------------------------
make_loop 320 L2
out=$(prepare "$L2" --set Volume.FileSystem=xfs 2>&1); rc=$?
assert_eq "$rc" 0 "blank → xfs: exit 0 ($out)"
assert_eq "$(findmnt -n -o FSTYPE "$MNT")" xfs "blank → xfs: mounted as xfs"
assert_eq "$(cat "$T/mkfs.xfs.args")" "-q -K /proc/self/fd/3" "mkfs.xfs: the held device, no discard"
assert_eq "$(cat "$T/mkfs.xfs.env")" "PATH=$PATH" "mkfs.xfs: environment is PATH only"
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
assert_contains "$(cat "$DJ")" '"swarmkeeper.instance-id=i-0123456789abcdef1"' "worker: labelled with its instance"
# a label is self-reported: a worker never claims a seat (the manager's label left in
# this file by the runs above is removed)
assert_not_contains "$(cat "$DJ")" 'swarmkeeper.logical-id' "worker: no logical-id label"
assert_fail "worker: nothing mounted" findmnt -n "$MNT"

sk_summary
