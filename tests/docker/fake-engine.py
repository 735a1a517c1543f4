#!/usr/bin/env python3
# swarmkeeper — a misbehaving Docker engine on a unix socket, for engine-faults.sh.
#
#   fake-engine.py SOCKET MODE COUNTFILE
#
# MODE:
#   garbage     every connection gets bytes that are not HTTP, then a close
#   hang        connections are accepted and read, never answered
#   badjson     /_ping and /version are fine; /info is not JSON; /events is a broken
#               chunked stream
#   eventshang  /_ping, /version, /info (not in a swarm) are fine; /events never answers
#   join500     like eventshang, and POST /swarm/join gets HTTP 500 whose message echoes
#               the request's JoinToken (as an engine's "invalid join token" error can)
#
# Every request line (or connection, for garbage/hang) is appended to COUNTFILE, after
# the time it came in ("EPOCH_SECONDS LINE").
import json
import os
import socket
import sys
import threading
import time

path, mode, countfile = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()


def record(what):
    with lock, open(countfile, "a") as f:
        f.write("%.3f %s\n" % (time.time(), what))


VERSION = b'{"ApiVersion":"1.41","MinAPIVersion":"1.12","Version":"20.10.24"}'
INFO_INACTIVE = (b'{"Name":"fake","Labels":[],"Swarm":{"NodeID":"","NodeAddr":"",'
                 b'"LocalNodeState":"inactive","ControlAvailable":false,"Error":"","RemoteManagers":null}}')


def answer(conn, status, body, ctype=b"application/json"):
    conn.sendall(b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (status, ctype, len(body)) + body)


def handle(conn):
    try:
        if mode == "garbage":
            record("connect")
            conn.sendall(b"\x00\xff\xfeNOT HTTP AT ALL\r\n\r\n\x01\x02")
            return
        if mode == "hang":
            record("connect")
            while conn.recv(4096):
                pass
            return
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                d = conn.recv(4096)
                if not d:
                    return
                buf += d
            head, _, buf = buf.partition(b"\r\n\r\n")
            line = head.split(b"\r\n")[0].decode(errors="replace")
            clen = 0
            for h in head.split(b"\r\n")[1:]:
                k, _, v = h.partition(b":")
                if k.strip().lower() == b"content-length":
                    clen = int(v.strip())
            while len(buf) < clen:
                d = conn.recv(4096)
                if not d:
                    return
                buf += d
            body, buf = buf[:clen], buf[clen:]
            record(line)
            target = line.split(" ")[1] if " " in line else ""
            p = target.split("?")[0]
            if p.endswith("/_ping"):
                answer(conn, 200, b"OK", b"text/plain")
            elif p.endswith("/version"):
                answer(conn, 200, VERSION)
            elif p.endswith("/events"):
                if mode == "badjson":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"5\r\n{\"Ty\r\nzz-not-a-size\r\n")
                    return
                while conn.recv(4096):  # eventshang
                    pass
                return
            elif p.endswith("/swarm/join") and mode == "join500":
                try:
                    token = json.loads(body).get("JoinToken", "")
                except ValueError:
                    token = ""
                answer(conn, 500, json.dumps({"message": "rpc error: code = InvalidArgument desc = "
                                              "invalid join token %s" % token}).encode())
            elif p.endswith("/info"):
                if mode == "badjson":
                    answer(conn, 200, b'{"Swarm": {"LocalNodeState": ')
                else:
                    answer(conn, 200, INFO_INACTIVE)
            else:
                answer(conn, 404, b'{"message":"page not found"}')
    except OSError:
        pass
    finally:
        conn.close()


s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s.bind(path)
s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
