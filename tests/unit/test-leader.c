/* SPDX-License-Identifier: MIT */
/*
 * Leadership tracking against a canned engine (a child process on a unix socket) whose
 * answer for GET /v1.41/nodes/n1 says Leader=true or false depending on a flag file:
 * leader_start checks at once (on a worker thread), a kick asks again, an engine event schedules
 * a check within the event delay, subscribers hear every change, an engine error drops
 * leadership, leader_stop reports the loss.
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "leader.h"
#include "log.h"
#include "test.h"

static char sock_path[108];
static char flag_path[] = "/tmp/test-leader-flag-XXXXXX";
static pid_t server_pid;

static void set_flag(const char *v) {
        FILE *f = fopen(flag_path, "w");
        CHECK(f != NULL);
        if (f) {
                fputs(v, f);
                fclose(f);
        }
}

#define MGR(id, leader, reach)                                                                          \
        "{\"ID\":\"" id "\",\"Version\":{\"Index\":7},\"Spec\":{\"Role\":\"manager\",\"Availability\":\"active\"}," \
        "\"Status\":{\"State\":\"ready\"},\"ManagerStatus\":{\"Leader\":" leader ",\"Reachability\":\"" reach "\"}}"
#define WRK(id) "{\"ID\":\"" id "\",\"Version\":{\"Index\":7},\"Spec\":{\"Role\":\"worker\"},\"Status\":{\"State\":\"ready\"}}"

static void serve(int lfd) {
        for (;;) {
                char buf[4096], body[2048], resp[2400], flag[16] = "";
                int fd = accept(lfd, NULL, NULL);
                FILE *f;

                if (fd < 0)
                        _exit(0);
                (void) test_read_request(fd, buf, sizeof(buf));
                f = fopen(flag_path, "r");
                if (f) {
                        if (!fgets(flag, sizeof(flag), f))
                                flag[0] = 0;
                        fclose(f);
                }
                if (strncmp(flag, "error", 5) == 0)
                        snprintf(resp, sizeof(resp), "HTTP/1.1 503 X\r\nContent-Length: 36\r\n\r\n"
                                                     "{\"message\":\"not a manager any more\"}");
                else if (startswith(buf, "GET /v1.41/nodes?filters=%7B%22role%22%3A%5B%22manager%22%5D%7D ")) {
                        bool leader = strncmp(flag, "true", 4) == 0;
                        snprintf(body, sizeof(body), "[%s,%s,%s]",
                                 leader ? MGR("n1", "true", "reachable") : MGR("n1", "false", "reachable"),
                                 leader ? MGR("n2", "false", "reachable") : MGR("n2", "true", "reachable"),
                                 MGR("n3", "false", "unreachable"));
                        snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
                } else if (strncmp(buf, "GET /v1.41/nodes/n1 ", 20) == 0) {
                        bool leader = strncmp(flag, "true", 4) == 0;
                        snprintf(body, sizeof(body),
                                 "{\"ID\":\"n1\",\"Version\":{\"Index\":7},\"Spec\":{\"Role\":\"manager\",\"Availability\":\"active\"},"
                                 "\"Status\":{\"State\":\"ready\"},\"ManagerStatus\":{\"Leader\":%s,\"Reachability\":\"reachable\"}}",
                                 leader ? "true" : "false");
                        snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
                } else
                        snprintf(resp, sizeof(resp), "HTTP/1.1 404 X\r\nContent-Length: 2\r\n\r\n{}");
                (void) !write(fd, resp, strlen(resp));
                close(fd);
        }
}

static void server_start(void) {
        int lfd, fd;

        snprintf(sock_path, sizeof(sock_path), "/tmp/test-leader-%d.sock", (int) getpid());
        fd = mkstemp(flag_path);
        CHECK(fd >= 0);
        close(fd);
        lfd = test_unix_listen(sock_path);
        CHECK(lfd >= 0);
        server_pid = fork();
        if (server_pid == 0) {
                /* a client that gave up (a cancelled or freed check) must not kill it */
                (void) signal(SIGPIPE, SIG_IGN);
                serve(lfd);
                _exit(0);
        }
        close(lfd);
}

static void server_stop(void) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        unlink(sock_path);
        unlink(flag_path);
}

typedef struct Seen {
        unsigned calls;
        bool last_leader;
        int last_error;
} Seen;

static void on_change(Leader *l, void *userdata) {
        Seen *s = userdata;
        s->calls++;
        s->last_leader = leader_is_leader(l);
        s->last_error = leader_last_error(l);
}

/* Run the loop for `msec` (sd_event_run: an exited loop could not run again). */
static void run_for(sd_event *e, uint64_t msec) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + msec * USEC_PER_MSEC, n;
        while ((n = now_usec(CLOCK_MONOTONIC)) < end)
                CHECK(sd_event_run(e, end - n) >= 0);
}

/* The pure parse: leader and majority from one manager list. */
static void test_quorum_parse(void) {
        LeaderQuorum q;

        CHECK_INT(leader_quorum_parse("[" MGR("a", "true", "reachable") "," MGR("b", "false", "reachable") ","
                                      MGR("c", "false", "unreachable") "]", "a", &q), 1);
        CHECK(q.self_found && q.leader && q.majority);
        CHECK_INT(q.n_managers, 3);
        CHECK_INT(q.n_reachable, 2);

        /* the leader of a minority: leader, but no majority (2 of 4 is not more than half) */
        CHECK_INT(leader_quorum_parse("[" MGR("a", "true", "reachable") "," MGR("b", "false", "unreachable") ","
                                      MGR("c", "false", "unreachable") "," MGR("d", "false", "reachable") "]", "a", &q), 1);
        CHECK(q.leader && !q.majority);
        CHECK_INT(q.n_managers, 4);

        /* another node leads; workers in the answer do not count */
        CHECK_INT(leader_quorum_parse("[" MGR("a", "false", "reachable") "," MGR("b", "true", "reachable") ","
                                      WRK("w1") "," WRK("w2") "," WRK("w3") "]", "a", &q), 0);
        CHECK(q.self_found && !q.leader && q.majority);
        CHECK_INT(q.n_managers, 2);

        /* not listed */
        CHECK_INT(leader_quorum_parse("[" MGR("b", "true", "reachable") "]", "a", &q), 0);
        CHECK(!q.self_found && !q.leader && q.majority);
        CHECK_INT(leader_quorum_parse("[]", "a", &q), 0);
        CHECK(!q.majority);

        /* garbage and bad arguments */
        CHECK_INT(leader_quorum_parse("{}", "a", &q), -EBADMSG);
        CHECK_INT(leader_quorum_parse("[1]", "a", &q), -EBADMSG);
        CHECK_INT(leader_quorum_parse("not json", "a", &q), -EBADMSG);
        CHECK_INT(leader_quorum_parse("[]", "", &q), -EINVAL);
        CHECK_INT(leader_quorum_parse(NULL, "a", &q), -EINVAL);
        CHECK_INT(leader_quorum_parse("[" MGR("a", "true", "reachable") "]", "a", NULL), 1);
}

/* The blocking call against the canned engine: one request, no Leader object. */
static void test_confirm_blocking(void) {
        Docker *d = NULL;
        LeaderQuorum q;

        CHECK_INT(docker_new(sock_path, &d), 0);
        set_flag("true");
        CHECK_INT(leader_confirm_blocking(d, "n1", &q), 1);
        CHECK(q.leader && q.majority);
        CHECK_INT(q.n_managers, 3);
        CHECK_INT(q.n_reachable, 2);
        CHECK_INT(d->n_requests, 1);
        set_flag("false");
        CHECK_INT(leader_confirm_blocking(d, "n1", &q), 0);
        CHECK(q.self_found && !q.leader);
        CHECK_INT(leader_confirm_blocking(d, "n2", &q), 1);
        set_flag("error");
        CHECK_INT(leader_confirm_blocking(d, "n1", &q), -ENOTCONN);
        CHECK_INT(leader_confirm_blocking(NULL, "n1", &q), -EINVAL);
        CHECK_INT(leader_confirm_blocking(d, "", &q), -EINVAL);
        docker_free(d);
}

/* Have the Leader check now and wait for the result: what the tests used
 * leader_confirm_now() for before checks moved to a worker thread. */
static void check_now(sd_event *e, Leader *l) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + 3 * USEC_PER_SEC;
        leader_kick(l);
        run_for(e, 60); /* the kick's delay */
        while (leader_checking(l) && now_usec(CLOCK_MONOTONIC) < end)
                CHECK(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
        CHECK(!leader_checking(l));
}

typedef struct Confirmed {
        unsigned calls;
        int r;
        LeaderQuorum q;
} Confirmed;

static void on_confirmed(Leader *l, int r, const LeaderQuorum *q, void *userdata) {
        Confirmed *c = userdata;
        c->calls++;
        c->r = r;
        c->q = q ? *q : (LeaderQuorum){};
}

/* leader_confirm_async(): the blocking question on a worker thread, answered in the loop,
 * and nothing else: no state change, no subscriber called. */
static void test_confirm_async(void) {
        sd_event *e = NULL;
        Docker *d = NULL;
        Leader *l = NULL;
        Seen seen = {};
        Confirmed c = {};

        CHECK_INT(sd_event_new(&e), 0);
        CHECK_INT(docker_new(sock_path, &d), 0);
        CHECK_INT(leader_new(e, d, 3600 * USEC_PER_SEC, &l), 0);
        CHECK_INT(leader_confirm_async(l, on_confirmed, &c), -ESTALE); /* not started */
        set_flag("false");
        CHECK_INT(leader_start(l, "n1"), 0);
        run_for(e, 200);
        CHECK(!leader_is_leader(l));
        CHECK_INT(leader_subscribe(l, on_change, &seen), 0);

        set_flag("true"); /* the engine says n1 leads now; only the confirm asks */
        CHECK_INT(leader_confirm_async(l, on_confirmed, &c), 0);
        CHECK_INT(leader_confirm_async(l, on_confirmed, &c), -EBUSY);
        CHECK_INT(c.calls, 0); /* not synchronously */
        run_for(e, 300);
        CHECK_INT(c.calls, 1);
        CHECK_INT(c.r, 1);
        CHECK(c.q.leader && c.q.majority);
        CHECK_INT(c.q.n_managers, 3);
        CHECK(!leader_is_leader(l)); /* side-effect free */
        CHECK_INT(seen.calls, 0);

        /* stopped in between: -ESTALE */
        CHECK_INT(leader_confirm_async(l, on_confirmed, &c), 0);
        leader_stop(l, "test");
        run_for(e, 300);
        CHECK_INT(c.calls, 2);
        CHECK_INT(c.r, -ESTALE);

        /* freed while in flight: no callback */
        CHECK_INT(leader_start(l, "n1"), 0);
        CHECK_INT(leader_confirm_async(l, on_confirmed, &c), 0);
        l = leader_free(l);
        CHECK_INT(c.calls, 2);
        docker_free(d);
        sd_event_unref(e);
}

/* An engine that accepts and never answers: the loop keeps running while a check hangs,
 * and freeing the Leader (at exit) does not wait for the engine. */
static void test_hanging_engine(void) {
        char path[108];
        sd_event *e = NULL;
        Docker *d = NULL;
        Leader *l = NULL;
        uint64_t t0;
        int lfd;

        snprintf(path, sizeof(path), "/tmp/test-leader-hang-%d.sock", (int) getpid());
        lfd = test_unix_listen(path);
        CHECK(lfd >= 0);
        CHECK_INT(sd_event_new(&e), 0);
        CHECK_INT(docker_new(path, &d), 0);
        CHECK_INT(leader_new(e, d, 3600 * USEC_PER_SEC, &l), 0);
        t0 = now_usec(CLOCK_MONOTONIC);
        CHECK_INT(leader_start(l, "n1"), 0);
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 < 100 * USEC_PER_MSEC);
        CHECK(leader_checking(l));
        run_for(e, 300); /* the loop turns; the check still hangs */
        CHECK(leader_checking(l));
        CHECK(!leader_is_leader(l));
        t0 = now_usec(CLOCK_MONOTONIC);
        leader_cancel(l);
        l = leader_free(l);
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 < 500 * USEC_PER_MSEC);
        docker_free(d);
        sd_event_unref(e);
        close(lfd);
        unlink(path);
}

int main(void) {
        sd_event *e = NULL;
        Docker *d = NULL;
        Leader *l = NULL;
        Seen seen = {}, seen2 = {};
        DockerEvent ev = { .type = DOCKER_EVENT_NODE, .action = "update", .actor_id = "other" };

        log_setup();
        log_set_max_level(LOG_WARNING);
        server_start();
        test_quorum_parse();
        test_confirm_blocking();
        test_hanging_engine();
        test_confirm_async();
        set_flag("false");

        CHECK_INT(sd_event_new(&e), 0);
        CHECK_INT(docker_new(sock_path, &d), 0);
        CHECK_INT(leader_new(e, d, 0, &l), -EINVAL);
        CHECK_INT(leader_new(e, d, 3600 * USEC_PER_SEC, &l), 0);
        CHECK_INT(leader_subscribe(l, on_change, &seen), 0);
        CHECK_INT(leader_subscribe(l, on_change, &seen), 0); /* once */
        CHECK_INT(leader_subscribe(l, on_change, &seen2), 0);
        CHECK(!leader_checking(l));                          /* not started */
        CHECK(leader_self(l) == NULL);

        /* start: checks right away */
        CHECK_INT(leader_start(l, ""), -EINVAL);
        CHECK_INT(leader_start(l, "n1"), 0);
        CHECK(leader_running(l));
        CHECK(leader_checking(l));   /* on its thread; the result comes through the loop */
        CHECK_INT(seen.calls, 0);
        run_for(e, 300);
        CHECK(!leader_is_leader(l));
        CHECK_INT(seen.calls, 1);
        CHECK(leader_self(l) && streq_ptr(leader_self(l)->reachability, "reachable"));

        /* the engine now says we lead: confirm_now sees it at once */
        set_flag("true");
        check_now(e, l);
        CHECK(leader_is_leader(l));
        CHECK_INT(seen.calls, 2);
        CHECK(seen.last_leader);
        CHECK_INT(seen2.calls, 2);
        CHECK(leader_changed_usec(l) > 0);
        check_now(e, l);
        CHECK(leader_is_leader(l));
        CHECK_INT(seen.calls, 2); /* nothing changed: no call */

        /* an event (any node) schedules a check soon, without waiting for the poll */
        set_flag("false");
        leader_on_event(l, &ev);
        CHECK(leader_is_leader(l)); /* not synchronously */
        run_for(e, 300);
        CHECK(!leader_is_leader(l));
        CHECK_INT(seen.calls, 3);
        CHECK(!seen.last_leader);

        /* other event types are ignored */
        set_flag("true");
        ev.type = DOCKER_EVENT_OTHER;
        leader_on_event(l, &ev);
        run_for(e, 200);
        CHECK(!leader_is_leader(l));
        /* a daemon event counts */
        ev.type = DOCKER_EVENT_DAEMON;
        leader_on_event(l, &ev);
        run_for(e, 200);
        CHECK(leader_is_leader(l));
        CHECK_INT(seen.calls, 4);

        /* the engine refuses: leadership is gone, subscribers hear the error */
        set_flag("error");
        check_now(e, l);
        CHECK(!leader_is_leader(l));
        CHECK_INT(leader_last_error(l), -ENOTCONN);
        CHECK_INT(seen.last_error, -ENOTCONN);
        CHECK_INT(seen.calls, 5);
        check_now(e, l);
        CHECK_INT(seen.calls, 5); /* same error again: no call */
        set_flag("true");
        check_now(e, l);
        CHECK(leader_is_leader(l));
        CHECK_INT(seen.last_error, 0);

        /* unsubscribe, stop: the loss is reported to who is left */
        leader_unsubscribe(l, on_change, &seen2);
        unsigned before2 = seen2.calls;
        leader_stop(l, "test over");
        CHECK(!leader_running(l));
        CHECK(!leader_is_leader(l));
        CHECK(!seen.last_leader);
        CHECK_INT(seen2.calls, before2);
        CHECK(leader_self(l) == NULL);

        /* the poll interval can change while stopped or running */
        CHECK_INT(leader_set_poll_interval(l, 0), -EINVAL);
        CHECK_INT(leader_set_poll_interval(l, 100 * USEC_PER_MSEC), 0);
        set_flag("true");
        CHECK_INT(leader_start(l, "n1"), 0);
        run_for(e, 80);
        CHECK(leader_is_leader(l));
        set_flag("false");
        run_for(e, 350); /* the 100 ms safety poll notices */
        CHECK(!leader_is_leader(l));

        /* a result that arrives after a stop is dropped */
        set_flag("true");
        leader_kick(l);
        run_for(e, 55);
        leader_stop(l, "test");
        run_for(e, 200);
        CHECK(!leader_is_leader(l));
        CHECK(leader_self(l) == NULL);

        leader_free(l);
        docker_free(d);
        sd_event_unref(e);
        server_stop();
        return test_done("test-leader");
}
