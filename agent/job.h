/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Blocking work off the event loop: a Job runs one function on its own thread and
 * reports back inside sd-event (an eventfd io source), so the loop keeps feeding the
 * watchdog, following leadership and answering SIGTERM while an engine or EC2 call
 * takes seconds or minutes.
 *
 *   - work() runs on the job's thread. It must not touch loop-owned state: give it its
 *     own copies / its own clients (a Docker or Ec2Client per job). It should check
 *     job_cancelled() between steps and hand job_cancel_flag() to the HTTP clients, so a
 *     cancel aborts a request in flight within about a second.
 *   - done() runs in the loop thread, once, after work() returned (r is work()'s result,
 *     or -ECANCELED if the job was cancelled before work() returned a result).
 *   - job_cancel() only raises the flag; done() still follows.
 *   - job_free() on a job still running cancels it and waits up to `grace` (default
 *     1 s) for the thread; past that the thread is detached and done() is never called
 *     (only at shutdown). Freeing from inside done() is allowed.
 *
 * Details of this implementation (job.c):
 *   - done() is called at most once, always from the loop (never from job_free()): a
 *     job freed before its done() was dispatched — running or just finished — never
 *     calls it, whether the thread stopped within the grace or was detached. What the
 *     job's userdata owns is then the freeing caller's to release.
 *   - The thread blocks every signal (they belong to the loop's signal sources).
 *   - A detached thread keeps the Job's memory alive until it returns; it never touches
 *     the sd_event again. Its work() must not touch freed userdata: detach only at exit.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "util.h"

typedef struct Job Job;

typedef int (*JobWork)(Job *j, void *userdata);
typedef void (*JobDone)(Job *j, int r, void *userdata);

int job_start(sd_event *event, const char *name, JobWork work, JobDone done, void *userdata, Job **ret);
Job *job_free(Job *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(Job *, job_free);

void job_cancel(Job *j);
bool job_cancelled(const Job *j);            /* callable from any thread */
const atomic_bool *job_cancel_flag(Job *j);  /* for the clients' progress callbacks */
bool job_running(const Job *j);              /* work() has not returned yet */
const char *job_name(const Job *j);

#define JOB_GRACE_USEC_DEFAULT (1000ULL * 1000ULL)
/* How long job_free() waits for a running thread (default JOB_GRACE_USEC_DEFAULT). */
void job_set_grace(Job *j, uint64_t usec);

/* destroy(userdata) runs when the job's memory goes: in job_free(), or — for a thread
 * that job_free() had to detach — on that thread when work() returned at last. So a
 * context that work() uses can be owned by the job safely. */
typedef void (*JobDestroy)(void *userdata);
void job_set_destroy(Job *j, JobDestroy destroy);
