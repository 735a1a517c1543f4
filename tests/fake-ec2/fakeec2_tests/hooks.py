"""TestHooks and TestRealTimers: hooks, the state log and
check_invariants.py; the lifecycle on real timers."""

import json
import os
import time

from .lib import Base, IP_RELEASE, LONG, VOL_RELEASE


class TestHooks(Base):
    def test_hooks_and_state_log(self):
        out = self.aws("run-instances", "--image-id", "ami-12345678",
                       "--private-ip-address", "10.0.1.33")
        iid = out["Instances"][0]["InstanceId"]
        vol = self.api("create_volume", AvailabilityZone="us-east-1a",
                       Size=1)["VolumeId"]
        self.assertEqual(self.hook_lines(), [])  # nothing ran while pending
        self.advance()
        self.assertEqual(self.hook_lines(), [
            ["instance-running", iid, "10.0.1.33", "us-east-1a"]])
        self.aws("attach-volume", "--volume-id", vol, "--instance-id", iid,
                 "--device", "/dev/sdf")
        self.advance()
        self.api("detach_volume", VolumeId=vol)
        self.advance()
        self.api("attach_volume", VolumeId=vol, InstanceId=iid,
                 Device="/dev/sdh")
        self.advance()
        self.api("terminate_instances", InstanceIds=[iid])
        self.advance()
        self.advance(VOL_RELEASE)  # volumes come free after a while
        self.assertEqual(self.hook_lines()[1:], [
            ["volume-attached", vol, iid, "/dev/sdf"],
            ["volume-detached", vol, iid],
            ["volume-attached", vol, iid, "/dev/sdh"],
            ["instance-terminated", iid, "10.0.1.33"],
            ["volume-detached", vol, iid]])
        runs = self.fake.ctl("GET", "hooks")["runs"]
        self.assertTrue(all(r["rc"] == 0 for r in runs))
        # Seeding a running instance fires instance-running too (unless
        # "hooks": false).
        seeded = self.seed(private_ip="10.0.1.34")["id"]
        self.seed(private_ip="10.0.1.35", hooks=False)
        self.assertEqual(self.hook_lines()[-1],
                         ["instance-running", seeded, "10.0.1.34",
                          "us-east-1a"])
        with open(self.state_log) as f:
            events = [json.loads(l) for l in f]
        self.assertIn({"event": "instance-shutting-down",
                       "args": [iid, "10.0.1.33"]},
                      [{"event": e["event"], "args": e["args"]}
                       for e in events])


    def test_invariant_worker_with_managers_profile(self):
        """The checker fails when a worker carries the managers' instance
        profile; a worker without one, or with its own, is fine."""
        self.fake.ctl("POST", "instance-profiles",
                      {"names": ["sk-manager", "sk-worker"]})

        def run(ip, role, profile=None):
            kw = dict(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                      PrivateIpAddress=ip, TagSpecifications=[{
                          "ResourceType": "instance", "Tags": [{
                              "Key": "swarmkeeper:role", "Value": role}]}])
            if profile:
                kw["IamInstanceProfile"] = {"Name": profile}
            return self.api("run_instances", **kw)["Instances"][0][
                "InstanceId"]
        run("10.0.1.60", "manager", "sk-manager")
        run("10.0.1.61", "worker")
        run("10.0.1.62", "worker", "sk-worker")
        p = self.check_own_invariants()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        bad = run("10.0.1.63", "worker", "sk-manager")
        p = self.check_own_invariants()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(bad, p.stdout)
        self.assertIn("sk-manager", p.stdout)
        # Tagged a worker later (CreateTags): the log follows the role too.
        self.fake.ctl("POST", "reset")
        self.fake.ctl("POST", "instance-profiles",
                      {"names": ["sk-manager", "sk-worker"]})
        m = run("10.0.1.60", "manager", "sk-manager")
        self.api("create_tags", Resources=[m], Tags=[
            {"Key": "swarmkeeper:role", "Value": "worker"}])
        p = self.check_own_invariants()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(m, p.stdout)

    def test_state_log_and_invariants(self):
        def run(ip, lid):
            return self.api("run_instances", ImageId="ami-12345678",
                            MinCount=1, MaxCount=1, PrivateIpAddress=ip,
                            TagSpecifications=[{
                                "ResourceType": "instance", "Tags": [{
                                    "Key": "swarmkeeper:logical-id",
                                    "Value": lid}]}])["Instances"][0][
                                        "InstanceId"]
        # A replacement launched only after the old one terminated: fine.
        old = run("10.0.1.36", "m1")
        self.advance()
        self.api("terminate_instances", InstanceIds=[old])
        self.advance(LONG + IP_RELEASE + 1)
        new = run("10.0.1.36", "m1")
        p = self.check_own_invariants()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(self.state_log) as f:
            lines = [json.loads(l) for l in f]
        mine = [(l["event"], l["state"], l["logical_id"]) for l in lines
                if l.get("instance") == old and l["kind"] == "instance"]
        self.assertEqual(mine, [
            ("instance-pending", "pending", "m1"),
            ("instance-running", "running", "m1"),
            ("instance-shutting-down", "shutting-down", "m1"),
            ("instance-terminated", "terminated", "m1")])
        self.assertIn(("volume-attached", "/dev/xvda", True), [
            (l["event"], l["args"][2], l["root"]) for l in lines
            if l.get("instance") == new and l["kind"] == "attachment"])
        # Two live instances of one logical id (the tag added afterwards):
        # the checker fails and names it.
        other = self.seed(private_ip="10.0.1.37")["id"]
        self.aws("create-tags", "--resources", other, "--tags",
                 "Key=swarmkeeper:logical-id,Value=m1")
        p = self.check_own_invariants()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("m1", p.stdout)
        self.assertIn(new, p.stdout)
        self.assertIn(other, p.stdout)
        # A volume attached twice at once (hand-written log) fails too; a
        # reset forgets everything before it.
        bad = os.path.join(self.tmp, "bad.log")
        with open(bad, "w") as f:
            for rec in ({"event": "volume-attached", "kind": "attachment",
                         "volume": "vol-1", "instance": "i-1",
                         "status": "attached"},
                        {"event": "volume-attaching", "kind": "attachment",
                         "volume": "vol-1", "instance": "i-2",
                         "status": "attaching"}):
                f.write(json.dumps(rec) + "\n")
        p = self.check_invariants(bad)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("vol-1", p.stdout)
        with open(bad) as f:
            lines = f.read().splitlines()
        with open(bad, "w") as f:
            f.write("\n".join([lines[0], json.dumps({"event": "reset"}),
                               lines[1]]) + "\n")
        p = self.check_invariants(bad)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


class TestRealTimers(Base):
    """Short real delays: transitions (and hooks) happen without any
    polling and without touching the fake's clock."""
    server_args = ("--pending-delay", "0.3", "--shutdown-delay", "0.3",
                   "--terminated-ttl", "1.5")

    def wait_for(self, pred, timeout=5):
        deadline = time.time() + timeout
        while not pred():
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)

    def test_real_time_lifecycle(self):
        iid = self.seed(private_ip="10.0.1.44", state="pending")["id"]
        self.wait_for(lambda: os.path.getsize(self.hook_out) > 0)
        self.assertEqual(self.hook_lines(),
                         [["instance-running", iid, "10.0.1.44",
                           "us-east-1a"]])
        self.assertEqual(self.instance(iid)["State"]["Name"], "running")
        out = self.aws("terminate-instances", "--instance-ids", iid)
        self.assertEqual(out["TerminatingInstances"][0]["CurrentState"]
                         ["Name"], "shutting-down")
        self.wait_for(lambda: len(self.hook_lines()) == 2)
        self.assertEqual(self.instance(iid)["State"]["Name"], "terminated")
        self.wait_for(lambda: self.fake.ctl("GET", "state")["instances"]
                      == [])
        self.assertEqual(self.instances(), [])
