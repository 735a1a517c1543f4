#!/usr/bin/python3
"""check_invariants.py STATE_LOG: fail if the fake EC2's state log (written
with fake_ec2.py --state-log) shows, at any moment,

  * two live instances (pending, running, stopping, stopped, shutting-down)
    of one logical id (tag swarmkeeper:logical-id), or
  * one volume with two attachments (attaching, attached or detaching).

Each line of the log carries the state an event leads to (see README.md), so
the log is replayed line by line; a "reset" line forgets everything.
Exit status: 0 all good, 1 a violation (each one printed), 2 bad input.
"""

import json
import sys

LIVE = ("pending", "running", "stopping", "stopped", "shutting-down")


def check(lines):
    instances = {}    # instance id -> (live, logical id)
    attachments = {}  # volume id -> {instance id: status}
    violations = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        when = rec.get("time", "line %d" % n)
        if rec.get("event") == "reset":
            instances.clear()
            attachments.clear()
            continue
        kind = rec.get("kind")
        if kind == "instance":
            iid = rec["instance"]
            lid = rec.get("logical_id")
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
          "twice")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
