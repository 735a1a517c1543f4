#!/bin/bash
# Parse time of one DescribeInstances answer of 1,000 instances (target ≤ 20 ms):
#   1. a synthetic answer shaped and indented like EC2's own (~6.5 KiB per instance);
#   2. the same for 10 instances (what the leader's filtered listing looks like);
#   3. the answer the fake EC2 gives for 1,000 seeded instances (compact, no indentation),
#      captured with a botocore-signed request on 127.0.0.1.
# Each: expat alone (the floor), the expat tree, and the full parse into Ec2Instance.
#
#   scripts/bench-ec2-parse.sh [BUILD_DIR] [RUNS]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
RUNS=${2:-30}
BENCH=$BUILD/tests/aws/bench-ec2-parse

ninja -C "$BUILD" tests/aws/bench-ec2-parse >/dev/null
T=$(mktemp -d /tmp/sk-bench-ec2.XXXXXX)
FAKE_PID=
cleanup() {
        [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null && wait "$FAKE_PID" 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT

echo "# $(uname -r), $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "# expat $(pkg-config --modversion expat), $(basename "$BUILD") build"
echo
echo "## synthetic, indented like EC2"
"$BENCH" --instances 1000 --runs "$RUNS"

echo
echo "## synthetic, a steady-state cluster's answer (10 instances)"
"$BENCH" --instances 10 --runs "$RUNS"

echo
echo "## from the fake EC2"
/usr/bin/python3 "$SRC/tests/fake-ec2/fake_ec2.py" --listen 127.0.0.1:0 --port-file "$T/port" \
        --access-key AKIDTEST --secret-key SECRET 2>/dev/null &
FAKE_PID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
/usr/bin/python3 - "http://127.0.0.1:$(cat "$T/port")" "$T/answer.xml" <<'EOF'
import json, sys, urllib.request
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

url, out = sys.argv[1], sys.argv[2]
def control(path, data):
    req = urllib.request.Request(url + path, json.dumps(data).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
for i in range(1000):
    net, host = 1 + i // 250, 4 + i % 250
    inst = control("/_fake/instances", {
        "private_ip": "10.0.%d.%d" % (net, host), "hooks": False,
        "state": "terminated" if i % 7 == 0 else "running",
        "security_groups": ["sg-0123456789abcdef0"],
        "iam_instance_profile": "arn:aws:iam::123456789012:instance-profile/swarmkeeper",
        "tags": {"swarmkeeper:cluster": "bench", "swarmkeeper:logical-id": "10.0.%d.%d" % (net, host),
                 "swarmkeeper:role": "manager" if i < 5 else "worker", "Name": "bench-%d" % i}})
    if i % 7:
        control("/_fake/volumes", {"az": inst["az"], "size": 8, "attached_to": inst["id"], "hooks": False})
body = "Action=DescribeInstances&Version=2016-11-15&MaxResults=1000"
req = AWSRequest(method="POST", url=url + "/", data=body,
                 headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
SigV4Auth(Credentials("AKIDTEST", "SECRET"), "ec2", "us-east-1").add_auth(req)
r = urllib.request.urlopen(urllib.request.Request(url + "/", body.encode(), dict(req.headers)))
open(out, "wb").write(r.read())
EOF
"$BENCH" --runs "$RUNS" "$T/answer.xml"
