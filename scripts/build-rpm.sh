#!/bin/bash
# Build the binary rpm of rpm/swarmkeeper.spec on this Debian machine and check it with
# rpmlint:   scripts/build-rpm.sh OUTDIR
# Debian's rpm has no systemd/meson macros: rpm/macros.debian supplies Fedora's. The
# BuildRequires name Fedora packages that Debian's (empty) rpm database cannot know, so
# they are not checked (--nodeps); scripts/setup-deps.sh installs the Debian equivalents.
# The source tarball holds the files git tracks, as they are in the working tree.
# Writes OUTDIR/swarmkeeper-<version>-1.<arch>.rpm and OUTDIR/rpmlint.txt; fails on any
# rpmlint error.
# shellcheck disable=SC2016
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
version=$(sed -nE 's/^Version:[[:space:]]+//p' "$src/rpm/swarmkeeper.spec")
work=$(mktemp -d /tmp/swarmkeeper-rpm.XXXXXX)
trap 'rm -rf --one-file-system -- "$work"' EXIT
mkdir -p "$work/SOURCES" "$work/tree/swarmkeeper-$version"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - -cf -) | tar -xf - -C "$work/tree/swarmkeeper-$version"
else
    tar -C "$src" --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$work/tree/swarmkeeper-$version"
fi
tar -C "$work/tree" -czf "$work/SOURCES/swarmkeeper-$version.tar.gz" "swarmkeeper-$version"
t0=$(date +%s)
rpmbuild -bb --nodeps --load="$src/rpm/macros.debian" --define "_topdir $work" \
    "$src/rpm/swarmkeeper.spec" >"$work/build.log" 2>&1 || {
    tail -n 60 "$work/build.log" >&2
    echo "build-rpm.sh: rpmbuild failed" >&2
    exit 1
}
grep -E '^(Ok|Fail|Skipped):' "$work/build.log" | sed 's/^/build-rpm.sh: unit suite at build: /' || true
find "$work/RPMS" -name '*.rpm' -exec cp {} "$out/" \;
echo "build-rpm.sh: built $(find "$out" -maxdepth 1 -name '*.rpm' -printf '%f ')in $(( $(date +%s) - t0 )) s"
rc=0
rpmlint -r "$src/rpm/swarmkeeper.rpmlintrc" "$out"/*.rpm >"$out/rpmlint.txt" 2>&1 || rc=$?
cat "$out/rpmlint.txt"
# rpmlint exits 64 on errors (66 when badness is over the threshold); warnings alone give 0
if [ "$rc" != 0 ] || grep -qE '^[^ ]+: E: ' "$out/rpmlint.txt"; then
    echo "build-rpm.sh: rpmlint reports errors" >&2
    exit 1
fi
echo "build-rpm.sh: rpmlint: no error"
