/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Test helper: run tests/fake-ec2/fake_ec2.py (or another small server) as a child
 * on 127.0.0.1 with an ephemeral port, talk to its /_fake/ control API, stop it by
 * PID. The child gets SIGTERM when the test process dies (PR_SET_PDEATHSIG), so a
 * crashing test leaves nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "http.h"
#include "util.h"

#define FAKE_AKID "AKIDTEST"
#define FAKE_SECRET "SECRET"

typedef struct Fake {
        pid_t pid;
        char dir[64];
        char url[64];
} Fake;

static inline const char *fake_source_dir(void) {
        const char *s = getenv("SK_SOURCE_DIR");
        return s ? s : SK_SOURCE_ROOT;
}

static inline void fake_stop(Fake *f) {
        char p[128];
        if (f->pid > 0) {
                (void) kill(f->pid, SIGTERM);
                (void) waitpid(f->pid, NULL, 0);
                f->pid = 0;
        }
        if (f->dir[0]) {
                snprintf(p, sizeof(p), "%s/port", f->dir);
                (void) unlink(p);
                snprintf(p, sizeof(p), "%s/log", f->dir);
                (void) unlink(p);
                (void) rmdir(f->dir);
                f->dir[0] = 0;
        }
}

/* argv: the server's own arguments after the script (NULL-terminated); script
 * relative to the source dir. --listen and --port-file are added here. */
static inline int fake_start_script(Fake *f, const char *script, const char *const *args) {
        char port_file[128], log_file[128], path[512];
        const char *argv[64];
        size_t n = 0;

        *f = (Fake) {};
        snprintf(f->dir, sizeof(f->dir), "/tmp/sk-fake.XXXXXX");
        if (!mkdtemp(f->dir))
                return -errno;
        snprintf(port_file, sizeof(port_file), "%s/port", f->dir);
        snprintf(log_file, sizeof(log_file), "%s/log", f->dir);
        snprintf(path, sizeof(path), "%s/%s", fake_source_dir(), script);

        argv[n++] = "/usr/bin/python3";
        argv[n++] = path;
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
        argv[n++] = "--port-file";
        argv[n++] = port_file;
        for (const char *const *a = args; a && *a && n < ELEMENTSOF(argv) - 1; a++)
                argv[n++] = *a;
        argv[n] = NULL;

        pid_t parent = getpid();
        f->pid = fork();
        if (f->pid < 0)
                return -errno;
        if (f->pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(1);
                int fd = open(getenv("SK_FAKE_VERBOSE") ? "/dev/stderr" : log_file,
                              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        (void) dup2(fd, STDERR_FILENO);
                        (void) dup2(fd, STDOUT_FILENO);
                }
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        for (int i = 0; i < 200; i++) { /* up to 10 s */
                char *buf = NULL;
                size_t sz;
                if (read_full_file(port_file, &buf, &sz) == 0) {
                        snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", atoi(buf));
                        free(buf);
                        return 0;
                }
                if (waitpid(f->pid, NULL, WNOHANG) == f->pid) {
                        f->pid = 0;
                        return -ECHILD;
                }
                struct timespec ts = { 0, 50 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        fake_stop(f);
        return -ETIMEDOUT;
}

static inline int fake_start(Fake *f, const char *const *extra) {
        const char *args[32] = { "--access-key", FAKE_AKID, "--secret-key", FAKE_SECRET };
        const char *dir = getenv("SK_EC2_CALL_LOG_DIR");
        char call_log[512];
        size_t n = 4;
        /* Every EC2 call the agent's code makes in the test run, for the IAM policy
         * check (tests/unit/check-aws-kit.py). */
        if (dir && *dir) {
                (void) mkdir(dir, 0755);
                snprintf(call_log, sizeof(call_log), "%s/%s-%d.log", dir, program_invocation_short_name,
                         (int) getpid());
                args[n++] = "--call-log";
                args[n++] = call_log;
        }
        for (const char *const *a = extra; a && *a && n < ELEMENTSOF(args) - 1; a++)
                args[n++] = *a;
        args[n] = NULL;
        return fake_start_script(f, "tests/fake-ec2/fake_ec2.py", args);
}

/* A control call; *ret (may be NULL) gets the JSON answer. Returns the HTTP status
 * or a negative errno. */
static inline long fake_control(Fake *f, const char *method, const char *path, const char *json,
                                struct json_object **ret) {
        char url[256];
        HttpResponse resp = HTTP_RESPONSE_NULL;
        const char *hdrs[] = { "Content-Type: application/json", NULL };
        long status;
        int r;

        snprintf(url, sizeof(url), "%s%s", f->url, path);
        HttpRequest req = { .method = method, .url = url, .headers = hdrs, .body = json,
                            .body_size = json ? strlen(json) : 0, .timeout_msec = 10000 };
        r = http_perform(&req, &resp);
        if (r < 0)
                return r;
        status = resp.status;
        if (ret)
                *ret = json_tokener_parse(resp.body);
        http_response_done(&resp);
        return status;
}

static inline const char *json_str(struct json_object *o, const char *key) {
        struct json_object *v;
        return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}
