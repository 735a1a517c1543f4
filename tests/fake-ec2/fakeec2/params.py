"""Query API parameters: Name.N lists, required and integer parameters,
filters (wildcards, tags), id checks, and ParamChecker (which parameters an
action has, from botocore's EC2 service model: UnknownParameter)."""

import fnmatch
import re

import botocore.session

from .common import EC2Error
def indexed(params, prefix):
    """Query API lists: Prefix.1=a&Prefix.2=b -> [a, b]; Prefix.1.Sub=x ->
    [{'Sub': x}].  Ordered by index."""
    groups = {}
    for key, val in params.items():
        if not key.startswith(prefix + "."):
            continue
        idx, _, sub = key[len(prefix) + 1:].partition(".")
        if not idx.isdigit():
            continue
        if sub:
            g = groups.setdefault(int(idx), {})
            if isinstance(g, dict):
                g[sub] = val
        else:
            groups[int(idx)] = val
    return [groups[i] for i in sorted(groups)]


def require(params, name, wire_name=None):
    val = params.get(name)
    if val is None or val == "":
        raise EC2Error("MissingParameter", "The request must contain the "
                       "parameter %s" % (wire_name or name))
    return val


def int_param(params, name, default=None):
    val = params.get(name)
    if val is None:
        return default
    try:
        return int(val)
    except ValueError:
        raise EC2Error("InvalidParameterValue", "Value (%s) for parameter %s "
                       "is invalid. Expected an integer." % (val, name))


def parse_filters(params):
    out = []
    for f in indexed(params, "Filter"):
        if not isinstance(f, dict) or not f.get("Name"):
            raise EC2Error("InvalidParameterValue",
                           "The filter name must be specified")
        out.append((f["Name"], indexed(f, "Value")))
    return out


def wildcard(pattern, value):
    # EC2 filter values support * and ? only; neutralise fnmatch's [...].
    return value is not None and fnmatch.fnmatchcase(
        str(value), pattern.replace("[", "[[]"))


def tag_filter(name, tags):
    """Returns the candidate values for tag filters or None if not a tag one."""
    if name.startswith("tag:"):
        key = name[4:]
        return [tags[key]] if key in tags else []
    if name == "tag-key":
        return list(tags)
    if name == "tag-value":
        return list(tags.values())
    return None


def check_ids(ids, prefix, kind):
    """Malformed ids fail the whole call, as in EC2."""
    for i in ids:
        if not re.fullmatch(prefix + r"-[0-9a-f]{8}([0-9a-f]{9})?", i):
            raise EC2Error("Invalid%sID.Malformed" % kind,
                           'Invalid id: "%s" (expecting "%s-...")' % (i, prefix))


class ParamChecker:
    """Which Query parameters an action accepts, from botocore's EC2 service
    model (the model the API Reference is generated from), serialized the way
    EC2's query protocol does it: lists flattened as Name.N, structures as
    Name.Member, member names from queryName, else a capitalised
    locationName, else the member name.  EC2 answers anything else with
    UnknownParameter."""

    def __init__(self):
        self.model = botocore.session.Session().get_service_model("ec2")
        self.cache = {}

    @staticmethod
    def wire_name(name, member):
        s = member.serialization
        if s.get("queryName"):
            return s["queryName"]
        if s.get("name"):
            return s["name"][0].upper() + s["name"][1:]
        return name

    def members(self, shape):
        m = self.cache.get(shape.name)
        if m is None:
            m = {self.wire_name(n, s): s for n, s in shape.members.items()}
            self.cache[shape.name] = m
        return m

    def accepts(self, shape, parts):
        if shape.type_name == "structure":
            if not parts or parts[0] not in self.members(shape):
                return False
            return self.accepts(self.members(shape)[parts[0]], parts[1:])
        if shape.type_name == "list":
            return bool(parts) and parts[0].isdigit() and \
                self.accepts(shape.member, parts[1:])
        return not parts

    def unknown(self, action, params):
        """The first parameter the action does not know, or None."""
        shape = self.model.operation_model(action).input_shape
        for key in params:
            if key in ("Action", "Version"):
                continue
            if shape is None or not self.accepts(shape, key.split(".")):
                return key
        return None
