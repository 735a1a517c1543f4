#!/usr/bin/python3
"""Engine-side leadership clock for the failover measurements: poll several engines'
GET /nodes/<id> every 50 ms and print "<unix time> <name>" as soon as one says
ManagerStatus.Leader=true, then exit. Usage: engine-leader-poll.py SOCK NODEID NAME ..."""
import http.client
import json
import socket
import sys
import threading
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=2)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(2)
        self.sock.connect(self.path)


done = threading.Event()


def poll(sock, nid, name):
    while not done.is_set():
        try:
            c = UnixHTTPConnection(sock)
            c.request("GET", "/nodes/" + nid)
            r = c.getresponse()
            body = r.read()
            c.close()
            t = time.time()
            if r.status == 200 and json.loads(body).get("ManagerStatus", {}).get("Leader"):
                print("%.3f %s" % (t, name), flush=True)
                done.set()
                return
        except Exception:
            pass
        time.sleep(0.05)


args = sys.argv[1:]
threads = [threading.Thread(target=poll, args=args[i:i + 3]) for i in range(0, len(args), 3)]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
