/* SPDX-License-Identifier: MIT */
/*
 * The planner by tables. Each row starts from one healthy cluster (3 managers, the
 * first of them this agent and Leader; 2 workers), changes what it describes, and
 * states the whole plan as "kind:logical-id …" (WAIT and REPORT included; worker actions
 * have no logical id), plus field checks where the plan alone does not say enough.
 */
#include <errno.h>
#include <stdarg.h>

#include "reconcile.h"
#include "test.h"
#include "util.h"

#define SEC(x) ((uint64_t) (x) * USEC_PER_SEC)
#define NOW SEC(1000000)
#define GRACE SEC(120)
#define QLGRACE SEC(300)
#define STABLE SEC(60)
#define SETTLE SEC(90)
#define DRAIN SEC(60)

#define MAXI 2100
#define M0 "10.0.1.10"
#define M1 "10.0.2.10"
#define M2 "10.0.3.10"

typedef struct World {
        RcSpec spec;
        const char *managers[8];
        RcInstance inst[MAXI];
        size_t n_inst;
        RcVolume vol[16];
        const char *att[16][2];
        size_t n_vol;
        RcSubnet sub[4];
        size_t n_sub;
        RcNode node[MAXI];
        RcNodeStreak streak[MAXI];      /* the memory's streaks of node[i] (issue 15: memory,
                                         * not observation), joined by run() */
        size_t n_node;
        RcInflight fl[8];
        size_t n_fl;
        RcObservation obs;
        RcMemory mem;
        RcPlan plan;
        char names[MAXI][3][24];
        RcSeat seat[8];
        RcVolumeAsked asked[8];         /* what DescribeVolumes by id said (an observation) */
        size_t n_asked;
        size_t n_seat;
        char tokens[32][RC_CLIENT_TOKEN_MAX + 1]; /* seat_token() */
        size_t n_tokens;
        const char *dead[8];
        size_t n_dead;
} World;

static World W;

/* The memory's streaks of the node n points at (in W.node). */
#define MARK(n) (&W.streak[(n) - W.node])

static RcInstance *add_inst(const char *id, RcInstanceState st, const char *role, const char *lid, const char *ip,
                            const char *subnet, uint64_t launch) {
        RcInstance *i = &W.inst[W.n_inst++];
        bool gone = st == RC_INSTANCE_TERMINATED;

        *i = (RcInstance) { .id = id, .state = st, .cluster = "prod", .role = role, .logical_id = lid,
                            .private_ip = gone ? NULL : ip, .subnet_id = gone ? NULL : subnet, .launch_usec = launch };
        return i;
}

static RcVolume *add_vol(const char *id, RcVolumeState st, const char *lid, const char *az, const char *attached) {
        RcVolume *v = &W.vol[W.n_vol];

        W.att[W.n_vol][0] = attached;
        *v = (RcVolume) { .id = id, .state = st, .logical_id = lid, .availability_zone = az,
                          .attached_to = W.att[W.n_vol], .n_attached = attached ? 1 : 0 };
        W.n_vol++;
        return v;
}

static RcNode *add_node(const char *id, const char *lid, const char *instance, bool manager, RcNodeState st,
                        RcReachability reach) {
        RcNode *n = &W.node[W.n_node++];

        *n = (RcNode) { .id = id, .logical_id = lid, .instance_id = instance, .manager = manager, .state = st,
                        .reachability = reach, .availability = "active", .created_usec = NOW - SEC(86400) };
        *MARK(n) = (RcNodeStreak) {
                .healthy_since_usec = st == RC_NODE_READY ? NOW - SEC(3600) : 0,
                .bad_since_usec = st == RC_NODE_DOWN && reach == RC_REACH_UNREACHABLE ? NOW - SEC(3600) : 0,
        };
        return n;
}

static void add_inflight(RcInflightKind kind, const char *lid, const char *instance, const char *volume, uint64_t since) {
        W.fl[W.n_fl++] = (RcInflight) { kind, lid, instance, volume, since };
}

static RcSeat *add_seat(const char *lid, uint64_t busy_since, const char *volume, RcVolumeProbe probe) {
        RcSeat *s = &W.seat[W.n_seat++];

        *s = (RcSeat) { .logical_id = lid, .busy_since_usec = busy_since, .volume_id = volume };
        /* the memory holds the seat's volume id; what EC2 said about it this pass is seen */
        if (volume && probe != RC_VOLUME_PROBE_UNKNOWN)
                W.asked[W.n_asked++] = (RcVolumeAsked) { .volume_id = volume, .probe = probe };
        return s;
}

static const char *name(size_t k, unsigned which, const char *prefix, size_t n) {
        snprintf(W.names[k][which], sizeof(W.names[k][which]), "%s%zu", prefix, n);
        return W.names[k][which];
}

static void add_workers(size_t n, uint64_t launch) {
        static const char *subnets[] = { "subnet-a", "subnet-b", "subnet-c" };

        for (size_t k = 0; k < n; k++) {
                const char *iid = name(k, 0, "i-w", k), *nid = name(k, 1, "n-w", k);
                add_inst(iid, RC_INSTANCE_RUNNING, "worker", NULL, name(k, 2, "10.0.9.", k + 10), subnets[k % 3],
                         launch + SEC(k));
                add_node(nid, NULL, iid, false, RC_NODE_READY, RC_REACH_NONE)->addr = W.names[k][2];
        }
}

/* n managers (3 or 5): i-m<k>, vol-m<k>, n-m<k>, the first one this agent and Leader;
 * then the workers. */
static void world_n(size_t n, unsigned workers) {
        static const char *const ids[] = { "i-m0", "i-m1", "i-m2", "i-m3", "i-m4" },
                                 *const cfn[] = { "cfn-m0", "cfn-m1", "cfn-m2", "cfn-m3", "cfn-m4" },
                                 *const addrs[] = { M0 ":2377", M1 ":2377", M2 ":2377", "10.0.1.11:2377", "10.0.2.11:2377" },
                                 *const vols[] = { "vol-m0", "vol-m1", "vol-m2", "vol-m3", "vol-m4" },
                                 *const nodes[] = { "n-m0", "n-m1", "n-m2", "n-m3", "n-m4" },
                                 *const subs[] = { "subnet-a", "subnet-b", "subnet-c", "subnet-a", "subnet-b" },
                                 *const azs[] = { "az-a", "az-b", "az-c", "az-a", "az-b" },
                                 *const ips[] = { M0, M1, M2, "10.0.1.11", "10.0.2.11" };

        rc_plan_done(&W.plan);
        memset(&W, 0, sizeof(W));
        for (size_t k = 0; k < n; k++)
                W.managers[k] = ips[k];
        W.spec = (RcSpec) { .cluster = "prod", .managers = W.managers, .n_managers = n, .bootstrap = M0,
                            .workers = workers, .grace_usec = GRACE, .quorum_loss_grace_usec = QLGRACE,
                            .stable_usec = STABLE, .launch_settle_usec = SETTLE, .drain_usec = DRAIN };
        W.sub[0] = (RcSubnet) { "subnet-a", "10.0.1.0/24", "az-a" };
        W.sub[1] = (RcSubnet) { "subnet-b", "10.0.2.0/24", "az-b" };
        W.sub[2] = (RcSubnet) { "subnet-c", "10.0.3.0/24", "az-c" };
        W.n_sub = 3;
        for (size_t k = 0; k < n; k++) {
                RcNode *node;

                /* launched before this agent's time (e.g. by the stack): their tokens are not
                 * the seats' (rows that need a seat's token set it) */
                add_inst(ids[k], RC_INSTANCE_RUNNING, "manager", W.managers[k], W.managers[k], subs[k], NOW - SEC(86400))
                        ->client_token = cfn[k];
                /* each volume has held swarm state: its host is a member */
                add_vol(vols[k], RC_VOLUME_IN_USE, W.managers[k], azs[k], ids[k])->has_state = true;
                node = add_node(nodes[k], W.managers[k], ids[k], true, RC_NODE_READY, RC_REACH_REACHABLE);
                node->leader = k == 0;
                node->addr = ips[k];
                node->manager_addr = addrs[k];
        }
        add_workers(workers, NOW - SEC(7200));
        W.obs = (RcObservation) { .now_usec = NOW, .instances_ok = true, .volumes_ok = true, .subnets_ok = true,
                                  .nodes_ok = true, .leader = true, .quorum = true, .self_manager = true,
                                  .self_instance_id = "i-m0" };
        W.mem = (RcMemory) { .tokens_rotated_usec = NOW - SEC(3600) };
}

static void world(unsigned workers) {
        world_n(3, workers);
}

/* Manager k's seat token for generation g (its volume vol-m<k>), kept in W until the
 * next world. */
static const char *seat_token(size_t k, uint64_t g) {
        static const char *const vols[] = { "vol-m0", "vol-m1", "vol-m2", "vol-m3", "vol-m4" };
        char *t = W.tokens[W.n_tokens++ % ELEMENTSOF(W.tokens)];

        CHECK_INT(rc_seat_token("prod", W.managers[k], vols[k], g, t, RC_CLIENT_TOKEN_MAX + 1), 0);
        return t;
}

/* Manager k's instance terminated (EC2 drops its IP and subnet), its volume detached. */
static void lose(size_t k) {
        W.inst[k].state = RC_INSTANCE_TERMINATED;
        W.inst[k].private_ip = NULL;
        W.inst[k].subnet_id = NULL;
        W.vol[k].state = RC_VOLUME_AVAILABLE;
        W.vol[k].n_attached = 0;
        W.node[k].state = RC_NODE_DOWN;
        W.node[k].reachability = RC_REACH_UNREACHABLE;
        W.streak[k].healthy_since_usec = 0;
        W.streak[k].bad_since_usec = NOW - SEC(600);
}

static void quorum_loss(void) {
        W.obs.leader = false;
        W.obs.quorum = false;
        W.obs.nodes_ok = false;
        W.mem.no_leader_since_usec = NOW - QLGRACE - SEC(1);
}

static int run(void) {
        rc_plan_done(&W.plan);
        W.obs.instances = W.inst, W.obs.n_instances = W.n_inst;
        W.obs.volumes = W.vol, W.obs.n_volumes = W.n_vol;
        W.obs.subnets = W.sub, W.obs.n_subnets = W.n_sub;
        W.obs.nodes = W.node, W.obs.n_nodes = W.n_node;
        for (size_t i = 0; i < W.n_node; i++)
                W.streak[i].node_id = W.node[i].id;
        W.mem.streaks = W.streak, W.mem.n_streaks = W.n_node;
        W.mem.inflight = W.fl, W.mem.n_inflight = W.n_fl;
        W.mem.seats = W.seat, W.mem.n_seats = W.n_seat;
        W.obs.volumes_asked = W.asked, W.obs.n_volumes_asked = W.n_asked;
        W.mem.dead_client_tokens = W.dead, W.mem.n_dead_client_tokens = W.n_dead;
        return rc_plan(&W.spec, &W.obs, &W.mem, &W.plan);
}

static const char *signature(void) {
        static char buf[4096];
        size_t l = 0;

        buf[0] = 0;
        for (size_t i = 0; i < W.plan.n && l < sizeof(buf) - 64; i++) {
                const RcAction *a = &W.plan.actions[i];
                l += (size_t) snprintf(buf + l, sizeof(buf) - l, "%s%s%s%s", i ? " " : "", rc_action_kind_to_string(a->kind),
                                       a->logical_id ? ":" : "", a->logical_id ?: "");
        }
        return buf;
}

static const RcAction *find(RcActionKind kind, size_t nth) {
        for (size_t i = 0; i < W.plan.n; i++)
                if (W.plan.actions[i].kind == kind && nth-- == 0)
                        return &W.plan.actions[i];
        return NULL;
}

/* ---- the rows ------------------------------------------------------------------------- */

static void r_healthy(void) { world(2); }
static void r_not_leader(void) { world(2); lose(1); W.obs.leader = false; W.mem.no_leader_since_usec = 0; }
static void r_follower_no_leader_under_grace(void) { world(2); lose(1); quorum_loss(); W.mem.no_leader_since_usec = NOW - QLGRACE + SEC(1); }
static void r_leader_no_quorum(void) { world(2); lose(1); W.obs.quorum = false; }
static void r_instances_failed(void) { world(2); lose(1); W.obs.instances_ok = false; }
static void r_instances_partial(void) { world(2); W.n_inst = 1; W.obs.instances_ok = false; }
static void r_volumes_failed(void) { world(2); lose(1); W.obs.volumes_ok = false; }
static void r_subnets_failed(void) { world(2); lose(1); W.obs.subnets_ok = false; }
static void r_nodes_failed(void) { world(2); lose(1); W.obs.nodes_ok = false; }
static void r_workers_listing_failed(void) { world(0); W.spec.workers = 5; W.obs.instances_ok = false; }

static void r_instances_empty(void) { world(2); lose(1); W.n_inst = 0; }
static void r_volumes_empty(void) { world(2); lose(1); W.n_vol = 0; }
static void r_volumes_empty_fresh_leader(void) { r_volumes_empty(); W.obs.self_instance_id = NULL; }
static void r_self_not_listed(void) { world(2); lose(1); W.obs.self_instance_id = "i-self"; }
static void r_self_terminated(void) { world(2); lose(1); W.inst[0].state = RC_INSTANCE_TERMINATED; }
static void r_self_volume_missing(void) { world(2); lose(1); W.vol[0].logical_id = NULL; }
static void r_self_by_leader_label(void) { world(2); lose(1); W.obs.self_instance_id = NULL; }
static void r_self_by_leader_label_missing(void) { r_self_by_leader_label(); W.node[0].instance_id = "i-gone"; }
static void r_self_unknown_some_live(void) { r_self_by_leader_label(); W.node[0].instance_id = NULL; }
static void r_self_unknown_none_live(void) { world(2); W.obs.self_instance_id = NULL; W.node[0].instance_id = NULL; W.n_inst = 0; W.spec.workers = 0; }
static void r_no_leader_node(void) { world(2); lose(1); W.node[0].leader = false; }
static void r_missing(void) { world(2); lose(1); }
static void c_missing(void) {
        const RcAction *a = find(RC_ACTION_LAUNCH_MANAGER, 0);
        char tok[RC_CLIENT_TOKEN_MAX + 1];

        CHECK(a);
        if (!a)
                return;
        CHECK_STR(a->private_ip, M1);
        CHECK_STR(a->subnet_id, "subnet-b");
        CHECK_STR(a->availability_zone, "az-b");
        CHECK_STR(a->volume_id, "vol-m1");
        CHECK_STR(a->replaces, "i-m1");
        CHECK_STR(a->slot, M1);
        CHECK(!a->join_fresh);
        CHECK(a->destructive);
        /* the token derives from the volume and its generation, not from what it replaces */
        CHECK_INT(rc_seat_token("prod", M1, "vol-m1", 0, tok, sizeof(tok)), 0);
        CHECK_STR(a->client_token, tok);
        CHECK(a->volume_generation == 0);
        CHECK(!W.plan.quorum_loss_mode);
}
static void r_missing_no_instance_at_all(void) { world(2); lose(1); W.inst[1].cluster = "other"; }
static void c_missing_no_instance_at_all(void) {
        const RcAction *a = find(RC_ACTION_LAUNCH_MANAGER, 0);
        CHECK(a && streq(a->replaces, "vol-m1") && !a->join_fresh);
}
static void r_missing_replaces_newest(void) {
        world(2); lose(1);
        add_inst("i-m1b", RC_INSTANCE_TERMINATED, "manager", M1, NULL, NULL, NOW - SEC(600));
        add_inst("i-m1a", RC_INSTANCE_TERMINATED, "manager", M1, NULL, NULL, NOW - SEC(900));
}
static void c_missing_replaces_newest(void) {
        const RcAction *a = find(RC_ACTION_LAUNCH_MANAGER, 0);
        CHECK(a && streq(a->replaces, "i-m1b"));
}
static void r_ip_held(void) { world(2); lose(1); add_inst("i-h", RC_INSTANCE_RUNNING, "worker", NULL, M1, "subnet-b", NOW); }
static void r_ip_held_untagged(void) { world(2); lose(1); add_inst("i-h", RC_INSTANCE_STOPPED, NULL, NULL, M1, "subnet-b", NOW); }
static void r_volume_in_use(void) { world(2); lose(1); W.vol[1].state = RC_VOLUME_IN_USE; W.vol[1].n_attached = 1; }
static void r_volume_creating(void) { world(2); lose(1); W.vol[1].state = RC_VOLUME_CREATING; }
static void r_pending(void) { world(2); W.inst[1].state = RC_INSTANCE_PENDING; }
static void r_shutting_down(void) { world(2); lose(1); W.inst[1].state = RC_INSTANCE_SHUTTING_DOWN; W.inst[1].private_ip = M1; }
static void r_stopping(void) { world(2); lose(1); W.inst[1].state = RC_INSTANCE_STOPPING; W.inst[1].private_ip = M1; }
static void r_stopped(void) { world(2); lose(1); W.inst[1].state = RC_INSTANCE_STOPPED; W.inst[1].private_ip = M1; }
static void r_two_lost(void) { world_n(5, 2); lose(1); lose(2); }
static void r_two_lost_second_busy(void) { r_two_lost(); W.vol[2].state = RC_VOLUME_IN_USE; W.vol[2].n_attached = 1; }
static void r_no_majority_in_listing(void) { world(2); lose(1); lose(2); }
static void c_two_lost_second_busy(void) {
        const RcAction *a = find(RC_ACTION_WAIT, 0);
        CHECK(a && strstr(a->reason, M2) && strstr(a->reason, "one manager at a time"));
}
static void r_busy_blocks_fence(void) {
        world(2);
        W.streak[1].healthy_since_usec = NOW - SEC(10); /* back, not stable yet */
        W.node[2].state = RC_NODE_DOWN, W.node[2].reachability = RC_REACH_UNREACHABLE;
        W.streak[2].healthy_since_usec = 0, W.streak[2].bad_since_usec = NOW - GRACE - SEC(1);
}
static void r_inflight_launch(void) {
        world(2); lose(1);
        add_inflight(RC_INFLIGHT_LAUNCH, M1, "i-new", NULL, NOW - SEC(20));
}
static void r_inflight_launch_old(void) {
        world(2); lose(1);
        add_inflight(RC_INFLIGHT_LAUNCH, M1, "i-new", NULL, NOW - SETTLE - SEC(1));
}
static void r_inflight_launch_terminated(void) {
        world(2); lose(1);
        add_inst("i-new", RC_INSTANCE_TERMINATED, "manager", M1, NULL, NULL, NOW - SEC(20));
        add_inflight(RC_INFLIGHT_LAUNCH, M1, "i-new", NULL, NOW - SEC(20));
}
static void c_inflight_launch_terminated(void) {
        const RcAction *a = find(RC_ACTION_LAUNCH_MANAGER, 0);
        CHECK(a && streq(a->replaces, "i-new"));
}
/* Our replacement (the seat's token) runs without its volume. */
static void r_attach(void) {
        world(2);
        W.vol[1].state = RC_VOLUME_AVAILABLE; W.vol[1].n_attached = 0; W.node[1].instance_id = "i-old"; W.node[1].state = RC_NODE_DOWN;
        W.inst[1].client_token = seat_token(1, 0);
}
static void c_attach(void) {
        const RcAction *a = find(RC_ACTION_ATTACH_VOLUME, 0);
        CHECK(a && streq(a->volume_id, "vol-m1") && streq(a->instance_id, "i-m1"));
}
static void r_attach_inflight(void) { r_attach(); add_inflight(RC_INFLIGHT_ATTACH, M1, "i-m1", "vol-m1", NOW - SEC(5)); }
static void r_waiting_for_node(void) { world(2); W.node[1].instance_id = "i-old"; W.inst[1].launch_usec = NOW - SEC(30); }
static void r_in_use_no_attachment_info(void) { world(2); W.vol[1].n_attached = 0; }
static void r_attached_elsewhere(void) { world(2); W.att[1][0] = "i-other"; }
static void r_stuck_replacement(void) { r_waiting_for_node(); W.inst[1].launch_usec = NOW - SEC(16 * 60); lose(2); }
static void r_young_replacement_blocks(void) { r_stuck_replacement(); W.inst[1].launch_usec = NOW - SEC(60); }
static void r_not_stable(void) { world(2); W.streak[1].healthy_since_usec = NOW - SEC(10); }
/* Right after an election: M1's node "unknown" to the new leader but Reachable, stable
 * before; M2 lost: re-created at once. Without that history M1 counts as busy. */
static void r_unknown_after_election(void) {
        world(2);
        lose(2);
        W.node[1].state = RC_NODE_UNKNOWN;
}
static void r_unknown_no_history(void) { r_unknown_after_election(); W.streak[1].healthy_since_usec = 0; }
static void r_unknown_unreachable(void) { r_unknown_after_election(); W.node[1].reachability = RC_REACH_UNREACHABLE; }

static void r_fence(void) {
        world(2);
        W.node[1].state = RC_NODE_DOWN, W.node[1].reachability = RC_REACH_UNREACHABLE;
        W.streak[1].healthy_since_usec = 0, W.streak[1].bad_since_usec = NOW - GRACE - SEC(1);
}
static void c_fence(void) {
        const RcAction *a = find(RC_ACTION_FENCE, 0);
        CHECK(a && streq(a->instance_id, "i-m1") && streq(a->node_id, "n-m1") && a->destructive);
}
static void r_fence_young_instance(void) { r_fence(); W.inst[1].launch_usec = NOW - GRACE + SEC(5); W.mem.tokens_rotated_usec = NOW - SEC(30); }
static void r_missing_node_still_alive(void) { world(2); lose(1); W.node[1].state = RC_NODE_READY, W.node[1].reachability = RC_REACH_REACHABLE; }
static void r_missing_node_down_reachable(void) { world(2); lose(1); W.node[1].reachability = RC_REACH_REACHABLE; }
/* Reachable, and its node names no instance EC2 calls terminated: wait for Swarm. */
static void r_missing_alive_unlabelled(void) { r_missing_node_still_alive(); W.node[1].instance_id = NULL; }
static void r_missing_alive_unknown_instance(void) { r_missing_node_still_alive(); W.node[1].instance_id = "i-m1new"; }
static void r_fence_within_grace(void) { r_fence(); W.streak[1].bad_since_usec = NOW - GRACE + SEC(1); }
static void r_fence_no_bad_since(void) { r_fence(); W.streak[1].bad_since_usec = 0; }
static void r_fence_inflight(void) { r_fence(); add_inflight(RC_INFLIGHT_FENCE, M1, "i-m1", NULL, NOW - SEC(5)); }
static void r_down_reachable(void) {
        world(2);
        W.node[1].state = RC_NODE_DOWN, W.node[1].reachability = RC_REACH_REACHABLE;
        W.streak[1].healthy_since_usec = 0, W.streak[1].bad_since_usec = 0;
}
static void r_no_fence_of_new_instance(void) {
        /* The replacement runs with the volume; the old node (labelled with the old
         * instance) is still Down and Unreachable since long ago: never fence i-m1new. */
        world(2); lose(1);
        add_inst("i-m1new", RC_INSTANCE_RUNNING, "manager", M1, M1, "subnet-b", NOW - SEC(30));
        W.vol[1].state = RC_VOLUME_IN_USE, W.att[1][0] = "i-m1new", W.vol[1].n_attached = 1;
        W.streak[1].bad_since_usec = NOW - SEC(3600);
}
static void r_stale_node_same_label(void) {
        /* The engine left and joined again as n-m1b; the old n-m1 (same label) is dead. */
        r_fence();
        add_node("n-m1b", M1, "i-m1", true, RC_NODE_READY, RC_REACH_REACHABLE);
}
static void r_stale_node_same_label_first(void) {
        world(2);
        W.node[1].id = "n-m1b"; /* the healthy one first in the listing */
        MARK(add_node("n-m1", M1, "i-m1", true, RC_NODE_DOWN, RC_REACH_UNREACHABLE))->bad_since_usec = NOW - SEC(3600);
}
static void r_two_dead_nodes_same_label(void) {
        world_n(5, 2);
        W.node[1].state = RC_NODE_DOWN, W.node[1].reachability = RC_REACH_UNREACHABLE;
        W.streak[1].healthy_since_usec = 0, W.streak[1].bad_since_usec = NOW - GRACE - SEC(1);
        add_node("n-m1b", M1, "i-m1", true, RC_NODE_DOWN, RC_REACH_UNREACHABLE);
}
static void r_mislabelled_healthy_node(void) { r_two_dead_nodes_same_label(); W.node[W.n_node - 1].logical_id = M2, W.node[W.n_node - 1].state = RC_NODE_READY, W.node[W.n_node - 1].reachability = RC_REACH_REACHABLE; }
static void r_no_fence_unlabelled(void) { r_fence(); W.node[1].instance_id = NULL; }

static void r_two_live(void) {
        world(2);
        add_inst("i-m1x", RC_INSTANCE_RUNNING, "manager", M1, "10.0.2.77", "subnet-b", NOW - SEC(30));
        W.node[1].state = RC_NODE_DOWN, W.node[1].reachability = RC_REACH_UNREACHABLE;
        W.streak[1].bad_since_usec = NOW - SEC(3600);
}
static void r_drift_ip(void) { world(2); W.inst[1].private_ip = "10.0.2.99"; }
static void r_drift_unknown_lid(void) { world(2); add_inst("i-x", RC_INSTANCE_RUNNING, "manager", "10.0.7.7", "10.0.7.7", "subnet-x", NOW); }
static void r_drift_no_role(void) { world(2); add_inst("i-y", RC_INSTANCE_RUNNING, NULL, M1, "10.0.2.50", "subnet-b", NOW); }
static void r_drift_other_role(void) { world(2); add_inst("i-z", RC_INSTANCE_RUNNING, "bastion", NULL, "10.0.1.50", "subnet-a", NOW); }
static void r_drift_terminated_unknown(void) { world(2); add_inst("i-x", RC_INSTANCE_TERMINATED, "manager", "10.0.7.7", NULL, NULL, NOW); }
static void r_drift_unknown_volume(void) { world(2); add_vol("vol-x", RC_VOLUME_AVAILABLE, "10.0.7.7", "az-a", NULL); }
static void r_root_volume_ignored(void) { world(2); add_vol("vol-root", RC_VOLUME_IN_USE, NULL, "az-a", "i-m0"); }
static void r_drift_unknown_node(void) { world(2); add_node("n-x", "10.0.7.7", "i-x", true, RC_NODE_READY, RC_REACH_REACHABLE); }
static void r_other_cluster_ignored(void) {
        world(2);
        add_inst("i-o", RC_INSTANCE_RUNNING, "manager", "10.0.7.7", "10.0.7.7", "subnet-a", NOW)->cluster = "staging";
}
static void r_two_volumes(void) { world(2); lose(1); add_vol("vol-m1b", RC_VOLUME_AVAILABLE, M1, "az-b", NULL); }
static void r_no_subnet(void) { world(2); lose(1); W.sub[1].cidr = "10.0.22.0/24"; }
static void r_reserved_ip(void) {
        world(2); lose(1);
        W.managers[1] = "10.0.2.3"; W.inst[1].logical_id = W.vol[1].logical_id = W.node[1].logical_id = "10.0.2.3";
        W.node[1].addr = "10.0.2.3", W.node[1].manager_addr = "10.0.2.3:2377";
}
static void r_az_mismatch(void) { world(2); lose(1); W.vol[1].availability_zone = "az-a"; }

/* volume lost: demote → gone from Raft → remove → create → fresh launch */
static void r_vl_demote(void) { world(2); lose(1); W.vol[1].state = RC_VOLUME_DELETED; }
static void c_vl_demote(void) {
        const RcAction *a = find(RC_ACTION_DEMOTE, 0);
        CHECK(a && streq(a->node_id, "n-m1") && a->destructive);
}
/* Nothing tagged for it in the listing: lost only on EC2's word about its volume id. */
static void r_vl_absent(void) { world(2); lose(1); W.vol[1].logical_id = NULL; }
static void r_vl_untagged_exists(void) { r_vl_absent(); add_seat(M1, 0, "vol-m1", RC_VOLUME_PROBE_EXISTS); }
static void r_vl_probe_unknown(void) { r_vl_absent(); add_seat(M1, 0, "vol-m1", RC_VOLUME_PROBE_UNKNOWN); }
static void r_vl_not_found(void) { r_vl_absent(); add_seat(M1, 0, "vol-m1", RC_VOLUME_PROBE_NOT_FOUND); }
static void r_vl_probe_error(void) { r_vl_absent(); add_seat(M1, 0, "vol-m1", RC_VOLUME_PROBE_ERROR); }
static void r_vl_not_found_no_id(void) { r_vl_absent(); add_seat(M1, 0, NULL, RC_VOLUME_PROBE_NOT_FOUND); }
static void r_vl_error(void) { world(2); lose(1); W.vol[1].state = RC_VOLUME_ERROR; }
static void r_vl_demoted_in_raft(void) { r_vl_demote(); W.node[1].manager = false; }
static void r_vl_remove(void) { r_vl_demoted_in_raft(); W.node[1].reachability = RC_REACH_NONE; }
static void c_vl_remove(void) {
        const RcAction *a = find(RC_ACTION_REMOVE_NODE, 0);
        CHECK(a && streq(a->node_id, "n-m1"));
}
static void r_vl_remove_not_down(void) { r_vl_remove(); W.node[1].state = RC_NODE_READY; }
static void r_vl_create(void) { r_vl_demote(); W.node[1].logical_id = NULL; W.node[1].id = NULL; }
static void c_vl_create(void) {
        const RcAction *a = find(RC_ACTION_CREATE_VOLUME, 0);
        char tok[RC_CLIENT_TOKEN_MAX + 1];

        CHECK(a && streq(a->availability_zone, "az-b") && streq(a->replaces, "i-m1") && streq(a->slot, "volume-" M1));
        CHECK_INT(rc_client_token("prod", "volume-" M1, "i-m1", tok, sizeof(tok)), 0);
        CHECK(a && streq(a->client_token, tok));
}
static void r_vl_create_inflight(void) { r_vl_create(); add_inflight(RC_INFLIGHT_CREATE_VOLUME, M1, NULL, "vol-new", NOW - SEC(3)); }
static void r_vl_fresh_launch(void) { r_vl_create(); add_vol("vol-new", RC_VOLUME_AVAILABLE, M1, "az-b", NULL); }
static void c_vl_fresh_launch(void) {
        const RcAction *a = find(RC_ACTION_LAUNCH_MANAGER, 0);
        CHECK(a && a->join_fresh && streq(a->volume_id, "vol-new") && streq(a->replaces, "i-m1"));
}
static void r_vl_no_launch_while_member(void) {
        /* A new volume exists but the old member is still in Raft: never join before it is gone. */
        r_vl_demoted_in_raft();
        add_vol("vol-new", RC_VOLUME_AVAILABLE, M1, "az-b", NULL);
}
static void r_vl_would_cost_quorum(void) {
        /* Executor said quorum, the listing shows 1 of 3 reachable: nothing at all. */
        r_vl_demote();
        W.node[2].state = RC_NODE_DOWN, W.node[2].reachability = RC_REACH_UNREACHABLE;
        W.streak[2].healthy_since_usec = 0, W.streak[2].bad_since_usec = NOW - SEC(10);
}
static void r_vl_reachable(void) { r_vl_demote(); W.node[1].reachability = RC_REACH_REACHABLE; }
static void r_vl_running(void) { world(2); W.vol[1].state = RC_VOLUME_DELETED; }

/* deadlines: a manager whose recovery cannot progress releases the one-at-a-time slot
 * after Reconcile.SeatDeadlineSec (default 300 s), so a second dead one is re-created */
#define STUCK (NOW - SEC(301))
static void r_stuck_launch(void) { r_two_lost(); add_seat(M1, STUCK, NULL, 0); }
static void r_stuck_launch_in_time(void) { r_two_lost(); add_seat(M1, NOW - SEC(200), NULL, 0); }
static void r_stuck_launch_alone(void) { world(2); lose(1); add_seat(M1, STUCK, NULL, 0); }
static void r_stuck_shutting_down(void) {
        r_two_lost(); W.inst[1].state = RC_INSTANCE_SHUTTING_DOWN; W.inst[1].private_ip = M1;
        add_seat(M1, STUCK, NULL, 0);
}
static void r_stuck_shutting_down_in_time(void) { r_stuck_shutting_down(); W.seat[0].busy_since_usec = NOW - SEC(60); }
static void r_stuck_detach(void) { r_two_lost(); W.vol[1].state = RC_VOLUME_IN_USE; W.vol[1].n_attached = 1; add_seat(M1, STUCK, NULL, 0); }
static void r_stuck_second_waits(void) { r_stuck_detach(); W.spec.seat_deadline_usec = SEC(600); }
static void c_stuck(void) {
        const RcAction *r = find(RC_ACTION_REPORT, 0), *l = find(RC_ACTION_LAUNCH_MANAGER, 0);
        CHECK(r && r->seat_stuck && r->seat_pending && streq(r->logical_id, M1));
        CHECK(l && streq(l->logical_id, M2) && l->holds_slot && l->seat_pending);
}
static void c_holds(void) {
        const RcAction *a = find(RC_ACTION_WAIT, 0), *b = find(RC_ACTION_WAIT, 1);
        CHECK(a && streq(a->logical_id, M1) && a->holds_slot && a->seat_pending);
        CHECK(b && streq(b->logical_id, M2) && !b->holds_slot && b->seat_pending);
}

/* quorum-loss mode */
static void r_ql_relaunch(void) { world(2); lose(1); lose(2); quorum_loss(); }
static void c_ql_relaunch(void) {
        const RcAction *a = find(RC_ACTION_LAUNCH_MANAGER, 1);
        CHECK(W.plan.quorum_loss_mode);
        CHECK(a && streq(a->replaces, "i-m2") && !a->join_fresh && streq(a->volume_id, "vol-m2"));
}
static void r_ql_never_fences(void) {
        r_fence(); quorum_loss(); W.obs.nodes_ok = true; W.spec.workers = 5;
}
static void r_ql_volume_lost(void) { r_vl_demote(); quorum_loss(); }
/* Its terminated instance aged out of the listing: the volume has held state, that is enough. */
static void r_ql_instance_aged_out(void) { world(2); lose(1); W.inst[1].cluster = "other"; quorum_loss(); }
static void r_ql_not_manager(void) { r_ql_relaunch(); W.obs.self_manager = false; }
static void r_ql_under_grace(void) { r_ql_relaunch(); W.mem.no_leader_since_usec = NOW - QLGRACE + SEC(1); }
static void r_ql_listing_failed(void) { r_ql_relaunch(); W.obs.volumes_ok = false; }
static void r_ql_attach(void) {
        world(2); quorum_loss();
        W.vol[1].state = RC_VOLUME_AVAILABLE, W.vol[1].n_attached = 0;
        W.inst[1].client_token = seat_token(1, 0);
}
static void r_ql_inflight(void) { r_ql_relaunch(); add_inflight(RC_INFLIGHT_LAUNCH, M1, "i-new", NULL, NOW - SEC(5)); }
static void r_ql_empty_listing(void) { r_ql_relaunch(); W.n_inst = 0; W.n_vol = 0; }
static void r_ql_self_unknown(void) { r_ql_relaunch(); W.obs.self_instance_id = NULL; }
static void r_ql_self_unknown_empty(void) { r_ql_self_unknown(); W.n_vol = 0; }
static void r_ql_self_unknown_no_instances(void) { r_ql_self_unknown(); W.n_inst = 0; }
static void r_ql_in_use(void) { r_ql_relaunch(); W.vol[1].state = RC_VOLUME_IN_USE, W.vol[1].n_attached = 1; }

/* growing a new cluster from its bootstrap manager */
static void r_grow(void) {
        world(0);
        for (size_t k = 1; k < 3; k++) {
                W.inst[k].cluster = "other"; /* out of the listing */
                W.vol[k].state = RC_VOLUME_AVAILABLE, W.vol[k].n_attached = 0;
                W.vol[k].has_state = false; /* made by the stack, never joined */
                W.node[k].id = NULL;
        }
}
static void c_grow(void) {
        const RcAction *a = find(RC_ACTION_LAUNCH_MANAGER, 0);
        CHECK(a && a->join_fresh && streq(a->replaces, "vol-m1") && streq(a->volume_id, "vol-m1"));
}
static void r_grow_no_volumes(void) { r_grow(); W.vol[1].logical_id = W.vol[2].logical_id = NULL; }
static void r_grow_pending(void) {
        r_grow();
        add_inst("i-g1", RC_INSTANCE_PENDING, "manager", M1, M1, "subnet-b", NOW - SEC(10));
}
static void r_grow_joined_rotate(void) {
        r_grow();
        W.inst[1].cluster = "prod", W.inst[1].launch_usec = NOW - SEC(100);
        W.vol[1].state = RC_VOLUME_IN_USE, W.vol[1].n_attached = 1;
        W.node[1].id = "n-m1", W.node[1].created_usec = NOW - SEC(20), W.streak[1].healthy_since_usec = NOW - SEC(20);
}
static void r_rotate_waits_for_pending(void) {
        r_grow_joined_rotate();
        W.spec.workers = 1;
        add_inst("i-w9", RC_INSTANCE_PENDING, "worker", NULL, "10.0.1.99", "subnet-a", NOW - SEC(15));
}
static void r_rotate_after_join_timeout(void) {
        r_rotate_waits_for_pending();
        W.inst[W.n_inst - 1].launch_usec = NOW - SEC(3600);
        W.mem.tokens_rotated_usec = NOW - SEC(7200);
}
static void r_no_rotate_unknown_created(void) { r_grow_joined_rotate(); W.node[1].created_usec = 0; W.inst[1].launch_usec = NOW - SEC(4000); }

/* workers */
static void r_workers_launch(void) { world(0); W.spec.workers = 4; add_workers(1, NOW - SEC(7200)); }
static void c_workers_launch(void) {
        const RcAction *a = find(RC_ACTION_LAUNCH_WORKER, 0), *b = find(RC_ACTION_LAUNCH_WORKER, 1),
                       *c = find(RC_ACTION_LAUNCH_WORKER, 2);
        char tok[RC_CLIENT_TOKEN_MAX + 1];

        CHECK(a && b && c);
        if (!a || !b || !c)
                return;
        /* i-w0 is in subnet-a: the three launches go to b, c, then a */
        CHECK_STR(a->subnet_id, "subnet-b");
        CHECK_STR(b->subnet_id, "subnet-c");
        CHECK_STR(c->subnet_id, "subnet-a");
        CHECK_STR(a->slot, "worker-0");
        CHECK_STR(b->slot, "worker-1");
        /* issue 15: no interior pointer: the generation is the worker launch's own field */
        CHECK(a->replaces == NULL && startswith(a->generation, "gen-"));
        /* a worker keeps no state: it always joins fresh (its token in its user-data) */
        CHECK(a->join_fresh && b->join_fresh && c->join_fresh);
        CHECK(strcmp(a->client_token, b->client_token) != 0 && strcmp(b->client_token, c->client_token) != 0);
        CHECK_INT(rc_client_token("prod", "worker-0", a->generation, tok, sizeof(tok)), 0);
        CHECK_STR(a->client_token, tok);
}
static void r_workers_inflight(void) {
        world(2); W.n_inst--; W.n_node--;
        add_inflight(RC_INFLIGHT_LAUNCH, NULL, "i-w1", NULL, NOW - SEC(5));
}
static void r_workers_inflight_no_removal(void) { r_workers_inflight(); add_inst("i-w1", RC_INSTANCE_RUNNING, "worker", NULL, "10.0.9.11", "subnet-b", NOW - SEC(600)); W.fl[0].instance_id = "i-w9"; }
static void r_workers_drain(void) { world(3); W.spec.workers = 2; }
static void c_workers_drain(void) {
        const RcAction *a = find(RC_ACTION_DRAIN_WORKER, 0);
        CHECK(a && streq(a->node_id, "n-w2") && streq(a->instance_id, "i-w2")); /* the newest */
}
static void r_workers_drain_inflight(void) { r_workers_drain(); add_inflight(RC_INFLIGHT_DRAIN, NULL, "i-w2", NULL, NOW - SEC(2)); }
static void r_workers_drained_wait(void) { r_workers_drain(); W.node[5].availability = "drain"; W.streak[5].drained_since_usec = NOW - SEC(10); }
static void r_workers_drained_terminate(void) { r_workers_drained_wait(); W.streak[5].drained_since_usec = NOW - DRAIN; }
static void c_workers_terminate(void) {
        const RcAction *a = find(RC_ACTION_TERMINATE_WORKER, 0);
        CHECK(a && streq(a->instance_id, "i-w2"));
}
static void r_workers_drained_by_inflight(void) {
        r_workers_drain(); W.node[5].availability = "drain";
        add_inflight(RC_INFLIGHT_DRAIN, NULL, "i-w2", NULL, NOW - DRAIN - SETTLE);
}
static void r_workers_prefer_drained(void) { r_workers_drain(); W.node[3].availability = "drain"; W.streak[3].drained_since_usec = NOW - SEC(5); }
static void r_workers_never_joined(void) { r_workers_drain(); W.n_node--; /* n-w2 */ }
static void r_workers_remove_dead_node(void) {
        world(2);
        W.inst[4].state = RC_INSTANCE_TERMINATED;
        W.node[4].state = RC_NODE_DOWN;
        add_inst("i-w5", RC_INSTANCE_RUNNING, "worker", NULL, "10.0.9.50", "subnet-b", NOW - SEC(4000));
        add_node("n-w5", NULL, "i-w5", false, RC_NODE_READY, RC_REACH_NONE);
}
static void r_workers_dead_node_not_down(void) { r_workers_remove_dead_node(); W.node[4].state = RC_NODE_READY; }
static void r_workers_node_instance_gone(void) { r_workers_remove_dead_node(); W.inst[4].cluster = "other"; }
static void r_workers_stopped(void) { world(2); W.inst[4].state = RC_INSTANCE_STOPPED; }
static void r_workers_node_is_manager(void) { r_workers_drain(); W.node[5].manager = true, W.node[5].reachability = RC_REACH_REACHABLE; }

/* ---- issue 14: identity proven, state marked, generations, addresses ---------------------- */

/* Someone launched an instance into M1's freed address and tagged it as M1's manager. */
static void r_impostor(void) {
        world(2); lose(1);
        add_inst("i-imp", RC_INSTANCE_RUNNING, "manager", M1, M1, "subnet-b", NOW - SEC(200))->client_token = "sk-not-ours";
}
static void r_impostor_no_token(void) { r_impostor(); W.inst[W.n_inst - 1].client_token = NULL; }
/* The old token (generation 0, used by i-m1, now terminated): not the seat's any more. */
static void r_impostor_old_token(void) {
        r_impostor();
        W.inst[1].client_token = seat_token(1, 0);
        W.vol[1].generation = 1;
        W.inst[W.n_inst - 1].client_token = seat_token(1, 0);
}
static void r_ql_impostor(void) {
        r_ql_relaunch();
        add_inst("i-imp", RC_INSTANCE_RUNNING, "manager", M1, M1, "subnet-b", NOW - SEC(200))->client_token = "sk-not-ours";
}
/* Our own launch, in flight, its token not listed (yet): attached. */
static void r_attach_inflight_launch(void) {
        r_attach();
        W.inst[1].client_token = NULL;
        add_inflight(RC_INFLIGHT_LAUNCH, M1, "i-m1", "vol-m1", NOW - SEC(30));
}
/* Launched with generation 1's token while the volume listing still shows 0. */
static void r_attach_next_generation(void) { r_attach(); W.inst[1].client_token = seat_token(1, 1); }
static void r_attach_far_generation(void) { r_attach(); W.inst[1].client_token = seat_token(1, RC_GENERATION_LOOKAHEAD + 1); }

/* Generations: M1's instance, launched with the seat's token, is terminated. */
static void r_gen_bump(void) { world(2); lose(1); W.inst[1].client_token = seat_token(1, 0); }
static void c_gen_bump(void) {
        const RcAction *a = find(RC_ACTION_SET_GENERATION, 0);
        CHECK(a && streq(a->volume_id, "vol-m1") && a->volume_generation == 1 && a->destructive);
}
static void r_gen_bumped(void) { r_gen_bump(); W.vol[1].generation = 1; }
static void c_gen_bumped(void) {
        const RcAction *a = find(RC_ACTION_LAUNCH_MANAGER, 0);
        char t0[RC_CLIENT_TOKEN_MAX + 1], t1[RC_CLIENT_TOKEN_MAX + 1];

        CHECK_INT(rc_seat_token("prod", M1, "vol-m1", 0, t0, sizeof(t0)), 0);
        CHECK_INT(rc_seat_token("prod", M1, "vol-m1", 1, t1, sizeof(t1)), 0);
        CHECK(a && a->volume_generation == 1 && streq(a->client_token, t1) && !streq(a->client_token, t0));
}
/* EC2 no longer lists i-m1 (an hour later), but RunInstances said its token's instance is
 * terminated (IdempotentInstanceTerminated): the generation moves on, the token never repeats. */
static void r_gen_aged_out(void) {
        r_gen_bump();
        W.inst[1].cluster = "other"; /* out of the listing */
        W.dead[W.n_dead++] = seat_token(1, 0);
}
/* Generations 0 and 1 both used (a lost tag write, a survivor's older view): to 2. */
static void r_gen_skip(void) {
        r_gen_bump();
        W.dead[W.n_dead++] = "sk-someone-else";
        add_inst("i-m1b", RC_INSTANCE_TERMINATED, "manager", M1, NULL, NULL, NOW - SEC(900))->client_token = seat_token(1, 1);
}
static void c_gen_skip(void) {
        const RcAction *a = find(RC_ACTION_SET_GENERATION, 0);
        CHECK(a && a->volume_generation == 2);
}
static void r_ql_gen_bump(void) { r_ql_relaunch(); W.inst[1].client_token = seat_token(1, 0); }

/* Volumes that have held swarm state */
static void r_mark_volume(void) { world(2); W.vol[1].has_state = false; }
static void c_mark_volume(void) {
        const RcAction *a = find(RC_ACTION_MARK_VOLUME, 0);
        CHECK(a && streq(a->volume_id, "vol-m1") && streq(a->instance_id, "i-m1") && streq(a->node_id, "n-m1"));
}
/* Two healthy seats not yet marked: both in one pass (a mark takes no slot) */
static void r_mark_two(void) { r_mark_volume(); W.vol[2].has_state = false; }
static void r_mark_not_while_down(void) { r_fence_within_grace(); W.vol[1].has_state = false; }
/* Quorum lost; M1's volume was created for a fresh join whose host never joined. */
static void r_ql_never_joined(void) { r_ql_relaunch(); W.vol[1].has_state = false; }

/* Raft members tied to their seat by address */
static void r_vl_unlabelled_member(void) { r_vl_demote(); W.node[1].logical_id = NULL, W.node[1].instance_id = NULL; }
static void r_vl_unlabelled_member_removed(void) {
        r_vl_unlabelled_member();
        W.node[1].manager = false, W.node[1].reachability = RC_REACH_NONE, W.node[1].manager_addr = NULL;
}
static void r_member_mislabelled(void) { world(2); W.node[1].logical_id = M2; }
/* Worker i-w0 labels its engine with M1's logical id (and, when instance is not NULL,
 * with that instance id): it says so; it is not so. */
static void claim(const char *instance) {
        RcNode *n = &W.node[3]; /* n-w0 */

        CHECK(streq(n->id, "n-w0"));
        n->logical_id = M1;
        n->instance_id = instance;
}
static void r_claim_grow(void) {
        r_grow();
        W.spec.workers = 1;
        add_workers(1, NOW - SEC(7200));
        claim("i-w0");
}
static void r_claim_vl(void) { r_vl_create(); claim("i-w0"); }
static void r_claim_frozen(void) { r_stuck_replacement(); claim(NULL); }
static void r_claim_instance_label(void) { r_fence(); claim("i-m1"); }

/* A worker got M1's freed address from EC2 (it joined the swarm as a worker). */
static void r_worker_on_address(void) {
        world(2); lose(1);
        W.spec.workers = 3;
        add_inst("i-h", RC_INSTANCE_RUNNING, "worker", NULL, M1, "subnet-b", NOW - SEC(600));
        add_node("n-h", NULL, "i-h", false, RC_NODE_READY, RC_REACH_NONE)->addr = M1;
}
static void c_worker_on_address(void) {
        const RcAction *a = find(RC_ACTION_DRAIN_WORKER, 0);
        CHECK(a && streq(a->instance_id, "i-h") && streq(a->node_id, "n-h") && strstr(a->reason, M1));
}
static void r_worker_on_address_at_target(void) { r_worker_on_address(); W.spec.workers = 2; }
static void r_worker_on_address_drained(void) {
        r_worker_on_address();
        W.node[W.n_node - 1].availability = "drain", W.streak[W.n_node - 1].drained_since_usec = NOW - DRAIN;
}
static void c_worker_on_address_drained(void) {
        const RcAction *a = find(RC_ACTION_TERMINATE_WORKER, 0);
        CHECK(a && streq(a->instance_id, "i-h"));
}
/* M2 just back (not stable yet): M1, first in order, goes on; no other worker is touched. */
static void r_worker_on_address_other_busy(void) { r_worker_on_address_at_target(); W.streak[2].healthy_since_usec = NOW - SEC(10); }
/* issue 14, workers and join tokens. world(2): i-w0 (10.0.9.10, n-w0), i-w1 (10.0.9.11, n-w1,
 * the newer), nodes W.node[3] and W.node[4]. */
/* a worker whose node never appeared, past the join timeout: not counted, terminated, replaced */
static void r_workers_join_timeout(void) { world(2); W.n_node--; /* n-w1 */ }
static void c_workers_join_timeout(void) {
        const RcAction *t = find(RC_ACTION_TERMINATE_WORKER, 0);
        CHECK(t && streq(t->instance_id, "i-w1"));
}
/* ... within it: still counted (a host that boots slowly) */
static void r_workers_join_pending(void) { r_workers_join_timeout(); W.inst[4].launch_usec = NOW - SEC(120); }
/* scale-down to 1: i-w1's node n-w1 is Ready and active; a second node claims i-w1 from another
 * address, drained long ago. Old code could take that one and terminate i-w1 undrained. */
static void r_workers_claimed_twice(void) {
        world(2);
        W.spec.workers = 1;
        RcNode *n = add_node("n-dup", NULL, "i-w1", false, RC_NODE_READY, RC_REACH_NONE);
        n->addr = "10.0.9.99", n->availability = "drain", MARK(n)->drained_since_usec = NOW - SEC(3600);
}
static void c_workers_claimed_twice(void) {
        const RcAction *d = find(RC_ACTION_DRAIN_WORKER, 0);
        CHECK(d && streq(d->node_id, "n-w1") && streq(d->instance_id, "i-w1"));
}
/* two nodes on i-w1's own address (the engine joined again): the one still active is drained */
static void r_workers_two_nodes_one_host(void) {
        world(2);
        W.spec.workers = 1;
        W.node[4].availability = "drain", W.streak[4].drained_since_usec = NOW - SEC(3600);
        add_node("n-w1b", NULL, "i-w1", false, RC_NODE_READY, RC_REACH_NONE)->addr = "10.0.9.11";
}
static void c_workers_two_nodes_one_host(void) {
        const RcAction *d = find(RC_ACTION_DRAIN_WORKER, 0);
        CHECK(d && streq(d->node_id, "n-w1b") && streq(d->instance_id, "i-w1"));
}
/* scale-down to 1: n-w1 (at i-w1's address) carries a stale label naming i-w0. Old code saw
 * i-w1 as never joined and terminated it without a drain. */
static void r_workers_stale_label(void) { world(2); W.spec.workers = 1; W.node[4].instance_id = "i-w0"; }
static void c_workers_stale_label(void) {
        const RcAction *d = find(RC_ACTION_DRAIN_WORKER, 0);
        CHECK(d && streq(d->node_id, "n-w1") && streq(d->instance_id, "i-w1"));
}
/* a worker launched with the current token died before joining: rotate */
static void r_rotate_dead_before_join(void) {
        world(2);
        add_inst("i-w9", RC_INSTANCE_TERMINATED, "worker", NULL, NULL, NULL, NOW - SEC(600));
}
/* this host's clock was an hour ahead when it rotated; the swarm's UpdatedAt says when it
 * was, and a node created since (the swarm's clock) joined with the current token */
static void r_rotate_swarm_clock(void) {
        r_grow_joined_rotate();
        W.inst[1].launch_usec = NOW - SEC(4000); /* EC2 says: before the rotation */
        W.mem.tokens_rotated_usec = NOW + SEC(3600);
        W.mem.tokens_rotated_swarm_usec = NOW - SEC(3600);
}
/* ... and no rotation when the swarm's clock says the node is older than the rotation,
 * whatever this host's clock said */
static void r_rotate_swarm_clock_older(void) {
        r_rotate_swarm_clock();
        W.mem.tokens_rotated_usec = NOW - SEC(7200);
        W.mem.tokens_rotated_swarm_usec = NOW - SEC(10);
}

/* This agent rotated 5 s ago; i-w1 was launched 30 s before that (within
 * RC_LAUNCH_CLOCK_SKEW_USEC) and had joined. The rotation covered it: EC2's newest LaunchTime
 * at the rotation is i-w1's. Not rotated again (the skew alone rotated every pass for 60 s). */
static void r_rotate_once(void) {
        world(2);
        W.inst[4].launch_usec = NOW - SEC(30);
        W.node[4].created_usec = NOW - SEC(20);
        W.mem.tokens_rotated_swarm_usec = NOW - SEC(5);
        W.mem.tokens_rotated_launch_usec = NOW - SEC(30);
}
/* ... a worker launched after it (a later LaunchTime) that has joined: rotated again */
static void r_rotate_once_later(void) {
        r_rotate_once();
        W.inst[3].launch_usec = NOW - SEC(2);
}

typedef struct Row {
        const char *name;
        void (*setup)(void);
        const char *expect;
        void (*check)(void);
} Row;

#define ROW(n, e) { #n, r_##n, e, NULL }
#define ROWC(n, e) { #n, r_##n, e, c_##n }
#define ROWX(n, e, c) { #n, r_##n, e, c_##c }

static const Row rows[] = {
        ROW(healthy, ""),
        /* leadership and listings */
        ROW(not_leader, "wait"), /* issue 15: a follower's plan says so (WAIT follower); it was empty */
        ROW(follower_no_leader_under_grace, "wait"), /* issue 15: a follower's plan says so (WAIT follower); it was empty */
        ROW(leader_no_quorum, "wait"),
        ROW(instances_failed, "wait"),
        ROW(instances_partial, "wait"),
        ROW(volumes_failed, "wait"),
        ROW(subnets_failed, "wait"),
        ROW(nodes_failed, "wait"),
        ROW(workers_listing_failed, "wait"),
        /* "ok" listings that cannot be complete: this agent's own instance or volume absent */
        ROW(instances_empty, "wait"),
        ROW(volumes_empty, "report:" M0 " wait:" M1 " report:" M2),
        ROW(volumes_empty_fresh_leader, "report:" M0 " wait:" M1 " report:" M2),
        ROW(self_not_listed, "wait"),
        ROW(self_terminated, "wait"),
        ROW(self_volume_missing, "report:" M0 " launch-manager:" M1),
        ROW(self_by_leader_label, "launch-manager:" M1),
        ROW(self_by_leader_label_missing, "wait"),
        ROW(self_unknown_some_live, "launch-manager:" M1),
        ROW(self_unknown_none_live, "wait"),
        ROW(no_leader_node, "wait"),
        /* a missing manager (terminated: no IP in EC2's answer, identified by its tag) */
        ROWC(missing, "launch-manager:" M1),
        ROWC(missing_no_instance_at_all, "launch-manager:" M1),
        ROWC(missing_replaces_newest, "launch-manager:" M1),
        ROW(volume_in_use, "wait:" M1),
        ROW(ip_held, "terminate-worker:" M1), /* a worker holds the address: it goes */
        ROW(ip_held_untagged, "report wait:" M1),
        ROW(volume_creating, "wait:" M1),
        ROW(pending, "wait:" M1),
        ROW(shutting_down, "wait:" M1),
        ROW(stopping, "wait:" M1),
        ROW(stopped, "wait:" M1),
        ROW(inflight_launch, "wait:" M1),
        ROW(inflight_launch_old, "launch-manager:" M1),
        ROWC(inflight_launch_terminated, "launch-manager:" M1),
        /* one manager at a time */
        ROW(two_lost, "launch-manager:" M1 " wait:" M2),
        ROWC(two_lost_second_busy, "wait:" M1 " wait:" M2),
        ROW(no_majority_in_listing, "wait"),
        ROW(busy_blocks_fence, "wait:" M1 " wait:" M2),
        /* attach, follow */
        ROWC(attach, "attach-volume:" M1),
        ROW(attach_inflight, "wait:" M1),
        ROW(waiting_for_node, "wait:" M1),
        ROW(stuck_replacement, "report:" M1 " launch-manager:" M2),
        ROW(young_replacement_blocks, "wait:" M1 " wait:" M2),
        ROW(not_stable, "wait:" M1),
        ROW(unknown_after_election, "launch-manager:" M2),
        ROW(unknown_no_history, "wait:" M1 " wait:" M2),
        ROW(unknown_unreachable, "wait"), /* 1 of 3 Reachable: no majority */
        ROW(in_use_no_attachment_info, ""),
        ROW(attached_elsewhere, "wait:" M1),
        /* dead but running */
        ROWC(fence, "fence:" M1),
        ROW(fence_within_grace, "wait:" M1),
        ROW(fence_young_instance, "wait:" M1),
        /* EC2 lists the node's own instance terminated: Swarm is only late */
        ROW(missing_node_still_alive, "launch-manager:" M1),
        ROW(missing_node_down_reachable, "launch-manager:" M1),
        ROW(missing_alive_unlabelled, "wait:" M1),
        ROW(missing_alive_unknown_instance, "wait:" M1),
        ROW(fence_no_bad_since, "wait:" M1),
        ROW(fence_inflight, "wait:" M1),
        ROW(down_reachable, "report:" M1),
        ROW(no_fence_of_new_instance, "wait:" M1),
        ROW(no_fence_unlabelled, "wait:" M1),
        ROW(stale_node_same_label, "report:" M1),
        ROW(stale_node_same_label_first, "report:" M1),
        ROW(two_dead_nodes_same_label, "report:" M1),
        ROW(mislabelled_healthy_node, "report:" M1),
        /* drift and strangers */
        ROW(two_live, "report:" M1),
        ROW(drift_ip, "report:" M1),
        ROW(drift_unknown_lid, "report:10.0.7.7"),
        ROW(drift_no_role, "report:" M1),
        ROW(drift_other_role, "report"),
        ROW(drift_terminated_unknown, ""),
        ROW(drift_unknown_volume, "report:10.0.7.7"),
        ROW(root_volume_ignored, ""),
        ROW(drift_unknown_node, "report:10.0.7.7"),
        ROW(other_cluster_ignored, ""),
        ROW(two_volumes, "report:" M1),
        ROW(no_subnet, "report:" M1),
        ROW(reserved_ip, "report:10.0.2.3"),
        ROW(az_mismatch, "report:" M1),
        /* volume lost */
        ROWC(vl_demote, "demote:" M1),
        ROW(vl_absent, "wait:" M1),
        ROW(vl_untagged_exists, "report:" M1),
        ROW(vl_probe_unknown, "wait:" M1),
        ROW(vl_not_found, "demote:" M1),
        ROW(vl_probe_error, "demote:" M1),
        ROW(vl_not_found_no_id, "wait:" M1),
        ROW(vl_error, "demote:" M1),
        ROW(vl_demoted_in_raft, "wait:" M1),
        ROWC(vl_remove, "remove-node:" M1),
        ROW(vl_remove_not_down, "wait:" M1),
        ROWC(vl_create, "create-volume:" M1),
        ROW(vl_create_inflight, "wait:" M1),
        ROWC(vl_fresh_launch, "launch-manager:" M1),
        ROW(vl_no_launch_while_member, "wait:" M1),
        ROW(vl_would_cost_quorum, "wait"),
        ROW(vl_reachable, "report:" M1),
        ROW(vl_running, "report:" M1),
        /* deadlines */
        ROWX(stuck_launch, "report:" M1 " wait:" M1 " launch-manager:" M2, stuck),
        ROW(stuck_launch_in_time, "launch-manager:" M1 " wait:" M2),
        ROW(stuck_launch_alone, "report:" M1 " launch-manager:" M1),
        ROWX(stuck_shutting_down, "report:" M1 " wait:" M1 " launch-manager:" M2, stuck),
        ROWX(stuck_shutting_down_in_time, "wait:" M1 " wait:" M2, holds),
        ROWX(stuck_detach, "report:" M1 " wait:" M1 " launch-manager:" M2, stuck),
        ROW(stuck_second_waits, "wait:" M1 " wait:" M2),
        /* quorum-loss mode */
        ROWC(ql_relaunch, "launch-manager:" M1 " launch-manager:" M2),
        ROW(ql_never_fences, ""),
        ROW(ql_volume_lost, "wait:" M1),
        ROW(ql_instance_aged_out, "launch-manager:" M1),
        ROW(ql_not_manager, "wait"), /* issue 15: a follower's plan says so (WAIT follower); it was empty */
        ROW(ql_under_grace, "wait"), /* issue 15: a follower's plan says so (WAIT follower); it was empty */
        ROW(ql_listing_failed, "wait"),
        ROW(ql_attach, "attach-volume:" M1),
        ROW(ql_inflight, "wait:" M1 " launch-manager:" M2),
        ROW(ql_in_use, "wait:" M1 " launch-manager:" M2),
        ROW(ql_empty_listing, "wait"),
        ROW(ql_self_unknown, "launch-manager:" M1 " launch-manager:" M2),
        ROW(ql_self_unknown_empty, "wait:" M1 " wait:" M2),
        ROW(ql_self_unknown_no_instances, "wait"),
        /* growing from the bootstrap manager */
        ROWC(grow, "launch-manager:" M1 " wait:" M2),
        ROW(grow_no_volumes, "create-volume:" M1 " wait:" M2),
        ROW(grow_pending, "wait:" M1 " wait:" M2),
        /* M1 has joined: its volume is marked as holding state */
        ROW(grow_joined_rotate, "mark-volume:" M1 " wait:" M2 " rotate-tokens"),
        ROW(rotate_waits_for_pending, "mark-volume:" M1 " wait:" M2 " wait"),
        /* the worker that never joined is replaced; the rotation follows its replacement's join */
        ROW(rotate_after_join_timeout, "mark-volume:" M1 " wait:" M2 " terminate-worker launch-worker"),
        ROW(no_rotate_unknown_created, "mark-volume:" M1 " wait:" M2),
        /* workers */
        ROWC(workers_launch, "launch-worker launch-worker launch-worker"),
        ROW(workers_inflight, ""),
        ROW(workers_inflight_no_removal, ""),
        ROWC(workers_drain, "drain-worker"),
        ROW(workers_drain_inflight, "wait"),
        ROW(workers_drained_wait, "wait"),
        ROWX(workers_drained_terminate, "terminate-worker", workers_terminate),
        ROWX(workers_drained_by_inflight, "terminate-worker", workers_terminate),
        ROW(workers_prefer_drained, "wait"),
        ROWX(workers_never_joined, "terminate-worker", workers_terminate),
        ROW(workers_remove_dead_node, "remove-node"),
        ROW(workers_dead_node_not_down, "wait"),
        ROW(workers_node_instance_gone, "remove-node"),
        ROW(workers_stopped, "report launch-worker"),
        ROW(workers_node_is_manager, "report report drain-worker"),
        /* issue 14: only an instance this cluster launched for the seat gets its volume */
        ROW(impostor, "report:" M1),
        ROW(impostor_no_token, "report:" M1),
        ROW(impostor_old_token, "report:" M1),
        ROW(ql_impostor, "report:" M1 " launch-manager:" M2),
        ROWX(attach_inflight_launch, "attach-volume:" M1, attach),
        ROWX(attach_next_generation, "attach-volume:" M1, attach),
        ROW(attach_far_generation, "report:" M1),
        /* per-seat generations: a ClientToken never repeats */
        ROWC(gen_bump, "set-generation:" M1),
        ROWC(gen_bumped, "launch-manager:" M1),
        ROWX(gen_aged_out, "set-generation:" M1, gen_bump),
        ROWC(gen_skip, "set-generation:" M1 " rotate-tokens"), /* i-m1b (terminated) may have had the token: gone, so rotated */
        ROW(ql_gen_bump, "set-generation:" M1 " launch-manager:" M2),
        /* volumes that have held swarm state */
        ROWC(mark_volume, "mark-volume:" M1),
        ROW(mark_two, "mark-volume:" M1 " mark-volume:" M2),
        ROW(mark_not_while_down, "wait:" M1),
        ROW(ql_never_joined, "wait:" M1 " launch-manager:" M2),
        /* Raft members by address; labels are hints */
        ROW(vl_unlabelled_member, "demote:" M1),
        ROW(vl_unlabelled_member_removed, "create-volume:" M1 " report"), /* the old node is out of Raft */
        ROW(member_mislabelled, "report:" M1),
        ROWX(claim_grow, "report launch-manager:" M1 " wait:" M2, grow),
        ROW(claim_vl, "report create-volume:" M1),
        ROW(claim_frozen, "report report:" M1 " launch-manager:" M2),
        ROW(claim_instance_label, "report fence:" M1),
        /* a worker on a manager's address: drained, terminated, not counted */
        ROWC(worker_on_address, "drain-worker:" M1 " launch-worker"),
        ROWX(worker_on_address_at_target, "drain-worker:" M1 " rotate-tokens", worker_on_address), /* i-h joined with the current token */
        ROWC(worker_on_address_drained, "terminate-worker:" M1 " launch-worker"),
        ROW(worker_on_address_other_busy, "drain-worker:" M1 " wait:" M2 " rotate-tokens"),
        /* issue 14: workers and join tokens */
        ROWC(workers_join_timeout, "terminate-worker launch-worker"),
        ROW(workers_join_pending, ""),
        ROWC(workers_claimed_twice, "report drain-worker"),
        ROWC(workers_two_nodes_one_host, "drain-worker"),
        ROWC(workers_stale_label, "report drain-worker"),
        ROW(rotate_dead_before_join, "rotate-tokens"),
        ROW(rotate_swarm_clock, "mark-volume:" M1 " wait:" M2 " rotate-tokens"),
        ROW(rotate_once, ""),
        ROW(rotate_once_later, "rotate-tokens"),
        ROW(rotate_swarm_clock_older, "mark-volume:" M1 " wait:" M2),
};

/* The invariants every row must keep, whatever it expects. */
static void check_invariants(const Row *row) {
        bool ok_listings = W.obs.instances_ok && W.obs.volumes_ok && W.obs.subnets_ok;
        size_t launches_per_lid[3] = {};

        for (size_t i = 0; i < W.plan.n; i++) {
                const RcAction *a = &W.plan.actions[i];
                bool change = a->kind != RC_ACTION_WAIT && a->kind != RC_ACTION_REPORT;

                CHECK(a->reason[0] != 0);
                CHECK(a->destructive == change);
                if (change && !W.plan.quorum_loss_mode && !(W.obs.leader && W.obs.quorum && ok_listings && W.obs.nodes_ok)) {
                        fprintf(stderr, "%s: change without leadership or with a failed listing\n", row->name);
                        CHECK(false);
                }
                if (change && !ok_listings) {
                        fprintf(stderr, "%s: change from a failed listing\n", row->name);
                        CHECK(false);
                }
                if (W.plan.quorum_loss_mode && change) {
                        CHECK(a->kind == RC_ACTION_LAUNCH_MANAGER || a->kind == RC_ACTION_ATTACH_VOLUME ||
                              a->kind == RC_ACTION_SET_GENERATION);
                        CHECK(!a->join_fresh);
                }
                if (a->kind == RC_ACTION_LAUNCH_MANAGER || a->kind == RC_ACTION_LAUNCH_WORKER ||
                    a->kind == RC_ACTION_CREATE_VOLUME) {
                        CHECK(startswith(a->client_token, "sk-") && strlen(a->client_token) <= RC_CLIENT_TOKEN_MAX);
                        /* a worker launch's generation is its own field (issue 15: replaces
                         * no longer points into the action) */
                        CHECK(a->subnet_id && (a->kind == RC_ACTION_LAUNCH_WORKER
                                                       ? !a->replaces && startswith(a->generation, "gen-")
                                                       : !!a->replaces));
                }
                if (a->kind == RC_ACTION_LAUNCH_MANAGER)
                        for (size_t k = 0; k < 3; k++)
                                if (streq(a->logical_id, W.managers[k]))
                                        launches_per_lid[k]++;
        }
        for (size_t k = 0; k < 3; k++)
                CHECK(launches_per_lid[k] <= 1);
}

static void test_rows(void) {
        for (size_t r = 0; r < ELEMENTSOF(rows); r++) {
                const Row *row = &rows[r];
                int failures = test_failures;
                char first[4096];
                RcPlan again = {};

                row->setup();
                CHECK_INT(run(), 0);
                if (!streq(signature(), row->expect)) {
                        fprintf(stderr, "row %s: plan \"%s\", expected \"%s\"\n", row->name, signature(), row->expect);
                        test_failures++;
                }
                test_checks++;
                check_invariants(row);
                if (row->check)
                        row->check();

                /* Pure: the same input gives the same plan, byte for byte. */
                snprintf(first, sizeof(first), "%s", signature());
                CHECK_INT(rc_plan(&W.spec, &W.obs, &W.mem, &again), 0);
                CHECK_INT(again.n, W.plan.n);
                for (size_t i = 0; i < again.n && i < W.plan.n; i++) {
                        CHECK_INT(again.actions[i].kind, W.plan.actions[i].kind);
                        CHECK_STR(again.actions[i].reason, W.plan.actions[i].reason);
                        CHECK(streq(again.actions[i].client_token, W.plan.actions[i].client_token));
                }
                rc_plan_done(&again);

                if (test_failures != failures || getenv("SK_TEST_VERBOSE"))
                        for (size_t i = 0; i < W.plan.n; i++)
                                fprintf(stderr, "  %s: %s %s\n", row->name,
                                        rc_action_kind_to_string(W.plan.actions[i].kind), W.plan.actions[i].reason);
        }
        rc_plan_done(&W.plan);
}

/* ---- random worlds: the safety invariants hold for every plan ---------------------------- */

static uint64_t rng_state;

static unsigned rnd(unsigned n) {
        /* xorshift64*: deterministic, so a failure names its seed and replays */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (unsigned) ((rng_state * UINT64_C(2685821657736338717)) >> 33) % n;
}

static bool chance(unsigned percent) {
        return rnd(100) < percent;
}

static const char *const lids[5] = { M0, M1, M2, "10.0.1.11", "10.0.2.11" };
static const char *const wk_ips[5] = { "10.0.9.10", "10.0.9.11", "10.0.9.12", "10.0.9.13", "10.0.9.14" };
#define JOIN_TIMEOUT SEC(15 * 60) /* the planner's default */

/* The planner's identity rule for a worker's nodes (issue 14): at its address, unless Down
 * and labelled with another instance; by label only where an address is unknown. */
static bool w_node_of(const RcNode *n, const RcInstance *i) {
        if (!n->id)
                return false;
        if (n->addr && i->private_ip)
                return streq(n->addr, i->private_ip) &&
                       (n->state != RC_NODE_DOWN || !n->instance_id || streq(n->instance_id, i->id));
        return streq_ptr(n->instance_id, i->id);
}

/* A live worker without any node JOIN_TIMEOUT after its launch: not counted, terminated. */
static bool w_worker_failed(const RcInstance *i) {
        if (!(i->state == RC_INSTANCE_PENDING || i->state == RC_INSTANCE_RUNNING) || !i->launch_usec ||
            NOW - i->launch_usec < JOIN_TIMEOUT)
                return false;
        for (size_t k = 0; k < W.n_node; k++)
                if (w_node_of(&W.node[k], i))
                        return false;
        return true;
}

static void random_world(void) {
        static const char *const ex_ids[] = { "i-a", "i-b", "i-c", "i-d", "i-e", "i-f" };
        static const char *const wk_ids[] = { "i-w0", "i-w1", "i-w2", "i-w3", "i-w4" };
        static const char *const wk_nodes[] = { "n-w0", "n-w1", "n-w2", "n-w3", "n-w4" };
        static const char *const wk_nodes2[] = { "n-v0", "n-v1", "n-v2", "n-v3", "n-v4" };
        static const char *const avail[] = { "active", "drain", "pause" };

        world_n(5, 0);
        W.spec.workers = rnd(4);
        for (size_t k = 0; k < 5; k++) {
                RcInstance *i = &W.inst[k];
                RcVolume *v = &W.vol[k];
                RcNode *n = &W.node[k];

                if (chance(k > 0 ? 45 : 15)) {
                        i->state = (RcInstanceState) rnd(6);
                        if (i->state == RC_INSTANCE_TERMINATED)
                                i->private_ip = NULL, i->subnet_id = NULL;
                        if (chance(10))
                                i->cluster = "other";
                        i->launch_usec = NOW - SEC(rnd(400));
                        v->state = (RcVolumeState) rnd(6);
                        v->n_attached = chance(50);
                        if (chance(20))
                                W.att[k][0] = chance(50) ? "i-a" : "i-x";
                        if (chance(10))
                                v->logical_id = NULL;
                        n->state = (RcNodeState) rnd(4);
                        n->reachability = (RcReachability) rnd(4);
                        n->manager = chance(80);
                        MARK(n)->bad_since_usec = chance(70) ? NOW - SEC(rnd(400)) : 0;
                        MARK(n)->healthy_since_usec = chance(70) ? NOW - SEC(rnd(200)) : 0;
                        n->created_usec = NOW - SEC(rnd(7200));
                        if (chance(15))
                                n->instance_id = chance(50) ? NULL : "i-a";
                        if (chance(10))
                                n->id = NULL;
                }
        }
        /* strangers and duplicates */
        for (size_t k = 0, extra = rnd(4); k < extra; k++) {
                RcInstanceState st = (RcInstanceState) rnd(6);
                const char *lid = chance(80) ? lids[rnd(5)] : "10.0.7.7";
                RcInstance *i = add_inst(ex_ids[k], st, chance(80) ? "manager" : chance(50) ? NULL : "worker", lid,
                                         chance(70) ? lid : "10.0.2.77", "subnet-b", NOW - SEC(rnd(400)));
                if (st == RC_INSTANCE_TERMINATED)
                        i->private_ip = NULL;
        }
        if (chance(30))
                add_vol("vol-x", (RcVolumeState) rnd(6), lids[rnd(5)], chance(80) ? "az-b" : "az-a", chance(50) ? "i-a" : NULL);
        if (chance(30)) {
                static const char *const labels[] = { "i-a", "i-m1", "i-m2", "i-m3", NULL };
                size_t m = rnd(5);
                add_node("n-x", chance(70) ? lids[m] : lids[rnd(5)], labels[m], chance(50), (RcNodeState) rnd(4),
                         (RcReachability) rnd(4));
        }
        /* workers: their nodes at their own address, at another worker's, or unknown; labels
         * that agree, are stale, or claim an instance twice */
        for (size_t k = 0, nw = rnd(6); k < nw; k++) {
                RcInstanceState st = (RcInstanceState) rnd(6);
                add_inst(wk_ids[k], st, "worker", NULL, st == RC_INSTANCE_TERMINATED ? NULL : wk_ips[k], "subnet-a",
                         NOW - SEC(rnd(4000)));
                for (size_t c = 0, nn = chance(70) ? 1 + chance(20) : 0; c < nn; c++) {
                        RcNode *n = add_node(c ? wk_nodes2[k] : wk_nodes[k], NULL, chance(85) ? wk_ids[k] : wk_ids[rnd(5)],
                                             false, (RcNodeState) rnd(4), RC_REACH_NONE);
                        n->availability = avail[rnd(3)];
                        MARK(n)->drained_since_usec = chance(50) ? NOW - SEC(rnd(200)) : 0;
                        n->addr = chance(60) ? wk_ips[k] : chance(50) ? wk_ips[rnd(5)] : NULL;
                }
        }
        for (size_t k = 0, nf = rnd(3); k < nf; k++)
                add_inflight((RcInflightKind) rnd(5), chance(70) ? lids[rnd(5)] : NULL, chance(70) ? ex_ids[rnd(6)] : NULL,
                             chance(30) ? "vol-new" : NULL, NOW - SEC(rnd(200)));
        /* leadership and listings */
        W.obs.leader = chance(80);
        W.obs.quorum = chance(85);
        W.obs.self_manager = chance(90);
        W.mem.no_leader_since_usec = W.obs.leader ? 0 : chance(70) ? NOW - SEC(rnd(600)) : 0;
        W.obs.instances_ok = chance(90);
        W.obs.volumes_ok = chance(90);
        W.obs.subnets_ok = chance(95);
        W.obs.nodes_ok = chance(90);
        W.mem.tokens_rotated_usec = NOW - SEC(rnd(7200));
        /* identity: tokens, generations, state marks, addresses */
        for (size_t k = 0; k < 5; k++) {
                RcVolume *v = &W.vol[k];
                RcNode *n = &W.node[k];

                v->generation = chance(60) ? 0 : rnd(3);
                v->has_state = chance(75);
                for (size_t i = 0; i < W.n_inst; i++) {
                        RcInstance *x = &W.inst[i];
                        if (!streq_ptr(x->logical_id, lids[k]) || !chance(60))
                                continue;
                        x->client_token = chance(20) ? NULL : chance(20) ? "sk-forged" : seat_token(k, v->generation + rnd(3));
                }
                if (chance(15))
                        W.dead[W.n_dead++] = seat_token(k, v->generation + rnd(2));
                if (chance(10))
                        n->manager_addr = NULL;
                if (chance(10))
                        n->addr = chance(50) ? NULL : "0.0.0.0";
                if (chance(8))
                        n->manager_addr = chance(50) ? "10.0.7.7:2377" : lids[rnd(5)];
        }
        if (chance(10))
                for (size_t i = 0; i < W.n_node; i++)
                        if (!W.node[i].logical_id && W.node[i].id && chance(50))
                                W.node[i].logical_id = lids[rnd(5)]; /* a worker claims a manager's id */
        if (chance(20))
                W.obs.self_instance_id = NULL;
        if (chance(50))
                W.mem.tokens_rotated_swarm_usec = NOW - SEC(rnd(7200));
        /* what the executor remembers per seat: busy since, a volume asked by id (each seat
         * its own id: EC2 says one thing about one id) */
        static const char *const vol_q[] = { "vol-q0", "vol-q1", "vol-q2", "vol-q3", "vol-q4" };
        for (size_t k = 0; k < 5; k++)
                if (chance(30))
                        add_seat(lids[k], chance(50) ? NOW - SEC(rnd(600)) : 0, chance(70) ? vol_q[k] : NULL,
                                 (RcVolumeProbe) rnd(4));
}

static bool w_volume_gone_by_id(const char *lid) {
        for (size_t i = 0; i < W.n_vol; i++)
                if (W.vol[i].id && streq_ptr(W.vol[i].logical_id, lid))
                        return true; /* listed (deleted, deleting, error): EC2's word on that id */
        for (size_t i = 0; i < W.n_seat; i++)
                if (streq(W.seat[i].logical_id, lid)) {
                        for (size_t k = 0; W.seat[i].volume_id && k < W.n_asked; k++)
                                if (streq(W.asked[k].volume_id, W.seat[i].volume_id))
                                        return W.asked[k].probe == RC_VOLUME_PROBE_NOT_FOUND ||
                                               W.asked[k].probe == RC_VOLUME_PROBE_ERROR;
                        return false;
                }
        return false;
}

static const RcInstance *w_instance(const char *id) {
        for (size_t i = 0; id && i < W.n_inst; i++)
                if (streq(W.inst[i].id, id) && streq_ptr(W.inst[i].cluster, "prod"))
                        return &W.inst[i];
        return NULL;
}

static const RcVolume *w_volume(const char *id) {
        for (size_t i = 0; id && i < W.n_vol; i++)
                if (streq(W.vol[i].id, id))
                        return &W.vol[i];
        return NULL;
}

static const RcNode *w_node(const char *id) {
        for (size_t i = 0; id && i < W.n_node; i++)
                if (streq_ptr(W.node[i].id, id))
                        return &W.node[i];
        return NULL;
}

static bool w_present(const char *lid) {
        for (size_t i = 0; i < W.n_inst; i++)
                if (streq_ptr(W.inst[i].cluster, "prod") && streq_ptr(W.inst[i].role, "manager") &&
                    streq_ptr(W.inst[i].logical_id, lid) && W.inst[i].state != RC_INSTANCE_TERMINATED)
                        return true;
        return false;
}

/* Is some node labelled with this instance Ready and Reachable? */
static bool w_instance_healthy_node(const char *instance_id) {
        for (size_t i = 0; i < W.n_node; i++)
                if (W.node[i].id && streq_ptr(W.node[i].instance_id, instance_id) && W.node[i].state == RC_NODE_READY &&
                    W.node[i].reachability == RC_REACH_REACHABLE)
                        return true;
        return false;
}

/* "10.0.1.10:2377" names the seat 10.0.1.10 */
static bool w_addr_is(const char *addr, const char *lid) {
        size_t l = strlen(lid);
        return addr && strncmp(addr, lid, l) == 0 && (addr[l] == 0 || addr[l] == ':');
}

/* Is some node the seat's, by the swarm's own view: a Raft member at its address (or,
 * address unknown, labelled with it), or a node out of Raft labelled with it and at its
 * address? A label alone is a claim anyone can make (a worker's). */
static bool w_node_with_lid(const char *lid) {
        for (size_t i = 0; i < W.n_node; i++) {
                const RcNode *n = &W.node[i];
                bool in_raft = n->reachability != RC_REACH_NONE;
                const char *addr = in_raft && n->manager_addr ? n->manager_addr : n->addr;
                bool known = addr && !w_addr_is(addr, "0.0.0.0");

                if (!n->id)
                        continue;
                if (in_raft && (known ? w_addr_is(addr, lid) : streq_ptr(n->logical_id, lid)))
                        return true;
                if (!in_raft && streq_ptr(n->logical_id, lid) && known && w_addr_is(addr, lid))
                        return true;
        }
        return false;
}

#define PCHECK(cond)                                                                              \
        do {                                                                                      \
                test_checks++;                                                                    \
                if (!(cond)) {                                                                    \
                        fprintf(stderr, "seed %u, action %zu (%s: %s): violated: %s\n", seed, i,  \
                                rc_action_kind_to_string(a->kind), a->reason, #cond);             \
                        test_failures++;                                                          \
                }                                                                                 \
        } while (0)

static bool w_intact_volume(const char *lid) {
        for (size_t i = 0; i < W.n_vol; i++)
                if (streq_ptr(W.vol[i].logical_id, lid) && (W.vol[i].state == RC_VOLUME_CREATING ||
                                                            W.vol[i].state == RC_VOLUME_AVAILABLE ||
                                                            W.vol[i].state == RC_VOLUME_IN_USE))
                        return true;
        return false;
}

static bool w_spec_manager(const char *ip) {
        for (size_t k = 0; ip && k < W.spec.n_managers; k++)
                if (streq(W.managers[k], ip))
                        return true;
        return false;
}

/* A live worker holding the address of a manager that has no instance of its own (and
 * first to hold it): the planner evicts it for that manager, and does not count it. */
static bool w_condemned(const RcInstance *w) {
        if (!streq_ptr(w->cluster, "prod") || !streq_ptr(w->role, "worker") ||
            !(w->state == RC_INSTANCE_PENDING || w->state == RC_INSTANCE_RUNNING) || !w_spec_manager(w->private_ip) ||
            w_present(w->private_ip))
                return false;
        for (size_t i = 0; i < W.n_inst; i++) {
                const RcInstance *h = &W.inst[i];
                if (!streq_ptr(h->cluster, "prod") || h->state == RC_INSTANCE_TERMINATED || !streq_ptr(h->private_ip, w->private_ip) ||
                    (streq_ptr(h->role, "manager") && streq_ptr(h->logical_id, w->private_ip)))
                        continue;
                return h == w;
        }
        return false;
}

/* Every manager ClientToken any plan emitted, with the (volume, generation) it came from:
 * a token is never planned for two of them. */
static struct {
        char token[RC_CLIENT_TOKEN_MAX + 1];
        char volume[24];
        uint64_t generation;
} seen_tokens[256];
static size_t n_seen_tokens;

static bool token_seen_for_other(const char *token, const char *volume, uint64_t generation) {
        for (size_t i = 0; i < n_seen_tokens; i++)
                if (streq(seen_tokens[i].token, token))
                        return !streq(seen_tokens[i].volume, volume) || seen_tokens[i].generation != generation;
        if (n_seen_tokens < ELEMENTSOF(seen_tokens)) {
                snprintf(seen_tokens[n_seen_tokens].token, sizeof(seen_tokens[0].token), "%s", token);
                snprintf(seen_tokens[n_seen_tokens].volume, sizeof(seen_tokens[0].volume), "%s", volume);
                seen_tokens[n_seen_tokens++].generation = generation;
        }
        return false;
}

static bool w_token_dead(const char *token) {
        for (size_t i = 0; i < W.n_inst; i++)
                if (streq_ptr(W.inst[i].cluster, "prod") && W.inst[i].state == RC_INSTANCE_TERMINATED &&
                    streq_ptr(W.inst[i].client_token, token))
                        return true;
        for (size_t i = 0; i < W.n_dead; i++)
                if (streq(W.dead[i], token))
                        return true;
        return false;
}

/* Launched by this cluster for the seat of volume v: its token, or our launch in flight. */
static bool w_launched_for_seat(const RcInstance *i, const RcVolume *v, const char *lid) {
        char tok[RC_CLIENT_TOKEN_MAX + 1];

        for (size_t k = 0; k < W.n_fl; k++)
                if (W.fl[k].kind == RC_INFLIGHT_LAUNCH && streq_ptr(W.fl[k].instance_id, i->id) && streq_ptr(W.fl[k].logical_id, lid))
                        return true;
        for (uint64_t g = v->generation; g <= v->generation + RC_GENERATION_LOOKAHEAD; g++)
                if (rc_seat_token("prod", lid, v->id, g, tok, sizeof(tok)) == 0 && streq_ptr(i->client_token, tok))
                        return true;
        return false;
}

static void check_random_plan(unsigned seed) {
        bool all_ok = W.obs.instances_ok && W.obs.volumes_ok && W.obs.subnets_ok && W.obs.nodes_ok;
        const char *touched = NULL;
        size_t launches[5] = {}, worker_launches = 0, worker_removals = 0, live_workers = 0, any_launch = 0, rotations = 0;

        for (size_t i = 0; i < W.n_inst; i++)
                live_workers += streq_ptr(W.inst[i].cluster, "prod") && streq_ptr(W.inst[i].role, "worker") &&
                                (W.inst[i].state == RC_INSTANCE_PENDING || W.inst[i].state == RC_INSTANCE_RUNNING) &&
                                !w_condemned(&W.inst[i]) && !w_worker_failed(&W.inst[i]);

        for (size_t i = 0; i < W.plan.n; i++) {
                const RcAction *a = &W.plan.actions[i];
                bool change = a->kind != RC_ACTION_WAIT && a->kind != RC_ACTION_REPORT;
                const RcInstance *inst = w_instance(a->instance_id);
                const RcVolume *vol = w_volume(a->volume_id);
                const RcNode *node = w_node(a->node_id);

                PCHECK(a->reason[0] != 0);
                PCHECK(a->destructive == change);
                if (!change)
                        continue;
                /* leadership: confirmed leader with quorum and complete listings, or quorum-loss mode */
                PCHECK(W.plan.quorum_loss_mode || (W.obs.leader && W.obs.quorum && all_ok));
                PCHECK(W.obs.instances_ok && W.obs.volumes_ok && W.obs.subnets_ok);
                if (W.plan.quorum_loss_mode) {
                        PCHECK(!W.obs.leader && W.obs.self_manager);
                        PCHECK(a->kind == RC_ACTION_LAUNCH_MANAGER || a->kind == RC_ACTION_ATTACH_VOLUME ||
                               a->kind == RC_ACTION_SET_GENERATION);
                        PCHECK(!a->join_fresh);
                }
                /* one manager at a time (outside quorum-loss mode); marking a healthy seat's
                 * volume (bookkeeping, no change to the cluster) goes beside it */
                if (a->logical_id && !W.plan.quorum_loss_mode && a->kind != RC_ACTION_MARK_VOLUME) {
                        PCHECK(!touched || streq(touched, a->logical_id));
                        touched = a->logical_id;
                }
                any_launch += a->kind == RC_ACTION_LAUNCH_MANAGER || a->kind == RC_ACTION_LAUNCH_WORKER;
                switch (a->kind) {
                case RC_ACTION_LAUNCH_MANAGER:
                        for (size_t k = 0; k < 5; k++)
                                launches[k] += streq(a->logical_id, lids[k]);
                        PCHECK(!w_present(a->logical_id)); /* never two live instances */
                        PCHECK(vol && vol->state == RC_VOLUME_AVAILABLE && vol->n_attached == 0 &&
                               streq_ptr(vol->logical_id, a->logical_id));
                        PCHECK(streq_ptr(a->private_ip, a->logical_id));
                        PCHECK(a->subnet_id && rc_ip_in_subnet(a->private_ip, "10.0.0.0/16") == 1);
                        PCHECK(!a->join_fresh || !w_node_with_lid(a->logical_id)); /* never join before the old member is gone */
                        PCHECK(startswith(a->client_token, "sk-"));
                        if (vol) {
                                char tok[RC_CLIENT_TOKEN_MAX + 1];
                                /* the token of the volume's listed generation, never one used before */
                                PCHECK(a->volume_generation == vol->generation);
                                PCHECK(rc_seat_token("prod", a->logical_id, vol->id, a->volume_generation, tok, sizeof(tok)) == 0 &&
                                       streq(tok, a->client_token));
                                PCHECK(!w_token_dead(a->client_token));
                                PCHECK(!token_seen_for_other(a->client_token, vol->id, a->volume_generation));
                                PCHECK(!W.plan.quorum_loss_mode || vol->has_state);
                        }
                        break;
                case RC_ACTION_ATTACH_VOLUME:
                        PCHECK(inst && inst->state == RC_INSTANCE_RUNNING && streq_ptr(inst->logical_id, a->logical_id));
                        PCHECK(vol && vol->state == RC_VOLUME_AVAILABLE && vol->n_attached == 0); /* never attached twice */
                        PCHECK(inst && vol && w_launched_for_seat(inst, vol, a->logical_id)); /* never to an impostor */
                        break;
                case RC_ACTION_SET_GENERATION: {
                        char tok[RC_CLIENT_TOKEN_MAX + 1];
                        PCHECK(vol && streq_ptr(vol->logical_id, a->logical_id) && a->volume_generation > vol->generation);
                        PCHECK(vol && rc_seat_token("prod", a->logical_id, vol->id, vol->generation, tok, sizeof(tok)) == 0 &&
                               w_token_dead(tok));
                        break;
                }
                case RC_ACTION_MARK_VOLUME:
                        PCHECK(vol && inst && !vol->has_state && inst->state == RC_INSTANCE_RUNNING &&
                               streq_ptr(inst->private_ip, a->logical_id));
                        PCHECK(vol && inst && vol->n_attached > 0 && streq_ptr(vol->attached_to[0], inst->id));
                        PCHECK(node && node->manager && node->state == RC_NODE_READY && node->reachability == RC_REACH_REACHABLE);
                        break;
                case RC_ACTION_FENCE:
                        PCHECK(inst && inst->state == RC_INSTANCE_RUNNING && streq_ptr(inst->role, "manager"));
                        PCHECK(node && node->state == RC_NODE_DOWN && node->reachability == RC_REACH_UNREACHABLE);
                        PCHECK(node && inst && streq_ptr(node->instance_id, inst->id));
                        PCHECK(node && MARK(node)->bad_since_usec && NOW - MARK(node)->bad_since_usec >= GRACE);
                        PCHECK(inst && !w_instance_healthy_node(inst->id));
                        PCHECK(inst && (!inst->launch_usec || NOW - inst->launch_usec >= GRACE));
                        break;
                case RC_ACTION_DEMOTE:
                        PCHECK(node && node->manager && node->reachability != RC_REACH_REACHABLE);
                        PCHECK(!w_present(a->logical_id));
                        PCHECK(!w_intact_volume(a->logical_id)); /* only for a lost volume */
                        PCHECK(w_volume_gone_by_id(a->logical_id)); /* never on a tag-filtered absence alone */
                        break;
                case RC_ACTION_REMOVE_NODE:
                        PCHECK(node && !node->manager && node->reachability == RC_REACH_NONE && node->state == RC_NODE_DOWN);
                        if (!a->logical_id) {
                                const RcInstance *ni = node ? w_instance(node->instance_id) : NULL;
                                PCHECK(!ni || ni->state == RC_INSTANCE_TERMINATED);
                        }
                        break;
                case RC_ACTION_CREATE_VOLUME:
                        PCHECK(!w_present(a->logical_id) && !w_node_with_lid(a->logical_id));
                        break;
                case RC_ACTION_TERMINATE_WORKER:
                        PCHECK(inst && streq_ptr(inst->role, "worker"));
                        /* for a manager: only the worker holding its address */
                        PCHECK(!a->logical_id || (inst && w_condemned(inst) && streq_ptr(inst->private_ip, a->logical_id)));
                        /* never without draining every node up at its address (or labelled, address
                         * unknown), whatever the labels say */
                        for (size_t k = 0; inst && k < W.n_node; k++)
                                PCHECK(!w_node_of(&W.node[k], inst) || W.node[k].state == RC_NODE_DOWN ||
                                       streq_ptr(W.node[k].availability, "drain"));
                        if (!a->logical_id && inst && !w_worker_failed(inst))
                                worker_removals++;
                        break;
                case RC_ACTION_DRAIN_WORKER:
                        PCHECK(inst && streq_ptr(inst->role, "worker") && node && !node->manager);
                        PCHECK(!a->logical_id || (inst && w_condemned(inst) && streq_ptr(inst->private_ip, a->logical_id)));
                        PCHECK(inst && node && w_node_of(node, inst)); /* the node at its address */
                        /* two nodes for one instance: two drains, one removal */
                        worker_removals += !a->logical_id &&
                                           !(i > 0 && W.plan.actions[i - 1].kind == RC_ACTION_DRAIN_WORKER &&
                                             streq_ptr(W.plan.actions[i - 1].instance_id, a->instance_id));
                        break;
                case RC_ACTION_LAUNCH_WORKER:
                        worker_launches++;
                        break;
                case RC_ACTION_ROTATE_TOKENS:
                        rotations++;
                        break;
                default:
                        break;
                }
        }
        /* workers: never past the count in either direction; no rotation while launching */
        if (worker_launches + live_workers > W.spec.workers && worker_launches > 0) {
                fprintf(stderr, "seed %u: %zu worker launches with %zu live, %u wanted\n", seed, worker_launches,
                        live_workers, W.spec.workers);
                CHECK(false);
        }
        if (worker_removals > 0 && live_workers < W.spec.workers + worker_removals) {
                fprintf(stderr, "seed %u: %zu worker removals with %zu live, %u wanted\n", seed, worker_removals,
                        live_workers, W.spec.workers);
                CHECK(false);
        }
        CHECK(rotations <= 1 && !(rotations && any_launch));
        /* issue 14: never rotate while a worker launched since the rotation is live, young and
         * without a node: it would never join */
        for (size_t i = 0; rotations && i < W.n_inst; i++) {
                const RcInstance *w = &W.inst[i];
                uint64_t rotated = W.mem.tokens_rotated_swarm_usec ?: W.mem.tokens_rotated_usec;
                bool has_node = false;

                if (!streq_ptr(w->cluster, "prod") || !streq_ptr(w->role, "worker") || w->launch_usec <= rotated ||
                    NOW - w->launch_usec >= JOIN_TIMEOUT ||
                    !(w->state == RC_INSTANCE_PENDING || w->state == RC_INSTANCE_RUNNING))
                        continue;
                for (size_t k = 0; k < W.n_node; k++)
                        has_node = has_node || w_node_of(&W.node[k], w);
                if (!has_node) {
                        fprintf(stderr, "seed %u: rotation while %s waits to join\n", seed, w->id);
                        CHECK(false);
                }
        }
        for (size_t k = 0; k < 5; k++)
                if (launches[k] > 1) {
                        fprintf(stderr, "seed %u: %zu launches of %s\n", seed, launches[k], lids[k]);
                        CHECK(launches[k] <= 1);
                }
}

/*
 * Issue 15, the proof that the plan shows what the executor will not do: the same world
 * planned again with some of its actions' keys backing off (some run out already) and the
 * launch paths switched off at random. Each action of the first plan is in the second at
 * the same place: the same, or, where its key backs off or its role has no launch path, a
 * WAIT with that reason code standing for it (its kind in waits_for, its ids kept, nothing
 * destructive). And no change in any plan has a key backing off or a missing launch path:
 * the executor, which carries out every change it is given, never has to skip one.
 */
static void check_gate(unsigned seed) {
        RcBackoffEntry b[8];
        size_t nb = 0;
        RcSpec spec = W.spec;
        RcMemory mem = W.mem;
        RcPlan gated = {};

        for (size_t i = 0; i < W.plan.n; i++) {
                const RcAction *a = &W.plan.actions[i];
                CHECK((a->kind == RC_ACTION_WAIT) == (a->wait != RC_WAIT_NONE));
                CHECK(rc_wait_code_to_string(a->wait) != NULL);
                if (a->kind != RC_ACTION_WAIT && a->kind != RC_ACTION_REPORT && nb < ELEMENTSOF(b) && chance(40))
                        b[nb++] = (RcBackoffEntry){ .key = rc_action_backoff_key(a),
                                                    .not_before_usec = chance(80) ? NOW + SEC(1 + rnd(300))
                                                                                  : NOW - SEC(rnd(10)) };
        }
        if (nb < ELEMENTSOF(b) && chance(20))
                b[nb++] = (RcBackoffEntry){ .key = "10.0.9.9", .not_before_usec = NOW + SEC(60) }; /* no such seat */
        spec.no_launch_manager = chance(15);
        spec.no_launch_worker = chance(15);
        mem.backoff = b;
        mem.n_backoff = nb;
        CHECK_INT(rc_plan(&spec, &W.obs, &mem, &gated), 0);
        CHECK_INT(gated.n, W.plan.n);
        for (size_t i = 0; i < gated.n && i < W.plan.n; i++) {
                const RcAction *u = &W.plan.actions[i], *g = &gated.actions[i];
                bool change = u->kind != RC_ACTION_WAIT && u->kind != RC_ACTION_REPORT, backing = false;
                bool no_path = (u->kind == RC_ACTION_LAUNCH_MANAGER && spec.no_launch_manager) ||
                               (u->kind == RC_ACTION_LAUNCH_WORKER && spec.no_launch_worker);

                for (size_t k = 0; k < nb; k++)
                        backing |= streq(b[k].key, rc_action_backoff_key(u)) && b[k].not_before_usec > NOW;
                if (change && (no_path || backing)) {
                        CHECK(g->kind == RC_ACTION_WAIT && !g->destructive && g->waits_for == u->kind);
                        CHECK_INT(g->wait, no_path ? RC_WAIT_NO_LAUNCH_PATH : RC_WAIT_BACKOFF);
                        CHECK(streq_ptr(g->logical_id, u->logical_id) && streq_ptr(g->instance_id, u->instance_id) &&
                              streq_ptr(g->volume_id, u->volume_id) && streq_ptr(g->node_id, u->node_id) &&
                              g->holds_slot == u->holds_slot && g->seat_pending == u->seat_pending);
                } else
                        CHECK(g->kind == u->kind && g->wait == u->wait && streq(g->reason, u->reason));
                if (g->kind != RC_ACTION_WAIT && g->kind != RC_ACTION_REPORT) {
                        for (size_t k = 0; k < nb; k++)
                                CHECK(!(streq(b[k].key, rc_action_backoff_key(g)) && b[k].not_before_usec > NOW));
                        CHECK(!(g->kind == RC_ACTION_LAUNCH_MANAGER && spec.no_launch_manager));
                        CHECK(!(g->kind == RC_ACTION_LAUNCH_WORKER && spec.no_launch_worker));
                }
        }
        if (test_failures)
                fprintf(stderr, "seed %u: the gated plan\n", seed);
        rc_plan_done(&gated);
}

static void test_random_worlds(void) {
        unsigned n = getenv("SK_RECONCILE_WORLDS") ? (unsigned) atoi(getenv("SK_RECONCILE_WORLDS")) : 20000;
        size_t kinds[_RC_ACTION_KIND_MAX][2] = {};

        for (unsigned seed = 1; seed <= n; seed++) {
                RcPlan again = {};

                rng_state = UINT64_C(0x9e3779b97f4a7c15) * seed;
                random_world();
                CHECK_INT(run(), 0);
                check_random_plan(seed);
                check_gate(seed);
                if (getenv("SK_RECONCILE_STATS"))
                        for (size_t i = 0; i < W.plan.n; i++)
                                kinds[W.plan.actions[i].kind][W.plan.quorum_loss_mode]++;
                CHECK_INT(rc_plan(&W.spec, &W.obs, &W.mem, &again), 0);
                CHECK_INT(again.n, W.plan.n);
                for (size_t i = 0; i < again.n && i < W.plan.n; i++)
                        CHECK(again.actions[i].kind == W.plan.actions[i].kind &&
                              streq(again.actions[i].reason, W.plan.actions[i].reason));
                rc_plan_done(&again);
        }
        rc_plan_done(&W.plan);
        if (getenv("SK_RECONCILE_STATS"))
                for (unsigned k = 0; k < _RC_ACTION_KIND_MAX; k++)
                        fprintf(stderr, "%-18s %8zu %8zu (quorum-loss mode)\n", rc_action_kind_to_string(k), kinds[k][0],
                                kinds[k][1]);
}

/* Worker tokens: the same pass again gives the same tokens; a changed listing new ones. */
static void test_worker_tokens(void) {
        char a[RC_CLIENT_TOKEN_MAX + 1], b[RC_CLIENT_TOKEN_MAX + 1];

        r_workers_launch();
        CHECK_INT(run(), 0);
        snprintf(a, sizeof(a), "%s", find(RC_ACTION_LAUNCH_WORKER, 0)->client_token);
        CHECK_INT(run(), 0);
        CHECK_STR(find(RC_ACTION_LAUNCH_WORKER, 0)->client_token, a);
        add_inst("i-wdead", RC_INSTANCE_TERMINATED, "worker", NULL, NULL, NULL, NOW - SEC(100));
        CHECK_INT(run(), 0);
        snprintf(b, sizeof(b), "%s", find(RC_ACTION_LAUNCH_WORKER, 0)->client_token);
        CHECK(!streq(a, b));
        rc_plan_done(&W.plan);
}

/* Issue 14: the subnet is an input of a worker's token. The same slot and listing placed in
 * another subnet (here: subnet-b left the subnet listing) gets another token: with the old
 * one EC2 answers IdempotentParameterMismatch for as long as the listing stays the same. */
static void test_worker_token_subnet(void) {
        char a[RC_CLIENT_TOKEN_MAX + 1];
        const RcAction *w;

        r_workers_launch();
        W.spec.workers = 2;
        CHECK_INT(run(), 0);
        w = find(RC_ACTION_LAUNCH_WORKER, 0);
        CHECK(w && streq(w->slot, "worker-0") && streq(w->subnet_id, "subnet-b"));
        snprintf(a, sizeof(a), "%s", w ? w->client_token : "");
        W.sub[1] = W.sub[2];
        W.n_sub = 2;
        CHECK_INT(run(), 0);
        w = find(RC_ACTION_LAUNCH_WORKER, 0);
        CHECK(w && streq(w->slot, "worker-0") && streq(w->subnet_id, "subnet-c"));
        CHECK(w && !streq(w->client_token, a));
        rc_plan_done(&W.plan);
}

/* Many launches: the plan grows (reallocates) while being built; no action points into
 * itself (issue 15: replaces is NULL, the generation its own field), and each token is
 * derived from its own generation. */
static void test_many_worker_launches(void) {
        world(0);
        W.spec.workers = 100;
        CHECK_INT(run(), 0);
        CHECK_INT(W.plan.n, 100);
        for (size_t i = 0; i < W.plan.n; i++) {
                const RcAction *a = &W.plan.actions[i];
                char tok[RC_CLIENT_TOKEN_MAX + 1];

                CHECK(a->kind == RC_ACTION_LAUNCH_WORKER && a->replaces == NULL);
                CHECK_INT(rc_client_token("prod", a->slot, a->generation, tok, sizeof(tok)), 0);
                CHECK_STR(a->client_token, tok);
                if (i > 0)
                        CHECK(!streq(a->client_token, W.plan.actions[i - 1].client_token));
        }
        rc_plan_done(&W.plan);
}

static void test_bad_spec(void) {
        RcPlan p = {};

        world(0);
        run();
        W.managers[2] = M1;
        CHECK_INT(rc_plan(&W.spec, &W.obs, &W.mem, &p), -EINVAL);
        W.managers[2] = "10.0.3.256";
        CHECK_INT(rc_plan(&W.spec, &W.obs, &W.mem, &p), -EINVAL);
        W.managers[2] = M2;
        W.spec.cluster = "";
        CHECK_INT(rc_plan(&W.spec, &W.obs, &W.mem, &p), -EINVAL);
        W.spec.cluster = "prod";
        W.spec.n_managers = 0;
        CHECK_INT(rc_plan(&W.spec, &W.obs, &W.mem, &p), -EINVAL);
        CHECK_INT(rc_plan(NULL, &W.obs, &W.mem, &p), -EINVAL);
        CHECK(p.actions == NULL && p.n == 0);
        rc_plan_done(&W.plan);
}

static void test_ip_in_subnet(void) {
        static const struct {
                const char *ip, *cidr;
                int r;
        } t[] = {
                { "10.0.1.10", "10.0.1.0/24", 1 },
                { "10.0.1.4", "10.0.1.0/24", 1 },
                { "10.0.1.254", "10.0.1.0/24", 1 },
                { "10.0.1.0", "10.0.1.0/24", 0 },   /* network */
                { "10.0.1.1", "10.0.1.0/24", 0 },   /* VPC router */
                { "10.0.1.2", "10.0.1.0/24", 0 },   /* DNS */
                { "10.0.1.3", "10.0.1.0/24", 0 },   /* reserved */
                { "10.0.1.255", "10.0.1.0/24", 0 }, /* broadcast */
                { "10.0.2.10", "10.0.1.0/24", 0 },
                { "10.0.200.7", "10.0.0.0/16", 1 },
                { "10.0.0.20", "10.0.0.16/28", 1 },
                { "10.0.0.31", "10.0.0.16/28", 0 },
                { "10.0.0.19", "10.0.0.16/28", 0 },
                { "1.2.3.4", "0.0.0.0/0", 1 },
                { "10.0.0.1", "10.0.0.1/32", 0 },
                { "010.0.1.10", "10.0.1.0/24", -EINVAL },
                { "10.0.1", "10.0.1.0/24", -EINVAL },
                { "10.0.1.10.1", "10.0.1.0/24", -EINVAL },
                { "10.0.1.256", "10.0.1.0/24", -EINVAL },
                { " 10.0.1.10", "10.0.1.0/24", -EINVAL },
                { "10.0.1.10 ", "10.0.1.0/24", -EINVAL },
                { "10.0.1.+1", "10.0.1.0/24", -EINVAL },
                { "10.0.1.10", "10.0.1.0/33", -EINVAL },
                { "10.0.1.10", "10.0.1.0/024", -EINVAL },
                { "10.0.1.10", "10.0.1.0/", -EINVAL },
                { "10.0.1.10", "10.0.1.0", -EINVAL },
                { "10.0.1.10", "10.0.1.1/24", -EINVAL }, /* host bits set */
                { "10.0.1.10", "10.0.1.0/24x", -EINVAL },
                { "", "10.0.1.0/24", -EINVAL },
                { NULL, "10.0.1.0/24", -EINVAL },
                { "10.0.1.10", NULL, -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                int r = rc_ip_in_subnet(t[i].ip, t[i].cidr);
                if (r != t[i].r)
                        fprintf(stderr, "rc_ip_in_subnet(%s, %s) = %d, expected %d\n", strempty(t[i].ip),
                                strempty(t[i].cidr), r, t[i].r);
                CHECK_INT(r, t[i].r);
        }
}

static void test_client_token(void) {
        char a[RC_CLIENT_TOKEN_MAX + 1], b[RC_CLIENT_TOKEN_MAX + 1], big[200];

        /* Known answer: "sk-" + the first 128 bits of SHA-256("prod\0" "10.0.1.10\0" "i-0123…"),
         * as Python's hashlib computes it. */
        CHECK_INT(rc_client_token("prod", "10.0.1.10", "i-0123456789abcdef0", a, sizeof(a)), 0);
        CHECK_STR(a, "sk-6f4a20c3fec47e3f44387e4f8fbb3c1a");
        /* More than one SHA-256 block. */
        memset(big, 'r', 100);
        big[100] = 0;
        CHECK_INT(rc_client_token("c", "s", big, b, sizeof(b)), 0);
        CHECK_STR(b, "sk-756175faa9de18e3494bcd86aa07f799");

        CHECK_INT(rc_client_token("prod", "10.0.1.10", "i-0123456789abcdef1", b, sizeof(b)), 0);
        CHECK(!streq(a, b));
        CHECK_INT(rc_client_token("prod", "10.0.1.1", "0i-0123456789abcdef0", b, sizeof(b)), 0);
        CHECK(!streq(a, b)); /* separators: no shifting between fields */
        CHECK(strlen(a) <= RC_CLIENT_TOKEN_MAX);
        for (const char *c = a; *c; c++)
                CHECK(*c > 32 && *c < 127);

        CHECK_INT(rc_client_token("", "s", "r", a, sizeof(a)), -EINVAL);
        CHECK_INT(rc_client_token("c", NULL, "r", a, sizeof(a)), -EINVAL);
        CHECK_INT(rc_client_token("c", "s", "", a, sizeof(a)), -EINVAL);
        CHECK_INT(rc_client_token("c", "s", "r", a, RC_CLIENT_TOKEN_MAX), -EINVAL);
}

static void test_kind_names(void) {
        for (unsigned k = 0; k < _RC_ACTION_KIND_MAX; k++)
                CHECK(rc_action_kind_to_string(k) != NULL);
        CHECK(rc_action_kind_to_string(_RC_ACTION_KIND_MAX) == NULL);
        CHECK_STR(rc_action_kind_to_string(RC_ACTION_LAUNCH_MANAGER), "launch-manager");
}

/* Issue 15: the one mode rule (rc_mode()). */
static void test_mode(void) {
        world(2);
        CHECK_INT(rc_mode(&W.spec, &W.obs, &W.mem), RC_MODE_LEADER);
        W.obs.quorum = false; /* a Leader without quorum is still the one to decide (a WAIT) */
        CHECK_INT(rc_mode(&W.spec, &W.obs, &W.mem), RC_MODE_LEADER);
        W.obs.leader = false;
        W.mem.no_leader_since_usec = 0; /* another node leads */
        CHECK_INT(rc_mode(&W.spec, &W.obs, &W.mem), RC_MODE_FOLLOWER);
        W.mem.no_leader_since_usec = NOW - QLGRACE + SEC(1);
        CHECK_INT(rc_mode(&W.spec, &W.obs, &W.mem), RC_MODE_FOLLOWER);
        W.mem.no_leader_since_usec = NOW - QLGRACE;
        CHECK_INT(rc_mode(&W.spec, &W.obs, &W.mem), RC_MODE_QUORUM_LOSS);
        W.obs.self_manager = false;
        CHECK_INT(rc_mode(&W.spec, &W.obs, &W.mem), RC_MODE_FOLLOWER);
        CHECK_INT(rc_mode(&W.spec, &W.obs, NULL), RC_MODE_FOLLOWER);
        CHECK_STR(rc_mode_to_string(RC_MODE_QUORUM_LOSS), "quorum-loss");
        CHECK_INT(run(), 0);
        CHECK_INT(W.plan.mode, RC_MODE_FOLLOWER);
        CHECK(W.plan.n == 1 && W.plan.actions[0].wait == RC_WAIT_FOLLOWER);
        rc_plan_done(&W.plan);
}

/* Issue 15: "the swarm is complete: EC2 not asked" is the planner's rule. */
static void test_needs_ec2(void) {
        world(2);
        W.spec.workers = 2;
        W.mem.ec2_observed_usec = NOW - SEC(10);
        W.obs.instances_ok = W.obs.volumes_ok = W.obs.subnets_ok = false; /* not listed */
        W.obs.nodes = W.node, W.obs.n_nodes = W.n_node;
        CHECK(!rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        CHECK_INT(run(), 0);
        CHECK(W.plan.n == 1 && W.plan.actions[0].kind == RC_ACTION_WAIT &&
              W.plan.actions[0].wait == RC_WAIT_SWARM_COMPLETE);
        /* listed after all (`status`): the full rules, whatever it needed */
        W.obs.ec2_listed = true;
        W.obs.instances_ok = W.obs.volumes_ok = W.obs.subnets_ok = true;
        CHECK_INT(run(), 0);
        for (size_t i = 0; i < W.plan.n; i++)
                CHECK(W.plan.actions[i].wait != RC_WAIT_SWARM_COMPLETE);
        W.obs.ec2_listed = false;
        CHECK(!rc_plan_amiss(&W.spec, &W.obs, &W.mem));
        W.mem.ec2_observed_usec = NOW - SEC(300); /* the full check is due */
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        CHECK(!rc_plan_amiss(&W.spec, &W.obs, &W.mem)); /* due, but nothing amiss */
        W.mem.ec2_observed_usec = 0;              /* never listed */
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        W.mem.ec2_observed_usec = NOW - SEC(10);
        W.spec.ec2_full_interval_usec = SEC(5);   /* a shorter interval, configured */
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        W.spec.ec2_full_interval_usec = 0;
        W.mem.n_inflight = 1;                     /* something in flight */
        W.mem.inflight = W.fl;
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        W.mem.n_inflight = 0;
        W.mem.n_recovering = 1;
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        W.mem.n_recovering = 0;
        W.mem.unmarked_volumes = true;
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        W.mem.unmarked_volumes = false;
        W.mem.n_backoff = 1;
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        W.mem.n_backoff = 0;
        CHECK(!rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        W.spec.workers = 3;                       /* a worker short */
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        CHECK(rc_plan_amiss(&W.spec, &W.obs, &W.mem));
        W.spec.workers = 2;
        W.node[1].reachability = RC_REACH_UNREACHABLE; /* a manager Unreachable */
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        W.node[1].reachability = RC_REACH_REACHABLE;
        W.node[W.n_node - 1].state = RC_NODE_DOWN; /* a Down worker */
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        W.node[W.n_node - 1].state = RC_NODE_READY;
        W.obs.n_nodes = W.n_node - 1;              /* a node missing */
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        W.obs.n_nodes = W.n_node;
        W.obs.nodes_ok = false;
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        W.obs.nodes_ok = true;
        W.mem.no_leader_since_usec = NOW - QLGRACE; /* quorum-loss mode always lists */
        W.obs.leader = false;
        CHECK(rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        W.mem.no_leader_since_usec = 0;           /* a follower never does */
        CHECK(!rc_plan_needs_ec2(&W.spec, &W.obs, &W.mem));
        rc_plan_done(&W.plan);
}

/* Issue 15: a launch backing off, or without a launch path, is a WAIT in the plan. */
static void test_gate_rows(void) {
        RcBackoffEntry b[2];
        const RcAction *a;

        world(0);
        lose(1);
        CHECK_INT(run(), 0);
        a = find(RC_ACTION_LAUNCH_MANAGER, 0);
        CHECK(a && streq_ptr(a->logical_id, W.managers[1]));
        b[0] = (RcBackoffEntry){ .key = W.managers[1], .not_before_usec = NOW + SEC(42) };
        W.mem.backoff = b, W.mem.n_backoff = 1;
        CHECK_INT(run(), 0);
        CHECK(!find(RC_ACTION_LAUNCH_MANAGER, 0));
        a = find(RC_ACTION_WAIT, 0);
        while (a && a->wait != RC_WAIT_BACKOFF)
                a = a + 1 < W.plan.actions + W.plan.n ? a + 1 : NULL;
        CHECK(a && a->waits_for == RC_ACTION_LAUNCH_MANAGER && streq_ptr(a->logical_id, W.managers[1]) && a->holds_slot);
        CHECK(a && strstr(a->reason, "42s left"));
        b[0].not_before_usec = NOW; /* run out */
        CHECK_INT(run(), 0);
        CHECK(find(RC_ACTION_LAUNCH_MANAGER, 0) != NULL);
        W.mem.n_backoff = 0;
        W.spec.no_launch_manager = true;
        CHECK_INT(run(), 0);
        CHECK(!find(RC_ACTION_LAUNCH_MANAGER, 0));
        for (size_t i = 0; i < W.plan.n; i++)
                if (W.plan.actions[i].wait == RC_WAIT_NO_LAUNCH_PATH)
                        CHECK(W.plan.actions[i].waits_for == RC_ACTION_LAUNCH_MANAGER);
        /* workers: one slot backing off, the others launched */
        world(0);
        W.spec.workers = 3;
        CHECK_INT(run(), 0);
        CHECK(find(RC_ACTION_LAUNCH_WORKER, 2) != NULL);
        b[1] = (RcBackoffEntry){ .key = "worker-1", .not_before_usec = NOW + SEC(5) };
        W.mem.backoff = b + 1, W.mem.n_backoff = 1;
        CHECK_INT(run(), 0);
        CHECK(find(RC_ACTION_LAUNCH_WORKER, 1) != NULL && !find(RC_ACTION_LAUNCH_WORKER, 2));
        a = find(RC_ACTION_WAIT, 0);
        CHECK(a && a->wait == RC_WAIT_BACKOFF && streq(a->slot, "worker-1") && !a->replaces);
        W.mem.n_backoff = 0;
        W.spec.no_launch_worker = true;
        CHECK_INT(run(), 0);
        CHECK(!find(RC_ACTION_LAUNCH_WORKER, 0));
        rc_plan_done(&W.plan);
}

/* Issue 15: whether the plan changed is the actions' identity, not their text. */
static void test_identity(void) {
        RcAction a = { .kind = RC_ACTION_WAIT, .wait = RC_WAIT_STABLE, .logical_id = "10.0.1.10", .node_id = "n1" };
        RcAction b = a;
        char ka[RC_ACTION_IDENTITY_MAX], kb[RC_ACTION_IDENTITY_MAX];

        snprintf(a.reason, sizeof(a.reason), "10.0.1.10: node n1 is Ready and Reachable for 4s of 30s.");
        snprintf(b.reason, sizeof(b.reason), "10.0.1.10: node n1 is Ready and Reachable for 16s of 30s.");
        rc_action_identity(&a, ka, sizeof(ka));
        rc_action_identity(&b, kb, sizeof(kb));
        CHECK_STR(ka, kb);
        b.wait = RC_WAIT_GRACE;
        rc_action_identity(&b, kb, sizeof(kb));
        CHECK(!streq(ka, kb));
        b = a;
        b.node_id = "n2";
        rc_action_identity(&b, kb, sizeof(kb));
        CHECK(!streq(ka, kb));
        b = a;
        b.kind = RC_ACTION_FENCE, b.wait = RC_WAIT_NONE;
        rc_action_identity(&b, kb, sizeof(kb));
        CHECK(!streq(ka, kb));
        /* a launch and the WAIT that holds it back (backoff) are the same decision: a plan
         * alternating between them is no change (else the fast cadence never ends) */
        {
                RcAction l = { .kind = RC_ACTION_LAUNCH_MANAGER, .logical_id = "10.0.1.10", .subnet_id = "subnet-a" };
                RcAction w = l;
                snprintf(l.slot, sizeof(l.slot), "10.0.1.10");
                snprintf(l.client_token, sizeof(l.client_token), "sk-0123");
                w = l;
                w.kind = RC_ACTION_WAIT, w.wait = RC_WAIT_BACKOFF, w.waits_for = RC_ACTION_LAUNCH_MANAGER;
                rc_action_identity(&l, ka, sizeof(ka));
                rc_action_identity(&w, kb, sizeof(kb));
                CHECK_STR(ka, kb);
                w.wait = RC_WAIT_ONE_AT_A_TIME; /* another wait: another decision */
                rc_action_identity(&w, kb, sizeof(kb));
                CHECK(!streq(ka, kb));
        }
        for (unsigned c = 0; c < _RC_WAIT_CODE_MAX; c++)
                CHECK(rc_wait_code_to_string(c) != NULL);
        CHECK(rc_wait_code_to_string(_RC_WAIT_CODE_MAX) == NULL);
}

int main(void) {
        test_rows();
        test_worker_tokens();
        test_worker_token_subnet();
        test_many_worker_launches();
        test_random_worlds();
        test_bad_spec();
        test_ip_in_subnet();
        test_client_token();
        test_kind_names();
        test_mode();
        test_needs_ec2();
        test_gate_rows();
        test_identity();
        return test_done("test-reconcile");
}
