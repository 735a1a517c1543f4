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

This file is the entry point (command line, server, ticker); the fake itself
is in fakeec2/, one module per part (see fakeec2/__init__.py and README.md).
"""

import argparse
import os
import signal
import sys
import threading
import time
from http.server import ThreadingHTTPServer

# The parts are imported from the source tree: leave no __pycache__ there.
sys.dont_write_bytecode = True

from fakeec2.common import log  # noqa: E402
from fakeec2.fake import Fake  # noqa: E402
from fakeec2.server import Handler  # noqa: E402


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
