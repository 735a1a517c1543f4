"""What the fake EC2's tests share: the fake as a subprocess (FakeServer),
the real AWS CLI run through a forking helper interpreter (run_aws), an
in-process botocore client, SigV4 with a chosen time, and Base, the test case
every test class derives from (one fake per class, reset before each test)."""

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

# tests/fake-ec2 (this file is in tests/fake-ec2/fakeec2_tests/)
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
