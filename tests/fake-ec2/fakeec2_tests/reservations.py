"""TestReservations: subnet CIDR reservations (API and seeds), and the
invariant checker on an automatic address inside one."""

import json
import os

from .lib import Base


class TestReservations(Base):
    def test_subnet_cidr_reservations(self):
        sub = "subnet-aaaaaaaa"
        out = self.aws("create-subnet-cidr-reservation", "--subnet-id", sub,
                       "--cidr", "10.0.1.240/28", "--reservation-type",
                       "explicit", "--description", "managers",
                       "--tag-specifications",
                       "ResourceType=subnet-cidr-reservation,"
                       "Tags=[{Key=swarmkeeper:cluster,Value=c1}]")
        r = out["SubnetCidrReservation"]
        self.assertRegex(r["SubnetCidrReservationId"], r"^scr-[0-9a-f]{17}$")
        self.assertEqual((r["SubnetId"], r["Cidr"], r["ReservationType"],
                          r["OwnerId"], r["Description"], r["Tags"]),
                         (sub, "10.0.1.240/28", "explicit", "123456789012",
                          "managers",
                          [{"Key": "swarmkeeper:cluster", "Value": "c1"}]))
        explicit = r["SubnetCidrReservationId"]
        prefix = self.api("create_subnet_cidr_reservation", SubnetId=sub,
                          Cidr="10.0.1.224/28", ReservationType="prefix")[
                              "SubnetCidrReservation"]["SubnetCidrReservationId"]
        listed = self.aws("get-subnet-cidr-reservations", "--subnet-id", sub)
        self.assertEqual([(x["SubnetCidrReservationId"], x["Cidr"],
                           x["ReservationType"])
                          for x in listed["SubnetIpv4CidrReservations"]],
                         [(explicit, "10.0.1.240/28", "explicit"),
                          (prefix, "10.0.1.224/28", "prefix")])
        self.assertEqual(listed["SubnetIpv6CidrReservations"], [])
        only = self.aws("get-subnet-cidr-reservations", "--subnet-id", sub,
                        "--filters", "Name=reservationType,Values=explicit")
        self.assertEqual([x["SubnetCidrReservationId"] for x in
                          only["SubnetIpv4CidrReservations"]], [explicit])
        self.assertEqual(self.aws("get-subnet-cidr-reservations",
                                  "--subnet-id", "subnet-bbbbbbbb")
                         ["SubnetIpv4CidrReservations"], [])
        # Refused: overlapping, outside the subnet, unknown subnet or type.
        self.aws_fails("InvalidParameterValue",
                       "create-subnet-cidr-reservation", "--subnet-id", sub,
                       "--cidr", "10.0.1.248/29", "--reservation-type",
                       "explicit")
        self.api_fails("InvalidParameterValue",
                       "create_subnet_cidr_reservation", SubnetId=sub,
                       Cidr="10.0.2.0/28", ReservationType="explicit")
        self.api_fails("InvalidParameterValue",
                       "create_subnet_cidr_reservation", SubnetId=sub,
                       Cidr="10.0.1.0/28", ReservationType="bogus")
        self.api_fails("InvalidSubnetID.NotFound",
                       "create_subnet_cidr_reservation",
                       SubnetId="subnet-0f0f0f0f", Cidr="10.0.1.0/28",
                       ReservationType="explicit")
        self.api_fails("InvalidSubnetID.NotFound",
                       "get_subnet_cidr_reservations",
                       SubnetId="subnet-0f0f0f0f")
        # Automatic addresses skip both reservations (the fake assigns from
        # the top of the subnet down: .254 without them) ...
        run = ["run-instances", "--image-id", "ami-12345678", "--subnet-id",
               sub]
        auto = self.aws(*run)["Instances"][0]
        self.assertEqual(auto["PrivateIpAddress"], "10.0.1.223")
        # ... and seeds without an address too; a named address inside an
        # explicit reservation is what the reservation is for.
        self.assertEqual(self.seed(subnet=sub)["private_ip"], "10.0.1.222")
        named = self.aws(*run, "--private-ip-address", "10.0.1.250")[
            "Instances"][0]
        self.assertEqual(named["PrivateIpAddress"], "10.0.1.250")
        # Deleting a reservation leaves assigned addresses alone and frees
        # the rest for automatic assignment.
        out = self.aws("delete-subnet-cidr-reservation",
                       "--subnet-cidr-reservation-id", explicit)
        self.assertEqual(out["DeletedSubnetCidrReservation"]
                         ["SubnetCidrReservationId"], explicit)
        self.assertEqual(self.instance(named["InstanceId"])
                         ["PrivateIpAddress"], "10.0.1.250")
        self.assertEqual(self.aws(*run)["Instances"][0]["PrivateIpAddress"],
                         "10.0.1.254")
        self.aws_fails("InvalidSubnetCidrReservationID.NotFound",
                       "delete-subnet-cidr-reservation",
                       "--subnet-cidr-reservation-id", explicit)
        # The state log records reservations and the checker accepts it.
        recs = self.state_records()
        self.assertEqual([(r["event"], r["reservation"], r["cidr"], r["type"])
                          for r in recs if r.get("kind") == "reservation"],
                         [("subnet-cidr-reservation-created", explicit,
                           "10.0.1.240/28", "explicit"),
                          ("subnet-cidr-reservation-created", prefix,
                           "10.0.1.224/28", "prefix"),
                          ("subnet-cidr-reservation-deleted", explicit,
                           "10.0.1.240/28", "explicit")])
        p = self.check_own_invariants()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_seeded_reservations(self):
        """Tests seed reservations (in seeded subnets, whose ids need not
        look like EC2's) through the control API."""
        self.fake.ctl("POST", "subnets", {"id": "subnet-0b1d9e",
                                          "az": "us-east-1a",
                                          "cidr": "10.99.0.0/24"})
        r = self.fake.ctl("POST", "cidr-reservations", {
            "subnet": "subnet-0b1d9e", "cidr": "10.99.0.128/25"})
        self.assertEqual((r["type"], r["cidr"]), ("explicit", "10.99.0.128/25"))
        self.assertEqual(self.fake.ctl("GET", "state")["cidr_reservations"],
                         [r])
        status, _, body = self.fake.http(
            "POST", "/_fake/cidr-reservations", json.dumps(
                {"subnet": "subnet-0b1d9e", "cidr": "10.99.0.192/26"}).encode())
        self.assertEqual(status, 400, body)  # overlaps
        out = self.api("run_instances", ImageId="ami-12345678", MinCount=2,
                       MaxCount=2, SubnetId="subnet-0b1d9e")
        self.assertEqual([i["PrivateIpAddress"] for i in out["Instances"]],
                         ["10.99.0.127", "10.99.0.126"])
        self.assertEqual(self.fake.ctl("DELETE", "cidr-reservations/" +
                                       r["id"])["id"], r["id"])
        self.assertEqual(self.fake.ctl("GET", "cidr-reservations"), [])
        self.assertEqual(self.api("run_instances", ImageId="ami-12345678",
                                  MinCount=1, MaxCount=1,
                                  SubnetId="subnet-0b1d9e")["Instances"][0]
                         ["PrivateIpAddress"], "10.99.0.254")

    def test_invariant_automatic_address_in_reservation(self):
        """The checker names an automatic address inside a reservation (a
        hand-written log: the fake itself never assigns one)."""
        bad = os.path.join(self.tmp, "scr.log")
        with open(bad, "w") as f:
            for rec in ({"event": "subnet-cidr-reservation-created",
                         "kind": "reservation", "reservation": "scr-1",
                         "subnet": "subnet-1", "cidr": "10.0.1.240/28",
                         "type": "explicit", "active": True},
                        {"event": "instance-pending", "kind": "instance",
                         "instance": "i-1", "state": "pending",
                         "private_ip": "10.0.1.250", "ip_auto": False},
                        {"event": "instance-pending", "kind": "instance",
                         "instance": "i-2", "state": "pending",
                         "private_ip": "10.0.1.251", "ip_auto": True}):
                f.write(json.dumps(rec) + "\n")
        p = self.check_invariants(bad)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("i-2", p.stdout)
        self.assertNotIn("i-1", p.stdout)
