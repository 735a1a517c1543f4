/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The reconciler's memory across passes (part of the reconcile executor, see
 * reconciler.h): per node since when it is Down, healthy, drained; the actions in
 * flight; backoff per key; the managers being replaced; per seat its busy clock and last
 * known volume; ClientTokens EC2 called dead.
 *
 * Pure: no I/O. The loop owns one RcHistory (reconciler.c); each pass works on a copy
 * on the Job's worker thread and the loop takes the updated copy back in done().
 */

#include "observe.h"

typedef struct RcNodeMark {
        char *node_id;
        uint64_t bad_since_usec;
        uint64_t healthy_since_usec;
        uint64_t drained_since_usec;
} RcNodeMark;

typedef struct RcInflightEntry {
        RcInflightKind kind;
        char *logical_id;
        char *instance_id;
        char *volume_id;
        uint64_t since_usec;
} RcInflightEntry;

typedef struct RcBackoff {
        char *key;                    /* logical id (or "worker") */
        unsigned attempt;
        uint64_t not_before_usec;
} RcBackoff;

typedef struct RcRecovery {
        char *logical_id;
        uint64_t started_usec;        /* first replacement action planned */
} RcRecovery;

/* Per manager seat (issue 14), on CLOCK_MONOTONIC. */
typedef struct RcSeatMemory {
        char *logical_id;
        uint64_t busy_since_usec;     /* held the one-at-a-time slot and still pending since */
        char *volume_id;              /* its last known data volume (listings, launches, attaches) */
        RcVolumeProbe volume_probe;   /* this pass's DescribeVolumes by id (UNKNOWN: not asked) */
        bool stuck_logged;            /* SK_MESSAGE_SEAT_STUCK logged for this incident */
} RcSeatMemory;

typedef struct RcHistory {
        RcNodeMark *marks;
        size_t n_marks;
        RcInflightEntry *inflight;
        size_t n_inflight;
        RcBackoff *backoff;
        size_t n_backoff;
        RcRecovery *recovering;       /* managers being replaced, for "node back" */
        size_t n_recovering;
        uint64_t no_leader_since_usec;
        uint64_t tokens_rotated_usec; /* when this agent last rotated the join tokens */
        uint64_t ec2_observed_usec;   /* the last EC2 observation (see rc_plan_needs_ec2()) */
        char **logged;                /* the actions logged last pass (log changes only) */
        bool quorum_lost_logged;
        /* Added by issue 14. Every time above is CLOCK_MONOTONIC but tokens_rotated_usec. */
        uint64_t nodes_observed_usec; /* the last node listing */
        char *leader_node_id;         /* the Leader in it */
        uint64_t max_gap_usec;        /* a longer gap between two node listings, or another
                                       * Leader, restarts every streak (0: never by a gap) */
        RcSeatMemory *seats;
        size_t n_seats;
        char **dead_tokens;           /* ClientTokens RunInstances answered with
                                       * IdempotentInstanceTerminated (the newest
                                       * RC_DEAD_TOKENS_MAX): the planner moves past them */
        uint64_t tokens_rotated_swarm_usec; /* the swarm's UpdatedAt right after this agent rotated
                                       * the join tokens (the managers' clock, as node CreatedAt;
                                       * 0: unknown) */
        uint64_t tokens_rotated_launch_usec; /* EC2's newest LaunchTime listed at that rotation */
        bool unmarked_volumes;        /* the last volume listing showed a seat's volume not yet
                                       * tagged swarmkeeper:has-state: EC2 is asked every pass
                                       * (not only every RcSpec.ec2_full_interval_usec) until the
                                       * leader has marked it */
} RcHistory;

void rc_history_done(RcHistory *h);
int rc_history_copy(const RcHistory *src, RcHistory *ret);

/* Carry bad_since/healthy_since/drained_since over to this listing (nodes gone are
 * forgotten). They restart at now when the listing comes more than h->max_gap_usec after
 * the last one, or names another Leader (healthy_since survives a new Leader: the new
 * leader's "unknown" is no break, and holding every repair for StableSec after each
 * election would cost more than it protects). now: CLOCK_MONOTONIC. */
int rc_history_update_nodes(RcHistory *h, const DockerNode *nodes, size_t n, uint64_t now_usec);
/* Forget in-flight actions whose effect the listing shows or that are older than max_age. */
void rc_history_prune_inflight(RcHistory *h, const RcWorld *w, uint64_t now_usec, uint64_t max_age_usec);
int rc_history_add_inflight(RcHistory *h, RcInflightKind kind, const char *logical_id, const char *instance_id,
                            const char *volume_id, uint64_t now_usec);

/* Backoff per key: exponential with full jitter between base and cap. */
#define RC_BACKOFF_BASE_USEC (10 * USEC_PER_SEC)
#define RC_BACKOFF_CAP_USEC (300 * USEC_PER_SEC)
bool rc_history_backoff_ready(const RcHistory *h, const char *key, uint64_t now_usec);
int rc_history_backoff_fail(RcHistory *h, const char *key, uint64_t now_usec);
/* The same, the delay never above cap_usec (at least the base) */
#define RC_BACKOFF_IP_IN_USE_CAP_USEC (15 * USEC_PER_SEC)
/* Any other action than a launch that failed: retried after 10-15 s, never hammered */
#define RC_BACKOFF_RETRY_CAP_USEC (15 * USEC_PER_SEC)
int rc_history_backoff_fail_cap(RcHistory *h, const char *key, uint64_t now_usec, uint64_t cap_usec);
void rc_history_backoff_reset(RcHistory *h, const char *key);

/* RunInstances said IdempotentInstanceTerminated for token: remember it (no-op if known). */
#define RC_DEAD_TOKENS_MAX 64
int rc_history_add_dead_token(RcHistory *h, const char *token);

/* A replacement of logical_id started (no-op if one is recorded). */
int rc_history_recovery_start(RcHistory *h, const char *logical_id, uint64_t now_usec);
/* The node of a recovering logical id became Ready+Reachable after the start: that
 * entry is removed and returned (*ret_started), 1; 0 if none. */
int rc_history_recovery_done(RcHistory *h, const char *logical_id, uint64_t healthy_since_usec,
                             uint64_t *ret_started_usec);

/* The seat's memory (created when create; NULL: none or -ENOMEM). */
RcSeatMemory *rc_history_seat(RcHistory *h, const char *logical_id, bool create);
/* Remember each manager seat's volume id from the volume listing and the in-flight records. */
int rc_history_remember_volumes(RcHistory *h, const RcWorld *w);
/* After a plan: start, keep or reset each seat's busy_since (RcAction.holds_slot,
 * seat_pending); managers: the configured logical ids. */
void rc_history_update_seats(RcHistory *h, const RcPlan *plan, char *const *managers, uint64_t now_usec);

/* h's mark for node_id (NULL: none). */
const RcNodeMark *history_mark(const RcHistory *h, const char *node_id);
