#!/bin/bash
# swarmkeeper prepare end to end against the fake EC2 + IMDS, on a loop device:
# identity and role credentials from IMDS, the volume found by its tags in the
# instance's zone, attached (AttachVolume, signed with the role's session token),
# its EBS udev link awaited (made by the fake's hook, as udev would), formatted
# because blank, mounted. Then: a second run attaches nothing; a host without a
# volume and an unreachable metadata service exit 5 with a clear message; two
# volumes tagged for one seat exit 9 with neither attached nor mounted; no
# secret reaches the output even at debug level.
set -uo pipefail
. "$(dirname "$0")/../lib/common.sh"
require_root
require_cmd losetup mkfs.ext4 findmnt blkid curl
BIN=${SK_BIN:?}
SRC=${SK_SOURCE_DIR:?}
export SWARMKEEPER_LOG=stderr
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

tmpdir T sk-prepare-ebs.XXXXXX
# prepare's marker for the daemon goes here, not into the host's /run/swarmkeeper.
export RUNTIME_DIRECTORY=$T/run
MNT=$T/mnt
SECRET=sk-test-static-secret-$RANDOM$RANDOM
mkdir -p "$T/conf.d"

# A volume id nobody else uses, and its udev link on this machine.
VOL=vol-0$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
BYID=/dev/disk/by-id
LINK=$BYID/nvme-Amazon_Elastic_Block_Store_${VOL/-/}
[ -e "$LINK" ] && die "$LINK exists already"
if [ ! -d "$BYID" ]; then
        mkdir -p "$BYID" || die "cannot create $BYID"
        on_exit rmdir --ignore-fail-on-non-empty "$BYID" /dev/disk
fi
on_exit rm -f "$LINK"

make_loop 64 LOOP
umount_all() { # MNT, and mnt2 should a refusal case (wrongly) mount there
        local m
        for m in "$MNT" "$T/mnt2"; do
                while findmnt -n "$m" >/dev/null 2>&1; do umount "$m" || break; done
        done
}
on_exit umount_all

# The hook plays udev: the attached volume's link appears, and goes on detach.
cat >"$T/hook.sh" <<EOF
#!/bin/bash
echo "\$*" >>"$T/hook.log"
case "\$1" in
volume-attached) [ "\$2" = "$VOL" ] && ln -sfn "$LOOP" "$LINK" ;;
volume-detached) [ "\$2" = "$VOL" ] && rm -f "$LINK" ;;
esac
exit 0
EOF
chmod +x "$T/hook.sh"

# every EC2 call prepare makes goes into the run's call log (the IAM policy check reads it)
CALL_LOG=()
if [ -n "${SK_EC2_CALL_LOG_DIR:-}" ]; then
        mkdir -p "$SK_EC2_CALL_LOG_DIR"
        CALL_LOG=(--call-log "$SK_EC2_CALL_LOG_DIR/prepare-ebs-$$.log")
fi
/usr/bin/python3 "$SRC/tests/fake-ec2/fake_ec2.py" --listen 127.0.0.1:0 --port-file "$T/port" \
        --access-key AKIDTEST --secret-key "$SECRET" --pending-delay 0.3 --hook "$T/hook.sh" \
        "${CALL_LOG[@]}" 2>"$T/fake.log" &
FAKE_PID=$!
on_exit kill_pid "$FAKE_PID"
wait_for 10 test -s "$T/port" || die "the fake did not start: $(cat "$T/fake.log")"
URL=http://127.0.0.1:$(cat "$T/port")

ctl() { # METHOD PATH [JSON]
        curl -sS --fail --noproxy '*' -X "$1" -H 'Content-Type: application/json' \
                ${3:+--data "$3"} "$URL$2"
}
json() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

IID=$(ctl POST /_fake/instances '{"private_ip": "10.0.1.10", "az": "us-east-1a", "hooks": false}' | json 'd["id"]')
ctl POST /_fake/imds "{\"source\": \"127.0.0.1\", \"instance\": \"$IID\"}" >/dev/null
ctl POST /_fake/volumes "{\"id\": \"$VOL\", \"az\": \"us-east-1a\", \"size\": 1, \
        \"tags\": {\"swarmkeeper:cluster\": \"e2e\", \"swarmkeeper:logical-id\": \"10.0.1.10\"}}" >/dev/null
# Noise: the same tags in another zone, another cluster's volume, an untagged one.
ctl POST /_fake/volumes '{"az": "us-east-1b", "size": 1, "tags": {"swarmkeeper:cluster": "e2e", "swarmkeeper:logical-id": "10.0.1.10"}}' >/dev/null
ctl POST /_fake/volumes '{"az": "us-east-1a", "size": 1, "tags": {"swarmkeeper:cluster": "other", "swarmkeeper:logical-id": "10.0.1.10"}}' >/dev/null
ctl POST /_fake/volumes '{"az": "us-east-1a", "size": 1}' >/dev/null

# Only what a real host would configure: the cluster; the rest comes from IMDS.
cat >"$T/swarmkeeper.conf" <<EOF
[Cluster]
Name=e2e
Role=manager

[Volume]
MountPoint=$MNT
AttachTimeoutSec=30

[Engine]
DaemonConfig=$T/daemon.json
Unit=sk-test-nonexistent.service

[AWS]
Endpoint=$URL
MetadataEndpoint=$URL

[Log]
Level=debug
EOF

prepare() { "$BIN" --config "$T/swarmkeeper.conf" --config-dir "$T/conf.d" prepare "$@"; }

# --- first boot: find, attach, wait, format, mount ---------------------------------
t0=$(now)
out=$(prepare 2>&1); rc=$?
log "first prepare: $(elapsed "$t0") s"
assert_eq "$rc" 0 "prepare: exit 0 ($out)"
assert_contains "$out" "instance $IID, private IP 10.0.1.10, zone us-east-1a, region us-east-1" "identity from IMDS"
assert_contains "$out" "Attached volume $VOL to instance $IID as /dev/sdf" "volume attached"
assert_contains "$out" "Formatted blank device $LINK as ext4" "blank volume formatted"
assert_eq "$(findmnt -n -o SOURCE "$MNT")" "$LOOP" "the volume's device is mounted at the mount point"
assert_eq "$(blkid -p -o value -s TYPE "$LOOP")" ext4 "ext4 on the loop device"
state=$(ctl GET /_fake/state)
assert_eq "$(json "[v['attachment'] for v in d['volumes'] if v['id'] == '$VOL'][0]" <<<"$state")" \
        "{'instance': '$IID', 'device': '/dev/sdf', 'status': 'attached'}" "the fake shows the attachment"
assert_eq "$(json "sum(1 for v in d['volumes'] if v['attachment'])" <<<"$state")" 1 "no other volume attached"
calls=$(ctl GET /_fake/calls)
assert_eq "$(json "[c['action'] for c in d if c['action'] == 'AttachVolume' and c['status'] == 200]" <<<"$calls")" \
        "['AttachVolume']" "one AttachVolume"
assert_eq "$(json "sorted({c['access_key'][:4] for c in d})" <<<"$calls")" "['ASIA']" \
        "every call signed with the instance role's session credentials"
assert_eq "$(json "[c['params']['Filter.3.Value.1'] for c in d if c['action'] == 'DescribeVolumes'][0]" <<<"$calls")" \
        us-east-1a "looked only in the instance's zone"
assert_contains "$(cat "$T/daemon.json")" '"swarmkeeper.logical-id=10.0.1.10"' "engine labels written"

# No secret in the output, even at debug: the role's current credentials and the static key.
tok=$(curl -sS --noproxy '*' -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$URL/latest/api/token")
creds=$(curl -sS --noproxy '*' -H "X-aws-ec2-metadata-token: $tok" \
        "$URL/latest/meta-data/iam/security-credentials/swarmkeeper-role")
for k in AccessKeyId SecretAccessKey Token; do
        v=$(json "d['$k']" <<<"$creds")
        assert_not_contains "$out" "$v" "the role's $k is not in the output"
done
assert_not_contains "$out" "$SECRET" "the static secret key is not in the output"

# --- second boot: already attached and mounted: no AttachVolume -------------------
ctl DELETE /_fake/calls >/dev/null
out=$(prepare 2>&1); rc=$?
assert_eq "$rc" 0 "second prepare: exit 0 ($out)"
assert_contains "$out" "Volume $VOL is attached to this instance as /dev/sdf" "second prepare: found attached"
assert_contains "$out" "already mounted at $MNT" "second prepare: nothing to mount"
assert_eq "$(ctl GET /_fake/calls | json "sum(1 for c in d if c['action'] == 'AttachVolume')")" 0 "second prepare: no AttachVolume"

# --- a host without a volume: exit 5, says what it looked for -------------------------
IID2=$(ctl POST /_fake/instances '{"private_ip": "10.0.1.11", "az": "us-east-1a", "hooks": false}' | json 'd["id"]')
ctl POST /_fake/imds "{\"source\": \"127.0.0.1\", \"instance\": \"$IID2\"}" >/dev/null
out=$(prepare --set Volume.MountPoint="$T/mnt2" 2>&1); rc=$?
assert_eq "$rc" 5 "no volume: exit 5"
assert_contains "$out" "No EBS volume tagged swarmkeeper:cluster=e2e, swarmkeeper:logical-id=10.0.1.11 in us-east-1a" \
        "no volume: the message names the tags and the zone"
assert_fail "no volume: nothing mounted" findmnt -n "$T/mnt2"

# --- the volume is held by another live instance: never taken, exit 4 after the timeout ---
OTHER=$(ctl POST /_fake/instances '{"private_ip": "10.0.1.99", "az": "us-east-1a", "hooks": false}' | json 'd["id"]')
IID3=$(ctl POST /_fake/instances '{"private_ip": "10.0.1.12", "az": "us-east-1a", "hooks": false}' | json 'd["id"]')
ctl POST /_fake/imds "{\"source\": \"127.0.0.1\", \"instance\": \"$IID3\"}" >/dev/null
ctl POST /_fake/volumes "{\"az\": \"us-east-1a\", \"size\": 1, \"attached_to\": \"$OTHER\", \"hooks\": false, \
        \"tags\": {\"swarmkeeper:cluster\": \"e2e\", \"swarmkeeper:logical-id\": \"10.0.1.12\"}}" >/dev/null
ctl DELETE /_fake/calls >/dev/null
out=$(prepare --set Volume.MountPoint="$T/mnt2" --set Volume.AttachTimeoutSec=2 2>&1); rc=$?
assert_eq "$rc" 4 "volume held by a live instance: exit 4"
assert_contains "$out" "in use by instance $OTHER" "held volume: says who holds it"
assert_contains "$out" "was not attached to this instance within 2 s" "held volume: says it timed out"
assert_eq "$(ctl GET /_fake/calls | json "sum(1 for c in d if c['action'] in ('AttachVolume', 'DetachVolume'))")" 0 \
        "held volume: never detached from the other instance, never attached"
assert_fail "held volume: nothing mounted" findmnt -n "$T/mnt2"

# --- attached here AND to another instance (Multi-Attach): never mounted, exit 8 -------
IID5=$(ctl POST /_fake/instances '{"private_ip": "10.0.1.14", "az": "us-east-1a", "hooks": false}' | json 'd["id"]')
OTHER5=$(ctl POST /_fake/instances '{"private_ip": "10.0.1.98", "az": "us-east-1a", "hooks": false}' | json 'd["id"]')
ctl POST /_fake/imds "{\"source\": \"127.0.0.1\", \"instance\": \"$IID5\"}" >/dev/null
VOL5=$(ctl POST /_fake/volumes "{\"az\": \"us-east-1a\", \"size\": 1, \"attached_to\": \"$IID5\", \"device\": \"/dev/sdn\", \
        \"also_attached_to\": [{\"instance\": \"$OTHER5\", \"device\": \"/dev/sdf\"}], \"hooks\": false, \
        \"tags\": {\"swarmkeeper:cluster\": \"e2e\", \"swarmkeeper:logical-id\": \"10.0.1.14\"}}" | json 'd["id"]')
ctl DELETE /_fake/calls >/dev/null
out=$(prepare --set Volume.MountPoint="$T/mnt2" --set Volume.AttachTimeoutSec=3 2>&1); rc=$?
assert_eq "$rc" 8 "multi-attached volume: exit 8 ($out)"
assert_contains "$out" "Volume $VOL5 is attached to this instance and also to $OTHER5" "multi-attached volume: names both"
assert_eq "$(ctl GET /_fake/calls | json "sum(1 for c in d if c['action'] in ('AttachVolume', 'DetachVolume'))")" 0 \
        "multi-attached volume: nothing attached or detached"
assert_fail "multi-attached volume: nothing mounted" findmnt -n "$T/mnt2"

# --- two volumes tagged for the seat, one attached here: neither used, exit 9 ---------
# Anyone who may tag can make a second volume for a seat (and attach it): the host
# cannot tell which one holds the seat's state. The attached one's device is there
# (its udev link points at a loop device of its own), so only the refusal keeps it
# from being formatted and mounted.
make_loop 64 LOOP6
on_exit umount_all # before LOOP6 is detached (cleanup runs last in, first out)
IID6=$(ctl POST /_fake/instances '{"private_ip": "10.0.1.15", "az": "us-east-1a", "hooks": false}' | json 'd["id"]')
ctl POST /_fake/imds "{\"source\": \"127.0.0.1\", \"instance\": \"$IID6\"}" >/dev/null
VOL6A=$(ctl POST /_fake/volumes "{\"az\": \"us-east-1a\", \"size\": 1, \"hooks\": false, \
        \"tags\": {\"swarmkeeper:cluster\": \"e2e\", \"swarmkeeper:logical-id\": \"10.0.1.15\"}}" | json 'd["id"]')
VOL6B=$(ctl POST /_fake/volumes "{\"az\": \"us-east-1a\", \"size\": 1, \"attached_to\": \"$IID6\", \"device\": \"/dev/sdg\", \
        \"hooks\": false, \"tags\": {\"swarmkeeper:cluster\": \"e2e\", \"swarmkeeper:logical-id\": \"10.0.1.15\"}}" | json 'd["id"]')
LINK6=$BYID/nvme-Amazon_Elastic_Block_Store_${VOL6B/-/}
on_exit rm -f "$LINK6"
ln -sfn "$LOOP6" "$LINK6"
rm -f "$RUNTIME_DIRECTORY/formatted" # the first run's
ctl DELETE /_fake/calls >/dev/null
out=$(prepare --set Volume.MountPoint="$T/mnt2" 2>&1); rc=$?
assert_eq "$rc" 9 "two volumes tagged for the seat: exit 9 ($out)"
assert_contains "$out" "$VOL6A" "two volumes: names the available one"
assert_contains "$out" "$VOL6B" "two volumes: names the one attached here"
assert_eq "$(ctl GET /_fake/calls | json "sum(1 for c in d if c['action'] in ('AttachVolume', 'DetachVolume'))")" 0 \
        "two volumes: nothing attached or detached"
assert_fail "two volumes: nothing mounted" findmnt -n "$T/mnt2"
assert_eq "$(blkid -p -o value -s TYPE "$LOOP6")" "" "two volumes: the attached one's device was not formatted"
assert_fail "two volumes: no marker of a fresh format" test -e "$RUNTIME_DIRECTORY/formatted"
# the same with both available (no attachment at all): still exit 9, still nothing attached
ctl POST /_fake/volumes "{\"az\": \"us-east-1a\", \"size\": 1, \"hooks\": false, \
        \"tags\": {\"swarmkeeper:cluster\": \"e2e\", \"swarmkeeper:logical-id\": \"10.0.1.16\"}}" >/dev/null
ctl POST /_fake/volumes "{\"az\": \"us-east-1a\", \"size\": 1, \"hooks\": false, \
        \"tags\": {\"swarmkeeper:cluster\": \"e2e\", \"swarmkeeper:logical-id\": \"10.0.1.16\"}}" >/dev/null
ctl DELETE /_fake/calls >/dev/null
out=$(prepare --set Volume.MountPoint="$T/mnt2" --set Host.PrivateIp=10.0.1.16 2>&1); rc=$?
assert_eq "$rc" 9 "two available volumes tagged for the seat: exit 9 ($out)"
assert_eq "$(ctl GET /_fake/calls | json "sum(1 for c in d if c['action'] in ('AttachVolume', 'DetachVolume'))")" 0 \
        "two available volumes: nothing attached"

# --- one deadline for the attach wait and the device wait ------------------------------
# EC2 answers DescribeVolumes 2 s late; the attachment's device never shows up. With
# AttachTimeoutSec=3 prepare gives up 3 s after it started, not 2 s + another 3 s:
# otherwise the unit's TimeoutStartSec could run out in the middle of mkfs.
IID4=$(ctl POST /_fake/instances '{"private_ip": "10.0.1.13", "az": "us-east-1a", "hooks": false}' | json 'd["id"]')
ctl POST /_fake/imds "{\"source\": \"127.0.0.1\", \"instance\": \"$IID4\"}" >/dev/null
ctl POST /_fake/volumes "{\"az\": \"us-east-1a\", \"size\": 1, \"attached_to\": \"$IID4\", \"device\": \"/dev/sdo\", \
        \"hooks\": false, \"tags\": {\"swarmkeeper:cluster\": \"e2e\", \"swarmkeeper:logical-id\": \"10.0.1.13\"}}" >/dev/null
ctl POST /_fake/faults '{"action": "DescribeVolumes", "latency": 2, "count": 1}' >/dev/null
t0=$(now)
out=$(prepare --set Volume.MountPoint="$T/mnt2" --set Volume.AttachTimeoutSec=3 2>&1); rc=$?
took=$(elapsed "$t0")
ctl DELETE /_fake/faults >/dev/null
assert_eq "$rc" 4 "slow attach + missing device: exit 4 ($out)"
assert_contains "$out" "did not appear within 3 s of the start" "slow attach + missing device: says so"
assert_ok "slow attach + missing device: gave up within the one deadline ($took s)" \
        awk -v t="$took" 'BEGIN { exit !(t >= 2.0 && t < 4.5) }'
assert_fail "slow attach + missing device: nothing mounted" findmnt -n "$T/mnt2"

# --- EC2 unreachable after IMDS: exit 5, names the endpoint -------------------------
out=$(prepare --set AWS.Endpoint=http://127.0.0.1:1 --set Volume.MountPoint="$T/mnt2" 2>&1); rc=$?
assert_eq "$rc" 5 "EC2 unreachable: exit 5"
assert_contains "$out" "EC2 DescribeVolumes at http://127.0.0.1:1 failed after 5 attempt(s)" "EC2 unreachable: said so"

# --- metadata service unreachable: exit 5 -------------------------------------------
out=$(prepare --set AWS.MetadataEndpoint=http://127.0.0.1:1 2>&1); rc=$?
assert_eq "$rc" 5 "IMDS unreachable: exit 5"
assert_contains "$out" "Host.InstanceId is not set, and the metadata service at http://127.0.0.1:1 could not tell it" \
        "IMDS unreachable: the message names the key and the endpoint"

# --- an explicit Device= makes no AWS call at all -------------------------------------
ctl DELETE /_fake/calls >/dev/null
out=$(prepare --set Volume.Device="$LOOP" --set Host.InstanceId="$IID" --set Host.PrivateIp=10.0.1.10 \
        --set Host.AvailabilityZone=us-east-1a --set AWS.MetadataEndpoint=http://127.0.0.1:1 2>&1); rc=$?
assert_eq "$rc" 0 "explicit device: exit 0 ($out)"
assert_eq "$(ctl GET /_fake/calls)" "[]" "explicit device: no EC2 call"

sk_summary
