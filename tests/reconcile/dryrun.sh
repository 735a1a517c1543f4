#!/bin/bash
# shellcheck disable=SC2016  # wait_for eval strings expand when evaluated
# Reconcile.DryRun=yes: the plan is logged and nothing changes. Three real dockerd managers
# (tests/reconcile/lib.sh), every agent restarted with DryRun=yes; b's host dies and its
# instance is terminated. Checks: the leader's agent logs the launch it would make for b
# (PLAN_ACTION by MESSAGE_ID with SK_ACTION=launch-manager, SK_LOGICAL_ID=10.98.0.12,
# SK_DRY_RUN=yes; the same action in its state.json), and, over three more of its passes,
# the fake's call log shows no RunInstances, AttachVolume, TerminateInstances, CreateVolume
# after the loss; the state log keeps the invariants. Every wait is on state.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/reconcile/lib.sh
. "$HERE/lib.sh"

T0=$(now)
rc_up
log "cluster up in $(elapsed "$T0")s"

rc_scenario dryrun
for h in a c; do
    dk_agent_stop "$h"
    rc_agent_start "$h" "${RC_IID[$h]}" --set Reconcile.DryRun=yes
done
OLD_B=${RC_IID[b]}
T1=$(date +%s)
rc_kill_host b
fake POST "/_fake/instances/$OLD_B" '{"state": "terminated"}' >/dev/null
log "b's host killed, its instance $OLD_B terminated"

MSG_PLAN=$(sk_message_id PLAN_ACTION)
planned_by() { # NAME: logged and in its state
    dk_journal_has "$1" "$MSG_PLAN" SK_ACTION=launch-manager SK_LOGICAL_ID=10.98.0.12 SK_DRY_RUN=yes &&
        rc_agent_state_is "$1" 'any(l.startswith("launch-manager logical-id=10.98.0.12") for l in s["plan"])' True
}
planned() { planned_by a || planned_by c; }
rc_wait 180 planned || { tail -n 40 "$DK_DIR/a/agent.log" >&2; die "no DryRun plan to launch b"; }
L=a
planned_by a || L=c
pass "the leader's agent ($L) logged the launch it would make for b (DryRun, MESSAGE_ID $MSG_PLAN)"
# three more of its passes: still nothing
rc_passes "$L" 3 || die "the leader's agent ($L) did not go on with its passes"
for act in RunInstances AttachVolume TerminateInstances CreateVolume; do
    assert_eq "$(rc_count "$T1" "$act")" 0 "DryRun: no $act after the loss"
done
assert_eq "$(rc_live_instances 10.98.0.12 | wc -l)" 0 "DryRun: b's logical id has no live instance"
rc_scenario_end
echo "dryrun: $(elapsed "$T0") s"
