# shellcheck shell=bash
# swarmkeeper — real Docker engines for the docker suite. Source after tests/lib/common.sh.
#
# Every engine is a plain `dockerd` (Debian's docker.io) in its own network namespace with
# its own IP, data root, exec root and socket. The namespaces hang on one bridge that this
# file makes (in the host namespace, without an address): they reach each other and
# nothing else — no default route, no NAT.
#
#   dk_net_up                       bridge + temp dir (DK_DIR); cleaned on exit
#   dk_host_up NAME IP              netns + veth for host NAME (IP in 10.98.0.0/24)
#   dk_dockerd_start NAME           start (or restart) NAME's dockerd, wait until it answers
#   dk_dockerd_kill NAME [SIG]      kill NAME's dockerd (and its containerd) by PID, wait
#   dk_docker NAME ARGS...          the docker CLI against NAME's engine
#   dk_sock NAME                    print NAME's engine socket
#   dk_agent_start NAME ARGS...     `$SK_BIN run` in NAME's netns against NAME's engine
#                                   (stderr to a log), NOTIFY_SOCKET=the test's listener;
#                                   [Host] set in full unless DK_AGENT_NO_HOST=1;
#                                   PID in DK_AGENT_PID[NAME]
#                                   RUNTIME_DIRECTORY=$DK_DIR/NAME/run (the formatted marker)
#   dk_mark_formatted NAME          leave the marker `prepare` leaves on a fresh volume
#   dk_agent_stop NAME              SIGTERM by PID, wait
#   dk_notify_start                 python3 datagram listener recording "TIME MSG" lines
#                                   into $DK_DIR/notify.log; DK_NOTIFY_SOCKET
#   dk_notify_grep NAME REGEX       notify messages from NAME's agent matching REGEX
#   DK_AGENT_JOURNAL=1              the next dk_agent_start logs to a journal of the test's
#                                   own (a datagram listener bound over
#                                   /run/systemd/journal/socket in the agent's private mount
#                                   namespace): every entry with its fields (MESSAGE_ID,
#                                   SK_*) in $DK_DIR/NAME/journal.jsonl, its text in agent.log
#   dk_journal NAME MESSAGE_ID [KEY=VALUE...]  NAME's journal entries (JSON lines) with that
#                                   MESSAGE_ID ("": any) and those fields (_PID: the agent's
#                                   process): an event by id and fields, never by wording
#   dk_journal_has NAME MESSAGE_ID [KEY=VALUE...]  at least one such entry
#
# Names: [a-z][a-z0-9]* (<= 6 chars). Resources carry the test's PID so parallel runs and
# leftovers of a killed run never collide.

# shellcheck disable=SC2034,SC2015,SC2013,SC2016
[ -n "${SK_DOCKER_LIB_SH:-}" ] && return 0
SK_DOCKER_LIB_SH=1
DK_TAG=${DK_TAG:-$$}
DK_BRIDGE=skd${DK_TAG}
DK_PREFIX=24
declare -A DK_IP=() DK_DOCKERD_PID=() DK_AGENT_PID=()

dk_require() {
    require_root
    require_cmd ip nsenter dockerd docker python3 curl
    [ -n "${SK_BIN:-}" ] && [ -x "$SK_BIN" ] || die "SK_BIN not set or not executable"
}

_dk_rm_bridge() { ip link del "$DK_BRIDGE" 2>/dev/null || true; }

# mounts dockerd left below DK_DIR (its data root is a bind mount of itself)
_dk_umount_all() {
    local m
    for m in $(awk -v d="$DK_DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
}

# keep the agents' and engines' logs for a post-mortem: $SK_BUILD_DIR/docker-logs/TEST/
_dk_save_logs() {
    local dst f
    [ -n "${SK_BUILD_DIR:-}" ] && [ -d "$SK_BUILD_DIR" ] || return 0
    dst=$SK_BUILD_DIR/docker-logs/$(basename "$0" .sh)
    rm -rf "$dst"
    mkdir -p "$dst"
    for f in "$DK_DIR"/*/*.log "$DK_DIR"/*/journal.jsonl "$DK_DIR"/*.log; do
        [ -f "$f" ] && cp "$f" "$dst/$(basename "$(dirname "$f")")-$(basename "$f")"
    done
    return 0
}

dk_net_up() {
    tmpdir DK_DIR sk-docker.XXXXXX
    on_exit _dk_umount_all
    on_exit _dk_save_logs
    ip link add "$DK_BRIDGE" type bridge || die "cannot create bridge $DK_BRIDGE"
    on_exit _dk_rm_bridge
    ip link set "$DK_BRIDGE" up
}

_dk_ns() { echo "skd${DK_TAG}$1"; }

_dk_rm_host() {
    local ns
    ns=$(_dk_ns "$1")
    ip link del "v$DK_TAG$1" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
}

dk_host_up() {
    local name=$1 ip=$2 ns veth
    ns=$(_dk_ns "$name")
    veth=v$DK_TAG$name
    [ ${#veth} -le 15 ] || die "interface name $veth too long"
    ip netns add "$ns" || die "ip netns add $ns failed"
    on_exit _dk_rm_host "$name"
    ip link add "$veth" type veth peer name eth0 netns "$ns" || die "veth for $name failed"
    ip link set "$veth" master "$DK_BRIDGE" up
    ip -n "$ns" addr add "$ip/$DK_PREFIX" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    DK_IP[$name]=$ip
    mkdir -p "$DK_DIR/$name"
}

dk_sock() { echo "$DK_DIR/$1/docker.sock"; }
dk_docker() {
    local name=$1
    shift
    docker -H "unix://$(dk_sock "$name")" "$@"
}

_dk_engine_up() { curl -sf --max-time 2 --unix-socket "$(dk_sock "$1")" http://localhost/_ping >/dev/null 2>&1; }

dk_dockerd_start() {
    local name=$1 ns d
    ns=$(_dk_ns "$name")
    d=$DK_DIR/$name
    mkdir -p "$d/data" "$d/exec"
    rm -f "$d/docker.sock"
    [ -f "$d/daemon.json" ] || echo '{}' >"$d/daemon.json"
    # no dockerd config file of the host's, no proxy env; containerd is started by
    # dockerd itself under the exec root
    # its own UTS namespace: the node's hostname is NAME
    nsenter --net="/run/netns/$ns" unshare --uts env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        sh -c 'hostname "$0" && exec "$@"' "$name" dockerd --data-root "$d/data" --exec-root "$d/exec" -H "unix://$d/docker.sock" \
        --pidfile "$d/dockerd.pid" --config-file "$d/daemon.json" --iptables=false --ip6tables=false \
        --bridge=none --ip-masq=false --userland-proxy=false --storage-driver=vfs \
        --label "swarmkeeper.logical-id=${DK_IP[$name]}" \
        >>"$d/dockerd.log" 2>&1 &
    DK_DOCKERD_PID[$name]=$!
    on_exit dk_dockerd_kill "$name"
    wait_for 60 _dk_engine_up "$name" || {
        tail -n 30 "$d/dockerd.log" >&2
        die "dockerd $name did not come up"
    }
}

# containerd started by dockerd: find it by its pid file under our exec root
_dk_containerd_pid() {
    local f
    for f in "$DK_DIR/$1/exec/containerd/containerd.pid" "$DK_DIR/$1/exec/containerd.pid"; do
        [ -s "$f" ] && { cat "$f"; return 0; }
    done
    return 1
}

dk_dockerd_kill() {
    local name=$1 sig=${2:-TERM} p c
    p=${DK_DOCKERD_PID[$name]:-}
    [ -n "$p" ] || return 0
    c=$(_dk_containerd_pid "$name" || true)
    if [ "$sig" = TERM ]; then
        kill_pid "$p"
    else
        kill "-$sig" "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    fi
    DK_DOCKERD_PID[$name]=
    # containerd is dockerd's child; it goes with it, but make sure (by PID, only if it
    # is still a containerd)
    if [ -n "$c" ] && grep -qs containerd "/proc/$c/comm"; then
        kill -TERM "$c" 2>/dev/null
        wait_for 5 sh -c "! test -d /proc/$c" || kill -KILL "$c" 2>/dev/null
    fi
    return 0
}

# ---------------------------------------------------------------------------------------
# the NOTIFY_SOCKET listener: one line per datagram, "EPOCH_SECONDS SENDER_PID MSG" with
# newlines in MSG turned into '|'
dk_notify_start() {
    DK_NOTIFY_SOCKET=$DK_DIR/notify.sock
    python3 -u - "$DK_NOTIFY_SOCKET" "$DK_DIR/notify.log" <<'EOF' &
import os, socket, struct, sys, time
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
with open(log, "a", buffering=1) as f:
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = 0
        for lvl, typ, data in anc:
            if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        f.write("%.3f %d %s\n" % (time.time(), pid, msg.decode(errors="replace").replace("\n", "|")))
EOF
    DK_NOTIFY_PID=$!
    on_exit kill_pid "$DK_NOTIFY_PID"
    wait_for 10 test -S "$DK_NOTIFY_SOCKET" || die "notify listener did not start"
}

dk_notify_grep() {
    local p=${DK_AGENT_PID[$1]:-x}
    awk -v p="$p" '$2 == p' "$DK_DIR/notify.log" 2>/dev/null | grep -E -- "$2"
}

# what NAME's agent told systemd: READY=1 seen, its last STATUS=, whether that is TEXT
dk_agent_ready() { dk_notify_grep "$1" 'READY=1' >/dev/null; }
dk_agent_status() { dk_notify_grep "$1" 'STATUS=' | tail -n 1 | sed 's/.*STATUS=//; s/|.*//'; }
dk_agent_status_is() { [ "$(dk_agent_status "$1")" = "$2" ]; }

# ---------------------------------------------------------------------------------------
# A journal of the test's own: the agent runs with SWARMKEEPER_LOG=journal in a private mount
# namespace whose /run/systemd/journal is NAME's directory; a listener there takes the
# native protocol (KEY=VALUE lines, or KEY\n<le64 size><value>\n) and writes one JSON object
# per entry (plus _PID from the credentials, _T the receive time) and the text line the
# agent would have written to stderr.
declare -A DK_JOURNAL_PID=()
_dk_journal_start() {
    local name=$1 d=$DK_DIR/$1/journal
    [ -n "${DK_JOURNAL_PID[$name]:-}" ] && return 0
    mkdir -p "$d"
    rm -f "$d/socket"
    python3 -u - "$d/socket" "$DK_DIR/$name/journal.jsonl" "$DK_DIR/$name/agent.log" <<'PY' &
import json, socket, struct, sys, time
path, jl, text = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
def parse(b):
    e, i = {}, 0
    while i < len(b):
        nl = b.find(b"\n", i)
        if nl < 0:
            nl = len(b)
        line = b[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            e[k.decode(errors="replace")] = v.decode(errors="replace")
            i = nl + 1
        else:  # binary-safe: KEY\n<le64 size><value>\n
            n = struct.unpack("<Q", b[nl + 1:nl + 9])[0]
            e[line.decode(errors="replace")] = b[nl + 9:nl + 9 + n].decode(errors="replace")
            i = nl + 9 + n + 1
    return e
pre = {0: "error: ", 1: "error: ", 2: "error: ", 3: "error: ", 4: "warning: "}
with open(jl, "a", buffering=1) as j, open(text, "a", buffering=1) as t:
    while True:
        msg, anc, _, _ = s.recvmsg(1 << 17, socket.CMSG_SPACE(12))
        e = parse(msg)
        e["_T"] = time.time()
        for lvl, typ, data in anc:
            if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                e["_PID"] = struct.unpack("iII", data[:12])[0]
        t.write("swarmkeeper: %s%s\n" % (pre.get(int(e.get("PRIORITY", 6)), ""), e.get("MESSAGE", "")))
        j.write(json.dumps(e, sort_keys=True) + "\n")
PY
    DK_JOURNAL_PID[$name]=$!
    on_exit kill_pid "${DK_JOURNAL_PID[$name]}"
    wait_for 30 test -S "$d/socket" || die "the journal listener for $name did not start"
    # the mount point (a host without journald has none; made once, removed at the end)
    if [ ! -d /run/systemd/journal ]; then
        mkdir -p /run/systemd/journal || die "cannot make /run/systemd/journal"
        on_exit rmdir /run/systemd/journal
    fi
}

# dk_journal NAME MESSAGE_ID [KEY=VALUE...] : the matching entries, one JSON object a line
dk_journal() {
    local name=$1
    shift
    [ -f "$DK_DIR/$name/journal.jsonl" ] || return 0
    python3 -c '
import json, sys
want = dict(a.split("=", 1) for a in sys.argv[3:])
if sys.argv[2]:  # "": any entry with those fields
    want["MESSAGE_ID"] = sys.argv[2]
for l in open(sys.argv[1]):
    try:
        e = json.loads(l)
    except ValueError:
        continue  # a line still being written
    if all(str(e.get(k)) == v for k, v in want.items()):
        print(l, end="")' "$DK_DIR/$name/journal.jsonl" "$@"
}
dk_journal_has() { [ -n "$(dk_journal "$@")" ]; }

# extra environment for the next dk_agent_start, e.g. DK_AGENT_ENV=(WATCHDOG_USEC=4000000)
DK_AGENT_ENV=()
dk_agent_start() {
    local name=$1 host=() logto=stderr mnt=()
    shift
    if [ -n "${DK_AGENT_JOURNAL:-}" ]; then
        _dk_journal_start "$name"
        logto=journal
        # shellcheck disable=SC2016  # expanded by that sh
        mnt=(unshare -m --propagation private sh -c 'mount --bind "$0" /run/systemd/journal && exec "$@"'
            "$DK_DIR/$name/journal")
    fi
    # who the host is: configured in full (the metadata service is never asked), or with
    # DK_AGENT_NO_HOST=1 not at all (the test gives AWS.MetadataEndpoint)
    [ -n "${DK_AGENT_NO_HOST:-}" ] ||
        host=(--set "Host.PrivateIp=${DK_IP[$name]:-127.0.0.1}" --set Host.InstanceId=i-0123456789abcdef0
            --set Host.AvailabilityZone=test-1a)
    mkdir -p "$DK_DIR/$name/conf.d" "$DK_DIR/$name/run"
    # WATCHDOG_PID must be the agent's own PID: set it in the shell that execs it
    env NOTIFY_SOCKET="${DK_NOTIFY_SOCKET:-}" SWARMKEEPER_LOG=$logto RUNTIME_DIRECTORY="$DK_DIR/$name/run" \
        "${DK_AGENT_ENV[@]}" \
        bash -c '[ -n "${WATCHDOG_USEC:-}" ] && export WATCHDOG_PID=$$; exec "$@"' sk-agent \
        nsenter --net="/run/netns/$(_dk_ns "${DK_AGENT_NETNS:-$name}")" "${mnt[@]}" "$SK_BIN" run --config /dev/null --config-dir "$DK_DIR/$name/conf.d" \
        --set "Engine.Socket=${DK_SOCK_OVERRIDE:-$(dk_sock "$name")}" "${host[@]}" \
        --set Log.Level=debug "$@" >>"$DK_DIR/$name/agent.log" 2>&1 &
    DK_AGENT_PID[$name]=$!
    on_exit dk_agent_stop "$name"
}

dk_mark_formatted() {
    mkdir -p "$DK_DIR/$1/run"
    printf 'DEVICE=/dev/test\nVOLUME_ID=\nFILESYSTEM=ext4\nFORMATTED_AT=test\n' >"$DK_DIR/$1/run/formatted"
}

dk_agent_stop() {
    local p=${DK_AGENT_PID[$1]:-}
    [ -n "$p" ] || return 0
    kill_pid "$p"
    DK_AGENT_PID[$1]=
}

# dk_agent_alive NAME
dk_agent_alive() { [ -n "${DK_AGENT_PID[$1]:-}" ] && kill -0 "${DK_AGENT_PID[$1]}" 2>/dev/null; }

# dk_leader NAME : the hostname... no: the node ID of the leader as NAME's engine sees it
dk_leader_id() {
    dk_docker "$1" node ls --format '{{.ID}} {{.ManagerStatus}}' 2>/dev/null | awk '$2 == "Leader" { print $1 }'
}
dk_self_id() { dk_docker "$1" info --format '{{.Swarm.NodeID}}' 2>/dev/null; }
