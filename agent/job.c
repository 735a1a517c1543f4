/* SPDX-License-Identifier: MIT */
#include "job.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>

#include "log.h"

/*
 * The Job is shared by the loop (owner) and the thread: two references. The thread drops
 * its own after it signalled the eventfd; the owner drops its own in job_free(). Whoever
 * drops the last one frees the memory, so a detached thread that outlives job_free()
 * still finds its job. Loop-side objects (the sd-event source, the event) are released
 * by the owner only: sd-event is not thread-safe.
 */
struct Job {
        atomic_int n_ref;
        sd_event *event;
        sd_event_source *io;
        int efd;
        pthread_t thread;
        bool joined;
        char *name;
        JobWork work;
        JobDone done;
        void *userdata;
        JobDestroy destroy;
        uint64_t grace_usec;
        atomic_bool cancel;
        atomic_bool running;
        atomic_int result;
        bool dispatched;      /* done() was called (or is running) */
        bool freed;           /* job_free() was called: done() must not run any more */
};

static void job_unref(Job *j) {
        if (atomic_fetch_sub(&j->n_ref, 1) != 1)
                return;
        if (j->efd >= 0)
                close(j->efd);
        if (j->destroy)
                j->destroy(j->userdata);
        free(j->name);
        free(j);
}

static void *job_thread(void *p) {
        Job *j = p;
        uint64_t one = 1;
        int r;

        r = j->work(j, j->userdata);
        if (atomic_load(&j->cancel))
                r = -ECANCELED;
        atomic_store(&j->result, r);
        atomic_store(&j->running, false);
        /* An eventfd write of 1 cannot block or fail short of a counter overflow. */
        (void) !write(j->efd, &one, sizeof(one));
        job_unref(j);
        return NULL;
}

static void job_join(Job *j) {
        if (!j->joined) {
                (void) pthread_join(j->thread, NULL);
                j->joined = true;
        }
}

static int job_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Job *j = userdata;
        uint64_t v;

        if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                log_debug("Job %s: reading its eventfd failed: %m", j->name);
        if (atomic_load(&j->running))
                return 0; /* spurious */
        (void) sd_event_source_set_enabled(j->io, SD_EVENT_OFF);
        job_join(j); /* the thread is past its last step: this returns at once */
        if (j->dispatched || j->freed)
                return 0;
        j->dispatched = true;
        log_debug("Job %s finished: %d", j->name, atomic_load(&j->result));
        /* Last thing: done() may free the job. */
        if (j->done)
                j->done(j, atomic_load(&j->result), j->userdata);
        return 0;
}

int job_start(sd_event *event, const char *name, JobWork work, JobDone done, void *userdata, Job **ret) {
        sigset_t all, saved;
        Job *j;
        int r;

        if (!event || !work || !ret)
                return -EINVAL;
        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        atomic_init(&j->n_ref, 1);
        atomic_init(&j->cancel, false);
        atomic_init(&j->running, false);
        atomic_init(&j->result, 0);
        j->efd = -1;
        j->joined = true; /* nothing to join yet */
        j->work = work;
        j->done = done;
        j->userdata = userdata;
        j->grace_usec = JOB_GRACE_USEC_DEFAULT;
        j->name = strdup(name ?: "job");
        if (!j->name) {
                r = -ENOMEM;
                goto fail;
        }
        j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (j->efd < 0) {
                r = -errno;
                goto fail;
        }
        j->event = sd_event_ref(event);
        r = sd_event_add_io(event, &j->io, j->efd, EPOLLIN, job_on_io, j);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(j->io, j->name);

        /* The thread takes no signals: they belong to the loop's signal sources. */
        atomic_store(&j->running, true);
        atomic_fetch_add(&j->n_ref, 1);
        sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &saved);
        r = -pthread_create(&j->thread, NULL, job_thread, j);
        (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
        if (r < 0) {
                atomic_store(&j->running, false);
                atomic_fetch_sub(&j->n_ref, 1);
                goto fail;
        }
        j->joined = false;
        *ret = j;
        return 0;

fail:
        j->io = sd_event_source_disable_unref(j->io);
        j->event = sd_event_unref(j->event);
        job_unref(j);
        return r;
}

Job *job_free(Job *j) {
        if (!j || j->freed)
                return NULL;
        j->freed = true;

        if (!j->joined) {
                struct timespec ts;
                uint64_t deadline;
                int r;

                atomic_store(&j->cancel, true);
                (void) clock_gettime(CLOCK_REALTIME, &ts);
                deadline = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000 + j->grace_usec;
                ts.tv_sec = (time_t) (deadline / USEC_PER_SEC);
                ts.tv_nsec = (long) (deadline % USEC_PER_SEC) * 1000;
                r = pthread_timedjoin_np(j->thread, NULL, &ts);
                if (r == 0)
                        j->joined = true;
                else {
                        log_debug("Job %s did not stop within %" PRIu64 " ms, leaving its thread behind.",
                                  j->name, (uint64_t) (j->grace_usec / USEC_PER_MSEC));
                        (void) pthread_detach(j->thread);
                        j->joined = true; /* nothing left to join: the thread frees itself */
                }
        }
        j->io = sd_event_source_disable_unref(j->io);
        j->event = sd_event_unref(j->event);
        job_unref(j);
        return NULL;
}

void job_set_grace(Job *j, uint64_t usec) {
        if (j)
                j->grace_usec = usec;
}

void job_set_destroy(Job *j, JobDestroy destroy) {
        if (j)
                j->destroy = destroy;
}

void job_cancel(Job *j) {
        if (j)
                atomic_store(&j->cancel, true);
}

bool job_cancelled(const Job *j) {
        return j && atomic_load(&j->cancel);
}

const atomic_bool *job_cancel_flag(Job *j) {
        return j ? &j->cancel : NULL;
}

bool job_running(const Job *j) {
        return j && atomic_load(&j->running);
}

const char *job_name(const Job *j) {
        return j ? j->name : "";
}
