/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Internal to the reconcile planner (agent/plan*.c); nothing else includes this. The
 * public contract is reconcile.h. Here: the planner's working state for one rc_plan()
 * pass (Planner, one Slot per manager seat), the helpers every pass uses (appending
 * actions, clocks, lookups in the sorted indexes), and the passes plan.c runs. Pure like
 * the planner: no I/O, no clock, no globals.
 */

#include "reconcile.h"
#include "util.h"

#define DEFAULT_DRAIN_USEC (60 * USEC_PER_SEC)
#define DEFAULT_JOIN_TIMEOUT_USEC (15 * 60 * USEC_PER_SEC)
#define DEFAULT_SEAT_DEADLINE_USEC (300 * USEC_PER_SEC)
#define DEFAULT_EC2_FULL_INTERVAL_USEC (300 * USEC_PER_SEC)
#define RC_INFLIGHT_KINDS (RC_INFLIGHT_DRAIN + 1)

typedef struct Slot {
        const char *lid;
        const RcInstance *present[2];   /* not terminated */
        size_t n_present;
        const RcInstance *newest_terminated;
        const RcInstance *ip_holder;    /* a present instance at this address not tagged for it */
        const RcVolume *vol;            /* first intact volume (creating, available, in-use) */
        size_t n_good_vol;
        const RcVolume *bad_vol;        /* a deleting/deleted/error one */
        const RcNode *cur;              /* node whose instance label is present[0] (the healthy
                                         * one if several carry it) */
        const RcNode *cur_other;        /* another node with that label: never fence then */
        const RcNode *unlabelled;       /* node with this logical id and no instance label */
        const RcNode *member;           /* node with this logical id still in Raft (manager or status) */
        const RcNode *other;            /* node with this logical id not in Raft (label and address) */
        size_t n_nodes;
        const RcInflight *inflight[RC_INFLIGHT_KINDS];

        RcAction step;                  /* what this manager needs now, if has_step */
        bool has_step;
        bool busy;                      /* its recovery is in progress */
        const RcSeat *seat;             /* what the executor remembers of it (NULL: nothing) */
        const RcNode *promoted;         /* role manager, no ManagerStatus yet, label and address */
} Slot;

typedef struct Planner {
        const RcSpec *spec;
        const RcObservation *obs;
        const RcMemory *mem;            /* NULL: nothing remembered */
        uint64_t now;                   /* CLOCK_MONOTONIC: every "since" */
        uint64_t wall;                  /* CLOCK_REALTIME: only for EC2's launch times */

        RcAction *actions;
        size_t n, cap;
        int error;
        RcAction scratch;               /* written instead once an allocation failed */
        bool launched;

        Slot *slots;
        Slot **by_lid;                  /* the slots sorted by logical id */

        const RcInstance **inst_by_id;  /* ours, sorted by id */
        size_t n_inst_by_id;
        const RcInstance **workers;     /* role worker, any state */
        size_t n_workers;
        const RcNode **node_by_inst;    /* nodes with an instance label, sorted by it */
        size_t n_node_by_inst;
        const RcInflight **drains;      /* in-flight DRAINs, sorted by instance id */
        size_t n_drains;
        const RcNodeStreak **streaks;   /* the memory's streaks, sorted by node id */
        size_t n_streaks;
        const RcNode **node_by_addr;    /* nodes with a known Status.Addr, sorted by it */
        size_t n_node_by_addr;

        size_t raft_members, raft_reachable;
} Planner;

/* The nodes that stand for an instance: see instance_nodes() in plan-world.c. */
typedef struct InstanceNodes {
        const RcNode *first;            /* the first not Down and not drained, else not Down, else any */
        size_t n;                       /* nodes that stand for it */
        size_t n_up;                    /* of them not Down */
        size_t n_up_drained;            /* of those, availability drain */
        uint64_t drained_since_usec;    /* the latest drained_since of those (0: one is unknown) */
        bool member;                    /* one of them is a manager (has ManagerStatus) */
        const RcNode *undrained[4];     /* the first not Down and not drained (the rest next pass) */
        size_t n_undrained;
} InstanceNodes;

/* ---- small helpers ------------------------------------------------------------------- */

static inline unsigned long long secs(uint64_t usec) {
        return (unsigned long long) (usec / USEC_PER_SEC);
}

/* How long since t (0 when t is 0 or in the future). */
static inline uint64_t age(const Planner *p, uint64_t t) {
        return t != 0 && p->now > t ? p->now - t : 0;
}

/* How long since an EC2 launch time (wall clock against wall clock; 0 as age()). */
static inline uint64_t wall_age(const Planner *p, uint64_t t) {
        return t != 0 && p->wall > t ? p->wall - t : 0;
}

static inline bool inflight_fresh(const Planner *p, const RcInflight *f) {
        return f->since_usec >= p->now || p->now - f->since_usec < p->spec->launch_settle_usec;
}

static inline bool is_change(RcActionKind k) {
        return k != RC_ACTION_WAIT && k != RC_ACTION_REPORT;
}

/* Status.Addr as the engine reports it: empty or 0.0.0.0 says nothing. */
static inline bool addr_known(const char *a) {
        return !isempty(a) && !streq(a, "0.0.0.0");
}

static inline bool worker_live(const RcInstance *i) {
        return i->state == RC_INSTANCE_PENDING || i->state == RC_INSTANCE_RUNNING;
}

/* ---- plan-world.c: the working state, appending actions, lookups, indexing ------------ */

/* What the memory holds of node n (since when Down and Unreachable, healthy, drained; 0:
 * not so, or nothing remembered). */
uint64_t node_bad_since(const Planner *p, const RcNode *n);
uint64_t node_healthy_since(const Planner *p, const RcNode *n);
uint64_t node_drained_since(const Planner *p, const RcNode *n);
int index_streaks(Planner *p);

void planner_done(Planner *p);

/* Append an action; the pointer is valid until the next append. */
_printf_(4, 5) RcAction *plan_add(Planner *p, RcActionKind kind, const char *lid, const char *fmt, ...);
/* Append a WAIT with its reason code. */
_printf_(4, 5) RcAction *plan_wait(Planner *p, RcWaitCode code, const char *lid, const char *fmt, ...);
void plan_push(Planner *p, const RcAction *src);
/* Set a manager's step (what it needs now) and whether its recovery is in progress. */
_printf_(5, 6) RcAction *slot_step(Slot *s, RcActionKind kind, bool busy, const char *lid, const char *fmt, ...);
/* The same for a WAIT with its reason code. */
_printf_(5, 6) RcAction *slot_wait(Slot *s, RcWaitCode code, bool busy, const char *lid, const char *fmt, ...);
/* a->client_token from (cluster, a->slot, a->replaces); empty on failure. */
void set_token(Planner *p, RcAction *a);

Slot *find_slot(const Planner *p, const char *lid);
const RcInstance *instance_by_id(const Planner *p, const char *id);
/* All nodes labelled with instance id: *ret points to the first of the returned count. */
size_t nodes_by_instance(const Planner *p, const char *id, const RcNode *const **ret);
const RcInflight *drain_by_instance(const Planner *p, const char *id);
/* The subnet whose CIDR holds ip as a usable address; first in listing order. */
const RcSubnet *subnet_for(const Planner *p, const char *ip);
/* Which nodes stand for instance i: by address, the label only a hint. */
void instance_nodes(const Planner *p, const RcInstance *i, InstanceNodes *ret);
bool newer(const RcInstance *a, const RcInstance *b);
uint64_t mix64(uint64_t x);
uint64_t hash_str(const char *s);

/* Reading the observation into the working state, in this order (index_spec() first). */
int index_spec(Planner *p);
int index_instances(Planner *p);
void index_volumes(Planner *p);
int index_nodes(Planner *p);
int index_inflight(Planner *p);

/* ---- the passes, in the order rc_plan() runs them -------------------------------------- */

void plan_managers(Planner *p);         /* plan-seats.c: leader with quorum */
void plan_quorum_loss(Planner *p);     /* plan-seats.c: quorum-loss mode */
void plan_workers(Planner *p);         /* plan-workers.c */
void plan_rotate(Planner *p);          /* plan-rotate.c */
