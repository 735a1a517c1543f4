/* SPDX-License-Identifier: MIT */
/*
 * The reconcile planner's entry (see reconcile.h for the contract): rc_plan() checks the
 * spec, chooses the mode (leader with quorum, quorum-loss mode, follower) and runs the
 * passes in their order: the REPORTs found while indexing the listings, one step per
 * manager (plan-seats.c), the workers (plan-workers.c), the join tokens (plan-rotate.c).
 * Also here: whether the listings are plausible at all, the action names and the
 * ClientToken derivation (rc_client_token(), rc_seat_token()). The working state and its
 * lookups are in plan-world.c, shared through plan-internal.h.
 *
 * Pure, like every plan*.c file: no I/O, no clock, no globals; everything comes in
 * through rc_plan()'s arguments, and the same input gives the same plan byte for byte.
 *
 * The rules, and the decisions the brief leaves open, taken in the plan*.c files and
 * tested in tests/unit/test-reconcile.c:
 *
 * - Modes. Leader with quorum: the full rules. Leader without quorum: one WAIT. A
 *   follower: no actions at all. Quorum-loss mode (self_manager, not leader, no leader
 *   known for ≥ QuorumLossGrace): only LAUNCH_MANAGER (join_fresh = false) for a manager
 *   that has no present instance and exactly one intact volume that is `available` and
 *   has held swarm state (has_state: a volume created for a fresh join whose host never
 *   joined is not re-created; a host on it could only start another swarm), the
 *   SET_GENERATION that launch needs first, and ATTACH_VOLUME of that volume to its sole
 *   running instance when this cluster launched it (see "Identity is proven"). All such
 *   managers at once: no member changes (each brings its own Raft state back) and one at
 *   a time could never restore
 *   a majority that needs two of them; the ClientToken makes concurrent survivors
 *   converge.
 * - Listings: any listing not ok (in quorum-loss mode: instances, volumes or subnets)
 *   gives one WAIT and nothing else. So does an instance listing "ok" but implausible:
 *   this agent runs on a live instance of the cluster, so a listing without it
 *   (self_instance_id, else the leader node's instance label, else any live manager) is
 *   partial, e.g. empty (a wrong filter or region), and never evidence that anything is
 *   missing (it would launch every worker again). A node listing without a Leader, or
 *   with no majority of its managers Reachable, changes nothing either. A volume listing is only needed for DEMOTE (the one irreversible step
 *   taken on a volume's absence): not while it shows no intact manager volume at all.
 * - Identity: an instance belongs to a manager by its swarmkeeper:logical-id tag; a node
 *   to an instance by its engine label swarmkeeper.instance-id (so the old, Down node of
 *   a replaced manager is never taken for its new instance, which would be fenced). A
 *   node without that label is used only to see health, never to fence.
 * - Identity is proven, not tagged: anyone who may tag can tag an instance as a manager.
 *   ATTACH_VOLUME only to an instance whose clientToken (DescribeInstances) is the seat's
 *   token for the volume's generation or one of the next RC_GENERATION_LOOKAHEAD (a volume
 *   listing behind our own SET_GENERATION), or that is our launch in flight. Any other
 *   running instance at the seat's address with its tags (an impostor launched into the
 *   freed IP): REPORT, never attach, in both modes. An instance that attached its volume
 *   itself at boot (the stack's bootstrap instance) is no attach case. The seat's token is
 *   public arithmetic: it proves "launched by whoever computes our tokens"; that only the
 *   managers' role may launch into the seats' addresses is the IAM policy's part.
 * - Raft members are tied to their seat by address: a node with ManagerStatus stands for
 *   the seat at ManagerStatus.Addr (else Status.Addr; 0.0.0.0 is unknown), whatever its
 *   labels say (a differing label: REPORT); only with no known address does its
 *   logical-id label decide. So an unlabelled member at the seat's address is the seat's
 *   member: the volume-lost path demotes and removes it, and never joins a fresh manager
 *   beside it. A node without ManagerStatus never stands for a seat (a worker labelling
 *   itself with a manager's logical id is REPORTed and otherwise a worker), except the old
 *   node of a demoted manager, its label and its address both the seat's, kept so that it
 *   is removed before the fresh join (with Spec.Role manager and no ManagerStatus yet it
 *   stops the volume-lost path: REPORT).
 * - Generations, ClientTokens that never repeat. A seat's launch token is
 *   rc_seat_token(cluster, logical id, "<volume id>/gen-<g>"), g the volume's
 *   swarmkeeper:generation (absent or malformed: 0); replaces stays in the action for the
 *   logs only. When the token of g was used by an instance now terminated (listed with that
 *   clientToken, or RunInstances answered IdempotentInstanceTerminated, which the executor
 *   keeps: obs.dead_client_tokens), SET_GENERATION tags the first generation whose token is
 *   unused, and a later pass launches with it once the listing shows it. A volume's
 *   generation only grows (the executor re-reads it right before writing) and volume ids
 *   are never reused, so no manager token repeats, even once EC2 has forgotten the
 *   terminated instances (about an hour). A new volume (the volume-lost path) starts at
 *   generation 0 under its own id, hence its own tokens. CreateVolume's token derives from
 *   the newest terminated instance, else the lost volume, else a hash of the manager
 *   volumes listed: each loss of a seat's volume has its own.
 * - Volumes that have held swarm state: MARK_VOLUME (swarmkeeper:has-state=yes) once the
 *   seat's node is a Ready, Reachable manager on the running instance that has the volume
 *   attached; an ordinary one-at-a-time change (not busy). Quorum-loss mode re-creates only
 *   seats whose volume is marked.
 * - Present = pending, running, stopping, stopped, shutting-down. Two present instances
 *   of one logical id, a present instance whose private IP is not its logical id, two
 *   intact volumes of one logical id: REPORT, nothing done for that logical id. A present
 *   instance of the cluster at a manager's address but not tagged for it holds the IP:
 *   WAIT, no launch (EC2 would refuse it anyway). A live worker holding it (EC2 gave it the
 *   freed address): that manager's step drains its node, then terminates it (at once
 *   when it never joined or is Down), as scale-down does; meanwhile the worker is excess:
 *   not counted toward Cluster.Workers (a replacement may be launched) and never a
 *   scale-down victim besides. The manager's launch follows once the address is free.
 * - One manager at a time: a manager is "busy" while its recovery is in progress (an
 *   in-flight action, pending/stopping/shutting-down, a terminated instance whose volume
 *   is still in use, running without its volume attached or without its node Ready and
 *   Reachable for stable_usec, a demoted node still in Raft). The first busy manager in
 *   spec order, or else the first that needs a change, is the only one changed; every
 *   other change becomes a WAIT naming it. A replacement whose node has not appeared
 *   join_timeout after its launch is a failed recovery: REPORT, no longer busy.
 * - join_fresh = no node in the swarm stands for the seat (see "Raft members": it never
 *   joined, or the volume-lost sequence removed it). The host still decides by its own volume: one with
 *   Swarm state never joins.
 * - Volume lost (no creating/available/in-use volume for the logical id in a complete
 *   listing) and no present instance: DEMOTE its manager node (not when Reachable, not
 *   when the remaining reachable members would be no majority of the rest), wait for
 *   ManagerStatus to go, REMOVE_NODE once Down, CREATE_VOLUME in the subnet's AZ, then
 *   the launch with join_fresh. With a present instance: REPORT (fencing still applies).
 * - Workers (cattle): live = pending + running listed with role worker, plus our launches
 *   in flight not yet listed (these hold back launches but never cause a removal). All missing ones are launched in one pass, each in the
 *   subnet with the fewest live workers; slot "worker-<k>", replaces = "gen-<hash of every
 *   worker instance id listed or in flight, and of the subnet>", so a retry of the same pass reuses its
 *   tokens and any change of the listing gives new ones. Excess: the drained first, then
 *   the newest; never joined or Down → TERMINATE_WORKER, else DRAIN_WORKER, and
 *   TERMINATE_WORKER once drained for drain_usec (the node's drained_since_usec, else the
 *   in-flight DRAIN's since). A worker node (no ManagerStatus) whose instance is
 *   terminated or absent: REMOVE_NODE once Down.
 * - Workers, issue 14. A worker's nodes are found by address: a node whose Status.Addr is
 *   the instance's private IP stands for it whatever its label says (unless Down and
 *   labelled with another instance: a previous holder of the IP); the label
 *   swarmkeeper.instance-id is a hint that must agree, and decides alone only where an
 *   address is unknown. A label naming a live worker from another address: REPORT, not
 *   trusted. Scale-down drains every node that stands for the victim (two for one
 *   instance: both) and terminates only once all of them are drained or Down; so neither
 *   a stale label nor a double claim makes a drain skipped or the wrong worker go. A live
 *   worker with no node join_timeout after its launch is a failed host: not counted,
 *   TERMINATE_WORKER, and the missing one is launched in the same pass. The subnet is an
 *   input of a worker's ClientToken: EC2 answers the same token with other parameters by
 *   IdempotentParameterMismatch, so without it a slot placed in another subnet (the
 *   subnet listing or the live count changed, the worker listing did not) would fail
 *   every pass until the worker listing changed; a retry in the same subnet still reuses
 *   its token. The cost: after a lost RunInstances answer and a change of subnet, one
 *   extra worker, which scale-down removes.
 * - Clocks (issue 14): now_usec and every "since" (node streaks, in flight, seats, no
 *   leader) are CLOCK_MONOTONIC; EC2's launch times are wall clock and are compared only
 *   with realtime_usec. The executor restarts every Down/drained streak when two node
 *   listings are more than 2 × IntervalSec + 30 s apart or name another Leader, so a
 *   streak the planner sees was watched without a break through one leader.
 * - Volume lost for good (issue 14): a listing filtered by tags that shows no volume for
 *   a manager is not evidence. DEMOTE only when a volume tagged for it is listed
 *   deleted, deleting or in error, or when DescribeVolumes by its last known id
 *   (RcSeat.volume_probe) says NotFound or error; it exists → REPORT; unknown → WAIT.
 * - Deadlines (issue 14): the manager holding the one-at-a-time slot (RcAction.holds_slot)
 *   is stuck once RcSeat.busy_since_usec is seat_deadline_usec old (busy states and
 *   changes that keep failing alike): REPORT (seat_stuck), and it no longer holds the
 *   slot: a non-stuck busy manager, else a non-stuck one needing a change, goes first; a
 *   stuck one is changed only when no other manager needs the slot.
 * - ROTATE_TOKENS (issue 14): once a host may hold the current token (a worker or a
 *   seat's manager launched since the last rotation, or a Ready node created since) and
 *   every such instance has joined (a node stands for it), is gone (shutting-down,
 *   terminated) or has failed (join_timeout after its launch); not while a launch of this
 *   pass or a fresh one in flight is unlisted. A host that died before joining no longer
 *   keeps the token valid. The rotation time is the swarm's (its UpdatedAt read right
 *   after the rotation, tokens_rotated_swarm_usec), the clock of node CreatedAt. An
 *   instance counts as launched since when its LaunchTime is later than every one EC2
 *   listed at that rotation (tokens_rotated_launch_usec: EC2's own clock on both sides);
 *   without that record, EC2's launch times are compared with the swarm's time with a
 *   minute to spare. Unknown (a new agent or Leader): every launched host counts, so the tokens
 *   are rotated once everything has joined or gone.
 */

#include <errno.h>
#include <stdio.h> /* snprintf() only */
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>

#include "plan-internal.h"

/* ---- SHA-256 (FIPS 180-4): only for ClientTokens --------------------------------------- */

typedef struct Sha256 {
        uint32_t h[8];
        uint8_t buf[64];
        size_t n;
        uint64_t total;
} Sha256;

static const uint32_t sha256_k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror32(uint32_t x, unsigned n) {
        return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const uint8_t *p) {
        uint32_t w[64], a, b, c, d, e, f, g, k;

        for (unsigned i = 0; i < 16; i++)
                w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 | (uint32_t) p[4 * i + 2] << 8 |
                       (uint32_t) p[4 * i + 3];
        for (unsigned i = 16; i < 64; i++) {
                uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
        for (unsigned i = 0; i < 64; i++) {
                uint32_t t1 = k + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
                uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

static void sha256_init(Sha256 *s) {
        static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
        *s = (Sha256) {};
        memcpy(s->h, iv, sizeof(iv));
}

static void sha256_update(Sha256 *s, const void *data, size_t len) {
        const uint8_t *p = data;

        s->total += len;
        while (len > 0) {
                size_t take = 64 - s->n < len ? 64 - s->n : len;
                memcpy(s->buf + s->n, p, take);
                s->n += take, p += take, len -= take;
                if (s->n == 64) {
                        sha256_block(s->h, s->buf);
                        s->n = 0;
                }
        }
}

static void sha256_final(Sha256 *s, uint8_t out[32]) {
        uint64_t bits = s->total * 8;
        uint8_t pad = 0x80, zero = 0, len[8];

        sha256_update(s, &pad, 1);
        while (s->n != 56)
                sha256_update(s, &zero, 1);
        for (unsigned i = 0; i < 8; i++)
                len[i] = (uint8_t) (bits >> (56 - 8 * i));
        sha256_update(s, len, 8);
        for (unsigned i = 0; i < 8; i++)
                for (unsigned j = 0; j < 4; j++)
                        out[4 * i + j] = (uint8_t) (s->h[i] >> (24 - 8 * j));
}

int rc_client_token(const char *cluster, const char *slot, const char *replaces, char *buf, size_t size) {
        static const char hex[] = "0123456789abcdef";
        uint8_t d[32];
        Sha256 s;

        if (isempty(cluster) || isempty(slot) || isempty(replaces) || !buf || size < RC_CLIENT_TOKEN_MAX + 1)
                return -EINVAL;

        /* NUL separators: no two different triples hash the same input. */
        sha256_init(&s);
        sha256_update(&s, cluster, strlen(cluster) + 1);
        sha256_update(&s, slot, strlen(slot) + 1);
        sha256_update(&s, replaces, strlen(replaces));
        sha256_final(&s, d);

        /* "sk-" + 128 bits in hex: 35 ASCII characters. */
        memcpy(buf, "sk-", 3);
        for (unsigned i = 0; i < 16; i++) {
                buf[3 + 2 * i] = hex[d[i] >> 4];
                buf[3 + 2 * i + 1] = hex[d[i] & 15];
        }
        buf[35] = 0;
        return 0;
}

int rc_seat_token(const char *cluster, const char *logical_id, const char *volume_id, uint64_t generation, char *buf,
                  size_t size) {
        char replaces[256];
        int n;

        if (isempty(volume_id))
                return -EINVAL;
        n = snprintf(replaces, sizeof(replaces), "%s/gen-%llu", volume_id, (unsigned long long) generation);
        if (n < 0 || (size_t) n >= sizeof(replaces))
                return -EINVAL;
        return rc_client_token(cluster, logical_id, replaces, buf, size);
}

/* ---- names ----------------------------------------------------------------------------- */

static const char *const action_kind_table[_RC_ACTION_KIND_MAX] = {
        [RC_ACTION_LAUNCH_MANAGER] = "launch-manager",
        [RC_ACTION_ATTACH_VOLUME] = "attach-volume",
        [RC_ACTION_FENCE] = "fence",
        [RC_ACTION_DEMOTE] = "demote",
        [RC_ACTION_REMOVE_NODE] = "remove-node",
        [RC_ACTION_CREATE_VOLUME] = "create-volume",
        [RC_ACTION_LAUNCH_WORKER] = "launch-worker",
        [RC_ACTION_DRAIN_WORKER] = "drain-worker",
        [RC_ACTION_TERMINATE_WORKER] = "terminate-worker",
        [RC_ACTION_ROTATE_TOKENS] = "rotate-tokens",
        [RC_ACTION_WAIT] = "wait",
        [RC_ACTION_REPORT] = "report",
        [RC_ACTION_SET_GENERATION] = "set-generation",
        [RC_ACTION_MARK_VOLUME] = "mark-volume",
};

const char *rc_action_kind_to_string(RcActionKind k) {
        if ((unsigned) k >= _RC_ACTION_KIND_MAX)
                return NULL;
        return action_kind_table[k];
}

/* ---- is the listing plausible? ------------------------------------------------------------ */

/* This agent runs on a live instance of the cluster, with its volume attached: a listing
 * that does not show them is partial (empty, wrong filter…), whatever it claims. */
static bool listings_plausible(Planner *p, bool leader_mode) {
        const RcObservation *obs = p->obs;
        const char *self = obs->self_instance_id;
        const RcInstance *i;
        size_t live = 0;

        if (leader_mode) {
                const RcNode *leader = NULL;

                for (size_t k = 0; k < obs->n_nodes && !leader; k++)
                        if (obs->nodes[k].leader)
                                leader = &obs->nodes[k];
                if (!leader) {
                        plan_wait(p, RC_WAIT_LISTING, NULL, "The node listing shows no Leader: taking it as partial, changing nothing.");
                        return false;
                }
                if (!self)
                        self = leader->instance_id;
                /* The executor confirmed a majority; the listing must not say otherwise. */
                if (p->raft_members > 0 && !quorum_has_majority(p->raft_reachable, p->raft_members)) {
                        plan_wait(p, RC_WAIT_NO_QUORUM, NULL,
                                 "The node listing shows only %zu of %zu managers Reachable: no majority, changing nothing.",
                                 p->raft_reachable, p->raft_members);
                        return false;
                }
        }
        if (self) {
                i = instance_by_id(p, self);
                if (!i || i->state == RC_INSTANCE_TERMINATED) {
                        plan_wait(p, RC_WAIT_LISTING, NULL,
                                 "The instance listing does not show this agent's own instance %s live: taking it as partial, changing nothing.",
                                 self);
                        return false;
                }
                return true;
        }
        for (size_t k = 0; k < p->spec->n_managers; k++)
                live += p->slots[k].n_present;
        if (live == 0) {
                plan_wait(p, RC_WAIT_LISTING, NULL,
                         "The instance listing shows no live manager, not even this agent's: taking it as partial, changing nothing.");
                return false;
        }
        return true;
}

static int spec_valid(const RcSpec *spec) {
        uint32_t ip;

        if (!spec || isempty(spec->cluster) || !spec->managers || spec->n_managers == 0)
                return -EINVAL;
        for (size_t i = 0; i < spec->n_managers; i++)
                if (ipv4_parse(spec->managers[i], &ip) < 0)
                        return -EINVAL;
        return 0;
}

static const char *const wait_code_table[_RC_WAIT_CODE_MAX] = {
        [RC_WAIT_NONE] = "none",
        [RC_WAIT_FOLLOWER] = "follower",
        [RC_WAIT_NO_QUORUM] = "no-quorum",
        [RC_WAIT_LISTING] = "listing",
        [RC_WAIT_SWARM_COMPLETE] = "swarm-complete",
        [RC_WAIT_BACKOFF] = "backoff",
        [RC_WAIT_NO_LAUNCH_PATH] = "no-launch-path",
        [RC_WAIT_ONE_AT_A_TIME] = "one-at-a-time",
        [RC_WAIT_IN_FLIGHT] = "in-flight",
        [RC_WAIT_EC2] = "ec2",
        [RC_WAIT_NODE] = "node",
        [RC_WAIT_GRACE] = "grace",
        [RC_WAIT_STABLE] = "stable",
        [RC_WAIT_DRAIN] = "drain",
        [RC_WAIT_SAFETY] = "safety",
        [RC_WAIT_STOPPED] = "stopped",
        [RC_WAIT_JOIN] = "join",
        [RC_WAIT_QUORUM_LOSS] = "quorum-loss",
};

const char *rc_wait_code_to_string(RcWaitCode c) {
        if ((unsigned) c >= _RC_WAIT_CODE_MAX)
                return NULL;
        return wait_code_table[c];
}

const char *rc_mode_to_string(RcMode m) {
        switch (m) {
        case RC_MODE_FOLLOWER:
                return "follower";
        case RC_MODE_LEADER:
                return "leader";
        case RC_MODE_QUORUM_LOSS:
                return "quorum-loss";
        default:
                return NULL;
        }
}

/* ---- who acts, and whether EC2 is needed ------------------------------------------------- */

RcMode rc_mode(const RcSpec *spec, const RcObservation *obs, const RcMemory *mem) {
        uint64_t since = mem ? mem->no_leader_since_usec : 0;

        if (obs->leader)
                return RC_MODE_LEADER;
        /* no_leader_since is 0 while any manager is Leader in the listing */
        if (obs->self_manager && since != 0 && obs->now_usec >= since &&
            obs->now_usec - since >= spec->quorum_loss_grace_usec)
                return RC_MODE_QUORUM_LOSS;
        return RC_MODE_FOLLOWER;
}

static bool node_is_healthy(const RcNode *n) {
        return n->state == RC_NODE_READY && (!n->manager || n->reachability == RC_REACH_REACHABLE);
}

/* The node listing alone shows the desired state: every configured manager a Ready,
 * Reachable manager node with its logical id, every node Ready, the desired number of
 * worker nodes. */
static bool swarm_complete(const RcSpec *spec, const RcObservation *obs) {
        unsigned n_workers = 0;

        if (!obs->nodes_ok)
                return false;
        for (size_t i = 0; i < obs->n_nodes; i++) {
                if (!node_is_healthy(&obs->nodes[i]))
                        return false;
                if (!obs->nodes[i].manager)
                        n_workers++;
        }
        if (n_workers != spec->workers)
                return false;
        for (size_t m = 0; m < spec->n_managers; m++) {
                bool found = false;
                for (size_t i = 0; i < obs->n_nodes && !found; i++)
                        found = obs->nodes[i].manager && streq_ptr(obs->nodes[i].logical_id, spec->managers[m]);
                if (!found)
                        return false;
        }
        return true;
}

bool rc_plan_amiss(const RcSpec *spec, const RcObservation *obs, const RcMemory *mem) {
        RcMode mode = rc_mode(spec, obs, mem);

        if (mode == RC_MODE_FOLLOWER)
                return false;
        if (mode == RC_MODE_QUORUM_LOSS || !mem)
                return true;
        return mem->n_inflight > 0 || mem->n_recovering > 0 || mem->n_backoff > 0 || mem->unmarked_volumes ||
               !swarm_complete(spec, obs);
}

bool rc_plan_needs_ec2(const RcSpec *spec, const RcObservation *obs, const RcMemory *mem) {
        uint64_t full = spec->ec2_full_interval_usec ?: DEFAULT_EC2_FULL_INTERVAL_USEC;

        if (rc_mode(spec, obs, mem) == RC_MODE_FOLLOWER)
                return false;
        return rc_plan_amiss(spec, obs, mem) || mem->ec2_observed_usec == 0 ||
               obs->now_usec >= mem->ec2_observed_usec + full;
}

/* ---- keys ----------------------------------------------------------------------------------- */

bool rc_action_held(const RcAction *a) {
        return a->kind == RC_ACTION_WAIT && (a->wait == RC_WAIT_BACKOFF || a->wait == RC_WAIT_NO_LAUNCH_PATH);
}

const char *rc_action_backoff_key(const RcAction *a) {
        if (a->logical_id)
                return a->logical_id;
        if (a->slot[0])
                return a->slot;
        if (a->instance_id)
                return a->instance_id;
        if (a->node_id)
                return a->node_id;
        return rc_action_kind_to_string(a->kind);
}

void rc_action_identity(const RcAction *a, char *buf, size_t size) {
        /* an action held back (backoff, no launch path) is the same decision postponed: the
         * same identity as the action, so a plan that alternates between the two is no
         * change (that would keep the fast cadence up for as long as the backoff lasts) */
        bool held = rc_action_held(a);

        (void) snprintf(buf, size, "%s/%s|%.64s|%.64s|%.64s|%.64s|%.64s|%s|%s",
                        strempty(rc_action_kind_to_string(held ? a->waits_for : a->kind)),
                        strempty(rc_wait_code_to_string(held ? RC_WAIT_NONE : a->wait)), strempty(a->logical_id),
                        strempty(a->instance_id), strempty(a->volume_id), strempty(a->node_id), strempty(a->subnet_id),
                        a->slot, a->client_token);
}

/* ---- the gate: what the memory forbids this pass becomes a WAIT ---------------------------- */

static const RcBackoffEntry *backoff_of(const Planner *p, const char *key) {
        for (size_t i = 0; p->mem && i < p->mem->n_backoff; i++)
                if (streq_ptr(p->mem->backoff[i].key, key) && p->now < p->mem->backoff[i].not_before_usec)
                        return &p->mem->backoff[i];
        return NULL;
}

/* a stays what it is (its ids, its slot, its seat) but is not carried out this pass. */
_printf_(3, 4) static void to_wait(RcAction *a, RcWaitCode code, const char *fmt, ...) {
        char was[sizeof(a->reason)], why[sizeof(a->reason)];
        va_list ap;

        memcpy(was, a->reason, sizeof(was));
        va_start(ap, fmt);
        (void) vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        a->waits_for = a->kind;
        a->kind = RC_ACTION_WAIT;
        a->wait = code;
        a->destructive = false;
        /* "<why>; <what it would have done>", cut to fit */
        char both[sizeof(why) + 2 + sizeof(was)];
        (void) snprintf(both, sizeof(both), "%s; %s", why, was);
        (void) snprintf(a->reason, sizeof(a->reason), "%.*s", (int) sizeof(a->reason) - 1, both);
}

/* After the rules: a launch whose role has no launch path, and any change whose key backs
 * off after a failure, are WAITs, so that the plan shows what the executor will do (it
 * carries out every change it is given). Run after planning, so that what follows from the
 * change being planned (the one-at-a-time slot, the token rotation held back) is as if it
 * were carried out: it is only postponed. */
static void plan_gate(Planner *p) {
        for (size_t i = 0; i < p->n; i++) {
                RcAction *a = &p->actions[i];
                const RcBackoffEntry *b;

                if (!is_change(a->kind))
                        continue;
                if ((a->kind == RC_ACTION_LAUNCH_MANAGER && p->spec->no_launch_manager) ||
                    (a->kind == RC_ACTION_LAUNCH_WORKER && p->spec->no_launch_worker))
                        to_wait(a, RC_WAIT_NO_LAUNCH_PATH, "%s: launching a %s is not configured",
                                rc_action_backoff_key(a), a->kind == RC_ACTION_LAUNCH_MANAGER ? "manager" : "worker");
                else if ((b = backoff_of(p, rc_action_backoff_key(a))))
                        to_wait(a, RC_WAIT_BACKOFF, "%s: %s backs off after a failure, %llus left",
                                rc_action_backoff_key(a), rc_action_kind_to_string(a->kind),
                                secs(b->not_before_usec - p->now + USEC_PER_SEC - 1));
        }
}

int rc_plan(const RcSpec *spec, const RcObservation *obs, const RcMemory *mem, RcPlan *ret) {
        _cleanup_(planner_done) Planner p = {};
        RcMode mode;
        int r;

        if (spec_valid(spec) < 0 || !obs || !ret)
                return -EINVAL;
        p.spec = spec;
        p.obs = obs;
        p.mem = mem;
        p.now = obs->now_usec;
        p.wall = obs->realtime_usec ?: obs->now_usec;

        r = index_spec(&p);
        if (r < 0)
                return r;
        r = index_streaks(&p);
        if (r < 0)
                return r;

        mode = rc_mode(spec, obs, mem);
        if (mode == RC_MODE_QUORUM_LOSS) {
                if (!obs->instances_ok || !obs->volumes_ok || !obs->subnets_ok)
                        plan_wait(&p, RC_WAIT_LISTING, NULL,
                                  "Quorum lost, but the%s%s%s listing failed or is partial: changing nothing.",
                                  obs->instances_ok ? "" : " instance", obs->volumes_ok ? "" : " volume",
                                  obs->subnets_ok ? "" : " subnet");
                else if ((r = index_instances(&p)) < 0 || (r = index_inflight(&p)) < 0)
                        return r;
                else {
                        index_volumes(&p);
                        if (listings_plausible(&p, false))
                                plan_quorum_loss(&p);
                }
        } else if (mode == RC_MODE_FOLLOWER)
                plan_wait(&p, RC_WAIT_FOLLOWER, NULL, "This node is not Leader: the leader's agent acts.");
        else if (!obs->quorum)
                plan_wait(&p, RC_WAIT_NO_QUORUM, NULL,
                          "This node is Leader but a majority of managers is not Reachable: changing nothing.");
        else if (!obs->ec2_listed && !rc_plan_needs_ec2(spec, obs, mem))
                plan_wait(&p, RC_WAIT_SWARM_COMPLETE, NULL,
                          "The swarm is complete (%zu managers and %u workers Ready) and nothing is pending: EC2 not asked this pass.",
                          spec->n_managers, spec->workers);
        else if (!obs->instances_ok || !obs->volumes_ok || !obs->subnets_ok || !obs->nodes_ok)
                plan_wait(&p, RC_WAIT_LISTING, NULL, "The%s%s%s%s listing failed or is partial: changing nothing.",
                          obs->instances_ok ? "" : " instance", obs->volumes_ok ? "" : " volume",
                          obs->subnets_ok ? "" : " subnet", obs->nodes_ok ? "" : " node");
        else {
                if ((r = index_instances(&p)) < 0 || (r = index_nodes(&p)) < 0 || (r = index_inflight(&p)) < 0)
                        return r;
                index_volumes(&p);
                if (listings_plausible(&p, true)) {
                        plan_managers(&p);
                        plan_workers(&p);
                        plan_rotate(&p);
                }
        }
        if (p.error < 0)
                return p.error;
        plan_gate(&p);

        /* No action points into itself: a worker launch's generation is its own field. */
        for (size_t i = 0; i < p.n; i++)
                if (p.actions[i].kind == RC_ACTION_LAUNCH_WORKER ||
                    (p.actions[i].kind == RC_ACTION_WAIT && p.actions[i].waits_for == RC_ACTION_LAUNCH_WORKER))
                        p.actions[i].replaces = NULL;

        *ret = (RcPlan) {
                .actions = TAKE_PTR(p.actions),
                .n = p.n,
                .quorum_loss_mode = mode == RC_MODE_QUORUM_LOSS,
                .mode = mode,
        };
        return 0;
}

void rc_plan_done(RcPlan *p) {
        if (!p)
                return;
        free(p->actions);
        *p = (RcPlan) {};
}
