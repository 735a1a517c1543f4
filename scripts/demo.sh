#!/bin/bash
# The local demo, on a fresh Debian 12 machine, as root:
#   sudo scripts/demo.sh
# Installs what it needs, builds swarmkeeper, boots simulated instances (real systemd in
# systemd-nspawn, each in its own network namespace, no route out), hands each a loop
# device as its EBS volume, installs the agent and its units, and shows what an
# operator would see: the volume prepared before dockerd, the engine labelled, the swarm
# formed, journal events and `swarmkeeper status`. Everything is removed at the end.
# DEMO_KEEP=1 keeps the hosts up until you press Enter.
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
if [ -z "${SK_BUILD_DIR:-}" ]; then
  # as the main job: set up and build; as a test (meson sets SK_BUILD_DIR), use that build
  scripts/setup-deps.sh
  { [ -d build ] || meson setup build; } && ninja -C build || exit 1
  export SK_SOURCE_DIR=$SRC SK_BUILD_DIR=$SRC/build SK_BIN=$SRC/build/agent/swarmkeeper
fi
. tests/lib/common.sh
. tests/lib/nspawn.sh
require_root

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

say "1. Building (once) the simulated instance image: Debian 12 + systemd + docker.io"
nspawn_image

MANAGERS=(10.99.0.41 10.99.0.42 10.99.0.43)
NAMES=(mgr1 mgr2 mgr3)
MANAGER_LIST=$(IFS=,; echo "${MANAGERS[*]}")

for i in 0 1 2; do
  make_loop 512 "VOL$i"
  dev_var=VOL$i
  say "2.$((i + 1)) Booting ${NAMES[$i]} (${MANAGERS[$i]}) with ${!dev_var} as its blank EBS volume"
  SK_BLOCKS="${!dev_var}:/dev/xvdf" nspawn_start "${NAMES[$i]}" "${MANAGERS[$i]}"
  nspawn_install_build "${NAMES[$i]}"
  # what a cloud-init write_files drop-in would hold
  nspawn_sh "${NAMES[$i]}" "cat > /etc/swarmkeeper/swarmkeeper.conf.d/50-cloud-init.conf <<EOC
[Cluster]
Name=demo
Managers=$MANAGER_LIST
BootstrapManager=${MANAGERS[0]}
[Host]
InstanceId=i-0000000000000000$((i + 1))
PrivateIp=${MANAGERS[$i]}
AvailabilityZone=us-east-1a
[Volume]
Device=/dev/xvdf
EOC"
  say "   systemctl start docker  (pulls in swarmkeeper-prepare)"
  nspawn_exec "${NAMES[$i]}" systemctl start docker.service || die "docker did not start"
  nspawn_journal "${NAMES[$i]}" -u swarmkeeper-prepare.service -o cat | sed 's/^/   | /'
  echo "   /var/lib/docker: $(nspawn_exec "${NAMES[$i]}" findmnt -n -o SOURCE,FSTYPE /var/lib/docker)"
  echo "   engine labels:   $(nspawn_exec "${NAMES[$i]}" docker info --format '{{join .Labels " "}}')"
  if [ "$i" -gt 0 ]; then
    tok=$(nspawn_exec "${NAMES[0]}" docker swarm join-token -q manager)
    nspawn_sh "${NAMES[$i]}" "umask 077; printf '[Cluster]\nJoinToken=%s\n' '$tok' > /etc/swarmkeeper/swarmkeeper.conf.d/60-token.conf"
  fi
  say "   systemctl start swarmkeeper  (blocks until this node is in the swarm)"
  nspawn_exec "${NAMES[$i]}" systemctl start swarmkeeper.service || die "swarmkeeper did not start"
  echo "   status: $(nspawn_exec "${NAMES[$i]}" systemctl show swarmkeeper.service -p StatusText --value)"
done

say "3. swarmkeeper status (on ${NAMES[0]})"
nspawn_exec "${NAMES[0]}" swarmkeeper status

say "4. Replace mgr2 as swarmkeeper's leader will: same private IP, same volume, no join token"
old_id=$(nspawn_exec mgr2 docker info --format '{{.Swarm.NodeID}}')
nspawn_stop mgr2
echo "   mgr2's instance is gone (its node: $old_id)"
SK_BLOCKS="$VOL1:/dev/xvdf" nspawn_start mgr2b "${MANAGERS[1]}"
nspawn_install_build mgr2b
nspawn_sh mgr2b "cat > /etc/swarmkeeper/swarmkeeper.conf.d/50-cloud-init.conf <<EOC
[Cluster]
Name=demo
Managers=$MANAGER_LIST
BootstrapManager=${MANAGERS[0]}
[Host]
InstanceId=i-00000000000000012
PrivateIp=${MANAGERS[1]}
AvailabilityZone=us-east-1a
[Volume]
Device=/dev/xvdf
EOC"
nspawn_exec mgr2b systemctl start docker.service swarmkeeper.service || die "replacement did not start"
nspawn_journal mgr2b -u swarmkeeper-prepare.service -u swarmkeeper.service -o cat | grep -v '^Start\|^Finish' | sed 's/^/   | /'
new_id=$(nspawn_exec mgr2b docker info --format '{{.Swarm.NodeID}}')
echo "   node id before: $old_id, after: $new_id"
[ "$old_id" = "$new_id" ] || die "the replacement came back as another node"
nspawn_exec mgr1 swarmkeeper status | sed 's/^/   /'

say "5. Safety: a volume holding something else is never formatted"
make_loop 64 BAD
echo 'label: gpt' | sfdisk -q "$BAD" >/dev/null 2>&1
SK_BLOCKS="$BAD:/dev/xvdf" nspawn_start bad 10.99.0.49
nspawn_install_build bad
nspawn_sh bad 'printf "[Cluster]\nName=demo\n[Host]\nInstanceId=i-00000000000000009\nPrivateIp=10.99.0.49\nAvailabilityZone=us-east-1a\n[Volume]\nDevice=/dev/xvdf\n" > /etc/swarmkeeper/swarmkeeper.conf.d/50-cloud-init.conf'
nspawn_exec bad systemctl start docker.service 2>/dev/null && die "docker started on a refused volume"
nspawn_journal bad -u swarmkeeper-prepare.service -o cat | sed 's/^/   | /'
echo "   swarmkeeper-prepare: $(nspawn_exec bad systemctl show swarmkeeper-prepare.service -p Result,ExecMainStatus --value | tr '\n' ' ')"
echo "   docker.service:      $(nspawn_exec bad systemctl is-active docker.service)"

if [ "${DEMO_KEEP:-0}" = 1 ]; then
  say "Hosts are up (nsenter via tests/lib/nspawn.sh). Press Enter to tear everything down."
  read -r _
fi
say "Done: removing hosts, namespaces and loop devices."
sk_summary >/dev/null
