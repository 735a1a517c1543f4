#!/bin/bash
# Install everything the build, the tests, the demo and the benchmarks need on a fresh
# Debian 12 (bookworm) machine, from Debian's own packages. Idempotent. Run as root.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "setup-deps.sh: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

PKGS=(
  # build
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libsystemd-dev libcurl4-openssl-dev libjson-c-dev libmount-dev libblkid-dev libexpat1-dev
  systemd
  # tests: real filesystems and devices
  util-linux fdisk e2fsprogs xfsprogs cryptsetup-bin
  # tests: real engines, real systemd in containers, networks
  docker.io systemd-container debootstrap iproute2 curl jq
  # the fake EC2 and its own tests: Debian's python with botocore, the real AWS CLI
  python3 python3-botocore awscli
  # benchmarks
  time
  # packaging: the .deb (dpkg-buildpackage, debhelper 13, lintian), the .rpm (Debian's rpm
  # and rpmlint), man page lint, bash completion, the CloudFormation/IAM checks
  dpkg-dev debhelper lintian rpm rpmlint mandoc bash-completion python3-yaml
  # the IAM policy engine's runtime (tests/iam: @cloud-copilot/iam-simulate, from npm below)
  nodejs
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-deps.sh: installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# npm: Debian packages it apart from nodejs; a nodejs from elsewhere (NodeSource) bundles it
# and conflicts with Debian's npm, so ask apt only when there is none.
if ! command -v npm >/dev/null; then
  echo "setup-deps.sh: installing npm"
  apt-get update -q
  apt-get install -y -q --no-install-recommends npm
fi
# The IAM policy engine the unit suite evaluates conf/aws/iam-policy.json with: exactly the
# versions tests/iam/package-lock.json pins, from the npm registry npm is configured for
# (again only when what is installed does not satisfy them).
iam=$(dirname "$0")/../tests/iam
if ! npm ls --prefix "$iam" --all >/dev/null 2>&1 || [ ! -d "$iam/node_modules" ]; then
  echo "setup-deps.sh: installing the IAM policy engine into tests/iam/node_modules"
  npm ci --prefix "$iam" --no-audit --no-fund --ignore-scripts
fi
# The docker.io package enables its daemon on the host; the tests start their own
# engines (own sockets, data roots, network namespaces) and need none running here.
echo "setup-deps.sh: all packages present"
