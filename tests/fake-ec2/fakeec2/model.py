"""The EC2 resources the fake keeps: Instance, Volume and CidrReservation
(plain records; the rules that change them live in state.py and ec2_*.py).
dump() is their form in GET /_fake/state and the control API answers."""

import base64
import ipaddress
import secrets

from .common import iso
class Instance:
    def __init__(self, **kw):
        self.tags = {}
        self.sg_ids = []
        self.iam_arn = None
        self.user_data = None
        self.http_tokens = "required"
        self.hop_limit = 1
        self.http_endpoint = "enabled"
        self.client_token = ""
        self.key_name = None
        self.launch_index = 0
        self.launch_template = None
        self.ip_auto = False        # the address was assigned automatically
        self.ever_running = False
        self.terminated_at = None
        self.shutdown_delay = None  # per-instance override of the option
        self.shutdown_started = None
        self.stuck = False          # shutting-down until released
        self.api_launched = False   # by RunInstances (eventual consistency)
        self.state_reason = None
        self.reason = ""
        self.image_id = "ami-0abcdef1234567890"
        self.instance_type = "t3.micro"
        self.__dict__.update(kw)
        self.eni = "eni-" + secrets.token_hex(9)[:17]
        self.mac = "0e:%s" % ":".join(secrets.token_hex(1) for _ in range(5))

    def dump(self):
        return {"id": self.id, "state": self.state,
                "private_ip": self.private_ip, "az": self.az,
                "subnet": self.subnet_id, "tags": dict(self.tags),
                "reservation": self.reservation_id,
                "client_token": self.client_token,
                "image_id": self.image_id, "instance_type": self.instance_type,
                "launch_time": iso(self.launch_time),
                "http_tokens": self.http_tokens,
                "hop_limit": self.hop_limit,
                "iam_instance_profile": self.iam_arn,
                "security_groups": list(self.sg_ids),
                "key_name": self.key_name,
                "launch_template": self.launch_template,
                "shutdown_delay": self.shutdown_delay, "stuck": self.stuck,
                "user_data": (base64.b64encode(self.user_data).decode()
                              if self.user_data is not None else None)}


class Volume:
    def __init__(self, **kw):
        self.tags = {}
        self.attachment = None  # dict(instance, device, status, time, due)
        # EBS Multi-Attach, seeded only: more attachments, each dict(instance,
        # device, status, time), shown after the one above.
        self.multi = []
        self.volume_type = "gp2"
        self.iops = None
        self.throughput = None
        self.snapshot_id = ""
        self.encrypted = False
        self.kms_key_id = None  # None: EC2's default key (when encrypted)
        self.root = False  # an instance's root volume (DeleteOnTermination)
        self.__dict__.update(kw)

    def dump(self):
        a = self.attachment
        return {"id": self.id, "az": self.az, "size": self.size,
                "state": self.state, "type": self.volume_type,
                "encrypted": self.encrypted, "kms_key_id": self.kms_key_id,
                "tags": dict(self.tags), "root": self.root,
                "attachment": None if a is None else {
                    "instance": a["instance"], "device": a["device"],
                    "status": a["status"]}}


class CidrReservation:
    """A subnet CIDR reservation (CreateSubnetCidrReservation)."""

    def __init__(self, **kw):
        self.description = ""
        self.tags = {}
        self.__dict__.update(kw)

    def net(self):
        return ipaddress.ip_network(self.cidr)

    def dump(self):
        return {"id": self.id, "subnet": self.subnet_id, "cidr": self.cidr,
                "type": self.type, "description": self.description,
                "tags": dict(self.tags)}
