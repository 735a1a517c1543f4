/* SPDX-License-Identifier: MIT */
/*
 * The workers, cattle (see "Workers" and "Workers, issue 14" at the top of plan.c): count
 * the live ones (not those condemned for holding a manager's address, nor those that
 * never joined), launch the missing ones spread over the subnets, drain then terminate
 * the excess, remove the Down nodes of gone instances, and report labels that disagree
 * with addresses. Pure: no I/O, no clock, no globals.
 */

#include <errno.h>
#include <stdio.h> /* snprintf() only */
#include <stdlib.h>
#include <string.h>

#include "plan-internal.h"

/* ---- workers ------------------------------------------------------------------------------ */

/* A live worker that holds the address of a manager with no instance of its own: that
 * manager's step drains and terminates it (step_evict_worker()); it is excess, not
 * counted toward Cluster.Workers, and never a scale-down victim besides. */
static bool worker_condemned(const Planner *p, const RcInstance *i) {
        const Slot *s = i->private_ip ? find_slot(p, i->private_ip) : NULL;

        return s && s->n_present == 0 && s->ip_holder == i && worker_live(i);
}


/* A live worker whose node never appeared join_timeout after its launch (EC2's clock
 * against the wall clock): a failed host. It no longer counts toward Cluster.Workers and
 * is terminated, so that a replacement is launched. */
static bool worker_never_joined(const Planner *p, const RcInstance *i) {
        uint64_t join_timeout = p->spec->join_timeout_usec ?: DEFAULT_JOIN_TIMEOUT_USEC;
        InstanceNodes in;

        if (!worker_live(i) || i->launch_usec == 0 || wall_age(p, i->launch_usec) < join_timeout)
                return false;
        instance_nodes(p, i, &in);
        return in.n == 0;
}

typedef struct Victim {
        const RcInstance *inst;
        InstanceNodes nodes;
        bool draining;
} Victim;

static int victim_cmp(const void *a, const void *b) {
        const Victim *x = a, *y = b;

        if (x->draining != y->draining)
                return x->draining ? -1 : 1;
        return newer(x->inst, y->inst) ? -1 : newer(y->inst, x->inst) ? 1 : 0;
}

/* Excess workers: every node that stands for a victim (by address; two for one instance
 * alike) is drained before it is terminated; a label never makes a drain skipped. */
static void plan_scale_down(Planner *p, size_t excess, size_t n_live) {
        const RcSpec *spec = p->spec;
        uint64_t drain_usec = spec->drain_usec ?: DEFAULT_DRAIN_USEC;
        _cleanup_(freep) Victim *v = NULL;
        size_t n = 0;
        RcAction *a;

        v = malloc(sizeof(Victim) * (n_live + 1));
        if (!v) {
                p->error = -ENOMEM;
                return;
        }
        for (size_t k = 0; k < p->n_workers && n < n_live; k++) {
                const RcInstance *i = p->workers[k];
                InstanceNodes in;

                if (!worker_live(i) || worker_condemned(p, i) || worker_never_joined(p, i))
                        continue;
                instance_nodes(p, i, &in);
                if (in.member) {
                        /* A worker instance whose node is a manager: never drained or terminated here. */
                        plan_add(p, RC_ACTION_REPORT, in.first->logical_id,
                                 "Instance %s is tagged as a worker but its node %s is a manager: not touched.", i->id,
                                 in.first->id);
                        continue;
                }
                v[n++] = (Victim) { i, in, in.n_up > 0 && in.n_up_drained == in.n_up };
        }
        qsort(v, n, sizeof(Victim), victim_cmp);

        for (size_t k = 0; k < n && k < excess; k++) {
                const RcInstance *i = v[k].inst;
                const InstanceNodes *in = &v[k].nodes;
                const RcNode *node = in->first;
                const RcInflight *f = drain_by_instance(p, i->id);
                uint64_t since;

                if (in->n_up == 0) {
                        a = plan_add(p, RC_ACTION_TERMINATE_WORKER, NULL,
                                     "%zu workers, %u wanted: terminating %s (%s).", n_live, spec->workers, i->id,
                                     node ? "its node is Down" : "it never joined");
                        a->instance_id = i->id;
                        a->node_id = node ? node->id : NULL;
                        continue;
                }
                if (!v[k].draining) {
                        if (f && inflight_fresh(p, f)) {
                                plan_wait(p, RC_WAIT_IN_FLIGHT, NULL, "Worker %s: drain of node %s sent %llus ago.", i->id,
                                         node->id, secs(age(p, f->since_usec)));
                                continue;
                        }
                        /* every node that stands for it and is not drained yet */
                        for (size_t j = 0; j < in->n_undrained; j++) {
                                const RcNode *o = in->undrained[j];

                                a = plan_add(p, RC_ACTION_DRAIN_WORKER, NULL,
                                             "%zu workers, %u wanted: draining node %s of %s before terminating it.",
                                             n_live, spec->workers, o->id, i->id);
                                a->instance_id = i->id;
                                a->node_id = o->id;
                        }
                        continue;
                }
                since = in->drained_since_usec ?: f ? f->since_usec : 0;
                if (since != 0 && age(p, since) >= drain_usec) {
                        a = plan_add(p, RC_ACTION_TERMINATE_WORKER, NULL,
                                     "%zu workers, %u wanted: node %s drained for %llus: terminating %s.", n_live,
                                     spec->workers, node->id, secs(age(p, since)), i->id);
                        a->instance_id = i->id;
                        a->node_id = node->id;
                        continue;
                }
                plan_wait(p, RC_WAIT_DRAIN, NULL, "Worker %s: node %s drained for %llus of %llus.", i->id, node->id,
                         secs(age(p, since)), secs(drain_usec));
        }
}

static void plan_scale_up(Planner *p, size_t deficit, size_t n_live, uint64_t gen) {
        const RcObservation *obs = p->obs;
        _cleanup_(freep) size_t *load = NULL;

        if (obs->n_subnets == 0) {
                plan_add(p, RC_ACTION_REPORT, NULL, "%zu workers, %u wanted, but Launch.SubnetIds lists no subnet.", n_live,
                         p->spec->workers);
                return;
        }
        load = calloc(obs->n_subnets, sizeof(size_t));
        if (!load) {
                p->error = -ENOMEM;
                return;
        }
        for (size_t k = 0; k < p->n_workers; k++) {
                const RcInstance *i = p->workers[k];

                if (!worker_live(i) || !i->subnet_id)
                        continue;
                for (size_t j = 0; j < obs->n_subnets; j++)
                        if (streq_ptr(obs->subnets[j].id, i->subnet_id)) {
                                load[j]++;
                                break;
                        }
        }

        for (size_t k = 0; k < deficit; k++) {
                size_t best = 0;
                RcAction *a;

                for (size_t j = 1; j < obs->n_subnets; j++)
                        if (load[j] < load[best])
                                best = j;
                load[best]++;
                a = plan_add(p, RC_ACTION_LAUNCH_WORKER, NULL, "%zu workers, %u wanted: launching one in %s.",
                             n_live + k, p->spec->workers, obs->subnets[best].id);
                a->subnet_id = obs->subnets[best].id;
                a->availability_zone = obs->subnets[best].availability_zone;
                a->join_fresh = true; /* a worker keeps no state: its token comes in its user-data */
                (void) snprintf(a->slot, sizeof(a->slot), "worker-%u", (unsigned) k);
                /* the subnet is an input of the token: the same slot and listing placed in another
                 * subnet is another launch (see "Workers" at the top) */
                (void) snprintf(a->generation, sizeof(a->generation), "gen-%016llx",
                                (unsigned long long) mix64(gen + hash_str(a->subnet_id)));
                a->replaces = a->generation;
                set_token(p, a);
        }
}

static void plan_dead_worker_nodes(Planner *p) {
        const RcObservation *obs = p->obs;

        for (size_t k = 0; k < obs->n_nodes; k++) {
                const RcNode *n = &obs->nodes[k];
                const Slot *s = find_slot(p, n->logical_id);
                const RcInstance *i;
                RcAction *a;

                if (!n->id || n->manager || n->reachability != RC_REACH_NONE || (s && s->other == n))
                        continue;
                if (!n->instance_id) {
                        if (n->state == RC_NODE_DOWN)
                                plan_add(p, RC_ACTION_REPORT, NULL,
                                         "Worker node %s is Down and has no instance label: not touched.", n->id);
                        continue;
                }
                i = instance_by_id(p, n->instance_id);
                if (i && i->state != RC_INSTANCE_TERMINATED)
                        continue;
                if (n->state != RC_NODE_DOWN) {
                        plan_wait(p, RC_WAIT_NODE, NULL, "Worker node %s: instance %s is %s: waiting for the node to be Down.",
                                 n->id, n->instance_id, i ? "terminated" : "gone");
                        continue;
                }
                a = plan_add(p, RC_ACTION_REMOVE_NODE, NULL, "Worker node %s is Down and its instance %s is %s: removing it.",
                             n->id, n->instance_id, i ? "terminated" : "gone");
                a->node_id = n->id;
                a->instance_id = n->instance_id;
        }
}

/* A node labelled with a live worker instance but at another address than the
 * instance's: the label is stale or false, and not trusted (see node_of()). */
static void report_worker_labels(Planner *p) {
        for (size_t k = 0; k < p->n_node_by_inst; k++) {
                const RcNode *n = p->node_by_inst[k];
                const RcInstance *i = instance_by_id(p, n->instance_id);

                if (!i || !streq_ptr(i->role, "worker") || !worker_live(i) || !i->private_ip ||
                    !addr_known(n->addr) || streq(n->addr, i->private_ip))
                        continue;
                plan_add(p, RC_ACTION_REPORT, NULL,
                         "Node %s is labelled with worker instance %s but its address %s is not the instance's %s: the label is not trusted.",
                         n->id, i->id, n->addr, i->private_ip);
        }
}

void plan_workers(Planner *p) {
        uint64_t join_timeout = p->spec->join_timeout_usec ?: DEFAULT_JOIN_TIMEOUT_USEC;
        uint64_t gen = 0;
        size_t listed = 0, unlisted = 0, n_live, n_inflight = p->mem ? p->mem->n_inflight : 0;

        report_worker_labels(p);
        for (size_t k = 0; k < p->n_workers; k++) {
                const RcInstance *i = p->workers[k];

                gen += hash_str(i->id);
                if (worker_condemned(p, i))
                        ; /* excess: its seat's step drains and terminates it */
                else if (worker_never_joined(p, i)) {
                        RcAction *a = plan_add(p, RC_ACTION_TERMINATE_WORKER, NULL,
                                               "Worker %s has no node %llus after its launch (join timeout %llus): not counted, terminating it.",
                                               i->id, secs(wall_age(p, i->launch_usec)), secs(join_timeout));
                        a->instance_id = i->id;
                } else if (worker_live(i))
                        listed++;
                else if (i->state == RC_INSTANCE_STOPPED)
                        plan_add(p, RC_ACTION_REPORT, NULL, "Worker instance %s is stopped: not counted, not touched.", i->id);
        }
        for (size_t k = 0; k < n_inflight; k++) {
                const RcInflight *f = &p->mem->inflight[k];

                if (f->kind != RC_INFLIGHT_LAUNCH || f->logical_id || !inflight_fresh(p, f))
                        continue;
                if (f->instance_id && instance_by_id(p, f->instance_id))
                        continue; /* listed: counted above if live */
                unlisted++;
                gen += hash_str(f->instance_id ?: "?");
        }
        n_live = listed + unlisted;

        /* Our launches not listed yet hold back launches, never cause removals: only listed
         * workers are counted against the target when scaling down. */
        if (n_live < p->spec->workers)
                plan_scale_up(p, p->spec->workers - n_live, n_live, gen);
        else if (listed > p->spec->workers)
                plan_scale_down(p, listed - p->spec->workers, listed);
        plan_dead_worker_nodes(p);
}
