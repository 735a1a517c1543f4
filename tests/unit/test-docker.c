/* SPDX-License-Identifier: MIT */
/*
 * Docker client (docker.c): the answer parsers, the error mapping, and the requests
 * against a canned engine on a unix socket served by a child process (API negotiation,
 * request bodies). The events stream: test-docker-events.c; `status`: test-status.c.
 */
#include "canned-engine.h"
#include "config.h"
#include "docker.h"
#include "log.h"
#include "test.h"

#define STRV_MAKE(...) ((char *const[]){ __VA_ARGS__, NULL })

static const char info_active_manager[] =
        "{\"Name\":\"mgr1\",\"Labels\":[\"swarmkeeper.logical-id=10.0.0.1\",\"x=y\"],"
        "\"Swarm\":{\"NodeID\":\"abc123\",\"NodeAddr\":\"10.0.0.1\",\"LocalNodeState\":\"active\","
        "\"ControlAvailable\":true,\"Error\":\"\",\"RemoteManagers\":[{\"NodeID\":\"abc123\",\"Addr\":\"10.0.0.1:2377\"},"
        "{\"NodeID\":\"def\",\"Addr\":\"10.0.0.2:2377\"}],\"Cluster\":{\"ID\":\"clu\"}}}";

static const char node_json[] =
        "{\"ID\":\"abc123\",\"Version\":{\"Index\":42},\"CreatedAt\":\"2024-03-01T10:00:00.123456789Z\","
        "\"Spec\":{\"Labels\":{},\"Role\":\"manager\",\"Availability\":\"active\"},"
        "\"Description\":{\"Hostname\":\"mgr1\",\"Engine\":{\"EngineVersion\":\"20.10\","
        "\"Labels\":{\"swarmkeeper.logical-id\":\"10.0.0.1\",\"swarmkeeper.instance-id\":\"i-0abc\"}}},"
        "\"Status\":{\"State\":\"ready\",\"Addr\":\"10.0.0.1\"},"
        "\"ManagerStatus\":{\"Leader\":true,\"Reachability\":\"reachable\",\"Addr\":\"10.0.0.1:2377\"}}";

static void test_parse_info(void) {
        DockerInfo i = {};

        CHECK_INT(docker_parse_info(info_active_manager, &i), 0);
        CHECK_STR(i.name, "mgr1");
        CHECK_INT(i.state, DOCKER_SWARM_ACTIVE);
        CHECK_STR(i.node_id, "abc123");
        CHECK(i.control_available);
        CHECK_STR(i.cluster_id, "clu");
        CHECK_INT(strv_length(i.remote_managers), 2);
        CHECK_STR(i.remote_managers[1], "10.0.0.2:2377");
        CHECK_INT(strv_length(i.labels), 2);
        docker_info_done(&i);

        CHECK_INT(docker_parse_info("{\"Swarm\":{\"LocalNodeState\":\"inactive\",\"NodeID\":\"\"}}", &i), 0);
        CHECK_INT(i.state, DOCKER_SWARM_INACTIVE);
        CHECK(!i.control_available);
        CHECK(i.cluster_id == NULL);
        docker_info_done(&i);

        CHECK_INT(docker_parse_info("{\"Swarm\":{\"LocalNodeState\":\"weird\"}}", &i), -EBADMSG);
        CHECK_INT(docker_parse_info("{\"Name\":\"x\"}", &i), -EBADMSG);
        CHECK_INT(docker_parse_info("[]", &i), -EBADMSG);
        CHECK_INT(docker_parse_info("{\"Swarm\":", &i), -EBADMSG);
        CHECK_INT(docker_parse_info("{} trailing", &i), -EBADMSG);
        CHECK_INT(docker_parse_info("", &i), -EBADMSG);
}

static void test_parse_nodes(void) {
        DockerNode n = {}, *l = NULL;
        size_t count = 99;
        char *text = NULL;

        CHECK_INT(docker_parse_node(node_json, &n), 0);
        CHECK_STR(n.id, "abc123");
        CHECK_INT(n.version, 42);
        CHECK_STR(n.hostname, "mgr1");
        CHECK_STR(n.role, "manager");
        CHECK_STR(n.availability, "active");
        CHECK_STR(n.state, "ready");
        CHECK(n.manager);
        CHECK(n.leader);
        CHECK_STR(n.reachability, "reachable");
        CHECK_STR(n.logical_id, "10.0.0.1");
        /* the observation's node facts come from this one parse (issue 14: CreatedAt) */
        CHECK_STR(n.instance_id, "i-0abc");
        CHECK_INT(n.created_usec, UINT64_C(1709287200) * USEC_PER_SEC + 123456);
        CHECK(n.spec_json && strstr(n.spec_json, "\"Role\":\"manager\""));
        docker_node_done(&n);

        /* a worker: no ManagerStatus, no label */
        CHECK_INT(docker_parse_node("{\"ID\":\"w1\",\"Version\":{\"Index\":1},\"Spec\":{\"Role\":\"worker\"},"
                                    "\"Status\":{\"State\":\"down\"}}", &n), 0);
        CHECK(!n.manager && !n.leader && !n.reachability && !n.logical_id);
        CHECK(!n.instance_id && n.created_usec == 0);
        CHECK_STR(n.state, "down");
        docker_node_done(&n);

        /* CreatedAt unreadable, the instance label not a string: unknown, the node listed all the same */
        CHECK_INT(docker_parse_node("{\"ID\":\"w2\",\"Version\":{\"Index\":1},\"Spec\":{},\"CreatedAt\":\"yesterday\","
                                    "\"Description\":{\"Engine\":{\"Labels\":{\"swarmkeeper.instance-id\":7}}}}", &n), 0);
        CHECK(!n.instance_id && n.created_usec == 0);
        docker_node_done(&n);
        /* the label is the engine's (the host's word), not a Spec label */
        CHECK_INT(docker_parse_node("{\"ID\":\"w3\",\"Version\":{\"Index\":1},"
                                    "\"Spec\":{\"Labels\":{\"swarmkeeper.instance-id\":\"i-spec\"}}}", &n), 0);
        CHECK(!n.instance_id);
        docker_node_done(&n);

        /* the leader's record of a manager's volume: a Spec label (not an engine label) */
        CHECK_INT(docker_parse_node("{\"ID\":\"m1\",\"Version\":{\"Index\":2},\"Spec\":{\"Role\":\"manager\","
                                    "\"Labels\":{\"swarmkeeper.volume-id\":\"vol-0abc\"}},\"Status\":{\"State\":\"down\"},"
                                    "\"Description\":{\"Engine\":{\"Labels\":{\"swarmkeeper.volume-id\":\"vol-fake\"}}}}", &n), 0);
        CHECK_STR(n.volume_id, "vol-0abc");
        docker_node_done(&n);

        CHECK_INT(docker_parse_node("{\"ID\":\"w1\",\"Spec\":{}}", &n), -EBADMSG);                  /* no version */
        CHECK_INT(docker_parse_node("{\"ID\":\"w1\",\"Version\":{\"Index\":-1},\"Spec\":{}}", &n), -EBADMSG);
        CHECK_INT(docker_parse_node("{\"Version\":{\"Index\":1},\"Spec\":{}}", &n), -EBADMSG);      /* no ID */
        CHECK_INT(docker_parse_node("{\"ID\":5,\"Version\":{\"Index\":1},\"Spec\":{}}", &n), -EBADMSG);

        CHECK(asprintf(&text, "[%s,%s]", node_json, node_json) > 0);
        CHECK_INT(docker_parse_nodes(text, &l, &count), 0);
        CHECK_INT(count, 2);
        CHECK_STR(l[1].id, "abc123");
        CHECK_STR(l[1].instance_id, "i-0abc");
        CHECK(l[1].created_usec > 0);
        docker_nodes_free(l, count);
        free(text);
        CHECK_INT(docker_parse_nodes("[]", &l, &count), 0);
        CHECK_INT(count, 0);
        docker_nodes_free(l, count);
        CHECK_INT(docker_parse_nodes("{}", &l, &count), -EBADMSG);
        CHECK_INT(docker_parse_nodes("[{\"ID\":\"x\"}]", &l, &count), -EBADMSG);
}

static void test_errors(void) {
        char *m = NULL;

        CHECK_INT(docker_error_from_response(503, "{\"message\":\"This node is not a swarm manager.\"}", &m), -ENOTCONN);
        CHECK_STR(m, "This node is not a swarm manager.");
        free(m);
        CHECK_INT(docker_error_from_response(404, "{\"message\":\"node x not found\"}", &m), -ENOENT);
        free(m);
        CHECK_INT(docker_error_from_response(400, "garbage", &m), -EINVAL);
        CHECK_STR(m, "engine answered HTTP 400");
        free(m);
        CHECK_INT(docker_error_from_response(409, NULL, NULL), -EEXIST);
        CHECK_INT(docker_error_from_response(500, "{}", NULL), -EIO);
        CHECK_INT(docker_error_from_response(406, "{}", NULL), -ENOTCONN);
        CHECK_INT(docker_error_from_response(418, "{}", NULL), -EPROTO);
        /* an engine that echoes the token: masked at the source */
        CHECK_INT(docker_error_from_response(500, "{\"message\":\"rpc error: code = InvalidArgument desc = invalid join token "
                                                  "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-7p73s1dx5in4tatdymyhg9hu2; "
                                                  "again SWMTKN-1-x\"}", &m), -EIO);
        CHECK(m && startswith(m, "rpc error: code = InvalidArgument desc = invalid join token SWMTKN-*****"));
        CHECK(m && strstr(m, "*; again SWMTKN-***") && !strstr(m, "SWMTKN-1") && !strstr(m, "7p73s1dx5in4"));
        free(m);
        {
                char t[] = "a SWMTKN-1-ab_c SWMTKN- x", u[] = "nothing here";
                docker_scrub_tokens(t);
                CHECK_STR(t, "a SWMTKN-****_c SWMTKN- x");
                docker_scrub_tokens(u);
                CHECK_STR(u, "nothing here");
                docker_scrub_tokens(NULL);
        }
        CHECK_STR(docker_swarm_state_to_string(DOCKER_SWARM_LOCKED), "locked");
        CHECK_INT(docker_swarm_state_from_string("pending"), DOCKER_SWARM_PENDING);
        CHECK_INT(docker_swarm_state_from_string(NULL), _DOCKER_SWARM_STATE_INVALID);
}

static void test_client(void) {
        _cleanup_(freep) char *ping = http_ok("OK"), *version = http_ok("{\"ApiVersion\":\"1.43\",\"MinAPIVersion\":\"1.12\"}"),
                             *info = http_ok(info_active_manager), *node = http_ok(node_json),
                             *swarm = http_ok("{\"ID\":\"sw\",\"JoinTokens\":{\"Worker\":\"SWMTKN-w\",\"Manager\":\"SWMTKN-m\"}}"),
                             *init = http_ok("\"newnode\""), *empty = http_ok(""), *log = NULL;
        const Canned table[] = {
                { "GET /_ping", ping },
                { "GET /version", version },
                { "GET /v1.41/info", info },
                { "GET /v1.41/nodes/abc123", node },
                { "GET /v1.41/nodes/gone", "HTTP/1.1 404 Not Found\r\nContent-Length: 30\r\n\r\n{\"message\":\"node gone absent\"}" },
                { "GET /v1.41/swarm ", swarm },
                { "POST /v1.41/swarm/init", init },
                { "POST /v1.41/swarm/join", "HTTP/1.1 500 X\r\nContent-Length: 51\r\n\r\n{\"message\":\"invalid join token SWMTKN-1-echoed\"}   " },
                { "POST /v1.41/nodes/abc123/update?version=42", empty },
                { "DELETE /v1.41/nodes/abc123?force=true", empty },
        };
        _cleanup_(docker_freep) Docker *d = NULL;
        DockerInfo i = {};
        DockerNode n = {};
        DockerSwarm s = {};
        char *id = NULL;

        server_start(table, ELEMENTSOF(table));
        CHECK_INT(docker_new(sock_path, &d), 0);
        CHECK_INT(docker_ping(d), 0);
        CHECK_STR(d->api_version, "1.41"); /* capped at what we know */
        CHECK_INT(docker_info(d, &i), 0);
        CHECK_STR(i.node_id, "abc123");
        docker_info_done(&i);
        CHECK_INT(docker_node_inspect(d, "abc123", &n), 0);
        CHECK(n.leader);
        CHECK_INT(docker_node_inspect(d, "gone", &n), -ENOENT);
        CHECK_STR(docker_last_error(d), "node gone absent");
        CHECK_INT(docker_node_inspect(d, "../etc", &n), -EINVAL);
        CHECK_INT(docker_node_update(d, &n, "worker", NULL), 0);
        docker_node_done(&n);
        CHECK_INT(docker_node_remove(d, "abc123", true), 0);
        CHECK_INT(docker_swarm_inspect(d, &s), 0);
        CHECK_STR(s.join_token_manager, "SWMTKN-m");
        CHECK_STR(s.join_token_worker, "SWMTKN-w");
        /* the tokens' bytes are wiped before their memory goes back (what
         * docker_swarm_done() does first); checking the struct after docker_swarm_done()
         * would say nothing: it always zeroes it */
        {
                char *m = s.join_token_manager, *w = s.join_token_worker;
                docker_swarm_erase(&s);
                CHECK(s.join_token_manager == m && s.join_token_worker == w);
                CHECK(memcmp(m, "\0\0\0\0\0\0\0\0", 8) == 0);
                CHECK(memcmp(w, "\0\0\0\0\0\0\0\0", 8) == 0);
                CHECK(s.id && streq(s.id, "sw")); /* not a secret: kept */
        }
        docker_swarm_done(&s);
        CHECK_INT(docker_swarm_init(d, "10.0.0.1", &id), 0);
        CHECK_STR(id, "newnode");
        free(id);
        /* HTTP 500 echoing the token: -EIO, but an answer; the text has no token */
        CHECK_INT(docker_swarm_join(d, STRV_MAKE("10.0.0.2", "10.0.0.3:2377"), "SWMTKN-secret", "10.0.0.1", 0), -EIO);
        CHECK(docker_answered(d));
        CHECK_INT(d->last_status, 500);
        CHECK_STR(docker_last_error(d), "invalid join token SWMTKN-********");
        CHECK_INT(docker_swarm_join(d, NULL, "t", NULL, 0), -EINVAL);
        CHECK_INT(docker_swarm_join(d, STRV_MAKE("10.0.0.2"), "", NULL, 0), -EINVAL);
        CHECK(d->n_requests >= 10);

        server_stop();

        log = server_log();
        CHECK(log && strstr(log, "POST /v1.41/nodes/abc123/update?version=42 HTTP/1.1 {\"Labels\":{},\"Role\":\"worker\",\"Availability\":\"active\"}"));
        CHECK(log && strstr(log, "POST /v1.41/swarm/init HTTP/1.1 {\"ListenAddr\":\"0.0.0.0:2377\",\"AdvertiseAddr\":\"10.0.0.1\"}"));
        CHECK(log && strstr(log, "\"RemoteAddrs\":[\"10.0.0.2:2377\",\"10.0.0.3:2377\"]"));
        CHECK(log && strstr(log, "\"JoinToken\":\"SWMTKN-secret\""));
        unlink(log_path);

        /* nothing listening */
        docker_free(d);
        d = NULL;
        CHECK_INT(docker_new("/nonexistent/docker.sock", &d), 0);
        CHECK_INT(docker_ping(d), -ENOENT);
        CHECK(!docker_answered(d));
        CHECK(strstr(docker_last_error(d), "/nonexistent/docker.sock"));
        CHECK_INT(docker_new("", &d), -EINVAL);
}

static void test_version_negotiation(void) {
        static const struct {
                const char *version;
                int ret;
                const char *want;
        } cases[] = {
                { "{\"ApiVersion\":\"1.40\",\"MinAPIVersion\":\"1.12\"}", 0, "1.40" },
                { "{\"ApiVersion\":\"1.41\"}", 0, "1.41" },
                { "{\"ApiVersion\":\"1.23\",\"MinAPIVersion\":\"1.12\"}", -EPROTONOSUPPORT, NULL },
                { "{\"ApiVersion\":\"2.0\",\"MinAPIVersion\":\"1.50\"}", -EPROTONOSUPPORT, NULL },
                { "{\"ApiVersion\":\"banana\"}", -EBADMSG, NULL },
                { "{}", -EBADMSG, NULL },
                { "not json", -EBADMSG, NULL },
        };
        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_(freep) char *ping = http_ok("OK"), *v = http_ok(cases[k].version);
                const Canned table[] = { { "GET /_ping", ping }, { "GET /version", v } };
                _cleanup_(docker_freep) Docker *d = NULL;

                server_start(table, ELEMENTSOF(table));
                CHECK_INT(docker_new(sock_path, &d), 0);
                CHECK_INT(docker_ping(d), cases[k].ret);
                if (cases[k].want)
                        CHECK_STR(d->api_version, cases[k].want);
                server_stop();
                unlink(log_path);
                }
        /* /_ping answering something else than OK */
        {
                _cleanup_(freep) char *ping = http_ok("NOPE");
                const Canned table[] = { { "GET /_ping", ping } };
                _cleanup_(docker_freep) Docker *d = NULL;
                server_start(table, ELEMENTSOF(table));
                CHECK_INT(docker_new(sock_path, &d), 0);
                CHECK_INT(docker_ping(d), -EBADMSG);
                server_stop();
                unlink(log_path);
        }
}

/* Run docker_swarm_rotate_join_tokens() against an engine whose GET /swarm answers
 * swarm_json and POST /swarm/update answers update (NULL: 404); the server's log back. */
static char *rotate_run(const char *swarm_json, const char *update, int want, uint64_t *ret_updated) {
        _cleanup_(freep) char *swarm = http_ok(swarm_json);
        const Canned table[] = {
                { "GET /v1.41/swarm ", swarm },
                { "POST /v1.41/swarm/update", update ?: "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}" },
        };
        _cleanup_(docker_freep) Docker *d = NULL;
        char *log;

        server_start(table, ELEMENTSOF(table));
        CHECK_INT(docker_new(sock_path, &d), 0);
        *ret_updated = 99;
        CHECK_INT(docker_swarm_rotate_join_tokens(d, ret_updated), want);
        if (want >= 0 && *ret_updated == 0)
                CHECK(!isempty(docker_last_error(d))); /* the caller's warning says why */
        server_stop();
        log = server_log();
        unlink(log_path);
        return log;
}

/* Token rotation: the swarm's own Spec back at its Version with both rotate flags; the
 * swarm's UpdatedAt read after it; nothing sent without a Spec and a Version. */
static void test_rotate_join_tokens(void) {
        static const char swarm_json[] =
                "{\"ID\":\"sw\",\"Version\":{\"Index\":77},\"UpdatedAt\":\"2024-03-01T10:00:05.5Z\","
                "\"Spec\":{\"Name\":\"default\",\"Orchestration\":{\"TaskHistoryRetentionLimit\":5}},"
                "\"JoinTokens\":{\"Worker\":\"SWMTKN-1-w\",\"Manager\":\"SWMTKN-1-m\"}}";
        _cleanup_(freep) char *empty = http_ok(""), *log = NULL;
        uint64_t updated;

        log = rotate_run(swarm_json, empty, 0, &updated);
        CHECK_INT(updated, UINT64_C(1709287205) * USEC_PER_SEC + 500000);
        CHECK(log && strstr(log, "POST /v1.41/swarm/update?version=77&rotateWorkerToken=true&rotateManagerToken=true "
                                 "HTTP/1.1 {\"Name\":\"default\",\"Orchestration\":{\"TaskHistoryRetentionLimit\":5}}\n"));
        CHECK(log && !strstr(log, "SWMTKN")); /* the tokens are never sent back */
        free(log);

        /* no UpdatedAt after the rotation: done, the time unknown (0) */
        log = rotate_run("{\"ID\":\"sw\",\"Version\":{\"Index\":3},\"Spec\":{}}", empty, 0, &updated);
        CHECK_INT(updated, 0);
        CHECK(log && strstr(log, "POST /v1.41/swarm/update?version=3&rotateWorkerToken=true&rotateManagerToken=true "));
        free(log);

        /* no Version, no Spec: -EBADMSG, nothing posted */
        log = rotate_run("{\"ID\":\"sw\",\"Spec\":{},\"UpdatedAt\":\"2024-03-01T10:00:05Z\"}", empty, -EBADMSG, &updated);
        CHECK(log && !strstr(log, "POST"));
        free(log);
        log = rotate_run("{\"ID\":\"sw\",\"Version\":{\"Index\":3}}", empty, -EBADMSG, &updated);
        CHECK(log && !strstr(log, "POST"));
        free(log);
        /* the engine refuses the update (an out-of-date version): its error, no time */
        log = rotate_run(swarm_json, NULL, -ENOENT, &updated);
        CHECK(log && strstr(log, "POST /v1.41/swarm/update?version=77&"));
}

/* docker_new_for_job(): the one way a Job's thread gets its engine client. */
static void test_new_for_job(void) {
        static const atomic_bool flag = false;
        Docker *d = NULL;

        CHECK_INT(docker_new_for_job("/run/x.sock", "1.41", 1500, &flag, &d), 0);
        CHECK(d != NULL);
        if (d) {
                CHECK_STR(d->socket, "/run/x.sock");
                CHECK_STR(d->api_version, "1.41");
                CHECK_INT(d->timeout_msec, 1500);
                CHECK(d->cancel == &flag);
        }
        d = docker_free(d);
        /* no version yet, the default timeout, no cancel flag */
        CHECK_INT(docker_new_for_job("/run/x.sock", NULL, 0, NULL, &d), 0);
        if (d) {
                CHECK_STR(d->api_version, "");
                CHECK_INT(d->timeout_msec, 5000);
                CHECK(d->cancel == NULL);
        }
        d = docker_free(d);
        CHECK_INT(docker_new_for_job("/run/x.sock", "", 0, NULL, &d), 0);
        if (d)
                CHECK_STR(d->api_version, "");
        d = docker_free(d);
        CHECK_INT(docker_new_for_job("", "1.41", 0, NULL, &d), -EINVAL);
        CHECK(d == NULL);
}

int main(void) {
        log_setup();
        log_set_max_level(LOG_WARNING);
        test_parse_info();
        test_parse_nodes();
        test_errors();
        test_client();
        test_version_negotiation();
        test_rotate_join_tokens();
        test_new_for_job();
        return test_done("test-docker");
}
