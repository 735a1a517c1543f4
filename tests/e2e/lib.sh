# shellcheck shell=bash disable=SC2016
# swarmkeeper — the proving ground: the fake EC2 launches real hosts. Sources common.sh and
# nspawn.sh itself; a test's whole prologue is
#   HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd); . "$HERE/lib.sh"; e2e_prologue
#
#   e2e_deb                     SK_DEB=the project's .deb ($SK_DEB, else built once into a
#                               cache keyed by the tree's git state)
#   e2e_ami                     SK_IMAGE_DIR=an "AMI": the test image + the .deb installed,
#                               its units enabled, cloud-init on with a NoCloud seed (cached,
#                               keyed by the package's sha256; built outside any test lock)
#   e2e_fake_start [ARGS...]    the fake EC2 + IMDS on the bridge address, with the hook
#                               (tests/e2e/hook.sh) that turns its lifecycle into hosts;
#                               sets E2E_DIR, E2E_PORT, E2E_URL; tears everything down on exit
#   e2e_seed CLUSTER IPS WORKERS [CONF]  what conf/aws/cloudformation.yaml creates: a subnet,
#                               one tagged volume per manager IP, the bootstrap instance with
#                               the cluster's user-data (CONF: more lines for it)
#   aws_ec2 ARGS...             the real AWS CLI against the fake
#   fake_get PATH / fake_post PATH JSON    the fake's control API
#   e2e_host ID                 the test host name of an instance id
#   e2e_check_invariants        tests/fake-ec2/check_invariants.py on the state log
#
# Each instance the fake runs is a host named after its id (i-0123456789abcdef0 -> i-89abcdef0,
# $E2E_DIR/inst/<id> holds the name); each volume is a sparse file on a loop device made
# when it is first attached ($E2E_DIR/vol/<id>: "DEV IMG").

[ -n "${SK_E2E_SH:-}" ] && return 0
SK_E2E_SH=1
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/nspawn.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/nspawn.sh"
E2E_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_BRIDGE_IP=${SK_BRIDGE_ADDR%/*}
E2E_REGION=us-east-1
E2E_AZ=us-east-1a
E2E_SUBNET=subnet-0e2e00000000000a1
E2E_PROFILE=swarmkeeper-e2e
E2E_KEY=AKIDE2ETEST0000000001
E2E_SECRET=e2e-secret-not-a-real-key-0000000000000
E2E_FAKE_DIR=${E2E_FAKE_DIR:-$E2E_SRC/tests/fake-ec2}
E2E_FAKE=$E2E_FAKE_DIR/fake_ec2.py
E2E_AMI_VERSION=1

# e2e_deb : SK_DEB
e2e_deb() {
    if [ -n "${SK_DEB:-}" ]; then
        [ -f "$SK_DEB" ] || die "SK_DEB=$SK_DEB does not exist"
        return 0
    fi
    local key dir t
    # the tree's state: HEAD + the diff of tracked files
    key=$( (git -C "$E2E_SRC" rev-parse HEAD; git -C "$E2E_SRC" diff HEAD) 2>/dev/null | sha256sum | cut -c1-16)
    dir=/var/tmp/swarmkeeper-e2e-deb/$key
    if ! ls "$dir"/swarmkeeper_*.deb >/dev/null 2>&1; then
        t=$(now)
        log "e2e: building the .deb from $E2E_SRC (dpkg-buildpackage)"
        rm -rf /var/tmp/swarmkeeper-e2e-deb
        mkdir -p "$dir.tmp"
        "$E2E_SRC/scripts/build-deb.sh" "$dir.tmp" >"$dir.tmp/build.log" 2>&1 || {
            tail -n 30 "$dir.tmp/build.log" >&2
            rm -rf "$dir.tmp"
            die "build-deb.sh failed"
        }
        mv "$dir.tmp" "$dir"
        log "e2e: .deb built in $(elapsed "$t") s"
    fi
    SK_DEB=$(find "$dir" -maxdepth 1 -name "swarmkeeper_*.deb" | head -n 1)
    export SK_DEB
}

# e2e_ami : SK_IMAGE_DIR = the AMI for $SK_DEB (built once per package)
e2e_ami() {
    nspawn_image
    local base=$SK_IMAGE_DIR key ami tmp
    [ -x "$base/usr/bin/cloud-init" ] || die "the test image has no cloud-init ($base)"
    key=$( (sha256sum <"$SK_DEB"; cat "$base/$SK_IMAGE_STAMP"; echo "$E2E_AMI_VERSION") | sha256sum | cut -c1-16)
    ami=/var/tmp/swarmkeeper-ami-$key
    exec {_e2e_amifd}>/var/tmp/swarmkeeper-ami.lock
    flock "$_e2e_amifd"
    if [ ! -f "$ami/etc/swarmkeeper-e2e-ami" ]; then
        local t
        t=$(now)
        for tmp in /var/tmp/swarmkeeper-ami-*; do
            [ -d "$tmp" ] && rm -rf --one-file-system -- "$tmp"
        done
        tmp=$ami.tmp
        cp -a "$base" "$tmp" || die "copying the image failed"
        cp "$SK_DEB" "$tmp/tmp/swarmkeeper.deb"
        chroot "$tmp" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C \
            dpkg -i /tmp/swarmkeeper.deb >"$tmp.dpkg.log" 2>&1 || {
            cat "$tmp.dpkg.log" >&2
            rm -rf --one-file-system -- "$tmp" "$tmp.dpkg.log"
            die "dpkg -i $SK_DEB in the AMI failed"
        }
        rm -f "$tmp/tmp/swarmkeeper.deb" "$tmp.dpkg.log"
        # as an AMI build does
        systemctl --root="$tmp" --quiet enable swarmkeeper-prepare.service swarmkeeper.service ||
            die "systemctl enable in the AMI failed"
        # cloud-init on, NoCloud only: the seed URL comes from a file each host gets bound
        # in (/etc/cloud/cloud.cfg.d/90-e2e-seed.cfg: the fake's address on the bridge)
        rm -f "$tmp/etc/cloud/cloud-init.disabled"
        printf 'policy: enabled\n' >"$tmp/etc/cloud/ds-identify.cfg"
        printf 'network: {config: disabled}\nlocale: false\n' >"$tmp/etc/cloud/cloud.cfg.d/05-swarmkeeper-test.cfg"
        echo "swarmkeeper-e2e-ami $key $(basename "$SK_DEB")" >"$tmp/etc/swarmkeeper-e2e-ami"
        mv "$tmp" "$ami"
        log "e2e: AMI $ami built in $(elapsed "$t") s"
    fi
    exec {_e2e_amifd}>&-
    SK_IMAGE_DIR=$ami
    export SK_IMAGE_DIR
}

fake_get() { curl -sf --max-time 10 "$E2E_URL$1"; }
fake_post() { curl -sf --max-time 30 -X POST -H 'Content-Type: application/json' -d "$2" "$E2E_URL$1"; }
fake_delete() { curl -sf --max-time 10 -X DELETE "$E2E_URL$1"; }

aws_ec2() {
    AWS_ACCESS_KEY_ID=$E2E_KEY AWS_SECRET_ACCESS_KEY=$E2E_SECRET AWS_DEFAULT_REGION=$E2E_REGION \
        AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        AWS_PAGER='' /usr/bin/aws ec2 --endpoint-url "$E2E_URL" --no-cli-pager "$@"
}

e2e_host() { local id=$1; echo "i-${id: -10}"; }

# e2e_fake_start [FAKE_ARGS...]
e2e_fake_start() {
    require_cmd curl jq
    [ -x /usr/bin/aws ] || die "the AWS CLI (/usr/bin/aws) is missing"
    tmpdir E2E_DIR sk-e2e.XXXXXX
    mkdir -p "$E2E_DIR/inst" "$E2E_DIR/vol" "$E2E_DIR/att"
    export E2E_DIR SK_IMAGE_DIR
    echo "$SK_CLEANUP_OWNER" >"$E2E_DIR/owner"
    # the bridge, kept up for the whole test by a port of ours (hosts come and go: the
    # bridge would go with the last one, and the fake listens on it)
    _sk_bridge_locked _sk_bridge_up_unlocked || die "bridge setup failed"
    E2E_KEEPER=ske2e$$
    E2E_KEEPER=${E2E_KEEPER:0:13}
    # (no dummy driver on every kernel: a veth pair whose other end stays down)
    ip link add "$E2E_KEEPER" type veth peer name "${E2E_KEEPER}p" || die "ip link add $E2E_KEEPER failed"
    on_exit _e2e_keeper_down "$E2E_KEEPER"
    ip link set "$E2E_KEEPER" master "$SK_BRIDGE" up || die "bridge port failed"
    # hosts are stopped before the fake, the fake before the bridge port
    on_exit _e2e_teardown
    /usr/bin/python3 "$E2E_FAKE" --listen "$E2E_BRIDGE_IP:0" --port-file "$E2E_DIR/port" \
        --access-key "$E2E_KEY" --secret-key "$E2E_SECRET" --region "$E2E_REGION" \
        --instance-profile "$E2E_PROFILE" \
        --hook "/bin/bash $E2E_SRC/tests/e2e/hook.sh" --hook-shutting-down \
        --state-log "$E2E_DIR/state.log" --call-log "$E2E_DIR/calls.log" \
        "$@" </dev/null >"$E2E_DIR/fake.log" 2>&1 &
    E2E_FAKE_PID=$!
    on_exit kill_pid "$E2E_FAKE_PID"
    wait_for 60 test -s "$E2E_DIR/port" || { cat "$E2E_DIR/fake.log" >&2; die "the fake did not start"; }
    E2E_PORT=$(cat "$E2E_DIR/port")
    E2E_URL=http://$E2E_BRIDGE_IP:$E2E_PORT
    export E2E_URL
    printf 'datasource_list: [ NoCloud, None ]\ndatasource:\n  NoCloud:\n    seedfrom: %s/nocloud/\n' \
        "$E2E_URL" >"$E2E_DIR/seed.cfg"
    fake_post /_fake/subnets "{\"id\": \"$E2E_SUBNET\", \"az\": \"$E2E_AZ\", \"cidr\": \"${E2E_BRIDGE_IP%.*}.0/24\"}" >/dev/null ||
        die "adding the test subnet to the fake failed"
    log "e2e: fake EC2 at $E2E_URL (pid $E2E_FAKE_PID), state in $E2E_DIR"
}

_e2e_keeper_down() {
    ip link del "$1" 2>/dev/null || true
    _sk_bridge_locked _sk_net_down_unlocked e2e-none
}

# every host and loop device of this test (also those the hook made)
_e2e_teardown() {
    local f name dev img
    [ -n "${E2E_FAKE_PID:-}" ] && kill_pid "$E2E_FAKE_PID"
    # the agents' EC2 calls (not the test's own AWS CLI, which signs with $E2E_KEY) join
    # the run's call log, which the IAM policy check reads
    if [ -n "${SK_EC2_CALL_LOG_DIR:-}" ] && [ -s "$E2E_DIR/calls.log" ]; then
        mkdir -p "$SK_EC2_CALL_LOG_DIR"
        jq -c --arg k "$E2E_KEY" 'select(.access_key != $k)' "$E2E_DIR/calls.log" \
            >>"$SK_EC2_CALL_LOG_DIR/e2e-$$.log" 2>/dev/null || true
    fi
    # what each host's journal says, for a failed run (E2E_ARTIFACTS=DIR keeps it all)
    for f in "$E2E_DIR"/inst/i-*; do
        case "$f" in *.started | *.stopped) continue ;; esac
        [ -f "$f" ] || continue
        name=$(cat "$f")
        _sk_pid_is "$SK_RUN_DIR/$name/leader.pid" &&
            nspawn_journal "$name" -b -o short-monotonic >"$E2E_DIR/journal-$name.txt" 2>&1
    done
    if [ -z "${E2E_OK:-}" ]; then
        log "e2e: FAILED; the fake's log, the hooks' log and the hosts' journals (tails):"
        tail -n 30 "$E2E_DIR/fake.log" >&2
        tail -n 30 "$E2E_DIR/hook.log" >&2 2>/dev/null
        for f in "$E2E_DIR"/journal-*.txt; do
            [ -f "$f" ] || continue
            echo "--- $f" >&2
            grep -v 'kernel:' "$f" | tail -n 60 >&2
        done
    fi
    if [ -n "${E2E_ARTIFACTS:-}" ]; then
        mkdir -p "$E2E_ARTIFACTS" && cp -r "$E2E_DIR/." "$E2E_ARTIFACTS/" && log "e2e: logs kept in $E2E_ARTIFACTS"
    fi
    # a hook still running was killed with the fake; it may have started a host
    for f in "$E2E_DIR"/inst/i-*; do
        case "$f" in *.started | *.stopped) continue ;; esac
        [ -f "$f" ] || continue
        name=$(cat "$f")
        # hard, as EC2 would (a clean poweroff of a docker host takes long)
        _sk_pid_is "$SK_RUN_DIR/$name/leader.pid" && kill -KILL "$(cat "$SK_RUN_DIR/$name/leader.pid")" 2>/dev/null
        nspawn_stop "$name"
    done
    for f in "$E2E_DIR"/vol/*; do
        [ -f "$f" ] || continue
        read -r dev img <"$f"
        _sk_loop_detach "$dev" "$img"
        rm -f "$img"
    done
    rm -rf --one-file-system -- "/var/tmp/sk-e2e-vols.$SK_CLEANUP_OWNER"
}

# e2e_user_data CLUSTER IPS WORKERS [EXTRA_CONF] : the cluster's user-data (as the
# CloudFormation template writes it, pointed at the fake)
e2e_user_data() {
    local cluster=$1 ips=$2 workers=$3 extra=${4:-} conf
    conf="[Cluster]
Name=$cluster
Managers=$ips
BootstrapManager=${ips%%,*}
Workers=$workers
[AWS]
Region=$E2E_REGION
Endpoint=$E2E_URL
MetadataEndpoint=$E2E_URL
AllowPlainHttp=yes
[Launch]
ImageId=ami-0e2e0000000000001
InstanceType=t3.small
SubnetIds=$E2E_SUBNET
InstanceProfile=$E2E_PROFILE
[Volume]
SizeGiB=1
$extra"
    jq -n --arg c "$conf" '"#cloud-config\n" + ({write_files: [{path: "/etc/swarmkeeper/swarmkeeper.conf.d/50-cluster.conf", permissions: "0600", content: $c}]} | tojson)' -r
}

# e2e_seed CLUSTER IPS WORKERS [EXTRA_CONF] : E2E_BOOTSTRAP = the bootstrap instance id
e2e_seed() {
    local cluster=$1 ips=$2 workers=$3 extra=${4:-} ip ud out
    for ip in ${ips//,/ }; do
        fake_post /_fake/volumes "$(jq -n --arg c "$cluster" --arg ip "$ip" --arg az "$E2E_AZ" \
            '{az: $az, size: 1, type: "gp3", tags: {"swarmkeeper:cluster": $c, "swarmkeeper:logical-id": $ip, Name: ("swarmkeeper-" + $c + "-" + $ip)}}')" >/dev/null ||
            die "seeding the volume of $ip failed"
    done
    # the managers' addresses reserved (explicit), as the stack does: EC2 never hands
    # one to a worker it launches without an address
    for ip in ${ips//,/ }; do
        fake_post /_fake/cidr-reservations "$(jq -n --arg s "$E2E_SUBNET" --arg c "$ip/32" \
            '{subnet: $s, cidr: $c, type: "explicit", description: "swarmkeeper manager address"}')" >/dev/null ||
            die "reserving $ip failed"
    done
    ud=$(e2e_user_data "$cluster" "$ips" "$workers" "$extra")
    out=$(fake_post /_fake/instances "$(jq -n --arg c "$cluster" --arg ip "${ips%%,*}" --arg s "$E2E_SUBNET" \
        --arg ud "$ud" --arg p "arn:aws:iam::123456789012:instance-profile/$E2E_PROFILE" \
        '{private_ip: $ip, subnet: $s, state: "running", user_data: $ud, iam_instance_profile: $p,
          image_id: "ami-0e2e0000000000001", instance_type: "t3.small",
          tags: {"swarmkeeper:cluster": $c, "swarmkeeper:logical-id": $ip, "swarmkeeper:role": "manager", Name: ("swarmkeeper-" + $c + "-bootstrap")}}')") ||
        die "seeding the bootstrap instance failed"
    E2E_BOOTSTRAP=$(jq -r '.id // .InstanceId // .instanceId' <<<"$out")
    log "e2e: seeded cluster $cluster: volumes for $ips, bootstrap instance $E2E_BOOTSTRAP"
}

# e2e_hooks_idle [TIMEOUT] : no hook pending or running
e2e_hooks_idle() {
    wait_for "${1:-120}" sh -c "curl -sf '$E2E_URL/_fake/hooks' | jq -e '.pending == 0' >/dev/null"
}

# e2e_wait_started ID [TIMEOUT] : the hook started the instance's host
e2e_wait_started() {
    local id=$1 t=${2:-60}
    wait_for "$t" test -f "$E2E_DIR/inst/$id.started" || die "no host for $id"
}

# e2e_wait_host ID [TIMEOUT] : the instance's host is up (hook done) and booted
e2e_wait_host() {
    local id=$1 t=${2:-180} name
    name=$(e2e_host "$id")
    wait_for "$t" test -f "$E2E_DIR/inst/$id" || die "no host for $id"
    wait_for "$t" _sk_booted "$name" || die "host $name ($id) did not boot"
}

e2e_check_invariants() {
    local out rc=0
    out=$(/usr/bin/python3 "$E2E_FAKE_DIR/check_invariants.py" "$E2E_DIR/state.log" 2>&1) || rc=$?
    assert_eq "$rc" 0 "state log: never two live instances per logical id, never a volume attached twice ($out)"
}

# --- the cluster, as Swarm sees it ------------------------------------------------------

# e2e_live_hosts : "ID NAME" of every instance whose host runs
e2e_live_hosts() {
    local f id
    for f in "$E2E_DIR"/inst/i-*; do
        case "$f" in *.started | *.stopped) continue ;; esac
        [ -f "$f" ] || continue
        id=${f##*/}
        _sk_pid_is "$SK_RUN_DIR/$(cat "$f")/leader.pid" && echo "$id $(cat "$f")"
    done
}

# e2e_nodes : one line per Swarm node, asked of the first manager that answers:
#   NODEID ROLE STATE REACHABILITY LEADER(true/false) LOGICAL-ID INSTANCE-ID ("-": no such
#   label; a worker's engine carries no logical id)
e2e_nodes() {
    local id name out
    while read -r id name; do
        out=$(nspawn_exec "$name" timeout 10 sh -c 'docker node ls -q | xargs -r docker node inspect --format \
            "{{.ID}} {{.Spec.Role}} {{.Status.State}} {{if .ManagerStatus}}{{.ManagerStatus.Reachability}} {{.ManagerStatus.Leader}}{{else}}- false{{end}} {{or (index .Description.Engine.Labels \"swarmkeeper.logical-id\") \"-\"}} {{or (index .Description.Engine.Labels \"swarmkeeper.instance-id\") \"-\"}}"' 2>/dev/null) || continue
        [ -n "$out" ] || continue
        echo "$out"
        return 0
    done < <(e2e_live_hosts)
    return 1
}

# e2e_host_of_ip IP : the host name of the live instance with that address
e2e_host_of_ip() {
    local id name
    while read -r id name; do
        [ "$(cat "$SK_RUN_DIR/$name/ip" 2>/dev/null)" = "$1" ] && { echo "$name"; return 0; }
    done < <(e2e_live_hosts)
    return 1
}

# e2e_instance_of_ip IP : the running instance with logical id IP (EC2's view)
e2e_instance_of_ip() {
    aws_ec2 describe-instances --filters "Name=tag:swarmkeeper:logical-id,Values=$1" \
        "Name=instance-state-name,Values=pending,running" --query 'Reservations[].Instances[].InstanceId' --output text
}

# e2e_healthy MANAGERS WORKERS : that many managers Ready + Reachable (one Leader) and
# workers Ready, every one with a running instance
e2e_healthy() {
    local want_m=$1 want_w=$2 nodes m w l
    nodes=$(e2e_nodes) || return 1
    m=$(awk '$2 == "manager" && $3 == "ready" && $4 == "reachable"' <<<"$nodes" | wc -l)
    l=$(awk '$2 == "manager" && $5 == "true"' <<<"$nodes" | wc -l)
    w=$(awk '$2 == "worker" && $3 == "ready"' <<<"$nodes" | wc -l)
    [ "$m" = "$want_m" ] && [ "$l" = 1 ] && [ "$w" = "$want_w" ] &&
        [ "$(awk '$3 != "ready" || ($2 == "manager" && $4 != "reachable")' <<<"$nodes" | wc -l)" = 0 ]
}

# e2e_leader : "NODEID LOGICAL-ID INSTANCE-ID" of the leader
e2e_leader() { e2e_nodes | awk '$5 == "true" { print $1, $6, $7; exit }'; }

# e2e_node_back NODEID IP OLDINSTANCE : the node is Ready + Reachable on a new instance
e2e_node_back() {
    local line
    line=$(e2e_nodes | awk -v n="$1" '$1 == n') || return 1
    read -r _ _ st re _ lid iid <<<"$line"
    [ "$st" = ready ] && [ "$re" = reachable ] && [ "$lid" = "$2" ] && [ "$iid" != "$3" ] && [ -n "$iid" ]
}

# e2e_agent_journal NAME : the agent's journal on a host, what an operator reads
e2e_agent_journal() {
    nspawn_journal "$1" -b -u swarmkeeper.service -o short-precise --no-hostname
}

# The prologue of every e2e test: root, the package under test, the AMI image.
e2e_prologue() {
    require_root
    e2e_deb
    e2e_ami
}
