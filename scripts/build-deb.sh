#!/bin/bash
# Build the Debian package from a clean copy of this tree and check it with lintian:
#   scripts/build-deb.sh OUTDIR
# The copy holds exactly the files git tracks (as they are in the working tree), or the
# whole tree without build directories when this is not a git checkout. Needs the
# Build-Depends (scripts/setup-deps.sh installs them; or `apt-get build-dep ./`).
# Writes OUTDIR/swarmkeeper_<version>_<arch>.deb (+ dbgsym, .changes, .buildinfo) and
# OUTDIR/lintian.txt; fails on any lintian error or warning.
# shellcheck disable=SC2016,SC2012
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/swarmkeeper-deb.XXXXXX)
trap 'rm -rf --one-file-system -- "$work"' EXIT
mkdir "$work/swarmkeeper"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - -cf -) | tar -xf - -C "$work/swarmkeeper"
else
    tar -C "$src" --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$work/swarmkeeper"
fi
t0=$(date +%s)
(cd "$work/swarmkeeper" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
    tail -n 60 "$work/build.log" >&2
    echo "build-deb.sh: dpkg-buildpackage failed" >&2
    exit 1
}
grep -E '^(Ok|Fail|Skipped):' "$work/build.log" | sed 's/^/build-deb.sh: unit suite at build: /' || true
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out/"
echo "build-deb.sh: built $(cd "$out" && ls ./*.deb | tr '\n' ' ')in $(( $(date +%s) - t0 )) s"
changes=$(ls "$out"/swarmkeeper_*.changes | tail -n 1)
rc=0
lintian --fail-on error,warning --display-info "$changes" >"$out/lintian.txt" 2>&1 || rc=$?
cat "$out/lintian.txt"
[ "$rc" = 0 ] || { echo "build-deb.sh: lintian reports errors or warnings" >&2; exit 1; }
echo "build-deb.sh: lintian: no error, no warning"
