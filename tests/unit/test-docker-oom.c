/* SPDX-License-Identifier: MIT */
/*
 * Out of memory while the join request is built: every allocation in turn fails once
 * (malloc/calloc/realloc are interposed in this test binary). Whatever fails, a request
 * that reaches the engine carries the join token: json-c's builders return NULL or -1 on
 * allocation failure, and a member that silently went missing (or became null) would send
 * a join without its token. Not under ASan (it owns malloc): there the test only says so.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "docker.h"
#include "log.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define SK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SK_ASAN 1
#endif
#endif

#ifndef SK_ASAN
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);

static long fail_countdown = -1; /* the allocation that fails: 0 = the next one; -1 none */

static bool fail_now(void) {
        if (fail_countdown < 0)
                return false;
        return fail_countdown-- == 0;
}

void *malloc(size_t n) {
        return fail_now() ? NULL : __libc_malloc(n);
}
void *calloc(size_t n, size_t m) {
        return fail_now() ? NULL : __libc_calloc(n, m);
}
void *realloc(void *p, size_t n) {
        return fail_now() ? NULL : __libc_realloc(p, n);
}

static char sock_path[108], log_path[] = "/tmp/test-docker-oom-XXXXXX";

/* Log every request's body (after the headers) as one line; answer 200 "". */
static void serve(int lfd) {
        for (;;) {
                char buf[16384];
                char *body;
                int fd = accept(lfd, NULL, NULL);
                if (fd < 0)
                        _exit(0);
                body = test_read_request(fd, buf, sizeof(buf));
                if (body) {
                        FILE *f = fopen(log_path, "a");
                        if (f) {
                                fprintf(f, "%s\n", body);
                                fclose(f);
                        }
                }
                (void) !write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38);
                close(fd);
        }
}
#endif

int main(void) {
#ifdef SK_ASAN
        printf("test-docker-oom: allocation failures are injected only without ASan\n");
        CHECK(true);
        return test_done("test-docker-oom");
#else
        _cleanup_(freep) char *text = NULL;
        pid_t pid;
        int lfd, fd, attempts = 0, sent = 0, failed = 0;

        log_setup();
        log_set_max_level(LOG_CRIT);
        snprintf(sock_path, sizeof(sock_path), "/tmp/test-docker-oom-%d.sock", (int) getpid());
        fd = mkstemp(log_path);
        CHECK(fd >= 0);
        close(fd);
        lfd = test_unix_listen(sock_path);
        CHECK(lfd >= 0);
        pid = fork();
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
                (void) signal(SIGPIPE, SIG_IGN);         /* a client that gave up mid-way */
                serve(lfd);
                _exit(0);
        }
        close(lfd);

        /* fail allocation #k of one join, for every k until a join needs no more */
        for (long k = 0; k < 5000; k++) {
                Docker *d = NULL;
                int r;

                CHECK_INT(docker_new(sock_path, &d), 0);
                fail_countdown = k;
                r = docker_swarm_join(d, (char *const[]){ "10.0.0.2", "10.0.0.3", NULL }, "SWMTKN-1-oomtest",
                                      "10.0.0.1", 2000);
                bool exhausted = fail_countdown >= 0; /* the failure was never reached */
                fail_countdown = -1;
                docker_free(d);
                attempts++;
                if (r < 0)
                        failed++;
                else
                        sent++;
                if (exhausted) {
                        CHECK_INT(r, 0);
                        break;
                }
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        unlink(sock_path);

        CHECK_INT(read_full_file(log_path, &text, NULL), 0);
        unlink(log_path);
        /* every body that reached the engine is a whole join request with the token */
        size_t bodies = 0;
        for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                if (nl)
                        *nl = 0;
                bodies++;
                if (!strstr(line, "\"JoinToken\":\"SWMTKN-1-oomtest\"") || !strstr(line, "\"RemoteAddrs\":[\"10.0.0.2:2377\",\"10.0.0.3:2377\"]") ||
                    !strstr(line, "\"AdvertiseAddr\":\"10.0.0.1\"")) {
                        fprintf(stderr, "a join request reached the engine incomplete: %s\n", line);
                        test_failures++;
                }
        }
        printf("%d joins with one allocation failing each: %d failed, %zu reached the engine\n", attempts, failed, bodies);
        CHECK(attempts > 10);
        CHECK(failed > 0);
        CHECK(bodies >= 1);
        return test_done("test-docker-oom");
#endif
}
