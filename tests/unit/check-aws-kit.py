#!/usr/bin/python3
# conf/aws/: the IAM policy is least privilege and allows exactly the EC2 actions the
# agent calls; the CloudFormation template has the parts a cluster needs, embeds that
# very policy, and hands the cluster a configuration swarmkeeper accepts.
#
# The actions "the agent calls" are every Action the EC2 client sends from a function that
# the agent calls (read from agent/*.c: the actions each ec2_*() function of agent/ec2.c
# builds a request for, for each such function called outside agent/ec2*.c), together
# with every action in the fake EC2's call logs that the test run left: the fakes the
# agent's tests start log each call to $SK_EC2_CALL_LOG_DIR/*.log (meson sets it to
# BUILDDIR/ec2-calls; also $SK_EC2_CALL_LOGS, colon-separated globs), one JSON object
# per line with an "action". scripts/ci-test.sh runs this once more after every suite
# with SK_REQUIRE_CALL_LOGS=1: then the logs must exist, and the policy may allow no
# action that the whole test run did not call. How the policy decides on each call (and on
# each abuse) is tests/iam/check-policy.mjs's part, with a real IAM policy engine.
import base64
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("python3-yaml is not installed", file=sys.stderr)
    sys.exit(1 if os.environ.get("CI") == "true" else 77)

src = os.environ.get("SK_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
binary = os.environ.get("SK_BIN")
failed = checks = 0


def check(ok, msg):
    global failed, checks
    checks += 1
    print(("ok " if ok else "FAIL ") + msg, file=sys.stderr)
    if not ok:
        failed += 1


def listify(v):
    return v if isinstance(v, list) else [v]


# ------------------------------------------------------------------ the agent's actions
def function_actions(text):
    """{ec2_function: actions its body sends} for agent/ec2.c's top-level functions"""
    out = {}
    for m in re.finditer(r"^[a-zA-Z][^\n;]*?\b(ec2_\w+)\([^;{]*\)\s*\{(.*?)^\}", text, re.M | re.S):
        body = m.group(2)
        acts = set(re.findall(r'form_action\([^,]+,\s*"([A-Z][A-Za-z]+)"\)', body))
        acts |= set(re.findall(r'ec2_call\([^,]+,\s*"([A-Z][A-Za-z]+)"', body))
        # the paged listings: { "DescribeX", "XId", page, parser }
        acts |= set(re.findall(r'Listing\s+\w+\s*=\s*\{\s*"([A-Z][A-Za-z]+)"', body))
        if "TagSpecification" in body:
            acts.add("CreateTags")  # EC2 authorises tags given at creation as ec2:CreateTags
        if acts:
            out[m.group(1)] = acts
    return out


def client_actions():
    """the actions of the EC2 client's functions that the agent calls, and those it never does"""
    fa = {}
    for path in glob.glob(os.path.join(src, "agent", "ec2*.c")):
        fa.update(function_actions(open(path).read()))
    callers = "".join(open(p).read() for p in glob.glob(os.path.join(src, "agent", "*.c"))
                      if not os.path.basename(p).startswith("ec2"))
    called, never = set(), set()
    for fn, acts in fa.items():
        (called if re.search(rf"\b{fn}\(", callers) else never).update(acts)
    return called, never - called


def logged_actions():
    pats = [p for p in os.environ.get("SK_EC2_CALL_LOGS", "").split(":") if p]
    if os.environ.get("SK_EC2_CALL_LOG_DIR"):
        pats.append(os.path.join(os.environ["SK_EC2_CALL_LOG_DIR"], "*.log"))
    acts, files = set(), 0
    for pat in pats:
        for path in glob.glob(pat):
            files += 1
            for line in open(path):
                line = line.strip()
                if line:
                    a = json.loads(line).get("action")
                    if a:
                        acts.add(a)
    return acts, files


# ------------------------------------------------------------------ the policy
policy = json.load(open(os.path.join(src, "conf", "aws", "iam-policy.json")))
stmts = policy["Statement"]
check(policy.get("Version") == "2012-10-17", "policy: version 2012-10-17")
check(all(s.get("Effect") == "Allow" for s in stmts), "policy: allow statements only")
check(all("NotAction" not in s and "NotResource" not in s for s in stmts), "policy: no NotAction/NotResource")
allowed = set()
for s in stmts:
    for a in listify(s["Action"]):
        check("*" not in a, f"policy: no wildcard action ({a})")
        allowed.add(a)

CLUSTER = "${ClusterName}"
MANAGER_PROFILE = "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/swarmkeeper-${ClusterName}-${AWS::Region}"


def cond(s, op, key):
    return s.get("Condition", {}).get(op, {}).get(key)


def tag_scoped(s):
    return CLUSTER in (cond(s, "StringEquals", "aws:RequestTag/swarmkeeper:cluster"),
                       cond(s, "StringEquals", "aws:ResourceTag/swarmkeeper:cluster"),
                       cond(s, "StringEquals", "ec2:ResourceTag/swarmkeeper:cluster"))


TAGGABLE = re.compile(r":(instance|volume|launch-template)/")
for s in stmts:
    acts = listify(s["Action"])
    res = listify(s["Resource"])
    sid = s.get("Sid", "?")
    if all(a.startswith("ec2:Describe") for a in acts):
        check(res == ["*"] and "Condition" not in s, f"policy {sid}: describes are unscoped (they cannot be scoped)")
        continue
    check(all(a.startswith("ec2:Describe") is False for a in acts), f"policy {sid}: describes not mixed with changes")
    check("*" not in res, f"policy {sid}: no Resource '*' for a change")
    keys = cond(s, "ForAllValues:StringEquals", "aws:TagKeys")
    if any(k.startswith("aws:RequestTag/") for k in s.get("Condition", {}).get("StringEquals", {})) or acts == ["ec2:CreateTags"]:
        check(keys is not None and all(k.startswith("swarmkeeper:") for k in listify(keys)),
              f"policy {sid}: tags only with swarmkeeper:* keys (aws:TagKeys)")
    if acts == ["ec2:CreateTags"]:
        ca = listify(cond(s, "StringEquals", "ec2:CreateAction") or [])
        if ca:
            check(set(ca) <= {"RunInstances", "CreateVolume"}, f"policy {sid}: CreateTags as part of RunInstances/CreateVolume")
        else:
            # marking a volume after the fact: only the cluster's, only its state keys
            check(all(":volume/" in r for r in res) and cond(s, "StringEquals", "aws:ResourceTag/swarmkeeper:cluster") == CLUSTER
                  and set(listify(keys or [])) <= {"swarmkeeper:has-state", "swarmkeeper:generation"}
                  and cond(s, "Null", "aws:TagKeys") == "false",
                  f"policy {sid}: CreateTags after creation only swarmkeeper:has-state/generation on the cluster's volumes")
        continue
    if acts == ["iam:PassRole"]:
        check(len(res) == 1 and CLUSTER in res[0] and ":role/" in res[0],
              f"policy {sid}: PassRole only for the cluster's own role")
        check(cond(s, "StringEquals", "iam:PassedToService") == "ec2.amazonaws.com",
              f"policy {sid}: PassRole only to EC2")
        continue
    if any(TAGGABLE.search(r) for r in res):
        check(tag_scoped(s), f"policy {sid}: {', '.join(acts)} on instances/volumes/templates only when tagged swarmkeeper:cluster")
    if "ec2:RunInstances" in acts and any(":instance/" in r for r in res):
        check(cond(s, "StringEquals", "ec2:MetadataHttpTokens") == "required",
              f"policy {sid}: RunInstances only with HttpTokens=required")
        check(cond(s, "NumericLessThanEquals", "ec2:MetadataHttpPutResponseHopLimit") == "1",
              f"policy {sid}: RunInstances only with IMDS hop limit 1")
        role = cond(s, "StringEquals", "aws:RequestTag/swarmkeeper:role")
        check(role in ("manager", "worker"), f"policy {sid}: a launch of one role")
        if role == "manager":
            check(cond(s, "StringEquals", "ec2:InstanceProfile") == MANAGER_PROFILE,
                  f"policy {sid}: a manager launch only with the managers' profile")
        else:
            check(cond(s, "Null", "ec2:InstanceProfile") == "true" and cond(s, "StringEquals", "ec2:InstanceProfile") is None,
                  f"policy {sid}: a worker launch only without an instance profile")
    if "ec2:RunInstances" in acts:
        for r in res:
            kind = r.split(":")[-1].split("/")[0]
            check(kind in ("instance", "volume", "launch-template", "image", "subnet", "security-group", "network-interface"),
                  f"policy {sid}: RunInstances with no other resource ({kind}: no key pair, no existing volume)")
            if kind == "image":
                check(cond(s, "StringEquals", "ec2:ImageID") == "${AllowedImageIds}", f"policy {sid}: only AllowedImageIds")
            if kind == "subnet":
                check(cond(s, "StringEquals", "ec2:SubnetID") == "${Subnets}", f"policy {sid}: only the stack's subnets")
            if kind == "security-group":
                check(r.endswith(":security-group/${SecurityGroup}"), f"policy {sid}: only the stack's security group")
            if kind == "network-interface":
                check(cond(s, "Null", "ec2:NetworkInterfaceID") == "true", f"policy {sid}: only a new network interface")
    if "ec2:CreateVolume" in acts:
        check(cond(s, "Bool", "ec2:Encrypted") == "true", f"policy {sid}: CreateVolume only encrypted")
        check(cond(s, "NumericLessThanEquals", "ec2:VolumeSize") == "${VolumeSize}", f"policy {sid}: CreateVolume up to VolumeSize GiB")
check(any("ec2:CreateTags" in listify(s["Action"]) for s in stmts), "policy: CreateTags (in the creating call) is allowed")

calls, uncalled = client_actions()
logged, nlogs = logged_actions()
print(f"client actions the agent calls: {sorted(calls)}, never calls: {sorted(uncalled)}; "
      f"call logs: {nlogs} file(s), actions {sorted(logged)}", file=sys.stderr)
check(len(calls) >= 5, "found the EC2 client's actions in agent/ec2*.c and their callers")
check({"RunInstances", "TerminateInstances", "AttachVolume", "CreateVolume", "DescribeInstances"} <= calls,
      "the callers of the EC2 client are found (the launch, fence, attach, create, listing)")
# a logged action that only a client function the agent never calls sends is the client's
# own test's (tests/aws/test-ec2-client.c exercises DetachVolume), not the agent's
need = {"ec2:" + a for a in calls | (logged - uncalled)}
ec2_allowed = {a for a in allowed if a.startswith("ec2:")}
check(need - ec2_allowed == set(), f"policy allows every action the agent calls (missing: {sorted(need - ec2_allowed)})")
if os.environ.get("SK_REQUIRE_CALL_LOGS") == "1":
    check(nlogs > 0 and logged, "the test run left call logs of the fake EC2")
    called = {"ec2:" + a for a in logged}
    check(ec2_allowed - called == set(),
          f"policy allows no action the test run did not call (never called: {sorted(ec2_allowed - called)})")
else:
    check(ec2_allowed - need == set(), f"policy allows no action nothing calls (extra: {sorted(ec2_allowed - need)})")
ec2c = "".join(open(p).read() for p in glob.glob(os.path.join(src, "agent", "ec2*.c")))
check(("IamInstanceProfile" in ec2c) == ("iam:PassRole" in allowed),
      "iam:PassRole allowed exactly when launches pass an instance profile")


# ------------------------------------------------------------------ CloudFormation
class CfnLoader(yaml.SafeLoader):
    pass


def cfn_tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else "Fn::" + suffix
    if isinstance(node, yaml.ScalarNode):
        v = loader.construct_scalar(node)
        if suffix == "GetAtt":
            v = v.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        v = loader.construct_sequence(node, deep=True)
    else:
        v = loader.construct_mapping(node, deep=True)
    return {name: v}


CfnLoader.add_multi_constructor("!", cfn_tag)
cfn = yaml.load(open(os.path.join(src, "conf", "aws", "cloudformation.yaml")), Loader=CfnLoader)
check(cfn.get("AWSTemplateFormatVersion") == "2010-09-09", "cfn: template format version")
params = cfn["Parameters"]
for p in ("ClusterName", "ManagerIps", "Subnets", "ImageId", "InstanceType", "WorkerCount"):
    check(p in params, f"cfn: parameter {p}")
res = cfn["Resources"]
conds = set(cfn.get("Conditions", {}))
names = set(params) | set(res) | {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName"}


def walk(o, fn):
    fn(o)
    if isinstance(o, dict):
        for v in o.values():
            walk(v, fn)
    elif isinstance(o, list):
        for v in o:
            walk(v, fn)


def refs_ok(o):
    if not isinstance(o, dict):
        return
    if "Ref" in o:
        check(o["Ref"] in names, f"cfn: Ref {o['Ref']} names a parameter or resource")
    if "Fn::GetAtt" in o:
        check(o["Fn::GetAtt"][0] in res, f"cfn: GetAtt {o['Fn::GetAtt'][0]} names a resource")
    if "Fn::Sub" in o:
        v = o["Fn::Sub"]
        tmpl, extra = (v, {}) if isinstance(v, str) else (v[0], v[1])
        for var in re.findall(r"\$\{([^}!]+)\}", tmpl):
            check(var in names or var in extra, f"cfn: Sub variable ${{{var}}} is defined")


walk(res, refs_ok)
for k, r in res.items():
    if "Condition" in r:
        check(r["Condition"] in conds, f"cfn: {k}'s condition exists")
    for d in listify(r.get("DependsOn", [])):
        check(d in res, f"cfn: {k} depends on an existing resource")

by_type = {}
for k, r in res.items():
    by_type.setdefault(r["Type"], []).append((k, r))


def tags(r):
    return {t["Key"]: t["Value"] for t in r["Properties"].get("Tags", [])}


insts = by_type.get("AWS::EC2::Instance", [])
check(len(insts) == 1, "cfn: one instance, the bootstrap manager")
if insts:
    bp = insts[0][1]["Properties"]
    check(bp.get("PrivateIpAddress") == {"Fn::Select": [0, {"Ref": "ManagerIps"}]}, "cfn: bootstrap at the first manager IP")
    t = tags(insts[0][1])
    check(t.get("swarmkeeper:cluster") == {"Ref": "ClusterName"}, "cfn: bootstrap tagged swarmkeeper:cluster")
    check(t.get("swarmkeeper:logical-id") == bp.get("PrivateIpAddress"), "cfn: bootstrap tagged with its logical id")
    check("LaunchTemplate" in bp, "cfn: bootstrap launched from the template")

vols = by_type.get("AWS::EC2::Volume", [])
check(len(vols) == 5, "cfn: one volume per manager IP (up to 5)")
for i, (k, v) in enumerate(sorted(vols)):
    t = tags(v)
    check(t.get("swarmkeeper:cluster") == {"Ref": "ClusterName"}, f"cfn: {k} tagged swarmkeeper:cluster")
    check(t.get("swarmkeeper:logical-id") == {"Fn::Select": [i, {"Ref": "ManagerIps"}]}, f"cfn: {k} tagged with manager IP #{i}")
    check(v["Properties"].get("AvailabilityZone") == {"Fn::Select": [i, {"Ref": "AvailabilityZones"}]}, f"cfn: {k} in zone #{i}")
    check(v.get("DeletionPolicy") in ("Snapshot", "Retain"), f"cfn: {k} outlives the stack (a manager's state)")
    check((i == 0) == ("Condition" not in v), f"cfn: {k} made only when there are that many managers")

sgs = by_type.get("AWS::EC2::SecurityGroup", [])
check(len(sgs) == 1, "cfn: one security group")
if sgs:
    sg = sgs[0][0]
    check("SecurityGroupIngress" not in sgs[0][1]["Properties"], "cfn: no inline ingress (all rules member-to-member)")
    rules = set()
    for k, r in by_type.get("AWS::EC2::SecurityGroupIngress", []):
        p = r["Properties"]
        check(p.get("SourceSecurityGroupId") == {"Ref": sg} and p.get("GroupId") == {"Ref": sg}
              and "CidrIp" not in p and "CidrIpv6" not in p, f"cfn: {k} between members only")
        rules.add((p["IpProtocol"], p["FromPort"], p["ToPort"]))
    check(rules == {("tcp", 2377, 2377), ("tcp", 7946, 7946), ("udp", 7946, 7946), ("udp", 4789, 4789)},
          f"cfn: exactly 2377/tcp, 7946/tcp+udp, 4789/udp ({sorted(rules)})")

# the managers' role (EC2 assumes it); the only other role is the address reservation
# function's (Lambda assumes it)
def trusted(r):
    return [st["Principal"]["Service"] for st in r["Properties"]["AssumeRolePolicyDocument"]["Statement"]]


roles = [(k, r) for k, r in by_type.get("AWS::IAM::Role", []) if trusted(r) == ["ec2.amazonaws.com"]]
check(len(roles) == 1, "cfn: one role for instances, the managers'")
check(all(trusted(r) in (["ec2.amazonaws.com"], ["lambda.amazonaws.com"]) for k, r in by_type.get("AWS::IAM::Role", [])),
      "cfn: no other role than the managers' and the reservation function's")


def unsub(o):
    """CloudFormation back into conf/aws/iam-policy.json's form: !Sub 'x' is x, !Ref X is ${X}"""
    if isinstance(o, dict):
        if list(o) == ["Fn::Sub"] and isinstance(o["Fn::Sub"], str):
            return o["Fn::Sub"]
        if list(o) == ["Ref"]:
            return "${" + o["Ref"] + "}"
        return {k: unsub(v) for k, v in o.items()}
    if isinstance(o, list):
        return [unsub(v) for v in o]
    return o


if roles:
    rp = roles[0][1]["Properties"]
    docs = [unsub(p["PolicyDocument"]) for p in rp.get("Policies", [])]
    if docs != [policy]:
        print(json.dumps(docs, indent=1), file=sys.stderr)
    check(docs == [policy], "cfn: the role's policy is conf/aws/iam-policy.json, word for word")
    check(not rp.get("ManagedPolicyArns"), "cfn: no managed policy on top")
    pass_res = [s["Resource"] for s in stmts if s["Action"] == "iam:PassRole"]
    check(pass_res and pass_res[0].endswith(":role/" + unsub(rp["RoleName"])), "cfn: PassRole names this very role")
profiles = by_type.get("AWS::IAM::InstanceProfile", [])
check(len(profiles) == 1 and profiles[0][1]["Properties"]["Roles"] == [{"Ref": roles[0][0]}], "cfn: instance profile with the role")

# Subnet CIDR reservations: each manager's address, explicit, in its subnet, made exactly
# when its volume is (EC2 never auto-assigns a reserved address to a worker).
# (CloudFormation has no such resource type: a custom resource, a function in the template)
resv = sorted(by_type.get("Custom::SubnetCidrReservation", []))
check(len(resv) == len(vols), "cfn: one subnet CIDR reservation per manager IP")
for i, (k, r) in enumerate(resv):
    p = r["Properties"]
    fn = p.get("ServiceToken", {}).get("Fn::GetAtt", [None])[0]
    check(res.get(fn, {}).get("Type") == "AWS::Lambda::Function"
          and "create_subnet_cidr_reservation" in res[fn]["Properties"]["Code"]["ZipFile"]
          and "delete_subnet_cidr_reservation" in res[fn]["Properties"]["Code"]["ZipFile"],
          f"cfn: {k} made and removed by the template's function")
    if res.get(fn, {}).get("Type") == "AWS::Lambda::Function":
        try:
            compile(res[fn]["Properties"]["Code"]["ZipFile"], fn, "exec")
            check(True, f"cfn: {fn}'s code is Python")
        except SyntaxError as e:
            check(False, f"cfn: {fn}'s code is Python ({e})")
    check(p.get("ReservationType") == "explicit", f"cfn: {k} is an explicit reservation")
    check(p.get("SubnetId") == {"Fn::Select": [i, {"Ref": "Subnets"}]}, f"cfn: {k} in subnet #{i}")
    check(p.get("Cidr") == {"Fn::Sub": ["${Ip}/32", {"Ip": {"Fn::Select": [i, {"Ref": "ManagerIps"}]}}]},
          f"cfn: {k} reserves exactly manager IP #{i}")
    check(r.get("Condition") == dict(sorted(vols))[sorted(vols)[i][0]].get("Condition"),
          f"cfn: {k} made exactly when manager #{i}'s volume is")
if insts:
    check("ManagerAddress1" in listify(insts[0][1].get("DependsOn", [])) and "ManagerAddress1" in res,
          "cfn: the bootstrap manager starts after its address is reserved")

check("AllowedImageIds" in params and params["AllowedImageIds"]["Type"] == "List<AWS::EC2::Image::Id>",
      "cfn: parameter AllowedImageIds (the AMIs the policy allows)")
rule_ok = any(a.get("Assert") == {"Fn::Contains": [{"Ref": "AllowedImageIds"}, {"Ref": "ImageId"}]}
              for r in cfn.get("Rules", {}).values() for a in r.get("Assertions", []))
check(rule_ok, "cfn: a rule asserts that AllowedImageIds holds ImageId")
if profiles:
    check("${AWS::AccountId}:instance-profile/" + unsub(profiles[0][1]["Properties"]["InstanceProfileName"]) in MANAGER_PROFILE,
          "cfn: the policy's managers' profile is this very profile")

lts = by_type.get("AWS::EC2::LaunchTemplate", [])
mlts = [(k, r) for k, r in lts if "IamInstanceProfile" in r["Properties"]["LaunchTemplateData"]]
wlts = [(k, r) for k, r in lts if "IamInstanceProfile" not in r["Properties"]["LaunchTemplateData"]]
check(len(mlts) == 1 and len(wlts) == 1, "cfn: two launch templates, the managers' (with the profile) and the workers' (without)")
for k, r in lts:
    lt = r["Properties"]
    d = lt["LaunchTemplateData"]
    check(d["MetadataOptions"]["HttpTokens"] == "required", f"cfn: {k} requires IMDSv2")
    check(d["MetadataOptions"].get("HttpPutResponseHopLimit") == 1, f"cfn: {k}: IMDS hop limit 1 (no containers)")
    check(d["SecurityGroupIds"] == [{"Ref": sgs[0][0]}], f"cfn: {k} uses the security group")
    check(d["ImageId"] == {"Ref": "ImageId"} and d["InstanceType"] == {"Ref": "InstanceType"}, f"cfn: {k}: AMI and type from parameters")
    check("KeyName" not in d and "NetworkInterfaces" not in d, f"cfn: {k}: no key pair, no network interface (the policy allows neither)")
    lt_tags = {t["Key"]: t["Value"] for ts in lt.get("TagSpecifications", []) for t in ts["Tags"]}
    check(lt_tags.get("swarmkeeper:cluster") == {"Ref": "ClusterName"},
          f"cfn: {k} tagged swarmkeeper:cluster (the policy launches only from such)")
if wlts:
    check("UserData" not in wlts[0][1]["Properties"]["LaunchTemplateData"],
          "cfn: the workers' template carries no configuration (the agent writes a worker's)")
if mlts:
    lt = mlts[0][1]["Properties"]
    d = lt["LaunchTemplateData"]
    check(d["IamInstanceProfile"] == {"Arn": {"Fn::GetAtt": [profiles[0][0], "Arn"]}}, "cfn: the managers' template uses the profile")
    check(insts and insts[0][1]["Properties"]["LaunchTemplate"].get("LaunchTemplateId") == {"Ref": mlts[0][0]},
          "cfn: the bootstrap manager from the managers' template")
    # user-data: a cloud-config with the cluster's drop-in, which swarmkeeper accepts
    sub = d["UserData"]["Fn::Base64"]["Fn::Sub"]
    tmpl, extra = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
    sample = {"ClusterName": "prod", "Managers": "10.0.1.10,10.0.2.10,10.0.3.10", "Bootstrap": "10.0.1.10",
              "WorkerCount": "2", "SubnetIds": "subnet-aaaaaaaa,subnet-bbbbbbbb,subnet-cccccccc", "VolumeSize": "50",
              "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    text = re.sub(r"\$\{([^}]+)\}", lambda m: sample[m.group(1)], tmpl)
    check(set(extra) <= set(sample), "cfn: user-data's Sub map is understood")
    ud = yaml.safe_load(text)
    check(text.startswith("#cloud-config\n"), "cfn: user-data is a cloud-config")
    wf = [f for f in ud.get("write_files", []) if f["path"] == "/etc/swarmkeeper/swarmkeeper.conf.d/50-cluster.conf"]
    check(len(wf) == 1 and str(wf[0].get("permissions")) == "0600", "cfn: user-data writes the 0600 drop-in")
    check(len(base64.b64encode(text.encode())) <= 16384, "cfn: user-data within 16 KiB")
    if wf:
        conf = wf[0]["content"]
        sect, kv = None, {}
        for line in conf.splitlines():
            m = re.match(r"^\[(\w+)\]$", line)
            if m:
                sect = m.group(1)
            elif "=" in line:
                k, v = line.split("=", 1)
                kv[f"{sect}.{k}"] = v
        sub_ = lambda o: re.sub(r"\$\{([^}]+)\}", lambda m: sample[m.group(1)], unsub(o))
        if wlts:
            check(kv.get("Launch.WorkerTemplate") == sub_(wlts[0][1]["Properties"]["LaunchTemplateName"])
                  and "Launch.WorkerTemplateVersion" in kv, "cfn: the drop-in names the workers' template (and its version)")
        check(kv.get("Launch.Template") == sub_(lt["LaunchTemplateName"]), "cfn: the drop-in names the managers' template")
        check("Launch.WorkerInstanceProfile" not in kv, "cfn: the drop-in gives workers no instance profile")
        if profiles:
            check(kv.get("Launch.InstanceProfile") == sub_(profiles[0][1]["Properties"]["InstanceProfileName"]),
                  "cfn: the drop-in's managers' profile is the stack's")
        # the volumes the leader creates are the stack's: size, type, encryption, key
        for k, v in vols:
            vp = v["Properties"]
            check(kv.get("Volume.SizeGiB") == sample["VolumeSize"]
                  and vp.get("Size") == {"Ref": "VolumeSize"}, f"cfn: Volume.SizeGiB= is {k}'s size")
            check(kv.get("Volume.Type") == vp.get("VolumeType"), f"cfn: Volume.Type= is {k}'s type")
            check(kv.get("Volume.Encrypted") == ("yes" if vp.get("Encrypted") is True else "no"),
                  f"cfn: Volume.Encrypted= is {k}'s encryption")
            check(kv.get("Volume.KmsKeyId") == vp.get("KmsKeyId", ""), f"cfn: Volume.KmsKeyId= is {k}'s key")
        check(kv.get("Volume.Encrypted") == "yes", "cfn: the leader creates encrypted volumes")
    if wf and binary:
        conf = wf[0]["content"]
        keys = re.findall(r"^([A-Za-z]+)=", conf, re.M)
        with tempfile.TemporaryDirectory() as dd:
            with open(os.path.join(dd, "50-cluster.conf"), "w") as fp:
                fp.write(conf)
            os.chmod(os.path.join(dd, "50-cluster.conf"), 0o600)
            r = subprocess.run([binary, "--config", "/dev/null", "--config-dir", dd, "config"],
                               capture_output=True, text=True)
            check(r.returncode == 0, f"cfn: swarmkeeper accepts the cluster's configuration ({r.stderr.strip()})")
            for k in keys:
                known = re.search(rf"^{k}=.*# .*50-cluster\.conf", r.stdout, re.M) is not None
                check(known, f"cfn: config key {k} is one swarmkeeper knows and takes from the drop-in")
        check({"Name", "Managers", "BootstrapManager", "Workers"} <= set(keys), "cfn: the cluster's keys are all there")

print(f"{checks - failed} passed, {failed} failed", file=sys.stderr)
sys.exit(1 if failed else 0)
