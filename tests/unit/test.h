/* SPDX-License-Identifier: MIT */
#pragma once
/* Minimal test helpers: each check prints the culprit and counts; test_done() exits
 * non-zero if any check failed, or if no check was made at all (a test that checks
 * nothing proves nothing). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int test_failures, test_checks;

#define CHECK(cond)                                                                          \
        do {                                                                                 \
                test_checks++;                                                               \
                if (!(cond)) {                                                               \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        test_failures++;                                                     \
                }                                                                            \
        } while (0)

#define CHECK_INT(a, b)                                                                      \
        do {                                                                                 \
                long long _a = (long long) (a), _b = (long long) (b);                        \
                test_checks++;                                                               \
                if (_a != _b) {                                                              \
                        fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,     \
                                __LINE__, #a, _a, #b, _b);                                   \
                        test_failures++;                                                     \
                }                                                                            \
        } while (0)

#define CHECK_STR(a, b)                                                                      \
        do {                                                                                 \
                const char *_a = (a), *_b = (b);                                             \
                test_checks++;                                                               \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                     \
                        fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,  \
                                __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)");       \
                        test_failures++;                                                     \
                }                                                                            \
        } while (0)

/* Read one HTTP request from fd into buf (headers, then Content-Length bytes of body),
 * NUL-terminated. Returns the body (after the blank line), or NULL without one. */
static inline char *test_read_request(int fd, char *buf, size_t size) {
        size_t got = 0;
        ssize_t k;
        char *end;

        while (!(end = memmem(buf, got, "\r\n\r\n", 4)) && got < size - 1 &&
               (k = read(fd, buf + got, size - 1 - got)) > 0)
                got += (size_t) k;
        buf[got] = 0;
        if (!end)
                return NULL;
        const char *cl = strcasestr(buf, "Content-Length:");
        size_t want = (size_t) (end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
        while (got < want && got < size - 1 && (k = read(fd, buf + got, size - 1 - got)) > 0)
                got += (size_t) k;
        buf[got] = 0;
        return end + 4;
}

/* A listening unix stream socket at path (an old one removed first); -1 on failure. */
static inline int test_unix_listen(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -1;
        strcpy(sa.sun_path, path);
        (void) unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* A listening TCP socket on 127.0.0.1 at a port the kernel picks, its "http://127.0.0.1:PORT"
 * in url; each step is a check. The socket (-1 on failure). */
static inline int test_tcp_listen(char *url, size_t size) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        CHECK(fd >= 0);
        CHECK_INT(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        CHECK_INT(listen(fd, 16), 0);
        CHECK_INT(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        snprintf(url, size, "http://127.0.0.1:%u", (unsigned) ntohs(sa.sin_port));
        return fd;
}

/* Capture what the code under test writes to target (STDOUT_FILENO, or STDERR_FILENO: the
 * agent's log lines when SWARMKEEPER_LOG=stderr) between test_capture_fd_begin() and
 * test_capture_end(). */
typedef struct TestCapture {
        int fd, saved, target;
} TestCapture;

static inline void test_capture_fd_begin(TestCapture *c, int target) {
        char path[] = "/tmp/sk-test-capture.XXXXXX";

        c->target = target;
        c->fd = mkstemp(path);
        if (c->fd >= 0)
                (void) unlink(path);
        fflush(stdout);
        fflush(stderr);
        c->saved = dup(target);
        if (c->fd >= 0 && c->saved >= 0)
                (void) dup2(c->fd, target);
}

/* The agent's log lines (stderr). */
static inline void test_capture_begin(TestCapture *c) {
        test_capture_fd_begin(c, STDERR_FILENO);
}

/* What was written (malloc'd, NUL-terminated), or NULL if nothing could be captured. */
static inline char *test_capture_end(TestCapture *c) {
        char *text = NULL;
        ssize_t n;

        fflush(stdout);
        fflush(stderr);
        if (c->saved >= 0) {
                (void) dup2(c->saved, c->target);
                close(c->saved);
        }
        if (c->fd >= 0) {
                off_t size = lseek(c->fd, 0, SEEK_END);
                text = size >= 0 ? malloc((size_t) size + 1) : NULL;
                n = text ? pread(c->fd, text, (size_t) size, 0) : -1;
                if (n < 0) {
                        free(text);
                        text = NULL;
                } else
                        text[n] = 0;
                close(c->fd);
        }
        *c = (TestCapture) { -1, -1, -1 };
        return text;
}

/* What the code under test prints to stdout between the two; that it could be captured
 * is a check on each side. */
static inline void test_stdout_begin(TestCapture *c) {
        test_capture_fd_begin(c, STDOUT_FILENO);
        CHECK(c->fd >= 0);
}

static inline char *test_stdout_end(TestCapture *c) {
        char *text = test_capture_end(c);
        CHECK(text != NULL);
        return text;
}

static inline int test_done(const char *name) {
        printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
        if (test_checks == 0) {
                fprintf(stderr, "%s: made no check: a test that checks nothing fails\n", name);
                return EXIT_FAILURE;
        }
        return test_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
