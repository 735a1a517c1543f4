"""VolumeActions: DescribeVolumes, CreateVolume, AttachVolume and
DetachVolume, and their XML."""

import re

from .common import VOLUME_TYPES, EC2Error, hexid, iso, tag_set
from .model import Volume
from .params import indexed, int_param, parse_filters, require, tag_filter, \
    wildcard


class VolumeActions:
    def attachment_xml(self, v, a):
        return {"volumeId": v.id, "instanceId": a["instance"],
                "device": a["device"], "status": a["status"],
                "attachTime": iso(a["time"]), "deleteOnTermination": v.root}

    def volume_xml(self, v):
        a = v.attachment
        return {"volumeId": v.id, "size": v.size,
                "snapshotId": v.snapshot_id,
                "availabilityZone": v.az, "status": v.state,
                "createTime": iso(v.created),
                "attachmentSet": ([self.attachment_xml(v, a)] if a else []) +
                                 [self.attachment_xml(v, m) for m in v.multi],
                "volumeType": v.volume_type, "iops": v.iops,
                "throughput": v.throughput,
                "tagSet": tag_set(v.tags) if v.tags else None,
                "encrypted": v.encrypted, "multiAttachEnabled": bool(v.multi)}

    def DescribeVolumes(self, p):
        ids = indexed(p, "VolumeId")
        vols = self.get_volumes(ids) if ids else list(self.volumes.values())
        vols = sorted(vols, key=lambda v: v.seq)
        for name, values in parse_filters(p):
            vols = [v for v in vols if any(
                wildcard(x, c) for x in values
                for c in self.volume_field(v, name))]
        page, nxt = self.paginate(vols, p, ids, 5, 500, "volumeSet", "v",
                                  clamp=True)
        return {"volumeSet": [self.volume_xml(v) for v in page],
                "nextToken": nxt}

    def volume_field(self, v, name):
        t = tag_filter(name, v.tags)
        if t is not None:
            return t
        a = v.attachment or {}
        fields = {"volume-id": v.id, "status": v.state,
                  "availability-zone": v.az, "size": v.size,
                  "volume-type": v.volume_type,
                  "attachment.instance-id": a.get("instance"),
                  "attachment.device": a.get("device"),
                  "attachment.status": a.get("status"),
                  "attachment.delete-on-termination":
                      ("true" if v.root else "false") if a else None,
                  "snapshot-id": v.snapshot_id,
                  "encrypted": "true" if v.encrypted else "false"}
        if name not in fields:
            raise EC2Error("InvalidParameterValue",
                           "The filter '%s' is invalid" % name)
        return [fields[name]] if fields[name] is not None else []

    def CreateVolume(self, p):
        token, prev = self.idempotent("CreateVolume", p)
        if prev is not None:
            return self.volume_xml(self.volumes[prev])
        az = require(p, "AvailabilityZone")
        self.check_az(az)
        vtype = p.get("VolumeType", "gp2")
        if vtype not in VOLUME_TYPES:
            raise EC2Error("InvalidParameterValue", "Value (%s) for parameter "
                           "volumeType is invalid. Valid values: %s" % (
                               vtype, ", ".join(VOLUME_TYPES)))
        size = int_param(p, "Size")
        if size is None and not p.get("SnapshotId"):
            raise EC2Error("MissingParameter", "The request must contain the "
                           "parameter size or snapshotId")
        if size is None:
            size = 8  # snapshots are not modelled: assume an 8 GiB snapshot
        lo, hi = VOLUME_TYPES[vtype]
        if not lo <= size <= hi:
            raise EC2Error("InvalidParameterValue", "Volume of %d GiB is "
                           "%s for %s volumes (%d..%d GiB)." % (
                               size, "too small" if size < lo else "too large",
                               vtype, lo, hi))
        if p.get("KmsKeyId") and p.get("Encrypted") != "true":
            raise EC2Error("InvalidParameterDependency", "The parameter "
                           "KmsKeyId requires the parameter Encrypted to be set.")
        iops = int_param(p, "Iops")
        if vtype in ("io1", "io2") and iops is None:
            require(p, "Iops")
        if iops is None:
            iops = {"gp3": 3000, "gp2": min(16000, max(100, 3 * size))}.get(
                vtype)
        tags = self.parse_tag_specs(p, "volume")["volume"]
        now = self.now()
        vol = Volume(id=hexid("vol"), seq=self.next_seq(), az=az, size=size,
                     state="creating", due=now + self.args.pending_delay,
                     created=now, volume_type=vtype, iops=iops,
                     throughput=int_param(p, "Throughput", 125)
                     if vtype == "gp3" else None,
                     snapshot_id=p.get("SnapshotId", ""),
                     encrypted=p.get("Encrypted") == "true",
                     kms_key_id=p.get("KmsKeyId") or None, tags=tags)
        self.volumes[vol.id] = vol
        self.emit("volume-creating", vol.id, az)
        self.remember("CreateVolume", token, p, vol.id)
        return self.volume_xml(vol)

    def AttachVolume(self, p):
        vid = require(p, "VolumeId")
        iid = require(p, "InstanceId")
        device = require(p, "Device")
        vol = self.get_volumes([vid])[0]
        inst = self.get_instances([iid])[0]
        if not re.fullmatch(r"/dev/(sd[b-z]|xvd[b-z]|xvd[b-c][a-z]|sd[b-z]"
                            r"[1-9]|sd[b-z]1[0-5])", device):
            raise EC2Error("InvalidParameterValue", "Value (%s) for parameter "
                           "device is invalid. %s is not a valid EBS device "
                           "name." % (device, device))
        if inst.state not in ("running", "stopped"):
            raise EC2Error("IncorrectState", "Instance '%s' is not "
                           "'running'." % iid)
        if vol.state == "in-use":
            raise EC2Error("VolumeInUse", "%s is already attached to an "
                           "instance" % vid)
        if vol.state != "available":
            raise EC2Error("IncorrectState", "Volume '%s' is not "
                           "'available'." % vid)
        if vol.az != inst.az:
            raise EC2Error("InvalidVolume.ZoneMismatch", "The volume '%s' is "
                           "not in the same availability zone as instance "
                           "'%s'" % (vid, iid))
        # /dev/sdX and /dev/xvdX name the same attachment point.
        norm = lambda d: re.sub(r"^/dev/(xvd|sd)", "/dev/sd", d)
        used = {norm("/dev/xvda")} | {
            norm(v.attachment["device"]) for v in self.volumes.values()
            if v.attachment and v.attachment["instance"] == iid}
        if norm(device) in used:
            raise EC2Error("InvalidParameterValue", "Invalid value '%s' for "
                           "unixDevice. Attachment point %s is already in use"
                           % (device, device))
        now = self.now()
        vol.state = "in-use"
        vol.attachment = {"instance": iid, "device": device,
                          "status": "attaching", "time": now,
                          "due": now + self.args.pending_delay}
        self.emit("volume-attaching", vid, iid, device)
        return self.attachment_xml(vol, vol.attachment)

    def DetachVolume(self, p):
        vid = require(p, "VolumeId")
        vol = self.get_volumes([vid])[0]
        a = vol.attachment
        if a is None:
            raise EC2Error("IncorrectState", "Volume '%s' is in the '%s' "
                           "state." % (vid, vol.state))
        if p.get("InstanceId") and p["InstanceId"] != a["instance"]:
            raise EC2Error("InvalidAttachment.NotFound", "The volume '%s' is "
                           "not attached to instance '%s'" % (
                               vid, p["InstanceId"]))
        if p.get("Device") and p["Device"] != a["device"]:
            raise EC2Error("InvalidAttachment.NotFound", "The volume '%s' is "
                           "not attached at device '%s'" % (vid, p["Device"]))
        inst = self.instances.get(a["instance"])
        if inst is not None and inst.state in ("shutting-down",
                                               "terminated"):
            raise EC2Error("IncorrectInstanceState", "Unable to detach volume "
                           "attached to EC2 instance '%s'. The instance is not "
                           "in a state in which volumes can be detached."
                           % a["instance"])
        if vol.root and (inst is None or inst.state != "stopped"):
            raise EC2Error("IncorrectState", "Unable to detach root volume "
                           "'%s' from instance '%s'" % (vid, a["instance"]))
        if a["status"] != "detaching":
            a["was_attached"] = a["status"] == "attached"
            a["status"] = "detaching"
            a["due"] = self.now() + self.args.pending_delay
            self.emit("volume-detaching", vid, a["instance"])
        return self.attachment_xml(vol, a)
