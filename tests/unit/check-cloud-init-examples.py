#!/usr/bin/python3
# The cloud-init user-data shown in README.md and swarmkeeper(8) is valid YAML, writes
# the drop-in /etc/swarmkeeper/swarmkeeper.conf.d/50-cluster.conf with mode 0600, and
# that drop-in is a configuration the binary accepts; both documents show the same two
# variants (AMI with the package; stock image installing it first).
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
binary = os.environ["SK_BIN"]
DROPIN = "/etc/swarmkeeper/swarmkeeper.conf.d/50-cluster.conf"
failed = 0
checks = 0


def check(ok, msg):
    global failed, checks
    checks += 1
    print(("ok " if ok else "FAIL ") + msg, file=sys.stderr)
    if not ok:
        failed += 1


def readme_blocks():
    text = open(os.path.join(src, "README.md")).read()
    return [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if b.startswith("#cloud-config")]


def man_blocks():
    out, cur = [], None
    for line in open(os.path.join(src, "man", "swarmkeeper.8")):
        line = line.rstrip("\n")
        if line == ".nf":
            cur = []
        elif line == ".fi":
            if cur and cur[0] == "#cloud-config":
                out.append("\n".join(cur) + "\n")
            cur = None
        elif cur is not None:
            cur.append(line.replace("\\-", "-").replace("\\e", "\\").replace("\\&", ""))
    return out


def check_userdata(where, text):
    data = yaml.safe_load(text)
    files = [f for f in data.get("write_files", []) if f.get("path") == DROPIN]
    check(len(files) == 1, f"{where}: writes {DROPIN}")
    if not files:
        return data
    f = files[0]
    check(str(f.get("permissions")) == "0600", f"{where}: the drop-in is mode 0600")
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "50-cluster.conf"), "w") as fp:
            fp.write(f["content"])
        r = subprocess.run([binary, "--config", "/dev/null", "--config-dir", d, "config"],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"{where}: swarmkeeper accepts the drop-in ({r.stderr.strip()})")
        check(re.search(r"^Name=prod\b", r.stdout, re.M) is not None, f"{where}: Cluster.Name comes from it")
    if "packages" in data:
        check("swarmkeeper" in data["packages"], f"{where}: installs the package")
        check(f.get("defer") is True, f"{where}: the drop-in is written after the package (defer)")
        cmds = " ; ".join(c if isinstance(c, str) else " ".join(c) for c in data.get("runcmd", []))
        check("enable swarmkeeper-prepare.service swarmkeeper.service" in cmds, f"{where}: enables both units")
    return data


rd = [check_userdata(f"README #{i + 1}", b) for i, b in enumerate(readme_blocks())]
md = [check_userdata(f"swarmkeeper(8) #{i + 1}", b) for i, b in enumerate(man_blocks())]
check(len(rd) == 2, "README shows two variants")
check(sum("packages" in d for d in rd) == 1, "README: one of them installs the package")
for i, d in enumerate(rd):
    check(d in md, f"README #{i + 1} is also in swarmkeeper(8)")
print(f"{checks - failed} passed, {failed} failed", file=sys.stderr)
sys.exit(1 if failed else 0)
