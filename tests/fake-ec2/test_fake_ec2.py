#!/usr/bin/python3
"""Tests of the fake EC2 API + IMDS (fake_ec2.py), driven by the real AWS CLI.

Run from the repository root:
    /usr/bin/python3 -m unittest tests/fake-ec2/test_fake_ec2.py
or  /usr/bin/python3 tests/fake-ec2/test_fake_ec2.py

Needs /usr/bin/aws (Debian awscli), /usr/bin/curl and python3-botocore.  Every
request goes to a fake started on 127.0.0.1 by these tests; no AWS endpoint,
no 169.254.169.254, no proxy.  Each server is killed by PID on cleanup.
"""

import base64
import datetime
import atexit
import http.client
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_ec2.py")
PYTHON = "/usr/bin/python3"
AWS = "/usr/bin/aws"
CURL = "/usr/bin/curl"
AKID, SECRET = "AKIDTEST", "SECRETKEYTEST0123456789"
REGION = "us-east-1"
LONG = 1000  # lifecycle delay for the deterministic servers (advanced by hand)
IP_RELEASE = 300  # --ip-release-delay of those servers
VOL_RELEASE = 200  # --volume-release-delay of those servers
CHECK = os.path.join(HERE, "check_invariants.py")

_SESSION = None


def botocore_client(url, key=AKID, secret=SECRET, token=None):
    """An in-process botocore EC2 client (same parser as the CLI, without
    its 0.5 s start-up): for secondary checks.  No config files, no IMDS,
    no proxies."""
    global _SESSION
    if _SESSION is None:
        _SESSION = botocore.session.Session()
        _SESSION.set_config_variable("config_file", "/dev/null")
        _SESSION.set_config_variable("credentials_file", "/dev/null")
    return _SESSION.create_client(
        "ec2", region_name=REGION, endpoint_url=url, aws_access_key_id=key,
        aws_secret_access_key=secret, aws_session_token=token,
        config=Config(proxies={}, retries={"max_attempts": 0,
                                           "mode": "standard"},
                      connect_timeout=5, read_timeout=30))


# Runs in its own interpreter (the CLI brings its own botocore, which cannot
# share a process with python3-botocore): imports what /usr/bin/aws imports,
# then for each request line forks a child that runs the unchanged script.
ZYGOTE = r"""
import json, os, runpy, sys
before = dict(os.environ)
import awscli.clidriver
# What importing the CLI put into the environment (AWS_DATA_PATH), so that
# each child sees what a fresh `aws` would after its own imports.
by_import = {k: v for k, v in os.environ.items() if before.get(k) != v}
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            out = os.open(req["out"], os.O_WRONLY)
            err = os.open(req["err"], os.O_WRONLY)
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.environ.clear()
            os.environ.update(req["env"])
            for k, v in by_import.items():
                if k not in req["env"]:
                    os.environ[k] = v
            sys.argv = [req["aws"]] + req["args"]
            sys.stdin = open(os.devnull)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            try:
                runpy.run_path(req["aws"], run_name="__main__")
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (
                    0 if e.code is None else 1)
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(json.dumps({"rc": os.waitstatus_to_exitcode(status)})
                     + "\n")
    sys.stdout.flush()
"""
_zygote = None


def _stop_zygote():
    if _zygote is not None and _zygote.poll() is None:
        _zygote.kill()
        _zygote.wait()


def run_aws(args, env, timeout=60):
    """Run /usr/bin/aws ARGS with exactly env; -> CompletedProcess.

    Starting the CLI costs ~0.7 s of CPU, nearly all of it imports, and this
    suite runs it ~80 times.  So a helper interpreter imports the CLI once
    and forks for every call; each child runs the unchanged /usr/bin/aws
    script with its own environment, argv and output: the real CLI, without
    paying for its start-up each time.  FAKE_EC2_CLI_EXEC=1 execs
    /usr/bin/aws instead."""
    global _zygote
    if os.environ.get("FAKE_EC2_CLI_EXEC") == "1":
        return subprocess.run([AWS] + args, env=env, capture_output=True,
                              text=True, timeout=timeout)
    if _zygote is None or _zygote.poll() is not None:
        _zygote = subprocess.Popen([PYTHON, "-c", ZYGOTE],
                                   stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True,
                                   env={"PATH": "/usr/bin:/bin"})
        atexit.register(_stop_zygote)
    with tempfile.NamedTemporaryFile() as out, \
            tempfile.NamedTemporaryFile() as err:
        _zygote.stdin.write(json.dumps({"aws": AWS, "args": args, "env": env,
                                        "out": out.name, "err": err.name})
                            + "\n")
        _zygote.stdin.flush()
        ready, _, _ = select.select([_zygote.stdout], [], [], timeout)
        if not ready:
            _stop_zygote()
            raise subprocess.TimeoutExpired([AWS] + args, timeout)
        rc = json.loads(_zygote.stdout.readline())["rc"]
        return subprocess.CompletedProcess(
            [AWS] + args, rc, out.read().decode(), err.read().decode())


HOOK_SCRIPT = """#!/bin/sh
echo "$@" >> "%s"
"""


class FakeServer:
    """The fake as a subprocess on 127.0.0.1:0; stop() kills it by PID."""

    def __init__(self, tmp, *extra):
        self.tmp = tmp
        self.port_file = os.path.join(tmp, "port")
        self.log_path = os.path.join(tmp, "fake.log")
        self.log = open(self.log_path, "wb")
        env = {k: v for k, v in os.environ.items()
               if "proxy" not in k.lower()}
        self.proc = subprocess.Popen(
            [PYTHON, FAKE, "--listen", "127.0.0.1:0", "--port-file",
             self.port_file, "--access-key", AKID, "--secret-key", SECRET,
             "--region", REGION] + list(extra),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            env=env)
        deadline = time.time() + 15
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("fake did not start: %s" %
                                   open(self.log_path).read())
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def http(self, method, path, body=None, headers=None, source=None):
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=20,
            source_address=(source, 0) if source else None)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def ctl(self, method, path, data=None):
        status, _, body = self.http(
            method, "/_fake/" + path,
            json.dumps(data).encode() if data is not None else None,
            {"Content-Type": "application/json"})
        if status != 200:
            raise AssertionError("control %s %s -> %d %s" % (
                method, path, status, body))
        return json.loads(body)


class FixedTimeSigV4(SigV4Auth):
    """botocore's SigV4 with a chosen timestamp (for clock skew tests)."""

    def __init__(self, creds, when, region=REGION):
        super().__init__(creds, "ec2", region)
        self.when = when

    def add_auth(self, request):
        request.context["timestamp"] = self.when.strftime("%Y%m%dT%H%M%SZ")
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        sts = self.string_to_sign(request, canonical)
        self._inject_signature_to_request(request,
                                          self.signature(sts, request))


def xml_error(body):
    root = ET.fromstring(body)
    assert root.tag == "Response", body
    err = root.find("Errors/Error")
    assert root.find("RequestID").text, body
    return err.find("Code").text, err.find("Message").text


class Base(unittest.TestCase):
    server_args = ("--pending-delay", str(LONG), "--shutdown-delay", str(LONG),
                   "--terminated-ttl", str(5 * LONG),
                   "--ip-release-delay", str(IP_RELEASE),
                   "--volume-release-delay", str(VOL_RELEASE))

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fake-ec2-test.")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.hook_out = os.path.join(cls.tmp, "hook.out")
        cls.state_log = os.path.join(cls.tmp, "state.log")
        cls.call_log = os.path.join(cls.tmp, "call.log")
        hook = os.path.join(cls.tmp, "hook.sh")
        with open(hook, "w") as f:
            f.write(HOOK_SCRIPT % cls.hook_out)
        os.chmod(hook, 0o755)
        cls.fake = FakeServer(cls.tmp, "--hook", hook, "--state-log",
                              cls.state_log, "--call-log", cls.call_log,
                              *cls.server_args)
        cls.addClassCleanup(cls.fake.stop)
        cls.ec2 = botocore_client(cls.fake.url)
        cls.addClassCleanup(cls.ec2.close)

    @classmethod
    def tearDownClass(cls):
        # Let queued hooks finish before the server (and tmp dir) go away.
        deadline = time.time() + 10
        while cls.fake.ctl("GET", "hooks")["pending"] and \
                time.time() < deadline:
            time.sleep(0.02)

    def setUp(self):
        self.fake.ctl("POST", "reset")
        self.wait_hooks()
        open(self.hook_out, "w").close()

    # -- helpers ------------------------------------------------------------
    def env(self, **extra):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp, "LANG": "C.UTF-8",
               "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_CONFIG_FILE": "/dev/null",
               "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
               "AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
               "AWS_DEFAULT_REGION": REGION, "AWS_MAX_ATTEMPTS": "1",
               "AWS_RETRY_MODE": "standard", "AWS_PAGER": ""}
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def aws_raw(self, *args, env=None):
        return run_aws(["ec2"] + list(args) + [
            "--endpoint-url", self.fake.url, "--output", "json",
            "--cli-connect-timeout", "5", "--cli-read-timeout", "30"],
            env or self.env())

    def aws(self, *args, env=None):
        p = self.aws_raw(*args, env=env)
        self.assertEqual(p.returncode, 0, "aws %s: %s" % (args, p.stderr))
        return json.loads(p.stdout) if p.stdout.strip() else None

    def aws_fails(self, code, *args, env=None, message=None):
        p = self.aws_raw(*args, env=env)
        self.assertEqual(p.returncode, 254, p.stdout + p.stderr)
        self.assertIn("(%s)" % code, p.stderr)
        if message:
            self.assertIn(message, p.stderr)
        return p.stderr

    def api(self, op, **kw):
        """Call through the in-process botocore client."""
        return getattr(self.ec2, op)(**kw)

    def api_fails(self, code, op, message=None, **kw):
        with self.assertRaises(ClientError) as cm:
            getattr(self.ec2, op)(**kw)
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], code, err)
        if message:
            self.assertIn(message, err["Message"])
        return err["Message"]

    def advance(self, seconds=LONG + 1):
        self.fake.ctl("POST", "time", {"advance": seconds})

    def seed(self, **kw):
        return self.fake.ctl("POST", "instances", kw)

    def instances(self, *args):
        out = self.aws("describe-instances", *args)
        return [i for r in out["Reservations"] for i in r["Instances"]]

    def instance(self, iid):
        (r,) = self.api("describe_instances", InstanceIds=[iid])[
            "Reservations"]
        return r["Instances"][0]

    def all_ids(self, **kw):
        return [i["InstanceId"] for r in self.api(
            "describe_instances", **kw)["Reservations"]
            for i in r["Instances"]]

    def volume(self, vid):
        return self.api("describe_volumes", VolumeIds=[vid])["Volumes"][0]

    def state_records(self):
        """The state log since the last reset (this test's)."""
        with open(self.state_log) as f:
            recs = [json.loads(l) for l in f]
        last = max(n for n, r in enumerate(recs) if r["event"] == "reset")
        return recs[last + 1:]

    def check_own_invariants(self):
        """check_invariants.py on this test's part of the state log (the
        log is shared by the class's tests)."""
        path = os.path.join(self.tmp, "own-state.log")
        with open(path, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in self.state_records())
        return self.check_invariants(path)

    def check_invariants(self, path=None):
        return subprocess.run([PYTHON, CHECK, path or self.state_log],
                              capture_output=True, text=True, timeout=30)

    def calls(self, action=None):
        return [c for c in self.fake.ctl("GET", "calls")
                if action is None or c["action"] == action]

    def signed(self, params, key=AKID, secret=SECRET, token=None, when=None,
               region=REGION, tamper=None):
        """POST a Query API request signed by botocore; -> (status, body)."""
        req = AWSRequest(method="POST", url=self.fake.url + "/", data=params,
                         headers={"Content-Type": "application/x-www-form-"
                                  "urlencoded; charset=utf-8"})
        body = req.prepare().body.encode()
        req = AWSRequest(method="POST", url=self.fake.url + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-"
                                  "urlencoded; charset=utf-8"})
        when = when or datetime.datetime.utcnow()
        FixedTimeSigV4(Credentials(key, secret, token), when,
                       region).add_auth(req)
        if tamper:
            body = tamper(body)
        status, _, out = self.fake.http("POST", "/", body, dict(req.headers))
        return status, out

    def wait_hooks(self, timeout=10):
        deadline = time.time() + timeout
        while self.fake.ctl("GET", "hooks")["pending"]:
            self.assertLess(time.time(), deadline, "hooks did not finish")
            time.sleep(0.02)

    def hook_lines(self):
        self.wait_hooks()
        with open(self.hook_out) as f:
            return [l.split() for l in f.read().splitlines()]


class TestInstances(Base):
    def test_run_instances_lifecycle_and_ip_hold(self):
        out = self.aws(
            "run-instances", "--image-id", "ami-12345678",
            "--instance-type", "t3.small", "--subnet-id", "subnet-aaaaaaaa",
            "--private-ip-address", "10.0.1.10",
            "--security-group-ids", "sg-12345678",
            "--iam-instance-profile", "Name=swarmkeeper",
            "--key-name", "ops", "--user-data", "#cloud-config\n",
            "--metadata-options", "HttpTokens=required,HttpPutResponseHopLimit=1",
            "--tag-specifications",
            "ResourceType=instance,Tags=[{Key=cluster,Value=c1},"
            "{Key=logical-id,Value=10.0.1.10}]",
            "ResourceType=volume,Tags=[{Key=cluster,Value=c1}]")
        self.assertTrue(out["ReservationId"].startswith("r-"))
        self.assertEqual(out["OwnerId"], "123456789012")
        (i,) = out["Instances"]
        iid = i["InstanceId"]
        self.assertRegex(iid, r"^i-[0-9a-f]{17}$")
        self.assertEqual(i["State"], {"Code": 0, "Name": "pending"})
        self.assertEqual(i["PrivateIpAddress"], "10.0.1.10")
        self.assertEqual(i["Placement"]["AvailabilityZone"], "us-east-1a")
        self.assertEqual(i["SubnetId"], "subnet-aaaaaaaa")
        self.assertEqual(i["InstanceType"], "t3.small")
        self.assertEqual(i["KeyName"], "ops")
        self.assertEqual(i["SecurityGroups"][0]["GroupId"], "sg-12345678")
        self.assertEqual(i["IamInstanceProfile"]["Arn"],
                         "arn:aws:iam::123456789012:instance-profile/"
                         "swarmkeeper")
        self.assertEqual(i["MetadataOptions"]["HttpTokens"], "required")
        self.assertEqual(i["MetadataOptions"]["HttpPutResponseHopLimit"], 1)
        self.assertEqual({t["Key"]: t["Value"] for t in i["Tags"]},
                         {"cluster": "c1", "logical-id": "10.0.1.10"})
        # UserData reached the fake base64-encoded and is redacted in the log.
        (call,) = self.calls("RunInstances")
        self.assertIn("redacted", call["params"]["UserData"])
        self.assertEqual(call["access_key"], AKID)
        dumped = self.fake.ctl("GET", "state")["instances"][0]
        self.assertEqual(base64.b64decode(dumped["user_data"]),
                         b"#cloud-config\n")

        self.assertEqual(self.instance(iid)["State"]["Name"], "pending")
        self.advance()
        (i,) = self.instances("--instance-ids", iid)
        self.assertEqual(i["State"], {"Code": 16, "Name": "running"})
        self.assertEqual(i["PrivateDnsName"], "ip-10-0-1-10.ec2.internal")
        # A root volume: /dev/xvda, deleted on termination, tagged by the
        # 'volume' TagSpecification.
        ((dev, root, dot),) = [(b["DeviceName"], b["Ebs"]["VolumeId"],
                                b["Ebs"]["DeleteOnTermination"])
                               for b in i["BlockDeviceMappings"]]
        self.assertEqual((dev, dot), ("/dev/xvda", True))
        (v,) = self.aws("describe-volumes", "--filters",
                        "Name=attachment.instance-id,Values=" + iid)["Volumes"]
        self.assertEqual((v["VolumeId"], v["State"], v["Tags"],
                          v["Attachments"][0]["Device"],
                          v["Attachments"][0]["DeleteOnTermination"]),
                         (root, "in-use", [{"Key": "cluster", "Value": "c1"}],
                          "/dev/xvda", True))
        self.api_fails("IncorrectState", "detach_volume", VolumeId=root,
                       message="Unable to detach root volume")

        out = self.aws("terminate-instances", "--instance-ids", iid)
        self.assertEqual(out["TerminatingInstances"], [{
            "InstanceId": iid,
            "CurrentState": {"Code": 32, "Name": "shutting-down"},
            "PreviousState": {"Code": 16, "Name": "running"}}])
        i = self.instance(iid)
        self.assertEqual(i["State"]["Name"], "shutting-down")
        self.assertEqual(i["StateReason"]["Code"],
                         "Client.UserInitiatedShutdown")
        # The address is held until the old instance is terminated.
        self.aws_fails("InvalidIPAddress.InUse", "run-instances",
                       "--image-id", "ami-12345678",
                       "--private-ip-address", "10.0.1.10",
                       message="Address 10.0.1.10 is in use.")
        self.advance()
        # Terminated: no address and no name any more (as in EC2), no root
        # volume; not found by its old address.
        i = self.instance(iid)
        self.assertEqual(i["State"], {"Code": 48, "Name": "terminated"})
        self.assertNotIn("PrivateIpAddress", i)
        self.assertEqual(i["PrivateDnsName"], "")
        self.assertEqual(i["BlockDeviceMappings"], [])
        self.api_fails("InvalidVolume.NotFound", "describe_volumes",
                       VolumeIds=[root])
        self.assertEqual(self.instances(
            "--filters", "Name=private-ip-address,Values=10.0.1.10"), [])
        # Terminating again is allowed: terminated -> terminated.
        out = self.api("terminate_instances", InstanceIds=[iid])
        self.assertEqual(out["TerminatingInstances"][0]["PreviousState"]
                         ["Name"], "terminated")
        # The address is still held for --ip-release-delay seconds...
        self.advance(IP_RELEASE - 100)
        self.aws_fails("InvalidIPAddress.InUse", "run-instances",
                       "--image-id", "ami-12345678",
                       "--private-ip-address", "10.0.1.10")
        # ...then it is free.
        self.advance(100)
        out = self.aws("run-instances", "--image-id", "ami-12345678",
                       "--private-ip-address", "10.0.1.10")
        new = out["Instances"][0]["InstanceId"]
        self.assertNotEqual(new, iid)
        self.assertEqual(out["Instances"][0]["SubnetId"], "subnet-aaaaaaaa")
        # Both are listed, the terminated one until the TTL runs out.
        self.assertEqual(self.all_ids(), [iid, new])
        self.advance(5 * LONG)
        self.assertEqual(self.all_ids(), [new])
        self.aws_fails("InvalidInstanceID.NotFound", "describe-instances",
                       "--instance-ids", iid,
                       message="The instance ID '%s' does not exist" % iid)

    def test_client_token_idempotency(self):
        token = "c1-10.0.1.11-i-0123456789abcdef0"
        args = ["run-instances", "--image-id", "ami-12345678",
                "--private-ip-address", "10.0.1.11", "--client-token", token]
        first = self.aws(*args)["Instances"][0]
        again = self.aws(*args)["Instances"][0]
        self.assertEqual(again["InstanceId"], first["InstanceId"])
        self.assertEqual(again["ClientToken"], token)
        self.assertEqual(len(self.fake.ctl("GET", "state")["instances"]), 1)
        # After it terminated: IdempotentInstanceTerminated, no new launch.
        self.api("terminate_instances", InstanceIds=[first["InstanceId"]])
        self.advance()
        self.aws_fails("IdempotentInstanceTerminated", *args,
                       message="associated with a terminated instance")
        self.assertEqual(len(self.fake.ctl("GET", "state")["instances"]), 1)
        # Same token, different parameters.
        self.aws_fails("IdempotentParameterMismatch", *args,
                       "--instance-type", "t3.large")
        self.api_fails("InvalidParameterValue", "run_instances",
                       ImageId="ami-12345678", MinCount=1, MaxCount=1,
                       ClientToken="x" * 65)
        # A failed launch does not consume its token.
        blocker = self.seed(private_ip="10.0.1.12")["id"]
        kw = dict(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                  PrivateIpAddress="10.0.1.12", ClientToken="t2")
        self.api_fails("InvalidIPAddress.InUse", "run_instances", **kw)
        self.fake.ctl("POST", "instances/" + blocker, {"state": "terminated"})
        self.advance(IP_RELEASE)
        out = self.api("run_instances", **kw)
        self.assertEqual(out["Instances"][0]["PrivateIpAddress"], "10.0.1.12")
        # Zonal idempotency: with a subnet (or zone) the token is per zone,
        # so the same token launches again in another zone.
        zonal = ["run-instances", "--image-id", "ami-12345678",
                 "--client-token", "z1", "--subnet-id"]
        a = self.aws(*zonal, "subnet-aaaaaaaa")["Instances"][0]
        b = self.api("run_instances", ImageId="ami-12345678", MinCount=1,
                     MaxCount=1, ClientToken="z1",
                     SubnetId="subnet-bbbbbbbb")["Instances"][0]
        self.assertNotEqual(a["InstanceId"], b["InstanceId"])
        self.assertEqual(b["Placement"]["AvailabilityZone"], "us-east-1b")
        again = self.api("run_instances", ImageId="ami-12345678", MinCount=1,
                         MaxCount=1, ClientToken="z1",
                         Placement={"AvailabilityZone": "us-east-1a"})
        self.assertEqual(again["Instances"][0]["InstanceId"], a["InstanceId"])

    def test_client_token_listed_and_remembered_after_listing(self):
        """DescribeInstances returns each instance's clientToken (empty
        without one); after the instance left the listings (terminated
        TTL) its token still refuses a launch (EC2: a token is valid for at
        least 24 hours after the instance terminated)."""
        token = "c1-m-10.0.1.17-g1"
        out = self.aws("run-instances", "--image-id", "ami-12345678",
                       "--private-ip-address", "10.0.1.17",
                       "--client-token", token)
        iid = out["Instances"][0]["InstanceId"]
        (i,) = self.instances("--filters", "Name=client-token,Values=" + token)
        self.assertEqual((i["InstanceId"], i["ClientToken"]), (iid, token))
        # Without a ClientToken (the SDKs fill one in: a raw request).
        status, body = self.signed({"Action": "RunInstances",
                                    "Version": "2016-11-15",
                                    "ImageId": "ami-12345678",
                                    "MinCount": "1", "MaxCount": "1"})
        self.assertEqual(status, 200, body)
        bare = ET.fromstring(body).find(
            ".//{%s}instanceId" % "http://ec2.amazonaws.com/doc/2016-11-15/"
        ).text
        self.assertEqual(self.instance(bare).get("ClientToken", ""), "")
        # The state log carries the token and how the address was given.
        recs = self.state_records()
        first = {r["instance"]: r for r in reversed(recs)
                 if r.get("kind") == "instance"}
        self.assertEqual((first[iid]["client_token"], first[iid]["ip_auto"]),
                         (token, False))
        self.assertEqual((first[bare]["client_token"], first[bare]["ip_auto"],
                          first[bare]["iam_instance_profile"]),
                         ("", True, None))
        self.api("terminate_instances", InstanceIds=[iid])
        self.advance()  # terminated
        self.advance(5 * LONG + 1)  # past --terminated-ttl: not listed
        self.assertNotIn(iid, self.all_ids())
        self.aws_fails("InvalidInstanceID.NotFound", "describe-instances",
                       "--instance-ids", iid)
        self.assertEqual(self.instances(
            "--filters", "Name=client-token,Values=" + token), [])
        self.aws_fails("IdempotentInstanceTerminated", "run-instances",
                       "--image-id", "ami-12345678",
                       "--private-ip-address", "10.0.1.17",
                       "--client-token", token)
        self.advance(24 * 3600)
        self.aws_fails("IdempotentInstanceTerminated", "run-instances",
                       "--image-id", "ami-12345678",
                       "--private-ip-address", "10.0.1.17",
                       "--client-token", token)
        self.assertNotIn("10.0.1.17", [
            i["private_ip"] for i in self.fake.ctl("GET", "state")
            ["instances"]])

    def test_shutdown_delay_stuck_and_ip_release(self):
        slow = self.seed(private_ip="10.0.1.13")["id"]
        quick = self.seed(private_ip="10.0.1.14")["id"]
        stuck = self.seed(private_ip="10.0.1.15")["id"]
        self.fake.ctl("POST", "instances/" + quick, {"shutdown_delay": 5})
        self.fake.ctl("POST", "instances/" + stuck, {"stuck": True})
        # Address 10.0.1.14 stays held 2 * LONG s after its instance
        # terminated.
        self.fake.ctl("POST", "ip-release", {"ip": "10.0.1.14",
                                             "delay": 2 * LONG})
        self.aws("terminate-instances", "--instance-ids", slow, quick, stuck)
        self.advance(6)
        self.assertEqual([self.instance(i)["State"]["Name"]
                          for i in (slow, quick, stuck)],
                         ["shutting-down", "terminated", "shutting-down"])
        self.advance()
        self.assertEqual([self.instance(i)["State"]["Name"]
                          for i in (slow, stuck)],
                         ["terminated", "shutting-down"])  # stuck for good
        self.fake.ctl("POST", "instances/" + stuck, {"stuck": False})
        self.assertEqual(self.instance(stuck)["State"]["Name"], "terminated")
        run = ["run-instances", "--image-id", "ami-12345678",
               "--private-ip-address"]
        # the released one terminated when released, not when its delay had
        # ended: its address is held the release delay from then
        self.advance(IP_RELEASE - 3)
        self.aws_fails("InvalidIPAddress.InUse", *run, "10.0.1.15")
        self.advance(3)
        self.aws(*run, "10.0.1.15")
        # 10.0.1.13 is free (default delay); 10.0.1.14 is not, yet.
        self.advance(IP_RELEASE)
        self.aws(*run, "10.0.1.13")
        self.aws_fails("InvalidIPAddress.InUse", *run, "10.0.1.14")
        self.advance(2 * LONG)
        self.api("run_instances", ImageId="ami-12345678", MinCount=1,
                 MaxCount=1, PrivateIpAddress="10.0.1.14")

    def test_eventual_consistency(self):
        self.fake.ctl("POST", "consistency", {"listing_lag": 200,
                                              "id_lag": 100})
        old = self.seed(private_ip="10.0.1.16")["id"]  # seeds are settled
        new = self.api("run_instances", ImageId="ami-12345678", MinCount=1,
                       MaxCount=1)["Instances"][0]["InstanceId"]
        self.assertEqual([i["InstanceId"] for i in self.instances()], [old])
        self.aws_fails("InvalidInstanceID.NotFound", "describe-instances",
                       "--instance-ids", new)
        self.api_fails("InvalidInstanceID.NotFound", "create_tags",
                       Resources=[new], Tags=[{"Key": "a", "Value": "b"}])
        self.advance(100)
        self.assertEqual(self.instance(new)["State"]["Name"], "pending")
        self.assertEqual(self.all_ids(), [old])
        self.advance(100)
        self.assertEqual(self.all_ids(), [old, new])

    def test_describe_subnets(self):
        self.fake.ctl("POST", "subnets", {"id": "subnet-0e0e0e0e",
                                          "az": "us-east-1b",
                                          "cidr": "10.0.20.0/24",
                                          "tags": {"Name": "managers-b"}})
        self.seed(private_ip="10.0.20.9")
        out = self.aws("describe-subnets", "--filters",
                       "Name=availability-zone,Values=us-east-1b")
        self.assertEqual([(s["SubnetId"], s["CidrBlock"], s["VpcId"],
                           s["AvailabilityZone"], s["State"])
                          for s in out["Subnets"]],
                         [("subnet-0e0e0e0e", "10.0.20.0/24", "vpc-0a1b2c3d",
                           "us-east-1b", "available"),
                          ("subnet-bbbbbbbb", "10.0.2.0/24", "vpc-0a1b2c3d",
                           "us-east-1b", "available")])
        self.assertEqual(out["Subnets"][0]["Tags"],
                         [{"Key": "Name", "Value": "managers-b"}])
        self.assertEqual(out["Subnets"][0]["AvailableIpAddressCount"], 250)
        ids = lambda **kw: [s["SubnetId"] for s in self.api(
            "describe_subnets", **kw)["Subnets"]]
        self.assertEqual(ids(Filters=[{"Name": "tag:Name",
                                       "Values": ["managers-*"]}]),
                         ["subnet-0e0e0e0e"])
        self.assertEqual(ids(Filters=[{"Name": "cidr-block",
                                       "Values": ["10.0.3.0/24"]}]),
                         ["subnet-cccccccc"])
        self.assertEqual(ids(SubnetIds=["subnet-aaaaaaaa"]),
                         ["subnet-aaaaaaaa"])
        self.assertEqual(len(ids(Filters=[{"Name": "vpc-id",
                                           "Values": ["vpc-0a1b2c3d"]}])), 4)
        self.api_fails("InvalidSubnetID.NotFound", "describe_subnets",
                       SubnetIds=["subnet-0123456789abcdef0"])

    def test_run_instances_validation_and_placement(self):
        run = dict(ImageId="ami-12345678", MinCount=1, MaxCount=1)
        self.api_fails("InvalidParameterValue", "run_instances", **run,
                       SubnetId="subnet-aaaaaaaa",
                       PrivateIpAddress="10.0.2.10")
        self.api_fails("InvalidParameterValue", "run_instances", **run,
                       PrivateIpAddress="10.0.1.1")  # reserved by AWS
        self.api_fails("InvalidParameterValue", "run_instances", **run,
                       PrivateIpAddress="192.168.7.7")
        self.api_fails("MissingParameter", "run_instances", MinCount=1,
                       MaxCount=1, message="ImageId")
        self.api_fails("InvalidAMIID.Malformed", "run_instances",
                       ImageId="bogus", MinCount=1, MaxCount=1)
        self.api_fails("InvalidSubnetID.NotFound", "run_instances", **run,
                       SubnetId="subnet-deadbeef")
        self.api_fails("InvalidParameterCombination", "run_instances",
                       ImageId="ami-12345678", MinCount=2, MaxCount=2,
                       PrivateIpAddress="10.0.1.40")
        self.api_fails("InvalidParameterValue", "run_instances", **run,
                       Placement={"AvailabilityZone": "us-east-1z"})
        self.api_fails("InvalidParameterValue", "run_instances", **run,
                       MetadataOptions={"HttpPutResponseHopLimit": 65})
        self.api_fails("DryRunOperation", "run_instances", **run, DryRun=True)
        # Instance profiles must exist.
        self.aws_fails("InvalidParameterValue", "run-instances",
                       "--image-id", "ami-12345678", "--iam-instance-profile",
                       "Name=no-such-profile",
                       message="Invalid IAM Instance Profile name")
        self.api_fails("InvalidParameterValue", "run_instances", **run,
                       IamInstanceProfile={
                           "Arn": "arn:aws:iam::123456789012:"
                                  "instance-profile/nope"},
                       message="Invalid IAM Instance Profile ARN")
        # A misspelt (or any unknown) parameter is refused, not ignored; the
        # CLI validates its input, so sign a raw request.
        status, body = self.signed({
            "Action": "RunInstances", "Version": "2016-11-15",
            "ImageId": "ami-12345678", "MinCount": "1", "MaxCount": "1",
            "PrivateIPAddress": "10.0.1.99"})
        self.assertEqual((status, xml_error(body)), (400, (
            "UnknownParameter",
            "The parameter PrivateIPAddress is not recognized")))
        status, body = self.signed({
            "Action": "DescribeInstances", "Version": "2016-11-15",
            "Filter.1.Name": "tag:a", "Filter.1.Values.1": "b"})
        self.assertEqual(xml_error(body)[0], "UnknownParameter")
        self.assertEqual(self.fake.ctl("GET", "state")["instances"], [])
        # Automatic addresses, from the top of the subnet down.
        out = self.api("run_instances", ImageId="ami-12345678", MinCount=2,
                       MaxCount=2)
        self.assertEqual([i["PrivateIpAddress"] for i in out["Instances"]],
                         ["10.0.1.254", "10.0.1.253"])
        self.assertEqual([i["AmiLaunchIndex"] for i in out["Instances"]],
                         [0, 1])
        out = self.api("run_instances", **run,
                       Placement={"AvailabilityZone": "us-east-1b"})
        (i,) = out["Instances"]
        self.assertEqual(i["SubnetId"], "subnet-bbbbbbbb")
        self.assertEqual(i["PrivateIpAddress"], "10.0.2.254")
        self.assertEqual(i["MetadataOptions"]["HttpTokens"], "optional")
        # Subnets are configurable.
        self.fake.ctl("POST", "subnets", {"id": "subnet-0d0d0d0d",
                                          "az": "us-east-1d",
                                          "cidr": "10.9.0.0/28"})
        out = self.api("run_instances", **run, PrivateIpAddress="10.9.0.5")
        self.assertEqual(out["Instances"][0]["Placement"]["AvailabilityZone"],
                         "us-east-1d")
        # Launch templates are accepted and tag the instance like EC2 does.
        out = self.aws("run-instances", "--launch-template",
                       "LaunchTemplateId=lt-0123456789abcdef0,Version=3")
        tags = {t["Key"]: t["Value"] for t in out["Instances"][0]["Tags"]}
        self.assertEqual(tags, {"aws:ec2launchtemplate:id":
                                "lt-0123456789abcdef0",
                                "aws:ec2launchtemplate:version": "3"})

    def test_describe_filters(self):
        a = self.seed(private_ip="10.0.1.20", tags={"cluster": "c1",
                                                    "role": "manager"})["id"]
        b = self.seed(private_ip="10.0.2.21", tags={"cluster": "c1",
                                                    "role": "worker"})["id"]
        c = self.seed(private_ip="10.0.3.22", state="stopped",
                      tags={"cluster": "c2"})["id"]
        d = self.seed(private_ip="10.0.1.23", state="terminated")["id"]

        def cli(*filters):
            return {i["InstanceId"] for i in
                    self.instances("--filters", *filters)}

        def api(**filters):
            return set(self.all_ids(Filters=[
                {"Name": k.replace("_", "-").replace("tag-", "tag:", 1)
                 if k.startswith("tag_") and k != "tag_key" else
                 k.replace("_", "-"), "Values": v}
                for k, v in filters.items()]))
        self.assertEqual(cli("Name=tag:cluster,Values=c1"), {a, b})
        self.assertEqual(cli("Name=tag:cluster,Values=c1",
                             "Name=tag:role,Values=manager"), {a})
        self.assertEqual(cli("Name=instance-state-name,"
                             "Values=stopped,terminated"), {c, d})
        self.assertEqual(api(tag_role=["man*"]), {a})
        self.assertEqual(api(tag_key=["role"]), {a, b})
        self.assertEqual(api(private_ip_address=["10.0.2.21"]), {b})
        self.assertEqual(api(availability_zone=["us-east-1a"]), {a, d})
        self.assertEqual(api(instance_id=[a, c]), {a, c})
        self.assertEqual(api(tag_cluster=["nope"]), set())
        self.api_fails("InvalidParameterValue", "describe_instances",
                       Filters=[{"Name": "frobnicate", "Values": ["x"]}],
                       message="The filter 'frobnicate' is invalid")
        self.aws_fails("InvalidInstanceID.NotFound", "describe-instances",
                       "--instance-ids", a, "i-0123456789abcdef0",
                       message="i-0123456789abcdef0")
        self.api_fails("InvalidInstanceID.Malformed", "describe_instances",
                       InstanceIds=["i-xyz"])
        self.assertEqual(self.instance(c)["State"],
                         {"Code": 80, "Name": "stopped"})

    def test_describe_pagination(self):
        seeded = [self.seed(private_ip="10.0.1.%d" % (100 + n),
                            tags={"n": str(n)})["id"] for n in range(12)]
        self.fake.ctl("DELETE", "calls")

        def ids(out):
            return [i["InstanceId"] for r in out["Reservations"]
                    for i in r["Instances"]]
        # The CLI's own pagination: 3 pages of MaxResults=5.
        self.assertEqual(ids(self.aws("describe-instances", "--page-size",
                                      "5")), seeded)
        calls = self.calls("DescribeInstances")
        self.assertEqual([c["params"].get("MaxResults") for c in calls],
                         ["5", "5", "5"])
        self.assertNotIn("NextToken", calls[0]["params"])
        self.assertIn("NextToken", calls[1]["params"])
        # Manual pagination with --max-results and --next-token.
        out = self.aws("describe-instances", "--max-results", "5")
        self.assertEqual(ids(out), seeded[:5])
        out = self.aws("describe-instances", "--max-results", "5",
                       "--next-token", out["NextToken"])
        self.assertEqual(ids(out), seeded[5:10])
        out = self.api("describe_instances", MaxResults=5,
                       NextToken=out["NextToken"])
        self.assertEqual(ids(out), seeded[10:])
        self.assertNotIn("NextToken", out)
        # --max-items / --starting-token (CLI tokens wrapping ours).
        out = self.aws("describe-instances", "--max-items", "7",
                       "--page-size", "5")
        self.assertEqual(ids(out), seeded[:7])
        out = self.aws("describe-instances", "--page-size", "5",
                       "--starting-token", out["NextToken"])
        self.assertEqual(ids(out), seeded[7:])
        # Filters apply before pagination.
        out = self.api("describe_instances", MaxResults=5, Filters=[
            {"Name": "tag:n", "Values": ["1*"]}])
        self.assertEqual(ids(out), [seeded[1], seeded[10], seeded[11]])
        self.aws_fails("InvalidParameterValue", "describe-instances",
                       "--max-results", "4")
        self.api_fails("InvalidParameterValue", "describe_instances",
                       MaxResults=1001)
        self.api_fails("InvalidParameterCombination", "describe_instances",
                       MaxResults=5, InstanceIds=[seeded[0]])
        self.api_fails("InvalidPaginationToken", "describe_instances",
                       MaxResults=5, NextToken="garbage")
        # Short pages, as EC2 may answer (filters): an empty first page with a
        # token, pages of 2 for MaxResults=5, a token after the last item.
        self.fake.ctl("POST", "pagination", {"short": True})
        self.fake.ctl("DELETE", "calls")
        self.assertEqual(ids(self.aws("describe-instances", "--page-size",
                                      "5")), seeded)
        self.assertEqual(len(self.calls("DescribeInstances")), 8)
        out = self.api("describe_instances", MaxResults=5)
        self.assertEqual((ids(out), bool(out.get("NextToken"))), ([], True))
        out = self.api("describe_instances", MaxResults=5,
                       NextToken=out["NextToken"])
        self.assertEqual(ids(out), seeded[:2])


class TestReservations(Base):
    def test_subnet_cidr_reservations(self):
        sub = "subnet-aaaaaaaa"
        out = self.aws("create-subnet-cidr-reservation", "--subnet-id", sub,
                       "--cidr", "10.0.1.240/28", "--reservation-type",
                       "explicit", "--description", "managers",
                       "--tag-specifications",
                       "ResourceType=subnet-cidr-reservation,"
                       "Tags=[{Key=swarmkeeper:cluster,Value=c1}]")
        r = out["SubnetCidrReservation"]
        self.assertRegex(r["SubnetCidrReservationId"], r"^scr-[0-9a-f]{17}$")
        self.assertEqual((r["SubnetId"], r["Cidr"], r["ReservationType"],
                          r["OwnerId"], r["Description"], r["Tags"]),
                         (sub, "10.0.1.240/28", "explicit", "123456789012",
                          "managers",
                          [{"Key": "swarmkeeper:cluster", "Value": "c1"}]))
        explicit = r["SubnetCidrReservationId"]
        prefix = self.api("create_subnet_cidr_reservation", SubnetId=sub,
                          Cidr="10.0.1.224/28", ReservationType="prefix")[
                              "SubnetCidrReservation"]["SubnetCidrReservationId"]
        listed = self.aws("get-subnet-cidr-reservations", "--subnet-id", sub)
        self.assertEqual([(x["SubnetCidrReservationId"], x["Cidr"],
                           x["ReservationType"])
                          for x in listed["SubnetIpv4CidrReservations"]],
                         [(explicit, "10.0.1.240/28", "explicit"),
                          (prefix, "10.0.1.224/28", "prefix")])
        self.assertEqual(listed["SubnetIpv6CidrReservations"], [])
        only = self.aws("get-subnet-cidr-reservations", "--subnet-id", sub,
                        "--filters", "Name=reservationType,Values=explicit")
        self.assertEqual([x["SubnetCidrReservationId"] for x in
                          only["SubnetIpv4CidrReservations"]], [explicit])
        self.assertEqual(self.aws("get-subnet-cidr-reservations",
                                  "--subnet-id", "subnet-bbbbbbbb")
                         ["SubnetIpv4CidrReservations"], [])
        # Refused: overlapping, outside the subnet, unknown subnet or type.
        self.aws_fails("InvalidParameterValue",
                       "create-subnet-cidr-reservation", "--subnet-id", sub,
                       "--cidr", "10.0.1.248/29", "--reservation-type",
                       "explicit")
        self.api_fails("InvalidParameterValue",
                       "create_subnet_cidr_reservation", SubnetId=sub,
                       Cidr="10.0.2.0/28", ReservationType="explicit")
        self.api_fails("InvalidParameterValue",
                       "create_subnet_cidr_reservation", SubnetId=sub,
                       Cidr="10.0.1.0/28", ReservationType="bogus")
        self.api_fails("InvalidSubnetID.NotFound",
                       "create_subnet_cidr_reservation",
                       SubnetId="subnet-0f0f0f0f", Cidr="10.0.1.0/28",
                       ReservationType="explicit")
        self.api_fails("InvalidSubnetID.NotFound",
                       "get_subnet_cidr_reservations",
                       SubnetId="subnet-0f0f0f0f")
        # Automatic addresses skip both reservations (the fake assigns from
        # the top of the subnet down: .254 without them) ...
        run = ["run-instances", "--image-id", "ami-12345678", "--subnet-id",
               sub]
        auto = self.aws(*run)["Instances"][0]
        self.assertEqual(auto["PrivateIpAddress"], "10.0.1.223")
        # ... and seeds without an address too; a named address inside an
        # explicit reservation is what the reservation is for.
        self.assertEqual(self.seed(subnet=sub)["private_ip"], "10.0.1.222")
        named = self.aws(*run, "--private-ip-address", "10.0.1.250")[
            "Instances"][0]
        self.assertEqual(named["PrivateIpAddress"], "10.0.1.250")
        # Deleting a reservation leaves assigned addresses alone and frees
        # the rest for automatic assignment.
        out = self.aws("delete-subnet-cidr-reservation",
                       "--subnet-cidr-reservation-id", explicit)
        self.assertEqual(out["DeletedSubnetCidrReservation"]
                         ["SubnetCidrReservationId"], explicit)
        self.assertEqual(self.instance(named["InstanceId"])
                         ["PrivateIpAddress"], "10.0.1.250")
        self.assertEqual(self.aws(*run)["Instances"][0]["PrivateIpAddress"],
                         "10.0.1.254")
        self.aws_fails("InvalidSubnetCidrReservationID.NotFound",
                       "delete-subnet-cidr-reservation",
                       "--subnet-cidr-reservation-id", explicit)
        # The state log records reservations and the checker accepts it.
        recs = self.state_records()
        self.assertEqual([(r["event"], r["reservation"], r["cidr"], r["type"])
                          for r in recs if r.get("kind") == "reservation"],
                         [("subnet-cidr-reservation-created", explicit,
                           "10.0.1.240/28", "explicit"),
                          ("subnet-cidr-reservation-created", prefix,
                           "10.0.1.224/28", "prefix"),
                          ("subnet-cidr-reservation-deleted", explicit,
                           "10.0.1.240/28", "explicit")])
        p = self.check_own_invariants()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_seeded_reservations(self):
        """Tests seed reservations (in seeded subnets, whose ids need not
        look like EC2's) through the control API."""
        self.fake.ctl("POST", "subnets", {"id": "subnet-0b1d9e",
                                          "az": "us-east-1a",
                                          "cidr": "10.99.0.0/24"})
        r = self.fake.ctl("POST", "cidr-reservations", {
            "subnet": "subnet-0b1d9e", "cidr": "10.99.0.128/25"})
        self.assertEqual((r["type"], r["cidr"]), ("explicit", "10.99.0.128/25"))
        self.assertEqual(self.fake.ctl("GET", "state")["cidr_reservations"],
                         [r])
        status, _, body = self.fake.http(
            "POST", "/_fake/cidr-reservations", json.dumps(
                {"subnet": "subnet-0b1d9e", "cidr": "10.99.0.192/26"}).encode())
        self.assertEqual(status, 400, body)  # overlaps
        out = self.api("run_instances", ImageId="ami-12345678", MinCount=2,
                       MaxCount=2, SubnetId="subnet-0b1d9e")
        self.assertEqual([i["PrivateIpAddress"] for i in out["Instances"]],
                         ["10.99.0.127", "10.99.0.126"])
        self.assertEqual(self.fake.ctl("DELETE", "cidr-reservations/" +
                                       r["id"])["id"], r["id"])
        self.assertEqual(self.fake.ctl("GET", "cidr-reservations"), [])
        self.assertEqual(self.api("run_instances", ImageId="ami-12345678",
                                  MinCount=1, MaxCount=1,
                                  SubnetId="subnet-0b1d9e")["Instances"][0]
                         ["PrivateIpAddress"], "10.99.0.254")

    def test_invariant_automatic_address_in_reservation(self):
        """The checker names an automatic address inside a reservation (a
        hand-written log: the fake itself never assigns one)."""
        bad = os.path.join(self.tmp, "scr.log")
        with open(bad, "w") as f:
            for rec in ({"event": "subnet-cidr-reservation-created",
                         "kind": "reservation", "reservation": "scr-1",
                         "subnet": "subnet-1", "cidr": "10.0.1.240/28",
                         "type": "explicit", "active": True},
                        {"event": "instance-pending", "kind": "instance",
                         "instance": "i-1", "state": "pending",
                         "private_ip": "10.0.1.250", "ip_auto": False},
                        {"event": "instance-pending", "kind": "instance",
                         "instance": "i-2", "state": "pending",
                         "private_ip": "10.0.1.251", "ip_auto": True}):
                f.write(json.dumps(rec) + "\n")
        p = self.check_invariants(bad)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("i-2", p.stdout)
        self.assertNotIn("i-1", p.stdout)


class TestVolumes(Base):
    def test_volume_deleted_by_control(self):
        """DELETE /_fake/volumes/ID: gone from DescribeVolumes; not while
        attached."""
        inst = self.seed(private_ip="10.0.1.40")["id"]
        vol = self.fake.ctl("POST", "volumes", {"az": "us-east-1a", "size": 5,
                                                "attached_to": inst})["id"]
        status, _, _ = self.fake.http("DELETE", "/_fake/volumes/" + vol)
        self.assertEqual(status, 400)
        self.assertEqual(self.volume(vol)["State"], "in-use")
        free = self.fake.ctl("POST", "volumes", {"az": "us-east-1a",
                                                 "size": 5})["id"]
        self.assertEqual(self.fake.ctl("DELETE", "volumes/" + free),
                         {"deleted": free})
        self.api_fails("InvalidVolume.NotFound", "describe_volumes",
                       VolumeIds=[free])
        status, _, _ = self.fake.http("DELETE", "/_fake/volumes/" + free)
        self.assertEqual(status, 400)

    def test_volume_lifecycle(self):
        inst = self.seed(private_ip="10.0.1.30")["id"]
        other = self.seed(private_ip="10.0.1.31")["id"]
        out = self.aws("create-volume", "--availability-zone", "us-east-1a",
                       "--size", "10", "--volume-type", "gp3",
                       "--tag-specifications",
                       "ResourceType=volume,Tags=[{Key=cluster,Value=c1},"
                       "{Key=logical-id,Value=10.0.1.30}]")
        vol = out["VolumeId"]
        self.assertRegex(vol, r"^vol-[0-9a-f]{17}$")
        self.assertEqual((out["State"], out["Size"], out["VolumeType"],
                          out["Iops"], out["AvailabilityZone"]),
                         ("creating", 10, "gp3", 3000, "us-east-1a"))
        # Attaching a volume that is still being created fails.
        self.api_fails("IncorrectState", "attach_volume", VolumeId=vol,
                       InstanceId=inst, Device="/dev/sdf")
        self.advance()
        (v,) = self.aws("describe-volumes", "--volume-ids", vol)["Volumes"]
        self.assertEqual((v["State"], v["Attachments"]), ("available", []))
        self.assertEqual({t["Key"]: t["Value"] for t in v["Tags"]},
                         {"cluster": "c1", "logical-id": "10.0.1.30"})

        out = self.aws("attach-volume", "--volume-id", vol, "--instance-id",
                       inst, "--device", "/dev/sdf")
        self.assertEqual((out["State"], out["InstanceId"], out["Device"],
                          out["VolumeId"]),
                         ("attaching", inst, "/dev/sdf", vol))
        v = self.volume(vol)
        self.assertEqual((v["State"], v["Attachments"][0]["State"]),
                         ("in-use", "attaching"))
        self.aws_fails("VolumeInUse", "attach-volume", "--volume-id", vol,
                       "--instance-id", other, "--device", "/dev/sdg",
                       message="%s is already attached to an instance" % vol)
        self.advance()
        v = self.volume(vol)
        self.assertEqual((v["Attachments"][0]["State"],
                          v["Attachments"][0]["InstanceId"]),
                         ("attached", inst))
        bdm = self.instance(inst)["BlockDeviceMappings"]
        self.assertEqual([(b["DeviceName"], b["Ebs"]["VolumeId"],
                           b["Ebs"]["Status"]) for b in bdm],
                         [("/dev/sdf", vol, "attached")])

        # A second volume cannot take the same attachment point.
        vol2 = self.fake.ctl("POST", "volumes", {"az": "us-east-1a",
                                                 "size": 5})["id"]
        self.api_fails("InvalidParameterValue", "attach_volume",
                       VolumeId=vol2, InstanceId=inst, Device="/dev/xvdf",
                       message="already in use")
        self.api_fails("InvalidParameterValue", "attach_volume",
                       VolumeId=vol2, InstanceId=inst, Device="sdf")
        # Other zone.
        far = self.api("create_volume", AvailabilityZone="us-east-1b",
                       Size=10)["VolumeId"]
        self.advance()
        self.aws_fails("InvalidVolume.ZoneMismatch", "attach-volume",
                       "--volume-id", far, "--instance-id", inst,
                       "--device", "/dev/sdg")
        # Instance not running yet.
        pending = self.seed(private_ip="10.0.1.32", state="pending")["id"]
        self.aws_fails("IncorrectState", "attach-volume", "--volume-id", vol2,
                       "--instance-id", pending, "--device", "/dev/sdg",
                       message="Instance '%s' is not 'running'." % pending)

        # Filters.
        def vids(**filters):
            return {v["VolumeId"] for v in self.api(
                "describe_volumes", Filters=[
                    {"Name": k, "Values": v} for k, v in filters.items()])[
                "Volumes"]}
        self.assertEqual({v["VolumeId"] for v in self.aws(
            "describe-volumes", "--filters", "Name=tag:cluster,Values=c1",
            "Name=status,Values=in-use")["Volumes"]}, {vol})
        self.assertEqual(vids(status=["available"]), {vol2, far})
        self.assertEqual(vids(**{"attachment.instance-id": [inst]}), {vol})
        self.assertEqual(vids(**{"availability-zone": ["us-east-1b"]}), {far})
        self.assertEqual(vids(**{"volume-id": [vol2]}), {vol2})
        self.assertEqual(vids(**{"tag-key": ["logical-id"]}), {vol})

        out = self.aws("detach-volume", "--volume-id", vol)
        self.assertEqual((out["State"], out["InstanceId"]),
                         ("detaching", inst))
        self.assertEqual(self.volume(vol)["Attachments"][0]["State"],
                         "detaching")
        self.advance()
        v = self.volume(vol)
        self.assertEqual((v["State"], v["Attachments"]), ("available", []))
        self.api_fails("IncorrectState", "detach_volume", VolumeId=vol)
        self.api_fails("InvalidVolume.NotFound", "describe_volumes",
                       VolumeIds=["vol-0123456789abcdef0"])
        self.api_fails("InvalidVolumeID.Malformed", "describe_volumes",
                       VolumeIds=["vol-zz"])
        self.api_fails("MissingParameter", "create_volume",
                       AvailabilityZone="us-east-1a")
        self.api_fails("InvalidParameterValue", "create_volume",
                       AvailabilityZone="us-east-1z", Size=1)
        self.api_fails("InvalidParameterValue", "create_volume",
                       AvailabilityZone="us-east-1a", Size=20000)

    def test_terminated_instance_releases_volume(self):
        inst = self.seed(private_ip="10.0.1.40")["id"]
        vol = self.fake.ctl("POST", "volumes", {
            "az": "us-east-1a", "size": 8, "attached_to": inst,
            "device": "/dev/sdf"})["id"]
        v = self.volume(vol)
        self.assertEqual((v["State"], v["Attachments"][0]["State"]),
                         ("in-use", "attached"))
        self.aws("terminate-instances", "--instance-ids", inst)
        self.assertEqual(self.volume(vol)["State"], "in-use")  # shutting down
        # No detaching from a dying instance.
        self.aws_fails("IncorrectInstanceState", "detach-volume",
                       "--volume-id", vol, message="Unable to detach volume")
        self.advance()
        i = self.instance(inst)
        self.assertEqual((i["State"]["Name"], i["BlockDeviceMappings"]),
                         ("terminated", []))
        # The volume comes free --volume-release-delay after 'terminated'.
        v = self.volume(vol)
        self.assertEqual((v["State"], v["Attachments"][0]["State"]),
                         ("in-use", "detaching"))
        self.api_fails("IncorrectInstanceState", "detach_volume",
                       VolumeId=vol)
        self.advance(VOL_RELEASE)
        (v,) = self.aws("describe-volumes", "--filters",
                        "Name=volume-id,Values=" + vol)["Volumes"]
        self.assertEqual((v["State"], v["Attachments"]), ("available", []))

    def test_volume_pagination(self):
        vols = [self.fake.ctl("POST", "volumes", {"az": "us-east-1a",
                                                  "size": 1})["id"]
                for _ in range(6)]
        out = self.aws("describe-volumes", "--max-results", "5")
        self.assertEqual([v["VolumeId"] for v in out["Volumes"]], vols[:5])
        out = self.aws("describe-volumes", "--max-results", "5",
                       "--next-token", out["NextToken"])
        self.assertEqual([v["VolumeId"] for v in out["Volumes"]], vols[5:])
        self.assertNotIn("NextToken", out)
        # The CLI asks for MaxResults=1000 by default; EC2 clamps to 500.
        self.fake.ctl("DELETE", "calls")
        self.assertEqual(len(self.aws("describe-volumes")["Volumes"]), 6)
        self.assertEqual(self.calls()[0]["params"]["MaxResults"], "1000")
        self.api_fails("InvalidParameterValue", "describe_volumes",
                       MaxResults=4)
        self.api_fails("InvalidParameterCombination", "describe_volumes",
                       MaxResults=5, VolumeIds=[vols[0]])

    def test_create_and_delete_tags(self):
        inst = self.seed(private_ip="10.0.1.50")["id"]
        vol = self.fake.ctl("POST", "volumes", {"az": "us-east-1a",
                                                "size": 1})["id"]
        out = self.aws("create-tags", "--resources", inst, vol, "--tags",
                       "Key=cluster,Value=c9", "Key=empty")
        self.assertIsNone(out)  # CreateTags answers only <return>true
        tags = {t["Key"]: t["Value"] for t in self.instance(inst)["Tags"]}
        self.assertEqual(tags, {"cluster": "c9", "empty": ""})
        self.assertEqual({t["Key"]: t["Value"] for t in
                          self.volume(vol)["Tags"]},
                         {"cluster": "c9", "empty": ""})
        # All or nothing: an unknown id fails the call and tags nothing.
        self.aws_fails("InvalidInstanceID.NotFound", "create-tags",
                       "--resources", inst, "i-0123456789abcdef0",
                       "--tags", "Key=x,Value=y")
        self.assertNotIn("x", {t["Key"] for t in self.instance(inst)["Tags"]})
        self.api_fails("InvalidParameterValue", "create_tags",
                       Resources=[inst], Tags=[{"Key": "aws:x",
                                                "Value": "1"}])
        self.api_fails("InvalidID", "create_tags", Resources=["ami-12345678"],
                       Tags=[{"Key": "a", "Value": "1"}])
        self.api("delete_tags", Resources=[inst], Tags=[{"Key": "empty"}])
        self.assertEqual([t["Key"] for t in self.instance(inst)["Tags"]],
                         ["cluster"])


class TestAuthAndFaults(Base):
    def test_unknown_action_and_missing_auth(self):
        status, body = self.signed({"Action": "FrobnicateInstances",
                                    "Version": "2016-11-15"})
        self.assertEqual(status, 400)
        self.assertEqual(xml_error(body), (
            "InvalidAction", "The action FrobnicateInstances is not valid "
            "for this web service."))
        status, body = self.signed({"Action": "DescribeInstances",
                                    "Version": "2016-11-15"})
        self.assertEqual(status, 200)
        root = ET.fromstring(body)
        ns = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
        self.assertEqual(root.tag, ns + "DescribeInstancesResponse")
        self.assertTrue(root.find(ns + "requestId").text)
        status, _, body = self.fake.http(
            "POST", "/", b"Action=DescribeInstances&Version=2016-11-15",
            {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 401)
        self.assertEqual(xml_error(body)[0], "MissingAuthenticationToken")

    def test_bad_signature(self):
        msg = "AWS was not able to validate the provided access credentials"
        self.aws_fails("AuthFailure", "describe-instances",
                       env=self.env(AWS_SECRET_ACCESS_KEY="wrong"),
                       message=msg)
        self.aws_fails("AuthFailure", "describe-instances",
                       env=self.env(AWS_ACCESS_KEY_ID="AKIDUNKNOWN"),
                       message=msg)
        # Body changed after signing.
        status, body = self.signed(
            {"Action": "DescribeInstances", "Version": "2016-11-15"},
            tamper=lambda b: b.replace(b"DescribeInstances",
                                       b"DescribeVolumes"))
        self.assertEqual((status, xml_error(body)[0]), (401, "AuthFailure"))
        # Signed for another region.
        status, body = self.signed({"Action": "DescribeInstances",
                                    "Version": "2016-11-15"},
                                   region="eu-west-1")
        self.assertEqual((status, xml_error(body)[0]), (401, "AuthFailure"))
        calls = self.calls()
        self.assertEqual([(c["status"], c["error_code"]) for c in calls],
                         [(401, "AuthFailure")] * 4)

    def test_clock_skew(self):
        p = {"Action": "DescribeInstances", "Version": "2016-11-15"}
        now = datetime.datetime.utcnow()
        for off in (-10, 10):
            status, body = self.signed(
                p, when=now + datetime.timedelta(minutes=off))
            self.assertEqual(status, 400)
            self.assertEqual(xml_error(body),
                             ("RequestExpired", "Request has expired."))
        status, _ = self.signed(p, when=now - datetime.timedelta(minutes=2))
        self.assertEqual(status, 200)

    def curl(self, user, *extra, sigv4="aws:amz:%s:ec2" % REGION):
        p = subprocess.run(
            [CURL, "-sS", "--noproxy", "*", "--max-time", "20",
             "--aws-sigv4", sigv4, "--user", user, "-w", "\n%{http_code}",
             "-d", "Action=DescribeInstances&Version=2016-11-15"] +
            list(extra) + [self.fake.url + "/"],
            capture_output=True, text=True, timeout=30,
            env={"PATH": "/usr/bin:/bin"})
        body, _, code = p.stdout.rpartition("\n")
        return int(code), body

    def test_curl_aws_sigv4(self):
        """libcurl's CURLOPT_AWS_SIGV4 (what the agent uses) is accepted."""
        iid = self.seed(private_ip="10.0.1.60")["id"]
        code, body = self.curl("%s:%s" % (AKID, SECRET))
        self.assertEqual(code, 200, body)
        self.assertIn("<instanceId>%s</instanceId>" % iid, body)
        code, body = self.curl("%s:%s" % (AKID, "nope"))
        self.assertEqual((code, xml_error(body.encode())[0]),
                         (401, "AuthFailure"))
        code, body = self.curl("%s:%s" % (AKID, SECRET),
                               sigv4="aws:amz:eu-west-1:ec2")
        self.assertEqual(code, 401)
        # With temporary credentials from the fake IMDS.
        self.fake.ctl("POST", "imds", {"source": "127.0.0.1",
                                       "instance": iid})
        status, _, token = self.fake.http(
            "PUT", "/latest/api/token",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"})
        status, _, body = self.fake.http(
            "GET", "/latest/meta-data/iam/security-credentials/"
            "swarmkeeper-role",
            headers={"X-aws-ec2-metadata-token": token.decode()})
        creds = json.loads(body)
        user = "%s:%s" % (creds["AccessKeyId"], creds["SecretAccessKey"])
        code, body = self.curl(user, "-H",
                               "X-Amz-Security-Token: " + creds["Token"])
        self.assertEqual(code, 200, body)
        code, body = self.curl(user, "-H", "X-Amz-Security-Token: forged")
        self.assertEqual(code, 401)
        code, body = self.curl(user)
        self.assertEqual(code, 401)  # token missing
        self.assertEqual([c["status"] for c in self.calls()],
                         [200, 401, 401, 200, 401, 401])

    def test_throttling_and_retries(self):
        self.fake.ctl("POST", "faults", {"action": "RunInstances",
                                         "code": "RequestLimitExceeded",
                                         "count": 2})
        run = ["run-instances", "--image-id", "ami-12345678",
               "--client-token", "throttled"]
        self.aws_fails("RequestLimitExceeded", *run,
                       message="Request limit exceeded.")
        # The CLI's standard retry mode retries the throttle and succeeds.
        out = self.aws(*run, env=self.env(AWS_MAX_ATTEMPTS="3"))
        self.assertEqual(out["Instances"][0]["State"]["Name"], "pending")
        calls = self.calls("RunInstances")
        self.assertEqual([(c["status"], c["error_code"]) for c in calls],
                         [(503, "RequestLimitExceeded"),
                          (503, "RequestLimitExceeded"), (200, None)])
        self.assertEqual(self.fake.ctl("GET", "faults"), [])
        self.api("describe_instances")  # other actions were never affected

    def test_after_and_time_window_faults(self):
        # Applied, then the answer fails: the instance exists; a retry with
        # the same token finds it instead of launching a second one.
        self.fake.ctl("POST", "faults", {"action": "RunInstances",
                                         "code": "InternalError",
                                         "after": True})
        run = ["run-instances", "--image-id", "ami-12345678",
               "--client-token", "lost-answer"]
        self.aws_fails("InternalError", *run)
        (lost,) = self.fake.ctl("GET", "state")["instances"]
        self.assertEqual(self.aws(*run)["Instances"][0]["InstanceId"],
                         lost["id"])
        self.assertEqual([(c["result"], c.get("applied")) for c in
                          self.calls("RunInstances")],
                         [("InternalError", True), ("Success", None)])
        # A time window: every call fails until it ends, whatever the count.
        self.fake.ctl("POST", "faults", {"action": "DescribeVolumes",
                                         "code": "RequestLimitExceeded",
                                         "seconds": 1})
        for _ in range(3):
            self.api_fails("RequestLimitExceeded", "describe_volumes")
        time.sleep(1.05)
        self.api("describe_volumes")
        self.assertEqual(self.fake.ctl("GET", "faults"), [])

    def test_call_log(self):
        self.aws("run-instances", "--image-id", "ami-12345678",
                 "--user-data", "secret-join-token")
        self.api_fails("InvalidVolume.NotFound", "describe_volumes",
                       VolumeIds=["vol-0123456789abcdef0"])
        with open(self.call_log) as f:
            raw = f.read()
        self.assertNotIn("secret-join-token", raw)
        self.assertNotIn(base64.b64encode(b"secret-join-token").decode(), raw)
        self.assertNotIn(SECRET, raw)
        calls = [json.loads(l) for l in raw.splitlines()][-2:]
        self.assertEqual([(c["action"], c["status"], c["result"])
                          for c in calls],
                         [("RunInstances", 200, "Success"),
                          ("DescribeVolumes", 400, "InvalidVolume.NotFound")])
        self.assertNotIn("UserData", calls[0]["params"])
        self.assertEqual(calls[0]["params"]["ImageId"], "ami-12345678")
        self.assertEqual(calls[1]["params"]["VolumeId.1"],
                         "vol-0123456789abcdef0")
        self.assertLess(abs(calls[1]["t"] - time.time()), 30)

    def test_capacity_latency_and_clearing_faults(self):
        self.fake.ctl("POST", "faults", {"action": "RunInstances",
                                         "code":
                                         "InsufficientInstanceCapacity"})
        err = self.aws_fails("InsufficientInstanceCapacity", "run-instances",
                             "--image-id", "ami-12345678")
        self.assertIn("sufficient capacity", err)
        self.assertEqual(self.calls("RunInstances")[0]["status"], 500)
        self.assertEqual(self.fake.ctl("GET", "state")["instances"], [])
        # Latency only (no error), any action.
        self.fake.ctl("POST", "faults", {"action": "*", "latency": 1.0})
        t0 = time.time()
        self.api("describe_volumes")
        self.assertGreaterEqual(time.time() - t0, 1.0)
        # Custom status and clearing.
        self.fake.ctl("POST", "faults", {"action": "DescribeVolumes",
                                         "code": "InternalError",
                                         "status": 500, "count": 5})
        self.api_fails("InternalError", "describe_volumes")
        self.api("describe_instances")
        self.fake.ctl("POST", "faults", {"action": "DescribeInstances",
                                         "code": "UnauthorizedOperation"})
        status, _ = self.signed({"Action": "DescribeInstances",
                                 "Version": "2016-11-15"})
        self.assertEqual(status, 403)  # as EC2 answers it
        self.fake.ctl("DELETE", "faults")
        self.api("describe_volumes")
        self.fake.ctl("DELETE", "calls")
        self.assertEqual(self.calls(), [])


class TestIMDS(Base):
    def imds(self, method, path, token=None, source=None, **headers):
        if token is not None:
            headers["X-aws-ec2-metadata-token"] = token
        status, hdrs, body = self.fake.http(method, path, headers=headers,
                                            source=source)
        return status, hdrs, body

    def token(self, ttl="60", source=None):
        status, hdrs, body = self.imds(
            "PUT", "/latest/api/token", source=source,
            **{"X-aws-ec2-metadata-token-ttl-seconds": ttl})
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["X-aws-ec2-metadata-token-ttl-seconds"], ttl)
        return body.decode()

    def test_token_flow_and_metadata(self):
        iid = self.seed(private_ip="10.0.2.70", tags={"a": "b"})["id"]
        # Unknown caller first.
        self.assertEqual(self.imds("PUT", "/latest/api/token", **{
            "X-aws-ec2-metadata-token-ttl-seconds": "60"})[0], 404)
        self.fake.ctl("POST", "imds", {"source": "127.0.0.1",
                                       "instance": iid})
        tok = self.token()
        get = lambda p, t=tok: self.imds("GET", "/latest/" + p, t)
        self.assertEqual(get("meta-data/instance-id")[2].decode(), iid)
        self.assertEqual(get("meta-data/local-ipv4")[2], b"10.0.2.70")
        self.assertEqual(get("meta-data/placement/availability-zone")[2],
                         b"us-east-1b")
        self.assertEqual(get("meta-data/placement/region")[2], b"us-east-1")
        self.assertIn(b"instance-id", get("meta-data/")[2])
        doc = json.loads(get("dynamic/instance-identity/document")[2])
        self.assertEqual((doc["instanceId"], doc["privateIp"],
                          doc["availabilityZone"], doc["region"]),
                         (iid, "10.0.2.70", "us-east-1b", "us-east-1"))
        self.assertEqual(get("meta-data/nonexistent")[0], 404)
        self.assertEqual(get("user-data")[0], 404)
        self.fake.ctl("POST", "user-data", {"instance": iid,
                                            "data": "join-token: xyz\n"})
        self.assertEqual(get("user-data")[2], b"join-token: xyz\n")
        # IMDSv2 required: no token or a bad one -> 401.
        self.assertEqual(self.imds("GET", "/latest/meta-data/instance-id")[0],
                         401)
        self.assertEqual(get("meta-data/instance-id", "bogus")[0], 401)
        # Token requests: proxied -> 403, bad TTL -> 400.
        self.assertEqual(self.imds("PUT", "/latest/api/token", **{
            "X-aws-ec2-metadata-token-ttl-seconds": "60",
            "X-Forwarded-For": "10.0.0.9"})[0], 403)
        self.assertEqual(self.imds("PUT", "/latest/api/token")[0], 400)
        for bad in ("0", "21601", "abc"):
            self.assertEqual(self.imds("PUT", "/latest/api/token", **{
                "X-aws-ec2-metadata-token-ttl-seconds": bad})[0], 400)
        self.token("21600")
        # Tokens expire.
        short = self.token("1")
        self.assertEqual(get("meta-data/instance-id", short)[0], 200)
        time.sleep(1.2)
        self.assertEqual(get("meta-data/instance-id", short)[0], 401)
        # A token belongs to the instance it was issued for.
        other = self.seed(private_ip="10.0.3.71")["id"]
        self.fake.ctl("POST", "imds", {"source": "127.0.0.1",
                                       "instance": other})
        self.assertEqual(get("meta-data/instance-id")[0], 401)
        self.assertEqual(get("meta-data/instance-id", self.token())[2]
                         .decode(), other)
        # A terminated instance has no IMDS any more.
        self.fake.ctl("POST", "instances/" + other, {"state": "terminated"})
        self.assertEqual(get("meta-data/instance-id")[0], 404)

    def test_instance_found_by_source_address(self):
        """Each netns host reaches the fake from its own private IP."""
        self.fake.ctl("POST", "subnets", {"id": "subnet-7f000000",
                                          "az": "us-east-1c",
                                          "cidr": "127.0.0.0/24"})
        a = self.seed(private_ip="127.0.0.5")["id"]
        b = self.seed(private_ip="127.0.0.6")["id"]
        for src, iid in (("127.0.0.5", a), ("127.0.0.6", b)):
            tok = self.token(source=src)
            status, _, body = self.imds("GET", "/latest/meta-data/instance-id",
                                        tok, source=src)
            self.assertEqual((status, body.decode()), (200, iid))
        self.assertEqual(self.imds("PUT", "/latest/api/token",
                                   source="127.0.0.7", **{
                                       "X-aws-ec2-metadata-token-ttl-seconds":
                                       "60"})[0], 404)

    def credentials(self, tok):
        status, _, body = self.imds(
            "GET", "/latest/meta-data/iam/security-credentials/"
            "swarmkeeper-role", tok)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_role_credentials_work_with_the_cli(self):
        iid = self.seed(private_ip="10.0.1.80")["id"]
        self.fake.ctl("POST", "imds", {"source": "127.0.0.1",
                                       "instance": iid})
        tok = self.token()
        status, _, body = self.imds(
            "GET", "/latest/meta-data/iam/security-credentials/", tok)
        self.assertEqual(body, b"swarmkeeper-role")
        c = self.credentials(tok)
        self.assertEqual((c["Code"], c["Type"]), ("Success", "AWS-HMAC"))
        self.assertRegex(c["AccessKeyId"], r"^ASIA[A-Z2-7]{16}$")
        exp = datetime.datetime.strptime(c["Expiration"],
                                         "%Y-%m-%dT%H:%M:%SZ")
        left = exp - datetime.datetime.utcnow()
        self.assertTrue(datetime.timedelta(hours=5) < left <
                        datetime.timedelta(hours=6, minutes=1))
        self.assertEqual(self.credentials(tok)["AccessKeyId"],
                         c["AccessKeyId"])  # not rotated yet
        env = self.env(AWS_ACCESS_KEY_ID=c["AccessKeyId"],
                       AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
                       AWS_SESSION_TOKEN=c["Token"])
        ids = [i["InstanceId"] for r in self.aws(
            "describe-instances", env=env)["Reservations"]
            for i in r["Instances"]]
        self.assertEqual(ids, [iid])
        self.assertEqual(self.calls()[-1]["access_key"], c["AccessKeyId"])
        bad = dict(env, AWS_SESSION_TOKEN=c["Token"][:-4] + "AAAA")
        self.aws_fails("AuthFailure", "describe-instances", env=bad)
        # A static key must not carry a session token.
        client = botocore_client(self.fake.url, token=c["Token"])
        self.addCleanup(client.close)
        with self.assertRaises(ClientError) as cm:
            client.describe_instances()
        self.assertEqual(cm.exception.response["Error"]["Code"], "AuthFailure")
        # Role and TTL are configurable; credentials rotate before expiry
        # and old ones stay valid until they expire.
        self.fake.ctl("POST", "credentials", {"role": "other", "ttl": 4})
        self.assertEqual(self.imds(
            "GET", "/latest/meta-data/iam/security-credentials/", tok)[2],
            b"other")
        self.assertEqual(self.imds(
            "GET", "/latest/meta-data/iam/security-credentials/"
            "swarmkeeper-role", tok)[0], 404)
        get = lambda: json.loads(self.imds(
            "GET", "/latest/meta-data/iam/security-credentials/other",
            tok)[2])
        c1 = get()
        self.assertEqual(get()["AccessKeyId"], c1["AccessKeyId"])
        time.sleep(2.2)  # within min(5 min, ttl/2) of expiring: rotated
        c2 = get()
        self.assertNotEqual(c2["AccessKeyId"], c1["AccessKeyId"])
        p = {"Action": "DescribeInstances", "Version": "2016-11-15"}
        self.assertEqual(self.signed(p, c1["AccessKeyId"],
                                     c1["SecretAccessKey"], c1["Token"])[0],
                         200)
        time.sleep(2.0)
        status, body = self.signed(p, c1["AccessKeyId"],
                                   c1["SecretAccessKey"], c1["Token"])
        self.assertEqual((status, xml_error(body)[0]),
                         (400, "RequestExpired"))
        # Secrets never reach the fake's log.
        with open(self.fake.log_path, "rb") as f:
            logged = f.read()
        for secret in (SECRET, c["SecretAccessKey"], c["Token"], tok):
            self.assertNotIn(secret.encode(), logged)

    def test_credentials_need_an_instance_profile(self):
        bare = self.api("run_instances", ImageId="ami-12345678", MinCount=1,
                        MaxCount=1, PrivateIpAddress="10.0.1.91",
                        MetadataOptions={"HttpTokens": "required"})
        self.fake.ctl("POST", "imds", {"source": "127.0.0.1", "instance":
                                       bare["Instances"][0]["InstanceId"]})
        tok = self.token()
        for path in ("iam/security-credentials/",
                     "iam/security-credentials/swarmkeeper-role", "iam/info"):
            self.assertEqual(self.imds("GET", "/latest/meta-data/" + path,
                                       tok)[0], 404, path)
        self.fake.ctl("POST", "imds", {"source": "127.0.0.1",
                                       "instance": None})
        self.fake.ctl("POST", "subnets", {"id": "subnet-7f000000",
                                          "az": "us-east-1c",
                                          "cidr": "127.0.0.0/24"})
        with_profile = self.api(
            "run_instances", ImageId="ami-12345678", MinCount=1, MaxCount=1,
            PrivateIpAddress="127.0.0.92",
            IamInstanceProfile={"Name": "swarmkeeper-profile"})
        tok = self.token(source="127.0.0.92")
        self.assertEqual(self.imds(
            "GET", "/latest/meta-data/iam/security-credentials/", tok,
            source="127.0.0.92")[2], b"swarmkeeper-role")
        info = json.loads(self.imds("GET", "/latest/meta-data/iam/info", tok,
                                    source="127.0.0.92")[2])
        self.assertEqual(info["InstanceProfileArn"],
                         with_profile["Instances"][0]["IamInstanceProfile"]
                         ["Arn"])
        # A profile deleted later: no credentials any more.
        self.fake.ctl("POST", "instance-profiles", {"names": ["other"]})
        self.assertEqual(self.imds(
            "GET", "/latest/meta-data/iam/security-credentials/", tok,
            source="127.0.0.92")[0], 404)

    def test_no_profile_no_iam_in_metadata(self):
        """An instance without an instance profile: meta-data/ does not
        list iam/, and everything under iam/ is 404, as in EC2."""
        iid = self.api("run_instances", ImageId="ami-12345678", MinCount=1,
                       MaxCount=1, PrivateIpAddress="10.0.1.93",
                       MetadataOptions={"HttpTokens": "required"})[
                           "Instances"][0]["InstanceId"]
        self.fake.ctl("POST", "imds", {"source": "127.0.0.1",
                                       "instance": iid})
        tok = self.token()
        index = self.imds("GET", "/latest/meta-data/", tok)[2].decode()
        self.assertIn("instance-id", index.split("\n"))
        self.assertNotIn("iam/", index.split("\n"))
        for path in ("iam", "iam/", "iam/info", "iam/security-credentials",
                     "iam/security-credentials/"):
            self.assertEqual(self.imds("GET", "/latest/meta-data/" + path,
                                       tok)[0], 404, path)
        # With a profile it is listed.
        other = self.seed(private_ip="10.0.1.94")["id"]
        self.fake.ctl("POST", "imds", {"source": "127.0.0.1",
                                       "instance": other})
        tok = self.token()
        self.assertIn("iam/", self.imds("GET", "/latest/meta-data/", tok)[2]
                      .decode().split("\n"))

    def test_launch_template_profile(self):
        """An instance launched from a template gets the template's
        instance profile (and so credentials) unless the launch names one;
        a template without a profile gives none."""
        mt = self.fake.ctl("POST", "launch-templates", {
            "name": "sk-managers", "version": 3,
            "iam_instance_profile": "swarmkeeper-profile",
            "image_id": "ami-0e2e0000000000001", "instance_type": "t3.small",
            "http_tokens": "required"})
        self.assertRegex(mt["id"], r"^lt-[0-9a-f]{17}$")
        self.fake.ctl("POST", "launch-templates", {
            "id": "lt-0123456789abcdef1", "name": "sk-workers"})
        out = self.aws("run-instances", "--launch-template",
                       "LaunchTemplateName=sk-managers",
                       "--private-ip-address", "10.0.1.95")["Instances"][0]
        self.assertEqual((out["IamInstanceProfile"]["Arn"], out["ImageId"],
                          out["InstanceType"],
                          out["MetadataOptions"]["HttpTokens"]),
                         ("arn:aws:iam::123456789012:instance-profile/"
                          "swarmkeeper-profile", "ami-0e2e0000000000001",
                          "t3.small", "required"))
        self.assertEqual({t["Key"]: t["Value"] for t in out["Tags"]},
                         {"aws:ec2launchtemplate:id": mt["id"],
                          "aws:ec2launchtemplate:version": "3"})
        worker = self.aws("run-instances", "--launch-template",
                          "LaunchTemplateId=lt-0123456789abcdef1,Version=1",
                          "--private-ip-address", "10.0.1.96")[
                              "Instances"][0]
        self.assertNotIn("IamInstanceProfile", worker)
        for iid, status in ((out["InstanceId"], 200),
                            (worker["InstanceId"], 404)):
            self.fake.ctl("POST", "imds", {"source": "127.0.0.1",
                                           "instance": iid})
            self.assertEqual(self.imds(
                "GET", "/latest/meta-data/iam/security-credentials/",
                self.token())[0], status, iid)
        # The launch's own profile wins; a version the template lacks fails.
        named = self.api("run_instances", MinCount=1, MaxCount=1,
                         LaunchTemplate={"LaunchTemplateName": "sk-workers"},
                         IamInstanceProfile={"Name": "swarmkeeper"})
        self.assertTrue(named["Instances"][0]["IamInstanceProfile"]["Arn"]
                        .endswith("/swarmkeeper"))
        self.api_fails("InvalidLaunchTemplateId.VersionNotFound",
                       "run_instances", MinCount=1, MaxCount=1,
                       LaunchTemplate={"LaunchTemplateName": "sk-managers",
                                       "Version": "2"})
        # The template's profile must exist at launch.
        self.fake.ctl("POST", "instance-profiles", {"names": ["other"]})
        self.api_fails("InvalidParameterValue", "run_instances", MinCount=1,
                       MaxCount=1,
                       LaunchTemplate={"LaunchTemplateId": mt["id"]})

    def test_nocloud_seed(self):
        """cloud-init's NoCloud datasource with seedfrom=http://FAKE/nocloud/
        gets the caller's instance id, host name and user data."""
        self.fake.ctl("POST", "subnets", {"id": "subnet-7f000000",
                                          "az": "us-east-1c",
                                          "cidr": "127.0.0.0/24"})
        ud = "#cloud-config\nhostname: m1\n"
        a = self.api("run_instances", ImageId="ami-12345678", MinCount=1,
                     MaxCount=1, PrivateIpAddress="127.0.0.21",
                     UserData=ud)["Instances"][0]
        b = self.seed(private_ip="127.0.0.22", user_data=None)["id"]
        get = lambda path, src: self.fake.http("GET", "/nocloud/" + path,
                                               source=src)
        status, _, body = get("meta-data", "127.0.0.21")
        self.assertEqual((status, body.decode()), (200, (
            "instance-id: %s\nlocal-hostname: ip-127-0-0-21.ec2.internal\n"
            % a["InstanceId"])))
        self.assertEqual(get("user-data", "127.0.0.21")[:3:2],
                         (200, ud.encode()))
        self.assertEqual(get("vendor-data", "127.0.0.21")[:3:2], (200, b""))
        self.assertEqual(get("meta-data", "127.0.0.22")[2].decode().split(
            "\n")[0], "instance-id: " + b)
        self.assertEqual(get("user-data", "127.0.0.22")[0], 404)
        self.assertEqual(get("meta-data", "127.0.0.23")[0], 404)  # nobody

    def test_cli_imds_credential_provider(self):
        """The real SDK's IMDSv2 credential provider works against the
        fake: no keys in the environment at all."""
        iid = self.seed(private_ip="10.0.1.90")["id"]
        self.fake.ctl("POST", "imds", {"source": "127.0.0.1",
                                       "instance": iid})
        env = self.env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None,
                       AWS_EC2_METADATA_DISABLED=None,
                       AWS_EC2_METADATA_SERVICE_ENDPOINT=self.fake.url + "/")
        out = self.aws("describe-instances", env=env)
        self.assertEqual(out["Reservations"][0]["Instances"][0]["InstanceId"],
                         iid)
        self.assertTrue(self.calls()[-1]["access_key"].startswith("ASIA"))


class TestHooks(Base):
    def test_hooks_and_state_log(self):
        out = self.aws("run-instances", "--image-id", "ami-12345678",
                       "--private-ip-address", "10.0.1.33")
        iid = out["Instances"][0]["InstanceId"]
        vol = self.api("create_volume", AvailabilityZone="us-east-1a",
                       Size=1)["VolumeId"]
        self.assertEqual(self.hook_lines(), [])  # nothing ran while pending
        self.advance()
        self.assertEqual(self.hook_lines(), [
            ["instance-running", iid, "10.0.1.33", "us-east-1a"]])
        self.aws("attach-volume", "--volume-id", vol, "--instance-id", iid,
                 "--device", "/dev/sdf")
        self.advance()
        self.api("detach_volume", VolumeId=vol)
        self.advance()
        self.api("attach_volume", VolumeId=vol, InstanceId=iid,
                 Device="/dev/sdh")
        self.advance()
        self.api("terminate_instances", InstanceIds=[iid])
        self.advance()
        self.advance(VOL_RELEASE)  # volumes come free after a while
        self.assertEqual(self.hook_lines()[1:], [
            ["volume-attached", vol, iid, "/dev/sdf"],
            ["volume-detached", vol, iid],
            ["volume-attached", vol, iid, "/dev/sdh"],
            ["instance-terminated", iid, "10.0.1.33"],
            ["volume-detached", vol, iid]])
        runs = self.fake.ctl("GET", "hooks")["runs"]
        self.assertTrue(all(r["rc"] == 0 for r in runs))
        # Seeding a running instance fires instance-running too (unless
        # "hooks": false).
        seeded = self.seed(private_ip="10.0.1.34")["id"]
        self.seed(private_ip="10.0.1.35", hooks=False)
        self.assertEqual(self.hook_lines()[-1],
                         ["instance-running", seeded, "10.0.1.34",
                          "us-east-1a"])
        with open(self.state_log) as f:
            events = [json.loads(l) for l in f]
        self.assertIn({"event": "instance-shutting-down",
                       "args": [iid, "10.0.1.33"]},
                      [{"event": e["event"], "args": e["args"]}
                       for e in events])


    def test_invariant_worker_with_managers_profile(self):
        """The checker fails when a worker carries the managers' instance
        profile; a worker without one, or with its own, is fine."""
        self.fake.ctl("POST", "instance-profiles",
                      {"names": ["sk-manager", "sk-worker"]})

        def run(ip, role, profile=None):
            kw = dict(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                      PrivateIpAddress=ip, TagSpecifications=[{
                          "ResourceType": "instance", "Tags": [{
                              "Key": "swarmkeeper:role", "Value": role}]}])
            if profile:
                kw["IamInstanceProfile"] = {"Name": profile}
            return self.api("run_instances", **kw)["Instances"][0][
                "InstanceId"]
        run("10.0.1.60", "manager", "sk-manager")
        run("10.0.1.61", "worker")
        run("10.0.1.62", "worker", "sk-worker")
        p = self.check_own_invariants()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        bad = run("10.0.1.63", "worker", "sk-manager")
        p = self.check_own_invariants()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(bad, p.stdout)
        self.assertIn("sk-manager", p.stdout)
        # Tagged a worker later (CreateTags): the log follows the role too.
        self.fake.ctl("POST", "reset")
        self.fake.ctl("POST", "instance-profiles",
                      {"names": ["sk-manager", "sk-worker"]})
        m = run("10.0.1.60", "manager", "sk-manager")
        self.api("create_tags", Resources=[m], Tags=[
            {"Key": "swarmkeeper:role", "Value": "worker"}])
        p = self.check_own_invariants()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(m, p.stdout)

    def test_state_log_and_invariants(self):
        def run(ip, lid):
            return self.api("run_instances", ImageId="ami-12345678",
                            MinCount=1, MaxCount=1, PrivateIpAddress=ip,
                            TagSpecifications=[{
                                "ResourceType": "instance", "Tags": [{
                                    "Key": "swarmkeeper:logical-id",
                                    "Value": lid}]}])["Instances"][0][
                                        "InstanceId"]
        # A replacement launched only after the old one terminated: fine.
        old = run("10.0.1.36", "m1")
        self.advance()
        self.api("terminate_instances", InstanceIds=[old])
        self.advance(LONG + IP_RELEASE + 1)
        new = run("10.0.1.36", "m1")
        p = self.check_own_invariants()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(self.state_log) as f:
            lines = [json.loads(l) for l in f]
        mine = [(l["event"], l["state"], l["logical_id"]) for l in lines
                if l.get("instance") == old and l["kind"] == "instance"]
        self.assertEqual(mine, [
            ("instance-pending", "pending", "m1"),
            ("instance-running", "running", "m1"),
            ("instance-shutting-down", "shutting-down", "m1"),
            ("instance-terminated", "terminated", "m1")])
        self.assertIn(("volume-attached", "/dev/xvda", True), [
            (l["event"], l["args"][2], l["root"]) for l in lines
            if l.get("instance") == new and l["kind"] == "attachment"])
        # Two live instances of one logical id (the tag added afterwards):
        # the checker fails and names it.
        other = self.seed(private_ip="10.0.1.37")["id"]
        self.aws("create-tags", "--resources", other, "--tags",
                 "Key=swarmkeeper:logical-id,Value=m1")
        p = self.check_own_invariants()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("m1", p.stdout)
        self.assertIn(new, p.stdout)
        self.assertIn(other, p.stdout)
        # A volume attached twice at once (hand-written log) fails too; a
        # reset forgets everything before it.
        bad = os.path.join(self.tmp, "bad.log")
        with open(bad, "w") as f:
            for rec in ({"event": "volume-attached", "kind": "attachment",
                         "volume": "vol-1", "instance": "i-1",
                         "status": "attached"},
                        {"event": "volume-attaching", "kind": "attachment",
                         "volume": "vol-1", "instance": "i-2",
                         "status": "attaching"}):
                f.write(json.dumps(rec) + "\n")
        p = self.check_invariants(bad)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("vol-1", p.stdout)
        with open(bad) as f:
            lines = f.read().splitlines()
        with open(bad, "w") as f:
            f.write("\n".join([lines[0], json.dumps({"event": "reset"}),
                               lines[1]]) + "\n")
        p = self.check_invariants(bad)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


class TestRealTimers(Base):
    """Short real delays: transitions (and hooks) happen without any
    polling and without touching the fake's clock."""
    server_args = ("--pending-delay", "0.3", "--shutdown-delay", "0.3",
                   "--terminated-ttl", "1.5")

    def wait_for(self, pred, timeout=5):
        deadline = time.time() + timeout
        while not pred():
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)

    def test_real_time_lifecycle(self):
        iid = self.seed(private_ip="10.0.1.44", state="pending")["id"]
        self.wait_for(lambda: os.path.getsize(self.hook_out) > 0)
        self.assertEqual(self.hook_lines(),
                         [["instance-running", iid, "10.0.1.44",
                           "us-east-1a"]])
        self.assertEqual(self.instance(iid)["State"]["Name"], "running")
        out = self.aws("terminate-instances", "--instance-ids", iid)
        self.assertEqual(out["TerminatingInstances"][0]["CurrentState"]
                         ["Name"], "shutting-down")
        self.wait_for(lambda: len(self.hook_lines()) == 2)
        self.assertEqual(self.instance(iid)["State"]["Name"], "terminated")
        self.wait_for(lambda: self.fake.ctl("GET", "state")["instances"]
                      == [])
        self.assertEqual(self.instances(), [])


if __name__ == "__main__":
    unittest.main()
