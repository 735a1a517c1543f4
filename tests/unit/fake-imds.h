/* SPDX-License-Identifier: MIT */
#pragma once
/* A fake EC2 metadata service (IMDSv2) on 127.0.0.1, served by a child process: a token
 * for PUT /latest/api/token, then the items of a FakeImds to requests that carry it (401
 * without; 404 for an item that is NULL or unknown). Every request line is appended to a
 * log that fake_imds_stop() returns. For test-identity.c and test-aws-clients.c; against
 * the fake EC2's IMDS: tests/aws/. */
#include <signal.h>
#include <sys/wait.h>

#include "test.h"
#include "util.h"

typedef struct FakeImds {
        const char *instance_id, *ip, *az, *region; /* NULL: 404 */
} FakeImds;

static char fake_imds_url[64], fake_imds_log[] = "/tmp/test-fake-imds-log-XXXXXX";
static pid_t fake_imds_pid;

static inline void fake_imds_answer(int fd, const FakeImds *m) {
        char buf[4096], out[512];
        const char *v = NULL;
        bool known = true;
        FILE *f;

        (void) test_read_request(fd, buf, sizeof(buf));
        f = fopen(fake_imds_log, "a");
        if (f) {
                fprintf(f, "%.*s\n", (int) strcspn(buf, "\r"), buf);
                fclose(f);
        }
        if (startswith(buf, "PUT /latest/api/token "))
                v = "tok";
        else if (!strcasestr(buf, "\r\nX-aws-ec2-metadata-token: tok\r\n"))
                known = false;
        else if (startswith(buf, "GET /latest/meta-data/instance-id "))
                v = m->instance_id;
        else if (startswith(buf, "GET /latest/meta-data/local-ipv4 "))
                v = m->ip;
        else if (startswith(buf, "GET /latest/meta-data/placement/availability-zone "))
                v = m->az;
        else if (startswith(buf, "GET /latest/meta-data/placement/region "))
                v = m->region;
        if (!known)
                snprintf(out, sizeof(out), "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
        else if (v)
                snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(v), v);
        else
                snprintf(out, sizeof(out), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        (void) !write(fd, out, strlen(out));
}

/* Serves *m (which must outlive fake_imds_stop()) at fake_imds_url. */
static inline void fake_imds_start(const FakeImds *m) {
        int lfd = test_tcp_listen(fake_imds_url, sizeof(fake_imds_url)), fd;

        strcpy(fake_imds_log, "/tmp/test-fake-imds-log-XXXXXX");
        fd = mkstemp(fake_imds_log);
        CHECK(fd >= 0);
        close(fd);
        fake_imds_pid = fork();
        if (fake_imds_pid == 0) {
                (void) signal(SIGPIPE, SIG_IGN); /* a client that gave up must not kill it */
                for (;;) {
                        int c = accept(lfd, NULL, NULL);
                        if (c < 0)
                                _exit(0);
                        fake_imds_answer(c, m);
                        close(c);
                }
        }
        close(lfd);
}

/* Stops the server; what it was asked, one request line each ("" nothing; caller frees). */
static inline char *fake_imds_stop(void) {
        char *t = NULL;
        kill(fake_imds_pid, SIGKILL);
        waitpid(fake_imds_pid, NULL, 0);
        (void) read_full_file(fake_imds_log, &t, NULL);
        unlink(fake_imds_log);
        return t;
}
