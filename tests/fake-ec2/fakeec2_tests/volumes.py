"""TestVolumes: the volume lifecycle, attach/detach rules, volumes of a
terminated instance, DescribeVolumes pages, tags."""

from .lib import Base, VOL_RELEASE


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
