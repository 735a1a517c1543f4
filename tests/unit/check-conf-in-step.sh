#!/bin/bash
# conf/swarmkeeper.conf and man/swarmkeeper.conf.5 list every key the binary knows,
# at the binary's defaults.
set -euo pipefail
fail=0
while IFS= read -r line; do
        case "$line" in \[*\]) section=${line#[}; section=${section%]}; continue;; esac
        kv=${line%%  *}; kv=${kv%% \#*}; key=${kv%%=*}; val=${kv#*=}; val=${val%"${val##*[![:space:]]}"}
        [ -n "$key" ] || continue
        [ "$key" = JoinToken ] && val=""
        if ! grep -qxF "#$key=$val" "$SK_SOURCE_DIR/conf/swarmkeeper.conf"; then
                echo "conf/swarmkeeper.conf: missing '#$key=$val' in [$section]"; fail=1; fi
        if ! grep -q "^\\.B $key=\|^\\.BR $key=\|^\\\\fB$key=" "$SK_SOURCE_DIR/man/swarmkeeper.conf.5"; then
                echo "man/swarmkeeper.conf.5: key $section.$key is not documented"; fail=1; fi
done < <("$SK_BIN" --config /dev/null --config-dir /nonexistent config | grep -v '^#' | grep -v '^$')
[ $fail = 0 ] && echo "every key in step"
exit $fail
