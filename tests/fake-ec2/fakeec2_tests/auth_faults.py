"""TestAuthAndFaults: SigV4 (bad signature, clock skew, curl
--aws-sigv4), injected faults, the call log."""

import base64
import datetime
import json
import subprocess
import time
import xml.etree.ElementTree as ET

from .lib import AKID, Base, CURL, REGION, SECRET, xml_error


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
