"""Constants and small helpers every part of the fake EC2 uses: the account,
VPC and state codes, EC2Error (an error answer), log() (one stderr line),
iso() (EC2's timestamps), hexid() and to_xml() (EC2's XML)."""

import datetime
import secrets
import sys
from xml.sax.saxutils import escape
NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
ACCOUNT = "123456789012"
VPC_ID = "vpc-0a1b2c3d"
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32,
               "terminated": 48, "stopping": 64, "stopped": 80}
ALIVE = ("pending", "running", "stopping", "stopped", "shutting-down")
LOGICAL_ID_TAG = "swarmkeeper:logical-id"
ROLE_TAG = "swarmkeeper:role"
# Query parameters that carry secrets or bulk data: never written to a log.
UNLOGGED_PARAMS = ("UserData", "Signature", "SecurityToken",
                   "X-Amz-Security-Token", "X-Amz-Signature")
VOLUME_TYPES = {  # volume type -> (min, max) size in GiB
    "standard": (1, 1024), "gp2": (1, 16384), "gp3": (1, 16384),
    "io1": (4, 16384), "io2": (4, 16384), "st1": (125, 16384),
    "sc1": (125, 16384)}


# IMDS token lifetime bounds (seconds), as documented for IMDSv2.
TOKEN_TTL_MIN, TOKEN_TTL_MAX = 1, 21600


def log(msg):
    sys.stderr.write("fake-ec2: %s\n" % msg)
    sys.stderr.flush()


def iso(ts, millis=True):
    """EC2 timestamp format: 2016-11-15T12:34:56.000Z."""
    d = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    if millis:
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def hexid(prefix):
    return prefix + "-" + secrets.token_hex(9)[:17]


class EC2Error(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def to_xml(value):
    """dict -> child elements (None values left out), list -> <item>s."""
    if isinstance(value, dict):
        return "".join("<%s>%s</%s>" % (k, to_xml(v), k)
                       for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return "".join("<item>%s</item>" % to_xml(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def tag_set(tags):
    return [{"key": k, "value": v} for k, v in tags.items()]
