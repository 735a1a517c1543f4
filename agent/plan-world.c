/* SPDX-License-Identifier: MIT */
/*
 * The reconcile planner's working state (plan-internal.h): building it from one
 * observation, appending actions to the plan, and the lookups every pass uses. Rules held
 * here (see the list at the top of plan.c): "Identity" and "Raft members are tied to
 * their seat by address" (which instance and node stand for which seat: index_*()),
 * "Workers, issue 14" (which nodes stand for an instance: instance_nodes()), the usable
 * addresses of a subnet (rc_ip_in_subnet()). Every index is an array sorted once per
 * pass, searched by bisection. Pure: no I/O, no clock, no globals.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h> /* vsnprintf() only */
#include <stdlib.h>
#include <string.h>

#include "plan-internal.h"

/* ---- IPv4 ---------------------------------------------------------------------------- */

int rc_ip_in_subnet(const char *ip, const char *cidr) {
        const char *end;
        uint32_t a, net, mask;
        unsigned prefix = 0, digits = 0;
        uint64_t size, off;

        if (!ip || !cidr || ipv4_parse(ip, &a) < 0 || ipv4_parse_prefix(cidr, &end, &net) < 0 || *end != '/')
                return -EINVAL;
        end++;
        if (end[0] == '0' && end[1])
                return -EINVAL;
        for (; *end >= '0' && *end <= '9'; end++) {
                if (++digits > 2)
                        return -EINVAL;
                prefix = prefix * 10 + (unsigned) (*end - '0');
        }
        if (digits == 0 || *end || prefix > 32)
                return -EINVAL;
        mask = prefix == 0 ? 0 : UINT32_MAX << (32 - prefix);
        if (net & ~mask)
                return -EINVAL; /* host bits set: not a network */
        if ((a & mask) != net)
                return 0;
        size = UINT64_C(1) << (32 - prefix);
        off = a - net;
        /* EC2 reserves the network address, +1 (router), +2 (DNS), +3, and the last one. */
        return off >= 4 && off + 1 < size;
}

/* ---- the planner's working state ------------------------------------------------------ */

void planner_done(Planner *p) {
        free(p->actions);
        free(p->slots);
        free(p->by_lid);
        free(p->inst_by_id);
        free(p->workers);
        free(p->node_by_inst);
        free(p->drains);
        free(p->node_by_addr);
        free(p->streaks);
}

_printf_(4, 0) static void action_init(RcAction *a, RcActionKind kind, const char *lid, const char *fmt, va_list ap) {
        *a = (RcAction) {
                .kind = kind,
                .logical_id = lid,
                .destructive = is_change(kind),
        };
        (void) vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
}

static RcAction *plan_slot(Planner *p) {
        if (p->error)
                return &p->scratch;
        if (p->n == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 16;
                RcAction *n = reallocarray(p->actions, cap, sizeof(RcAction));
                if (!n) {
                        p->error = -ENOMEM;
                        return &p->scratch;
                }
                p->actions = n;
                p->cap = cap;
        }
        return &p->actions[p->n++];
}

/* A launch in the plan: no token rotation in this pass (plan-rotate.c), the new host carries
 * the current token. */
static void note_launch(Planner *p, RcActionKind kind) {
        if (kind == RC_ACTION_LAUNCH_MANAGER || kind == RC_ACTION_LAUNCH_WORKER)
                p->launched = true;
}

_printf_(4, 0) static RcAction *plan_vadd(Planner *p, RcActionKind kind, const char *lid, const char *fmt, va_list ap) {
        RcAction *a = plan_slot(p);

        action_init(a, kind, lid, fmt, ap);
        note_launch(p, kind);
        return a;
}

/* Append an action; the pointer is valid until the next append. */
RcAction *plan_add(Planner *p, RcActionKind kind, const char *lid, const char *fmt, ...) {
        RcAction *a;
        va_list ap;

        va_start(ap, fmt);
        a = plan_vadd(p, kind, lid, fmt, ap);
        va_end(ap);
        return a;
}

RcAction *plan_wait(Planner *p, RcWaitCode code, const char *lid, const char *fmt, ...) {
        RcAction *a;
        va_list ap;

        va_start(ap, fmt);
        a = plan_vadd(p, RC_ACTION_WAIT, lid, fmt, ap);
        va_end(ap);
        a->wait = code;
        return a;
}

void plan_push(Planner *p, const RcAction *src) {
        RcAction *a = plan_slot(p);

        *a = *src;
        note_launch(p, a->kind);
}

_printf_(5, 0) static RcAction *slot_vstep(Slot *s, RcActionKind kind, bool busy, const char *lid, const char *fmt,
                                           va_list ap) {
        action_init(&s->step, kind, lid, fmt, ap);
        s->has_step = true;
        s->busy = busy;
        return &s->step;
}

RcAction *slot_step(Slot *s, RcActionKind kind, bool busy, const char *lid, const char *fmt, ...) {
        RcAction *a;
        va_list ap;

        va_start(ap, fmt);
        a = slot_vstep(s, kind, busy, lid, fmt, ap);
        va_end(ap);
        return a;
}

RcAction *slot_wait(Slot *s, RcWaitCode code, bool busy, const char *lid, const char *fmt, ...) {
        RcAction *a;
        va_list ap;

        va_start(ap, fmt);
        a = slot_vstep(s, RC_ACTION_WAIT, busy, lid, fmt, ap);
        va_end(ap);
        a->wait = code;
        return a;
}

void set_token(Planner *p, RcAction *a) {
        /* Inputs are never empty here; a failure would leave the token empty, which the
         * executor refuses rather than launching without idempotency. */
        if (rc_client_token(p->spec->cluster, a->slot, a->replaces, a->client_token, sizeof(a->client_token)) < 0)
                a->client_token[0] = 0;
}

/* ---- lookups ---------------------------------------------------------------------------- */

static int streak_cmp(const void *a, const void *b) {
        return strcmp((*(const RcNodeStreak *const *) a)->node_id, (*(const RcNodeStreak *const *) b)->node_id);
}

int index_streaks(Planner *p) {
        size_t n = p->mem ? p->mem->n_streaks : 0;

        p->streaks = malloc(sizeof(RcNodeStreak *) * (n + 1));
        if (!p->streaks)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (p->mem->streaks[i].node_id)
                        p->streaks[p->n_streaks++] = &p->mem->streaks[i];
        qsort(p->streaks, p->n_streaks, sizeof(RcNodeStreak *), streak_cmp);
        return 0;
}

static const RcNodeStreak *streak_of(const Planner *p, const RcNode *n) {
        size_t lo = 0, hi = p->n_streaks;

        if (!n->id)
                return NULL;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(n->id, p->streaks[mid]->node_id);
                if (c == 0)
                        return p->streaks[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

uint64_t node_bad_since(const Planner *p, const RcNode *n) {
        const RcNodeStreak *s = streak_of(p, n);
        return s ? s->bad_since_usec : 0;
}

uint64_t node_healthy_since(const Planner *p, const RcNode *n) {
        const RcNodeStreak *s = streak_of(p, n);
        return s ? s->healthy_since_usec : 0;
}

uint64_t node_drained_since(const Planner *p, const RcNode *n) {
        const RcNodeStreak *s = streak_of(p, n);
        return s ? s->drained_since_usec : 0;
}

static int slot_cmp(const void *a, const void *b) {
        return strcmp((*(Slot *const *) a)->lid, (*(Slot *const *) b)->lid);
}

Slot *find_slot(const Planner *p, const char *lid) {
        size_t lo = 0, hi = p->spec->n_managers;

        if (!lid)
                return NULL;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(lid, p->by_lid[mid]->lid);
                if (c == 0)
                        return p->by_lid[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

static int inst_cmp(const void *a, const void *b) {
        return strcmp((*(const RcInstance *const *) a)->id, (*(const RcInstance *const *) b)->id);
}

static int node_inst_cmp(const void *a, const void *b) {
        return strcmp((*(const RcNode *const *) a)->instance_id, (*(const RcNode *const *) b)->instance_id);
}

static int node_addr_cmp(const void *a, const void *b) {
        return strcmp((*(const RcNode *const *) a)->addr, (*(const RcNode *const *) b)->addr);
}

static int drain_cmp(const void *a, const void *b) {
        return strcmp((*(const RcInflight *const *) a)->instance_id, (*(const RcInflight *const *) b)->instance_id);
}

/* Binary search in an array of pointers to structs whose key string is at offset off. */
static const void *bsearch_str(const void *const *v, size_t n, size_t off, const char *key) {
        size_t lo = 0, hi = n;

        if (!key)
                return NULL;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const char *k = *(const char *const *) ((const char *) v[mid] + off);
                int c = strcmp(key, k);
                if (c == 0)
                        return v[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

const RcInstance *instance_by_id(const Planner *p, const char *id) {
        return bsearch_str((const void *const *) p->inst_by_id, p->n_inst_by_id, offsetof(RcInstance, id), id);
}

/* All nodes labelled with instance id: *ret points to the first of the returned count. */
size_t nodes_by_instance(const Planner *p, const char *id, const RcNode *const **ret) {
        size_t lo = 0, hi = p->n_node_by_inst, end;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(p->node_by_inst[mid]->instance_id, id) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (end = lo; end < p->n_node_by_inst && streq(p->node_by_inst[end]->instance_id, id); end++)
                ;
        *ret = p->node_by_inst + lo;
        return end - lo;
}

const RcInflight *drain_by_instance(const Planner *p, const char *id) {
        return bsearch_str((const void *const *) p->drains, p->n_drains, offsetof(RcInflight, instance_id), id);
}

/* All nodes whose Status.Addr is addr: *ret points to the first of the returned count. */
static size_t nodes_by_addr(const Planner *p, const char *addr, const RcNode *const **ret) {
        size_t lo = 0, hi = p->n_node_by_addr, end;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(p->node_by_addr[mid]->addr, addr) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (end = lo; end < p->n_node_by_addr && streq(p->node_by_addr[end]->addr, addr); end++)
                ;
        *ret = p->node_by_addr + lo;
        return end - lo;
}

/* The subnet whose CIDR holds ip as a usable address; first in listing order. */
const RcSubnet *subnet_for(const Planner *p, const char *ip) {
        for (size_t i = 0; i < p->obs->n_subnets; i++)
                if (rc_ip_in_subnet(ip, p->obs->subnets[i].cidr) > 0)
                        return &p->obs->subnets[i];
        return NULL;
}

/* The host part of a node address ("10.0.1.10:2377", "10.0.1.10") in buf; NULL when
 * unknown (none, or 0.0.0.0 as an engine sometimes reports its own). */
static const char *addr_host(const char *addr, char *buf, size_t size) {
        size_t l;

        if (isempty(addr))
                return NULL;
        l = strcspn(addr, ":");
        if (l == 0 || l >= size)
                return NULL;
        memcpy(buf, addr, l);
        buf[l] = 0;
        return streq(buf, "0.0.0.0") ? NULL : buf;
}

/* Where the swarm sees a node: ManagerStatus.Addr (a Raft member), else Status.Addr. */
static const char *node_host(const RcNode *n, char *buf, size_t size) {
        const char *h = n->reachability != RC_REACH_NONE ? addr_host(n->manager_addr, buf, size) : NULL;
        return h ?: addr_host(n->addr, buf, size);
}

/* The seat a Raft member (a node with ManagerStatus) stands for: the one at its address;
 * only when its address is unknown, the one its label names. */
static Slot *member_seat(const Planner *p, const RcNode *n) {
        char buf[64];
        const char *host = node_host(n, buf, sizeof(buf));

        return find_slot(p, host ?: n->logical_id);
}

bool newer(const RcInstance *a, const RcInstance *b) {
        if (a->launch_usec != b->launch_usec)
                return a->launch_usec > b->launch_usec;
        return strcmp(a->id, b->id) > 0;
}

/* ---- indexing the observation ------------------------------------------------------------- */

int index_spec(Planner *p) {
        const RcSpec *spec = p->spec;

        p->slots = calloc(spec->n_managers, sizeof(Slot));
        p->by_lid = calloc(spec->n_managers, sizeof(Slot *));
        if (!p->slots || !p->by_lid)
                return -ENOMEM;
        for (size_t i = 0; i < spec->n_managers; i++) {
                p->slots[i].lid = spec->managers[i];
                p->by_lid[i] = &p->slots[i];
        }
        qsort(p->by_lid, spec->n_managers, sizeof(Slot *), slot_cmp);
        for (size_t i = 1; i < spec->n_managers; i++)
                if (streq(p->by_lid[i - 1]->lid, p->by_lid[i]->lid))
                        return -EINVAL; /* a logical id twice */
        for (size_t i = 0; i < (p->mem ? p->mem->n_seats : 0); i++) {
                Slot *s = find_slot(p, p->mem->seats[i].logical_id);
                if (s && !s->seat)
                        s->seat = &p->mem->seats[i];
        }
        return 0;
}

static bool is_ours(const Planner *p, const RcInstance *i) {
        /* The listing is filtered by the cluster tag; anything else is not ours to judge. */
        return i->id && streq_ptr(i->cluster, p->spec->cluster);
}

int index_instances(Planner *p) {
        const RcObservation *obs = p->obs;

        p->inst_by_id = malloc(sizeof(RcInstance *) * (obs->n_instances + 1));
        p->workers = malloc(sizeof(RcInstance *) * (obs->n_instances + 1));
        if (!p->inst_by_id || !p->workers)
                return -ENOMEM;

        for (size_t k = 0; k < obs->n_instances; k++) {
                const RcInstance *i = &obs->instances[k];
                bool gone = i->state == RC_INSTANCE_TERMINATED;
                Slot *s;

                if (!is_ours(p, i))
                        continue;
                p->inst_by_id[p->n_inst_by_id++] = i;

                if (!gone && i->private_ip) {
                        s = find_slot(p, i->private_ip);
                        if (s && !(streq_ptr(i->role, "manager") && streq_ptr(i->logical_id, s->lid)) && !s->ip_holder)
                                s->ip_holder = i;
                }

                if (streq_ptr(i->role, "worker")) {
                        p->workers[p->n_workers++] = i;
                        continue;
                }
                if (!streq_ptr(i->role, "manager")) {
                        if (!gone)
                                plan_add(p, RC_ACTION_REPORT, i->logical_id,
                                         "Instance %s is tagged for this cluster but its role tag is %s%s%s: not touched.",
                                         i->id, i->role ? "\"" : "", i->role ?: "missing", i->role ? "\"" : "");
                        continue;
                }
                s = find_slot(p, i->logical_id);
                if (!s) {
                        if (!gone)
                                plan_add(p, RC_ACTION_REPORT, i->logical_id,
                                         "Instance %s is a manager of this cluster with logical id %s, which is not in Cluster.Managers: not touched.",
                                         i->id, i->logical_id ?: "(none)");
                        continue;
                }
                if (gone) {
                        if (!s->newest_terminated || newer(i, s->newest_terminated))
                                s->newest_terminated = i;
                        continue;
                }
                if (s->n_present < ELEMENTSOF(s->present))
                        s->present[s->n_present] = i;
                s->n_present++;
        }
        qsort(p->inst_by_id, p->n_inst_by_id, sizeof(RcInstance *), inst_cmp);
        return 0;
}

static bool volume_intact(RcVolumeState s) {
        return s == RC_VOLUME_CREATING || s == RC_VOLUME_AVAILABLE || s == RC_VOLUME_IN_USE;
}

void index_volumes(Planner *p) {
        const RcObservation *obs = p->obs;

        for (size_t k = 0; k < obs->n_volumes; k++) {
                const RcVolume *v = &obs->volumes[k];
                bool intact = volume_intact(v->state);
                Slot *s;

                if (!v->id || !v->logical_id)
                        continue; /* e.g. root volumes: tagged for the cluster, not for a manager */
                s = find_slot(p, v->logical_id);
                if (!s) {
                        if (intact)
                                plan_add(p, RC_ACTION_REPORT, v->logical_id,
                                         "Volume %s is tagged with logical id %s, which is not in Cluster.Managers: not touched.",
                                         v->id, v->logical_id);
                        continue;
                }
                if (intact) {
                        if (!s->vol)
                                s->vol = v;
                        s->n_good_vol++;
                } else if (!s->bad_vol)
                        s->bad_vol = v;
        }
}

int index_nodes(Planner *p) {
        const RcObservation *obs = p->obs;

        p->node_by_inst = malloc(sizeof(RcNode *) * (obs->n_nodes + 1));
        p->node_by_addr = malloc(sizeof(RcNode *) * (obs->n_nodes + 1));
        if (!p->node_by_inst || !p->node_by_addr)
                return -ENOMEM;

        for (size_t k = 0; k < obs->n_nodes; k++) {
                const RcNode *n = &obs->nodes[k];
                bool in_raft = n->reachability != RC_REACH_NONE; /* has ManagerStatus */
                char buf[64];
                const char *host = node_host(n, buf, sizeof(buf));
                Slot *s;

                if (!n->id)
                        continue;
                if (n->instance_id)
                        p->node_by_inst[p->n_node_by_inst++] = n;
                if (addr_known(n->addr))
                        p->node_by_addr[p->n_node_by_addr++] = n;
                if (in_raft) {
                        p->raft_members++;
                        if (n->reachability == RC_REACH_REACHABLE)
                                p->raft_reachable++;
                }

                if (!in_raft) {
                        /* Never a manager seat's member. Only the old node of a demoted
                         * manager, its label and its address both the seat's, is kept for the
                         * seat (removed before a fresh join); a label alone is a claim. */
                        s = find_slot(p, n->logical_id);
                        if (!s)
                                continue;
                        if (!host || !streq(host, s->lid)) {
                                plan_add(p, RC_ACTION_REPORT, NULL,
                                         "Node %s has no ManagerStatus and is at %s, yet is labelled logical id %s: not taken for that manager.",
                                         n->id, host ?: "an unknown address", n->logical_id);
                                continue;
                        }
                        s->n_nodes++;
                        if (n->manager) {
                                if (!s->promoted)
                                        s->promoted = n;
                        } else if (!s->other)
                                s->other = n;
                        continue;
                }

                s = member_seat(p, n);
                if (!s) {
                        if (host)
                                plan_add(p, RC_ACTION_REPORT, n->logical_id,
                                         "Manager node %s is at %s, which is not in Cluster.Managers: not touched.", n->id,
                                         host);
                        else
                                plan_add(p, RC_ACTION_REPORT, n->logical_id,
                                         "Manager node %s has logical id label %s, which is not in Cluster.Managers: not touched.",
                                         n->id, n->logical_id ?: "(none)");
                        continue;
                }
                if (n->logical_id && !streq(n->logical_id, s->lid))
                        plan_add(p, RC_ACTION_REPORT, s->lid,
                                 "Manager node %s is at %s's address but labelled logical id %s: taken for %s by its address.",
                                 n->id, s->lid, n->logical_id, s->lid);
                s->n_nodes++;
                if (!s->member)
                        s->member = n;
                if (!n->instance_id && !s->unlabelled)
                        s->unlabelled = n;
        }
        qsort(p->node_by_inst, p->n_node_by_inst, sizeof(RcNode *), node_inst_cmp);
        qsort(p->node_by_addr, p->n_node_by_addr, sizeof(RcNode *), node_addr_cmp);

        for (size_t k = 0; k < p->spec->n_managers; k++) {
                Slot *s = &p->slots[k];
                const RcNode *const *v;
                size_t c;

                if (s->n_present != 1)
                        continue;
                c = nodes_by_instance(p, s->present[0]->id, &v);
                for (size_t j = 0; j < c; j++) {
                        const RcNode *n = v[j];

                        if (n->reachability == RC_REACH_NONE)
                                continue; /* no ManagerStatus: never stands for a manager */
                        if (member_seat(p, n) != s) {
                                /* mislabelled: it still runs on this instance */
                                if (!s->cur_other)
                                        s->cur_other = n;
                                continue;
                        }
                        if (!s->cur)
                                s->cur = n;
                        else if (n->state == RC_NODE_READY && n->reachability == RC_REACH_REACHABLE &&
                                 !(s->cur->state == RC_NODE_READY && s->cur->reachability == RC_REACH_REACHABLE)) {
                                s->cur_other = s->cur;
                                s->cur = n;
                        } else if (!s->cur_other)
                                s->cur_other = n;
                }
        }
        return 0;
}

int index_inflight(Planner *p) {
        size_t n_inflight = p->mem ? p->mem->n_inflight : 0;

        p->drains = malloc(sizeof(RcInflight *) * (n_inflight + 1));
        if (!p->drains)
                return -ENOMEM;

        for (size_t k = 0; k < n_inflight; k++) {
                const RcInflight *f = &p->mem->inflight[k];
                Slot *s;

                if ((unsigned) f->kind >= RC_INFLIGHT_KINDS)
                        continue;
                /* A drain's age is what it is for: kept as long as the executor keeps it. */
                if (f->kind == RC_INFLIGHT_DRAIN && f->instance_id)
                        p->drains[p->n_drains++] = f;
                if (!inflight_fresh(p, f))
                        continue;
                s = find_slot(p, f->logical_id);
                if (s && (!s->inflight[f->kind] || f->since_usec > s->inflight[f->kind]->since_usec))
                        s->inflight[f->kind] = f;
        }
        qsort(p->drains, p->n_drains, sizeof(RcInflight *), drain_cmp);
        return 0;
}

/* ---- which nodes stand for an instance ---------------------------------------------------- */

/*
 * Which nodes stand for an instance (issue 14). The address is the proof: a node whose
 * Status.Addr is the instance's private IP runs there, whatever its label says; the engine
 * label swarmkeeper.instance-id is a hint that must agree: a node labelled with the
 * instance at another address is not its node (a stale or false label). A Down node at
 * the address that is labelled with another instance is a previous holder's of the IP.
 * Only when the node's address (or the instance's) is unknown does the label alone
 * decide.
 */
static bool node_of(const RcNode *n, const RcInstance *i) {
        if (!n->id)
                return false;
        if (addr_known(n->addr) && i->private_ip)
                return streq(n->addr, i->private_ip) &&
                       (n->state != RC_NODE_DOWN || !n->instance_id || streq(n->instance_id, i->id));
        return streq_ptr(n->instance_id, i->id);
}

static void instance_node_add(const Planner *p, InstanceNodes *r, const RcNode *n) {
        bool up = n->state != RC_NODE_DOWN, drained = up && streq_ptr(n->availability, "drain");
        int rank = up && !drained ? 2 : up ? 1 : 0;
        int first_rank = !r->first ? -1 :
                         r->first->state == RC_NODE_DOWN                  ? 0 :
                         streq_ptr(r->first->availability, "drain")       ? 1 :
                                                                            2;

        if (rank > first_rank)
                r->first = n;
        r->n++;
        r->member = r->member || n->manager || n->reachability != RC_REACH_NONE;
        if (!up)
                return;
        r->n_up++;
        if (!drained) {
                if (r->n_undrained < ELEMENTSOF(r->undrained))
                        r->undrained[r->n_undrained++] = n;
                return;
        }
        uint64_t since = node_drained_since(p, n);
        if (r->n_up_drained++ == 0)
                r->drained_since_usec = since;
        else if (since == 0 || r->drained_since_usec == 0)
                r->drained_since_usec = 0;
        else if (since > r->drained_since_usec)
                r->drained_since_usec = since;
}

void instance_nodes(const Planner *p, const RcInstance *i, InstanceNodes *ret) {
        const RcNode *const *v;
        size_t c;

        *ret = (InstanceNodes) {};
        if (i->private_ip) {
                c = nodes_by_addr(p, i->private_ip, &v);
                for (size_t k = 0; k < c; k++)
                        if (node_of(v[k], i))
                                instance_node_add(p, ret, v[k]);
        }
        c = nodes_by_instance(p, i->id, &v);
        for (size_t k = 0; k < c; k++)
                if (!(addr_known(v[k]->addr) && i->private_ip) && node_of(v[k], i))
                        instance_node_add(p, ret, v[k]);
}

/* ---- hashes: inputs of ClientTokens --------------------------------------------------------- */

uint64_t mix64(uint64_t x) {
        x ^= x >> 30;
        x *= UINT64_C(0xbf58476d1ce4e5b9);
        x ^= x >> 27;
        x *= UINT64_C(0x94d049bb133111eb);
        return x ^ (x >> 31);
}

uint64_t hash_str(const char *s) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * UINT64_C(0x100000001b3);
        return mix64(h);
}
