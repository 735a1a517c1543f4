"""State: the fake's state and the rules every part shares.

The state itself (reset()), the lifecycle clock, the lifecycle (tick():
pending -> running, shutting-down -> terminated, volume attach/detach, the
terminated TTL), addresses (in use, release delay, automatic assignment),
ClientToken idempotency, id lookups and pagination."""

import base64
import binascii
import ipaddress
import json
import queue
import threading
import time

from .common import VPC_ID, EC2Error
from .params import ParamChecker, check_ids, int_param


class State:
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

    def hostname(self, inst):
        ip_dash = inst.private_ip.replace(".", "-")
        return ("ip-%s.ec2.internal" % ip_dash if self.region == "us-east-1"
                else "ip-%s.%s.compute.internal" % (ip_dash, self.region))
