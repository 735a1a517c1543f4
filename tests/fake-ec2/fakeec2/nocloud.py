"""NoCloud: cloud-init's NoCloud seed (/nocloud/meta-data, user-data,
vendor-data) for the caller's instance, found as the IMDS finds it."""

from urllib.parse import urlsplit


class NoCloud:
    def handle_nocloud(self, h):
        """cloud-init's NoCloud datasource (seedfrom=http://FAKE/nocloud/):
        the seed of the caller's instance, found like IMDS finds it."""
        path = urlsplit(h.path).path
        if h.command not in ("GET", "HEAD"):
            return 405, "text/plain", b"Method Not Allowed"
        inst = self.imds_instance(h.client_address[0])
        if inst is None:
            return 404, "text/plain", b"Not Found"
        with self.lock:
            if path == "/nocloud/meta-data":
                return 200, "text/plain", (
                    "instance-id: %s\nlocal-hostname: %s\n" % (
                        inst.id, self.hostname(inst))).encode()
            if path == "/nocloud/user-data":
                data = self.user_data.get(inst.id, inst.user_data)
                if data is None:
                    return 404, "text/plain", b"Not Found"
                return 200, "application/octet-stream", data
            if path == "/nocloud/vendor-data":
                return 200, "text/plain", b""
        return 404, "text/plain", b"Not Found"
