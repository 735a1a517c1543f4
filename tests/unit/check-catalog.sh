#!/bin/bash
# Every MESSAGE_ID in agent/messages.h has an entry in units/swarmkeeper.catalog (with a
# Subject), the catalog has no entry for an id the agent does not log, and systemd's own
# catalog compiler accepts the file (journalctl --update-catalog into a scratch root).
set -uo pipefail
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
src=${SK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cat=$src/units/swarmkeeper.catalog
msg=$src/agent/messages.h

ids=$(sed -nE 's/^#define[[:space:]]+SK_MESSAGE_[A-Z0-9_]+[[:space:]]+"([0-9a-f]{32})".*/\1/p' "$msg" | sort)
[ -n "$ids" ] || die "no MESSAGE_IDs found in $msg"
assert_eq "$(grep -cE '^#define[[:space:]]+SK_MESSAGE_' "$msg")" "$(echo "$ids" | wc -l)" \
    "every SK_MESSAGE_ define is a 32-digit lower-case hex id"
assert_eq "$(echo "$ids" | uniq -d)" "" "no id is defined twice"
entries=$(sed -nE 's/^-- ([0-9a-f]{32})$/\1/p' "$cat" | sort)
missing=$(comm -23 <(echo "$ids") <(echo "$entries"))
for id in $missing; do
    log "no catalog entry for $(grep "$id" "$msg")"
done
assert_eq "$missing" "" "every MESSAGE_ID in agent/messages.h has a catalog entry"
assert_eq "$(comm -13 <(echo "$ids") <(echo "$entries"))" "" "no catalog entry for an id the agent does not define"
assert_eq "$(echo "$entries" | uniq -d)" "" "no id has two entries"
# each entry: a Subject line right after the header
bad=$(awk '/^-- [0-9a-f]{32}$/ { id = $2; getline; if ($0 !~ /^Subject: ./) print id }' "$cat")
assert_eq "$bad" "" "every entry starts with a Subject"

if command -v journalctl >/dev/null; then
    tmpdir R
    mkdir -p "$R/usr/lib/systemd/catalog" "$R/var/lib/systemd/catalog"
    cp "$cat" "$R/usr/lib/systemd/catalog/"
    assert_ok "journalctl --update-catalog accepts the file" journalctl --root="$R" --update-catalog
    listed=$(journalctl --root="$R" --list-catalog 2>/dev/null | awk '{ print $1 }' | sort)
    assert_eq "$listed" "$ids" "the compiled catalog lists exactly the agent's ids"
else
    log "journalctl not found: syntax not checked by systemd"
fi
sk_summary
