"""InstanceActions: DescribeInstances, RunInstances and TerminateInstances,
their XML, launch templates (as RunInstances reads them) and instance
profiles (which exist, name or ARN)."""

import base64
import binascii
import hashlib
import ipaddress
import re

from .common import ACCOUNT, STATE_CODES, VPC_ID, EC2Error, hexid, iso, tag_set
from .model import Instance, Volume
from .params import indexed, int_param, parse_filters, require, tag_filter, \
    wildcard


class InstanceActions:
    # -- XML renderings -----------------------------------------------------
    def instance_xml(self, i):
        dns = self.hostname(i)
        alive = i.state != "terminated"
        bdm = []
        for v in sorted(self.volumes.values(), key=lambda v: v.seq):
            a = v.attachment
            if alive and a and a["instance"] == i.id:
                bdm.append({"deviceName": a["device"], "ebs": {
                    "volumeId": v.id, "status": a["status"],
                    "attachTime": iso(a["time"]),
                    "deleteOnTermination": v.root}})
        enis = [] if not alive else [{
            "networkInterfaceId": i.eni, "subnetId": i.subnet_id,
            "vpcId": VPC_ID, "description": "", "ownerId": ACCOUNT,
            "status": "in-use", "macAddress": i.mac,
            "privateIpAddress": i.private_ip, "privateDnsName": dns,
            "sourceDestCheck": True,
            "groupSet": [{"groupId": g, "groupName": g} for g in i.sg_ids],
            "attachment": {"attachmentId": "eni-attach-" + i.eni[4:],
                           "deviceIndex": 0, "status": "attached",
                           "attachTime": iso(i.launch_time),
                           "deleteOnTermination": True},
            "privateIpAddressesSet": [{"privateIpAddress": i.private_ip,
                                       "privateDnsName": dns,
                                       "primary": True}],
            "interfaceType": "interface"}]
        return {
            "instanceId": i.id, "imageId": i.image_id,
            "instanceState": {"code": STATE_CODES[i.state], "name": i.state},
            # A terminated instance has lost its address and its name.
            "privateDnsName": dns if alive else "", "dnsName": "",
            "reason": i.reason,
            "keyName": i.key_name, "amiLaunchIndex": i.launch_index,
            "productCodes": [], "instanceType": i.instance_type,
            "launchTime": iso(i.launch_time),
            "placement": {"availabilityZone": i.az, "groupName": "",
                          "tenancy": "default"},
            "monitoring": {"state": "disabled"},
            "subnetId": i.subnet_id if alive else None,
            "vpcId": VPC_ID if alive else None,
            "privateIpAddress": i.private_ip if alive else None,
            "sourceDestCheck": True,
            "groupSet": [{"groupId": g, "groupName": g} for g in i.sg_ids],
            "stateReason": None if i.state_reason is None else {
                "code": i.state_reason[0], "message": i.state_reason[1]},
            "architecture": "x86_64", "rootDeviceType": "ebs",
            "rootDeviceName": "/dev/xvda", "blockDeviceMapping": bdm,
            "virtualizationType": "hvm", "clientToken": i.client_token,
            "tagSet": tag_set(i.tags) if i.tags else None,
            "hypervisor": "xen",
            "iamInstanceProfile": None if not i.iam_arn else {
                "arn": i.iam_arn, "id": "AIPA" + hashlib.sha1(
                    i.iam_arn.encode()).hexdigest()[:17].upper()},
            "networkInterfaceSet": enis, "ebsOptimized": False,
            "enaSupport": True,
            "metadataOptions": {"state": "applied",
                                "httpTokens": i.http_tokens,
                                "httpPutResponseHopLimit": i.hop_limit,
                                "httpEndpoint": i.http_endpoint,
                                "httpProtocolIpv6": "disabled",
                                "instanceMetadataTags": "disabled"}}

    def reservation_xml(self, insts):
        return {"reservationId": insts[0].reservation_id, "ownerId": ACCOUNT,
                "groupSet": [],
                "instancesSet": [self.instance_xml(i) for i in insts]}

    # ================================================================ actions
    def DescribeInstances(self, p):
        ids = indexed(p, "InstanceId")
        insts = self.get_instances(ids) if ids else sorted(
            (i for i in self.instances.values() if self.visible(i) and
             not self.fresh(i, self.listing_lag)),
            key=lambda i: i.seq)
        insts = sorted(insts, key=lambda i: i.seq)
        for name, values in parse_filters(p):
            insts = [i for i in insts if any(
                wildcard(v, c) for v in values
                for c in self.instance_field(i, name))]
        page, nxt = self.paginate(insts, p, ids, 5, 1000, "instancesSet", "i")
        reservations = {}
        for i in page:  # group the page by reservation, keeping order
            reservations.setdefault(i.reservation_id, []).append(i)
        return {"reservationSet": [self.reservation_xml(r)
                                   for r in reservations.values()],
                "nextToken": nxt}

    def instance_field(self, i, name):
        t = tag_filter(name, i.tags)
        if t is not None:
            return t
        ip = i.private_ip if i.state != "terminated" else None
        fields = {
            "instance-id": i.id, "instance-state-name": i.state,
            "instance-state-code": STATE_CODES[i.state],
            "private-ip-address": ip,
            "network-interface.addresses.private-ip-address": ip,
            "availability-zone": i.az, "subnet-id": i.subnet_id,
            "vpc-id": VPC_ID, "image-id": i.image_id,
            "instance-type": i.instance_type, "key-name": i.key_name,
            "client-token": i.client_token, "reservation-id": i.reservation_id,
            "iam-instance-profile.arn": i.iam_arn,
            "metadata-options.http-tokens": i.http_tokens}
        if name not in fields:
            raise EC2Error("InvalidParameterValue",
                           "The filter '%s' is invalid" % name)
        return [fields[name]] if fields[name] is not None else []

    def RunInstances(self, p):
        token, prev = self.idempotent("RunInstances", p)
        if prev is not None:
            insts = [i for i in sorted(self.instances.values(),
                                       key=lambda i: i.seq)
                     if i.reservation_id == prev]
            if all(i.state == "terminated" for i in insts):
                raise EC2Error("IdempotentInstanceTerminated", "The client "
                               "token you have provided is associated with a "
                               "terminated instance. Please use a different "
                               "client token.")
            return self.reservation_xml(insts)
        minc = int_param(p, "MinCount")
        maxc = int_param(p, "MaxCount")
        if minc is None:
            require(p, "MinCount")
        if maxc is None:
            require(p, "MaxCount")
        if minc < 1 or maxc < minc:
            raise EC2Error("InvalidParameterValue", "Value (%s) for parameter "
                           "minCount is invalid. Expected a value between 1 "
                           "and maxCount." % minc)
        lt = tpl = None
        if any(k.startswith("LaunchTemplate.") for k in p):
            lt_id = p.get("LaunchTemplate.LaunchTemplateId")
            lt_name = p.get("LaunchTemplate.LaunchTemplateName")
            if bool(lt_id) == bool(lt_name):
                raise EC2Error("InvalidParameterCombination", "A launch "
                               "template ID or name must be specified, but "
                               "not both.")
            if lt_id and not re.fullmatch(r"lt-[0-9a-f]{8,17}", lt_id):
                raise EC2Error("InvalidLaunchTemplateId.Malformed",
                               "The specified ID for the launch template ID "
                               "is not valid: %s" % lt_id)
            tpl = self.find_template(lt_id, lt_name)
            version = p.get("LaunchTemplate.Version", "$Default")
            if tpl is not None:
                # A seeded template (POST /_fake/launch-templates): one
                # version, whose contents fill what the launch leaves out.
                if version in ("$Default", "$Latest"):
                    version = tpl["version"]
                if version != tpl["version"]:
                    raise EC2Error("InvalidLaunchTemplateId.VersionNotFound",
                                   "Could not find launch template version "
                                   "%s for launch template %s" % (
                                       version, tpl["id"]))
                lt = {"id": tpl["id"], "version": version}
            else:
                # Not seeded: any id/name is accepted, with no contents.
                lt = {"id": lt_id or "lt-" + hashlib.sha1(
                    lt_name.encode()).hexdigest()[:17],
                    "version": "1" if version in ("$Default", "$Latest")
                    else version}
        ltd = tpl or {}
        image = p.get("ImageId") or ltd.get("image_id")
        if image is None and lt is None:
            require(p, "ImageId")
        if image is not None and not re.fullmatch(r"ami-[0-9a-f]{8,17}", image):
            raise EC2Error("InvalidAMIID.Malformed",
                           'Invalid id: "%s" (expecting "ami-...")' % image)
        # Placement: subnet, availability zone, address.
        subnet_id = p.get("SubnetId")
        az = p.get("Placement.AvailabilityZone")
        ip = p.get("PrivateIpAddress")
        if az:
            self.check_az(az)
        if subnet_id:
            if subnet_id not in self.subnets:
                raise EC2Error("InvalidSubnetID.NotFound", "The subnet ID "
                               "'%s' does not exist" % subnet_id)
            if az and self.subnets[subnet_id]["az"] != az:
                raise EC2Error("InvalidParameterValue", "Value (%s) for "
                               "parameter availabilityZone is invalid. Subnet "
                               "'%s' is in the availability zone %s" % (
                                   az, subnet_id,
                                   self.subnets[subnet_id]["az"]))
        if ip is not None:
            try:
                ipaddress.IPv4Address(ip)
            except ValueError:
                raise EC2Error("InvalidParameterValue", "Invalid value '%s' "
                               "for privateIpAddress" % ip)
            if maxc > 1:
                raise EC2Error("InvalidParameterCombination", "Cannot specify "
                               "a private IP address when launching more than "
                               "one instance")
            if not subnet_id:  # default VPC: the subnet holding the address
                subnet_id = self.find_subnet_for_ip(ip)
                if subnet_id is None or (az and self.subnets[subnet_id]["az"]
                                         != az):
                    raise EC2Error("InvalidParameterValue", "Address %s does "
                                   "not fall within the subnet's address "
                                   "range" % ip)
            if not self.usable(subnet_id, ip):
                raise EC2Error("InvalidParameterValue", "Address %s does not "
                               "fall within the subnet's address range" % ip)
            # The address stays held until the old instance is terminated
            # (shutting-down, stopping and stopped instances still hold it).
            if self.ip_in_use(ip):
                raise EC2Error("InvalidIPAddress.InUse",
                               "Address %s is in use." % ip)
        if not subnet_id:
            subnet_id = next((s for s, v in self.subnets.items()
                              if not az or v["az"] == az))
        # Tags for the instances.
        specs = self.parse_tag_specs(p, "instance", "volume", "network-interface")
        tags, volume_tags = specs["instance"], specs["volume"]
        if lt:
            tags["aws:ec2launchtemplate:id"] = lt["id"]
            tags["aws:ec2launchtemplate:version"] = lt["version"]
        user_data = None
        if p.get("UserData") is not None:
            try:
                user_data = base64.b64decode(p["UserData"], validate=True)
            except binascii.Error:
                raise EC2Error("InvalidParameterValue",
                               "Invalid BASE64 encoding of user data.")
            if len(user_data) > 16384:
                raise EC2Error("InvalidParameterValue", "User data is limited "
                               "to 16384 bytes")
        http_tokens = p.get("MetadataOptions.HttpTokens",
                            ltd.get("http_tokens", "optional"))
        if http_tokens not in ("optional", "required"):
            raise EC2Error("InvalidParameterValue", "Value (%s) for parameter "
                           "HttpTokens is invalid." % http_tokens)
        hop = int_param(p, "MetadataOptions.HttpPutResponseHopLimit",
                        int(ltd.get("hop_limit", 1)))
        if not 1 <= hop <= 64:
            raise EC2Error("InvalidParameterValue", "Value (%d) for parameter "
                           "HttpPutResponseHopLimit is invalid. Expecting a "
                           "value between 1 and 64." % hop)
        sgs = indexed(p, "SecurityGroupId")
        for g in sgs:
            if not re.fullmatch(r"sg-[0-9a-f]{8,17}", g):
                raise EC2Error("InvalidGroupId.Malformed",
                               "Invalid id: \"%s\"" % g)
        if p.get("IamInstanceProfile.Arn") or \
                p.get("IamInstanceProfile.Name"):
            iam_arn = self.check_profile(p.get("IamInstanceProfile.Arn"),
                                         p.get("IamInstanceProfile.Name"))
        else:  # the template's profile, checked at launch as EC2 does
            tp = ltd.get("iam_instance_profile") or ""
            iam_arn = self.check_profile(*((tp, None) if tp.startswith(
                "arn:") else (None, tp)))
        if p.get("DisableApiTermination") == "true":
            pass  # accepted, not modelled
        # Create.
        rid = hexid("r")
        now = self.now()
        az = self.subnets[subnet_id]["az"]
        created = []
        for n in range(maxc):
            inst = Instance(
                id=hexid("i"), seq=self.next_seq(), reservation_id=rid,
                state="pending", due=now + self.args.pending_delay,
                launch_time=now, subnet_id=subnet_id, az=az,
                private_ip=ip if ip else self.auto_ip(subnet_id),
                ip_auto=not ip,
                image_id=image or "ami-0abcdef1234567890",
                instance_type=p.get("InstanceType",
                                    ltd.get("instance_type", "m1.small")),
                key_name=p.get("KeyName"), tags=dict(tags), sg_ids=sgs,
                iam_arn=iam_arn, user_data=user_data,
                http_tokens=http_tokens, hop_limit=hop,
                http_endpoint=p.get("MetadataOptions.HttpEndpoint",
                                    "enabled"),
                client_token=token or "", launch_index=n,
                launch_template=lt, state_reason=("pending", "pending"),
                api_launched=True)
            self.instances[inst.id] = inst
            created.append(inst)
            self.emit("instance-pending", inst.id, inst.private_ip, inst.az)
            self.add_root_volume(inst, volume_tags)
        self.remember("RunInstances", token, p, rid)
        return self.reservation_xml(created)

    def find_template(self, lt_id, lt_name):
        for t in self.launch_templates.values():
            if (lt_id and t["id"] == lt_id) or \
                    (lt_name and t["name"] == lt_name):
                return t
        return None

    @staticmethod
    def profile_names(names_or_arns):
        return [str(n).rpartition("/")[2] if str(n).startswith("arn:")
                else str(n) for n in names_or_arns]

    def profile_arn(self, name):
        return "arn:aws:iam::%s:instance-profile/%s" % (ACCOUNT, name)

    def check_profile(self, arn, name):
        """IamInstanceProfile must name a profile that exists."""
        if arn:
            m = re.fullmatch(r"arn:aws:iam::(\d{12}):instance-profile/"
                             r"(?:[\w+=,.@-]+/)*([\w+=,.@-]+)", arn)
            if not m or m.group(1) != ACCOUNT or \
                    m.group(2) not in self.profiles:
                raise EC2Error("InvalidParameterValue", "Value (%s) for "
                               "parameter iamInstanceProfile.arn is invalid. "
                               "Invalid IAM Instance Profile ARN" % arn)
            return arn
        if name:
            if name not in self.profiles:
                raise EC2Error("InvalidParameterValue", "Value (%s) for "
                               "parameter iamInstanceProfile.name is invalid. "
                               "Invalid IAM Instance Profile name" % name)
            return self.profile_arn(name)
        return None

    def add_root_volume(self, inst, tags):
        """The EBS root volume RunInstances creates: /dev/xvda, attached from
        the start, DeleteOnTermination, with the 'volume' TagSpecification."""
        vol = Volume(id=hexid("vol"), seq=self.next_seq(), az=inst.az, size=8,
                     state="in-use", due=None, created=inst.launch_time,
                     volume_type="gp3", iops=3000, throughput=125,
                     snapshot_id="snap-0123456789abcdef0", tags=dict(tags),
                     root=True)
        vol.attachment = {"instance": inst.id, "device": "/dev/xvda",
                          "status": "attached", "time": inst.launch_time,
                          "due": None, "was_attached": True}
        self.volumes[vol.id] = vol
        self.emit("volume-attached", vol.id, inst.id, "/dev/xvda", hook=False)

    def TerminateInstances(self, p):
        ids = indexed(p, "InstanceId")
        if not ids:
            require(p, "InstanceId.1", "InstanceId")
        changes = []
        for inst in self.get_instances(ids):
            prev = inst.state
            if inst.state in ("pending", "running", "stopping", "stopped"):
                self.begin_shutdown(inst)
            changes.append({"instanceId": inst.id, "currentState": {
                "code": STATE_CODES[inst.state], "name": inst.state},
                "previousState": {"code": STATE_CODES[prev], "name": prev}})
        return {"instancesSet": changes}
