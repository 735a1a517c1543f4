#!/bin/bash
# tests/lib/nspawn.sh takes the Debian archive for the image from the machine's apt
# configuration (one-line .list files and deb822 .sources), never from a host name
# built into the project, and fails clearly when apt has none for the suite.
set -uo pipefail
# shellcheck source=tests/lib/common.sh disable=SC2034
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/nspawn.sh"
unset SK_MIRROR
tmpdir T
export SK_APT_DIR=$T/apt
SK_IMAGE_SUITE=bookworm
mkdir -p "$SK_APT_DIR/sources.list.d"

assert_fail "no apt sources at all: an error" _sk_mirror
err=$(_sk_mirror 2>&1 >/dev/null)
assert_contains "$err" "no Debian archive for 'bookworm'" "the error names the suite"
assert_contains "$err" "SK_MIRROR" "the error says how to set one"

cat >"$SK_APT_DIR/sources.list.d/debian.sources" <<'S'
# a comment
Types: deb-src
URIs: http://src.example.invalid/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://sec.example.invalid/debian-security
Suites: bookworm-security
Components: main

Enabled: no
Types: deb
URIs: http://off.example.invalid/debian
Suites: bookworm

Types: deb
URIs: http://822.example.invalid/debian http://second.example.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
S
assert_eq "$(_sk_mirror)" http://822.example.invalid/debian "deb822: the first enabled deb URI for the suite"

# *.list wins over *.sources (apt reads both; the older format is checked first)
printf '%s\n' '# deb http://commented.example.invalid/debian bookworm main' \
    'deb-src http://src.example.invalid/debian bookworm main' \
    'deb [arch=amd64 signed-by=/k.gpg] http://list.example.invalid/debian bookworm main' \
    >"$SK_APT_DIR/sources.list"
assert_eq "$(_sk_mirror)" http://list.example.invalid/debian "one-line format with [options]"

printf 'deb cdrom:[Debian]/ bookworm main\ndeb http://x.example.invalid/debian trixie main\n' >"$SK_APT_DIR/sources.list"
assert_eq "$(_sk_mirror)" http://822.example.invalid/debian "cdrom and other suites are passed over"

SK_MIRROR=http://given.example.invalid/debian
assert_eq "$(SK_MIRROR=$SK_MIRROR _sk_mirror)" http://given.example.invalid/debian "SK_MIRROR wins"
unset SK_MIRROR

# the project names no archive host: the only place a mirror may come from is apt
src=$(cd "$(dirname "$0")/../.." && pwd)
hits=$(grep -rIoE 'https?://[a-z0-9.-]+/(debian|ubuntu)[a-z-]*' "$src" --exclude-dir=.git --exclude-dir='build*' \
    2>/dev/null | grep -v '\.invalid/' || true)
assert_eq "$hits" "" "no package mirror host name in the project"
sk_summary
