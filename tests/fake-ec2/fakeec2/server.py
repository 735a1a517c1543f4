"""Handler: the HTTP front (one port).  It routes by path: /_fake/ to the
control API, /latest to the IMDS, /nocloud/ to the NoCloud seed, POST / to
the EC2 API; logs one line per request to stderr."""

import json
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from .common import log
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonEC2"
    sys_version = ""

    def log_message(self, fmt, *args):  # respond() logs instead
        pass

    def respond(self, status, ctype, payload):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in getattr(self, "extra_headers", {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        log("%s %s %s %s -> %d" % (self.client_address[0], self.command,
                                   urlsplit(self.path).path,
                                   getattr(self, "log_extra", ""), status))

    def dispatch(self):
        fake = self.server.fake
        self.extra_headers = {}
        self.log_extra = ""
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = urlsplit(self.path).path
        try:
            if path.startswith("/_fake/"):
                data = json.loads(body) if body.strip() else {}
                status, out = fake.control(self.command, path, data)
                self.respond(status, "application/json",
                             json.dumps(out, indent=1).encode())
            elif path.startswith("/latest"):
                self.respond(*fake.handle_imds(self))
            elif path.startswith("/nocloud/"):
                self.respond(*fake.handle_nocloud(self))
            elif path == "/" and self.command == "POST":
                self.respond(*fake.handle_ec2(self, body))
            else:
                self.respond(404, "text/plain", b"Not Found")
        except (ValueError, KeyError, TypeError) as e:
            self.respond(400, "application/json",
                         json.dumps({"error": repr(e)}).encode())

    do_GET = do_POST = do_PUT = do_DELETE = dispatch
