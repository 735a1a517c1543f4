/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Carrying out the planner's actions (part of the reconcile executor, see
 * reconciler.h): the re-check right before a destructive one and an action's one-line
 * description.
 *
 * rc_action_needs_recheck(), rc_action_still_holds() and rc_action_describe() are pure;
 * rc_confirm_action() asks the engine (blocking). act.c also holds the calls into EC2 and
 * the engine (pass_act(), pass_confirm(), declared in the internal pass.h). All of it
 * runs on the Job's worker thread; rc_action_describe() also in `plan`.
 */

#include "docker.h"
#include "reconcile.h"

/*
 * Right before a FENCE, DEMOTE or REMOVE_NODE: one node listing both confirms leadership
 * (self Leader, a majority of managers Reachable) and re-checks that call's own
 * precondition (fence: a->node_id still Down and Unreachable; demote: still a manager,
 * not Reachable, removable keeping a majority; remove: still Down, no longer a manager).
 * rc_action_still_holds() is the pure check on a listing; rc_confirm_action() makes the
 * request. RC_CONFIRM_GO, RC_CONFIRM_SKIP (leader, but the precondition no longer holds:
 * why says so), RC_CONFIRM_NO (leadership not confirmed), or negative errno.
 */
enum { RC_CONFIRM_NO = 0, RC_CONFIRM_GO = 1, RC_CONFIRM_SKIP = 2 };
bool rc_action_needs_recheck(const RcAction *a);
int rc_action_still_holds(const RcAction *a, const DockerNode *nodes, size_t n, char *why, size_t why_size);
int rc_confirm_action(Docker *d, const char *self_node_id, const RcAction *a, char *why, size_t why_size);

/* A one-line description of an action (no secrets), for logs and `plan`. */
void rc_action_describe(const RcAction *a, char *buf, size_t size);
