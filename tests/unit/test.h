/* SPDX-License-Identifier: MIT */
#pragma once
/* Minimal test helpers: each check prints the culprit and counts; test_done() exits
 * non-zero if any check failed, or if no check was made at all (a test that checks
 * nothing proves nothing). */
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

static inline int test_done(const char *name) {
        printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
        if (test_checks == 0) {
                fprintf(stderr, "%s: made no check: a test that checks nothing fails\n", name);
                return EXIT_FAILURE;
        }
        return test_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
