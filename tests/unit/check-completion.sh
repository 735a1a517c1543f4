#!/bin/bash
# The bash completion offers every verb of `swarmkeeper --help`, the options, and every
# configuration key (Section.Key=) after --set.
set -uo pipefail
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
src=${SK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bc=/usr/share/bash-completion/bash_completion
[ -f "$bc" ] || skip "bash-completion is not installed"
[ -x "${SK_BIN:-}" ] || die "SK_BIN not set"
tmpdir B
ln -s "$SK_BIN" "$B/swarmkeeper"
export PATH=$B:$PATH

complete_line() { # WORDS... (the last one is being completed)
    bash --norc --noprofile -c '
        . "$1"; . "$2"; shift 2
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _swarmkeeper swarmkeeper "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf "%s\n" "${COMPREPLY[@]}"' sh "$bc" "$src/shell-completion/swarmkeeper" "$@" 2>&1
}

verbs=$(swarmkeeper --help | awk '/^Verbs:/ { v = 1; next } v && /^$/ { exit } v { print $1 }')
[ -n "$verbs" ] || die "no verbs in swarmkeeper --help"
got=$(complete_line swarmkeeper "")
for v in $verbs; do
    assert_contains "$got" "$v" "verb '$v' is offered"
done
assert_eq "$(complete_line swarmkeeper pre)" prepare "a prefix completes to its verb"
assert_eq "$(complete_line swarmkeeper status --j)" --json "status takes --json"
assert_eq "$(complete_line swarmkeeper prepare --j)" "" "prepare does not take --json"
assert_contains "$(complete_line swarmkeeper --c)" --config "--config is offered"
keys=$(complete_line swarmkeeper --set "")
assert_contains "$keys" Cluster.Name= "--set offers Cluster.Name="
assert_contains "$keys" Volume.MountPoint= "--set offers Volume.MountPoint="
n=$(swarmkeeper --config /dev/null --config-dir /nonexistent config | grep -cE '^[A-Za-z]+=')
assert_eq "$(echo "$keys" | grep -c '=$')" "$n" "--set offers every key of 'swarmkeeper config'"
assert_eq "$(complete_line swarmkeeper --set Reconcile.Gr)" Reconcile.GraceSec= "a key prefix completes"
assert_eq "$(complete_line swarmkeeper run "")" "" "nothing after the verb"
sk_summary
