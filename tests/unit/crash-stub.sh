#!/bin/bash
# Stands in for swarmkeeper in the self-test of check-conf-in-step.sh: prints the
# configuration the sample documents (so every key is in step), then crashes. The
# check must fail on the crash alone.
grep -E '^\[|^#[A-Z][A-Za-z]*=' "$SK_SOURCE_DIR/conf/swarmkeeper.conf" | sed 's/^#//'
kill -SEGV $$
