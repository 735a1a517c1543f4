"""TestIMDS: IMDSv2 tokens and metadata, the instance found by source
address, role credentials and instance profiles, launch templates, the
NoCloud seed."""

import datetime
import json
import time

from botocore.exceptions import ClientError

from .lib import Base, SECRET, botocore_client, xml_error


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
