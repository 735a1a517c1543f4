# shellcheck shell=bash disable=SC2016
# swarmkeeper — shared helpers for the shell integration tests.
#
#   . "$(dirname "$0")/../lib/common.sh"
#
# Conventions (project rules):
#   * tests run as root; an unprivileged run may skip (exit 77), but under CI=true a skip
#     is a failure (exit 1);
#   * everything a test makes is registered on the cleanup stack (on_exit) right after it
#     is made, and removed from ONE EXIT trap (also taken on INT/TERM), LIFO;
#   * processes are only ever killed by PID.
#
# Functions:
#   log MSG...                 timestamped line on stderr
#   die MSG...                 log + exit 1
#   skip MSG...                exit 77 (exit 1 under CI=true)
#   require_root               skip unless uid 0
#   require_cmd CMD...         skip unless every CMD is in PATH
#   assert_eq A B MSG          fail unless A == B
#   assert_ne A B MSG          fail if A == B
#   assert_contains HAY NEEDLE MSG   fail unless NEEDLE is a substring of HAY
#   assert_not_contains HAY NEEDLE MSG
#   assert_ok MSG CMD...       fail unless CMD succeeds
#   assert_fail MSG CMD...     fail if CMD succeeds
#   pass MSG                   count + log one passed check
#   wait_for TIMEOUT_S CMD...  poll CMD (every SK_POLL_S, default 0.1 s) until it succeeds;
#                              returns 1 on timeout
#   on_exit CMD [ARGS...]      push a command on the cleanup stack (works from subshells too)
#   run_cleanup                run (and empty) the cleanup stack now
#   tmpdir VAR [TEMPLATE]      VAR=fresh temp dir (mktemp -d), removed on exit
#   make_loop SIZE_MB VAR      VAR=/dev/loopN backed by a sparse file in a fresh temp dir;
#                              VAR_IMG=the image file; detached + deleted on exit
#   kill_pid PID               TERM (then KILL after 5 s) a child process of this shell, by
#                              PID; nothing if it is gone (use with on_exit)
#   now                        seconds since the epoch with ns (for timings)
#   elapsed START              seconds since START (from `now`), 2 decimals
#   sk_summary                 print "N passed, 0 failed" (call at the end of a test)
#   sk_message_id NAME         the MESSAGE_ID SK_MESSAGE_NAME of agent/messages.h (tests
#                              name an event by its id, never by the wording of its line)

[ -n "${SK_COMMON_SH:-}" ] && return 0
SK_COMMON_SH=1

SK_POLL_S=${SK_POLL_S:-0.1}
SK_PASSED=0

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*" >&2; }

die() {
    log "FAIL: $*"
    exit 1
}

skip() {
    if [ "${CI:-}" = true ]; then
        log "SKIP is a failure under CI=true: $*"
        exit 1
    fi
    log "SKIP: $*"
    exit 77
}

require_root() {
    [ "$(id -u)" = 0 ] || skip "must run as root"
}

require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip "missing command: $c"
    done
}

pass() {
    SK_PASSED=$((SK_PASSED + 1))
    log "ok $SK_PASSED - $*"
}

assert_eq() {
    [ "$1" = "$2" ] || die "${3:-assert_eq}: got '$1', expected '$2'"
    pass "${3:-assert_eq '$2'}"
}

assert_ne() {
    [ "$1" != "$2" ] || die "${3:-assert_ne}: got '$1', expected anything else"
    pass "${3:-assert_ne '$2'}"
}

assert_contains() {
    case "$1" in
        *"$2"*) pass "${3:-contains '$2'}" ;;
        *) die "${3:-assert_contains}: '$2' not found in: $1" ;;
    esac
}

assert_not_contains() {
    case "$1" in
        *"$2"*) die "${3:-assert_not_contains}: '$2' found in: $1" ;;
        *) pass "${3:-does not contain '$2'}" ;;
    esac
}

assert_ok() {
    local msg=$1
    shift
    "$@" || die "$msg: command failed (rc=$?): $*"
    pass "$msg"
}

assert_fail() {
    local msg=$1
    shift
    if "$@"; then die "$msg: command unexpectedly succeeded: $*"; fi
    pass "$msg"
}

sk_summary() {
    echo "${SK_PASSED} passed, 0 failed"
}

sk_message_id() {
    local id
    id=$(sed -nE "s/^#define[[:space:]]+SK_MESSAGE_$1[[:space:]]+\"([0-9a-f]{32})\".*/\1/p" \
        "${SK_SOURCE_DIR:?}/agent/messages.h")
    [ -n "$id" ] || die "no SK_MESSAGE_$1 in agent/messages.h"
    echo "$id"
}

now() { date +%s.%N; }
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'; }

# wait_for TIMEOUT_S CMD... : 0 as soon as CMD succeeds, 1 after TIMEOUT_S seconds.
wait_for() {
    local timeout=$1
    shift
    local deadline
    deadline=$(awk -v t="$timeout" -v n="$(date +%s.%N)" 'BEGIN { printf "%.3f", n + t }')
    while :; do
        "$@" && return 0
        awk -v d="$deadline" -v n="$(date +%s.%N)" 'BEGIN { exit !(n >= d) }' && return 1
        sleep "$SK_POLL_S"
    done
}

# ---------------------------------------------------------------------------------------
# Cleanup stack. Entries are kept in a file so that on_exit also works from a subshell
# (e.g. inside $(...)); only the shell that sourced this file runs them, from its EXIT
# trap. INT/TERM exit through the same trap.
SK_CLEANUP_OWNER=${BASHPID:-$$}
SK_CLEANUP_FILE=$(mktemp "${TMPDIR:-/tmp}/sk-cleanup.XXXXXX") || {
    echo "cannot create cleanup file" >&2
    exit 1
}

on_exit() {
    [ $# -gt 0 ] || return 0
    local line
    printf -v line '%q ' "$@"
    printf '%s\n' "$line" >>"$SK_CLEANUP_FILE"
}

run_cleanup() {
    local -a stack=()
    local i rc
    [ -f "$SK_CLEANUP_FILE" ] || return 0
    mapfile -t stack <"$SK_CLEANUP_FILE"
    : >"$SK_CLEANUP_FILE"
    for ((i = ${#stack[@]} - 1; i >= 0; i--)); do
        [ -n "${stack[i]}" ] || continue
        eval "${stack[i]}" </dev/null
        rc=$?
        [ "$rc" = 0 ] || log "cleanup: '${stack[i]}' failed (rc=$rc)"
    done
}

_sk_exit_trap() {
    local rc=$?
    [ "${BASHPID:-$$}" = "$SK_CLEANUP_OWNER" ] || return "$rc"
    trap '' INT TERM
    set +e
    run_cleanup
    rm -f "$SK_CLEANUP_FILE"
    exit "$rc"
}
trap _sk_exit_trap EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# kill_pid PID : only a live child of this shell (guards against PID reuse)
kill_pid() {
    local p=$1 ppid
    [ -r "/proc/$p/stat" ] || return 0
    ppid=$(awk '{ sub(/^.*\) /, ""); print $2 }' "/proc/$p/stat" 2>/dev/null)
    [ "$ppid" = "$SK_CLEANUP_OWNER" ] || return 0
    kill -TERM "$p" 2>/dev/null || return 0
    wait_for 5 sh -c "! test -d /proc/$p || grep -q '^State:[[:space:]]*Z' /proc/$p/status" || kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    return 0
}

# tmpdir VAR [TEMPLATE]
tmpdir() {
    local __var=$1 __tpl=${2:-sk-test.XXXXXX} __d
    __d=$(mktemp -d "${TMPDIR:-/tmp}/$__tpl") || die "mktemp -d failed"
    on_exit rm -rf --one-file-system -- "$__d"
    printf -v "$__var" '%s' "$__d"
}

_sk_loop_detach() {
    local dev=$1 img=$2 i
    # only detach if the loop device is still backed by OUR image file
    for i in 1 2 3 4 5 6 7 8 9 10; do
        losetup -n -O BACK-FILE "$dev" 2>/dev/null | grep -qxF "$img" || return 0
        losetup -d "$dev" 2>/dev/null
        # busy devices are only marked autoclear; wait for the detach
        wait_for 1 sh -c "! losetup -n -O BACK-FILE '$dev' 2>/dev/null | grep -qxF '$img'" && return 0
    done
    log "cleanup: loop device $dev ($img) still attached"
    return 1
}

# loop devices left by a test that was SIGKILLed (no EXIT trap ran): their owner is dead
_sk_reap_stale_loops() {
    local d pid st dev
    for d in /var/tmp/sk-loop.*/; do
        [ -f "$d/owner" ] || continue
        read -r pid st <"$d/owner" || continue
        if [ -d "/proc/$pid" ] &&
            [ "$(awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$pid/stat" 2>/dev/null)" = "$st" ]; then
            continue
        fi
        for dev in $(losetup -n -O NAME -j "${d}disk.img" 2>/dev/null); do
            log "reaping stale loop device $dev (${d}disk.img, owner $pid is gone)"
            losetup -d "$dev" 2>/dev/null || true
        done
        rm -rf --one-file-system -- "$d" || true
    done
    return 0
}

# make_loop SIZE_MB VAR
make_loop() {
    local __size=$1 __var=$2 __d __img __dev
    _sk_reap_stale_loops
    __d=$(mktemp -d /var/tmp/sk-loop.XXXXXX) || die "mktemp failed"
    on_exit rm -rf --one-file-system -- "$__d"
    echo "$SK_CLEANUP_OWNER $(awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$SK_CLEANUP_OWNER/stat")" >"$__d/owner"
    __img=$__d/disk.img
    truncate -s "${__size}M" "$__img" || die "truncate $__img failed"
    __dev=$(losetup --find --show "$__img") || die "losetup --find --show $__img failed"
    on_exit _sk_loop_detach "$__dev" "$__img"
    printf -v "$__var" '%s' "$__dev"
    printf -v "${__var}_IMG" '%s' "$__img"
}
