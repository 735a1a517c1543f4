#!/usr/bin/python3
"""A tiny scripted HTTP server for the agent's error-path tests: it answers each
request (any method, any path) with the next scripted answer, so that a test can
hand the EC2 client and the IMDS client truncated, malformed or hostile answers.

  POST   /_script   [{status, body | body_b64, headers{}, truncate, delay}, ...]
                    appends answers; `truncate: N` announces the full length but
                    sends only N bytes, then closes the connection
  DELETE /_script   forgets the queue
  GET    /_log      the requests seen: [{method, path, headers[names]}]

With an empty queue the answer is 599. Standard library only; listens where
--listen says, writes the port to --port-file, never connects anywhere.
"""
import argparse
import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
QUEUE = []
LOG = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, headers=None, truncate=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if truncate is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body if truncate is None else body[:truncate])
        self.wfile.flush()
        if truncate is not None:
            self.close_connection = True

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n else b""
        if self.path == "/_script":
            with LOCK:
                if self.command == "DELETE":
                    QUEUE.clear()
                else:
                    QUEUE.extend(json.loads(data))
                left = len(QUEUE)
            return self.reply(200, json.dumps({"queued": left}).encode())
        if self.path == "/_log":
            with LOCK:
                return self.reply(200, json.dumps(LOG).encode())
        with LOCK:
            LOG.append({"method": self.command, "path": self.path,
                        "headers": sorted(k.lower() for k in self.headers.keys())})
            item = QUEUE.pop(0) if QUEUE else None
        if item is None:
            return self.reply(599, b"no scripted answer left")
        if item.get("delay"):
            time.sleep(float(item["delay"]))
        body = (base64.b64decode(item["body_b64"]) if "body_b64" in item
                else item.get("body", "").encode())
        self.reply(int(item.get("status", 200)), body,
                   item.get("headers", {"Content-Type": "text/xml"}),
                   item.get("truncate"))

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((host, int(port)), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
