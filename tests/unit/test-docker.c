/* SPDX-License-Identifier: MIT */
/*
 * Docker client: the answer parsers, the error mapping, the events stream parser (fed
 * whole, byte by byte and split everywhere), and the requests against a canned engine
 * on a unix socket served by a child process (API negotiation, request bodies, the
 * events connection inside sd-event).
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "docker-events.h"
#include <fcntl.h>

#include "config.h"
#include "docker.h"
#include "log.h"
#include "status.h"
#include "test.h"

#define STRV_MAKE(...) ((char *const[]){ __VA_ARGS__, NULL })

static const char info_active_manager[] =
        "{\"Name\":\"mgr1\",\"Labels\":[\"swarmkeeper.logical-id=10.0.0.1\",\"x=y\"],"
        "\"Swarm\":{\"NodeID\":\"abc123\",\"NodeAddr\":\"10.0.0.1\",\"LocalNodeState\":\"active\","
        "\"ControlAvailable\":true,\"Error\":\"\",\"RemoteManagers\":[{\"NodeID\":\"abc123\",\"Addr\":\"10.0.0.1:2377\"},"
        "{\"NodeID\":\"def\",\"Addr\":\"10.0.0.2:2377\"}],\"Cluster\":{\"ID\":\"clu\"}}}";

static const char node_json[] =
        "{\"ID\":\"abc123\",\"Version\":{\"Index\":42},"
        "\"Spec\":{\"Labels\":{},\"Role\":\"manager\",\"Availability\":\"active\"},"
        "\"Description\":{\"Hostname\":\"mgr1\",\"Engine\":{\"EngineVersion\":\"20.10\","
        "\"Labels\":{\"swarmkeeper.logical-id\":\"10.0.0.1\"}}},"
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
        CHECK(n.spec_json && strstr(n.spec_json, "\"Role\":\"manager\""));
        docker_node_done(&n);

        /* a worker: no ManagerStatus, no label */
        CHECK_INT(docker_parse_node("{\"ID\":\"w1\",\"Version\":{\"Index\":1},\"Spec\":{\"Role\":\"worker\"},"
                                    "\"Status\":{\"State\":\"down\"}}", &n), 0);
        CHECK(!n.manager && !n.leader && !n.reachability && !n.logical_id);
        CHECK_STR(n.state, "down");
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

static void test_event_parse(void) {
        DockerEvent ev;
        const char *line =
                "{\"Type\":\"node\",\"Action\":\"update\",\"Actor\":{\"ID\":\"n1\",\"Attributes\":{\"name\":\"h\","
                "\"leader.new\":\"true\",\"leader.old\":\"false\",\"state.new\":\"ready\",\"reachability.new\":\"reachable\"}},"
                "\"scope\":\"swarm\",\"time\":1700000000,\"timeNano\":1700000000123456789}";

        CHECK_INT(docker_event_parse(line, strlen(line), &ev), 0);
        CHECK_INT(ev.type, DOCKER_EVENT_NODE);
        CHECK_STR(ev.action, "update");
        CHECK_STR(ev.actor_id, "n1");
        CHECK_STR(ev.leader_new, "true");
        CHECK_STR(ev.state_new, "ready");
        CHECK_STR(ev.reachability_new, "reachable");
        CHECK_STR(ev.role_new, "");
        CHECK_INT(ev.time_nano, 1700000000123456789ULL);

        line = "{\"Type\":\"daemon\",\"Action\":\"reload\",\"Actor\":{\"ID\":\"d\"}}";
        CHECK_INT(docker_event_parse(line, strlen(line), &ev), 0);
        CHECK_INT(ev.type, DOCKER_EVENT_DAEMON);
        line = "{\"Type\":\"container\",\"status\":\"start\"}";
        CHECK_INT(docker_event_parse(line, strlen(line), &ev), 0);
        CHECK_INT(ev.type, DOCKER_EVENT_OTHER);
        CHECK_STR(ev.action, "start");

        /* overlong values are cut, not overflowed */
        char big[600];
        memset(big, 'a', sizeof(big));
        char *l2 = NULL;
        CHECK(asprintf(&l2, "{\"Type\":\"node\",\"Action\":\"%.*s\",\"Actor\":{\"ID\":\"%.*s\"}}", 500, big, 500, big) > 0);
        CHECK_INT(docker_event_parse(l2, strlen(l2), &ev), 0);
        CHECK_INT(strlen(ev.action), sizeof(ev.action) - 1);
        CHECK_INT(strlen(ev.actor_id), sizeof(ev.actor_id) - 1);
        free(l2);

        CHECK_INT(docker_event_parse("{}", 2, &ev), -EBADMSG);
        CHECK_INT(docker_event_parse("[1]", 3, &ev), -EBADMSG);
        CHECK_INT(docker_event_parse("{\"Type\":1,\"Action\":\"x\"}", 23, &ev), -EBADMSG);
        CHECK_INT(docker_event_parse("{\"Type\":\"node\"", 14, &ev), -EBADMSG);
        CHECK_INT(docker_event_parse("", 0, &ev), -EBADMSG);
        /* only `size` bytes count: a NUL inside is garbage */
        CHECK_INT(docker_event_parse("{}\0{}", 5, &ev), -EBADMSG);
}

typedef struct Lines {
        char text[4096];
        unsigned n;
} Lines;

static void collect(const char *line, size_t size, void *userdata) {
        Lines *l = userdata;
        CHECK(strlen(line) == size);
        strncat(l->text, line, sizeof(l->text) - strlen(l->text) - 2);
        strcat(l->text, "|");
        l->n++;
}

static const char stream_chunked[] =
        "HTTP/1.1 200 OK\r\n"
        "Api-Version: 1.41\r\n"
        "Content-Type: application/json\r\n"
        "transfer-encoding: chunked\r\n"
        "\r\n"
        "7\r\n{\"a\":1}\r\n"
        "1\r\n\n\r\n"
        "c\r\n{\"b\":2}\n{\"c\"\r\n"
        "5;ext=1\r\n:3}\r\n\r\n"
        "0\r\n\r\n";

static void test_stream(void) {
        DockerStreamParser p = {};
        Lines l = {};

        /* all at once */
        CHECK_INT(docker_stream_feed(&p, stream_chunked, strlen(stream_chunked), collect, &l), -EPIPE);
        CHECK_STR(l.text, "{\"a\":1}|{\"b\":2}|{\"c\":3}|");
        CHECK_INT(p.status, 200);
        docker_stream_parser_done(&p);

        /* byte by byte and split at every position */
        for (size_t split = 0; split <= strlen(stream_chunked); split++) {
                int r1, r2;
                l = (Lines){};
                p = (DockerStreamParser){};
                r1 = docker_stream_feed(&p, stream_chunked, split, collect, &l);
                r2 = r1 < 0 ? r1 : docker_stream_feed(&p, stream_chunked + split, strlen(stream_chunked) - split, collect, &l);
                CHECK_INT(r2, -EPIPE);
                CHECK_STR(l.text, "{\"a\":1}|{\"b\":2}|{\"c\":3}|");
                docker_stream_parser_done(&p);
        }
        l = (Lines){};
        p = (DockerStreamParser){};
        for (size_t i = 0; i < strlen(stream_chunked) - 1; i++)
                CHECK_INT(docker_stream_feed(&p, stream_chunked + i, 1, collect, &l), 0);
        CHECK_INT(docker_stream_feed(&p, "\n", 1, collect, &l), -EPIPE);
        CHECK_INT(l.n, 3);
        docker_stream_parser_done(&p);

        /* not chunked: lines until EOF; headers_done flips after the blank line */
        l = (Lines){};
        p = (DockerStreamParser){};
        CHECK_INT(docker_stream_feed(&p, "HTTP/1.0 200 OK\r\n", 17, collect, &l), 0);
        CHECK(!docker_stream_headers_done(&p));
        CHECK_INT(docker_stream_feed(&p, "\r\n{\"x\":1}\r\n{\"y\"", 16, collect, &l), 0);
        CHECK(docker_stream_headers_done(&p));
        CHECK_STR(l.text, "{\"x\":1}|");
        docker_stream_parser_done(&p);

        /* errors */
#define FEED_FAILS(text, err)                                                           \
        do {                                                                            \
                DockerStreamParser q = {};                                              \
                Lines m = {};                                                           \
                CHECK_INT(docker_stream_feed(&q, text, strlen(text), collect, &m), err); \
                docker_stream_parser_done(&q);                                          \
        } while (0)
        FEED_FAILS("HTTP/1.1 404 Not Found\r\n\r\n", -EIO);
        FEED_FAILS("HTTP/1.1 500 X\r\n", -EIO);
        FEED_FAILS("GARBAGE\r\n", -EBADMSG);
        FEED_FAILS("HTTP/2 200\r\n", -EBADMSG);
        FEED_FAILS("HTTP/1.1 2000 OK\r\n", -EBADMSG);
        FEED_FAILS("HTTP/1.1 200 OK\r\nno colon here\r\n", -EBADMSG);
        FEED_FAILS("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -EBADMSG);
        FEED_FAILS("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", -EBADMSG);
        FEED_FAILS("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY\r\n", -EBADMSG);

        /* an endless header or body line is refused, not buffered forever */
        {
                char *big = malloc(DOCKER_STREAM_LINE_MAX + 10);
                DockerStreamParser q = {};
                Lines m = {};
                memset(big, 'h', DOCKER_STREAM_LINE_MAX + 10);
                CHECK_INT(docker_stream_feed(&q, big, DOCKER_STREAM_LINE_MAX + 10, collect, &m), -EBADMSG);
                docker_stream_parser_done(&q);
                q = (DockerStreamParser){};
                CHECK_INT(docker_stream_feed(&q, "HTTP/1.1 200 OK\r\n\r\n", 19, collect, &m), 0);
                CHECK_INT(docker_stream_feed(&q, big, DOCKER_STREAM_LINE_MAX + 10, collect, &m), -EBADMSG);
                docker_stream_parser_done(&q);
                free(big);
        }
}

/* ---- a canned engine on a unix socket, in a child process ---------------------------- */

typedef struct Canned {
        const char *method_path; /* "GET /_ping": prefix of the request line */
        const char *response;    /* full HTTP response */
} Canned;

static char sock_path[108];
static char log_path[] = "/tmp/test-docker-log-XXXXXX";
static pid_t server_pid;

static void serve(int lfd, const Canned *table, size_t n) {
        for (;;) {
                int fd = accept(lfd, NULL, NULL);
                char buf[16384];
                if (fd < 0)
                        _exit(0);
                (void) test_read_request(fd, buf, sizeof(buf));
                /* log: request line + body */
                FILE *f = fopen(log_path, "a");
                if (f) {
                        const char *body = strstr(buf, "\r\n\r\n");
                        fprintf(f, "%.*s %s\n", (int) strcspn(buf, "\r"), buf, body ? body + 4 : "");
                        fclose(f);
                }
                const char *resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 27\r\n\r\n{\"message\":\"no such thing\"}";
                for (size_t i = 0; i < n; i++)
                        if (strncmp(buf, table[i].method_path, strlen(table[i].method_path)) == 0) {
                                resp = table[i].response;
                                break;
                        }
                (void) !write(fd, resp, strlen(resp));
                if (strstr(buf, "/events"))
                        sleep(1); /* keep the stream open a moment, then EOF */
                close(fd);
        }
}

static void server_start(const Canned *table, size_t n) {
        int lfd, fd;

        snprintf(sock_path, sizeof(sock_path), "/tmp/test-docker-%d.sock", (int) getpid());
        fd = mkstemp(log_path);
        CHECK(fd >= 0);
        close(fd);
        lfd = test_unix_listen(sock_path);
        CHECK(lfd >= 0);
        server_pid = fork();
        if (server_pid == 0) {
                (void) signal(SIGPIPE, SIG_IGN); /* a client that gave up must not kill it */
                serve(lfd, table, n);
                _exit(0);
        }
        close(lfd);
}

static void server_stop(void) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        unlink(sock_path);
}

static char *server_log(void) {
        char *t = NULL;
        (void) read_full_file(log_path, &t, NULL);
        return t;
}

static char *http_ok(const char *body) {
        char *r = NULL;
        CHECK(asprintf(&r, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                       strlen(body), body) > 0);
        return r;
}

typedef struct EvState {
        unsigned opened, events, closed;
        int close_error;
        char last_actor[96];
        sd_event *e;
} EvState;

static void ev_open(DockerEvents *s, void *u) {
        ((EvState *) u)->opened++;
}
static void ev_event(DockerEvents *s, const DockerEvent *ev, void *u) {
        EvState *st = u;
        st->events++;
        snprintf(st->last_actor, sizeof(st->last_actor), "%s", ev->actor_id);
}
static void ev_closed(DockerEvents *s, int error, const char *message, void *u) {
        EvState *st = u;
        st->closed++;
        st->close_error = error;
        sd_event_exit(st->e, 0);
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
                { "GET /v1.41/events?filters=", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                                 "36\r\n{\"Type\":\"node\",\"Action\":\"update\",\"Actor\":{\"ID\":\"n1\"}}\n\r\n"
                                                 "36\r\n{\"Type\":\"node\",\"Action\":\"update\",\"Actor\":{\"ID\":\"n2\"}}\n\r\n" },
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

        /* the events stream inside sd-event */
        {
                sd_event *e = NULL;
                DockerEvents *ev = NULL;
                EvState st = {};
                CHECK_INT(sd_event_new(&e), 0);
                st.e = e;
                CHECK_INT(docker_events_new(e, sock_path, d->api_version, 5 * USEC_PER_SEC, ev_open, ev_event,
                                            ev_closed, &st, &ev), 0);
                CHECK_INT(sd_event_loop(e), 0);
                CHECK_INT(st.opened, 1);
                CHECK_INT(st.events, 2);
                CHECK_STR(st.last_actor, "n2");
                CHECK_INT(st.closed, 1);
                CHECK_INT(st.close_error, -ECONNRESET);
                docker_events_free(ev);
                sd_event_unref(e);
        }
        server_stop();

        log = server_log();
        CHECK(log && strstr(log, "POST /v1.41/nodes/abc123/update?version=42 HTTP/1.1 {\"Labels\":{},\"Role\":\"worker\",\"Availability\":\"active\"}"));
        CHECK(log && strstr(log, "POST /v1.41/swarm/init HTTP/1.1 {\"ListenAddr\":\"0.0.0.0:2377\",\"AdvertiseAddr\":\"10.0.0.1\"}"));
        CHECK(log && strstr(log, "\"RemoteAddrs\":[\"10.0.0.2:2377\",\"10.0.0.3:2377\"]"));
        CHECK(log && strstr(log, "\"JoinToken\":\"SWMTKN-secret\""));
        CHECK(log && strstr(log, "events?filters=%7B%22type%22%3A%5B%22node%22%2C%22daemon%22%5D%7D"));
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
                strcpy(log_path, "/tmp/test-docker-log-XXXXXX");
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

/* Run `status` (table or --json) against the canned engine; its stdout as text. */
static char *status_output(bool json) {
        _cleanup_(config_freep) Config *c = NULL;
        char path[] = "/tmp/test-docker-status-XXXXXX", *set = NULL, *text = NULL;
        int fd, saved;

        CHECK_INT(config_new(&c), 0);
        CHECK(asprintf(&set, "Engine.Socket=%s", sock_path) > 0);
        CHECK_INT(config_set(c, set), 0);
        free(set);
        fd = mkstemp(path);
        CHECK(fd >= 0);
        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        dup2(fd, STDOUT_FILENO);
        CHECK_INT(verb_status(c, NULL, json), 0);
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
        close(fd);
        CHECK_INT(read_full_file(path, &text, NULL), 0);
        unlink(path);
        return text;
}

/* Engine strings (a node's hostname is whatever the host says) reach a terminal only as
 * printable text: no escape sequences, no control characters. */
static void test_status_sanitized(void) {
        static const char evil_node[] =
                "{\"ID\":\"abc123\",\"Version\":{\"Index\":42},"
                "\"Spec\":{\"Role\":\"manager\\n\",\"Availability\":\"active\"},"
                "\"Description\":{\"Hostname\":\"\\u001b]0;pwned\\u0007\\u001b[2Jhost\\u00e9\","
                "\"Engine\":{\"Labels\":{\"swarmkeeper.logical-id\":\"10.0.0.1\\r\"}}},"
                "\"Status\":{\"State\":\"ready\"},"
                "\"ManagerStatus\":{\"Leader\":true,\"Reachability\":\"reachable\\u009b\"}}";
        _cleanup_(freep) char *ping = http_ok("OK"), *version = http_ok("{\"ApiVersion\":\"1.41\"}"),
                             *info = http_ok(info_active_manager), *nodes = NULL, *table = NULL, *json = NULL;
        _cleanup_(freep) char *list = NULL;
        char buf[16];

        CHECK(asprintf(&list, "[%s]", evil_node) > 0);
        nodes = http_ok(list);
        const Canned canned[] = {
                { "GET /_ping", ping }, { "GET /version", version }, { "GET /v1.41/info", info },
                { "GET /v1.41/nodes", nodes },
        };
        server_start(canned, ELEMENTSOF(canned));
        table = status_output(false);
        json = status_output(true);
        server_stop();
        unlink(log_path);
        strcpy(log_path, "/tmp/test-docker-log-XXXXXX");

        CHECK(table && strstr(table, "?]0;pwned??[2Jhost?? "));
        CHECK(table && strstr(table, "manager? "));
        CHECK(table && strstr(table, "10.0.0.1? "));
        CHECK(table && strstr(table, "reachable?? "));
        for (const char *p = table; p && *p; p++)
                if (*p != '\n' && ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)) {
                        fprintf(stderr, "status table: byte 0x%02x at %zu\n", (unsigned char) *p, (size_t) (p - table));
                        test_failures++;
                        break;
                }
        /* --json: json-c escapes them; the raw bytes never appear */
        CHECK(json && strstr(json, "\\u001b]0;pwned\\u0007"));
        CHECK(json && !strchr(json, 0x1b) && !strchr(json, 0x07));

        status_printable(buf, sizeof(buf), "a\x1b[31mb");
        CHECK_STR(buf, "a?[31mb");
        status_printable(buf, 4, "abcdef");
        CHECK_STR(buf, "abc");
        status_printable(buf, sizeof(buf), NULL);
        CHECK_STR(buf, "");
}

int main(void) {
        log_setup();
        log_set_max_level(LOG_WARNING);
        test_parse_info();
        test_parse_nodes();
        test_errors();
        test_event_parse();
        test_stream();
        test_client();
        strcpy(log_path, "/tmp/test-docker-log-XXXXXX");
        test_version_negotiation();
        strcpy(log_path, "/tmp/test-docker-log-XXXXXX");
        test_status_sanitized();
        return test_done("test-docker");
}
