#!/bin/bash
# shellcheck disable=SC2015  # "A && B || die" is intended
# swarmkeeper — leadership lost in the middle of a pass (issue 7 §4, §7), with three real
# dockerd managers in network namespaces (tests/reconcile/lib.sh).
#
# b's instance is terminated and its host dies; the leader's (a's) pass that would re-create
# it is blocked on a slow DescribeVolumes (12 s of fault latency in the fake). While it is,
# a's engine is frozen (SIGSTOP): a can no longer confirm its leadership, and with b gone no
# one else can lead. Checks: after the freeze, no RunInstances, AttachVolume,
# TerminateInstances or CreateVolume from a's agent (by source address in the call log),
# and a's agent's pass ended without acting (its state.json: the result of the pass is not
# "ok"; what it says is printed, not matched). Then a's engine
# thaws: the swarm has a leader again and b is re-created — the pass that was stopped
# would have acted — with the same node id, and the state log keeps the invariants.
# Every wait is on state: the fake's faults and call log, a's state.json, the engines.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/reconcile/lib.sh
. "$HERE/lib.sh"

T0=$(now)
rc_up
log "cluster up in $(elapsed "$T0")s"

rc_scenario leadership
ID_B=$(dk_self_id b)
# nothing in progress: a leads, a pass of its went through, nothing in flight
settled() { rc_agent_state_is a '(s["leader"], s["result"], len(s["inflight"]))' "(True, 'ok', 0)"; }
rc_wait 60 settled || die "a's agent: not leading with nothing in flight"
fake POST /_fake/faults '{"action": "DescribeVolumes", "latency": 12, "count": 1}' >/dev/null
T1=$(date +%s.%N)
fake POST "/_fake/instances/${RC_IID[b]}" '{"state": "terminated"}' >/dev/null
rc_kill_host b
observed() { [ "$(rc_calls "$T1" DescribeInstances | grep -c '"source": "10.98.0.11"')" -ge 1 ]; }
rc_wait 90 observed || { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "a's agent did not ask EC2 after b died"; }
# its pass is now in the slow DescribeVolumes: the fake took the fault (the request is in,
# its answer 12 s away)
taken() { [ "$(fake GET /_fake/faults)" = "[]" ]; }
wait_for 30 taken || die "a's pass did not ask DescribeVolumes"
[ "$(rc_count "$T1" DescribeVolumes)" = 0 ] || die "DescribeVolumes answered already: the pass is not blocked"
A_PID=${DK_DOCKERD_PID[a]}
on_exit kill -CONT "$A_PID"
kill -STOP "$A_PID"
t_loss=$(date +%s.%N)
log "a's engine frozen while its pass waits for DescribeVolumes"
# the slow answer (12 s), then the pass's end: a's state.json rewritten after the answer
answered() { [ "$(rc_count "$T1" DescribeVolumes)" = 1 ]; }
rc_wait 90 answered || die "the slow DescribeVolumes was never answered"
t_ans=$(rc_calls "$T1" DescribeVolumes | python3 -c 'import json,sys; print(int(json.loads(sys.stdin.readline())["t"] * 1e6))')
pass_over() { [ "$(rc_agent_state a 's["time_usec"]' 2>/dev/null || echo 0)" -gt "$t_ans" ]; }
rc_wait 90 pass_over || { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "a's blocked pass never ended"; }
destructive=$(rc_calls "$t_loss" RunInstances AttachVolume TerminateInstances CreateVolume | grep -c '"source": "10.98.0.11"' || true)
assert_eq "$destructive" 0 "no RunInstances, AttachVolume, TerminateInstances or CreateVolume from a's agent after its leadership was lost"
why=$(rc_agent_state a 's["result"]')
assert_ne "$why" ok "a's agent: the pass that was blocked did not end 'ok'"
pass "a's agent stopped: $why"

kill -CONT "$A_PID"
t_cont=$(now)
log "a's engine thaws"
back() { rc_node_ok "$ID_B" && rc_managers_ok 3; }
rc_wait 240 back || { tail -n 30 "$DK_DIR/a/agent.log" >&2; die "b was not re-created after the thaw"; }
assert_eq "$(dk_self_id b)" "$ID_B" "b: the same node id"
assert_eq "$(rc_count "$T1" RunInstances Success)" 1 "one RunInstances, after the thaw"
log "b back $(elapsed "$t_cont")s after the thaw; leader: $(rc_leader_host)"
rc_scenario_end
log "scenarios: ${RC_TIMES[*]}; total $(elapsed "$T0")s"
sk_summary
