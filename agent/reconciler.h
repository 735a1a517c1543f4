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
 * The pure parts (user-data, observation and history building, backoff) are exported
 * for tests/unit/test-reconciler.c.
 */

#include <systemd/sd-event.h>

#include "config.h"
#include "docker.h"
#include "ec2.h"
#include "leader.h"
#include "reconcile.h"

/* ---- user-data for a launch -------------------------------------------------------------- */

#define RC_CLUSTER_DROPIN "/etc/swarmkeeper/swarmkeeper.conf.d/50-cluster.conf"
#define RC_BASE_USER_DATA_PATH "/etc/swarmkeeper/base-user-data"
#define RC_MIME_BOUNDARY "==swarmkeeper-user-data=="

/*
 * The drop-in a launched host gets: the cluster's keys (Cluster.*, AWS.*, Launch.*,
 * Reconcile.*, Volume.FileSystem…, as effective in c) with Cluster.Role = role, and
 * Cluster.JoinToken = join_token only if join_token is not NULL (a secret: the result
 * must be released with erase_and_free()). Launch.UserData points to
 * RC_BASE_USER_DATA_PATH when have_base. Host-specific keys (Host.*, Volume.Id,
 * Engine.*) are never copied, nor Cluster.BootstrapManager: a launched host is never
 * the bootstrap manager (it joins, or rejoins from its volume; it never inits). A
 * worker's drop-in carries no Launch.* (workers never launch: nothing of the managers'
 * template or instance profile) and none of the keys for creating a manager's volume.
 */
int rc_cluster_conf(const Config *c, const char *role, const char *join_token, bool have_base, char **ret);

/*
 * Cloud-init multipart user-data: a text/cloud-config part whose write_files put
 * `conf` at RC_CLUSTER_DROPIN (0600) and, when base is given, base at
 * RC_BASE_USER_DATA_PATH (0600); then base itself as its own part (its type from its
 * first line: #cloud-config, #!, #cloud-boothook, #include, or a MIME entity). Pure and
 * deterministic (same input, same bytes: a ClientToken retry must send the same
 * parameters). The result may hold a secret: erase_and_free() it.
 */
int rc_user_data_build(const char *conf, const char *base, size_t base_size, char **ret, size_t *ret_size);

/* ---- what a launch and a new data volume send ------------------------------------------ */

/*
 * A role's launch parameters, copied out of the configuration (a reload cannot pull
 * them away). A manager: Launch.Template (+ TemplateVersion), Launch.ImageId,
 * Launch.InstanceType, Launch.InstanceProfile. A worker: Launch.WorkerTemplate (+
 * WorkerTemplateVersion), Launch.ImageId, Launch.InstanceType, Launch.WorkerInstanceProfile,
 * and never the managers' template or profile. configured is config_launch_configured();
 * when it is false every field is NULL and that role is not launched.
 */
typedef struct RcLaunchConf {
        bool configured;
        char *template_id, *template_name, *template_version; /* NULL: no template */
        char *image_id, *instance_type;                       /* NULL: the template's */
        char *instance_profile;                               /* NULL: none */
} RcLaunchConf;

int rc_launch_conf(const Config *c, Role role, RcLaunchConf *ret);
void rc_launch_conf_done(RcLaunchConf *l);

/* A manager's new data volume: Volume.SizeGiB, Volume.Type, Volume.Encrypted, Volume.KmsKeyId. */
typedef struct RcVolumeConf {
        uint64_t size_gib;
        char *type;
        bool encrypted;
        char *kms_key_id; /* NULL: EC2's default key */
} RcVolumeConf;

int rc_volume_conf(const Config *c, RcVolumeConf *ret);
void rc_volume_conf_done(RcVolumeConf *v);

/* ---- what one pass saw ------------------------------------------------------------------- */

typedef struct RcSubnetInfo {
        char *id;
        char *cidr;
        char *availability_zone;
} RcSubnetInfo;

/* Owns the listings and everything the RcObservation built from it points to. */
typedef struct RcWorld {
        bool instances_ok, volumes_ok, subnets_ok, nodes_ok;
        Ec2InstanceList instances;
        Ec2VolumeList volumes;
        RcSubnetInfo *subnets;
        size_t n_subnets;
        DockerNode *nodes;
        char **node_instance_ids;     /* engine label swarmkeeper.instance-id per node (NULL: none) */
        uint64_t *node_created_usec;  /* CreatedAt per node (0: unknown) */
        size_t n_nodes;
        char *self_node_id;
        bool leader, quorum;          /* from the node listing */
        bool any_leader;              /* some manager is Leader in the listing */

        /* built by rc_world_observe() */
        RcInstance *rc_instances;
        RcVolume *rc_volumes;
        const char **rc_attached;
        RcSubnet *rc_subnets;
        RcNode *rc_nodes;
        RcInflight *rc_inflight;
        RcSeat *rc_seats;             /* from the history's seats */
} RcWorld;

void rc_world_done(RcWorld *w);

/*
 * Leadership from a node listing (all nodes or managers only): leader = self is
 * Leader; quorum = more than half of the managers are Reachable; any_leader = some
 * manager is Leader.
 */
void rc_leadership_from_nodes(const DockerNode *nodes, size_t n, const char *self_id, bool *ret_leader,
                              bool *ret_quorum, bool *ret_any_leader);

/* ---- history kept by the loop across passes ------------------------------------------- */

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
        uint64_t ec2_observed_usec;   /* the last EC2 observation (see rc_swarm_complete()) */
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
                                       * (not only every RC_EC2_FULL_INTERVAL_USEC) until the
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

/* Fill obs from w and h (obs points into both; valid while both live). self_manager:
 * this agent's engine is a manager. now_usec: CLOCK_MONOTONIC (obs.realtime_usec is left 0:
 * the caller sets it). */
int rc_world_observe(RcWorld *w, const RcHistory *h, uint64_t now_usec, bool self_manager, RcObservation *ret);

/*
 * Does the node listing alone show the desired state: every configured manager a Ready,
 * Reachable manager node with its logical id, every node Ready, the desired number of
 * worker nodes? Then a pass need not ask EC2 (beyond one full observation every
 * RC_EC2_FULL_INTERVAL_USEC): at steady state the cluster costs almost no EC2 calls.
 */
#define RC_EC2_FULL_INTERVAL_USEC (300 * USEC_PER_SEC)
/* A complete volume listing shows an intact volume of one of managers (logical ids) that is
 * not tagged swarmkeeper:has-state=yes. */
bool rc_world_unmarked_volumes(const RcWorld *w, char *const *managers);
bool rc_swarm_complete(const DockerNode *nodes, size_t n, char *const *managers, unsigned workers);

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

/* ---- the daemon's reconciler ------------------------------------------------------------- */

typedef struct Reconciler Reconciler;

/* Called in the loop when reconciler_status() changed. */
typedef void (*ReconcilerStatusHandler)(Reconciler *r, void *userdata);

/* config: borrowed (reconciler_set_config() on reload). leader: borrowed; subscribed to. */
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

/*
 * For `swarmkeeper status`: desired against actual (one EC2 + engine observation), one
 * row per logical id and the worker count, and what the daemon has in flight (its
 * RC_STATE_FILE). Only when launching is configured (else 0, nothing printed). Prints a
 * table, or adds "desired" and "reconciler" members to root. Never fails status: an
 * observation that cannot be made is reported in the output. Negative errno: -ENOMEM.
 */
#define RC_STATE_FILE_DEFAULT "/run/swarmkeeper/state.json"
int reconciler_status_overview(const Config *c, json_object *root);

/* `swarmkeeper plan [--json]` */
int verb_plan(Config *c, const ConfigArgs *args, bool json);
