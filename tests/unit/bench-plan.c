/* SPDX-License-Identifier: MIT */
/*
 * How long one rc_plan() pass takes for a cluster of 7 managers and N workers
 * (default 1,000; target ≤ 5 ms), in five shapes:
 *   steady      everything healthy, nothing to do (plus N/5 terminated workers still
 *               listed, as EC2 keeps them for an hour)
 *   lost        one manager terminated: one launch, the others wait
 *   scale-up    N wanted, 4N/5 running: N/5 launches spread over 3 subnets
 *   scale-down  N wanted, 6N/5 running: N/5 drains
 *   dead        N/10 worker nodes Down whose instances are terminated: N/10 removals
 *
 *   bench-plan [--workers N] [--runs R]
 *
 * Prints median / p90 / max of R runs (default 200) in microseconds of thread CPU time
 * (the machine is shared: wall time would count other processes) and the number of
 * actions planned; exits non-zero if a shape does not plan what it should.
 */
#include <getopt.h>
#include <time.h>

#include "reconcile.h"
#include "util.h"

#define SEC(x) ((uint64_t) (x) * USEC_PER_SEC)
#define NOW SEC(1700000000)
#define N_MANAGERS 7

typedef struct Bench {
        const char *managers[N_MANAGERS];
        char ids[N_MANAGERS][3][32];
        RcSpec spec;
        RcObservation obs;
        RcMemory mem;
        RcInstance *inst;
        size_t n_inst;
        RcVolume vol[N_MANAGERS];
        const char *att[N_MANAGERS];
        RcSubnet sub[3];
        RcNode *node;
        RcNodeStreak *streak;           /* the memory's streak of node[i] */
        size_t n_node;
        char (*names)[3][32];
} Bench;

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* CPU time of this thread: the machine is shared, wall time would count the others. */
static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static const char *const subnets[3] = { "subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb", "subnet-0cccccccccccccccc" };

/* 7 healthy managers; `running` running workers with Ready nodes, then `terminated`
 * terminated workers (no node). */
static int build(Bench *b, unsigned wanted, size_t running, size_t terminated) {
        static const char *const ips[N_MANAGERS] = { "10.0.1.10", "10.0.2.10", "10.0.3.10", "10.0.1.11",
                                                     "10.0.2.11", "10.0.3.11", "10.0.1.12" };
        size_t total = N_MANAGERS + running + terminated;

        free(b->inst);
        free(b->node);
        free(b->streak);
        free(b->names);
        b->inst = calloc(total, sizeof(RcInstance));
        b->node = calloc(total, sizeof(RcNode));
        b->streak = calloc(total, sizeof(RcNodeStreak));
        b->names = calloc(total, sizeof(*b->names));
        if (!b->inst || !b->node || !b->streak || !b->names)
                return -ENOMEM;
        b->n_inst = b->n_node = 0;

        b->sub[0] = (RcSubnet) { subnets[0], "10.0.1.0/24", "us-east-1a" };
        b->sub[1] = (RcSubnet) { subnets[1], "10.0.2.0/24", "us-east-1b" };
        b->sub[2] = (RcSubnet) { subnets[2], "10.0.3.0/24", "us-east-1c" };
        for (size_t k = 0; k < N_MANAGERS; k++) {
                const char *iid = b->ids[k][0], *vid = b->ids[k][1], *nid = b->ids[k][2];

                b->managers[k] = ips[k];
                snprintf(b->ids[k][0], sizeof(b->ids[k][0]), "i-0m%015zx", k);
                snprintf(b->ids[k][1], sizeof(b->ids[k][1]), "vol-0m%015zx", k);
                snprintf(b->ids[k][2], sizeof(b->ids[k][2]), "mgrnode%017zu", k);
                b->inst[b->n_inst++] = (RcInstance) { iid, RC_INSTANCE_RUNNING, "bench", ips[k], "manager", ips[k],
                                                      subnets[k % 3], NULL, NOW - SEC(86400) };
                b->att[k] = iid;
                b->vol[k] = (RcVolume) { vid, RC_VOLUME_IN_USE, ips[k], b->sub[k % 3].availability_zone, &b->att[k], 1 };
                b->vol[k].has_state = true; /* its host is a member */
                b->node[b->n_node++] = (RcNode) { .id = nid, .logical_id = ips[k], .instance_id = iid, .manager = true,
                                                  .leader = k == 0, .state = RC_NODE_READY,
                                                  .reachability = RC_REACH_REACHABLE, .availability = "active",
                                                  .created_usec = NOW - SEC(86400) };
                b->streak[b->n_node - 1] = (RcNodeStreak) { .node_id = nid, .healthy_since_usec = NOW - SEC(3600) };
        }
        for (size_t k = 0; k < running + terminated; k++) {
                char *iid = b->names[k][0], *ip = b->names[k][1], *nid = b->names[k][2];
                bool live = k < running;

                /* ids in a scattered order, as EC2's are */
                snprintf(iid, 32, "i-0%016llx", (unsigned long long) ((k * 0x9e3779b97f4a7c15ULL) >> 8));
                snprintf(ip, 32, "10.0.%zu.%zu", 100 + k / 250, 4 + k % 250);
                snprintf(nid, 32, "wrknode%017zu", k);
                b->inst[b->n_inst++] = (RcInstance) { iid, live ? RC_INSTANCE_RUNNING : RC_INSTANCE_TERMINATED, "bench",
                                                      NULL, "worker", live ? ip : NULL, live ? subnets[k % 3] : NULL,
                                                      NULL, NOW - SEC(7200) + SEC(k) };
                if (live)
                        b->node[b->n_node++] = (RcNode) { .id = nid, .instance_id = iid, .state = RC_NODE_READY,
                                                          .reachability = RC_REACH_NONE, .availability = "active",
                                                          .created_usec = NOW - SEC(7200) };
                if (live)
                        b->streak[b->n_node - 1] = (RcNodeStreak) { .node_id = nid, .healthy_since_usec = NOW - SEC(3600) };
        }
        b->spec = (RcSpec) { .cluster = "bench", .managers = b->managers, .n_managers = N_MANAGERS,
                             .bootstrap = b->managers[0], .workers = wanted, .grace_usec = SEC(120),
                             .quorum_loss_grace_usec = SEC(300), .stable_usec = SEC(60),
                             .launch_settle_usec = SEC(90) };
        b->obs = (RcObservation) { .now_usec = NOW, .instances_ok = true, .instances = b->inst, .n_instances = b->n_inst,
                                   .volumes_ok = true, .volumes = b->vol, .n_volumes = N_MANAGERS, .subnets_ok = true,
                                   .subnets = b->sub, .n_subnets = 3, .nodes_ok = true, .nodes = b->node,
                                   .n_nodes = b->n_node, .leader = true, .quorum = true, .self_manager = true };
        b->mem = (RcMemory) { .tokens_rotated_usec = NOW - SEC(3600), .streaks = b->streak, .n_streaks = b->n_node };
        return 0;
}

static size_t count(const RcPlan *p, RcActionKind k) {
        size_t n = 0;
        for (size_t i = 0; i < p->n; i++)
                n += p->actions[i].kind == k;
        return n;
}

/* Time R passes; check the last plan has `expect` actions of kind `kind`. */
static int measure(const char *name, Bench *b, unsigned runs, RcActionKind kind, size_t expect) {
        _cleanup_(freep) uint64_t *t = calloc(runs, sizeof(uint64_t));
        RcPlan plan = {};
        size_t n_actions = 0, got = 0;

        if (!t)
                return -ENOMEM;
        for (unsigned r = 0; r < runs; r++) {
                uint64_t t0 = now_ns();
                int e = rc_plan(&b->spec, &b->obs, &b->mem, &plan);
                t[r] = now_ns() - t0;
                if (e < 0) {
                        fprintf(stderr, "%s: rc_plan: %s\n", name, strerror(-e));
                        return e;
                }
                n_actions = plan.n;
                got = count(&plan, kind);
                rc_plan_done(&plan);
        }
        qsort(t, runs, sizeof(uint64_t), cmp_u64);
        printf("%-11s instances %6zu nodes %6zu: median %8.1f µs  p90 %8.1f µs  max %8.1f µs  (%zu actions, %zu %s)\n",
               name, b->n_inst, b->n_node, t[runs / 2] / 1e3, t[runs * 9 / 10] / 1e3, t[runs - 1] / 1e3, n_actions, got,
               rc_action_kind_to_string(kind));
        if (got != expect) {
                fprintf(stderr, "%s: expected %zu %s, planned %zu\n", name, expect, rc_action_kind_to_string(kind), got);
                return -EBADMSG;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "workers", required_argument, NULL, 'w' },
                { "runs", required_argument, NULL, 'r' },
                {},
        };
        Bench b = {};
        unsigned workers = 1000, runs = 200;
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "w:r:", options, NULL)) >= 0)
                switch (c) {
                case 'w':
                        workers = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'r':
                        runs = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                default:
                        return 2;
                }
        if (workers < 10 || runs < 1) {
                fprintf(stderr, "--workers ≥ 10, --runs ≥ 1\n");
                return 2;
        }

        if (build(&b, workers, workers, workers / 5) >= 0)
                r = measure("steady", &b, runs, RC_ACTION_WAIT, 0) ?: r;
        if (r >= 0 && build(&b, workers, workers, workers / 5) >= 0) {
                b.inst[3].state = RC_INSTANCE_TERMINATED, b.inst[3].private_ip = NULL, b.inst[3].subnet_id = NULL;
                b.vol[3].state = RC_VOLUME_AVAILABLE, b.vol[3].n_attached = 0;
                b.node[3].state = RC_NODE_DOWN, b.node[3].reachability = RC_REACH_UNREACHABLE;
                r = measure("lost", &b, runs, RC_ACTION_LAUNCH_MANAGER, 1) ?: r;
        }
        if (r >= 0 && build(&b, workers, workers * 4 / 5, workers / 5) >= 0)
                r = measure("scale-up", &b, runs, RC_ACTION_LAUNCH_WORKER, workers - workers * 4 / 5) ?: r;
        if (r >= 0 && build(&b, workers, workers * 6 / 5, workers / 5) >= 0)
                r = measure("scale-down", &b, runs, RC_ACTION_DRAIN_WORKER, workers * 6 / 5 - workers) ?: r;
        if (r >= 0 && build(&b, workers, workers, workers / 5) >= 0) {
                /* the first N/10 workers: terminated, their nodes Down; N/10 replacements listed too */
                size_t dead = workers / 10;
                for (size_t k = 0; k < dead; k++) {
                        b.inst[N_MANAGERS + k].state = RC_INSTANCE_TERMINATED;
                        b.node[N_MANAGERS + k].state = RC_NODE_DOWN;
                }
                b.spec.workers = workers - (unsigned) dead;
                r = measure("dead", &b, runs, RC_ACTION_REMOVE_NODE, dead) ?: r;
        }
        free(b.inst);
        free(b.node);
        free(b.streak);
        free(b.names);
        return r < 0 ? 1 : 0;
}
