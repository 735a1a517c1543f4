/* SPDX-License-Identifier: MIT */
/*
 * The engine's events stream (docker-events.c): one line to an event, the HTTP reader
 * (fed whole, byte by byte and split everywhere), and the subscription inside sd-event
 * against a canned engine: events delivered, and every way the stream ends.
 */
#include "canned-engine.h"
#include "docker-events.h"
#include "log.h"
#include "test.h"

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
#define CHUNKED_200 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
#define NODE_EVENT(id) "{\"Type\":\"node\",\"Action\":\"update\",\"Actor\":{\"ID\":\"" id "\"}}\n"

/* One subscription per row, each against its own canned answer to /events: what the
 * handlers saw, and the error the stream closed with. */
static void test_subscription(void) {
        static const struct {
                const char *name, *answer, *api_version;
                uint64_t header_timeout_usec;
                unsigned opened, events;
                int close_error;
                const char *last_actor, *request;
        } cases[] = {
                { "two events, a line that is not one, the end of the chunked body",
                  CHUNKED_200 "36\r\n" NODE_EVENT("n1") "\r\n" "4\r\n[1]\n\r\n" "36\r\n" NODE_EVENT("n2") "\r\n0\r\n\r\n",
                  "1.41", 5 * USEC_PER_SEC, 1, 2, -ECONNRESET, "n2", "GET /v1.41/events?filters=" },
                { "headers only, then the engine hangs up (after 1 s)", CHUNKED_200, "1.40", 5 * USEC_PER_SEC, 1, 0,
                  -ECONNRESET, "", "GET /v1.40/events?filters=" },
                { "plain body until EOF", "HTTP/1.1 200 OK\r\n\r\n" NODE_EVENT("p1"), NULL, 5 * USEC_PER_SEC, 1, 1,
                  -ECONNRESET, "p1", "GET /v1.41/events?filters=" },
                { "HTTP 500", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\n{}", "1.41",
                  5 * USEC_PER_SEC, 0, 0, -EIO, "", NULL },
                { "not HTTP", "SSH-2.0-OpenSSH_9.2\r\n", "1.41", 5 * USEC_PER_SEC, 0, 0, -EBADMSG, "", NULL },
                { "no answer within the header timeout", "", "1.41", 200 * USEC_PER_MSEC, 0, 0, -ETIMEDOUT, "", NULL },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                const Canned table[] = { { "GET /v", cases[k].answer } };
                _cleanup_(freep) char *log = NULL;
                sd_event *e = NULL;
                DockerEvents *ev = NULL;
                EvState st = {};

                server_start(table, ELEMENTSOF(table));
                CHECK_INT(sd_event_new(&e), 0);
                st.e = e;
                CHECK_INT(docker_events_new(e, sock_path, cases[k].api_version, cases[k].header_timeout_usec, ev_open,
                                            ev_event, ev_closed, &st, &ev), 0);
                CHECK_INT(sd_event_loop(e), 0);
                if (st.opened != cases[k].opened || st.events != cases[k].events ||
                    st.close_error != cases[k].close_error)
                        fprintf(stderr, "subscription, case '%s': opened %u, %u events, closed with %d\n",
                                cases[k].name, st.opened, st.events, st.close_error);
                CHECK_INT(st.opened, cases[k].opened);
                CHECK_INT(st.events, cases[k].events);
                CHECK_STR(st.last_actor, cases[k].last_actor);
                CHECK_INT(st.closed, 1);
                CHECK_INT(st.close_error, cases[k].close_error);
                docker_events_free(ev);
                sd_event_unref(e);
                server_stop();
                log = server_log();
                /* node and daemon events only: filters={"type":["node","daemon"]} */
                CHECK(log && strstr(log, "/events?filters=%7B%22type%22%3A%5B%22node%22%2C%22daemon%22%5D%7D HTTP/1.1"));
                if (cases[k].request)
                        CHECK(log && startswith(log, cases[k].request));
                unlink(log_path);
        }
}

/* Refused before any event loop work: bad arguments, nobody listening. */
static void test_subscription_refused(void) {
        char long_path[200];
        sd_event *e = NULL;
        DockerEvents *ev = NULL;
        EvState st = {};

        memset(long_path, 'x', sizeof(long_path) - 1);
        long_path[0] = '/';
        long_path[sizeof(long_path) - 1] = 0;
        CHECK_INT(sd_event_new(&e), 0);
        st.e = e;
        CHECK_INT(docker_events_new(NULL, "/run/docker.sock", NULL, 0, ev_open, ev_event, ev_closed, &st, &ev), -EINVAL);
        CHECK_INT(docker_events_new(e, "", NULL, 0, ev_open, ev_event, ev_closed, &st, &ev), -EINVAL);
        CHECK_INT(docker_events_new(e, NULL, NULL, 0, ev_open, ev_event, ev_closed, &st, &ev), -EINVAL);
        CHECK_INT(docker_events_new(e, long_path, NULL, 0, ev_open, ev_event, ev_closed, &st, &ev), -ENAMETOOLONG);
        CHECK_INT(docker_events_new(e, "/nonexistent/docker.sock", NULL, 0, ev_open, ev_event, ev_closed, &st, &ev),
                  -ENOENT);
        CHECK(ev == NULL);
        CHECK_INT(st.closed, 0);
        sd_event_unref(e);
}

int main(void) {
        log_setup();
        log_set_max_level(LOG_WARNING);
        test_event_parse();
        test_stream();
        test_subscription();
        test_subscription_refused();
        return test_done("docker-events");
}
