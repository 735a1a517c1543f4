"""IMDS: the instance metadata service (/latest/...): IMDSv2 tokens,
meta-data, user-data, the identity document and role credentials (which
rotate, and which the EC2 endpoint accepts until they expire).  The caller's
instance is found by its source address."""

import base64
import json
import secrets
import time
from urllib.parse import urlsplit

from .common import ACCOUNT, TOKEN_TTL_MAX, TOKEN_TTL_MIN, iso


class IMDS:
    def imds_instance(self, source):
        with self.lock:
            self.tick()
            iid = self.imds_map.get(source)
            if iid is not None:
                inst = self.instances.get(iid)
                return inst if inst and inst.state != "terminated" else None
            for inst in sorted(self.instances.values(), key=lambda i: -i.seq):
                if inst.private_ip == source and inst.state != "terminated":
                    return inst
        return None

    def issue_credentials(self, inst):
        """Role credentials rotate like IMDS does: the same ones are served
        until they come within min(5 min, ttl/2) of expiring, then new ones.
        Old ones stay valid for the EC2 endpoint until they expire."""
        now = time.time()
        ttl = self.cred_ttl
        cur = self.temp_creds.get(self.current_creds.get(inst.id))
        if cur is None or cur["expiration"] - now < min(300, ttl / 2):
            for k in [k for k, c in self.temp_creds.items()
                      if c["expiration"] < now - 3600]:
                del self.temp_creds[k]
            akid = "ASIA" + "".join(secrets.choice(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
            cur = {"akid": akid, "secret": secrets.token_urlsafe(30)[:40],
                   "token": base64.b64encode(secrets.token_bytes(240)).decode(),
                   "expiration": now + ttl, "issued": now,
                   "instance": inst.id}
            self.temp_creds[akid] = cur
            self.current_creds[inst.id] = akid
        return {"Code": "Success", "LastUpdated": iso(cur["issued"], False),
                "Type": "AWS-HMAC", "AccessKeyId": cur["akid"],
                "SecretAccessKey": cur["secret"], "Token": cur["token"],
                "Expiration": iso(cur["expiration"], False)}

    def handle_imds(self, h):
        path = urlsplit(h.path).path
        source = h.client_address[0]
        fault = self.take_fault("IMDS")
        if fault:
            if fault.get("latency"):
                time.sleep(float(fault["latency"]))
            if fault.get("code") or fault.get("status"):
                return int(fault.get("status") or 500), "text/plain", \
                    b"Internal Server Error"
        if h.command == "PUT":
            if path != "/latest/api/token":
                return 404, "text/plain", b"Not Found"
            # The real IMDS refuses token requests that went through a proxy.
            if h.headers.get("X-Forwarded-For") is not None:
                return 403, "text/plain", b"Forbidden"
            try:
                ttl = int(h.headers.get("X-aws-ec2-metadata-token-ttl-seconds"))
            except (TypeError, ValueError):
                return 400, "text/plain", b"Bad Request"
            if not TOKEN_TTL_MIN <= ttl <= TOKEN_TTL_MAX:
                return 400, "text/plain", b"Bad Request"
            inst = self.imds_instance(source)
            if inst is None:
                return 404, "text/plain", b"Not Found"
            token = base64.urlsafe_b64encode(secrets.token_bytes(42)).decode()
            with self.lock:
                now = time.time()
                for t in [t for t, v in self.imds_tokens.items()
                          if v[1] < now]:
                    del self.imds_tokens[t]
                self.imds_tokens[token] = (inst.id, now + ttl)
            h.extra_headers = {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)}
            return 200, "text/plain", token.encode()
        inst = self.imds_instance(source)
        if inst is None:
            return 404, "text/plain", b"Not Found"
        token = h.headers.get("X-aws-ec2-metadata-token")
        with self.lock:
            if token is not None:
                t = self.imds_tokens.get(token)
                if t is None or t[0] != inst.id or t[1] < time.time():
                    return 401, "text/plain", b"Unauthorized"
            elif inst.http_tokens == "required":
                return 401, "text/plain", b"Unauthorized"
            return self.imds_get(inst, path)

    def imds_get(self, inst, path):
        text = lambda s: (200, "text/plain", s.encode())
        jsn = lambda d: (200, "text/plain", json.dumps(d, indent=2).encode())
        md = "/latest/meta-data/"
        if path == "/latest/user-data":
            data = self.user_data.get(inst.id, inst.user_data)
            if data is None:
                return 404, "text/plain", b"Not Found"
            return 200, "application/octet-stream", data
        if path in ("/latest/dynamic/instance-identity/document",):
            return jsn({"accountId": ACCOUNT, "architecture": "x86_64",
                        "availabilityZone": inst.az, "billingProducts": None,
                        "devpayProductCodes": None,
                        "marketplaceProductCodes": None,
                        "imageId": inst.image_id, "instanceId": inst.id,
                        "instanceType": inst.instance_type, "kernelId": None,
                        "pendingTime": iso(inst.launch_time, False),
                        "privateIp": inst.private_ip, "ramdiskId": None,
                        "region": self.region, "version": "2017-09-30"})
        if path in ("/latest/dynamic/instance-identity/",
                    "/latest/dynamic/instance-identity"):
            return text("document")
        if not path.startswith(md) and path != md[:-1]:
            return 404, "text/plain", b"Not Found"
        key = path[len(md):]
        host = self.hostname(inst)
        simple = {"instance-id": inst.id, "ami-id": inst.image_id,
                  "instance-type": inst.instance_type,
                  "local-ipv4": inst.private_ip, "local-hostname": host,
                  "hostname": host, "mac": inst.mac,
                  "reservation-id": inst.reservation_id,
                  "placement/availability-zone": inst.az,
                  "placement/region": self.region,
                  "placement/": "availability-zone\nregion",
                  "security-groups": "\n".join(inst.sg_ids)}
        if key in ("", "/") or path == md[:-1]:
            # iam/ is listed only for an instance with a profile, as in EC2
            return text("\n".join(["ami-id", "hostname"] + (
                ["iam/"] if self.instance_role(inst) else []) + [
                    "instance-id", "instance-type", "local-hostname",
                    "local-ipv4", "mac", "placement/", "reservation-id",
                    "security-groups"]))
        if key in simple:
            return text(simple[key])
        if not self.instance_role(inst):  # no (existing) instance profile
            return 404, "text/plain", b"Not Found"
        if key == "iam/":
            return text("info\nsecurity-credentials/")
        if key == "iam/info":
            return jsn({"Code": "Success",
                        "LastUpdated": iso(time.time(), False),
                        "InstanceProfileArn": inst.iam_arn,
                        "InstanceProfileId": "AIPAFAKEFAKEFAKEFAKE"})
        if key in ("iam/security-credentials/", "iam/security-credentials"):
            return text(self.role)
        if key == "iam/security-credentials/" + self.role:
            return jsn(self.issue_credentials(inst))
        return 404, "text/plain", b"Not Found"

    def instance_role(self, inst):
        """The role an instance gets credentials for: only an instance
        launched with an instance profile that (still) exists has one."""
        if not inst.iam_arn or not self.role:
            return None
        name = inst.iam_arn.rpartition("/")[2]
        return self.role if name in self.profiles else None
