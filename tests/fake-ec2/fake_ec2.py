#!/usr/bin/python3
"""fake-ec2: a faithful fake of the EC2 Query API and of IMDSv2, for tests.

One process, one port (ThreadingHTTPServer):

  POST /              EC2 Query API (Action=..., Version=2016-11-15), SigV4
                      verified with botocore, answers in EC2's XML.
  /latest/...         IMDSv2 (token PUT, meta-data, user-data, identity doc,
                      role credentials); the instance is found by the caller's
                      source address.
  /nocloud/...        cloud-init NoCloud seed (meta-data, user-data,
                      vendor-data) for the caller's instance, same lookup.
  /_fake/...          unsigned JSON control API for tests (seed, faults, clock,
                      call log, state dump).  See README.md.

Only the Python standard library and Debian's python3-botocore are used.  Run
with /usr/bin/python3.  It listens where --listen says and never connects
anywhere (hooks are local commands).

Two clocks:
  * the *lifecycle* clock (pending->running, shutting-down->terminated, volume
    attach/detach, terminated TTL) is real time plus an offset that tests can
    advance with POST /_fake/time;
  * SigV4 skew, IMDS token lifetime and credential expiry use the real clock,
    because the clients compare them with their own real clocks.
"""

import argparse
import base64
import binascii
import datetime
import fnmatch
import hashlib
import hmac
import ipaddress
import json
import os
import queue
import re
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
ACCOUNT = "123456789012"
VPC_ID = "vpc-0a1b2c3d"
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32,
               "terminated": 48, "stopping": 64, "stopped": 80}
ALIVE = ("pending", "running", "stopping", "stopped", "shutting-down")
LOGICAL_ID_TAG = "swarmkeeper:logical-id"
ROLE_TAG = "swarmkeeper:role"
# Query parameters that carry secrets or bulk data: never written to a log.
UNLOGGED_PARAMS = ("UserData", "Signature", "SecurityToken",
                   "X-Amz-Security-Token", "X-Amz-Signature")
VOLUME_TYPES = {  # volume type -> (min, max) size in GiB
    "standard": (1, 1024), "gp2": (1, 16384), "gp3": (1, 16384),
    "io1": (4, 16384), "io2": (4, 16384), "st1": (125, 16384),
    "sc1": (125, 16384)}
# Default HTTP status of error codes injected through /_fake/faults.
FAULT_STATUS = {"RequestLimitExceeded": 503, "ServiceUnavailable": 503,
                "UnauthorizedOperation": 403,
                "Unavailable": 503, "InternalError": 500,
                "InsufficientInstanceCapacity": 500,
                "InsufficientAddressCapacity": 500,
                "InsufficientVolumeCapacity": 500}
FAULT_MESSAGE = {
    "RequestLimitExceeded": "Request limit exceeded.",
    "InsufficientInstanceCapacity":
        "We currently do not have sufficient capacity in the Availability "
        "Zone you requested. Our system will be working on provisioning "
        "additional capacity.",
    "InternalError": "An internal error has occurred",
    "ServiceUnavailable": "The service is unavailable. Try again later.",
    "Unavailable": "The server is overloaded and can't handle the request."}
# IMDS token lifetime bounds (seconds), as documented for IMDSv2.
TOKEN_TTL_MIN, TOKEN_TTL_MAX = 1, 21600


def log(msg):
    sys.stderr.write("fake-ec2: %s\n" % msg)
    sys.stderr.flush()


def iso(ts, millis=True):
    """EC2 timestamp format: 2016-11-15T12:34:56.000Z."""
    d = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    if millis:
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def hexid(prefix):
    return prefix + "-" + secrets.token_hex(9)[:17]


class EC2Error(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def to_xml(value):
    """dict -> child elements (None values left out), list -> <item>s."""
    if isinstance(value, dict):
        return "".join("<%s>%s</%s>" % (k, to_xml(v), k)
                       for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return "".join("<item>%s</item>" % to_xml(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def tag_set(tags):
    return [{"key": k, "value": v} for k, v in tags.items()]


# ---------------------------------------------------------------- parameters
def indexed(params, prefix):
    """Query API lists: Prefix.1=a&Prefix.2=b -> [a, b]; Prefix.1.Sub=x ->
    [{'Sub': x}].  Ordered by index."""
    groups = {}
    for key, val in params.items():
        if not key.startswith(prefix + "."):
            continue
        idx, _, sub = key[len(prefix) + 1:].partition(".")
        if not idx.isdigit():
            continue
        if sub:
            g = groups.setdefault(int(idx), {})
            if isinstance(g, dict):
                g[sub] = val
        else:
            groups[int(idx)] = val
    return [groups[i] for i in sorted(groups)]


def require(params, name, wire_name=None):
    val = params.get(name)
    if val is None or val == "":
        raise EC2Error("MissingParameter", "The request must contain the "
                       "parameter %s" % (wire_name or name))
    return val


def int_param(params, name, default=None):
    val = params.get(name)
    if val is None:
        return default
    try:
        return int(val)
    except ValueError:
        raise EC2Error("InvalidParameterValue", "Value (%s) for parameter %s "
                       "is invalid. Expected an integer." % (val, name))


def parse_filters(params):
    out = []
    for f in indexed(params, "Filter"):
        if not isinstance(f, dict) or not f.get("Name"):
            raise EC2Error("InvalidParameterValue",
                           "The filter name must be specified")
        out.append((f["Name"], indexed(f, "Value")))
    return out


def wildcard(pattern, value):
    # EC2 filter values support * and ? only; neutralise fnmatch's [...].
    return value is not None and fnmatch.fnmatchcase(
        str(value), pattern.replace("[", "[[]"))


def tag_filter(name, tags):
    """Returns the candidate values for tag filters or None if not a tag one."""
    if name.startswith("tag:"):
        key = name[4:]
        return [tags[key]] if key in tags else []
    if name == "tag-key":
        return list(tags)
    if name == "tag-value":
        return list(tags.values())
    return None


def check_ids(ids, prefix, kind):
    """Malformed ids fail the whole call, as in EC2."""
    for i in ids:
        if not re.fullmatch(prefix + r"-[0-9a-f]{8}([0-9a-f]{9})?", i):
            raise EC2Error("Invalid%sID.Malformed" % kind,
                           'Invalid id: "%s" (expecting "%s-...")' % (i, prefix))


class ParamChecker:
    """Which Query parameters an action accepts, from botocore's EC2 service
    model (the model the API Reference is generated from), serialized the way
    EC2's query protocol does it: lists flattened as Name.N, structures as
    Name.Member, member names from queryName, else a capitalised
    locationName, else the member name.  EC2 answers anything else with
    UnknownParameter."""

    def __init__(self):
        self.model = botocore.session.Session().get_service_model("ec2")
        self.cache = {}

    @staticmethod
    def wire_name(name, member):
        s = member.serialization
        if s.get("queryName"):
            return s["queryName"]
        if s.get("name"):
            return s["name"][0].upper() + s["name"][1:]
        return name

    def members(self, shape):
        m = self.cache.get(shape.name)
        if m is None:
            m = {self.wire_name(n, s): s for n, s in shape.members.items()}
            self.cache[shape.name] = m
        return m

    def accepts(self, shape, parts):
        if shape.type_name == "structure":
            if not parts or parts[0] not in self.members(shape):
                return False
            return self.accepts(self.members(shape)[parts[0]], parts[1:])
        if shape.type_name == "list":
            return bool(parts) and parts[0].isdigit() and \
                self.accepts(shape.member, parts[1:])
        return not parts

    def unknown(self, action, params):
        """The first parameter the action does not know, or None."""
        shape = self.model.operation_model(action).input_shape
        for key in params:
            if key in ("Action", "Version"):
                continue
            if shape is None or not self.accepts(shape, key.split(".")):
                return key
        return None


# ------------------------------------------------------------------ model
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


class Fake:
    """All state, guarded by self.lock.  Every entry point calls tick() under
    the lock first, so lifecycle transitions are evaluated lazily and
    deterministically; a background ticker also calls it so hooks fire even
    when nobody is polling."""

    def __init__(self, args):
        self.args = args
        self.region = args.region
        self.keys = {args.access_key: args.secret_key}
        self.lock = threading.RLock()
        self.offset = 0.0
        self.seq = 0
        self.hooks = queue.Queue()
        self.hook_log = []
        self.hook_proc = None
        self.params = ParamChecker()
        self.reset()

    def reset(self):
        with self.lock:
            self.instances = {}
            self.volumes = {}
            self.tokens = {}       # (action, ClientToken) -> (params, result id)
            self.faults = []
            self.calls = []
            self.imds_map = {}     # source address -> instance id
            self.imds_tokens = {}  # token -> (instance id, real expiry)
            self.temp_creds = {}   # access key -> dict(secret, token, expiration)
            self.current_creds = {}  # instance id -> access key
            self.role = "swarmkeeper-role"
            self.cred_ttl = 21600
            self.user_data = {}    # instance id -> bytes (control API)
            self.ip_release = {}   # address -> release delay (control API)
            self.cidr_reservations = {}  # scr-... -> CidrReservation
            self.launch_templates = {}   # lt-... -> seeded contents
            # Instance profiles that exist (names); every one has self.role.
            self.profiles = self.profile_names(
                self.args.instance_profile or
                ["swarmkeeper-profile", "swarmkeeper"])
            self.listing_lag = self.args.listing_lag
            self.short_pages = self.args.short_pages
            self.id_lag = self.args.id_lag
            r = self.region
            self.subnets = {
                "subnet-aaaaaaaa": {"az": r + "a", "cidr": "10.0.1.0/24",
                                    "vpc": VPC_ID, "tags": {}},
                "subnet-bbbbbbbb": {"az": r + "b", "cidr": "10.0.2.0/24",
                                    "vpc": VPC_ID, "tags": {}},
                "subnet-cccccccc": {"az": r + "c", "cidr": "10.0.3.0/24",
                                    "vpc": VPC_ID, "tags": {}}}
            self.emit("reset", hook=False)

    # -- clocks -------------------------------------------------------------
    def now(self):
        return time.time() + self.offset

    def next_seq(self):
        self.seq += 1
        return self.seq

    # -- events, state log, hooks ------------------------------------------
    HOOKED = ("instance-running", "instance-terminated", "volume-attached",
              "volume-detached")

    def state_record(self, event, args):
        """The state log line: event and args (as the hooks get them) plus
        the state they lead to, so that a checker needs no other source."""
        rec = {"time": iso(time.time()), "t": round(time.time(), 6),
               "clock": round(self.now(), 6), "event": event,
               "args": list(args)}
        if event.startswith("instance-"):
            inst = self.instances.get(args[0])
            if inst is not None:
                rec.update(kind="instance", instance=inst.id,
                           state=inst.state, live=inst.state in ALIVE,
                           logical_id=inst.tags.get(LOGICAL_ID_TAG),
                           role=inst.tags.get(ROLE_TAG),
                           private_ip=inst.private_ip,
                           ip_auto=inst.ip_auto,
                           client_token=inst.client_token,
                           iam_instance_profile=inst.iam_arn)
        elif event in ("volume-attaching", "volume-attached",
                       "volume-detaching", "volume-detached"):
            rec.update(kind="attachment", volume=args[0], instance=args[1],
                       status=event[len("volume-"):])
            vol = self.volumes.get(args[0])
            if vol is not None:
                rec["root"] = vol.root
        elif event.startswith("volume-"):
            rec.update(kind="volume", volume=args[0])
        elif event.startswith("subnet-cidr-reservation-"):
            rec.update(kind="reservation", reservation=args[0],
                       subnet=args[1], cidr=args[2], type=args[3],
                       active=event.endswith("-created"))
        return rec

    def emit(self, event, *args, hook=True):
        if self.args.state_log:
            with open(self.args.state_log, "a") as f:
                f.write(json.dumps(self.state_record(event, args)) + "\n")
        if hook and self.args.hook and (
                event in self.HOOKED or
                (event == "instance-shutting-down" and
                 self.args.hook_shutting_down)):
            self.hooks.put((event, [str(a) for a in args]))

    def hook_worker(self):
        # One worker: hooks run strictly in the order the events happened.
        while True:
            event, args = self.hooks.get()
            cmd = shlex.split(self.args.hook) + [event] + args
            t0 = time.time()
            try:
                self.hook_proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE)
                try:
                    _, err = self.hook_proc.communicate(timeout=600)
                except subprocess.TimeoutExpired:
                    self.hook_proc.kill()
                    _, err = self.hook_proc.communicate()
                rc = self.hook_proc.returncode
                if rc:
                    log("hook %s failed rc=%d: %s" % (
                        " ".join(cmd), rc,
                        err.decode(errors="replace").strip()[-500:]))
            except (OSError, subprocess.SubprocessError) as e:
                rc = -1
                log("hook %s failed: %s" % (" ".join(cmd), e))
            self.hook_log.append({"event": event, "args": args, "rc": rc,
                                  "seconds": round(time.time() - t0, 3)})
            self.hooks.task_done()

    # -- lifecycle ------------------------------------------------------------
    def tick(self):
        with self.lock:
            now = self.now()
            for inst in sorted(self.instances.values(), key=lambda i: i.seq):
                if inst.due is None or now < inst.due:
                    continue
                if inst.state == "pending":
                    self.set_running(inst)
                elif inst.state == "shutting-down":
                    if not inst.stuck:
                        self.set_terminated(inst, inst.due)
                elif inst.state == "stopping":
                    inst.state, inst.due = "stopped", None
                    self.emit("instance-stopped", inst.id, inst.private_ip)
            for vol in sorted(self.volumes.values(), key=lambda v: v.seq):
                a = vol.attachment
                if vol.state == "creating" and now >= vol.due:
                    vol.state, vol.due = "available", None
                    self.emit("volume-available", vol.id)
                if a and a.get("due") is not None and now >= a["due"]:
                    if a["status"] == "attaching":
                        a["status"], a["due"] = "attached", None
                        self.emit("volume-attached", vol.id, a["instance"],
                                  a["device"])
                    elif a["status"] == "detaching":
                        self.release_volume(vol)

    def set_running(self, inst):
        inst.state, inst.due, inst.state_reason = "running", None, None
        inst.ever_running = True
        self.emit("instance-running", inst.id, inst.private_ip, inst.az)

    def set_terminated(self, inst, when):
        inst.state, inst.due, inst.terminated_at = "terminated", None, when
        inst.stuck = False
        inst.state_reason = ("Client.UserInitiatedShutdown",
                             "Client.UserInitiatedShutdown: User initiated "
                             "shutdown")
        # The host goes away first (hook); its root volume is deleted; its
        # other EBS volumes detach by themselves --volume-release-delay
        # seconds later (in-use/detaching -> available, tick()).
        self.emit("instance-terminated", inst.id, inst.private_ip,
                  hook=inst.ever_running)
        for vol in sorted(self.volumes.values(), key=lambda v: v.seq):
            a = vol.attachment
            if not a or a["instance"] != inst.id:
                continue
            if vol.root:
                self.release_volume(vol)
                del self.volumes[vol.id]
                self.emit("volume-deleted", vol.id, hook=False)
                continue
            if a["status"] != "detaching":
                a["was_attached"] = a["status"] == "attached"
                a["status"] = "detaching"
                self.emit("volume-detaching", vol.id, inst.id, hook=False)
            a["due"] = when + self.args.volume_release_delay

    def release_volume(self, vol):
        a = vol.attachment
        vol.attachment, vol.state = None, "available"
        # Only a volume that reached 'attached' was handed to the host.
        self.emit("volume-detached", vol.id, a["instance"],
                  hook=not vol.root and a.get("was_attached",
                                              a["status"] != "attaching"))

    def shutdown_delay(self, inst):
        return (inst.shutdown_delay if inst.shutdown_delay is not None
                else self.args.shutdown_delay)

    def begin_shutdown(self, inst):
        inst.state = "shutting-down"
        inst.shutdown_started = self.now()
        inst.due = inst.shutdown_started + self.shutdown_delay(inst)
        inst.reason = "User initiated (%s GMT)" % time.strftime(
            "%Y-%m-%d %H:%M:%S", time.gmtime(self.now()))
        inst.state_reason = ("Client.UserInitiatedShutdown",
                             "Client.UserInitiatedShutdown: User initiated "
                             "shutdown")
        self.emit("instance-shutting-down", inst.id, inst.private_ip)

    def visible(self, inst):
        """Terminated instances stay listed for --terminated-ttl seconds."""
        return not (inst.state == "terminated" and
                    self.now() > inst.terminated_at + self.args.terminated_ttl)

    def ip_release_delay(self, ip):
        d = self.ip_release.get(ip)
        return self.args.ip_release_delay if d is None else d

    def ip_in_use(self, ip):
        """An address is held by a live instance, and after it terminated
        for its release delay more (as in EC2, where InvalidIPAddress.InUse
        can outlive 'terminated')."""
        now = self.now()
        return any(i.private_ip == ip and (
            i.state != "terminated" or
            now < i.terminated_at + self.ip_release_delay(ip))
            for i in self.instances.values())

    def fresh(self, inst, lag):
        """Eventual consistency: launched by RunInstances less than lag
        seconds ago, so not yet propagated."""
        return inst.api_launched and self.now() < inst.launch_time + lag

    def find_subnet_for_ip(self, ip):
        for sid, s in self.subnets.items():
            if ipaddress.ip_address(ip) in ipaddress.ip_network(s["cidr"]):
                return sid
        return None

    def usable(self, subnet_id, ip):
        """AWS reserves the first four addresses and the last one."""
        net = ipaddress.ip_network(self.subnets[subnet_id]["cidr"])
        a = ipaddress.ip_address(ip)
        return a in net and int(net.network_address) + 4 <= int(a) < int(
            net.broadcast_address)

    def auto_ip(self, subnet_id):
        # Deterministic: from the top of the subnet downward, so automatic
        # addresses do not collide with the low fixed manager addresses tests
        # tend to use (real EC2 picks an arbitrary free address).
        # Addresses in a subnet CIDR reservation (explicit or prefix) are
        # never assigned automatically: only a PrivateIpAddress names them.
        net = ipaddress.ip_network(self.subnets[subnet_id]["cidr"])
        reserved = [r.net() for r in self.cidr_reservations.values()
                    if r.subnet_id == subnet_id and r.net().version == 4]
        for n in range(int(net.broadcast_address) - 1,
                       int(net.network_address) + 3, -1):
            a = ipaddress.ip_address(n)
            if any(a in r for r in reserved):
                continue
            ip = str(a)
            if not self.ip_in_use(ip):
                return ip
        raise EC2Error("InsufficientFreeAddressesInSubnet", "There are not "
                       "enough free addresses in subnet '%s' to satisfy the "
                       "requested number of instances." % subnet_id)

    def known_azs(self):
        return sorted({s["az"] for s in self.subnets.values()})

    def check_az(self, az):
        if az not in self.known_azs():
            raise EC2Error("InvalidParameterValue",
                           "Invalid availability zone: [%s]" % az)

    # -- idempotency (ClientToken) -------------------------------------------
    ZONAL = ("SubnetId", "Placement.AvailabilityZone")

    def token_zone(self, action, params):
        """RunInstances idempotency is zonal when a subnet or zone is given
        (the same token may launch again in another zone); else regional."""
        if action != "RunInstances":
            return None
        sid = params.get("SubnetId")
        if sid:
            return self.subnets.get(sid, {}).get("az", sid)
        return params.get("Placement.AvailabilityZone") or None

    def token_params(self, action, params):
        skip = ("ClientToken",) + (self.ZONAL if action == "RunInstances"
                                   else ())
        return {k: v for k, v in params.items() if k not in skip}

    def idempotent(self, action, params):
        """Returns (token, previous result id or None).  Same token + same
        parameters -> the previous result; same token + different
        parameters (other than the zone) -> IdempotentParameterMismatch.
        Only successful calls register a token."""
        token = params.get("ClientToken")
        if token is None:
            return None, None
        if len(token) > 64 or not token.isascii():
            raise EC2Error("InvalidParameterValue", "Value (%s) for parameter "
                           "clientToken is invalid. Length exceeds 64 ASCII "
                           "characters." % token)
        prev = self.tokens.get((action, token,
                                self.token_zone(action, params)))
        if prev is None:
            return token, None
        if prev[0] != self.token_params(action, params):
            raise EC2Error("IdempotentParameterMismatch", "Arguments on this "
                           "idempotent request are inconsistent with arguments "
                           "used in previous request(s).")
        return token, prev[1]

    def remember(self, action, token, params, result):
        if token is not None:
            self.tokens[(action, token, self.token_zone(action, params))] = (
                self.token_params(action, params), result)

    # -- lookups ---------------------------------------------------------------
    def get_instances(self, ids):
        check_ids(ids, "i", "Instance")
        missing = [i for i in ids if i not in self.instances or
                   not self.visible(self.instances[i]) or
                   self.fresh(self.instances[i], self.id_lag)]
        if missing:
            raise EC2Error("InvalidInstanceID.NotFound",
                           "The instance ID '%s' does not exist" % missing[0]
                           if len(missing) == 1 else
                           "The instance IDs '%s' do not exist" %
                           ", ".join(missing))
        return [self.instances[i] for i in ids]

    def get_volumes(self, ids):
        check_ids(ids, "vol", "Volume")
        missing = [v for v in ids if v not in self.volumes]
        if missing:
            raise EC2Error("InvalidVolume.NotFound",
                           "The volume '%s' does not exist." % missing[0]
                           if len(missing) == 1 else
                           "The volumes '%s' do not exist." %
                           ", ".join(missing))
        return [self.volumes[v] for v in ids]

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

    # -- pagination -----------------------------------------------------------
    def paginate(self, items, params, ids, lo, hi, set_name, kind,
                 clamp=False):
        """items are ordered by .seq; the token is the last seq returned.
        clamp: values above hi are lowered to hi instead of refused (as
        DescribeVolumes does; the CLI sends MaxResults=1000 by default)."""
        mr = int_param(params, "MaxResults")
        if clamp and mr is not None and mr > hi:
            mr = hi
        if mr is not None:
            if ids:
                raise EC2Error("InvalidParameterCombination", "The parameter "
                               "%s cannot be used with the parameter "
                               "maxResults" % set_name)
            if not lo <= mr <= hi:
                raise EC2Error("InvalidParameterValue", "Value ( %d ) for "
                               "parameter maxResults is invalid. Expecting a "
                               "value between %d and %d." % (mr, lo, hi))
        token = params.get("NextToken")
        if token:
            try:
                t = json.loads(base64.urlsafe_b64decode(token.encode()))
                after = int(t["after"])
                assert t["kind"] == kind
            except (ValueError, KeyError, TypeError, AssertionError,
                    binascii.Error):
                raise EC2Error("InvalidPaginationToken",
                               "Invalid value '%s' for nextToken" % token)
            items = [x for x in items if x.seq > after]
        else:
            after = -1
        make = lambda last: base64.urlsafe_b64encode(json.dumps(
            {"kind": kind, "after": last}).encode()).decode()
        if self.short_pages and mr is not None:
            # As EC2 may do: an empty first page, short pages, and a token
            # even when the rest fitted (then one more, empty, page).
            if not items:
                return [], None
            page = items[:max(1, mr // 2)] if token else []
            return page, make(page[-1].seq if page else after)
        if mr is None or len(items) <= mr:
            return items, None
        page = items[:mr]
        return page, make(page[-1].seq)

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

    def seed_template(self, d):
        """POST /_fake/launch-templates: a launch template with one version
        and the contents RunInstances takes from it."""
        name = d["name"]
        tid = d.get("id") or hexid("lt")
        if not re.fullmatch(r"lt-[0-9a-f]{8,17}", tid):
            raise ValueError("bad launch template id %r" % tid)
        with self.lock:
            if any(t["name"] == name and t["id"] != tid
                   for t in self.launch_templates.values()):
                raise ValueError("launch template %s exists" % name)
            t = {"id": tid, "name": name,
                 "version": str(d.get("version", 1))}
            for k in ("iam_instance_profile", "image_id", "instance_type",
                      "http_tokens", "hop_limit"):
                if d.get(k) is not None:
                    t[k] = d[k]
            self.launch_templates[tid] = t
            return t

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

    def parse_tag_specs(self, p, *rtypes):
        """TagSpecification.N: {resource type: tags} for each of rtypes (the
        only types this action takes; any other is EC2's
        InvalidParameterValue)."""
        out = {r: {} for r in rtypes}
        for spec in indexed(p, "TagSpecification"):
            rtype = spec.get("ResourceType") if isinstance(spec, dict) else None
            if rtype not in out:
                raise EC2Error("InvalidParameterValue", "'%s' is not a valid "
                               "taggable resource type for this operation."
                               % rtype)
            out[rtype].update(self.parse_tags(spec))
        return out

    def parse_tags(self, src):
        tags = {}
        for t in indexed(src, "Tag"):
            if not isinstance(t, dict) or "Key" not in t:
                raise EC2Error("InvalidParameterValue", "Tag key must be "
                               "specified")
            key, val = t["Key"], t.get("Value", "")
            if key.lower().startswith("aws:"):
                raise EC2Error("InvalidParameterValue", "Tag keys starting "
                               "with 'aws:' are reserved for internal use")
            if not 1 <= len(key) <= 128 or len(val) > 256:
                raise EC2Error("InvalidParameterValue", "Tag key or value "
                               "too long: %s" % key)
            tags[key] = val
        return tags

    def tag_targets(self, p):
        ids = indexed(p, "ResourceId")
        if not ids:
            raise EC2Error("MissingParameter", "The request must contain the "
                           "parameter resourceIdSet")
        targets = []
        for rid in ids:
            if rid.startswith("i-"):
                targets += self.get_instances([rid])
            elif rid.startswith("vol-"):
                targets += self.get_volumes([rid])
            else:
                raise EC2Error("InvalidID", "The ID '%s' is not valid" % rid)
        return targets

    def CreateTags(self, p):
        targets = self.tag_targets(p)
        tags = self.parse_tags(p)
        if not tags:
            require(p, "Tag.1.Key", "tagSet")
        for t in targets:  # validate every target before changing any
            if len(set(t.tags) | set(tags)) > 50:
                raise EC2Error("TagLimitExceeded", "The maximum number of "
                               "Tags for a resource has been reached.")
        for t in targets:
            before = (t.tags.get(LOGICAL_ID_TAG), t.tags.get(ROLE_TAG))
            t.tags.update(tags)
            self.tags_changed(t, before)
        return {"return": True}

    def tags_changed(self, t, before):
        # The state log follows each instance's logical id and role.
        if isinstance(t, Instance) and \
                (t.tags.get(LOGICAL_ID_TAG), t.tags.get(ROLE_TAG)) != before:
            self.emit("instance-tagged", t.id, hook=False)

    def DeleteTags(self, p):
        targets = self.tag_targets(p)
        spec = indexed(p, "Tag")
        for t in targets:
            before = (t.tags.get(LOGICAL_ID_TAG), t.tags.get(ROLE_TAG))
            if not spec:
                t.tags = {k: v for k, v in t.tags.items()
                          if k.startswith("aws:")}
            for s in spec:
                if isinstance(s, dict) and s.get("Key") in t.tags and (
                        "Value" not in s or t.tags[s["Key"]] == s["Value"]):
                    del t.tags[s["Key"]]
            self.tags_changed(t, before)
        return {"return": True}

    def DescribeSubnets(self, p):
        ids = indexed(p, "SubnetId")
        check_ids(ids, "subnet", "Subnet")
        missing = [s for s in ids if s not in self.subnets]
        if missing:
            raise EC2Error("InvalidSubnetID.NotFound", "The subnet ID '%s' "
                           "does not exist" % "', '".join(missing))
        subnets = ids or sorted(self.subnets)
        for name, values in parse_filters(p):
            subnets = [s for s in subnets if any(
                wildcard(v, c) for v in values
                for c in self.subnet_field(s, name))]
        items = [type("S", (), {"seq": n, "id": s})
                 for n, s in enumerate(subnets)]
        page, nxt = self.paginate(items, p, ids, 5, 1000, "subnetIds", "s")
        return {"subnetSet": [self.subnet_xml(x.id) for x in page],
                "nextToken": nxt}

    def subnet_field(self, sid, name):
        s = self.subnets[sid]
        t = tag_filter(name, s.get("tags", {}))
        if t is not None:
            return t
        fields = {"subnet-id": sid, "availability-zone": s["az"],
                  "availabilityZone": s["az"], "cidr-block": s["cidr"],
                  "cidrBlock": s["cidr"], "cidr": s["cidr"],
                  "vpc-id": s.get("vpc", VPC_ID), "state": "available",
                  "owner-id": ACCOUNT, "default-for-az": "false"}
        if name not in fields:
            raise EC2Error("InvalidParameterValue",
                           "The filter '%s' is invalid" % name)
        return [fields[name]]

    def subnet_xml(self, sid):
        s = self.subnets[sid]
        net = ipaddress.ip_network(s["cidr"])
        held = {i.private_ip for i in self.instances.values()
                if ipaddress.ip_address(i.private_ip) in net and
                self.ip_in_use(i.private_ip)}
        free = max(0, net.num_addresses - 5 - len(held))
        return {"subnetId": sid, "subnetArn": "arn:aws:ec2:%s:%s:subnet/%s"
                % (self.region, ACCOUNT, sid), "state": "available",
                "vpcId": s.get("vpc", VPC_ID), "cidrBlock": s["cidr"],
                "availableIpAddressCount": free,
                "availabilityZone": s["az"],
                "availabilityZoneId": "use1-az%d" % (
                    ord(s["az"][-1]) - ord("a") + 1),
                "defaultForAz": False, "mapPublicIpOnLaunch": False,
                "ownerId": ACCOUNT, "assignIpv6AddressOnCreation": False,
                "ipv6CidrBlockAssociationSet": [],
                "tagSet": tag_set(s["tags"]) if s.get("tags") else None}

    # -- subnet CIDR reservations -------------------------------------------
    def subnet(self, sid, api=True):
        if api:  # seeded subnets may have any id
            check_ids([sid], "subnet", "Subnet")
        if sid not in self.subnets:
            raise EC2Error("InvalidSubnetID.NotFound", "The subnet ID '%s' "
                           "does not exist" % sid)
        return self.subnets[sid]

    def add_cidr_reservation(self, subnet_id, cidr, rtype, description="",
                             tags=None, rid=None, api=True):
        """Checks as EC2 does and records it: the range lies in the
        subnet's CIDR and overlaps no other reservation in the VPC.  It may
        cover addresses in use (they stay assigned)."""
        s = self.subnet(subnet_id, api)
        if rtype not in ("prefix", "explicit"):
            raise EC2Error("InvalidParameterValue", "Value (%s) for parameter "
                           "reservationType is invalid. Valid values: prefix, "
                           "explicit" % rtype)
        try:
            net = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            raise EC2Error("InvalidParameterValue", "Value (%s) for parameter "
                           "cidr is invalid. This is not a valid CIDR block."
                           % cidr)
        sub = ipaddress.ip_network(s["cidr"])
        if net.version != sub.version or not net.subnet_of(sub):
            raise EC2Error("InvalidParameterValue", "The CIDR '%s' is not "
                           "within the CIDR of subnet '%s' (%s)." % (
                               cidr, subnet_id, s["cidr"]))
        vpc = s.get("vpc", VPC_ID)
        for r in self.cidr_reservations.values():
            other = self.subnets.get(r.subnet_id, {})
            if other.get("vpc", VPC_ID) == vpc and \
                    r.net().version == net.version and r.net().overlaps(net):
                raise EC2Error("InvalidParameterValue", "The CIDR '%s' "
                               "overlaps the subnet CIDR reservation %s (%s)."
                               % (cidr, r.id, r.cidr))
        rid = rid or hexid("scr")
        if rid in self.cidr_reservations:
            raise ValueError("reservation %s exists" % rid)
        r = CidrReservation(id=rid, seq=self.next_seq(), subnet_id=subnet_id,
                            cidr=str(net), type=rtype,
                            description=description or "",
                            tags=dict(tags or {}))
        self.cidr_reservations[rid] = r
        self.emit("subnet-cidr-reservation-created", rid, subnet_id, r.cidr,
                  rtype, hook=False)
        return r

    def cidr_reservation_xml(self, r):
        return {"subnetCidrReservationId": r.id, "subnetId": r.subnet_id,
                "cidr": r.cidr, "reservationType": r.type,
                "ownerId": ACCOUNT, "description": r.description or None,
                "tagSet": tag_set(r.tags) if r.tags else None}

    def CreateSubnetCidrReservation(self, p):
        tags = self.parse_tag_specs(p, "subnet-cidr-reservation")[
            "subnet-cidr-reservation"]
        r = self.add_cidr_reservation(
            require(p, "SubnetId"), require(p, "Cidr"),
            require(p, "ReservationType"), p.get("Description", ""), tags)
        return {"subnetCidrReservation": self.cidr_reservation_xml(r)}

    def GetSubnetCidrReservations(self, p):
        sid = require(p, "SubnetId")
        self.subnet(sid)
        items = sorted((r for r in self.cidr_reservations.values()
                        if r.subnet_id == sid), key=lambda r: r.seq)
        for name, values in parse_filters(p):
            items = [r for r in items if any(
                wildcard(v, c) for v in values
                for c in self.cidr_reservation_field(r, name))]
        page, nxt = self.paginate(items, p, None, 5, 1000, "", "scr")
        return {"subnetIpv4CidrReservationSet": [
                    self.cidr_reservation_xml(r) for r in page
                    if r.net().version == 4],
                "subnetIpv6CidrReservationSet": [
                    self.cidr_reservation_xml(r) for r in page
                    if r.net().version == 6],
                "nextToken": nxt}

    def cidr_reservation_field(self, r, name):
        t = tag_filter(name, r.tags)
        if t is not None:
            return t
        fields = {"reservationType": r.type, "subnet-id": r.subnet_id,
                  "owner-id": ACCOUNT}
        if name not in fields:
            raise EC2Error("InvalidParameterValue",
                           "The filter '%s' is invalid" % name)
        return [fields[name]]

    def delete_cidr_reservation(self, rid):
        r = self.cidr_reservations.pop(rid, None)
        if r is None:
            raise EC2Error("InvalidSubnetCidrReservationID.NotFound", "The "
                           "subnet CIDR reservation ID '%s' does not exist"
                           % rid)
        # Addresses already assigned in the range stay assigned.
        self.emit("subnet-cidr-reservation-deleted", rid, r.subnet_id,
                  r.cidr, r.type, hook=False)
        return r

    def DeleteSubnetCidrReservation(self, p):
        r = self.delete_cidr_reservation(require(p, "SubnetCidrReservationId"))
        return {"deletedSubnetCidrReservation": self.cidr_reservation_xml(r)}

    ACTIONS = ("DescribeInstances", "RunInstances", "TerminateInstances",
               "DescribeVolumes", "CreateVolume", "AttachVolume",
               "DetachVolume", "CreateTags", "DeleteTags", "DescribeSubnets",
               "CreateSubnetCidrReservation", "GetSubnetCidrReservations",
               "DeleteSubnetCidrReservation")

    # ============================================================== SigV4
    def authenticate(self, h, body):
        """Verify the SigV4 Authorization header by recomputing the signature
        with botocore over exactly the headers the client says it signed,
        with the client's own X-Amz-Date.  Returns the access key id."""
        auth = h.headers.get("Authorization")
        if not auth:
            raise EC2Error("MissingAuthenticationToken", "Request is missing "
                           "Authentication Token", 401)
        algo, _, rest = auth.strip().partition(" ")
        parts = dict(x.strip().partition("=")[::2] for x in rest.split(","))
        if algo != "AWS4-HMAC-SHA256" or not all(
                parts.get(k) for k in ("Credential", "SignedHeaders",
                                       "Signature")):
            raise EC2Error("IncompleteSignature", "Authorization header "
                           "requires 'Credential', 'SignedHeaders' and "
                           "'Signature' parameters.")
        scope = parts["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise EC2Error("IncompleteSignature", "Credential is malformed")
        akid, day, region, service = scope[:4]
        amz_date = h.headers.get("X-Amz-Date", "")
        try:
            ts = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise EC2Error("IncompleteSignature", "Authorization header "
                           "requires existence of either a 'X-Amz-Date' or a "
                           "'Date' header.")
        fail = EC2Error("AuthFailure", "AWS was not able to validate the "
                        "provided access credentials", 401)
        token = h.headers.get("X-Amz-Security-Token")
        if akid in self.keys:
            secret = self.keys[akid]
            if token is not None:
                raise fail
        elif akid in self.temp_creds:
            c = self.temp_creds[akid]
            secret = c["secret"]
            if token is None or not hmac.compare_digest(token, c["token"]):
                raise fail
        else:
            raise fail
        if region != self.region or service != "ec2" or day != amz_date[:8]:
            raise EC2Error("AuthFailure", "Credential should be scoped to a "
                           "valid region, service and date.", 401)
        skew = abs(time.time() - ts.replace(
            tzinfo=datetime.timezone.utc).timestamp())
        if skew > self.args.max_skew:
            raise EC2Error("RequestExpired", "Request has expired.")
        if akid in self.temp_creds and \
                time.time() > self.temp_creds[akid]["expiration"]:
            raise EC2Error("RequestExpired", "Request has expired.")
        signed = parts["SignedHeaders"].split(";")
        if "host" not in signed:
            raise fail
        req = AWSRequest(method=h.command, url="http://%s%s" % (
            h.headers.get("Host", ""), h.path), data=body)
        for name in signed:
            values = h.headers.get_all(name)
            if values is None:
                raise fail
            for v in values:
                req.headers[name] = v
        signer = SigV4Auth(Credentials(akid, secret, token), service, region)
        req.context["timestamp"] = amz_date
        if signer.signed_headers(signer.headers_to_sign(req)) != \
                parts["SignedHeaders"]:
            raise fail
        sha = req.headers.get("X-Amz-Content-SHA256")
        if sha not in (None, "UNSIGNED-PAYLOAD") and \
                sha != hashlib.sha256(body).hexdigest():
            raise fail
        canonical = signer.canonical_request(req)
        expected = signer.signature(
            signer.string_to_sign(req, canonical), req)
        if not hmac.compare_digest(expected, parts["Signature"]):
            raise fail
        return akid

    # ============================================================== faults
    def take_fault(self, action):
        """The first fault matching action: count-based ones are used up,
        time-window ones ("seconds") match every call until they expire."""
        with self.lock:
            now = time.time()
            self.faults = [f for f in self.faults
                           if f["until"] is None or now < f["until"]]
            for f in self.faults:
                if f["action"] not in ("*", action):
                    continue
                if f["count"] is not None:
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self.faults.remove(f)
                return f
        return None

    def add_fault(self, data):
        seconds = data.get("seconds")
        count = data.get("count")
        f = {"action": data.get("action", "*"), "code": data.get("code"),
             "status": data.get("status"), "message": data.get("message"),
             "count": int(count) if count is not None else
             (None if seconds is not None else 1),
             "latency": float(data.get("latency", 0)),
             "after": bool(data.get("after", False)),
             "until": time.time() + float(seconds)
             if seconds is not None else None}
        if f["after"] and not f["code"]:
            raise ValueError("an 'after' fault needs a code")
        with self.lock:
            self.faults.append(f)
        return f

    def log_call(self, call):
        with self.lock:
            self.calls.append(call)
            if self.args.call_log:
                rec = dict(call, time=iso(call["time"]), t=call["time"],
                           params={k: v for k, v in call["params"].items()
                                   if k not in UNLOGGED_PARAMS})
                with open(self.args.call_log, "a") as f:
                    f.write(json.dumps(rec) + "\n")

    # ============================================================== EC2 entry
    def handle_ec2(self, h, body):
        query = urlsplit(h.path).query
        try:
            params = dict(parse_qsl(query, keep_blank_values=True))
            params.update(parse_qsl(body.decode("utf-8"),
                                    keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError:
            params = {}
        action = params.get("Action", "")
        h.log_extra = action
        call = {"time": time.time(), "action": action,
                "params": {k: ("<%d bytes redacted>" % len(v)
                               if k in UNLOGGED_PARAMS else v)
                           for k, v in params.items()
                           if k not in ("Action", "Version")},
                "source": h.client_address[0], "access_key": None}
        try:
            call["access_key"] = self.authenticate(h, body)
            fault = self.take_fault(action)
            if fault:
                if fault.get("latency"):
                    time.sleep(float(fault["latency"]))
                if fault.get("code"):
                    err = EC2Error(fault["code"], fault.get("message") or
                                   FAULT_MESSAGE.get(fault["code"],
                                                     "Injected fault"),
                                   int(fault.get("status") or
                                       FAULT_STATUS.get(fault["code"], 400)))
                    if not fault.get("after"):
                        raise err
            if not action:
                raise EC2Error("MissingAction", "The request must contain the "
                               "parameter Action")
            if action not in self.ACTIONS:
                raise EC2Error("InvalidAction", "The action %s is not valid "
                               "for this web service." % action)
            unknown = self.params.unknown(action, params)
            if unknown:
                raise EC2Error("UnknownParameter", "The parameter %s is not "
                               "recognized" % unknown)
            if params.get("DryRun") == "true":
                raise EC2Error("DryRunOperation", "Request would have "
                               "succeeded, but DryRun flag is set.", 412)
            with self.lock:
                self.tick()
                try:
                    result = getattr(self, action)(params)
                except EC2Error:
                    raise
                except Exception:  # a bug in the fake: say so, EC2-style
                    log("internal error in %s:\n%s" % (
                        action, traceback.format_exc()))
                    raise EC2Error("InternalError", "An internal error has "
                                   "occurred", 500)
            if fault and fault.get("code") and fault.get("after"):
                # Done, but the answer is lost: what ClientToken is for.
                call["applied"] = True
                raise err
            status = 200
            payload = ('<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse '
                       'xmlns="%s"><requestId>%s</requestId>%s</%sResponse>' % (
                           action, NS, uuid.uuid4(), to_xml(result), action))
            call.update(status=200, error_code=None, result="Success")
        except EC2Error as e:
            status = e.status
            payload = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response>'
                       '<Errors><Error><Code>%s</Code><Message>%s</Message>'
                       '</Error></Errors><RequestID>%s</RequestID></Response>'
                       % (escape(e.code), escape(e.message), uuid.uuid4()))
            call.update(status=e.status, error_code=e.code,
                        error_message=e.message, result=e.code)
            h.log_extra = "%s %s" % (action, e.code)
        self.log_call(call)
        return status, "text/xml;charset=UTF-8", payload.encode()

    # ============================================================== IMDS
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

    # ============================================================== NoCloud
    def handle_nocloud(self, h):
        """cloud-init's NoCloud datasource (seedfrom=http://FAKE/nocloud/):
        the seed of the caller's instance, found like IMDS finds it."""
        path = urlsplit(h.path).path
        if h.command not in ("GET", "HEAD"):
            return 405, "text/plain", b"Method Not Allowed"
        inst = self.imds_instance(h.client_address[0])
        if inst is None:
            return 404, "text/plain", b"Not Found"
        with self.lock:
            if path == "/nocloud/meta-data":
                return 200, "text/plain", (
                    "instance-id: %s\nlocal-hostname: %s\n" % (
                        inst.id, self.hostname(inst))).encode()
            if path == "/nocloud/user-data":
                data = self.user_data.get(inst.id, inst.user_data)
                if data is None:
                    return 404, "text/plain", b"Not Found"
                return 200, "application/octet-stream", data
            if path == "/nocloud/vendor-data":
                return 200, "text/plain", b""
        return 404, "text/plain", b"Not Found"

    def hostname(self, inst):
        ip_dash = inst.private_ip.replace(".", "-")
        return ("ip-%s.ec2.internal" % ip_dash if self.region == "us-east-1"
                else "ip-%s.%s.compute.internal" % (ip_dash, self.region))

    # ============================================================== control
    def seed_instance(self, d):
        with self.lock:
            self.tick()
            az = d.get("az")
            subnet = d.get("subnet")
            ip = d.get("private_ip")
            if subnet is None and ip:
                subnet = self.find_subnet_for_ip(ip)
            if subnet is None:
                subnet = next((s for s, v in self.subnets.items()
                               if az is None or v["az"] == az), None)
            if subnet not in self.subnets:
                raise ValueError("no subnet for %r" % d)
            az = az or self.subnets[subnet]["az"]
            state = d.get("state", "running")
            if state not in STATE_CODES:
                raise ValueError("bad state %r" % state)
            ip_auto = not ip
            ip = ip or self.auto_ip(subnet)
            if state != "terminated" and self.ip_in_use(ip):
                raise ValueError("address %s is in use" % ip)
            now = self.now()
            inst = Instance(
                id=d.get("id") or hexid("i"), seq=self.next_seq(),
                reservation_id=d.get("reservation") or hexid("r"),
                state=state, launch_time=now, subnet_id=subnet, az=az,
                private_ip=ip, ip_auto=ip_auto,
                tags=dict(d.get("tags", {})),
                http_tokens=d.get("http_tokens", "required"),
                image_id=d.get("image_id", "ami-0abcdef1234567890"),
                instance_type=d.get("instance_type", "t3.micro"),
                sg_ids=list(d.get("security_groups", [])),
                # Seeds have the first known profile unless told otherwise.
                iam_arn=d["iam_instance_profile"]
                if "iam_instance_profile" in d else
                (self.profile_arn(self.profiles[0]) if self.profiles
                 else None),
                user_data=(d["user_data"].encode() if d.get("user_data")
                           is not None else None),
                due={"pending": now + self.args.pending_delay,
                     "shutting-down": now + self.args.shutdown_delay,
                     "stopping": now + self.args.shutdown_delay}.get(state),
                terminated_at=now if state == "terminated" else None)
            if inst.id in self.instances:
                raise ValueError("instance %s exists" % inst.id)
            self.instances[inst.id] = inst
            hooks = d.get("hooks", True)
            if state == "running":
                inst.ever_running = True
                self.emit("instance-running", inst.id, ip, az, hook=hooks)
            else:
                self.emit("instance-" + state, inst.id, ip, az, hook=False)
            if state == "shutting-down":
                inst.shutdown_started = now
            return inst.dump()

    def seed_volume(self, d):
        with self.lock:
            self.tick()
            now = self.now()
            att = d.get("attached_to")
            vol = Volume(id=d.get("id") or hexid("vol"), seq=self.next_seq(),
                         az=d.get("az", self.region + "a"),
                         size=int(d.get("size", 8)),
                         state=d.get("state", "in-use" if att else
                                     "available"),
                         due=now + self.args.pending_delay, created=now,
                         volume_type=d.get("type", "gp3"),
                         tags=dict(d.get("tags", {})))
            if vol.state not in ("creating", "available", "in-use"):
                raise ValueError("bad volume state %r" % vol.state)
            if vol.id in self.volumes:
                raise ValueError("volume %s exists" % vol.id)
            if att:
                inst = self.instances.get(att)
                if inst is None or inst.az != vol.az:
                    raise ValueError("attached_to: no instance %s in %s" % (
                        att, vol.az))
                vol.state = "in-use"
                vol.attachment = {"instance": att, "device":
                                  d.get("device", "/dev/sdf"),
                                  "status": "attached", "time": now,
                                  "due": None}
            for extra in d.get("also_attached_to", []):
                other = self.instances.get(extra.get("instance"))
                if not att or other is None or other.az != vol.az:
                    raise ValueError("also_attached_to: needs attached_to and "
                                     "an instance in %s" % vol.az)
                vol.multi.append({"instance": other.id,
                                  "device": extra.get("device", "/dev/sdf"),
                                  "status": "attached", "time": now})
            self.volumes[vol.id] = vol
            if att:
                self.emit("volume-attached", vol.id, att,
                          vol.attachment["device"], hook=d.get("hooks", True))
            return vol.dump()

    def delete_volume(self, vid):
        """The volume is deleted (by someone else, as DeleteVolume would):
        only a volume that is not attached."""
        with self.lock:
            self.tick()
            vol = self.volumes.get(vid)
            if vol is None:
                raise KeyError("no volume %s" % vid)
            if vol.attachment or vol.multi:
                raise ValueError("volume %s is in use" % vid)
            del self.volumes[vid]
            self.emit("volume-deleted", vid, hook=False)
            return {"deleted": vid}

    def set_instance(self, iid, d):
        """External events (an instance dying, being stopped...), which EC2
        itself would cause; not logged as API calls."""
        with self.lock:
            self.tick()
            inst = self.instances.get(iid)
            if inst is None:
                raise KeyError(iid)
            if "shutdown_delay" in d:
                inst.shutdown_delay = (None if d["shutdown_delay"] is None
                                       else float(d["shutdown_delay"]))
                if inst.state == "shutting-down":
                    inst.due = inst.shutdown_started + \
                        self.shutdown_delay(inst)
            if "stuck" in d:
                was = inst.stuck
                inst.stuck = bool(d["stuck"])
                # released: it terminates now (or when its delay ends), not
                # back when the delay had ended while it hung
                if was and not inst.stuck and \
                        inst.state == "shutting-down" and \
                        inst.due is not None and inst.due < self.now():
                    inst.due = self.now()
            state = d.get("state")
            if state == "shutting-down" and inst.state in ALIVE:
                self.begin_shutdown(inst)
            elif state == "terminated" and inst.state != "terminated":
                self.set_terminated(inst, self.now())
            elif state in ("running", "stopped", "stopping") and \
                    state != inst.state and inst.state != "terminated":
                inst.state = state
                inst.due = (self.now() + self.args.shutdown_delay
                            if state == "stopping" else None)
                if state == "running":
                    self.set_running(inst)
                else:
                    self.emit("instance-" + state, inst.id, inst.private_ip,
                              hook=False)
            elif state is not None and state != inst.state:
                raise ValueError("cannot set state %r" % state)
            if "tags" in d:
                before = (inst.tags.get(LOGICAL_ID_TAG),
                          inst.tags.get(ROLE_TAG))
                inst.tags.update(d["tags"])
                self.tags_changed(inst, before)
            self.tick()  # a released or shortened shutdown ends now
            return inst.dump()

    def state_dump(self):
        with self.lock:
            self.tick()
            return {"clock": iso(self.now()), "offset": self.offset,
                    "instances": [i.dump() for i in sorted(
                        self.instances.values(), key=lambda i: i.seq)
                        if self.visible(i)],
                    "volumes": [v.dump() for v in sorted(
                        self.volumes.values(), key=lambda v: v.seq)],
                    "subnets": self.subnets, "imds": dict(self.imds_map),
                    "cidr_reservations": [r.dump() for r in sorted(
                        self.cidr_reservations.values(),
                        key=lambda r: r.seq)],
                    "role": self.role, "credential_ttl": self.cred_ttl,
                    "instance_profiles": list(self.profiles),
                    "ip_release": dict(self.ip_release),
                    "consistency": {"listing_lag": self.listing_lag,
                                    "id_lag": self.id_lag},
                    "short_pages": self.short_pages,
                    "faults": list(self.faults)}

    def control(self, method, path, data):
        """Returns (status, json-able)."""
        route = (method, path.rstrip("/"))
        if route == ("GET", "/_fake/state"):
            return 200, self.state_dump()
        if route == ("POST", "/_fake/reset"):
            self.reset()
            return 200, {"ok": True}
        if route == ("POST", "/_fake/instances"):
            return 200, self.seed_instance(data)
        m = re.fullmatch(r"/_fake/instances/(i-[0-9a-f]+)", route[1])
        if m and method == "POST":
            return 200, self.set_instance(m.group(1), data)
        if route == ("POST", "/_fake/volumes"):
            return 200, self.seed_volume(data)
        m = re.fullmatch(r"/_fake/volumes/(vol-[0-9a-f]+)", route[1])
        if m and method == "DELETE":
            return 200, self.delete_volume(m.group(1))
        if route == ("POST", "/_fake/subnets"):
            ipaddress.ip_network(data["cidr"])
            with self.lock:
                self.subnets[data["id"]] = {"az": data["az"],
                                            "cidr": data["cidr"],
                                            "vpc": data.get("vpc", VPC_ID),
                                            "tags": dict(data.get("tags",
                                                                  {}))}
            return 200, self.subnets
        if route == ("GET", "/_fake/launch-templates"):
            with self.lock:
                return 200, list(self.launch_templates.values())
        if route == ("POST", "/_fake/launch-templates"):
            return 200, self.seed_template(data)
        if route == ("GET", "/_fake/cidr-reservations"):
            with self.lock:
                return 200, [r.dump() for r in sorted(
                    self.cidr_reservations.values(), key=lambda r: r.seq)]
        if route == ("POST", "/_fake/cidr-reservations"):
            with self.lock:
                try:
                    r = self.add_cidr_reservation(
                        data["subnet"], data["cidr"],
                        data.get("type", "explicit"),
                        data.get("description", ""), data.get("tags"),
                        data.get("id"), api=False)
                except EC2Error as e:
                    raise ValueError("%s: %s" % (e.code, e.message))
                return 200, r.dump()
        m = re.fullmatch(r"/_fake/cidr-reservations/(scr-[0-9a-f]+)",
                         route[1])
        if m and method == "DELETE":
            with self.lock:
                try:
                    return 200, self.delete_cidr_reservation(
                        m.group(1)).dump()
                except EC2Error as e:
                    raise KeyError("%s: %s" % (e.code, e.message))
        if route == ("POST", "/_fake/ip-release"):
            ipaddress.IPv4Address(data["ip"])
            with self.lock:
                if data.get("delay") is None:
                    self.ip_release.pop(data["ip"], None)
                else:
                    self.ip_release[data["ip"]] = float(data["delay"])
                return 200, dict(self.ip_release)
        if route == ("POST", "/_fake/consistency"):
            with self.lock:
                if "listing_lag" in data:
                    self.listing_lag = float(data["listing_lag"])
                if "id_lag" in data:
                    self.id_lag = float(data["id_lag"])
                return 200, {"listing_lag": self.listing_lag,
                             "id_lag": self.id_lag}
        if route == ("POST", "/_fake/pagination"):
            with self.lock:
                self.short_pages = bool(data.get("short"))
            return 200, {"short": self.short_pages}
        if route == ("GET", "/_fake/instance-profiles"):
            return 200, self.profiles
        if route == ("POST", "/_fake/instance-profiles"):
            with self.lock:
                self.profiles = self.profile_names(data["names"])
            return 200, self.profiles
        if route == ("GET", "/_fake/subnets"):
            return 200, self.subnets
        if route == ("POST", "/_fake/faults"):
            return 200, self.add_fault(data)
        if route == ("GET", "/_fake/faults"):
            return 200, self.faults
        if route == ("DELETE", "/_fake/faults"):
            with self.lock:
                self.faults = []
            return 200, {"ok": True}
        if route == ("GET", "/_fake/calls"):
            with self.lock:
                return 200, list(self.calls)
        if route == ("DELETE", "/_fake/calls"):
            with self.lock:
                self.calls = []
            return 200, {"ok": True}
        if route == ("POST", "/_fake/time"):
            with self.lock:
                self.offset += float(data.get("advance", 0))
                self.tick()
            return 200, {"clock": iso(self.now()), "offset": self.offset}
        if route == ("POST", "/_fake/imds"):
            with self.lock:
                if data.get("instance"):
                    self.imds_map[data["source"]] = data["instance"]
                else:
                    self.imds_map.pop(data["source"], None)
            return 200, self.imds_map
        if route == ("POST", "/_fake/credentials"):
            with self.lock:
                if "role" in data:
                    self.role = data["role"] or None
                if "ttl" in data:
                    self.cred_ttl = float(data["ttl"])
                    self.current_creds = {}  # next GET issues with new TTL
            return 200, {"role": self.role, "ttl": self.cred_ttl}
        if route == ("POST", "/_fake/user-data"):
            raw = (base64.b64decode(data["data_base64"])
                   if "data_base64" in data else data["data"].encode())
            with self.lock:
                self.user_data[data["instance"]] = raw
            return 200, {"instance": data["instance"], "bytes": len(raw)}
        if route == ("GET", "/_fake/hooks"):
            return 200, {"pending": self.hooks.unfinished_tasks,
                         "runs": list(self.hook_log)}
        return 404, {"error": "no such control endpoint %s %s" % route}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonEC2"
    sys_version = ""

    def log_message(self, fmt, *args):  # respond() logs instead
        pass

    def respond(self, status, ctype, payload):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in getattr(self, "extra_headers", {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        log("%s %s %s %s -> %d" % (self.client_address[0], self.command,
                                   urlsplit(self.path).path,
                                   getattr(self, "log_extra", ""), status))

    def dispatch(self):
        fake = self.server.fake
        self.extra_headers = {}
        self.log_extra = ""
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = urlsplit(self.path).path
        try:
            if path.startswith("/_fake/"):
                data = json.loads(body) if body.strip() else {}
                status, out = fake.control(self.command, path, data)
                self.respond(status, "application/json",
                             json.dumps(out, indent=1).encode())
            elif path.startswith("/latest"):
                self.respond(*fake.handle_imds(self))
            elif path.startswith("/nocloud/"):
                self.respond(*fake.handle_nocloud(self))
            elif path == "/" and self.command == "POST":
                self.respond(*fake.handle_ec2(self, body))
            else:
                self.respond(404, "text/plain", b"Not Found")
        except (ValueError, KeyError, TypeError) as e:
            self.respond(400, "application/json",
                         json.dumps({"error": repr(e)}).encode())

    do_GET = do_POST = do_PUT = do_DELETE = dispatch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file")
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--pending-delay", type=float, default=0.3)
    ap.add_argument("--shutdown-delay", type=float, default=0.3)
    ap.add_argument("--terminated-ttl", type=float, default=3600)
    ap.add_argument("--ip-release-delay", type=float, default=1.0,
                    help="seconds a terminated instance's address stays "
                    "InvalidIPAddress.InUse")
    ap.add_argument("--volume-release-delay", type=float, default=1.0,
                    help="seconds after 'terminated' until its volumes "
                    "are 'available'")
    ap.add_argument("--listing-lag", type=float, default=0,
                    help="eventual consistency: seconds a new instance is "
                    "missing from DescribeInstances listings")
    ap.add_argument("--id-lag", type=float, default=0,
                    help="eventual consistency: seconds a new instance id "
                    "gives InvalidInstanceID.NotFound")
    ap.add_argument("--short-pages", action="store_true",
                    help="paginated Describe* answers: an empty first page, "
                    "short pages, a token on the last full page")
    ap.add_argument("--instance-profile", action="append",
                    help="an instance profile name that exists (repeat; "
                    "default: swarmkeeper-profile and swarmkeeper)")
    ap.add_argument("--max-skew", type=float, default=300,
                    help="SigV4 clock skew accepted (seconds)")
    ap.add_argument("--hook", help="command run as CMD EVENT ARGS...")
    ap.add_argument("--hook-shutting-down", action="store_true",
                    help="also run the hook for instance-shutting-down ID IP "
                    "(the host powers off as its shutdown begins)")
    ap.add_argument("--state-log", help="append lifecycle events (JSON lines)")
    ap.add_argument("--call-log", help="append one JSON line per API call")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    fake = Fake(args)
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
    server.fake = fake
    threading.Thread(target=fake.hook_worker, daemon=True).start()

    def ticker():
        while True:
            time.sleep(0.05)
            fake.tick()
    threading.Thread(target=ticker, daemon=True).start()
    real_port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % real_port)
        os.rename(tmp, args.port_file)
    log("listening on %s:%d (region %s)" % (host, real_port, args.region))

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # Do not leave a hook running behind us (it was started by us).
        proc = fake.hook_proc
        if proc is not None and proc.poll() is None:
            log("stopping: killing running hook pid %d" % proc.pid)
            proc.kill()
        left = fake.hooks.unfinished_tasks
        if left:
            log("stopping: %d hook(s) unfinished" % left)


if __name__ == "__main__":
    main()
