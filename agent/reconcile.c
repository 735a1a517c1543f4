/* SPDX-License-Identifier: MIT */
/*
 * The reconcile planner (see reconcile.h for the contract). Decisions the brief leaves
 * open, taken here and tested in tests/unit/test-reconcile.c:
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile.h"
#include "util.h"

#define DEFAULT_DRAIN_USEC (60 * USEC_PER_SEC)
#define DEFAULT_JOIN_TIMEOUT_USEC (15 * 60 * USEC_PER_SEC)
#define DEFAULT_SEAT_DEADLINE_USEC (300 * USEC_PER_SEC)
#define RC_INFLIGHT_KINDS (RC_INFLIGHT_DRAIN + 1)

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

static const char *instance_state_name(RcInstanceState s) {
        static const char *const t[] = {
                [RC_INSTANCE_PENDING] = "pending",     [RC_INSTANCE_RUNNING] = "running",
                [RC_INSTANCE_SHUTTING_DOWN] = "shutting-down", [RC_INSTANCE_TERMINATED] = "terminated",
                [RC_INSTANCE_STOPPING] = "stopping",   [RC_INSTANCE_STOPPED] = "stopped",
        };
        return (unsigned) s < ELEMENTSOF(t) ? t[s] : "unknown";
}

static const char *volume_state_name(RcVolumeState s) {
        static const char *const t[] = {
                [RC_VOLUME_CREATING] = "creating", [RC_VOLUME_AVAILABLE] = "available",
                [RC_VOLUME_IN_USE] = "in-use",     [RC_VOLUME_DELETING] = "deleting",
                [RC_VOLUME_DELETED] = "deleted",   [RC_VOLUME_ERROR] = "error",
        };
        return (unsigned) s < ELEMENTSOF(t) ? t[s] : "unknown";
}

static const char *volume_lost_name(RcVolumeState s) {
        return s == RC_VOLUME_ERROR ? "in error" : s == RC_VOLUME_DELETING ? "being deleted" : volume_state_name(s);
}

static const char *node_state_name(RcNodeState s) {
        static const char *const t[] = {
                [RC_NODE_UNKNOWN] = "unknown", [RC_NODE_READY] = "ready",
                [RC_NODE_DOWN] = "down",       [RC_NODE_DISCONNECTED] = "disconnected",
        };
        return (unsigned) s < ELEMENTSOF(t) ? t[s] : "unknown";
}

static const char *reach_name(RcReachability r) {
        static const char *const t[] = {
                [RC_REACH_NONE] = "no manager status", [RC_REACH_UNKNOWN] = "reachability unknown",
                [RC_REACH_UNREACHABLE] = "unreachable", [RC_REACH_REACHABLE] = "reachable",
        };
        return (unsigned) r < ELEMENTSOF(t) ? t[r] : "unknown";
}

/* ---- the planner's working state ------------------------------------------------------ */

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
        const RcNode **node_by_addr;    /* nodes with a known Status.Addr, sorted by it */
        size_t n_node_by_addr;

        size_t raft_members, raft_reachable;
} Planner;

static void planner_done(Planner *p) {
        free(p->actions);
        free(p->slots);
        free(p->by_lid);
        free(p->inst_by_id);
        free(p->workers);
        free(p->node_by_inst);
        free(p->drains);
        free(p->node_by_addr);
}

static unsigned long long secs(uint64_t usec) {
        return (unsigned long long) (usec / USEC_PER_SEC);
}

/* How long since t (0 when t is 0 or in the future). */
static uint64_t age(const Planner *p, uint64_t t) {
        return t != 0 && p->now > t ? p->now - t : 0;
}

/* How long since an EC2 launch time (wall clock against wall clock; 0 as age()). */
static uint64_t wall_age(const Planner *p, uint64_t t) {
        return t != 0 && p->wall > t ? p->wall - t : 0;
}

static bool inflight_fresh(const Planner *p, const RcInflight *f) {
        return f->since_usec >= p->now || p->now - f->since_usec < p->spec->launch_settle_usec;
}

static bool is_change(RcActionKind k) {
        return k != RC_ACTION_WAIT && k != RC_ACTION_REPORT;
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

/* Append an action; the pointer is valid until the next append. */
_printf_(4, 5) static RcAction *plan_add(Planner *p, RcActionKind kind, const char *lid, const char *fmt, ...) {
        RcAction *a = plan_slot(p);
        va_list ap;

        va_start(ap, fmt);
        action_init(a, kind, lid, fmt, ap);
        va_end(ap);
        if (kind == RC_ACTION_LAUNCH_MANAGER || kind == RC_ACTION_LAUNCH_WORKER)
                p->launched = true;
        return a;
}

static void plan_push(Planner *p, const RcAction *src) {
        RcAction *a = plan_slot(p);

        *a = *src;
        if (a->kind == RC_ACTION_LAUNCH_MANAGER || a->kind == RC_ACTION_LAUNCH_WORKER)
                p->launched = true;
}

_printf_(5, 6) static RcAction *slot_step(Slot *s, RcActionKind kind, bool busy, const char *lid, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        action_init(&s->step, kind, lid, fmt, ap);
        va_end(ap);
        s->has_step = true;
        s->busy = busy;
        return &s->step;
}

static void set_token(Planner *p, RcAction *a) {
        /* Inputs are never empty here; a failure would leave the token empty, which the
         * executor refuses rather than launching without idempotency. */
        if (rc_client_token(p->spec->cluster, a->slot, a->replaces, a->client_token, sizeof(a->client_token)) < 0)
                a->client_token[0] = 0;
}

/* ---- lookups ---------------------------------------------------------------------------- */

/* Status.Addr as the engine reports it: empty or 0.0.0.0 says nothing. */
static bool addr_known(const char *a) {
        return !isempty(a) && !streq(a, "0.0.0.0");
}

static int slot_cmp(const void *a, const void *b) {
        return strcmp((*(Slot *const *) a)->lid, (*(Slot *const *) b)->lid);
}

static Slot *find_slot(const Planner *p, const char *lid) {
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

static const RcInstance *instance_by_id(const Planner *p, const char *id) {
        return bsearch_str((const void *const *) p->inst_by_id, p->n_inst_by_id, offsetof(RcInstance, id), id);
}

/* All nodes labelled with instance id: *ret points to the first of the returned count. */
static size_t nodes_by_instance(const Planner *p, const char *id, const RcNode *const **ret) {
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

static const RcInflight *drain_by_instance(const Planner *p, const char *id) {
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
static const RcSubnet *subnet_for(const Planner *p, const char *ip) {
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

static bool newer(const RcInstance *a, const RcInstance *b) {
        if (a->launch_usec != b->launch_usec)
                return a->launch_usec > b->launch_usec;
        return strcmp(a->id, b->id) > 0;
}

/* ---- indexing the observation ------------------------------------------------------------- */

static int index_spec(Planner *p) {
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
        for (size_t i = 0; i < p->obs->n_seats; i++) {
                Slot *s = find_slot(p, p->obs->seats[i].logical_id);
                if (s && !s->seat)
                        s->seat = &p->obs->seats[i];
        }
        return 0;
}

static bool is_ours(const Planner *p, const RcInstance *i) {
        /* The listing is filtered by the cluster tag; anything else is not ours to judge. */
        return i->id && streq_ptr(i->cluster, p->spec->cluster);
}

static int index_instances(Planner *p) {
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

static void index_volumes(Planner *p) {
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

static int index_nodes(Planner *p) {
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

static int index_inflight(Planner *p) {
        const RcObservation *obs = p->obs;

        p->drains = malloc(sizeof(RcInflight *) * (obs->n_inflight + 1));
        if (!p->drains)
                return -ENOMEM;

        for (size_t k = 0; k < obs->n_inflight; k++) {
                const RcInflight *f = &obs->inflight[k];
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

/* ---- managers: leader with quorum ------------------------------------------------------ */

static uint64_t hash_str(const char *s);
static bool worker_live(const RcInstance *i);

static bool attached_to(const RcVolume *v, const char *instance_id) {
        for (size_t i = 0; i < v->n_attached; i++)
                if (streq_ptr(v->attached_to[i], instance_id))
                        return true;
        return false;
}

static const char *first_attachment(const RcVolume *v) {
        return v->n_attached > 0 && v->attached_to[0] ? v->attached_to[0] : "another instance";
}

/* Would removing member n (not reachable itself) from Raft keep a majority of the rest? */
static bool can_remove_member(const Planner *p, const RcNode *n) {
        size_t members = p->raft_members, reachable = p->raft_reachable;

        if (n->reachability == RC_REACH_NONE || members == 0)
                return true;
        if (n->reachability == RC_REACH_REACHABLE)
                reachable--;
        return quorum_has_majority(reachable, members - 1); /* members > 0 here */
}

static bool volumes_plausible(const Planner *p) {
        for (size_t k = 0; k < p->spec->n_managers; k++)
                if (p->slots[k].n_good_vol > 0)
                        return true;
        return false;
}

/* Was token used by an instance that is terminated (listed, or as RunInstances said)? */
static bool token_dead(const Planner *p, const char *token) {
        const RcObservation *obs = p->obs;

        for (size_t k = 0; k < p->n_inst_by_id; k++)
                if (p->inst_by_id[k]->state == RC_INSTANCE_TERMINATED && streq_ptr(p->inst_by_id[k]->client_token, token))
                        return true;
        for (size_t k = 0; k < obs->n_dead_client_tokens; k++)
                if (streq_ptr(obs->dead_client_tokens[k], token))
                        return true;
        return false;
}

/* The first generation from v's on whose token no terminated instance is known, and its
 * token in tok. false (tok empty): none within reach (a tag near UINT64_MAX). */
static bool seat_generation(const Planner *p, const Slot *s, const RcVolume *v, uint64_t *ret,
                            char tok[static RC_CLIENT_TOKEN_MAX + 1]) {
        size_t tries = p->n_inst_by_id + p->obs->n_dead_client_tokens + 1;

        for (uint64_t g = v->generation; tries > 0 && g >= v->generation; g++, tries--) {
                if (rc_seat_token(p->spec->cluster, s->lid, v->id, g, tok, RC_CLIENT_TOKEN_MAX + 1) < 0)
                        break;
                if (!token_dead(p, tok)) {
                        *ret = g;
                        return true;
                }
        }
        tok[0] = 0;
        return false;
}

/* Did this cluster launch i for the seat whose volume is v: its ClientToken is the seat's
 * (this generation or one of the next few, which our own SET_GENERATION may have written
 * before the listing shows it), or it is our launch in flight? */
static bool launched_for_seat(const Planner *p, const Slot *s, const RcVolume *v, const RcInstance *i) {
        const RcInflight *f = s->inflight[RC_INFLIGHT_LAUNCH];
        char tok[RC_CLIENT_TOKEN_MAX + 1];

        if (f && streq_ptr(f->instance_id, i->id))
                return true;
        if (!i->client_token)
                return false;
        for (uint64_t k = 0; k <= RC_GENERATION_LOOKAHEAD && v->generation + k >= v->generation; k++)
                if (rc_seat_token(p->spec->cluster, s->lid, v->id, v->generation + k, tok, sizeof(tok)) >= 0 &&
                    streq(tok, i->client_token))
                        return true;
        return false;
}

/* The seat's token of the current generation was used by a terminated instance: the next
 * generation first (a later pass launches with its token). true: a step was set. */
static bool step_generation(Planner *p, Slot *s, const RcVolume *v, uint64_t *ret_gen,
                            char tok[static RC_CLIENT_TOKEN_MAX + 1]) {
        uint64_t g = 0;
        RcAction *a;

        if (!seat_generation(p, s, v, &g, tok)) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: volume %s's generation tag %llu leaves no unused ClientToken: an operator must reset it.",
                          s->lid, v->id, (unsigned long long) v->generation);
                return true;
        }
        *ret_gen = g;
        if (g == v->generation)
                return false;
        a = slot_step(s, RC_ACTION_SET_GENERATION, false, s->lid,
                      "%s: the ClientToken of generation %llu was used by an instance that is terminated: volume %s goes to generation %llu before the launch.",
                      s->lid, (unsigned long long) v->generation, v->id, (unsigned long long) g);
        a->volume_id = v->id;
        a->volume_generation = g;
        return true;
}

static void step_launch_manager(Planner *p, Slot *s, const RcVolume *v, const RcSubnet *sub, bool join_fresh) {
        const RcInstance *old = s->newest_terminated;
        char tok[RC_CLIENT_TOKEN_MAX + 1];
        uint64_t gen = 0;
        RcAction *a;

        if (step_generation(p, s, v, &gen, tok))
                return;
        if (join_fresh)
                a = slot_step(s, RC_ACTION_LAUNCH_MANAGER, false, s->lid,
                              "%s: no instance and no node with this logical id: launching it with volume %s to join as a new manager.",
                              s->lid, v->id);
        else if (old)
                a = slot_step(s, RC_ACTION_LAUNCH_MANAGER, false, s->lid,
                              "%s: instance %s is terminated: launching a replacement with the same IP and volume %s.",
                              s->lid, old->id, v->id);
        else
                a = slot_step(s, RC_ACTION_LAUNCH_MANAGER, false, s->lid,
                              "%s: no instance: launching one with the same IP to rejoin from volume %s.", s->lid, v->id);
        a->private_ip = s->lid;
        a->subnet_id = sub->id;
        a->availability_zone = sub->availability_zone;
        a->volume_id = v->id;
        a->replaces = old ? old->id : v->id; /* for the logs: the token derives from the generation */
        a->join_fresh = join_fresh;
        (void) snprintf(a->slot, sizeof(a->slot), "%s", s->lid);
        a->volume_generation = gen;
        memcpy(a->client_token, tok, sizeof(a->client_token));
}

/* The subnet for a launch or a volume, checked against the volume's AZ; NULL: reported. */
static const RcSubnet *slot_subnet(Planner *p, Slot *s, const RcVolume *v) {
        const RcSubnet *sub = subnet_for(p, s->lid);

        if (!sub) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: no subnet of Launch.SubnetIds holds this address (EC2 reserves the first four and the last): cannot launch it.",
                          s->lid);
                return NULL;
        }
        if (v && v->availability_zone && sub->availability_zone && !streq(v->availability_zone, sub->availability_zone)) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: volume %s is in %s but subnet %s is in %s: cannot launch it there.", s->lid, v->id,
                          v->availability_zone, sub->id, sub->availability_zone);
                return NULL;
        }
        return sub;
}

/* No intact volume, no present instance: demote → gone from Raft → remove → create. */
static void eval_volume_lost(Planner *p, Slot *s) {
        const RcInstance *old = s->newest_terminated;
        const RcInflight *f = s->inflight[RC_INFLIGHT_CREATE_VOLUME];
        const RcSubnet *sub;
        RcAction *a;

        if (s->member) {
                const RcNode *n = s->member;

                if (!n->manager) {
                        slot_step(s, RC_ACTION_WAIT, true, s->lid,
                                  "%s: node %s is demoted; waiting until it has no ManagerStatus before removing it.",
                                  s->lid, n->id);
                        return;
                }
                if (n->reachability == RC_REACH_REACHABLE) {
                        slot_step(s, RC_ACTION_REPORT, false, s->lid,
                                  "%s: no instance and no volume, yet its node %s is a Reachable manager: not demoting it.",
                                  s->lid, n->id);
                        return;
                }
                if (!volumes_plausible(p)) {
                        slot_step(s, RC_ACTION_WAIT, false, s->lid,
                                  "%s: no volume listed for it, but none for any manager either: not demoting node %s on that listing.",
                                  s->lid, n->id);
                        return;
                }
                if (!s->bad_vol) {
                        /* Nothing listed for it: the listing is filtered by tags, and a volume
                         * that lost or never had its tag still holds the Raft state. Demoting
                         * cannot be undone: only on EC2's own word about that volume id. */
                        const char *vid = s->seat ? s->seat->volume_id : NULL;
                        RcVolumeProbe probe = s->seat ? s->seat->volume_probe : RC_VOLUME_PROBE_UNKNOWN;

                        if (probe == RC_VOLUME_PROBE_EXISTS && vid) {
                                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                                          "%s: no volume is tagged for it, but its volume %s exists: not demoting node %s; tag it %s or delete it.",
                                          s->lid, vid, n->id, s->lid);
                                return;
                        }
                        if (!vid || (probe != RC_VOLUME_PROBE_NOT_FOUND && probe != RC_VOLUME_PROBE_ERROR)) {
                                slot_step(s, RC_ACTION_WAIT, false, s->lid,
                                          "%s: no volume listed for it, but %s%s: not demoting node %s before EC2 says that volume is gone.",
                                          s->lid, vid ? "nothing is known yet of its volume " : "no volume id is known to ask EC2 about",
                                          strempty(vid), n->id);
                                return;
                        }
                }
                if (!can_remove_member(p, n)) {
                        slot_step(s, RC_ACTION_WAIT, false, s->lid,
                                  "%s: volume lost, but demoting node %s now would cost quorum (%zu of %zu managers reachable).",
                                  s->lid, n->id, p->raft_reachable, p->raft_members);
                        return;
                }
                a = slot_step(s, RC_ACTION_DEMOTE, false, s->lid,
                              "%s: its volume is %s and it has no instance: demoting its old node %s, to remove it before a fresh join.",
                              s->lid, s->bad_vol ? volume_lost_name(s->bad_vol->state)
                              : s->seat->volume_probe == RC_VOLUME_PROBE_ERROR ? "in error" : "gone (not found by id)", n->id);
                a->node_id = n->id;
                return;
        }
        if (s->other) {
                const RcNode *n = s->other;

                if (n->state != RC_NODE_DOWN) {
                        slot_step(s, RC_ACTION_WAIT, true, s->lid,
                                  "%s: old node %s is out of Raft but %s: waiting until it is Down to remove it.", s->lid,
                                  n->id, node_state_name(n->state));
                        return;
                }
                a = slot_step(s, RC_ACTION_REMOVE_NODE, true, s->lid,
                              "%s: old node %s is demoted and Down: removing it before the new manager joins.", s->lid, n->id);
                a->node_id = n->id;
                return;
        }
        if (s->promoted) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: its volume is lost and node %s is a manager without ManagerStatus: not joining another in its place.",
                          s->lid, s->promoted->id);
                return;
        }
        if (f) {
                slot_step(s, RC_ACTION_WAIT, true, s->lid,
                          "%s: CreateVolume sent %llus ago (%s), not listed yet.", s->lid, secs(age(p, f->since_usec)),
                          f->volume_id ?: "no id yet");
                return;
        }
        sub = slot_subnet(p, s, NULL);
        if (!sub)
                return;
        if (s->bad_vol)
                a = slot_step(s, RC_ACTION_CREATE_VOLUME, false, s->lid,
                              "%s: volume %s is %s: creating a new volume in %s; the new host will join as a new node.",
                              s->lid, s->bad_vol->id, volume_lost_name(s->bad_vol->state), strempty(sub->availability_zone));
        else
                a = slot_step(s, RC_ACTION_CREATE_VOLUME, false, s->lid,
                              "%s: no volume is tagged for it: creating one in %s.", s->lid, strempty(sub->availability_zone));
        a->subnet_id = sub->id;
        a->availability_zone = sub->availability_zone;
        a->private_ip = s->lid;
        if (old)
                a->replaces = old->id;
        else if (s->bad_vol)
                a->replaces = s->bad_vol->id;
        else {
                /* Neither listed any more: the manager volumes listed, so that a later loss
                 * of this seat's volume (after this one was created) gets another token. */
                uint64_t h = 0;
                for (size_t k = 0; k < p->obs->n_volumes; k++)
                        if (p->obs->volumes[k].id && p->obs->volumes[k].logical_id)
                                h += hash_str(p->obs->volumes[k].id);
                (void) snprintf(a->generation, sizeof(a->generation), "vols-%016llx", (unsigned long long) h);
                a->replaces = "none";
                (void) snprintf(a->slot, sizeof(a->slot), "volume-%s", s->lid);
                if (rc_client_token(p->spec->cluster, a->slot, a->generation, a->client_token, sizeof(a->client_token)) < 0)
                        a->client_token[0] = 0;
                return;
        }
        (void) snprintf(a->slot, sizeof(a->slot), "volume-%s", s->lid);
        set_token(p, a);
}

static bool listed_terminated(const Planner *p, const char *id) {
        const RcInstance *i = instance_by_id(p, id);
        return i && i->state == RC_INSTANCE_TERMINATED;
}

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

static void instance_node_add(InstanceNodes *r, const RcNode *n) {
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
        if (r->n_up_drained++ == 0)
                r->drained_since_usec = n->drained_since_usec;
        else if (n->drained_since_usec == 0 || r->drained_since_usec == 0)
                r->drained_since_usec = 0;
        else if (n->drained_since_usec > r->drained_since_usec)
                r->drained_since_usec = n->drained_since_usec;
}

static void instance_nodes(const Planner *p, const RcInstance *i, InstanceNodes *ret) {
        const RcNode *const *v;
        size_t c;

        *ret = (InstanceNodes) {};
        if (i->private_ip) {
                c = nodes_by_addr(p, i->private_ip, &v);
                for (size_t k = 0; k < c; k++)
                        if (node_of(v[k], i))
                                instance_node_add(ret, v[k]);
        }
        c = nodes_by_instance(p, i->id, &v);
        for (size_t k = 0; k < c; k++)
                if (!(addr_known(v[k]->addr) && i->private_ip) && node_of(v[k], i))
                        instance_node_add(ret, v[k]);
}

/* A worker that EC2 gave this manager's address: drain its node, then terminate it; it is
 * not counted toward Cluster.Workers meanwhile (see worker_condemned()). */
static void step_evict_worker(Planner *p, Slot *s, const RcInstance *i) {
        const RcInflight *f = drain_by_instance(p, i->id);
        uint64_t drain_usec = p->spec->drain_usec ?: DEFAULT_DRAIN_USEC, since;
        const RcNode *node;
        InstanceNodes in;
        RcAction *a;

        /* its node by address first (the label only a hint): instance_nodes() */
        instance_nodes(p, i, &in);
        node = in.first;
        if (node && in.member) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: worker instance %s holds its address, but its node %s is a manager: not touched.", s->lid,
                          i->id, node->id);
                return;
        }
        if (!node || node->state == RC_NODE_DOWN) {
                a = slot_step(s, RC_ACTION_TERMINATE_WORKER, true, s->lid,
                              "%s: worker instance %s holds its address (%s): terminating it so that the manager can be launched.",
                              s->lid, i->id, node ? "its node is Down" : "it never joined");
                a->instance_id = i->id;
                a->node_id = node ? node->id : NULL;
                return;
        }
        if (!streq_ptr(node->availability, "drain")) {
                if (f && inflight_fresh(p, f)) {
                        slot_step(s, RC_ACTION_WAIT, true, s->lid,
                                  "%s: worker instance %s holds its address; drain of node %s sent %llus ago.", s->lid,
                                  i->id, node->id, secs(age(p, f->since_usec)));
                        return;
                }
                a = slot_step(s, RC_ACTION_DRAIN_WORKER, true, s->lid,
                              "%s: worker instance %s holds its address: draining node %s before terminating it.", s->lid,
                              i->id, node->id);
                a->instance_id = i->id;
                a->node_id = node->id;
                return;
        }
        since = node->drained_since_usec ?: f ? f->since_usec : 0;
        if (since != 0 && age(p, since) >= drain_usec) {
                a = slot_step(s, RC_ACTION_TERMINATE_WORKER, true, s->lid,
                              "%s: worker instance %s holds its address; node %s drained for %llus: terminating it.",
                              s->lid, i->id, node->id, secs(age(p, since)));
                a->instance_id = i->id;
                a->node_id = node->id;
                return;
        }
        slot_step(s, RC_ACTION_WAIT, true, s->lid, "%s: worker instance %s holds its address; node %s drained for %llus of %llus.",
                  s->lid, i->id, node->id, secs(age(p, since)), secs(drain_usec));
}

static void eval_missing(Planner *p, Slot *s) {
        const RcInflight *f = s->inflight[RC_INFLIGHT_LAUNCH];
        const RcVolume *v = s->vol;
        const RcSubnet *sub;

        if (f && !(f->instance_id && listed_terminated(p, f->instance_id))) {
                slot_step(s, RC_ACTION_WAIT, true, s->lid,
                          "%s: launched %s %llus ago, not listed yet (EC2 is eventually consistent): not missing.", s->lid,
                          f->instance_id ?: "an instance", secs(age(p, f->since_usec)));
                return;
        }
        if (!v) {
                eval_volume_lost(p, s);
                return;
        }
        if (v->state == RC_VOLUME_CREATING) {
                slot_step(s, RC_ACTION_WAIT, true, s->lid, "%s: volume %s is being created.", s->lid, v->id);
                return;
        }
        if (v->state == RC_VOLUME_IN_USE || v->n_attached > 0) {
                slot_step(s, RC_ACTION_WAIT, true, s->lid,
                          "%s: its instance is gone but volume %s is still attached to %s: waiting for it to detach.", s->lid,
                          v->id, first_attachment(v));
                return;
        }
        if (s->member && !s->member->manager) {
                /* Demoted (the volume-lost sequence, or by hand) and still in Raft. */
                slot_step(s, RC_ACTION_WAIT, true, s->lid,
                          "%s: node %s is demoted; waiting until it has no ManagerStatus.", s->lid, s->member->id);
                return;
        }
        if (!s->member && s->other) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: its node %s is no longer a manager but volume %s is intact: an operator must decide.", s->lid,
                          s->other->id, v->id);
                return;
        }
        if (s->ip_holder && streq_ptr(s->ip_holder->role, "worker") && worker_live(s->ip_holder)) {
                step_evict_worker(p, s, s->ip_holder);
                return;
        }
        if (s->ip_holder) {
                slot_step(s, RC_ACTION_WAIT, false, s->lid,
                          "%s: the address is held by instance %s (%s, tagged %s): nothing is launched while it is.",
                          s->lid, s->ip_holder->id, instance_state_name(s->ip_holder->state),
                          s->ip_holder->role ?: "without a role");
                return;
        }
        if (s->member && s->member->reachability == RC_REACH_REACHABLE &&
            !(s->member->instance_id && listed_terminated(p, s->member->instance_id))) {
                /* EC2 lists no live instance, Swarm says something answers there and its node
                 * names no instance EC2 calls terminated (none, or one not listed yet): trust
                 * neither yet. When EC2 lists the node's own instance as terminated, Swarm's
                 * Ready/Reachable is only late (a node goes Down a few heartbeats after its
                 * engine, Raft calls a peer Unreachable once its connection times out):
                 * terminated is final, and the volume was checked detached above. */
                slot_step(s, RC_ACTION_WAIT, false, s->lid,
                          "%s: no live instance is listed, yet node %s is %s and Reachable: waiting.", s->lid,
                          s->member->id, node_state_name(s->member->state));
                return;
        }
        sub = slot_subnet(p, s, v);
        if (!sub)
                return;
        step_launch_manager(p, s, v, sub, s->n_nodes == 0);
}

static void eval_running(Planner *p, Slot *s) {
        const RcInstance *i = s->present[0];
        const RcNode *n = s->cur, *h;
        const RcInflight *f;
        const RcVolume *v = s->vol;
        const RcSpec *spec = p->spec;
        RcAction *a;

        f = s->inflight[RC_INFLIGHT_FENCE];
        if (f && streq_ptr(f->instance_id, i->id)) {
                slot_step(s, RC_ACTION_WAIT, true, s->lid, "%s: terminate of %s sent %llus ago: waiting for it to end.",
                          s->lid, i->id, secs(age(p, f->since_usec)));
                return;
        }

        if (n && s->cur_other) {
                /* e.g. the engine left and joined again: a stale node with the same label. */
                if (!(n->state == RC_NODE_READY && n->reachability == RC_REACH_REACHABLE)) {
                        slot_step(s, RC_ACTION_REPORT, false, s->lid,
                                  "%s: nodes %s and %s both carry instance %s's label and %s is not healthy: not fencing; an operator must decide.",
                                  s->lid, n->id, s->cur_other->id, i->id, n->id);
                        return;
                }
                plan_add(p, RC_ACTION_REPORT, s->lid,
                         "%s: node %s also carries instance %s's label (a stale node of this host?): not touched.", s->lid,
                         s->cur_other->id, i->id);
        }

        /* Fencing only through the node whose engine label names this very instance. */
        if (n && n->state == RC_NODE_DOWN && n->reachability == RC_REACH_UNREACHABLE) {
                uint64_t bad = age(p, n->bad_since_usec);

                if (n->bad_since_usec != 0 && bad >= spec->grace_usec &&
                    (i->launch_usec == 0 || wall_age(p, i->launch_usec) >= spec->grace_usec)) {
                        a = slot_step(s, RC_ACTION_FENCE, false, s->lid,
                                      "%s: node %s has been Down and Unreachable for %llus (GraceSec %llus) while %s runs: terminating it.",
                                      s->lid, n->id, secs(bad), secs(spec->grace_usec), i->id);
                        a->instance_id = i->id;
                        a->node_id = n->id;
                        return;
                }
                if (n->bad_since_usec != 0 && bad >= spec->grace_usec)
                        slot_step(s, RC_ACTION_WAIT, false, s->lid,
                                  "%s: node %s is Down and Unreachable but instance %s is up only %llus: not fenced before %llus.",
                                  s->lid, n->id, i->id, secs(wall_age(p, i->launch_usec)), secs(spec->grace_usec));
                else
                        slot_step(s, RC_ACTION_WAIT, false, s->lid,
                                  "%s: node %s Down and Unreachable for %llus: fenced once that lasts %llus.", s->lid,
                                  n->id, secs(bad), secs(spec->grace_usec));
                return;
        }

        if (!v) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: instance %s runs but no intact volume is tagged for it: not touched.", s->lid, i->id);
                return;
        }
        if (v->state == RC_VOLUME_CREATING) {
                slot_step(s, RC_ACTION_WAIT, true, s->lid, "%s: volume %s is being created.", s->lid, v->id);
                return;
        }
        if (v->state == RC_VOLUME_AVAILABLE && v->n_attached == 0) {
                f = s->inflight[RC_INFLIGHT_ATTACH];
                if (f && streq_ptr(f->instance_id, i->id)) {
                        slot_step(s, RC_ACTION_WAIT, true, s->lid, "%s: attach of %s to %s sent %llus ago.", s->lid, v->id,
                                  i->id, secs(age(p, f->since_usec)));
                        return;
                }
                if (!launched_for_seat(p, s, v, i)) {
                        slot_step(s, RC_ACTION_REPORT, false, s->lid,
                                  "%s: instance %s runs at its address with its tags, but this cluster did not launch it for it (ClientToken %s): not attaching volume %s.",
                                  s->lid, i->id, i->client_token ?: "none", v->id);
                        return;
                }
                a = slot_step(s, RC_ACTION_ATTACH_VOLUME, true, s->lid, "%s: instance %s runs: attaching its volume %s.",
                              s->lid, i->id, v->id);
                a->instance_id = i->id;
                a->volume_id = v->id;
                return;
        }
        if (v->n_attached > 0 && !attached_to(v, i->id)) {
                slot_step(s, RC_ACTION_WAIT, true, s->lid, "%s: volume %s is attached to %s, not to its instance %s.",
                          s->lid, v->id, first_attachment(v), i->id);
                return;
        }

        h = n ?: s->unlabelled;
        if (!h && i->launch_usec != 0 && wall_age(p, i->launch_usec) >= (spec->join_timeout_usec ?: DEFAULT_JOIN_TIMEOUT_USEC)) {
                /* Its recovery failed (the host never came up in the swarm): say so, and
                 * stop holding back the other managers for it. */
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: instance %s has run with volume %s for %llus and its node never came up: look at the host.",
                          s->lid, i->id, v->id, secs(wall_age(p, i->launch_usec)));
                return;
        }
        if (!h) {
                slot_step(s, RC_ACTION_WAIT, true, s->lid,
                          "%s: instance %s runs with volume %s: waiting for its node (up %llus).", s->lid, i->id, v->id,
                          secs(wall_age(p, i->launch_usec)));
                return;
        }
        if (h->state == RC_NODE_READY && h->reachability == RC_REACH_REACHABLE) {
                uint64_t ok = age(p, h->healthy_since_usec);

                if (!v->has_state && h->manager && attached_to(v, i->id)) {
                        /* Its host has joined (or inited) on this volume: from now on it holds
                         * swarm state, and quorum-loss mode may re-create the seat on it. Not
                         * stable yet: still busy (the others wait as before); stable: marked
                         * beside whatever another seat does (slot_change()). */
                        a = slot_step(s, RC_ACTION_MARK_VOLUME, !(h->healthy_since_usec != 0 && ok >= spec->stable_usec), s->lid,
                                      "%s: node %s is a Ready, Reachable manager on instance %s with volume %s: marking the volume as holding swarm state.",
                                      s->lid, h->id, i->id, v->id);
                        a->volume_id = v->id;
                        a->instance_id = i->id;
                        a->node_id = h->id;
                        return;
                }

                if (h->healthy_since_usec != 0 && ok >= spec->stable_usec)
                        return; /* healthy */
                slot_step(s, RC_ACTION_WAIT, true, s->lid, "%s: node %s is Ready and Reachable for %llus of %llus.",
                          s->lid, h->id, secs(ok), secs(spec->stable_usec));
                return;
        }
        if (h->state == RC_NODE_UNKNOWN && h->reachability == RC_REACH_REACHABLE && h->healthy_since_usec != 0 &&
            age(p, h->healthy_since_usec) >= spec->stable_usec)
                /* Right after an election the new leader has not heard from the node yet
                 * ("unknown") while Raft reaches it: stable as it was, not a recovery. */
                return;
        if (h->state == RC_NODE_DOWN && h->reachability == RC_REACH_REACHABLE) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: node %s is Down but Reachable: an anomaly to look at, never a reason to fence.", s->lid, h->id);
                return;
        }
        if (h->state == RC_NODE_DOWN && h->reachability == RC_REACH_UNREACHABLE) {
                slot_step(s, RC_ACTION_WAIT, false, s->lid,
                          "%s: node %s is Down and Unreachable but has no instance label: not fencing %s.", s->lid, h->id,
                          i->id);
                return;
        }
        slot_step(s, RC_ACTION_WAIT, true, s->lid, "%s: node %s is %s, %s.", s->lid, h->id, node_state_name(h->state),
                  reach_name(h->reachability));
}

static void eval_manager(Planner *p, Slot *s) {
        const RcInstance *i = s->present[0];

        if (s->n_present > 1) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: %zu live instances claim it (%s, %s): touching neither; an operator must decide.", s->lid,
                          s->n_present, s->present[0]->id, s->present[1]->id);
                return;
        }
        if (s->n_good_vol > 1) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: %zu intact volumes are tagged for it: not choosing one; an operator must decide.", s->lid,
                          s->n_good_vol);
                return;
        }
        if (s->n_present == 0) {
                eval_missing(p, s);
                return;
        }
        if (i->private_ip && !streq(i->private_ip, s->lid)) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: instance %s is tagged with it but has private IP %s: drifted tags, not touched.", s->lid,
                          i->id, i->private_ip);
                return;
        }
        switch (i->state) {
        case RC_INSTANCE_RUNNING:
                eval_running(p, s);
                return;
        case RC_INSTANCE_STOPPED:
                slot_step(s, RC_ACTION_WAIT, false, s->lid,
                          "%s: instance %s is stopped (not by swarmkeeper): present, so nothing is launched.", s->lid, i->id);
                return;
        default:
                slot_step(s, RC_ACTION_WAIT, true, s->lid, "%s: instance %s is %s: present, not missing.", s->lid, i->id,
                          instance_state_name(i->state));
                return;
        }
}

/* Does this manager's step change the cluster? A MARK_VOLUME (a tag saying the volume has
 * held state, and the node's record of its volume) is bookkeeping on a healthy seat: it
 * neither takes nor waits for the one-at-a-time slot, so every seat is marked in one pass. */
static bool slot_change(const Slot *s) {
        return s->has_step && is_change(s->step.kind) && s->step.kind != RC_ACTION_MARK_VOLUME;
}

/* Has this manager held the slot past Reconcile.SeatDeadlineSec? (Only a seat that still
 * needs something: a settled one has no step.) */
static bool slot_stuck(const Planner *p, const Slot *s) {
        uint64_t since = s->seat ? s->seat->busy_since_usec : 0;

        return s->has_step && (s->busy || slot_change(s)) && since != 0 &&
               age(p, since) >= (p->spec->seat_deadline_usec ?: DEFAULT_SEAT_DEADLINE_USEC);
}

static void plan_managers(Planner *p) {
        const Slot *cur = NULL;

        for (size_t k = 0; k < p->spec->n_managers; k++)
                eval_manager(p, &p->slots[k]);

        /* One manager at a time: the first one in progress, else the first needing a change;
         * a stuck one only when no other wants the slot (its retries go on, slowly). */
        for (size_t k = 0; k < p->spec->n_managers && !cur; k++)
                if (p->slots[k].has_step && p->slots[k].busy && !slot_stuck(p, &p->slots[k]))
                        cur = &p->slots[k];
        for (size_t k = 0; k < p->spec->n_managers && !cur; k++)
                if (slot_change(&p->slots[k]) && !slot_stuck(p, &p->slots[k]))
                        cur = &p->slots[k];
        for (size_t k = 0; k < p->spec->n_managers && !cur; k++)
                if (p->slots[k].has_step && p->slots[k].busy)
                        cur = &p->slots[k];

        for (size_t k = 0; k < p->spec->n_managers; k++) {
                Slot *s = &p->slots[k];
                bool pending;

                if (!s->has_step)
                        continue;
                pending = s->busy || slot_change(s);
                if (slot_stuck(p, s)) {
                        RcAction *a = plan_add(p, RC_ACTION_REPORT, s->lid,
                                               "%s: its recovery has not progressed for %llus (Reconcile.SeatDeadlineSec %llus): %s other managers may be repaired first.",
                                               s->lid, secs(age(p, s->seat->busy_since_usec)),
                                               secs(p->spec->seat_deadline_usec ?: DEFAULT_SEAT_DEADLINE_USEC),
                                               cur == s ? "retrying it, as no other manager needs the slot;" : "no longer holding the slot;");
                        a->seat_pending = a->seat_stuck = true;
                }
                if (slot_change(s) && !cur)
                        cur = s;
                if (slot_change(s) && cur != s) {
                        RcAction *a = plan_add(p, RC_ACTION_WAIT, s->lid, "%s: waits for %s (one manager at a time): %s",
                                               s->lid, cur->lid, rc_action_kind_to_string(s->step.kind));
                        a->seat_pending = true;
                        continue;
                }
                s->step.holds_slot = cur == s;
                s->step.seat_pending = pending;
                plan_push(p, &s->step);
        }
}

/* ---- workers ------------------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x) {
        x ^= x >> 30;
        x *= UINT64_C(0xbf58476d1ce4e5b9);
        x ^= x >> 27;
        x *= UINT64_C(0x94d049bb133111eb);
        return x ^ (x >> 31);
}

static uint64_t hash_str(const char *s) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * UINT64_C(0x100000001b3);
        return mix64(h);
}

static bool worker_live(const RcInstance *i) {
        return i->state == RC_INSTANCE_PENDING || i->state == RC_INSTANCE_RUNNING;
}

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
                                plan_add(p, RC_ACTION_WAIT, NULL, "Worker %s: drain of node %s sent %llus ago.", i->id,
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
                plan_add(p, RC_ACTION_WAIT, NULL, "Worker %s: node %s drained for %llus of %llus.", i->id, node->id,
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
                        plan_add(p, RC_ACTION_WAIT, NULL, "Worker node %s: instance %s is %s: waiting for the node to be Down.",
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

static void plan_workers(Planner *p) {
        const RcObservation *obs = p->obs;
        uint64_t join_timeout = p->spec->join_timeout_usec ?: DEFAULT_JOIN_TIMEOUT_USEC;
        uint64_t gen = 0;
        size_t listed = 0, unlisted = 0, n_live;

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
        for (size_t k = 0; k < obs->n_inflight; k++) {
                const RcInflight *f = &obs->inflight[k];

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

static void plan_rotate(Planner *p) {
        const RcObservation *obs = p->obs;
        uint64_t rotated = obs->tokens_rotated_swarm_usec ?: obs->tokens_rotated_usec;
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
                    !(obs->tokens_rotated_launch_usec ? i->launch_usec > obs->tokens_rotated_launch_usec
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
        for (size_t k = 0; k < obs->n_inflight && !what; k++) {
                const RcInflight *f = &obs->inflight[k];

                if (f->kind == RC_INFLIGHT_LAUNCH && inflight_fresh(p, f) && !(f->instance_id && instance_by_id(p, f->instance_id)))
                        what = f->instance_id ?: "a launched instance";
        }
        if (what) {
                plan_add(p, RC_ACTION_WAIT, NULL, "%s %s used the current join token; rotating it once %s has joined or gone.",
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
                        plan_add(p, RC_ACTION_WAIT, NULL, "The node listing shows no Leader: taking it as partial, changing nothing.");
                        return false;
                }
                if (!self)
                        self = leader->instance_id;
                /* The executor confirmed a majority; the listing must not say otherwise. */
                if (p->raft_members > 0 && !quorum_has_majority(p->raft_reachable, p->raft_members)) {
                        plan_add(p, RC_ACTION_WAIT, NULL,
                                 "The node listing shows only %zu of %zu managers Reachable: no majority, changing nothing.",
                                 p->raft_reachable, p->raft_members);
                        return false;
                }
        }
        if (self) {
                i = instance_by_id(p, self);
                if (!i || i->state == RC_INSTANCE_TERMINATED) {
                        plan_add(p, RC_ACTION_WAIT, NULL,
                                 "The instance listing does not show this agent's own instance %s live: taking it as partial, changing nothing.",
                                 self);
                        return false;
                }
                return true;
        }
        for (size_t k = 0; k < p->spec->n_managers; k++)
                live += p->slots[k].n_present;
        if (live == 0) {
                plan_add(p, RC_ACTION_WAIT, NULL,
                         "The instance listing shows no live manager, not even this agent's: taking it as partial, changing nothing.");
                return false;
        }
        return true;
}


/* ---- modes ------------------------------------------------------------------------------- */

static void plan_quorum_loss(Planner *p) {
        for (size_t k = 0; k < p->spec->n_managers; k++) {
                Slot *s = &p->slots[k];
                const RcInstance *i = s->present[0], *old = s->newest_terminated;
                const RcInflight *f = s->inflight[RC_INFLIGHT_LAUNCH];
                const RcVolume *v = s->vol;
                const RcSubnet *sub;
                char tok[RC_CLIENT_TOKEN_MAX + 1];
                uint64_t gen = 0;
                RcAction *a;

                if (s->n_present > 1) {
                        plan_add(p, RC_ACTION_REPORT, s->lid, "%s: %zu live instances claim it (%s, %s): touching neither.",
                                 s->lid, s->n_present, s->present[0]->id, s->present[1]->id);
                        continue;
                }
                if (s->n_present == 1) {
                        if (i->state == RC_INSTANCE_RUNNING && s->n_good_vol == 1 && v->state == RC_VOLUME_AVAILABLE &&
                            v->n_attached == 0 && (!i->private_ip || streq(i->private_ip, s->lid)) &&
                            !launched_for_seat(p, s, v, i))
                                plan_add(p, RC_ACTION_REPORT, s->lid,
                                         "%s: quorum lost; instance %s runs with its tags, but this cluster did not launch it for it (ClientToken %s): not attaching volume %s.",
                                         s->lid, i->id, i->client_token ?: "none", v->id);
                        else if (i->state == RC_INSTANCE_RUNNING && s->n_good_vol == 1 && v->state == RC_VOLUME_AVAILABLE &&
                            v->n_attached == 0 && (!i->private_ip || streq(i->private_ip, s->lid))) {
                                a = plan_add(p, RC_ACTION_ATTACH_VOLUME, s->lid,
                                             "%s: quorum lost; instance %s runs: attaching its volume %s.", s->lid, i->id,
                                             v->id);
                                a->instance_id = i->id;
                                a->volume_id = v->id;
                        } else if (i->state != RC_INSTANCE_RUNNING)
                                plan_add(p, RC_ACTION_WAIT, s->lid, "%s: quorum lost; instance %s is %s.", s->lid, i->id,
                                         instance_state_name(i->state));
                        continue;
                }
                if (f && !(f->instance_id && listed_terminated(p, f->instance_id))) {
                        plan_add(p, RC_ACTION_WAIT, s->lid, "%s: quorum lost; launched %s %llus ago, not listed yet.",
                                 s->lid, f->instance_id ?: "an instance", secs(age(p, f->since_usec)));
                        continue;
                }
                if (s->n_good_vol != 1) {
                        plan_add(p, RC_ACTION_WAIT, s->lid,
                                 "%s: quorum lost; its volume is %s: replacing it needs a leader.", s->lid,
                                 s->n_good_vol ? "ambiguous" : "lost");
                        continue;
                }
                if (v->state != RC_VOLUME_AVAILABLE || v->n_attached > 0) {
                        plan_add(p, RC_ACTION_WAIT, s->lid, "%s: quorum lost; volume %s is %s: waiting.", s->lid, v->id,
                                 volume_state_name(v->state));
                        continue;
                }
                if (!v->has_state) {
                        /* e.g. created for a fresh join whose host never joined: nothing to
                         * bring back, and a host on it could only start another swarm */
                        plan_add(p, RC_ACTION_WAIT, s->lid,
                                 "%s: quorum lost; volume %s has never held swarm state: re-creating it needs a leader.",
                                 s->lid, v->id);
                        continue;
                }
                sub = slot_subnet(p, s, v);
                if (!sub) {
                        plan_push(p, &s->step);
                        continue;
                }
                if (step_generation(p, s, v, &gen, tok)) {
                        plan_push(p, &s->step);
                        continue;
                }
                if (old)
                        a = plan_add(p, RC_ACTION_LAUNCH_MANAGER, s->lid,
                                     "%s: quorum lost; instance %s is terminated: re-creating it with the same IP and volume %s.",
                                     s->lid, old->id, v->id);
                else
                        a = plan_add(p, RC_ACTION_LAUNCH_MANAGER, s->lid,
                                     "%s: quorum lost; no instance is listed: re-creating it with the same IP and volume %s.",
                                     s->lid, v->id);
                a->private_ip = s->lid;
                a->subnet_id = sub->id;
                a->availability_zone = sub->availability_zone;
                a->volume_id = v->id;
                a->replaces = old ? old->id : v->id; /* for the logs: the token derives from the generation */
                a->join_fresh = false;
                (void) snprintf(a->slot, sizeof(a->slot), "%s", s->lid);
                a->volume_generation = gen;
                memcpy(a->client_token, tok, sizeof(a->client_token));
        }
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

int rc_plan(const RcSpec *spec, const RcObservation *obs, RcPlan *ret) {
        _cleanup_(planner_done) Planner p = {};
        bool quorum_loss;
        int r;

        if (spec_valid(spec) < 0 || !obs || !ret)
                return -EINVAL;
        p.spec = spec;
        p.obs = obs;
        p.now = obs->now_usec;
        p.wall = obs->realtime_usec ?: obs->now_usec;

        r = index_spec(&p);
        if (r < 0)
                return r;

        quorum_loss = obs->self_manager && !obs->leader && obs->no_leader_since_usec != 0 &&
                      obs->now_usec >= obs->no_leader_since_usec &&
                      obs->now_usec - obs->no_leader_since_usec >= spec->quorum_loss_grace_usec;

        if (quorum_loss) {
                if (!obs->instances_ok || !obs->volumes_ok || !obs->subnets_ok)
                        plan_add(&p, RC_ACTION_WAIT, NULL,
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
        } else if (!obs->leader)
                ; /* a follower plans nothing */
        else if (!obs->quorum)
                plan_add(&p, RC_ACTION_WAIT, NULL,
                         "This node is Leader but a majority of managers is not Reachable: changing nothing.");
        else if (!obs->instances_ok || !obs->volumes_ok || !obs->subnets_ok || !obs->nodes_ok)
                plan_add(&p, RC_ACTION_WAIT, NULL, "The%s%s%s%s listing failed or is partial: changing nothing.",
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

        /* The array moved as it grew: point each worker launch at its own generation now. */
        for (size_t i = 0; i < p.n; i++)
                if (p.actions[i].kind == RC_ACTION_LAUNCH_WORKER)
                        p.actions[i].replaces = p.actions[i].generation;

        *ret = (RcPlan) {
                .actions = TAKE_PTR(p.actions),
                .n = p.n,
                .quorum_loss_mode = quorum_loss,
        };
        return 0;
}

void rc_plan_done(RcPlan *p) {
        if (!p)
                return;
        free(p->actions);
        *p = (RcPlan) {};
}
