"""Control: the unsigned JSON control API (/_fake/...): seeds (instances,
volumes, launch templates), external events, the clock, consistency,
faults, the call log and the state dump.  See README.md."""

import base64
import ipaddress
import re

from .common import ALIVE, LOGICAL_ID_TAG, ROLE_TAG, STATE_CODES, VPC_ID, \
    EC2Error, hexid, iso
from .model import Instance, Volume


class Control:
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
