/* SPDX-License-Identifier: MIT */
/*
 * The executor's side of the contract between planner and executor (docs/architecture.md,
 * "The contract between planner and executor"): pass_run() (agent/pass.c) against the
 * fake EC2 on 127.0.0.1 and a canned engine on a unix socket, unprivileged.
 *
 * The world: three managers, seat A (this node: Leader, Ready, Reachable) and seat B
 * (Ready, Reachable) running on their volumes, seat C's instance terminated, its node
 * Down and Unreachable, its volume available and marked as holding swarm state; and
 * Cluster.Workers=1 with no worker. The planner plans LAUNCH_MANAGER for C and
 * LAUNCH_WORKER; what the executor does with them is checked on the fake's call log and
 * the engine's request log, the plan and the pass's history (never log wording):
 *
 *  - every change the plan holds is carried out, and no EC2 call that changes anything
 *    is made that no action of the plan stands for;
 *  - a key backing off is a WAIT (backoff) in the plan and is not carried out; the rest is;
 *  - a failing action does not stop the others: the pass returns the failure, its key
 *    backs off in the returned history, and the next pass on that history plans it as a
 *    WAIT (backoff) and makes no call for it;
 *  - a role without a launch path is a WAIT (no-launch-path) and is not launched.
 *
 * The Pass is made as the loop makes it (rc_settings_new() from a Config, pass_new(),
 * pass_ec2()), with static keys and the EC2 client's retry sleeps recorded, not slept.
 */
#include "aws-test-lib.h"
#include "canned-engine.h"

#include "act.h"
#include "json-util.h"
#include "pass.h"

#define CLUSTER "px"
#define AZ "us-east-1a"
#define SUBNET "subnet-aaaaaaaa" /* the fake's 10.0.1.0/24 in us-east-1a */
#define SEAT_A "10.0.1.11"
#define SEAT_B "10.0.1.12"
#define SEAT_C "10.0.1.13"
#define INST_A "i-0a00000000000000a"
#define INST_B "i-0a00000000000000b"
#define INST_C "i-0a00000000000000c"
#define NODE_A "nodeaaaa"
#define NODE_B "nodebbbb"
#define NODE_C "nodecccc"
#define TEMPLATE_ID "lt-0123456789abcdef0"

static Sleeps sleeps;

/* ------------------------------------------------------------ the engine */

#define NODE(id, lid, inst, state, leader, reach)                                                             \
        "{\"ID\":\"" id "\",\"Version\":{\"Index\":7},\"CreatedAt\":\"2024-03-01T10:00:00Z\","                \
        "\"Spec\":{\"Labels\":{},\"Role\":\"manager\",\"Availability\":\"active\"},"                         \
        "\"Description\":{\"Hostname\":\"" id "\",\"Engine\":{\"Labels\":{\"swarmkeeper.logical-id\":\"" lid \
        "\",\"swarmkeeper.instance-id\":\"" inst "\"}}},"                                                     \
        "\"Status\":{\"State\":\"" state "\",\"Addr\":\"" lid "\"},"                                          \
        "\"ManagerStatus\":{\"Leader\":" leader ",\"Reachability\":\"" reach "\",\"Addr\":\"" lid ":2377\"}}"

static const char info_json[] =
        "{\"Name\":\"" NODE_A "\",\"Swarm\":{\"NodeID\":\"" NODE_A "\",\"NodeAddr\":\"" SEAT_A "\","
        "\"LocalNodeState\":\"active\",\"ControlAvailable\":true,\"Cluster\":{\"ID\":\"clu\"}}}";
/* the manager listing (GET /nodes?filters=role=manager, right before each action) is
 * the same: the swarm has no worker */
static const char nodes_json[] = "[" NODE(NODE_A, SEAT_A, INST_A, "ready", "true", "reachable") ","
                                 NODE(NODE_B, SEAT_B, INST_B, "ready", "false", "reachable") ","
                                 NODE(NODE_C, SEAT_C, INST_C, "down", "false", "unreachable") "]";
static const char swarm_json[] =
        "{\"ID\":\"sw\",\"Version\":{\"Index\":77},\"UpdatedAt\":\"2024-03-01T10:00:05.5Z\","
        "\"Spec\":{\"Name\":\"default\",\"Orchestration\":{\"TaskHistoryRetentionLimit\":5}},"
        "\"JoinTokens\":{\"Worker\":\"SWMTKN-1-w\",\"Manager\":\"SWMTKN-1-m\"}}";

static char *engine_ping, *engine_version, *engine_info, *engine_nodes, *engine_swarm;

static void engine_start(void) {
        const Canned canned[] = {
                { "GET /_ping", engine_ping },   { "GET /version", engine_version },
                { "GET /v1.41/info", engine_info }, { "GET /v1.41/nodes", engine_nodes },
                { "GET /v1.41/swarm ", engine_swarm },
        };

        server_start(canned, ELEMENTSOF(canned));
}

static void engine_stop(void) {
        server_stop();
        unlink(log_path);
}

/* ------------------------------------------------------------ the world in EC2 */

#define MANAGER_TAGS(lid) \
        "\"tags\": {\"swarmkeeper:cluster\": \"" CLUSTER "\", \"swarmkeeper:role\": \"manager\", " \
        "\"swarmkeeper:logical-id\": \"" lid "\"}"
#define VOLUME_TAGS(lid) \
        "\"tags\": {\"swarmkeeper:cluster\": \"" CLUSTER "\", \"swarmkeeper:role\": \"manager\", " \
        "\"swarmkeeper:logical-id\": \"" lid "\", \"swarmkeeper:has-state\": \"yes\"}"

typedef struct World {
        char *inst[3], *vol[3];
} World;

static void world_done(World *w) {
        for (size_t i = 0; i < 3; i++) {
                free(w->inst[i]);
                free(w->vol[i]);
        }
        *w = (World){};
}

static void seed_world(World *w) {
        w->inst[0] = seed_instance(SEAT_A, AZ, "\"id\": \"" INST_A "\", \"subnet\": \"" SUBNET "\", " MANAGER_TAGS(SEAT_A));
        w->inst[1] = seed_instance(SEAT_B, AZ, "\"id\": \"" INST_B "\", \"subnet\": \"" SUBNET "\", " MANAGER_TAGS(SEAT_B));
        w->inst[2] = seed_instance(SEAT_C, AZ, "\"id\": \"" INST_C "\", \"subnet\": \"" SUBNET "\", \"state\": \"terminated\", "
                                   MANAGER_TAGS(SEAT_C));
        w->vol[0] = seed_volume(AZ, "\"attached_to\": \"" INST_A "\", " VOLUME_TAGS(SEAT_A));
        w->vol[1] = seed_volume(AZ, "\"attached_to\": \"" INST_B "\", " VOLUME_TAGS(SEAT_B));
        w->vol[2] = seed_volume(AZ, VOLUME_TAGS(SEAT_C));
        for (size_t i = 0; i < 3; i++)
                CHECK(w->inst[i] && w->vol[i]);
}

/* Nodes A and B Ready and Reachable for an hour already, as the last passes saw them
 * (on a first pass they would still wait StableSec, holding the one-at-a-time slot). */
static void steady_history(RcHistory *h) {
        uint64_t now = now_usec(CLOCK_MONOTONIC), hour = 3600 * USEC_PER_SEC;
        const char *ids[] = { NODE_A, NODE_B };

        h->marks = calloc(ELEMENTSOF(ids), sizeof(RcNodeMark));
        CHECK(h->marks != NULL);
        if (!h->marks)
                return;
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                h->marks[i].node_id = strdup(ids[i]);
                h->marks[i].healthy_since_usec = now > hour ? now - hour : 1;
                CHECK(h->marks[i].node_id != NULL);
        }
        h->n_marks = ELEMENTSOF(ids);
        h->nodes_observed_usec = now;
        h->leader_node_id = strdup(NODE_A);
        CHECK(h->leader_node_id != NULL);
}

/* ------------------------------------------------------------ config and pass */

static Config *pass_config(bool worker_path) {
        Config *c = NULL;

        CHECK_INT(config_new(&c), 0);
        CHECK_INT(config_set(c, "Cluster.Name=" CLUSTER), 0);
        CHECK_INT(config_set(c, "Cluster.Managers=" SEAT_A "," SEAT_B "," SEAT_C), 0);
        CHECK_INT(config_set(c, "Cluster.Workers=1"), 0);
        if (worker_path) {
                CHECK_INT(config_set(c, "Launch.ImageId=ami-12345678"), 0);
                CHECK_INT(config_set(c, "Launch.InstanceType=t3.small"), 0);
        } else /* the managers' template only: a worker never launches from it */
                CHECK_INT(config_set(c, "Launch.Template=" TEMPLATE_ID), 0);
        CHECK_INT(config_set(c, "Launch.SubnetIds=" SUBNET), 0);
        CHECK_INT(config_set(c, "AWS.Region=us-east-1"), 0);
        CHECK_INT(config_set_value(c, CONFIG_AWS_ENDPOINT, fake.url, "test"), 0);
        CHECK_INT(config_set_value(c, CONFIG_AWS_METADATA_ENDPOINT, fake.url, "test"), 0);
        CHECK_INT(config_set_value(c, CONFIG_ENGINE_SOCKET, sock_path, "test"), 0);
        CHECK_INT(config_launch_configured(c, ROLE_MANAGER), true);
        CHECK_INT(config_launch_configured(c, ROLE_WORKER), worker_path);
        return c;
}

/* As the loop makes a pass: settings s, history h copied; EC2 retries recorded, not slept. */
static Pass *make_pass(RcSettings *s, const RcHistory *h) {
        _cleanup_(pass_freep) Pass *p = NULL;

        CHECK_INT(pass_new(s, h, &p), 0);
        if (!p)
                return NULL;
        CHECK_INT(pass_ec2(p), 0);
        if (!p->clients.ec2)
                return NULL;
        ec2_client_set_sleep(p->clients.ec2, record_sleep, &sleeps);
        return TAKE_PTR(p);
}

static Pass *run_pass(RcSettings *s, const RcHistory *h, int *ret) {
        Pass *p = make_pass(s, h);

        *ret = p ? pass_run(p) : -EINVAL;
        CHECK(p && p->planned);
        if (p && (getenv("SK_TEST_DEBUG") || !p->planned))
                for (size_t i = 0; i < p->plan.n; i++) {
                        char line[512];
                        rc_action_describe(&p->plan.actions[i], line, sizeof(line));
                        fprintf(stderr, "    plan: %s\n", line);
                }
        return p;
}

/* ------------------------------------------------------------ the plan */

static bool is_change(const RcAction *a) {
        return a->kind != RC_ACTION_WAIT && a->kind != RC_ACTION_REPORT;
}

/* The plan's one action of kind (a WAIT: that waits for waits_for) for logical_id (NULL:
 * none); NULL if not exactly one. */
static const RcAction *plan_find(const Pass *p, RcActionKind kind, RcActionKind waits_for, const char *lid) {
        const RcAction *found = NULL;
        unsigned n = 0;

        for (size_t i = 0; p && p->planned && i < p->plan.n; i++) {
                const RcAction *a = &p->plan.actions[i];
                if (a->kind != kind || !streq_ptr(a->logical_id, lid) ||
                    (kind == RC_ACTION_WAIT && a->waits_for != waits_for))
                        continue;
                found = a;
                n++;
        }
        return n == 1 ? found : NULL;
}

/* ------------------------------------------------------------ the fake's and the engine's side */

/* Does EC2 call c (from /_fake/calls) carry out action a? */
static bool call_is(const RcAction *a, struct json_object *c) {
        const char *action = json_str(c, "action");

        switch (a->kind) {
        case RC_ACTION_LAUNCH_MANAGER:
        case RC_ACTION_LAUNCH_WORKER:
                return streq_ptr(action, "RunInstances") && streq_ptr(json_param(c, "ClientToken"), a->client_token);
        case RC_ACTION_CREATE_VOLUME:
                return streq_ptr(action, "CreateVolume") && streq_ptr(json_param(c, "ClientToken"), a->client_token);
        case RC_ACTION_ATTACH_VOLUME:
                return streq_ptr(action, "AttachVolume") && streq_ptr(json_param(c, "VolumeId"), a->volume_id) &&
                       streq_ptr(json_param(c, "InstanceId"), a->instance_id);
        case RC_ACTION_FENCE:
        case RC_ACTION_TERMINATE_WORKER:
                return streq_ptr(action, "TerminateInstances") && streq_ptr(json_param(c, "InstanceId.1"), a->instance_id);
        case RC_ACTION_SET_GENERATION:
        case RC_ACTION_MARK_VOLUME:
                return streq_ptr(action, "CreateTags") && streq_ptr(json_param(c, "ResourceId.1"), a->volume_id);
        default:
                return false; /* the engine's, or no change */
        }
}

static bool call_ok(struct json_object *c) {
        return streq_ptr(json_str(c, "status"), "200");
}

/* The engine's request for action a, in its request log. */
static bool engine_did(const RcAction *a, const char *elog) {
        char line[256];

        switch (a->kind) {
        case RC_ACTION_DEMOTE:
        case RC_ACTION_DRAIN_WORKER:
                snprintf(line, sizeof(line), "POST /v1.41/nodes/%s/update", strempty(a->node_id));
                break;
        case RC_ACTION_REMOVE_NODE:
                snprintf(line, sizeof(line), "DELETE /v1.41/nodes/%s", strempty(a->node_id));
                break;
        case RC_ACTION_ROTATE_TOKENS:
                snprintf(line, sizeof(line), "POST /v1.41/swarm/update");
                break;
        default:
                return false;
        }
        return elog && strstr(elog, line);
}

static bool ec2_read_only(const char *action) {
        return startswith(action, "Describe") || startswith(action, "Get");
}

/* The EC2 calls since the last reset of the call log (caller puts). */
static struct json_object *calls_now(void) {
        return control("GET", "/_fake/calls", NULL);
}

/* Successful RunInstances with token (or any, NULL). */
static unsigned launches_with(struct json_object *calls, const char *token, bool ok) {
        unsigned n = 0;

        for (size_t i = 0; calls && i < json_object_array_length(calls); i++) {
                struct json_object *c = json_object_array_get_idx(calls, i);
                if (streq_ptr(json_str(c, "action"), "RunInstances") && call_ok(c) == ok &&
                    (!token || streq_ptr(json_param(c, "ClientToken"), token)))
                        n++;
        }
        return n;
}

/*
 * The contract, both ways: every change of the plan has its call (done = it succeeded;
 * failed: the actions whose calls are expected to fail, NULL-terminated, NULL: none; with
 * all_fail every change); every EC2 call that changes something stands for a change of
 * the plan (no WAIT, no REPORT, nothing unplanned is carried out).
 */
static bool expected_to_fail(const RcAction *a, const RcAction *const *failed, bool all_fail) {
        for (size_t i = 0; failed && failed[i]; i++)
                if (failed[i] == a)
                        return true;
        return all_fail;
}

static void check_contract_failing(const Pass *p, const RcAction *const *failed, bool all_fail) {
        _cleanup_(json_object_putp) struct json_object *calls = calls_now();
        _cleanup_(freep) char *elog = server_log();

        for (size_t i = 0; p && p->planned && i < p->plan.n; i++) {
                const RcAction *a = &p->plan.actions[i];
                bool seen = false, ok = false;
                char line[512];

                if (!is_change(a))
                        continue;
                for (size_t j = 0; calls && j < json_object_array_length(calls); j++) {
                        struct json_object *c = json_object_array_get_idx(calls, j);
                        if (call_is(a, c)) {
                                seen = true;
                                ok = ok || call_ok(c);
                        }
                }
                if (engine_did(a, elog))
                        seen = ok = true;
                if (!seen || ok == expected_to_fail(a, failed, all_fail)) {
                        rc_action_describe(a, line, sizeof(line));
                        fprintf(stderr, "    planned %s: %s\n", !seen ? "but not carried out" : ok ? "and succeeded, expected to fail" : "and failed", line);
                        test_failures++;
                }
                test_checks++;
        }
        for (size_t j = 0; calls && j < json_object_array_length(calls); j++) {
                struct json_object *c = json_object_array_get_idx(calls, j);
                bool planned = false;

                if (ec2_read_only(json_str(c, "action")))
                        continue;
                for (size_t i = 0; p && p->planned && i < p->plan.n && !planned; i++)
                        planned = is_change(&p->plan.actions[i]) && call_is(&p->plan.actions[i], c);
                if (!planned) {
                        fprintf(stderr, "    EC2 call without a change in the plan: %s\n", json_object_to_json_string(c));
                        test_failures++;
                }
                test_checks++;
        }
        /* the engine: nothing but reads (a plan with an engine action would list it above) */
        for (size_t i = 0; p && p->planned && i < p->plan.n; i++)
                if (is_change(&p->plan.actions[i]) && engine_did(&p->plan.actions[i], elog))
                        return;
        CHECK(!elog || (!strstr(elog, "POST /") && !strstr(elog, "DELETE /")));
}

static void check_contract(const Pass *p) {
        check_contract_failing(p, NULL, false);
}

/* ------------------------------------------------------------ a case's setup */

typedef struct Case {
        World world;
        Config *config;
        RcSettings *settings;
        RcHistory history;
} Case;

static void case_begin(Case *k, bool worker_path) {
        *k = (Case){};
        reset_fake();
        control_void("DELETE", "/_fake/faults", NULL);
        engine_start();
        seed_world(&k->world);
        if (!worker_path)
                control_void("POST", "/_fake/launch-templates",
                             "{\"id\": \"" TEMPLATE_ID "\", \"name\": \"px-managers\", \"image_id\": \"ami-12345678\", "
                             "\"instance_type\": \"t3.small\"}");
        k->config = pass_config(worker_path);
        CHECK_INT(rc_settings_new(k->config, &k->settings), 0);
        steady_history(&k->history);
        sleeps = (Sleeps){};
        control_void("DELETE", "/_fake/calls", NULL);
}

static void case_end(Case *k) {
        control_void("DELETE", "/_fake/faults", NULL);
        engine_stop();
        rc_history_done(&k->history);
        rc_settings_unref(k->settings);
        config_free(k->config);
        world_done(&k->world);
        *k = (Case){};
}

/* ------------------------------------------------------------ cases */

/* 1. Every change the plan holds is carried out; nothing else changes EC2. */
static void test_pass_carries_out_plan(void) {
        _cleanup_(pass_freep) Pass *p = NULL;
        const RcAction *launch, *worker;
        Case k;
        int r = -1;

        case_begin(&k, true);
        if (!k.settings)
                goto finish;
        p = run_pass(k.settings, &k.history, &r);
        CHECK_INT(r, 0);
        CHECK_INT(p ? (int) p->mode : -1, RC_MODE_LEADER);
        launch = plan_find(p, RC_ACTION_LAUNCH_MANAGER, 0, SEAT_C);
        worker = plan_find(p, RC_ACTION_LAUNCH_WORKER, 0, NULL);
        CHECK(launch != NULL);
        CHECK(worker != NULL);
        check_contract(p);
        if (launch) {
                _cleanup_(json_object_putp) struct json_object *calls = calls_now();
                CHECK_INT(launches_with(calls, launch->client_token, true), 1);
                CHECK_STR(launch->volume_id, k.world.vol[2]);
                CHECK_STR(launch->private_ip, SEAT_C);
        }
        /* what was done is remembered: both launches in flight, nothing backs off */
        CHECK_INT(p ? p->history.n_inflight : 0, 2);
        CHECK_INT(p ? p->history.n_backoff : 1, 0);
finish:
        case_end(&k);
}

/* 2. A key backing off before the pass: its action is a WAIT (backoff), not carried out;
 * the rest of the plan is. */
static void test_pass_backoff_is_wait(void) {
        _cleanup_(pass_freep) Pass *p = NULL;
        const RcAction *wait, *worker;
        Case k;
        int r = -1;

        case_begin(&k, true);
        if (!k.settings)
                goto finish;
        CHECK_INT(rc_history_backoff_fail(&k.history, SEAT_C, now_usec(CLOCK_MONOTONIC)), 0);
        p = run_pass(k.settings, &k.history, &r);
        CHECK_INT(r, 0);
        wait = plan_find(p, RC_ACTION_WAIT, RC_ACTION_LAUNCH_MANAGER, SEAT_C);
        worker = plan_find(p, RC_ACTION_LAUNCH_WORKER, 0, NULL);
        CHECK(wait != NULL);
        CHECK(worker != NULL);
        CHECK(!plan_find(p, RC_ACTION_LAUNCH_MANAGER, 0, SEAT_C));
        if (wait) {
                _cleanup_(json_object_putp) struct json_object *calls = calls_now();
                CHECK_INT(wait->wait, RC_WAIT_BACKOFF);
                CHECK(wait->client_token[0] != 0); /* the action it stands for, ids and all */
                CHECK_INT(launches_with(calls, wait->client_token, true) + launches_with(calls, wait->client_token, false), 0);
        }
        check_contract(p);
        /* still backing off, not reset by the pass */
        CHECK(p && !rc_history_backoff_ready(&p->history, SEAT_C, now_usec(CLOCK_MONOTONIC)));
finish:
        case_end(&k);
}

/*
 * 3. A failing action does not stop the rest. The fake matches faults by EC2 action only,
 * so the fault hits the first RunInstances of the pass: the plan lists the managers before
 * the workers, which is checked. VcpuLimitExceeded: a launch EC2 refuses with a 400, final
 * (InsufficientInstanceCapacity is a 500 the client retries: with a count the retries
 * would use it up, and which launch it hits would depend on the retry count).
 */
static void test_pass_failure_goes_on(void) {
        _cleanup_(pass_freep) Pass *p = NULL, *next = NULL;
        const RcAction *launch, *worker, *wait;
        char token[RC_CLIENT_TOKEN_MAX + 1] = "";
        Case k;
        int r = -1;

        case_begin(&k, true);
        if (!k.settings)
                goto finish;
        control_void("POST", "/_fake/faults",
                     "{\"action\": \"RunInstances\", \"code\": \"VcpuLimitExceeded\", \"status\": 400, \"count\": 1, "
                     "\"message\": \"You have requested more vCPU capacity than your current vCPU limit allows.\"}");
        p = run_pass(k.settings, &k.history, &r);
        CHECK(r < 0); /* the first failure is returned */
        launch = plan_find(p, RC_ACTION_LAUNCH_MANAGER, 0, SEAT_C);
        worker = plan_find(p, RC_ACTION_LAUNCH_WORKER, 0, NULL);
        CHECK(launch && worker && launch < worker); /* the manager's launch first */
        check_contract_failing(p, (const RcAction *const[]){ launch, NULL }, false);
        if (!launch || !worker)
                goto finish;
        snprintf(token, sizeof(token), "%s", launch->client_token);
        {
                _cleanup_(json_object_putp) struct json_object *calls = calls_now();
                CHECK_INT(launches_with(calls, token, false), 1);
                CHECK_INT(launches_with(calls, token, true), 0);
                CHECK_INT(launches_with(calls, worker->client_token, true), 1);
        }
        /* the returned history: C backs off, the worker's launch is in flight, not backing off */
        CHECK(!rc_history_backoff_ready(&p->history, SEAT_C, now_usec(CLOCK_MONOTONIC)));
        CHECK(rc_history_backoff_ready(&p->history, rc_action_backoff_key(worker), now_usec(CLOCK_MONOTONIC)));
        CHECK_INT(p->history.n_inflight, 1);

        /* the next pass, on that history: C's launch is a WAIT (backoff), no call for it */
        control_void("DELETE", "/_fake/calls", NULL);
        next = run_pass(k.settings, &p->history, &r);
        CHECK_INT(r, 0);
        wait = plan_find(next, RC_ACTION_WAIT, RC_ACTION_LAUNCH_MANAGER, SEAT_C);
        CHECK(wait != NULL);
        CHECK(!plan_find(next, RC_ACTION_LAUNCH_MANAGER, 0, SEAT_C));
        if (wait) {
                CHECK_INT(wait->wait, RC_WAIT_BACKOFF);
                CHECK_STR(wait->client_token, token);
        }
        {
                _cleanup_(json_object_putp) struct json_object *calls = calls_now();
                CHECK_INT(launches_with(calls, NULL, true) + launches_with(calls, NULL, false), 0);
        }
        check_contract(next);
finish:
        case_end(&k);
}

/*
 * 3b. Every launch of the pass fails, with the answer the brief's EC2 gives when a zone
 * has no capacity (InsufficientInstanceCapacity, a 500 the client retries): each launch is
 * still tried after the first one failed, each key backs off, the pass returns the
 * failure, and the next pass makes WAITs (backoff) of both and no launch.
 */
static void test_pass_all_fail(void) {
        _cleanup_(pass_freep) Pass *p = NULL, *next = NULL;
        const RcAction *launch, *worker, *a;
        Case k;
        int r = -1;

        case_begin(&k, true);
        if (!k.settings)
                goto finish;
        control_void("POST", "/_fake/faults", "{\"action\": \"RunInstances\", \"code\": \"InsufficientInstanceCapacity\", \"count\": 100}");
        p = run_pass(k.settings, &k.history, &r);
        CHECK(r < 0);
        launch = plan_find(p, RC_ACTION_LAUNCH_MANAGER, 0, SEAT_C);
        worker = plan_find(p, RC_ACTION_LAUNCH_WORKER, 0, NULL);
        CHECK(launch && worker);
        check_contract_failing(p, NULL, true);
        if (!launch || !worker)
                goto finish;
        CHECK(sleeps.n > 0); /* retried, not slept */
        CHECK(!rc_history_backoff_ready(&p->history, SEAT_C, now_usec(CLOCK_MONOTONIC)));
        CHECK(!rc_history_backoff_ready(&p->history, rc_action_backoff_key(worker), now_usec(CLOCK_MONOTONIC)));
        CHECK_INT(p->history.n_inflight, 0);

        control_void("DELETE", "/_fake/faults", NULL);
        control_void("DELETE", "/_fake/calls", NULL);
        next = run_pass(k.settings, &p->history, &r);
        CHECK_INT(r, 0);
        a = plan_find(next, RC_ACTION_WAIT, RC_ACTION_LAUNCH_MANAGER, SEAT_C);
        CHECK(a && a->wait == RC_WAIT_BACKOFF);
        a = plan_find(next, RC_ACTION_WAIT, RC_ACTION_LAUNCH_WORKER, NULL);
        CHECK(a && a->wait == RC_WAIT_BACKOFF);
        {
                _cleanup_(json_object_putp) struct json_object *calls = calls_now();
                CHECK_INT(launches_with(calls, NULL, true) + launches_with(calls, NULL, false), 0);
        }
        check_contract(next);
finish:
        case_end(&k);
}

/* 4. No launch path for workers (only Launch.Template, the managers'): the worker's launch
 * is a WAIT (no-launch-path) and no worker is launched; the manager's launch goes on. */
static void test_pass_no_worker_launch_path(void) {
        _cleanup_(pass_freep) Pass *p = NULL;
        const RcAction *wait, *launch;
        Case k;
        int r = -1;

        case_begin(&k, false);
        if (!k.settings)
                goto finish;
        CHECK(k.settings->launch_manager.configured);
        CHECK(!k.settings->launch_worker.configured);
        p = run_pass(k.settings, &k.history, &r);
        CHECK_INT(r, 0);
        wait = plan_find(p, RC_ACTION_WAIT, RC_ACTION_LAUNCH_WORKER, NULL);
        launch = plan_find(p, RC_ACTION_LAUNCH_MANAGER, 0, SEAT_C);
        CHECK(wait != NULL);
        CHECK(launch != NULL);
        CHECK(!plan_find(p, RC_ACTION_LAUNCH_WORKER, 0, NULL));
        if (wait)
                CHECK_INT(wait->wait, RC_WAIT_NO_LAUNCH_PATH);
        {
                _cleanup_(json_object_putp) struct json_object *calls = calls_now();
                /* one launch, the manager's, from its template */
                CHECK_INT(launches_with(calls, NULL, true) + launches_with(calls, NULL, false), 1);
                if (wait)
                        CHECK_INT(launches_with(calls, wait->client_token, true) +
                                  launches_with(calls, wait->client_token, false), 0);
                if (launch)
                        CHECK_INT(launches_with(calls, launch->client_token, true), 1);
        }
        check_contract(p);
finish:
        case_end(&k);
}

int main(void) {
        static const AwsTest tests[] = {
                AWS_TEST(test_pass_carries_out_plan),
                AWS_TEST(test_pass_backoff_is_wait),
                AWS_TEST(test_pass_failure_goes_on),
                AWS_TEST(test_pass_all_fail),
                AWS_TEST(test_pass_no_worker_launch_path),
                {},
        };
        /* seat C's address is free as soon as its instance is terminated (the seed); what a
         * pass launches stays pending (no state changes by itself within a case) */
        static const char *const fake_args[] = { "--pending-delay", "60", "--shutdown-delay", "60",
                                                 "--ip-release-delay", "0", NULL };
        int r;

        use_static_keys();
        engine_ping = http_ok("OK");
        engine_version = http_ok("{\"ApiVersion\":\"1.41\"}");
        engine_info = http_ok(info_json);
        engine_nodes = http_ok(nodes_json);
        engine_swarm = http_ok(swarm_json);
        r = aws_test_main_args("test-pass-client", AWS_TEST_FAKE, tests, fake_args);
        free(engine_ping);
        free(engine_version);
        free(engine_info);
        free(engine_nodes);
        free(engine_swarm);
        return r;
}
