/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One pass of the reconciler. INTERNAL to the reconcile executor: only pass.c, observe.c,
 * act.c, reconciler.c and overview.c include it.
 *
 * A Pass carries a reference to the settings (rc-settings.h: built once per configuration
 * load), a copy of the history, and the EC2 clients into one pass: pass_run() observes
 * (observe.c), plans (rc_plan(), reconcile.h) and carries out the actions (act.c).
 * Inside `run` a Pass is made and freed on the loop thread (reconciler.c) and run on the
 * Job's worker thread; for `plan` and `status` (overview.c) all of it happens
 * synchronously on the main thread, with plan_only.
 */

#include <stdatomic.h>

#include "creds.h"
#include "docker.h"
#include "ec2.h"
#include "imds.h"
#include "rc-history.h"
#include "rc-settings.h"
#include "user-data.h"

#define RC_PASS_DEADLINE_USEC (300 * USEC_PER_SEC)

struct Reconciler;

/*
 * What passes keep between them, lent to one pass at a time: the EC2 client with its
 * credentials provider (credentials fetched once and refreshed before they expire, not
 * three metadata requests a pass; a metadata service that hiccups does not stop a pass
 * while they are valid) and the described subnets. key: what made them (region,
 * endpoints); another key, another set. imds, creds, ec2: an AwsClients (aws-clients.h,
 * aws_clients_new()) taken apart, freed by rc_clients_done() in its order.
 */
typedef struct RcClients {
        char *key;
        Imds *imds;
        CredsProvider *creds;
        Ec2Client *ec2;
        Ec2SubnetList subnets;
        char **subnet_ids;              /* what subnets describes */
        uint64_t subnets_usec;          /* CLOCK_MONOTONIC; 0: none */
} RcClients;

typedef struct Pass {
        /* inputs: the settings are shared and never change, so a reload in the loop
         * (which makes new ones) cannot pull them away */
        RcSettings *settings;             /* a reference */
        bool plan_only;                   /* `plan`, `status`: observe and plan, never act */
        uint64_t deadline_usec;           /* CLOCK_MONOTONIC */
        const atomic_bool *cancel;
        struct Reconciler *owner;         /* reconciler.c: the loop side that started it */
        RcHistory history;                /* in: the loop's copy; out: updated */

        /* outputs */
        RcWorld world;
        RcObservation obs;
        RcMemory mem;
        RcPlan plan;
        bool planned;
        uint64_t now_usec;                /* CLOCK_MONOTONIC: when the pass observed */
        RcMode mode;                      /* rc_mode(): the executor obeys it */
        bool quorum_loss_mode;            /* mode == RC_MODE_QUORUM_LOSS */
        bool engine_manager;
        bool amiss;                       /* EC2 was needed: the swarm is not as desired */
        bool plan_changed;                /* an action planned that the last pass had not */
        unsigned skipped;                 /* actions whose precondition no longer held */
        unsigned not_yet;                 /* actions EC2 or the engine said "not yet" to */
        char status[160];
        char error[256];

        /* clients, made on the thread (the EC2 ones lent by the loop when it has them) */
        Docker *docker;
        RcClients clients;
} Pass;

/* ---- pass.c ------------------------------------------------------------------------------ */

void rc_clients_drop_subnets(RcClients *c);
void rc_clients_done(RcClients *c);

/* Takes a reference to settings; h (NULL: none) is copied. */
int pass_new(RcSettings *settings, const RcHistory *h, Pass **ret);
Pass *pass_free(Pass *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Pass *, pass_free);

/* Sets p->error; -EIO. */
_printf_(2, 3) int pass_fail(Pass *p, const char *fmt, ...);
/* Cancelled, or past the pass deadline. */
bool pass_stopped(const Pass *p);
/* The engine client (made on first use), pinged. */
int pass_docker(Pass *p);
/* What the EC2 clients are made from (no secret in it). */
int pass_clients_key(const Pass *p, char **ret);
/* The EC2 clients: lent by the loop, or made now. */
int pass_ec2(Pass *p);

/*
 * Observe and plan (`plan` and `status` stop here: with p->plan_only EC2 is always listed
 * and nothing is logged to the journal). 0: p->plan is set (p->planned), negative:
 * stopped early (p->error says why when it is not an errno story).
 */
int pass_plan(Pass *p);
/*
 * One pass: pass_plan(), then log what changed and carry out the plan's changes in order.
 * 0: done (possibly with nothing to do), negative: stopped early. Never acts when
 * p->plan_only.
 */
int pass_run(Pass *p);

/* ---- observe.c --------------------------------------------------------------------------- */

int pass_observe_nodes(Pass *p, uint64_t now);
int pass_observe_ec2(Pass *p);

/* For each manager seat with no volume tagged for it in the listing: DescribeVolumes by
 * its last known volume id. Only EC2's answer about that id may say "lost for good". */
int pass_probe_volumes(Pass *p);

/* ---- act.c ------------------------------------------------------------------------------- */

/* The error code of the pass's last EC2 call (EC2_ERR_NONE: none). */
Ec2ErrorCode ec2_code(const Pass *p);

/*
 * Right before an action that changes EC2 or the swarm. Normal mode: this node Leader
 * and a majority Reachable, by one GET /nodes?role=manager. Quorum-loss mode: still no
 * leader anywhere. 1 yes, 0 no (an error or a timeout counts as no).
 */
int pass_confirm(Pass *p, const RcAction *a, char *why, size_t why_size);
/*
 * Carry out one action (WAIT and REPORT: nothing), as planned: the executor never
 * decides whether to (the planner turned what may not happen now into a WAIT).
 * RC_ACT_DONE (the action's backoff key cleared); RC_ACT_NOT_YET: EC2 or the engine said
 * "not yet" (what it said is in the memory where the planner needs it: an address still
 * held backs off, a dead ClientToken is remembered), no error; negative: failed, logged
 * once, and its key (rc_action_backoff_key()) backed off, which the planner turns into a
 * WAIT (backoff) until it runs out.
 */
#define RC_ACT_DONE 0
#define RC_ACT_NOT_YET 1
int pass_act(Pass *p, const RcAction *a, uint64_t now);
