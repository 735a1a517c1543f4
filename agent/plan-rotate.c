/* SPDX-License-Identifier: MIT */
/*
 * The join tokens (see "ROTATE_TOKENS" at the top of plan.c): rotated once a host may
 * hold the current ones and every such host has joined, is gone or has failed. Runs last,
 * and never in a pass that launches. Pure: no I/O, no clock, no globals.
 */

#include "plan-internal.h"

/* ---- join tokens ------------------------------------------------------------------------- */

/* EC2's launch times and the swarm's clock are two clocks: a host launched up to this
 * long before the rotation (on the swarm's clock) may have been given the current token. */
#define RC_LAUNCH_CLOCK_SKEW_USEC (60 * USEC_PER_SEC)

static bool launched_since(uint64_t launch_usec, uint64_t rotated) {
        return launch_usec != 0 && launch_usec + RC_LAUNCH_CLOCK_SKEW_USEC > rotated;
}

/*
 * The tokens are rotated once a host may hold the current one (an instance launched, or a
 * node created, since the last rotation) and every instance launched since has joined (a
 * node stands for it), is gone (shutting-down, terminated) or has failed (join_timeout
 * after its launch). A host that died before joining no longer keeps the token valid.
 * The rotation time is the swarm's (tokens_rotated_swarm_usec), the clock of node
 * CreatedAt. An instance was launched since if its LaunchTime is later than EC2's newest
 * at that rotation (tokens_rotated_launch_usec); without that record, EC2's launch times
 * are compared with the swarm's time with RC_LAUNCH_CLOCK_SKEW_USEC to spare. (The skew
 * alone re-counted every host launched in the minute before a rotation, and rotated again
 * every pass for that minute.)
 */
/* Is i a host this cluster launches with a join token: a worker, or a manager of a seat? */
static bool carries_token(const Planner *p, const RcInstance *i) {
        return streq_ptr(i->role, "worker") || (streq_ptr(i->role, "manager") && find_slot(p, i->logical_id));
}

void plan_rotate(Planner *p) {
        const RcObservation *obs = p->obs;
        const RcMemory *mem = p->mem;
        size_t n_inflight = mem ? mem->n_inflight : 0;
        uint64_t rotated = mem ? mem->tokens_rotated_swarm_usec ?: mem->tokens_rotated_usec : 0;
        uint64_t join_timeout = p->spec->join_timeout_usec ?: DEFAULT_JOIN_TIMEOUT_USEC;
        const RcNode *joined = NULL;
        const RcInstance *done = NULL, *waiting = NULL;
        const char *why, *what = NULL;

        if (p->launched)
                return; /* a host launched in this pass carries the current token */

        for (size_t k = 0; k < obs->n_nodes && !joined; k++)
                if (obs->nodes[k].id && obs->nodes[k].created_usec > rotated && obs->nodes[k].state == RC_NODE_READY)
                        joined = &obs->nodes[k];

        for (size_t k = 0; k < p->n_inst_by_id && !waiting; k++) {
                const RcInstance *i = p->inst_by_id[k];
                InstanceNodes in;

                if (!carries_token(p, i) ||
                    !(mem && mem->tokens_rotated_launch_usec ? i->launch_usec > mem->tokens_rotated_launch_usec
                                                      : launched_since(i->launch_usec, rotated)))
                        continue;
                if (i->state != RC_INSTANCE_SHUTTING_DOWN && i->state != RC_INSTANCE_TERMINATED &&
                    wall_age(p, i->launch_usec) < join_timeout) {
                        const RcNode *const *v;

                        /* A manager comes back as the node at its seat's address, which the
                         * old node held too: only a node that names this instance (the label
                         * its engine gets at boot) shows that this one has joined. */
                        instance_nodes(p, i, &in);
                        if (in.n == 0 || (streq_ptr(i->role, "manager") && nodes_by_instance(p, i->id, &v) == 0)) {
                                waiting = i;
                                continue;
                        }
                }
                if (!done)
                        done = i; /* joined, gone or failed */
        }
        if (!joined && !done)
                return; /* nothing holds the current token, or nothing is done with it yet */
        why = joined ? joined->id : done->id;
        if (waiting)
                what = waiting->id;
        for (size_t k = 0; k < n_inflight && !what; k++) {
                const RcInflight *f = &mem->inflight[k];

                if (f->kind == RC_INFLIGHT_LAUNCH && inflight_fresh(p, f) && !(f->instance_id && instance_by_id(p, f->instance_id)))
                        what = f->instance_id ?: "a launched instance";
        }
        if (what) {
                plan_wait(p, RC_WAIT_JOIN, NULL, "%s %s used the current join token; rotating it once %s has joined or gone.",
                         joined ? "Node" : "Instance", why, what);
                return;
        }
        if (joined)
                plan_add(p, RC_ACTION_ROTATE_TOKENS, NULL, "Node %s joined with the current join token: rotating the tokens.",
                         joined->id)->node_id = joined->id;
        else
                plan_add(p, RC_ACTION_ROTATE_TOKENS, NULL,
                         "Instance %s was launched with the current join token and every such host has joined or gone: rotating the tokens.",
                         done->id)->instance_id = done->id;
}
