"""SubnetActions: DescribeSubnets, and subnet CIDR reservations
(CreateSubnetCidrReservation, GetSubnetCidrReservations,
DeleteSubnetCidrReservation; the control API adds and removes them with the
same checks)."""

import ipaddress

from .common import ACCOUNT, VPC_ID, EC2Error, hexid, tag_set
from .model import CidrReservation
from .params import check_ids, indexed, parse_filters, require, tag_filter, \
    wildcard


class SubnetActions:
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
