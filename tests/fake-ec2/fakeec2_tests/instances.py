"""TestInstances: the instance lifecycle and addresses, ClientToken
idempotency, eventual consistency, RunInstances' checks and placement,
DescribeInstances filters and pages, DescribeSubnets."""

import base64
import xml.etree.ElementTree as ET

from .lib import AKID, Base, IP_RELEASE, LONG, xml_error


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
