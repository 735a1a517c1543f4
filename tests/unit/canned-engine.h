/* SPDX-License-Identifier: MIT */
#pragma once
/* A canned Docker engine on a unix socket, served by a child process: each connection
 * gets the response of the first row whose method_path prefixes its request line (404
 * otherwise); /events connections stay open a second after it. Every request line and
 * body is appended to a log file (server_log()). For test-docker.c, test-docker-events.c
 * and test-status.c. */
#include <signal.h>
#include <sys/wait.h>

#include "test.h"
#include "util.h"

typedef struct Canned {
        const char *method_path; /* "GET /_ping": prefix of the request line */
        const char *response;    /* full HTTP response */
} Canned;

static char sock_path[108];
static char log_path[] = "/tmp/test-docker-log-XXXXXX";
static pid_t server_pid;

static inline void serve(int lfd, const Canned *table, size_t n) {
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

static inline void server_start(const Canned *table, size_t n) {
        int lfd, fd;

        snprintf(sock_path, sizeof(sock_path), "/tmp/test-docker-%d.sock", (int) getpid());
        strcpy(log_path, "/tmp/test-docker-log-XXXXXX");
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

static inline void server_stop(void) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        unlink(sock_path);
}

static inline char *server_log(void) {
        char *t = NULL;
        (void) read_full_file(log_path, &t, NULL);
        return t;
}

static inline char *http_ok(const char *body) {
        char *r = NULL;
        CHECK(asprintf(&r, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                       strlen(body), body) > 0);
        return r;
}
