#!/usr/bin/python3
"""check_invariants.py STATE_LOG: fail if the fake EC2's state log (written
with fake_ec2.py --state-log) shows, at any moment,

  * two live instances (pending, running, stopping, stopped, shutting-down)
    of one logical id (tag swarmkeeper:logical-id), or
  * one volume with two attachments (attaching, attached or detaching), or
  * a worker (tag swarmkeeper:role=worker) launched with an instance profile
    that a manager (swarmkeeper:role=manager) of the same log carries: the
    managers' role never reaches a worker, or
  * an instance whose address was assigned automatically inside a subnet
    CIDR reservation that was in force when it was assigned.

Each line of the log carries the state an event leads to (see README.md), so
the log is replayed line by line; a "reset" line forgets everything.
Exit status: 0 all good, 1 a violation (each one printed), 2 bad input.
"""

import ipaddress
import json
import sys

LIVE = ("pending", "running", "stopping", "stopped", "shutting-down")


def check(lines):
    instances = {}    # instance id -> (live, logical id)
    attachments = {}  # volume id -> {instance id: status}
    reservations = {}  # reservation id -> network
    profiles = {}     # role -> {profile: first line}
    workers = {}      # instance id -> (line, profile) of a worker launch
    seen = set()      # instances already checked against reservations
    violations = []

    def workers_check():
        # per run of the fake (a reset starts a new one)
        managers = profiles.get("manager", {})
        for iid, (n, prof) in sorted(workers.items(), key=lambda kv: kv[1]):
            if prof in managers:
                violations.append("line %d: worker %s carries the managers' "
                                  "instance profile %s" % (n, iid, prof))
        profiles.clear()
        workers.clear()

    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        when = rec.get("time", "line %d" % n)
        if rec.get("event") == "reset":
            instances.clear()
            attachments.clear()
            reservations.clear()
            seen.clear()
            workers_check()
            continue
        kind = rec.get("kind")
        if kind == "reservation":
            if rec.get("active"):
                reservations[rec["reservation"]] = \
                    ipaddress.ip_network(rec["cidr"])
            else:
                reservations.pop(rec["reservation"], None)
            continue
        if kind == "instance":
            iid = rec["instance"]
            lid = rec.get("logical_id")
            prof = rec.get("iam_instance_profile")
            if prof and rec.get("role"):
                profiles.setdefault(rec["role"], {}).setdefault(prof, n)
                if rec["role"] == "worker":
                    workers.setdefault(iid, (n, prof))
            ip = rec.get("private_ip")
            if rec.get("ip_auto") and ip and iid not in seen:
                seen.add(iid)
                inside = sorted(r for r, net in reservations.items()
                                if ipaddress.ip_address(ip) in net)
                if inside:
                    violations.append(
                        "line %d (%s): instance %s got %s automatically, "
                        "inside reservation %s" % (n, when, iid, ip,
                                                   " ".join(inside)))
            instances[iid] = (rec["state"] in LIVE, lid)
            if lid is not None and instances[iid][0]:
                live = sorted(i for i, (alive, l) in instances.items()
                              if alive and l == lid)
                if len(live) > 1:
                    violations.append(
                        "line %d (%s): logical id %s has %d live instances:"
                        " %s" % (n, when, lid, len(live), " ".join(live)))
        elif kind == "attachment":
            vid, iid = rec["volume"], rec["instance"]
            att = attachments.setdefault(vid, {})
            if rec["status"] == "detached":
                att.pop(iid, None)
            else:
                att[iid] = rec["status"]
                if len(att) > 1:
                    violations.append(
                        "line %d (%s): volume %s has %d attachments: %s" % (
                            n, when, vid, len(att), " ".join(
                                "%s(%s)" % kv for kv in sorted(att.items()))))
    workers_check()
    return violations


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: check_invariants.py STATE_LOG\n")
        return 2
    try:
        with open(argv[1]) as f:
            violations = check(f.read().splitlines())
    except (OSError, ValueError, KeyError) as e:
        sys.stderr.write("check_invariants: %s: %s\n" % (argv[1], e))
        return 2
    for v in violations:
        print(v)
    if violations:
        print("%d violation(s)" % len(violations))
        return 1
    print("ok: no logical id with two live instances, no volume attached "
          "twice, no worker with the managers' profile, no automatic "
          "address in a reservation")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
