"""TagActions: TagSpecification.N (RunInstances, CreateVolume,
CreateSubnetCidrReservation), CreateTags and DeleteTags.  A change of an
instance's logical id or role tag goes to the state log."""

from .common import LOGICAL_ID_TAG, ROLE_TAG, EC2Error
from .model import Instance
from .params import indexed, require


class TagActions:
    def parse_tag_specs(self, p, *rtypes):
        """TagSpecification.N: {resource type: tags} for each of rtypes (the
        only types this action takes; any other is EC2's
        InvalidParameterValue)."""
        out = {r: {} for r in rtypes}
        for spec in indexed(p, "TagSpecification"):
            rtype = spec.get("ResourceType") if isinstance(spec, dict) else None
            if rtype not in out:
                raise EC2Error("InvalidParameterValue", "'%s' is not a valid "
                               "taggable resource type for this operation."
                               % rtype)
            out[rtype].update(self.parse_tags(spec))
        return out

    def parse_tags(self, src):
        tags = {}
        for t in indexed(src, "Tag"):
            if not isinstance(t, dict) or "Key" not in t:
                raise EC2Error("InvalidParameterValue", "Tag key must be "
                               "specified")
            key, val = t["Key"], t.get("Value", "")
            if key.lower().startswith("aws:"):
                raise EC2Error("InvalidParameterValue", "Tag keys starting "
                               "with 'aws:' are reserved for internal use")
            if not 1 <= len(key) <= 128 or len(val) > 256:
                raise EC2Error("InvalidParameterValue", "Tag key or value "
                               "too long: %s" % key)
            tags[key] = val
        return tags

    def tag_targets(self, p):
        ids = indexed(p, "ResourceId")
        if not ids:
            raise EC2Error("MissingParameter", "The request must contain the "
                           "parameter resourceIdSet")
        targets = []
        for rid in ids:
            if rid.startswith("i-"):
                targets += self.get_instances([rid])
            elif rid.startswith("vol-"):
                targets += self.get_volumes([rid])
            else:
                raise EC2Error("InvalidID", "The ID '%s' is not valid" % rid)
        return targets

    def CreateTags(self, p):
        targets = self.tag_targets(p)
        tags = self.parse_tags(p)
        if not tags:
            require(p, "Tag.1.Key", "tagSet")
        for t in targets:  # validate every target before changing any
            if len(set(t.tags) | set(tags)) > 50:
                raise EC2Error("TagLimitExceeded", "The maximum number of "
                               "Tags for a resource has been reached.")
        for t in targets:
            before = (t.tags.get(LOGICAL_ID_TAG), t.tags.get(ROLE_TAG))
            t.tags.update(tags)
            self.tags_changed(t, before)
        return {"return": True}

    def tags_changed(self, t, before):
        # The state log follows each instance's logical id and role.
        if isinstance(t, Instance) and \
                (t.tags.get(LOGICAL_ID_TAG), t.tags.get(ROLE_TAG)) != before:
            self.emit("instance-tagged", t.id, hook=False)

    def DeleteTags(self, p):
        targets = self.tag_targets(p)
        spec = indexed(p, "Tag")
        for t in targets:
            before = (t.tags.get(LOGICAL_ID_TAG), t.tags.get(ROLE_TAG))
            if not spec:
                t.tags = {k: v for k, v in t.tags.items()
                          if k.startswith("aws:")}
            for s in spec:
                if isinstance(s, dict) and s.get("Key") in t.tags and (
                        "Value" not in s or t.tags[s["Key"]] == s["Value"]):
                    del t.tags[s["Key"]]
            self.tags_changed(t, before)
        return {"return": True}
