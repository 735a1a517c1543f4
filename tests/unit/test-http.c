/* SPDX-License-Identifier: MIT */
/*
 * HTTP (http.c): which URLs it accepts and sends plain, the form encoding, and requests
 * against a server on 127.0.0.1 and on a unix socket in a child process: answers, each
 * transport failure with its errno, the cap on the answer, timeouts and cancelling.
 * SigV4 and TLS are exercised against the fake EC2 (tests/aws).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "http.h"
#include "log.h"
#include "test.h"

static void test_urls(void) {
        static const char *const valid[] = {
                "https://ec2.us-east-1.amazonaws.com/", "http://127.0.0.1:8080", "http://[::1]:1/x",
                "http://localhost/", "https://10.0.0.1/", "http://192.168.1.1:80/",
        };
        static const char *const invalid[] = {
                "http://localhost:1@evil.example/", /* libcurl sends this to evil.example */
                "http://user:pass@127.0.0.1/", "https://user@ec2.us-east-1.amazonaws.com/",
                "http://:x@127.0.0.1/", "ftp://127.0.0.1/", "file:///etc/passwd", "127.0.0.1:80",
                "http://127.0.0.1 /", "", "gopher://127.0.0.1/",
        };

        for (size_t i = 0; i < ELEMENTSOF(valid); i++)
                CHECK_INT(http_url_validate(valid[i]), 0);
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                if (http_url_validate(invalid[i]) != -EINVAL)
                        fprintf(stderr, "accepted: %s\n", invalid[i]);
                CHECK_INT(http_url_validate(invalid[i]), -EINVAL);
                CHECK(!http_url_plain_ok(invalid[i]));
        }

        /* Plain http without asking: loopback only. */
        CHECK(!http_url_plain_ok("http://localhost:1@evil.example/"));
        CHECK(!http_url_plain_ok("http://localhost:1@127.0.0.1.evil.example/"));
        CHECK(!http_url_plain_ok("http://127.0.0.1.evil.example/"));
        CHECK(http_url_plain_ok("http://127.0.0.1:8080/"));
        CHECK(http_url_plain_ok("http://127.1.2.3/"));
        CHECK(http_url_plain_ok("http://localhost/"));
        CHECK(http_url_plain_ok("http://[::1]:8080/"));
        CHECK(!http_url_plain_ok("http://10.98.0.1:8080/"));
        CHECK(!http_url_plain_ok("http://192.168.1.1/"));
        CHECK(!http_url_plain_ok("http://169.254.169.254/"));
        CHECK(!http_url_plain_ok("http://[::ffff:10.0.0.1]/"));
        CHECK(!http_url_plain_ok("https://127.0.0.1/")); /* not plain */
        CHECK(http_url_is_plain("http://10.98.0.1:8080/"));
        CHECK(!http_url_is_plain("https://10.98.0.1:8080/"));

        /* http_perform() refuses before any connection is made. */
        HttpResponse resp = HTTP_RESPONSE_NULL;
        HttpRequest userinfo = { .url = "http://localhost:1@evil.example/" };
        CHECK_INT(http_perform(&userinfo, &resp), -EINVAL);
        http_response_done(&resp);
        HttpRequest plain = { .url = "http://10.98.0.1:1/" };
        CHECK_INT(http_perform(&plain, &resp), -EPROTONOSUPPORT);
        CHECK(strstr(resp.error, "loopback") != NULL);
        http_response_done(&resp);
}


static void test_form_escape(void) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "", "" },
                { "AZaz09-_.~", "AZaz09-_.~" },
                { "a b", "a%20b" },
                { "a+b=c&d", "a%2Bb%3Dc%26d" },
                { "/dev/sdf", "%2Fdev%2Fsdf" },
                { "$Latest", "%24Latest" },
                { "10%", "10%25" },
                { "\xc3\xa9\n", "%C3%A9%0A" },
                { "\x7f\x01", "%7F%01" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(freep) char *s = http_form_escape(cases[i].in);
                CHECK_STR(s, cases[i].out);
        }
}

/* ---- a server in a child process: one grandchild per connection ---------------------- */

static pid_t server_pid;
static char server_url[64], unix_path[108];

static void answer(int fd) {
        char buf[8192], *body, out[10000];
        int n = 0;

        body = test_read_request(fd, buf, sizeof(buf));
        if (startswith(buf, "GET /ok "))
                n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        else if (startswith(buf, "GET /missing "))
                n = snprintf(out, sizeof(out), "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope");
        else if (startswith(buf, "GET /big ")) {
                n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n");
                memset(out + n, 'b', 4000);
                n += 4000;
        } else if (startswith(buf, "GET /nothing "))
                n = 0; /* hang up without a word */
        else if (startswith(buf, "GET /slow ")) {
                sleep(3);
                n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate");
        } else {
                /* echo: the request line, the test header, the body */
                const char *h = strcasestr(buf, "X-Test:");
                char echo[4096];
                int k = snprintf(echo, sizeof(echo), "%.*s|%.*s|%s", (int) strcspn(buf, "\r"), buf,
                                 h ? (int) strcspn(h, "\r") : 0, h ? h : "", body ? body : "");
                n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", k, echo);
        }
        if (n > 0)
                (void) !write(fd, out, (size_t) n);
}

static void serve(int tcp, int ux) {
        struct pollfd p[2] = { { .fd = tcp, .events = POLLIN }, { .fd = ux, .events = POLLIN } };

        (void) signal(SIGCHLD, SIG_IGN); /* no zombies */
        (void) signal(SIGPIPE, SIG_IGN);
        for (;;) {
                if (poll(p, 2, -1) < 0)
                        _exit(0);
                for (int i = 0; i < 2; i++) {
                        if (!(p[i].revents & POLLIN))
                                continue;
                        int fd = accept(p[i].fd, NULL, NULL);
                        if (fd < 0)
                                continue;
                        if (fork() == 0) {
                                answer(fd);
                                _exit(0);
                        }
                        close(fd);
                }
        }
}

static void server_start(void) {
        int tcp = test_tcp_listen(server_url, sizeof(server_url)), ux;

        snprintf(unix_path, sizeof(unix_path), "/tmp/test-http-%d.sock", (int) getpid());
        ux = test_unix_listen(unix_path);
        CHECK(ux >= 0);
        server_pid = fork();
        if (server_pid == 0) {
                serve(tcp, ux);
                _exit(0);
        }
        close(tcp);
        close(ux);
}

static void server_stop(void) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        unlink(unix_path);
}

/* One request per row: the result, the status and the body (or an error text). */
static void test_requests(void) {
        static const char *const headers[] = { "X-Test: 1", NULL };
        static const struct {
                const char *name, *path, *method, *body;
                bool unix_socket;
                size_t max_response;
                uint64_t timeout_msec;
                int r;
                long status;
                const char *answer; /* the body; for an error, a part of ret->error */
        } cases[] = {
                { "200", "/ok", NULL, NULL, false, 0, 0, 0, 200, "hello" },
                { "404 is an answer", "/missing", NULL, NULL, false, 0, 0, 0, 404, "nope" },
                { "over a unix socket", "/ok", NULL, NULL, true, 0, 0, 0, 200, "hello" },
                { "GET with the header", "/echo", NULL, NULL, false, 0, 0, 0, 200, "GET /echo HTTP/1.1|X-Test: 1|" },
                { "POST with a body", "/echo", "POST", "a=1&b=2", false, 0, 0, 0, 200,
                  "POST /echo HTTP/1.1|X-Test: 1|a=1&b=2" },
                { "PUT without a body", "/echo", "PUT", NULL, false, 0, 0, 0, 200, "PUT /echo HTTP/1.1|X-Test: 1|" },
                { "DELETE over a unix socket", "/echo?x=1", "DELETE", NULL, true, 0, 0, 0, 200,
                  "DELETE /echo?x=1 HTTP/1.1|X-Test: 1|" },
                { "the answer at its cap", "/big", NULL, NULL, false, 4000, 0, 0, 200, NULL },
                { "the answer over its cap", "/big", NULL, NULL, false, 3999, 0, -EMSGSIZE, 200, "answer too large" },
                { "nothing", "/nothing", NULL, NULL, false, 0, 0, -EPROTO, 0, "" },
                { "too slow", "/slow", NULL, NULL, false, 0, 300, -ETIMEDOUT, 0, "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(freep) char *url = NULL;
                HttpResponse resp = HTTP_RESPONSE_NULL;
                int r;

                CHECK(asprintf(&url, "%s%s", cases[i].unix_socket ? "http://localhost" : server_url, cases[i].path) > 0);
                HttpRequest req = { .method = cases[i].method, .url = url, .headers = headers,
                                    .unix_socket = cases[i].unix_socket ? unix_path : NULL,
                                    .body = cases[i].body, .body_size = cases[i].body ? strlen(cases[i].body) : 0,
                                    .max_response = cases[i].max_response, .timeout_msec = cases[i].timeout_msec };
                r = http_perform(&req, &resp);
                if (r != cases[i].r)
                        fprintf(stderr, "request, case '%s': %d (%s), expected %d\n", cases[i].name, r, resp.error,
                                cases[i].r);
                CHECK_INT(r, cases[i].r);
                if (r == 0) {
                        CHECK_INT(resp.status, cases[i].status);
                        if (cases[i].answer)
                                CHECK_STR(resp.body, cases[i].answer);
                        else
                                CHECK_INT(resp.body_size, cases[i].max_response);
                        CHECK(resp.body && strlen(resp.body) == resp.body_size);
                } else {
                        CHECK(resp.body == NULL);
                        CHECK(strstr(resp.error, cases[i].answer) != NULL);
                        CHECK(*resp.error != 0);
                }
                http_response_done(&resp);
                CHECK(resp.body == NULL);
        }
}

typedef struct Raiser {
        atomic_bool *flag;
        unsigned msec;
} Raiser;

static void *raise_later(void *userdata) {
        Raiser *r = userdata;
        struct timespec ts = { .tv_sec = r->msec / 1000, .tv_nsec = (long) (r->msec % 1000) * 1000000 };
        nanosleep(&ts, NULL);
        atomic_store(r->flag, true);
        return NULL;
}

/* Refused or failed without an answer: nobody listening, no socket, cancelled. */
static void test_no_answer(void) {
        HttpResponse resp = HTTP_RESPONSE_NULL;
        _cleanup_(freep) char *slow = NULL;
        atomic_bool flag = true;
        uint64_t t0;

        HttpRequest closed = { .url = "http://127.0.0.1:1/" };
        CHECK_INT(http_perform(&closed, &resp), -ECONNREFUSED);
        CHECK_INT(resp.status, 0);
        http_response_done(&resp);

        HttpRequest nosock = { .url = "http://localhost/_ping", .unix_socket = "/nonexistent/docker.sock" };
        CHECK_INT(http_perform(&nosock, &resp), -ENOENT);
        CHECK(strstr(resp.error, "/nonexistent/docker.sock") != NULL);
        http_response_done(&resp);

        HttpRequest bad = { .url = "ftp://127.0.0.1/" };
        CHECK_INT(http_perform(&bad, &resp), -EINVAL);
        http_response_done(&resp);

        /* a flag raised before: nothing sent */
        CHECK(asprintf(&slow, "%s/slow", server_url) > 0);
        HttpRequest pre = { .url = slow, .cancel = &flag };
        CHECK_INT(http_perform(&pre, &resp), -ECANCELED);
        CHECK_STR(resp.error, "cancelled");
        http_response_done(&resp);

        /* raised while the server is silent: back within a fraction of a second */
        pthread_t t;
        atomic_store(&flag, false);
        Raiser raiser = { &flag, 200 };
        HttpRequest during = { .url = slow, .cancel = &flag, .timeout_msec = 10000 };
        t0 = now_usec(CLOCK_MONOTONIC);
        CHECK_INT(pthread_create(&t, NULL, raise_later, &raiser), 0);
        CHECK_INT(http_perform(&during, &resp), -ECANCELED);
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 < 2 * USEC_PER_SEC);
        CHECK_STR(resp.error, "cancelled");
        http_response_done(&resp);
        pthread_join(t, NULL);
}

int main(void) {
        log_set_max_level(LOG_CRIT);
        CHECK_INT(http_global_init(), 0);
        test_urls();
        test_form_escape();
        server_start();
        test_requests();
        test_no_answer();
        server_stop();
        return test_done("http");
}
