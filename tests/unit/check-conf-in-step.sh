#!/bin/bash
# conf/swarmkeeper.conf and man/swarmkeeper.conf.5 list every key the binary knows,
# at the binary's defaults, and the sample lists no key the binary does not know.
# The binary's output is taken whole first: if it crashes or fails, so does this test.
set -euo pipefail
fail=0 checked=0
rc=0
out=$("$SK_BIN" --config /dev/null --config-dir /nonexistent config) || rc=$?
if [ "$rc" != 0 ]; then
        echo "'$SK_BIN config' failed with exit status $rc"; exit 1; fi
keys=()
while IFS= read -r line; do
        case "$line" in \#*|"") continue;; \[*\]) section=${line#[}; section=${section%]}; continue;; esac
        kv=${line%%  *}; kv=${kv%% \#*}; key=${kv%%=*}; val=${kv#*=}; val=${val%"${val##*[![:space:]]}"}
        [ -n "$key" ] || continue
        keys+=("$key"); checked=$((checked + 1))
        [ "$key" = JoinToken ] && val=""
        if ! grep -qxF "#$key=$val" "$SK_SOURCE_DIR/conf/swarmkeeper.conf"; then
                echo "conf/swarmkeeper.conf: missing '#$key=$val' in [$section]"; fail=1; fi
        if ! grep -q "^\\.B $key=\|^\\.BR $key=\|^\\\\fB$key=" "$SK_SOURCE_DIR/man/swarmkeeper.conf.5"; then
                echo "man/swarmkeeper.conf.5: key $section.$key is not documented"; fail=1; fi
done <<<"$out"
if [ "$checked" -lt 10 ]; then
        echo "'$SK_BIN config' printed $checked keys: that is not a configuration"; exit 1; fi
while IFS= read -r k; do
        known=0
        for x in "${keys[@]}"; do [ "$x" = "$k" ] && known=1; done
        if [ $known = 0 ]; then echo "conf/swarmkeeper.conf: '#$k=' is not a key the binary knows"; fail=1; fi
done < <(sed -n 's/^#\([A-Z][A-Za-z]*\)=.*/\1/p' "$SK_SOURCE_DIR/conf/swarmkeeper.conf")
[ $fail = 0 ] && echo "every key in step ($checked keys)"
exit $fail
