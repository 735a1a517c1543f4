/* SPDX-License-Identifier: MIT */
/*
 * Jobs: work() on its own thread, done() once in the loop with work()'s result; a cancel
 * reaches work() and an HTTP request in flight (a Docker client on a socket that never
 * answers) and turns the result into -ECANCELED; job_free() while running waits for a
 * cooperative thread, detaches a stuck one after the grace and never calls done(); a
 * job freed from inside its own done() is fine. Meant to run under ASan too.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "docker.h"
#include "job.h"
#include "log.h"
#include "test.h"

typedef struct Ctx {
        sd_event *event;
        Job *job;
        int n_done;
        int result;
        bool stop;
        pthread_t loop_thread, work_thread;
        atomic_int stage;
        bool free_in_done;
        int work_ret;
        unsigned sleep_msec;     /* work(): sleep this long (in 10 ms steps, stops on cancel) */
        bool ignore_cancel;
        const char *socket;      /* work(): GET /info on this socket */
        int docker_r;
} Ctx;

static atomic_int n_destroyed;
static void destroy_fn(void *userdata) {
        atomic_fetch_add(&n_destroyed, 1);
}

static int work_fn(Job *j, void *userdata) {
        Ctx *c = userdata;

        c->work_thread = pthread_self();
        atomic_store(&c->stage, 1);
        if (c->socket) {
                _cleanup_(docker_freep) Docker *d = NULL;
                DockerInfo info = {};
                if (docker_new(c->socket, &d) < 0)
                        return -ENOMEM;
                d->timeout_msec = 30000;
                docker_set_cancel(d, job_cancel_flag(j));
                c->docker_r = docker_info(d, &info);
                docker_info_done(&info);
                return c->docker_r;
        }
        for (unsigned t = 0; t < c->sleep_msec; t += 10) {
                if (!c->ignore_cancel && job_cancelled(j))
                        break;
                usleep(10 * 1000);
        }
        return c->work_ret;
}

static void done_fn(Job *j, int r, void *userdata) {
        Ctx *c = userdata;

        CHECK(pthread_equal(pthread_self(), c->loop_thread));
        CHECK(!job_running(j));
        c->n_done++;
        c->result = r;
        if (c->free_in_done)
                c->job = job_free(c->job);
        c->stop = true;
}

/* Run the loop until done() (0) or for timeout_msec (-ETIMEDOUT). */
static int run_loop(Ctx *c, uint64_t timeout_msec) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + timeout_msec * USEC_PER_MSEC, t;

        c->stop = false;
        while (!c->stop) {
                t = now_usec(CLOCK_MONOTONIC);
                if (t >= end)
                        return -ETIMEDOUT;
                if (sd_event_run(c->event, end - t) < 0)
                        return -EIO;
        }
        return 0;
}

static void ctx_init(Ctx *c) {
        *c = (Ctx){ .loop_thread = pthread_self() };
        CHECK(sd_event_new(&c->event) >= 0);
}

static void ctx_done(Ctx *c) {
        c->job = job_free(c->job);
        c->event = sd_event_unref(c->event);
}

static void test_done_once(void) {
        Ctx c;

        ctx_init(&c);
        c.work_ret = 42;
        c.sleep_msec = 50;
        CHECK(job_start(c.event, "t-done", work_fn, done_fn, &c, &c.job) >= 0);
        job_set_destroy(c.job, destroy_fn);
        atomic_store(&n_destroyed, 0);
        CHECK_STR(job_name(c.job), "t-done");
        CHECK(job_running(c.job));
        CHECK(!job_cancelled(c.job));
        CHECK_INT(run_loop(&c, 5000), 0);
        CHECK_INT(c.n_done, 1);
        CHECK_INT(c.result, 42);
        CHECK(!pthread_equal(c.work_thread, c.loop_thread));
        CHECK(!job_running(c.job));
        /* Nothing more arrives: the loop runs into its timeout without a second done(). */
        CHECK_INT(run_loop(&c, 100), -ETIMEDOUT);
        CHECK_INT(c.n_done, 1);
        CHECK_INT(atomic_load(&n_destroyed), 0);
        ctx_done(&c);
        CHECK_INT(atomic_load(&n_destroyed), 1); /* with the job */
}

static void test_negative_result(void) {
        Ctx c;

        ctx_init(&c);
        c.work_ret = -ENOENT;
        CHECK(job_start(c.event, "t-neg", work_fn, done_fn, &c, &c.job) >= 0);
        CHECK_INT(run_loop(&c, 5000), 0);
        CHECK_INT(c.n_done, 1);
        CHECK_INT(c.result, -ENOENT);
        ctx_done(&c);
}

static int cancel_soon(sd_event_source *s, uint64_t usec, void *userdata) {
        Ctx *c = userdata;
        job_cancel(c->job);
        CHECK(job_cancelled(c->job));
        CHECK(atomic_load(job_cancel_flag(c->job)));
        return 0;
}

static void test_cancel(void) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *t = NULL;
        uint64_t t0;
        Ctx c;

        ctx_init(&c);
        c.work_ret = 0; /* work() says "fine", but it was cancelled: -ECANCELED */
        c.sleep_msec = 10000;
        CHECK(job_start(c.event, "t-cancel", work_fn, done_fn, &c, &c.job) >= 0);
        CHECK(sd_event_add_time_relative(c.event, &t, CLOCK_MONOTONIC, 50 * USEC_PER_MSEC, 0, cancel_soon, &c) >= 0);
        t0 = now_usec(CLOCK_MONOTONIC);
        CHECK_INT(run_loop(&c, 5000), 0);
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 < 2 * USEC_PER_SEC);
        CHECK_INT(c.n_done, 1);
        CHECK_INT(c.result, -ECANCELED);
        ctx_done(&c);
}

/* A socket that accepts and never answers: the request hangs until cancelled. */
static void test_cancel_docker_request(void) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *t = NULL;
        char path[108];
        uint64_t t0;
        int lfd;
        Ctx c;

        snprintf(path, sizeof(path), "/tmp/test-job-%d.sock", (int) getpid());
        lfd = test_unix_listen(path); /* the backlog accepts; nobody reads or answers */
        CHECK(lfd >= 0);
        ctx_init(&c);
        c.socket = path;
        CHECK(job_start(c.event, "t-docker", work_fn, done_fn, &c, &c.job) >= 0);
        CHECK(sd_event_add_time_relative(c.event, &t, CLOCK_MONOTONIC, 300 * USEC_PER_MSEC, 0, cancel_soon, &c) >= 0);
        t0 = now_usec(CLOCK_MONOTONIC);
        CHECK_INT(run_loop(&c, 10000), 0);
        /* libcurl's progress callback runs about once a second while idle. */
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 < 2 * USEC_PER_SEC);
        CHECK_INT(c.n_done, 1);
        CHECK_INT(c.result, -ECANCELED);
        CHECK_INT(c.docker_r, -ECANCELED);
        ctx_done(&c);
        close(lfd);
        unlink(path);
}

/* A Docker client with a flag already raised does not even connect. */
static void test_docker_cancel_flag(void) {
        _cleanup_(docker_freep) Docker *d = NULL;
        atomic_bool flag = true;
        DockerInfo info = {};

        CHECK(docker_new("/nonexistent/socket", &d) >= 0);
        docker_set_cancel(d, &flag);
        CHECK_INT(docker_info(d, &info), -ECANCELED);
        docker_set_cancel(d, NULL);
        CHECK_INT(docker_info(d, &info), -ENOENT);
}

static void test_free_while_running(void) {
        uint64_t t0;
        Ctx c;

        /* A cooperative work(): job_free() cancels, waits for it, done() never runs. */
        ctx_init(&c);
        c.sleep_msec = 10000;
        CHECK(job_start(c.event, "t-free", work_fn, done_fn, &c, &c.job) >= 0);
        while (atomic_load(&c.stage) == 0)
                usleep(1000);
        t0 = now_usec(CLOCK_MONOTONIC);
        c.job = job_free(c.job);
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 < 500 * USEC_PER_MSEC);
        CHECK_INT(run_loop(&c, 100), -ETIMEDOUT);
        CHECK_INT(c.n_done, 0);
        ctx_done(&c);

        /* A finished job whose done() is not dispatched yet: freed, done() never runs. */
        ctx_init(&c);
        CHECK(job_start(c.event, "t-free-finished", work_fn, done_fn, &c, &c.job) >= 0);
        while (job_running(c.job))
                usleep(1000);
        c.job = job_free(c.job);
        CHECK_INT(run_loop(&c, 100), -ETIMEDOUT);
        CHECK_INT(c.n_done, 0);
        ctx_done(&c);
}

static void test_free_stuck(void) {
        static Ctx c; /* the detached thread still reads it after this function */
        uint64_t t0;

        /* work() ignores the cancel: job_free() waits the grace, then detaches. */
        ctx_init(&c);
        c.sleep_msec = 600;
        c.ignore_cancel = true;
        CHECK(job_start(c.event, "t-stuck", work_fn, done_fn, &c, &c.job) >= 0);
        job_set_grace(c.job, 100 * USEC_PER_MSEC);
        job_set_destroy(c.job, destroy_fn);
        atomic_store(&n_destroyed, 0);
        while (atomic_load(&c.stage) == 0)
                usleep(1000);
        t0 = now_usec(CLOCK_MONOTONIC);
        c.job = job_free(c.job);
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 >= 90 * USEC_PER_MSEC);
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 < 500 * USEC_PER_MSEC);
        CHECK_INT(run_loop(&c, 100), -ETIMEDOUT);
        CHECK_INT(c.n_done, 0);
        CHECK_INT(atomic_load(&n_destroyed), 0); /* the thread still runs: its context stays */
        /* Let the detached thread end and free its job (ASan's leak check sees it). */
        usleep(800 * 1000);
        CHECK_INT(atomic_load(&n_destroyed), 1);
        CHECK_INT(run_loop(&c, 50), -ETIMEDOUT);
        CHECK_INT(c.n_done, 0);
        ctx_done(&c);
}

static void test_free_from_done(void) {
        Ctx c;

        ctx_init(&c);
        c.free_in_done = true;
        c.work_ret = 7;
        CHECK(job_start(c.event, "t-free-in-done", work_fn, done_fn, &c, &c.job) >= 0);
        CHECK_INT(run_loop(&c, 5000), 0);
        CHECK_INT(c.n_done, 1);
        CHECK_INT(c.result, 7);
        CHECK(c.job == NULL);
        CHECK_INT(run_loop(&c, 100), -ETIMEDOUT);
        CHECK_INT(c.n_done, 1);
        ctx_done(&c);
}

static void test_many(void) {
        Ctx c[8];

        for (size_t i = 0; i < ELEMENTSOF(c); i++) {
                ctx_init(&c[i]);
                c[i].work_ret = (int) i;
                c[i].sleep_msec = 20;
                c[i].free_in_done = i % 2;
                CHECK(job_start(c[i].event, "t-many", work_fn, done_fn, &c[i], &c[i].job) >= 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(c); i++) {
                CHECK_INT(run_loop(&c[i], 5000), 0);
                CHECK_INT(c[i].n_done, 1);
                CHECK_INT(c[i].result, (int) i);
                ctx_done(&c[i]);
        }
}

static void test_bad_args(void) {
        sd_event *e = NULL;
        Job *j = NULL;

        CHECK(sd_event_new(&e) >= 0);
        CHECK_INT(job_start(NULL, "x", work_fn, NULL, NULL, &j), -EINVAL);
        CHECK_INT(job_start(e, "x", NULL, NULL, NULL, &j), -EINVAL);
        CHECK(job_free(NULL) == NULL);
        CHECK(!job_running(NULL));
        CHECK(!job_cancelled(NULL));
        job_cancel(NULL);
        sd_event_unref(e);
}

int main(void) {
        test_done_once();
        test_negative_result();
        test_cancel();
        test_cancel_docker_request();
        test_docker_cancel_flag();
        test_free_while_running();
        test_free_stuck();
        test_free_from_done();
        test_many();
        test_bad_args();
        return test_done("test-job");
}
