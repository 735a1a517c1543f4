"""EC2Endpoint: POST / -- the EC2 Query API's front.  handle_ec2() reads
the parameters, authenticates (sigv4.py), applies an injected fault
(faults.py), refuses unknown actions and parameters, runs the action (a
method named as the action, in ec2_*.py) under the lock, renders the answer
or EC2's error XML, and logs the call (GET /_fake/calls, --call-log)."""

import json
import time
import traceback
import uuid
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from .common import NS, UNLOGGED_PARAMS, EC2Error, iso, log, to_xml
from .faults import FAULT_MESSAGE, FAULT_STATUS


class EC2Endpoint:
    ACTIONS = ("DescribeInstances", "RunInstances", "TerminateInstances",
               "DescribeVolumes", "CreateVolume", "AttachVolume",
               "DetachVolume", "CreateTags", "DeleteTags", "DescribeSubnets",
               "CreateSubnetCidrReservation", "GetSubnetCidrReservations",
               "DeleteSubnetCidrReservation")

    def log_call(self, call):
        with self.lock:
            self.calls.append(call)
            if self.args.call_log:
                rec = dict(call, time=iso(call["time"]), t=call["time"],
                           params={k: v for k, v in call["params"].items()
                                   if k not in UNLOGGED_PARAMS})
                with open(self.args.call_log, "a") as f:
                    f.write(json.dumps(rec) + "\n")

    def handle_ec2(self, h, body):
        query = urlsplit(h.path).query
        try:
            params = dict(parse_qsl(query, keep_blank_values=True))
            params.update(parse_qsl(body.decode("utf-8"),
                                    keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError:
            params = {}
        action = params.get("Action", "")
        h.log_extra = action
        call = {"time": time.time(), "action": action,
                "params": {k: ("<%d bytes redacted>" % len(v)
                               if k in UNLOGGED_PARAMS else v)
                           for k, v in params.items()
                           if k not in ("Action", "Version")},
                "source": h.client_address[0], "access_key": None}
        try:
            call["access_key"] = self.authenticate(h, body)
            fault = self.take_fault(action)
            if fault:
                if fault.get("latency"):
                    time.sleep(float(fault["latency"]))
                if fault.get("code"):
                    err = EC2Error(fault["code"], fault.get("message") or
                                   FAULT_MESSAGE.get(fault["code"],
                                                     "Injected fault"),
                                   int(fault.get("status") or
                                       FAULT_STATUS.get(fault["code"], 400)))
                    if not fault.get("after"):
                        raise err
            if not action:
                raise EC2Error("MissingAction", "The request must contain the "
                               "parameter Action")
            if action not in self.ACTIONS:
                raise EC2Error("InvalidAction", "The action %s is not valid "
                               "for this web service." % action)
            unknown = self.params.unknown(action, params)
            if unknown:
                raise EC2Error("UnknownParameter", "The parameter %s is not "
                               "recognized" % unknown)
            if params.get("DryRun") == "true":
                raise EC2Error("DryRunOperation", "Request would have "
                               "succeeded, but DryRun flag is set.", 412)
            with self.lock:
                self.tick()
                try:
                    result = getattr(self, action)(params)
                except EC2Error:
                    raise
                except Exception:  # a bug in the fake: say so, EC2-style
                    log("internal error in %s:\n%s" % (
                        action, traceback.format_exc()))
                    raise EC2Error("InternalError", "An internal error has "
                                   "occurred", 500)
            if fault and fault.get("code") and fault.get("after"):
                # Done, but the answer is lost: what ClientToken is for.
                call["applied"] = True
                raise err
            status = 200
            payload = ('<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse '
                       'xmlns="%s"><requestId>%s</requestId>%s</%sResponse>' % (
                           action, NS, uuid.uuid4(), to_xml(result), action))
            call.update(status=200, error_code=None, result="Success")
        except EC2Error as e:
            status = e.status
            payload = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response>'
                       '<Errors><Error><Code>%s</Code><Message>%s</Message>'
                       '</Error></Errors><RequestID>%s</RequestID></Response>'
                       % (escape(e.code), escape(e.message), uuid.uuid4()))
            call.update(status=e.status, error_code=e.code,
                        error_message=e.message, result=e.code)
            h.log_extra = "%s %s" % (action, e.code)
        self.log_call(call)
        return status, "text/xml;charset=UTF-8", payload.encode()
