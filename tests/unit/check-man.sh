#!/bin/bash
# Both man pages are clean under `mandoc -Tlint` (every level, style included).
set -uo pipefail
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
src=${SK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
require_cmd mandoc
for m in "$src"/man/*.[0-9]; do
    out=$(mandoc -Tlint "$m" 2>&1)
    assert_eq "$out" "" "mandoc -Tlint ${m##*/}"
done
sk_summary
