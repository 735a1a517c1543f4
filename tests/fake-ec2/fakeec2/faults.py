"""Faults: injected errors and latency (POST /_fake/faults) for EC2 actions
and for the IMDS: by count or for a time window, before the action or after
it (a lost answer)."""

import time
# Default HTTP status of error codes injected through /_fake/faults.
FAULT_STATUS = {"RequestLimitExceeded": 503, "ServiceUnavailable": 503,
                "UnauthorizedOperation": 403,
                "Unavailable": 503, "InternalError": 500,
                "InsufficientInstanceCapacity": 500,
                "InsufficientAddressCapacity": 500,
                "InsufficientVolumeCapacity": 500}
FAULT_MESSAGE = {
    "RequestLimitExceeded": "Request limit exceeded.",
    "InsufficientInstanceCapacity":
        "We currently do not have sufficient capacity in the Availability "
        "Zone you requested. Our system will be working on provisioning "
        "additional capacity.",
    "InternalError": "An internal error has occurred",
    "ServiceUnavailable": "The service is unavailable. Try again later.",
    "Unavailable": "The server is overloaded and can't handle the request."}


class Faults:
    def take_fault(self, action):
        """The first fault matching action: count-based ones are used up,
        time-window ones ("seconds") match every call until they expire."""
        with self.lock:
            now = time.time()
            self.faults = [f for f in self.faults
                           if f["until"] is None or now < f["until"]]
            for f in self.faults:
                if f["action"] not in ("*", action):
                    continue
                if f["count"] is not None:
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self.faults.remove(f)
                return f
        return None

    def add_fault(self, data):
        seconds = data.get("seconds")
        count = data.get("count")
        f = {"action": data.get("action", "*"), "code": data.get("code"),
             "status": data.get("status"), "message": data.get("message"),
             "count": int(count) if count is not None else
             (None if seconds is not None else 1),
             "latency": float(data.get("latency", 0)),
             "after": bool(data.get("after", False)),
             "until": time.time() + float(seconds)
             if seconds is not None else None}
        if f["after"] and not f["code"]:
            raise ValueError("an 'after' fault needs a code")
        with self.lock:
            self.faults.append(f)
        return f
