/* SPDX-License-Identifier: MIT */
/*
 * `swarmkeeper plan` and the desired-against-actual part of `swarmkeeper status`
 * (agent/overview.c) against the fake EC2 on 127.0.0.1 and a canned engine on a unix
 * socket: what they print to a terminal is printable text only. The engine's strings
 * (node ids, states, manager status: whatever the hosts and the engine say) and the
 * reconciler's state file carry escape sequences and control characters here; the tables
 * show them through status_cell(), the sanitiser `status` uses for its own table. And
 * `plan` plans with the daemon's memory from that state file (this boot's, written
 * lately, well formed), as the daemon's next pass would.
 */
#include "aws-test-lib.h"
#include "canned-engine.h"

#include "json-util.h"
#include "overview.h"
#include "rc-history-json.h"
#include "status.h"

#define CLUSTER "ov"
#define SEAT "10.0.1.11"
#define AZ "us-east-1a"
#define SUBNET "subnet-aaaaaaaa"

/* this node: the leader on SEAT, with an id, a state and a manager status no terminal
 * should see raw (OSC title, clear screen, bell, CR, a C1 CSI) */
#define EVIL_ID "n\\u001b]0;pwned\\u0007x"
static const char info_json[] =
        "{\"Name\":\"mgr1\",\"Swarm\":{\"NodeID\":\"" EVIL_ID "\",\"NodeAddr\":\"" SEAT "\","
        "\"LocalNodeState\":\"active\",\"ControlAvailable\":true,\"Cluster\":{\"ID\":\"clu\"}}}";
static const char nodes_json[] =
        "[{\"ID\":\"" EVIL_ID "\",\"Version\":{\"Index\":4},\"CreatedAt\":\"2024-03-01T10:00:00Z\","
        "\"Spec\":{\"Labels\":{},\"Role\":\"manager\",\"Availability\":\"active\"},"
        "\"Description\":{\"Hostname\":\"mgr1\",\"Engine\":{\"Labels\":{\"swarmkeeper.logical-id\":\"" SEAT "\"}}},"
        "\"Status\":{\"State\":\"ready\\u001b[2J\",\"Addr\":\"" SEAT "\"},"
        "\"ManagerStatus\":{\"Leader\":true,\"Reachability\":\"reachable\\r\\u009b\",\"Addr\":\"" SEAT ":2377\"}}]";
/* the reconciler's state file, as a tampered or corrupted one could read */
static const char state_json[] =
        "{\"time_usec\":1,\"status\":\"acting\\u001b[31m\",\"inflight\":[{\"kind\":\"launch\\u0007\","
        "\"logical_id\":\"" SEAT "\",\"instance_id\":\"i-\\u001b[1mbold\",\"volume_id\":\"vol-\\n2\",\"since_usec\":1}]}";

/* What f(c) writes to stdout. */
static char *stdout_of(int (*f)(Config *c), Config *c, int *ret) {
        TestCapture cap;

        test_stdout_begin(&cap);
        *ret = f(c);
        return test_stdout_end(&cap);
}

static int run_plan(Config *c) {
        return verb_plan(c, NULL, false);
}

static int run_status_overview(Config *c) {
        return reconciler_status_overview(c, NULL);
}

/* Only printable ASCII and newlines. */
static void check_printable(const char *what, const char *text) {
        CHECK(text != NULL);
        for (const char *p = text; p && *p; p++)
                if (*p != '\n' && ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)) {
                        fprintf(stderr, "%s: byte 0x%02x at %zu\n", what, (unsigned char) *p, (size_t) (p - text));
                        test_failures++;
                        return;
                }
}

static void test_overview_sanitized(void) {
        _cleanup_(freep) char *ping = http_ok("OK"), *version = http_ok("{\"ApiVersion\":\"1.41\"}"),
                             *info = http_ok(info_json), *nodes = http_ok(nodes_json), *plan = NULL, *status = NULL;
        const Canned canned[] = {
                { "GET /_ping", ping }, { "GET /version", version }, { "GET /v1.41/info", info },
                { "GET /v1.41/nodes", nodes },
        };
        _cleanup_(config_freep) Config *c = NULL;
        char dir[] = "/tmp/test-overview-rt-XXXXXX", state[64];
        int r = -1;

        reset_fake();
        use_static_keys();
        CHECK(mkdtemp(dir) != NULL);
        snprintf(state, sizeof(state), "%s/state.json", dir);
        CHECK_INT(write_file_atomic(state, state_json, strlen(state_json), 0644), 0);
        setenv("RUNTIME_DIRECTORY", dir, 1);
        server_start(canned, ELEMENTSOF(canned));
        c = cluster_config(CLUSTER, SEAT ",10.0.1.12,10.0.1.13", 1, SUBNET, sock_path);

        plan = stdout_of(run_plan, c, &r);
        CHECK_INT(r, SK_EXIT_OK);
        status = stdout_of(run_status_overview, c, &r);
        CHECK_INT(r, 0);

        server_stop();
        unlink(log_path);
        unsetenv("RUNTIME_DIRECTORY");
        unlink(state);
        rmdir(dir);

        check_printable("plan", plan);
        check_printable("status overview", status);
        /* the engine's strings are shown, made printable */
        CHECK(plan && strstr(plan, "n?]0;pwned?x "));
        CHECK(plan && strstr(plan, "ready?[2J "));
        CHECK(plan && strstr(plan, "reachable??? "));
        CHECK(status && strstr(status, "n?]0;pwned?x "));
        /* the state file's */
        CHECK(status && strstr(status, "acting?[31m"));
        CHECK(status && strstr(status, "launch? "));
        CHECK(status && strstr(status, "i-?[1mbold "));
        CHECK(status && strstr(status, "vol-?2 "));
        if (getenv("SK_TEST_DEBUG") || test_failures)
                fprintf(stderr, "plan:\n%s\nstatus:\n%s\n", strempty(plan), strempty(status));
}

/* A healthy leader on SEAT, alone: the other two seats are missing. */
static const char clean_info_json[] =
        "{\"Name\":\"mgr1\",\"Swarm\":{\"NodeID\":\"node1\",\"NodeAddr\":\"" SEAT "\","
        "\"LocalNodeState\":\"active\",\"ControlAvailable\":true,\"Cluster\":{\"ID\":\"clu\"}}}";
static const char clean_nodes_json[] =
        "[{\"ID\":\"node1\",\"Version\":{\"Index\":4},\"CreatedAt\":\"2024-03-01T10:00:00Z\","
        "\"Spec\":{\"Labels\":{},\"Role\":\"manager\",\"Availability\":\"active\"},"
        "\"Description\":{\"Hostname\":\"mgr1\",\"Engine\":{\"Labels\":{\"swarmkeeper.logical-id\":\"" SEAT "\"}}},"
        "\"Status\":{\"State\":\"ready\",\"Addr\":\"" SEAT "\"},"
        "\"ManagerStatus\":{\"Leader\":true,\"Reachability\":\"reachable\",\"Addr\":\"" SEAT ":2377\"}}]";

static int run_plan_json(Config *c) {
        return verb_plan(c, NULL, true);
}

/* plan --json with the state file dir/state.json holding memory (NULL: no file) */
static json_object *plan_with_memory(Config *c, const char *dir, json_object *memory) {
        char state[128];
        _cleanup_(freep) char *out = NULL;
        json_object *o = NULL;
        int r = -1;

        snprintf(state, sizeof(state), "%s/state.json", dir);
        (void) unlink(state);
        if (memory) {
                _cleanup_(json_object_putp) json_object *file = json_object_new_object();
                const char *text;
                CHECK(json_add_string(file, "status", "acting") >= 0);
                CHECK(json_add(file, "memory", json_object_get(memory)) >= 0);
                text = json_object_to_json_string(file);
                CHECK_INT(write_file_atomic(state, text, strlen(text), 0644), 0);
        }
        out = stdout_of(run_plan_json, c, &r);
        CHECK_INT(r, SK_EXIT_OK);
        CHECK_INT(json_parse_text(out, out ? strlen(out) : 0, 0, 0, &o), 0);
        if (getenv("SK_TEST_DEBUG") || !o)
                fprintf(stderr, "plan --json:\n%s\n", strempty(out));
        (void) unlink(state);
        return o;
}

/* The kind of the first action for logical id lid in a plan --json (NULL: none). */
static const char *action_for(json_object *plan, const char *lid) {
        json_object *arr = JPATH(plan, "actions");
        for (size_t i = 0; json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr); i++) {
                json_object *a = json_object_array_get_idx(arr, i);
                if (streq_ptr(jstr(JPATH(a, "logical_id")), lid))
                        return jstr(JPATH(a, "kind"));
        }
        return NULL;
}

/* `plan` plans with the daemon's memory from its state file: a seat the daemon backs off
 * is a wait, not the launch a memoryless pass would plan; a memory from another boot is
 * none. */
static void test_plan_uses_memory(void) {
        _cleanup_(freep) char *ping = http_ok("OK"), *version = http_ok("{\"ApiVersion\":\"1.41\"}"),
                             *info = http_ok(clean_info_json), *nodes = http_ok(clean_nodes_json);
        const Canned canned[] = {
                { "GET /_ping", ping }, { "GET /version", version }, { "GET /v1.41/info", info },
                { "GET /v1.41/nodes", nodes },
        };
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(rc_history_done) RcHistory h = {};
        _cleanup_(json_object_putp) json_object *memory = NULL, *fresh = NULL, *none = NULL, *backed_off = NULL,
                                                *stale = NULL;
        char dir[] = "/tmp/test-overview-mem-XXXXXX";
        const char *lid;

        reset_fake();
        use_static_keys();
        /* this agent's own instance, running */
        free(seed_instance(SEAT, AZ, "\"state\": \"running\", \"tags\": {\"" EC2_TAG_CLUSTER "\": \"" CLUSTER "\", "
                                     "\"" EC2_TAG_ROLE "\": \"manager\", \"" EC2_TAG_LOGICAL_ID "\": \"" SEAT "\"}"));
        /* the missing seats' data volumes, kept */
#define VOLUME_TAGS(lid) "\"tags\": {\"" EC2_TAG_CLUSTER "\": \"" CLUSTER "\", \"" EC2_TAG_LOGICAL_ID "\": \"" lid "\"}"
        free(seed_volume(AZ, VOLUME_TAGS("10.0.1.12")));
        free(seed_volume(AZ, VOLUME_TAGS("10.0.1.13")));
        CHECK(mkdtemp(dir) != NULL);
        setenv("RUNTIME_DIRECTORY", dir, 1);
        server_start(canned, ELEMENTSOF(canned));
        c = cluster_config(CLUSTER, SEAT ",10.0.1.12,10.0.1.13", 1, SUBNET, sock_path);

        /* without a memory: a launch, the seat as the planner picks it */
        none = plan_with_memory(c, dir, NULL);
        CHECK(json_object_get_boolean(JPATH(none, "memory")) == false);
        CHECK(jstr(JPATH(none, "memory_missing")) != NULL);
        lid = NULL;
        for (size_t i = 0; i < 2 && !lid; i++) {
                const char *seat = i == 0 ? "10.0.1.12" : "10.0.1.13";
                if (streq_ptr(action_for(none, seat), "launch-manager"))
                        lid = seat;
        }
        CHECK(lid != NULL);

        /* the daemon failed that launch a moment ago: it backs the seat off */
        CHECK_INT(rc_history_backoff_fail(&h, lid ?: "10.0.1.12", now_usec(CLOCK_MONOTONIC)), 0);
        CHECK_INT(rc_history_to_json(&h, &memory), 0);
        backed_off = plan_with_memory(c, dir, memory);
        CHECK(json_object_get_boolean(JPATH(backed_off, "memory")) == true);
        CHECK(JPATH(backed_off, "memory_missing") == NULL);
        CHECK_STR(action_for(backed_off, lid), "wait");

        /* the same memory from another boot: none */
        CHECK(json_add_string(memory, "boot_id", "0123456789abcdef0123456789abcdef") >= 0);
        stale = plan_with_memory(c, dir, memory);
        CHECK(json_object_get_boolean(JPATH(stale, "memory")) == false);
        CHECK_STR(action_for(stale, lid), "launch-manager");
        json_object_put(stale);

        /* nor one a stopped agent left long ago, nor a malformed one */
        CHECK_INT(rc_history_to_json(&h, &fresh), 0);
        CHECK(json_add(fresh, "written_mono_usec", json_object_new_int64(1)) >= 0);
        stale = plan_with_memory(c, dir, fresh);
        CHECK(json_object_get_boolean(JPATH(stale, "memory")) == false);
        CHECK_STR(action_for(stale, lid), "launch-manager");
        json_object_put(stale);
        CHECK(json_add(fresh, "backoff", json_object_new_string("10.0.1.12")) >= 0);
        CHECK(json_add(fresh, "written_mono_usec", json_object_new_int64((int64_t) now_usec(CLOCK_MONOTONIC))) >= 0);
        stale = plan_with_memory(c, dir, fresh);
        CHECK(json_object_get_boolean(JPATH(stale, "memory")) == false);
        CHECK_STR(action_for(stale, lid), "launch-manager");

        server_stop();
        unlink(log_path);
        unsetenv("RUNTIME_DIRECTORY");
        rmdir(dir);
}

int main(void) {
        static const AwsTest tests[] = {
                AWS_TEST(test_overview_sanitized),
                AWS_TEST(test_plan_uses_memory),
                {},
        };
        return aws_test_main("test-overview-client", AWS_TEST_FAKE, tests);
}
