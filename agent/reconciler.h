/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The reconcile executor: turns the pure planner's actions (reconcile.h) into EC2 and
 * Swarm changes.
 *
 * One pass = observe (EC2 instances and volumes tagged for the cluster, the subnets of
 * Launch.SubnetIds, the swarm's nodes) → RcObservation → rc_plan() → carry out the
 * actions in order, re-confirming leadership (one GET /nodes?role=manager: this node
 * Leader and a majority Reachable) right before each destructive one. Inside `run` a
 * pass is a Job (job.h): the loop owns the history (bad/healthy since, in flight,
 * backoff, no leader since), hands the pass a copy and takes the updated copy back in
 * done(). `swarmkeeper plan` runs the observation and the planner synchronously and
 * changes nothing.
 *
 * This header is the loop side alone (reconciler.c: the schedule, the Job, the state
 * file). The rest of the executor, one concern per file:
 *   user-data.[ch]   what a launched host is given (pure)
 *   observe.[ch]     what one pass saw and its join into RcObservation (pure), and the
 *                    pass's observing I/O
 *   rc-history.[ch]  the memory across passes: streaks, in flight, backoff, seats (pure)
 *   rc-settings.[ch] what a pass takes from the configuration, made once per load
 *   act.[ch]         carrying out the actions, the re-check right before one (I/O)
 *   pass.[ch]        one pass: observe, plan, act (internal to these files)
 *   overview.[ch]    `plan` and the desired-against-actual part of `status`
 * The pure parts are tested by tests/unit/test-reconciler.c.
 */

#include <systemd/sd-event.h>

#include "config.h"
#include "leader.h"

/* ---- the daemon's reconciler ------------------------------------------------------------- */

typedef struct Reconciler Reconciler;

/* Called in the loop when reconciler_status() changed. */
typedef void (*ReconcilerStatusHandler)(Reconciler *r, void *userdata);

/* config: borrowed (reconciler_set_config() on reload); the settings of the passes
 * (rc-settings.h) are made from it here and on each reload. leader: borrowed; subscribed to. */
int reconciler_new(sd_event *event, Leader *leader, const Config *config, Reconciler **ret);
/* Raise the cancel flag of a pass in flight (at shutdown: before the grace waits start). */
void reconciler_cancel(Reconciler *r);
/* A pass still running is cancelled and given RC_EXIT_GRACE_USEC; past that its thread is
 * left behind (only at shutdown), so SIGTERM is answered within a second. */
Reconciler *reconciler_free(Reconciler *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Reconciler *, reconciler_free);

void reconciler_set_status_handler(Reconciler *r, ReconcilerStatusHandler cb, void *userdata);
void reconciler_set_config(Reconciler *r, const Config *config);
/* This node's engine state: node id (NULL: not in a swarm) and whether it is a manager. */
void reconciler_set_node(Reconciler *r, const char *node_id, bool manager);
/* Something changed (node events, leadership): a pass soon. */
void reconciler_kick(Reconciler *r);
/* A short text for STATUS= ("replacing 10.0.1.12: launch"), NULL when nothing is going on. */
const char *reconciler_status(const Reconciler *r);
