/* SPDX-License-Identifier: MIT */
/*
 * `swarmkeeper plan` and the desired-against-actual part of `swarmkeeper status`
 * (agent/overview.c) against the fake EC2 on 127.0.0.1 and a canned engine on a unix
 * socket: what they print to a terminal is printable text only. The engine's strings
 * (node ids, states, manager status: whatever the hosts and the engine say) and the
 * reconciler's state file carry escape sequences and control characters here; the tables
 * show them through status_cell(), the sanitiser `status` uses for its own table.
 */
#include "aws-test-lib.h"
#include "canned-engine.h"

#include "overview.h"
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

int main(void) {
        static const AwsTest tests[] = {
                AWS_TEST(test_overview_sanitized),
                {},
        };
        return aws_test_main("test-overview-client", AWS_TEST_FAKE, tests);
}
