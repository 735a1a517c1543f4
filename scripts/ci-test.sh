#!/bin/bash
# The whole test run, on a fresh Debian 12 machine, as root:
#   sudo scripts/ci-test.sh
# Installs what it needs (apt-get), builds with gcc and clang (-Werror), runs every test
# suite (unit, aws, root, docker, reconcile, nspawn, e2e), the unit and AWS suites again under
# ASan+UBSan, each fuzzer for a short while, and ends with "N passed, N failed".
# Under CI=true a skipped test counts as failed.
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
passed=0 failed=0
declare -a failures=()

T0=$(date +%s)
step() { echo; echo "=== $* === (at $(( $(date +%s) - T0 )) s)"; }
record() { # NAME RC
  if [ "$2" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}

# meson test: count each test's result from testlog.json (SKIP under CI is a failure).
meson_suite() { # BUILDDIR ARGS...
  local b=$1; shift
  meson test -C "$b" --print-errorlogs --no-rebuild "$@"
  local rc=$? json=$b/meson-logs/testlog.json
  if [ -f "$json" ]; then
    while IFS=$'\t' read -r name result; do
      case "$result" in
        OK|EXPECTEDFAIL) record "$name" 0 ;;
        SKIP) if [ "${CI:-}" = true ]; then record "$name (skipped)" 1; else echo "skipped: $name"; fi ;;
        *) record "$name ($result)" 1 ;;
      esac
    done < <(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    t=json.loads(l); print(t["name"]+"\t"+t["result"])' "$json")
  else
    record "meson test $* in $b" "$rc"
  fi
}

step "dependencies"
scripts/setup-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

step "build: gcc, -Werror"
{ [ -d build ] || meson setup build; } && ninja -C build
record "build gcc" $?
step "build: clang, -Werror"
{ [ -d build-clang ] || CC=clang meson setup build-clang; } && ninja -C build-clang
record "build clang" $?

step "packages: .deb (+ unit suite at build, lintian)"
# ~50 s. The unit suite (run below too) holds the unit-security (systemd-analyze security
# exposure limits) and catalog (an entry per MESSAGE_ID) checks.
rm -rf build-pkg && mkdir -p build-pkg
scripts/build-deb.sh build-pkg/deb
record "deb package + lintian" $?
# the nspawn suite's package test installs this very .deb (instead of building its own)
SK_DEB=$(find "$SRC/build-pkg/deb" -name 'swarmkeeper_*.deb' 2>/dev/null | head -n 1)
export SK_DEB
step "packages: .rpm (Debian's rpmbuild + rpm/macros.debian, unit suite at build, rpmlint)"
# ~35 s
scripts/build-rpm.sh build-pkg/rpm
record "rpm package + rpmlint" $?

step "tests (gcc build): unit, aws, root, docker, reconcile, nspawn, e2e"
rm -rf build/ec2-calls   # the fakes of this run log every EC2 call the agent makes here
for suite in unit aws root docker reconcile nspawn e2e; do
  meson_suite build --suite "$suite"
done

step "IAM policy against every EC2 action this run called"
# < 1 s. conf/aws/iam-policy.json allows each action in build/ec2-calls/*.log and none else.
SK_REQUIRE_CALL_LOGS=1 SK_EC2_CALL_LOG_DIR=build/ec2-calls SK_SOURCE_DIR=$SRC SK_BIN=build/agent/swarmkeeper \
  /usr/bin/python3 tests/unit/check-aws-kit.py
record "iam-policy vs the run's EC2 calls" $?

step "tests under ASan+UBSan: unit, aws, root"
{ [ -d build-asan ] || CC=clang meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbuildtype=debug; } && ninja -C build-asan
record "build asan" $?
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for suite in unit aws root; do
  meson_suite build-asan --suite "$suite"
done
unset ASAN_OPTIONS UBSAN_OPTIONS

step "fuzzers, ${FUZZ_SECONDS}s each"
# The library is instrumented too, so that coverage from our own code guides the fuzzers.
{ [ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzzers=true -Dintegration=false -Db_lundef=false \
      -Dc_args=-fsanitize=fuzzer-no-link,address,undefined -Dc_link_args=-fsanitize=address,undefined; } &&
  ninja -C build-fuzz
record "build fuzzers" $?
for f in build-fuzz/tests/fuzz/fuzz-*; do
  [ -x "$f" ] && [ -f "$f" ] || continue
  n=$(basename "$f")
  corpus=$(mktemp -d)
  [ -d "$SRC/tests/fuzz/corpus/$n" ] && cp -r "$SRC/tests/fuzz/corpus/$n/." "$corpus/"
  "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" \
      > "build-fuzz/$n.log" 2>&1
  rc=$?
  tail -3 "build-fuzz/$n.log"
  rm -rf "$corpus"
  record "$n" $rc
done

step "summary"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "total time: $(( $(date +%s) - T0 )) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
