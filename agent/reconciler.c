/* SPDX-License-Identifier: MIT */
/*
 * The daemon's reconciler, the loop side (see reconciler.h): when a pass is due, it is
 * prepared here and handed to a Job (job.h); its done() takes the updated history and
 * the EC2 clients back, writes the state file `status` reads and schedules the next
 * pass. Everything here runs on the loop thread but reconciler_work(), the Job's body,
 * which runs pass_run() on the worker thread.
 */
#include "reconciler.h"

#include <json-c/json.h>
#include <stdatomic.h>
#include <time.h>

#include "act.h"
#include "event-util.h"
#include "job.h"
#include "json-util.h"
#include "log.h"
#include "pass.h"
#include "rc-history-json.h"

#define RC_EXIT_GRACE_USEC (250 * USEC_PER_MSEC) /* with the daemon's jobs: SIGTERM within 1 s */
#define RC_KICK_DELAY_USEC (200 * USEC_PER_MSEC)
/* While EC2 has to be watched (something amiss), passes follow each other this fast for
 * this long, then at Reconcile.IntervalSec again. */
#define RC_FAST_INTERVAL_USEC (1 * USEC_PER_SEC)
#define RC_FAST_WINDOW_USEC (120 * USEC_PER_SEC)
/* ... every second for this long after the plan last changed, then every 3 s: waiting on
 * EC2 (an address in use, a slow shutdown) costs 2 calls per 3 s, not 2 a second */
#define RC_FAST_QUIET_USEC (15 * USEC_PER_SEC)
#define RC_STEADY_INTERVAL_USEC (3 * USEC_PER_SEC)

struct Reconciler {
        sd_event *event;
        Leader *leader;
        const Config *config;
        RcSettings *settings;       /* from config, made once per load (NULL: making them failed) */
        char *node_id;
        bool manager;
        bool was_leader;

        sd_event_source *timer;
        sd_event_source *deadline;
        Job *job;
        bool again;
        uint64_t amiss_since;       /* CLOCK_MONOTONIC: passes found the swarm amiss since */
        uint64_t plan_changed_at;   /* CLOCK_MONOTONIC: a pass last planned something new */
        bool pass_amiss;
        char *last_error;           /* a failing pass warns once per distinct reason */

        RcHistory history;
        RcClients clients;          /* between passes; lent to the one running */
        char *status;
        bool idle_logged;
        char *state_file;
        char **plan_lines;          /* the last plan, as rc_action_describe() says it */

        ReconcilerStatusHandler status_cb;
        void *status_userdata;
};

static void reconciler_schedule(Reconciler *r, uint64_t usec);

static void reconciler_set_status_text(Reconciler *r, const char *text) {
        if (isempty(text))
                text = NULL;
        if (streq_ptr(r->status, text))
                return;
        (void) free_and_strdup(&r->status, text);
        if (r->status_cb)
                r->status_cb(r, r->status_userdata);
}

/* What `status` reads: in flight, the last plan, the reconciler's state. No secrets. */
/* A CLOCK_MONOTONIC time as wall-clock time, for readers in other processes (0 stays 0). */
static uint64_t mono_to_wall(uint64_t t) {
        uint64_t mono = now_usec(CLOCK_MONOTONIC), wall = now_usec(CLOCK_REALTIME);

        if (t == 0 || t > mono || mono - t > wall)
                return 0;
        return wall - (mono - t);
}

static void reconciler_write_state(Reconciler *r, const Pass *p, int result) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *inflight = json_object_new_array(), *plan = json_object_new_array();

        if (!r->state_file || !o || !inflight || !plan) {
                json_object_put(inflight);
                json_object_put(plan);
                return;
        }
        json_object_object_add(o, "time_usec", json_object_new_int64((int64_t) now_usec(CLOCK_REALTIME)));
        json_object_object_add(o, "result", json_object_new_string(result < 0 ? (p->error[0] ? p->error : strerror(-result)) : "ok"));
        json_object_object_add(o, "leader", json_object_new_boolean(p->world.leader));
        json_object_object_add(o, "quorum_loss_mode", json_object_new_boolean(p->quorum_loss_mode));
        json_object_object_add(o, "status", r->status ? json_object_new_string(r->status) : NULL);
        json_object_object_add(o, "no_leader_since_usec", json_object_new_int64((int64_t) mono_to_wall(r->history.no_leader_since_usec)));
        for (size_t i = 0; i < r->history.n_inflight; i++) {
                const RcInflightEntry *e = &r->history.inflight[i];
                static const char *const kinds[] = { "launch", "attach", "fence", "create-volume", "drain" };
                json_object *x = json_object_new_object();
                if (!x)
                        return;
                json_object_object_add(x, "kind", json_object_new_string(e->kind < ELEMENTSOF(kinds) ? kinds[e->kind] : "?"));
                json_object_object_add(x, "logical_id", e->logical_id ? json_object_new_string(e->logical_id) : NULL);
                json_object_object_add(x, "instance_id", e->instance_id ? json_object_new_string(e->instance_id) : NULL);
                json_object_object_add(x, "volume_id", e->volume_id ? json_object_new_string(e->volume_id) : NULL);
                json_object_object_add(x, "since_usec", json_object_new_int64((int64_t) mono_to_wall(e->since_usec)));
                json_object_array_add(inflight, x);
        }
        json_object_object_add(o, "inflight", inflight);
        STRV_FOREACH(l, r->plan_lines)
                json_object_array_add(plan, json_object_new_string(*l));
        json_object_object_add(o, "plan", plan);
        /* the memory the next pass starts from, for `plan` and `status` to plan with; none
         * (null) when it cannot be written, which they take as no memory */
        {
                json_object *memory = NULL, *boot;
                int k = rc_history_to_json(&r->history, &memory);
                if (k < 0)
                        log_debug_errno(k, "Reconcile: cannot write the memory into the state file: %m");
                json_object_object_add(o, "memory", memory);
                boot = memory ? json_object_object_get(memory, "boot_id") : NULL;
                json_object_object_add(o, "boot_id", boot ? json_object_get(boot) : NULL);
        }
        {
                const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
                int k = write_file_atomic(r->state_file, text, strlen(text), 0644);
                if (k < 0)
                        log_debug_errno(k, "Cannot write %s: %m", r->state_file);
        }
}

static int reconciler_work(Job *j, void *userdata) {
        Pass *p = userdata;
        p->cancel = job_cancel_flag(j);
        return pass_run(p);
}

static void reconciler_done(Job *j, int result, void *userdata) {
        Pass *p = userdata;
        Reconciler *r = p->owner;
        rc_history_done(&r->history);
        r->history = p->history;
        p->history = (RcHistory){};
        uint64_t mono = now_usec(CLOCK_MONOTONIC), next;
        char why[300] = "";

        r->deadline = sd_event_source_disable_unref(r->deadline);
        if (result == -ECANCELED)
                log_info("Reconcile: pass cancelled (%s).", pass_stopped(p) && !atomic_load(p->cancel)
                                                                ? "deadline" : "leadership lost or shutting down");
        else if (result < 0 && result != -EPERM)
                snprintf(why, sizeof(why), "%s", p->error[0] ? p->error : strerror(-result));
        if (why[0] && !streq_ptr(why, r->last_error))
                log_warning("Reconcile: pass stopped: %s", why);
        else if (why[0])
                log_debug("Reconcile: pass stopped: %s", why);
        (void) free_and_strdup(&r->last_error, why[0] ? why : NULL);
        reconciler_set_status_text(r, result == -ECANCELED ? NULL : p->status);
        if (p->planned) {
                _cleanup_(strv_freep) char **lines = NULL;
                bool oom = false;

                for (size_t i = 0; i < p->plan.n && !oom; i++) {
                        char line[512];
                        rc_action_describe(&p->plan.actions[i], line, sizeof(line));
                        oom = strv_extend(&lines, line) < 0;
                }
                if (!oom) {
                        strv_free(r->plan_lines);
                        r->plan_lines = TAKE_PTR(lines);
                }
        }
        reconciler_write_state(r, p, result);
        r->pass_amiss = p->amiss;
        if (p->plan_changed)
                r->plan_changed_at = mono;
        r->job = job_free(r->job);
        if (p->clients.key) {
                rc_clients_done(&r->clients);
                r->clients = p->clients;
                p->clients = (RcClients){};
        }
        pass_free(p);

        next = (uint64_t) r->config->interval_sec * USEC_PER_SEC;
        if (r->pass_amiss) {
                if (!r->amiss_since)
                        r->amiss_since = mono;
                if (mono < r->amiss_since + RC_FAST_WINDOW_USEC) {
                        uint64_t fast = mono < r->plan_changed_at + RC_FAST_QUIET_USEC ? RC_FAST_INTERVAL_USEC
                                                                                    : RC_STEADY_INTERVAL_USEC;
                        if (next > fast)
                                next = fast;
                }
        } else
                r->amiss_since = 0;
        if (r->again) {
                r->again = false;
                next = RC_KICK_DELAY_USEC;
        }
        reconciler_schedule(r, next);
}

static int reconciler_on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Reconciler *r = userdata;
        if (r->job)
                job_cancel(r->job);
        return 0;
}

static bool reconciler_eligible(Reconciler *r) {
        const Config *c = r->config;

        if (c->role != ROLE_MANAGER || !r->node_id || !r->manager)
                return false;
        if (!config_launch_configured(c, ROLE_MANAGER)) {
                if (!r->idle_logged)
                        log_info("Reconcile: launching is not configured (%s): this agent does not re-create "
                                 "managers or scale workers.", config_launch_missing(c, ROLE_MANAGER));
                r->idle_logged = true;
                return false;
        }
        r->idle_logged = false;
        return true;
}

static int reconciler_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Reconciler *r = userdata;
        _cleanup_(pass_freep) Pass *p = NULL;
        int k;

        if (r->job) {
                r->again = true;
                return 0;
        }
        if (!reconciler_eligible(r)) {
                reconciler_set_status_text(r, NULL);
                reconciler_schedule(r, (uint64_t) r->config->interval_sec * USEC_PER_SEC);
                return 0;
        }
        /* after a reload that could not make them: again now */
        if (!r->settings && (k = rc_settings_new(r->config, &r->settings)) < 0) {
                log_warning_errno(k, "Reconcile: cannot take the settings from the configuration: %m");
                reconciler_schedule(r, (uint64_t) r->config->interval_sec * USEC_PER_SEC);
                return 0;
        }
        k = pass_new(r->settings, &r->history, &p);
        if (k < 0) {
                log_warning_errno(k, "Reconcile: cannot prepare a pass: %m");
                reconciler_schedule(r, (uint64_t) r->config->interval_sec * USEC_PER_SEC);
                return 0;
        }
        p->owner = r;
        if (r->clients.key) {
                _cleanup_(freep) char *key = NULL;
                if (pass_clients_key(p, &key) >= 0 && streq(key, r->clients.key)) {
                        p->clients = r->clients;
                        r->clients = (RcClients){};
                } else
                        rc_clients_done(&r->clients);
        }
        k = job_start(r->event, "reconcile", reconciler_work, reconciler_done, p, &r->job);
        if (k < 0) {
                log_warning_errno(k, "Reconcile: cannot start a pass: %m");
                reconciler_schedule(r, (uint64_t) r->config->interval_sec * USEC_PER_SEC);
                return 0;
        }
        TAKE_PTR(p); /* the job's until done() */
        k = sd_event_add_time_relative(r->event, &r->deadline, CLOCK_MONOTONIC, RC_PASS_DEADLINE_USEC, 0,
                                       reconciler_on_deadline, r);
        if (k < 0)
                log_debug_errno(k, "Reconcile: no deadline timer: %m");
        return 0;
}

static void reconciler_schedule(Reconciler *r, uint64_t usec) {
        int k = event_timer_arm(r->event, &r->timer, now_usec(CLOCK_MONOTONIC) + usec, 100 * USEC_PER_MSEC, true,
                                reconciler_on_timer, r, "reconcile");
        if (k < 0)
                log_warning_errno(k, "Reconcile: cannot arm the timer: %m");
}

static void reconciler_on_leader(Leader *l, void *userdata) {
        Reconciler *r = userdata;
        bool now = leader_is_leader(l);

        if (now == r->was_leader)
                return;
        r->was_leader = now;
        if (now)
                reconciler_schedule(r, 100 * USEC_PER_MSEC);
        else if (r->job) {
                log_info("Reconcile: leadership lost; cancelling the pass in flight.");
                job_cancel(r->job);
        }
}

int reconciler_new(sd_event *event, Leader *leader, const Config *config, Reconciler **ret) {
        _cleanup_(reconciler_freep) Reconciler *r = calloc(1, sizeof(Reconciler));
        const char *rt = getenv("RUNTIME_DIRECTORY");
        int k;

        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(event);
        r->leader = leader;
        r->config = config;
        k = rc_settings_new(config, &r->settings);
        if (k < 0)
                return k;
        if (!isempty(rt)) {
                /* RUNTIME_DIRECTORY may list several, separated by ':' */
                size_t n = strcspn(rt, ":");
                if (asprintf(&r->state_file, "%.*s/state.json", (int) n, rt) < 0)
                        return -ENOMEM;
        }
        k = leader_subscribe(leader, reconciler_on_leader, r);
        if (k < 0)
                return k;
        reconciler_schedule(r, (uint64_t) config->interval_sec * USEC_PER_SEC);
        *ret = TAKE_PTR(r);
        return 0;
}

void reconciler_cancel(Reconciler *r) {
        if (r && r->job)
                job_cancel(r->job);
}

Reconciler *reconciler_free(Reconciler *r) {
        if (!r)
                return NULL;
        if (r->leader)
                leader_unsubscribe(r->leader, reconciler_on_leader, r);
        /* a pass still running is cancelled; past the grace its thread is left alone
         * (and its Pass with it): only at shutdown */
        if (r->job)
                job_set_grace(r->job, RC_EXIT_GRACE_USEC);
        r->job = job_free(r->job);
        sd_event_source_disable_unref(r->timer);
        sd_event_source_disable_unref(r->deadline);
        sd_event_unref(r->event);
        rc_history_done(&r->history);
        rc_clients_done(&r->clients);
        rc_settings_unref(r->settings);
        free(r->node_id);
        free(r->status);
        free(r->last_error);
        free(r->state_file);
        strv_free(r->plan_lines);
        free(r);
        return NULL;
}

void reconciler_set_status_handler(Reconciler *r, ReconcilerStatusHandler cb, void *userdata) {
        r->status_cb = cb;
        r->status_userdata = userdata;
}

void reconciler_set_config(Reconciler *r, const Config *config) {
        int k;

        r->config = config;
        /* a pass in flight keeps the settings it holds; the next one takes these */
        r->settings = rc_settings_unref(r->settings);
        k = rc_settings_new(config, &r->settings);
        if (k < 0)
                log_warning_errno(k, "Reconcile: cannot take the settings from the configuration: %m");
        r->idle_logged = false;
        reconciler_schedule(r, RC_KICK_DELAY_USEC);
}

void reconciler_set_node(Reconciler *r, const char *node_id, bool manager) {
        bool changed = !streq_ptr(r->node_id, node_id) || r->manager != manager;

        if (!changed)
                return;
        (void) free_and_strdup(&r->node_id, node_id);
        r->manager = manager;
        if (!node_id || !manager) {
                if (r->job)
                        job_cancel(r->job);
                reconciler_set_status_text(r, NULL);
        } else
                reconciler_schedule(r, RC_KICK_DELAY_USEC);
}

void reconciler_kick(Reconciler *r) {
        if (r->job) {
                r->again = true;
                return;
        }
        reconciler_schedule(r, RC_KICK_DELAY_USEC);
}

const char *reconciler_status(const Reconciler *r) {
        return r ? r->status : NULL;
}
