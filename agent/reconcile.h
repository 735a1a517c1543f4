/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The reconcile planner: a pure function from (desired spec, one observation) to an
 * ordered list of actions, each with its reason. No I/O, no clock, no randomness, no
 * logging above debug: everything it needs (including "now" and what is in flight) is
 * in its input, so every rule is tested by tables (tests/unit/test-reconcile.c).
 * Implemented in plan.c (the entry, the rules) and plan-*.c (plan-internal.h).
 *
 * The executor (pass.c, observe.c, act.c; the loop side in reconciler.c) builds an RcObservation from EC2 and the engine, calls
 * rc_plan(), and carries the actions out in order, re-confirming leadership right
 * before each one that changes EC2 or the swarm. The planner only emits what may be done
 * now: one manager at a time, never costing quorum, nothing from a failed or partial
 * listing, nothing but re-creating terminated managers in quorum-loss mode.
 *
 * Strings in the input are borrowed; strings in the plan point into the input (or into
 * the RcAction's own buffers) and live as long as both.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- desired ---------------------------------------------------------------------- */

typedef struct RcSpec {
        const char *cluster;           /* Cluster.Name */
        const char *const *managers;   /* logical ids = fixed private IPv4s, n_managers */
        size_t n_managers;
        const char *bootstrap;         /* Cluster.BootstrapManager (may be NULL) */
        unsigned workers;              /* Cluster.Workers */
        uint64_t grace_usec;           /* Reconcile.GraceSec: Down+Unreachable before fencing */
        uint64_t quorum_loss_grace_usec; /* Reconcile.QuorumLossGraceSec */
        uint64_t stable_usec;          /* a re-created manager must be Ready+Reachable this long
                                        * before another manager is touched */
        uint64_t launch_settle_usec;   /* after our own launch, how long a listing that does not
                                        * show it is not evidence of "missing" */
        /* Added after the first contract (0: the default in brackets): */
        uint64_t drain_usec;           /* a worker drained this long may be terminated [60 s] */
        uint64_t join_timeout_usec;    /* a host launched with a join token that has not joined
                                        * after this long no longer holds back ROTATE_TOKENS, and
                                        * a worker without a node is terminated (issue 14) [15 min] */
        /* Added by issue 14 (0: the default in brackets): */
        uint64_t seat_deadline_usec;   /* Reconcile.SeatDeadlineSec: a manager that has held the
                                        * one-at-a-time slot this long (RcSeat.busy_since_usec) is
                                        * stuck: REPORT, and it no longer holds the slot [300 s] */
        /* Added by issue 15: */
        bool no_launch_manager;        /* launching a manager is not configured (config_verify()
                                        * warned): a launch is a WAIT (no-launch-path) */
        bool no_launch_worker;         /* the same for workers (they never use the managers'
                                        * template) */
        uint64_t ec2_full_interval_usec; /* a complete swarm is checked against EC2 this often
                                        * (rc_plan_needs_ec2()) [300 s] */
} RcSpec;

/* ---- observed --------------------------------------------------------------------- */

typedef enum RcInstanceState {
        RC_INSTANCE_PENDING,
        RC_INSTANCE_RUNNING,
        RC_INSTANCE_SHUTTING_DOWN,
        RC_INSTANCE_TERMINATED,
        RC_INSTANCE_STOPPING,
        RC_INSTANCE_STOPPED,
} RcInstanceState;

typedef struct RcInstance {
        const char *id;
        RcInstanceState state;
        const char *cluster;           /* tag swarmkeeper:cluster */
        const char *logical_id;        /* tag swarmkeeper:logical-id (managers; NULL: none) */
        const char *role;              /* tag swarmkeeper:role: "manager" | "worker" | NULL */
        const char *private_ip;        /* NULL once terminated (EC2 drops it): never identity */
        const char *subnet_id;         /* NULL once terminated */
        const char *availability_zone;
        uint64_t launch_usec;          /* CLOCK_REALTIME, 0: unknown */
        /* Added after the first contract: */
        const char *client_token;      /* the ClientToken it was launched with (DescribeInstances'
                                        * clientToken; NULL: none). Proves that this cluster
                                        * launched it for a seat: see rc_seat_token() */
} RcInstance;

typedef enum RcVolumeState {
        RC_VOLUME_CREATING,
        RC_VOLUME_AVAILABLE,
        RC_VOLUME_IN_USE,
        RC_VOLUME_DELETING,
        RC_VOLUME_DELETED,
        RC_VOLUME_ERROR,
} RcVolumeState;

typedef struct RcVolume {
        const char *id;
        RcVolumeState state;
        const char *logical_id;        /* tag swarmkeeper:logical-id */
        const char *availability_zone;
        const char *const *attached_to; /* instance ids of attachments (any state), n_attached */
        size_t n_attached;
        /* Added after the first contract: */
        bool has_state;                /* tag swarmkeeper:has-state=yes: its host joined or inited
                                        * (the leader marks it, MARK_VOLUME) */
        uint64_t generation;           /* tag swarmkeeper:generation (absent or malformed: 0): the
                                        * seat's launch generation, see rc_seat_token() */
} RcVolume;

typedef struct RcSubnet {
        const char *id;
        const char *cidr;              /* "10.0.1.0/24" */
        const char *availability_zone;
} RcSubnet;

typedef enum RcNodeState {
        RC_NODE_UNKNOWN,
        RC_NODE_READY,
        RC_NODE_DOWN,
        RC_NODE_DISCONNECTED,
} RcNodeState;

typedef enum RcReachability {
        RC_REACH_NONE,                 /* no ManagerStatus: a worker */
        RC_REACH_UNKNOWN,
        RC_REACH_UNREACHABLE,
        RC_REACH_REACHABLE,
} RcReachability;

typedef struct RcNode {
        const char *id;
        const char *logical_id;        /* engine label swarmkeeper.logical-id (a hint) */
        const char *instance_id;       /* engine label swarmkeeper.instance-id (a hint) */
        const char *addr;              /* Status.Addr */
        bool manager;                  /* Spec.Role == manager */
        bool leader;
        RcNodeState state;
        RcReachability reachability;
        const char *availability;      /* "active" | "pause" | "drain" */
        /* Added after the first contract (0: unknown): */
        uint64_t created_usec;         /* CreatedAt: a node created after the last token rotation
                                        * joined with the current token */
        /* Added after the first contract: */
        const char *manager_addr;      /* ManagerStatus.Addr ("10.0.1.10:2377"; NULL: none). With
                                        * addr, what ties a Raft member to its seat: labels are hints */
} RcNode;

typedef enum RcInflightKind {
        RC_INFLIGHT_LAUNCH,            /* RunInstances answered with instance_id */
        RC_INFLIGHT_ATTACH,
        RC_INFLIGHT_FENCE,
        RC_INFLIGHT_CREATE_VOLUME,
        RC_INFLIGHT_DRAIN,
} RcInflightKind;

typedef struct RcInflight {
        RcInflightKind kind;
        const char *logical_id;        /* NULL for workers */
        const char *instance_id;
        const char *volume_id;
        uint64_t since_usec;
} RcInflight;

typedef enum RcVolumeProbe {
        RC_VOLUME_PROBE_UNKNOWN,       /* not asked, no volume id known, or the call failed */
        RC_VOLUME_PROBE_NOT_FOUND,     /* DescribeVolumes by id: InvalidVolume.NotFound */
        RC_VOLUME_PROBE_ERROR,         /* DescribeVolumes by id: the volume is in state error */
        RC_VOLUME_PROBE_EXISTS,        /* DescribeVolumes by id: it exists (untagged or mis-tagged) */
} RcVolumeProbe;

/* What the executor remembers of a manager seat between passes (issue 14). */
typedef struct RcSeat {
        const char *logical_id;
        uint64_t busy_since_usec;      /* CLOCK_MONOTONIC: this seat has held the one-at-a-time slot
                                        * (RcAction.holds_slot) and still needs something since
                                        * then, without a break (0: not so) */
        const char *volume_id;         /* its last known data volume (asked by id when no volume is
                                        * listed for it; NULL: none known) */
} RcSeat;

/* What DescribeVolumes by id said this pass about a seat's last known volume (issue 15:
 * an observation; it was a field of RcSeat). */
typedef struct RcVolumeAsked {
        const char *volume_id;
        RcVolumeProbe probe;
} RcVolumeAsked;

typedef struct RcObservation {
        uint64_t now_usec;             /* CLOCK_MONOTONIC (CLOCK_REALTIME before issue 14): every
                                        * "since" (nodes, in flight, seats, no leader) is on this
                                        * clock. Only EC2 launch times use realtime_usec. */

        /* Each listing: ok == false means failed/partial/not taken: never "missing". */
        bool instances_ok;
        const RcInstance *instances;   /* every state, tagged swarmkeeper:cluster=<cluster> */
        size_t n_instances;
        bool volumes_ok;
        const RcVolume *volumes;
        size_t n_volumes;
        bool subnets_ok;
        const RcSubnet *subnets;
        size_t n_subnets;
        bool nodes_ok;
        const RcNode *nodes;
        size_t n_nodes;

        /* Leadership, as confirmed by one GET /nodes?role=manager. */
        bool leader;                   /* this node is Leader */
        bool quorum;                   /* a majority of managers Reachable */

        /* Added after the first contract: */
        bool self_manager;             /* this agent's node is a manager: only then may the
                                        * quorum-loss exception apply (false: it never does) */
        const char *self_instance_id;  /* this agent's own instance (NULL: unknown; then the
                                        * leader node's instance label). A listing that does not
                                        * show it live, or its logical id without an intact
                                        * volume, is taken as partial: nothing is planned. */
        /* Added by issue 14: */
        uint64_t realtime_usec;        /* CLOCK_REALTIME now, compared only with EC2's launch times
                                        * (RcInstance.launch_usec); 0: now_usec is used */
        /* Added by issue 15: */
        bool ec2_listed;               /* the EC2 listings above were asked for this pass (false:
                                        * only the nodes were; see rc_plan_needs_ec2()) */
        const RcVolumeAsked *volumes_asked; /* seats' volumes asked by id (none listed for them) */
        size_t n_volumes_asked;
} RcObservation;

/* ---- remembered ------------------------------------------------------------------- */

/* What the executor has seen of a node across listings (issue 15: memory, not the
 * observation), CLOCK_MONOTONIC, 0: not so. Restarted after a gap in observation or under
 * another Leader (issue 14). */
typedef struct RcNodeStreak {
        const char *node_id;
        uint64_t bad_since_usec;       /* Down AND Unreachable without a break since */
        uint64_t healthy_since_usec;   /* Ready AND (worker or Reachable) without a break since
                                        * ("unknown" while Reachable, as right after an
                                        * election, is no break) */
        uint64_t drained_since_usec;   /* availability drain since */
} RcNodeStreak;

/* A key (rc_action_backoff_key()) whose last action failed: none before not_before_usec. */
typedef struct RcBackoffEntry {
        const char *key;
        uint64_t not_before_usec;      /* CLOCK_MONOTONIC */
} RcBackoffEntry;

/*
 * What the executor remembers across passes (issue 15: apart from what was seen): the
 * planner reads it, the executor updates it (rc-history.h). Every time is CLOCK_MONOTONIC
 * but tokens_rotated_usec (this host's wall clock) and the two EC2/swarm clocks named.
 */
typedef struct RcMemory {
        uint64_t no_leader_since_usec; /* 0: a leader is known; else since when none */
        const RcNodeStreak *streaks;   /* per node id, any order (a node without: nothing seen) */
        size_t n_streaks;
        const RcInflight *inflight;
        size_t n_inflight;
        const RcSeat *seats;           /* per manager seat, any order; a seat not listed: nothing
                                        * remembered */
        size_t n_seats;
        const char *const *dead_client_tokens; /* ClientTokens RunInstances answered with
                                        * IdempotentInstanceTerminated (kept by the executor) */
        size_t n_dead_client_tokens;
        uint64_t tokens_rotated_usec;  /* when the join tokens were last rotated, this host's wall
                                        * clock (0: not since this agent started); only when
                                        * tokens_rotated_swarm_usec is 0. ROTATE_TOKENS once a host
                                        * launched (or a node created) after it carries the current
                                        * token and every such host has joined or gone */
        uint64_t tokens_rotated_swarm_usec; /* the swarm's UpdatedAt (GET /swarm) read right after
                                        * this agent rotated the join tokens: the managers' clock,
                                        * as node CreatedAt (0: unknown, then tokens_rotated_usec) */
        uint64_t tokens_rotated_launch_usec; /* EC2's newest LaunchTime listed when this agent last
                                        * rotated: an instance launched since has a later one, on
                                        * EC2's own clock (0: unknown, then the swarm's time with
                                        * RC_LAUNCH_CLOCK_SKEW_USEC to spare) */
        /* Added by issue 15: */
        const RcBackoffEntry *backoff; /* keys whose last action failed */
        size_t n_backoff;
        size_t n_recovering;           /* managers whose replacement has not reported back */
        uint64_t ec2_observed_usec;    /* the last pass that listed EC2 (0: none) */
        bool unmarked_volumes;         /* the last volume listing showed a seat's volume not yet
                                        * tagged swarmkeeper:has-state */
} RcMemory;

/* ---- plan ------------------------------------------------------------------------- */

#define RC_CLIENT_TOKEN_MAX 64

typedef enum RcActionKind {
        RC_ACTION_LAUNCH_MANAGER,      /* RunInstances: logical_id, private_ip, subnet_id, volume_id,
                                        * replaces (for the ClientToken), join_fresh */
        RC_ACTION_ATTACH_VOLUME,       /* AttachVolume volume_id → instance_id */
        RC_ACTION_FENCE,               /* TerminateInstances instance_id (a dead manager that runs) */
        RC_ACTION_DEMOTE,              /* node update role=worker: node_id (volume lost) */
        RC_ACTION_REMOVE_NODE,         /* DELETE /nodes/node_id, never forced */
        RC_ACTION_CREATE_VOLUME,       /* CreateVolume tagged logical_id in availability_zone */
        RC_ACTION_LAUNCH_WORKER,       /* RunInstances role worker in subnet_id, replaces */
        RC_ACTION_DRAIN_WORKER,        /* node update availability=drain: node_id */
        RC_ACTION_TERMINATE_WORKER,    /* TerminateInstances instance_id (drained, or never joined) */
        RC_ACTION_ROTATE_TOKENS,       /* a fresh join happened: rotate the join token it used */
        RC_ACTION_WAIT,                /* nothing to do yet for logical_id: reason says why */
        RC_ACTION_REPORT,              /* an anomaly for the operator, no change */
        RC_ACTION_SET_GENERATION,      /* CreateTags swarmkeeper:generation=volume_generation on
                                        * volume_id: the seat's token for the current generation
                                        * was used by an instance that is terminated */
        RC_ACTION_MARK_VOLUME,         /* CreateTags swarmkeeper:has-state=yes on volume_id: node_id
                                        * is a Ready, Reachable manager on instance_id, which has
                                        * the volume attached */
        _RC_ACTION_KIND_MAX,
} RcActionKind;

/*
 * Why a WAIT: every decision not to act now is one (issue 15), so that `plan` and STATUS
 * show what the next pass does. Stable names (rc_wait_code_to_string()), in the journal as
 * SK_WAIT.
 */
typedef enum RcWaitCode {
        RC_WAIT_NONE,                  /* not a WAIT */
        RC_WAIT_FOLLOWER,              /* "follower": another node leads; it acts */
        RC_WAIT_NO_QUORUM,             /* "no-quorum": Leader without a Reachable majority */
        RC_WAIT_LISTING,               /* "listing": a listing failed, is partial or implausible */
        RC_WAIT_SWARM_COMPLETE,        /* "swarm-complete": the nodes show the desired state and
                                        * nothing is pending: EC2 is not asked this pass */
        RC_WAIT_BACKOFF,               /* "backoff": the last try of this key failed */
        RC_WAIT_NO_LAUNCH_PATH,        /* "no-launch-path": launching this role is not configured */
        RC_WAIT_ONE_AT_A_TIME,         /* "one-at-a-time": another manager holds the slot */
        RC_WAIT_IN_FLIGHT,             /* "in-flight": our own action was sent, its effect not seen */
        RC_WAIT_EC2,                   /* "ec2": an instance or volume is between EC2 states */
        RC_WAIT_NODE,                  /* "node": a node must change state first */
        RC_WAIT_GRACE,                 /* "grace": Down and Unreachable, not yet for GraceSec */
        RC_WAIT_STABLE,                /* "stable": Ready and Reachable, not yet for StableSec */
        RC_WAIT_DRAIN,                 /* "drain": drained, not yet for the drain time */
        RC_WAIT_SAFETY,                /* "safety": the evidence does not allow it (quorum, a
                                        * volume not proven lost, an address held, no label) */
        RC_WAIT_STOPPED,               /* "stopped": an instance stopped not by swarmkeeper */
        RC_WAIT_JOIN,                  /* "join": a host with the current join token has not
                                        * joined or gone yet */
        RC_WAIT_QUORUM_LOSS,           /* "quorum-loss": not repaired without a leader */
        _RC_WAIT_CODE_MAX,
} RcWaitCode;

typedef struct RcAction {
        RcActionKind kind;
        const char *logical_id;
        const char *instance_id;
        const char *volume_id;
        const char *node_id;
        const char *subnet_id;
        const char *availability_zone;
        const char *private_ip;
        const char *replaces;          /* instance (or, for a first launch, volume) id this
                                        * launch replaces: the ClientToken is derived from it */
        bool join_fresh;               /* the new host joins as a new node (token in user-data) */
        bool destructive;              /* changes EC2 or the swarm: re-confirm leadership first
                                        * (in quorum-loss mode: re-confirm that no leader is known) */
        char reason[192];
        /* Added after the first contract: */
        char slot[24];                 /* LAUNCH_*: the ClientToken slot: the logical id, or
                                        * "worker-<k>" */
        char generation[24];           /* LAUNCH_WORKER: replaces points here ("gen-<hex>", a hash
                                        * of every worker instance id listed or in flight) */
        char client_token[RC_CLIENT_TOKEN_MAX + 1];         /* LAUNCH_*, CREATE_VOLUME: rc_client_token(cluster, slot,
                                        * replaces), ready to use */
        /* Added by issue 14 (manager actions only): */
        bool holds_slot;               /* the step of the manager holding the one-at-a-time slot:
                                        * the executor starts its RcSeat.busy_since_usec */
        bool seat_pending;             /* its manager still needs something (a change, a wait for
                                        * its own recovery, or stuck): the executor keeps
                                        * busy_since_usec; a seat with none has it reset */
        bool seat_stuck;               /* REPORT: the seat is past Reconcile.SeatDeadlineSec */
        /* Added for issue 14: */
        uint64_t volume_generation;    /* LAUNCH_MANAGER: the generation of volume_id its
                                        * client_token derives from (rc_seat_token(), not replaces);
                                        * SET_GENERATION: the value to write */
        /* Added by issue 15: */
        RcWaitCode wait;               /* WAIT: why (never RC_WAIT_NONE); else RC_WAIT_NONE */
        RcActionKind waits_for;        /* WAIT for backoff or no-launch-path: the action it stands
                                        * for (else 0) */
} RcAction;

/* Who acts: the planner's mode (rc_mode()), the executor obeys it. */
typedef enum RcMode {
        RC_MODE_FOLLOWER,              /* another node leads (or none, not yet for long): watch */
        RC_MODE_LEADER,                /* this node is Leader: the full rules */
        RC_MODE_QUORUM_LOSS,           /* no leader for QuorumLossGraceSec, this node a manager:
                                        * only terminated managers are re-created */
} RcMode;

typedef struct RcPlan {
        RcAction *actions;
        size_t n;
        bool quorum_loss_mode;         /* planned under the quorum-loss exception */
        RcMode mode;                   /* Added by issue 15 */
} RcPlan;

const char *rc_action_kind_to_string(RcActionKind k); /* "launch-manager", … */
const char *rc_wait_code_to_string(RcWaitCode c);     /* "backoff", … */
const char *rc_mode_to_string(RcMode m);              /* "follower", "leader", "quorum-loss" */

/*
 * The mode for this observation and memory: the one rule for who acts. Reads only the
 * node side of obs (leader, self_manager, now_usec), so the executor asks it before it
 * lists EC2.
 */
RcMode rc_mode(const RcSpec *spec, const RcObservation *obs, const RcMemory *mem);

/*
 * Must this pass list EC2? Not when this node leads, the node listing (obs: nodes only)
 * shows every configured manager a Ready, Reachable manager node with its logical id and
 * exactly spec->workers Ready worker nodes, nothing is in flight, recovering, backing off
 * or unmarked, and EC2 was listed within spec->ec2_full_interval_usec. Then rc_plan() on
 * an observation without EC2 (ec2_listed false) plans one WAIT (swarm-complete). Pure.
 */
bool rc_plan_needs_ec2(const RcSpec *spec, const RcObservation *obs, const RcMemory *mem);
/* The same but for the periodic full look at a complete swarm: the swarm is not as desired
 * (or something is pending), and passes follow each other faster. */
bool rc_plan_amiss(const RcSpec *spec, const RcObservation *obs, const RcMemory *mem);

/*
 * The key an action's failures back off under (rc-history.c keeps them, the planner turns
 * an action whose key is backing off into a WAIT): the logical id for a manager's
 * actions, the slot for a worker launch, the instance for a worker's, the node for a node
 * action, else the kind's name. Points into a or is static.
 */
const char *rc_action_backoff_key(const RcAction *a);

/* A WAIT that holds an action back (backoff, no-launch-path): a->waits_for names it. */
bool rc_action_held(const RcAction *a);

/*
 * The action's identity as text: kind, wait code, the ids, the slot and the ClientToken;
 * never the reason with its counters ("Ready for 4s of 30s" is the same wait as "for 6s of
 * 30s"). A WAIT that holds an action back (backoff, no-launch-path) has the identity of
 * that action: the same decision, postponed. Whether the plan changed is decided by this
 * (it sets the EC2 polling rate). buf: at least RC_ACTION_IDENTITY_MAX bytes; truncated ids make
 * no two identities equal that differ in their first 64 characters.
 */
#define RC_ACTION_IDENTITY_MAX 512
void rc_action_identity(const RcAction *a, char *buf, size_t size);

/*
 * Plan one pass. 0 on success (ret filled; possibly no actions), -EINVAL on a bad spec
 * (no cluster, no managers, a manager that is not a dotted IPv4, one twice), -ENOMEM.
 * Pure: same input, same output, byte for byte.
 *
 * Modes: a follower plans nothing; a leader without quorum, or with any listing not ok,
 * plans one WAIT; quorum_loss_mode (self_manager, no leader for quorum_loss_grace_usec)
 * plans only LAUNCH_MANAGER (join_fresh false, only on a volume that has held state),
 * SET_GENERATION and ATTACH_VOLUME. Order: REPORTs found
 * while reading the listings, then one step per manager in spec order (changes for at
 * most one manager, except in quorum-loss mode), then workers, then ROTATE_TOKENS.
 * WAIT and REPORT change nothing; every other action has destructive = true. The rules
 * and the decisions behind them are listed at the top of plan.c.
 *
 * A LAUNCH_WORKER's replaces points into its own generation[]: when copying an RcAction,
 * keep the plan alive or use client_token, which is self-contained.
 */
int rc_plan(const RcSpec *spec, const RcObservation *obs, const RcMemory *mem, RcPlan *ret);
void rc_plan_done(RcPlan *p);

/*
 * The RunInstances ClientToken for (cluster, logical id or "worker-<n>", replaces):
 * ≤ 64 ASCII characters, deterministic, different for each replaced instance.
 * buf must hold RC_CLIENT_TOKEN_MAX + 1 bytes.
 */
int rc_client_token(const char *cluster, const char *slot, const char *replaces, char *buf, size_t size);

/*
 * A manager seat's RunInstances ClientToken: rc_client_token(cluster, logical id,
 * "<volume id>/gen-<generation>"). Each (volume, generation) gives its own token, and a
 * volume's generation only grows, so no token repeats, even once EC2 has forgotten the
 * terminated instances that used the earlier ones.
 */
int rc_seat_token(const char *cluster, const char *logical_id, const char *volume_id, uint64_t generation, char *buf,
                  size_t size);

/* How many generations past the listed one a running instance's token may be from and
 * still count as launched for its seat (a volume listing that lags behind our own
 * SET_GENERATION). */
#define RC_GENERATION_LOOKAHEAD 4

/* Is ip (dotted IPv4) inside cidr ("a.b.c.d/n")? Usable, i.e. not EC2's reserved first
 * four and last address? 1 yes, 0 no, -EINVAL malformed. */
int rc_ip_in_subnet(const char *ip, const char *cidr);
