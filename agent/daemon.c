/* SPDX-License-Identifier: MIT */
/*
 * `swarmkeeper run`: one sd-event loop that owns the events stream, swarm membership
 * (init / rejoin / join), leadership tracking, the watchdog and the signals. The loop
 * never waits for the engine: every engine request (the step's ping and /info with its
 * probe of the other managers, init, join, the leadership checks) runs as a Job on a
 * worker thread with its own Docker client, and its result comes back through the loop.
 * The step is re-run on a timer, on engine events and on SIGHUP; one engine job is in
 * flight at a time.
 *
 * Initializing a new swarm is the bootstrap manager's last resort: never while it holds
 * a join token, only on a volume that `prepare` formatted in this boot
 * ($RUNTIME_DIRECTORY/formatted) and only after every other configured manager stayed
 * silent on the swarm port for SWARMKEEPER_INIT_QUIET_SEC (default 30 s) in a row. The
 * decision is membership_decide() (membership.h); daemon-membership.c gathers its input and
 * acts. This file is the loop object: engine jobs, the events stream, engine up / down, the
 * step, the signals (SIGHUP reloads), setup and teardown. Runs on the event loop's thread,
 * except engine_job_work(), which runs on a Job's worker thread (job.h).
 */
#include "daemon.h"

#include <assert.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "daemon-internal.h"
#include "docker-events.h"
#include "docker.h"
#include "event-util.h"
#include "identity.h"
#include "job.h"
#include "leader.h"
#include "log.h"
#include "messages.h"
#include "reconciler.h"

#define ENGINE_RETRY_BASE_USEC (500 * USEC_PER_MSEC)
#define ENGINE_RETRY_CAP_USEC (10 * USEC_PER_SEC)
#define INIT_QUIET_USEC_DEFAULT (30 * USEC_PER_SEC)
/* At exit: how long to wait for each cancelled job before leaving its thread behind. */
#define EXIT_GRACE_USEC (250 * USEC_PER_MSEC)
#define EVENTS_RETRY_BASE_USEC (200 * USEC_PER_MSEC)
#define EVENTS_RETRY_CAP_USEC (10 * USEC_PER_SEC)
#define EVENTS_HEADER_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define JOIN_TIMEOUT_MSEC 10000

_printf_(2, 3) void daemon_status(Daemon *d, const char *fmt, ...) {
        char buf[512];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (streq_ptr(d->last_status, buf))
                return;
        (void) free_and_strdup(&d->last_status, buf);
        log_struct(LOG_INFO, 0, NULL, LOG_FIELDS("SK_STATUS", buf), "Status: %s", buf);
        (void) notify_status("%s", buf);
}

/* ---- engine jobs ----------------------------------------------------------------------- */

void engine_job_free(void *userdata) {
        EngineJob *e = userdata;

        if (!e)
                return;
        free(e->socket);
        strv_free(e->probe);
        strv_free(e->remotes);
        erase_and_free(e->token);
        free(e->advertise);
        free(e->error);
        docker_info_done(&e->info);
        free(e->answering);
        free(e->node_id);
        free(e);
}

static int engine_job_work(Job *j, void *userdata) {
        EngineJob *e = userdata;
        _cleanup_(docker_freep) Docker *d = NULL;
        int r;

        r = docker_new_for_job(e->socket, e->api_version, 0, job_cancel_flag(j), &d);
        if (r < 0)
                return e->r = r;

        switch (e->op) {
        case ENGINE_OP_PROBE:
                if (e->ping) {
                        r = docker_ping(d);
                        if (r < 0)
                                break;
                        memcpy(e->api_version, d->api_version, sizeof(e->api_version));
                }
                r = docker_info(d, &e->info);
                if (r < 0)
                        break;
                e->have_info = true;
                if (e->info.state == DOCKER_SWARM_INACTIVE)
                        STRV_FOREACH(m, e->probe) {
                                if (job_cancelled(j))
                                        return -ECANCELED;
                                if (daemon_probe_swarm_port(*m, job_cancel_flag(j)) > 0) {
                                        e->answering = strdup(*m);
                                        if (!e->answering)
                                                return e->r = -ENOMEM;
                                        break;
                                }
                        }
                break;
        case ENGINE_OP_INIT:
                r = docker_swarm_init(d, e->advertise, &e->node_id);
                break;
        case ENGINE_OP_JOIN:
                r = docker_swarm_join(d, e->remotes, e->token, e->advertise, JOIN_TIMEOUT_MSEC);
                explicit_bzero(e->token, strlen(e->token));
                break;
        }
        if (r < 0) {
                e->answered = docker_answered(d);
                e->status = d->last_status;
                e->error = strdup(docker_last_error(d));
        }
        return e->r = r;
}

static void engine_job_done(Job *j, int r, void *userdata);

/* Start an engine job; takes e (also on failure). */
int daemon_engine_job(Daemon *d, EngineJob *e) {
        static const char *const names[] = {
                [ENGINE_OP_PROBE] = "engine-probe", [ENGINE_OP_INIT] = "swarm-init", [ENGINE_OP_JOIN] = "swarm-join",
        };
        int r;

        assert(!d->job);
        e->daemon = d;
        e->socket = strdup(d->config->socket);
        if (!e->socket) {
                engine_job_free(e);
                return -ENOMEM;
        }
        memcpy(e->api_version, d->docker->api_version, sizeof(e->api_version));
        r = job_start(d->event, names[e->op], engine_job_work, engine_job_done, e, &d->job);
        if (r < 0) {
                engine_job_free(e);
                return r;
        }
        job_set_destroy(d->job, engine_job_free);
        return 0;
}

/* ---- the events stream --------------------------------------------------------------- */

static void daemon_events_open(DockerEvents *s, void *userdata) {
        Daemon *d = userdata;
        d->events_attempt = 0;
        log_debug("Subscribed to the engine's node and daemon events.");
        /* events may have been missed while the stream was down */
        leader_kick(d->leader);
}

static void daemon_events_event(DockerEvents *s, const DockerEvent *ev, void *userdata) {
        Daemon *d = userdata;

        leader_on_event(d->leader, ev);
        if (ev->type == DOCKER_EVENT_NODE) {
                /* what the swarm noticed: the start of every recovery's clock */
                if (streq(ev->state_new, "down") || streq(ev->reachability_new, "unreachable"))
                        log_struct(LOG_INFO, 0, NULL,
                                   LOG_FIELDS("SK_NODE_ID", ev->actor_id, "SK_NODE_STATE", ev->state_new,
                                              "SK_NODE_REACHABILITY", ev->reachability_new),
                                   "The swarm reports node %s%s%s%s%s.", ev->actor_id,
                                   ev->state_new[0] ? " " : "", ev->state_new,
                                   ev->reachability_new[0] ? " " : "", ev->reachability_new);
                reconciler_kick(d->reconciler);
        }
        /* while waiting for the node to settle, or when the engine reloaded: re-check */
        if (!d->running || ev->type == DOCKER_EVENT_DAEMON)
                daemon_schedule(d, 100 * USEC_PER_MSEC);
}

static void daemon_events_closed(DockerEvents *s, int error, const char *message, void *userdata) {
        Daemon *d = userdata;

        log_debug_errno(error, "Engine events stream ended: %s", message);
        d->events_closed = true;
        daemon_schedule(d, backoff_full_jitter_usec(d->events_attempt++, EVENTS_RETRY_BASE_USEC,
                                                    EVENTS_RETRY_CAP_USEC));
}

static void daemon_events_reset(Daemon *d) {
        d->events = docker_events_free(d->events);
        d->events_closed = false;
}

static int daemon_events_connect(Daemon *d) {
        int r;

        if (d->events && !d->events_closed)
                return 0;
        daemon_events_reset(d);
        r = docker_events_new(d->event, d->config->socket, d->docker->api_version, EVENTS_HEADER_TIMEOUT_USEC,
                              daemon_events_open, daemon_events_event, daemon_events_closed, d, &d->events);
        if (r < 0) {
                /* the step is the retry */
                daemon_schedule(d, backoff_full_jitter_usec(d->events_attempt++, EVENTS_RETRY_BASE_USEC,
                                                            EVENTS_RETRY_CAP_USEC));
                return log_debug_errno(r, "Cannot subscribe to engine events: %m");
        }
        return 0;
}

/* ---- engine up / down ---------------------------------------------------------------- */

/* The engine could not be asked: no answer (why: error), or an answer that is not one
 * (garbage), or an HTTP error where a plain answer was due. */
void daemon_engine_lost(Daemon *d, int error, bool answered, const char *why) {
        if (d->engine_up || !d->engine_down_logged) {
                if (answered)
                        log_struct(LOG_WARNING, error, SK_MESSAGE_ENGINE_UNREACHABLE,
                                   LOG_FIELDS("SK_ENGINE_SOCKET", d->config->socket),
                                   "Docker engine at %s answers with an error: %s", d->config->socket,
                                   !isempty(why) ? why : strerror(-error));
                else
                        log_struct(LOG_WARNING, error, SK_MESSAGE_ENGINE_UNREACHABLE,
                                   LOG_FIELDS("SK_ENGINE_SOCKET", d->config->socket),
                                   "Docker engine at %s is unreachable: %s", d->config->socket,
                                   !isempty(why) ? why : strerror(-error));
        }
        d->engine_down_logged = true;
        d->engine_up = false;
        d->running = false;
        daemon_events_reset(d);
        leader_stop(d->leader, "the Docker engine is unreachable");
        daemon_status(d, "waiting for Docker engine at %s (%s)", d->config->socket,
                      answered && error != -EBADMSG ? "engine error" :
                      error == -ENOENT ? "no socket" : error == -ECONNREFUSED ? "connection refused" :
                      error == -ETIMEDOUT ? "no answer" :
                      error == -EBADMSG || error == -EPROTO || error == -EIO ? "bad answer" :
                      strerror(-error));
        daemon_schedule(d, backoff_full_jitter_usec(d->engine_attempt++, ENGINE_RETRY_BASE_USEC,
                                                    ENGINE_RETRY_CAP_USEC));
}

void daemon_oom(Daemon *d) {
        (void) log_error_errno(-ENOMEM, "Out of memory; retrying.");
        daemon_schedule(d, SETTLE_POLL_USEC);
}

/* Recompute READY/STATUS from what we know. */
static void daemon_update(Daemon *d) {
        const DockerNode *self = leader_self(d->leader);
        const char *rs = reconciler_status(d->reconciler);
        bool active;

        reconciler_set_node(d->reconciler, d->engine_up ? d->node_id : NULL, d->manager);
        if (!d->engine_up || !d->node_id)
                return;

        if (!d->manager) {
                active = true; /* a worker: LocalNodeState active is all the engine tells */
                daemon_status(d, "worker, active");
        } else if (!self) {
                active = false;
                daemon_status(d, "manager, waiting for the node's state");
        } else {
                bool reachable = streq_ptr(self->reachability, "reachable");
                bool ready = streq_ptr(self->state, "ready");
                active = reachable && ready;
                if (leader_is_leader(d->leader))
                        daemon_status(d, "manager, leader%s%s", rs ? "; " : "", strempty(rs));
                else if (ready)
                        daemon_status(d, "manager, %s, follower%s%s", strempty(self->reachability), rs ? "; " : "",
                                      strempty(rs));
                else
                        daemon_status(d, "manager, %s, node %s, follower", strempty(self->reachability),
                                      strempty(self->state));
        }
        d->running = active;

        if (active && !d->ready_sent) {
                d->ready_sent = true;
                log_info("This node (%s) is active in the swarm as a %s.", d->node_id,
                         d->manager ? "manager" : "worker");
                (void) notify_ready("%s", strempty(d->last_status));
        }
}

static void daemon_on_leader(Leader *l, void *userdata) {
        Daemon *d = userdata;
        int e = leader_last_error(l);

        /* not a manager any more, or the engine is gone: the step finds out which */
        if (e < 0)
                daemon_schedule(d, e == -ENOTCONN ? 0 : 100 * USEC_PER_MSEC);
        daemon_update(d);
}

static void daemon_on_reconciler(Reconciler *r, void *userdata) {
        daemon_update(userdata);
}

static void daemon_probe_done(Daemon *d, EngineJob *e) {
        const DockerInfo *info = &e->info;
        int r;

        if (e->r < 0 || !e->have_info)
                return daemon_engine_lost(d, e->r < 0 ? e->r : -EBADMSG, e->answered && e->r != -EBADMSG,
                                          e->error);
        if (!d->engine_up) {
                memcpy(d->docker->api_version, e->api_version, sizeof(d->docker->api_version));
                d->engine_up = true;
                d->engine_down_logged = false;
                log_info("Docker engine at %s is up (API %s).", d->config->socket, d->docker->api_version);
        }
        (void) daemon_events_connect(d);
        /* the backoff restarts only once the engine answered sensibly */
        d->engine_attempt = 0;

        if (info->state != DOCKER_SWARM_LOCKED)
                d->locked_logged = false;
        if (info->state != DOCKER_SWARM_INACTIVE)
                d->quiet_since_usec = 0;

        switch (info->state) {
        case DOCKER_SWARM_ACTIVE:
                if (isempty(info->node_id))
                        return daemon_engine_lost(d, -EBADMSG, true, "the engine's /info has no node ID");
                if (!streq_ptr(d->node_id, info->node_id)) {
                        log_info("This engine is node %s of swarm %s.", info->node_id,
                                 isempty(info->cluster_id) ? "(cluster id visible to managers only)" : info->cluster_id);
                        (void) free_and_strdup(&d->node_id, info->node_id);
                }
                d->manager = info->control_available;
                if (d->manager) {
                        r = leader_start(d->leader, info->node_id);
                        if (r < 0)
                                log_warning_errno(r, "Cannot follow leadership: %m");
                        else if (leader_last_error(d->leader) < 0)
                                leader_kick(d->leader);
                } else
                        leader_stop(d->leader, "this node is not a manager");
                daemon_update(d);
                if (!d->running)
                        return daemon_schedule(d, SETTLE_POLL_USEC);
                /* managers: the leader module polls the node; workers: poll /info */
                if (!d->manager)
                        daemon_schedule(d, (uint64_t) d->config->interval_sec * USEC_PER_SEC);
                return;

        case DOCKER_SWARM_PENDING:
                d->running = false;
                leader_stop(d->leader, "the node is reconnecting to the swarm");
                daemon_status(d, "swarm membership pending: the engine is connecting to the managers");
                return daemon_schedule(d, SETTLE_POLL_USEC);

        case DOCKER_SWARM_LOCKED:
                d->running = false;
                leader_stop(d->leader, "the swarm is locked");
                if (!d->locked_logged)
                        log_warning("The swarm on this engine is locked (autolock): it needs "
                                    "'docker swarm unlock'. Waiting.");
                d->locked_logged = true;
                daemon_status(d, "swarm locked: waiting for 'docker swarm unlock'");
                return daemon_schedule(d, 10 * USEC_PER_SEC);

        case DOCKER_SWARM_ERROR:
                d->running = false;
                leader_stop(d->leader, "the engine reports a swarm error");
                log_warning("The engine reports a swarm error: %s; waiting.", strempty(info->swarm_error));
                daemon_status(d, "swarm error on this engine, waiting");
                return daemon_schedule(d, daemon_membership_backoff(d));

        case DOCKER_SWARM_INACTIVE:
        default:
                d->running = false;
                free(d->node_id);
                d->node_id = NULL;
                leader_stop(d->leader, "the engine is not in a swarm");
                return daemon_not_in_swarm(d, e);
        }
}

static void engine_job_done(Job *j, int r, void *userdata) {
        EngineJob *e = userdata;
        Daemon *d = e->daemon;

        assert(d->job == j);
        d->job = NULL; /* the handlers below may start the next job */
        if (r != -ECANCELED)
                switch (e->op) {
                case ENGINE_OP_PROBE:
                        daemon_probe_done(d, e);
                        break;
                case ENGINE_OP_INIT:
                        daemon_init_done(d, e);
                        break;
                case ENGINE_OP_JOIN:
                        daemon_join_done(d, e);
                        break;
                }
        job_free(j); /* frees e */
        /* a step asked for meanwhile: now, unless the handler armed one (a backoff wins) */
        if (d->step_pending && !d->job) {
                d->step_pending = false;
                if (!d->step_timer || sd_event_source_get_enabled(d->step_timer, NULL) <= 0)
                        daemon_schedule(d, 0);
        }
}

/* One step: ask the engine (on a worker thread); daemon_probe_done() goes on. */
static void daemon_step(Daemon *d) {
        EngineJob *e;
        int r;

        if (d->job) {
                d->step_pending = true;
                return;
        }
        if (d->events_closed)
                daemon_events_reset(d);
        if (!d->engine_up && (!d->last_status || !d->engine_down_logged))
                daemon_status(d, "waiting for Docker engine at %s", d->config->socket);

        e = calloc(1, sizeof(*e));
        if (!e)
                return daemon_oom(d);
        e->op = ENGINE_OP_PROBE;
        e->ping = !d->engine_up;
        if (daemon_is_bootstrap(d) && daemon_other_managers(d, false, &e->probe) < 0) {
                engine_job_free(e);
                return daemon_oom(d);
        }
        r = daemon_engine_job(d, e);
        if (r < 0) {
                log_warning_errno(r, "Cannot start an engine job: %m");
                daemon_schedule(d, SETTLE_POLL_USEC);
        }
}

static int daemon_on_step(sd_event_source *s, uint64_t usec, void *userdata) {
        daemon_step(userdata);
        return 0;
}

void daemon_schedule(Daemon *d, uint64_t usec) {
        /* an earlier pending wakeup wins */
        int r = event_timer_arm(d->event, &d->step_timer, now_usec(CLOCK_MONOTONIC) + usec, 10 * USEC_PER_MSEC,
                                true, daemon_on_step, d, "step");
        if (r < 0) {
                log_error_errno(r, "Cannot arm the step timer: %m");
                (void) sd_event_exit(d->event, SK_EXIT_FAILURE);
        }
}

/* ---- signals ------------------------------------------------------------------------- */

static int daemon_on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        log_info("Received %s: exiting; the node stays in the swarm.", strsignal((int) si->ssi_signo));
        (void) sd_notify(0, "STOPPING=1\nSTATUS=stopping");
        return sd_event_exit(d->event, SK_EXIT_OK);
}

static void daemon_apply_config(Daemon *d, Config *old) {
        Config *c = d->config;

        log_set_max_level(c->log_level);
        if (!streq(old->socket, c->socket)) {
                Docker *nd = NULL;
                int r = docker_new(c->socket, &nd);
                if (r < 0) {
                        log_warning_errno(r, "Cannot use Engine.Socket=%s: %m", c->socket);
                        return;
                }
                leader_stop(d->leader, "Engine.Socket changed");
                daemon_events_reset(d);
                leader_set_docker(d->leader, nd);
                docker_free(d->docker);
                d->docker = nd;
                d->engine_up = false;
                d->running = false;
                /* a job on the old socket: its result is dropped, a step follows it */
                if (d->job) {
                        job_cancel(d->job);
                        d->step_pending = true;
                }
        }
        if (old->interval_sec != c->interval_sec)
                (void) leader_set_poll_interval(d->leader, (uint64_t) c->interval_sec * USEC_PER_SEC);
        d->token_missing_logged = false;
        d->join_attempt = 0;
        reconciler_set_config(d->reconciler, c);
        d->membership_not_before = 0;
        d->no_marker_logged = false;
        d->token_no_init_logged = false;
}

/* Who this host is does not change with a reload: what the metadata service told at
 * start fills the reloaded configuration's empty [Host] keys (and AWS.Region). */
static int daemon_keep_identity(Config *nc, const Config *old) {
        static const ConfigKeyId keys[] = {
                CONFIG_HOST_INSTANCE_ID, CONFIG_HOST_PRIVATE_IP, CONFIG_HOST_AZ, CONFIG_AWS_REGION,
        };
        bool filled = false;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (!isempty(nc->raw[keys[i]]) || isempty(old->raw[keys[i]]))
                        continue;
                r = config_set_value(nc, keys[i], old->raw[keys[i]], "metadata service");
                if (r < 0)
                        return r;
                filled = true;
        }
        return filled;
}

static int daemon_on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        Config *nc = NULL, *old = d->config;
        int r;

        /* RELOADING=1 … READY=1 brackets the reload, only once we told systemd READY=1 */
        if (d->ready_sent)
                (void) sd_notify(0, "RELOADING=1");
        r = config_load_args(&nc, d->args); /* verifies, logs the culprit */
        if (r >= 0) {
                r = daemon_keep_identity(nc, old);
                if (r > 0) /* Host.PrivateIp must be one of Cluster.Managers on a manager */
                        r = config_verify(nc);
        }
        if (r < 0) {
                config_free(nc);
                log_warning_errno(r, "Failed to reload the configuration; keeping the old one.");
                if (d->ready_sent)
                        (void) sd_notify(0, "READY=1");
                return 0;
        }
        d->config = nc;
        daemon_apply_config(d, old);
        /* the old one is ours to free only if it came from an earlier reload */
        config_free(d->owned_config);
        d->owned_config = nc;
        log_struct(LOG_INFO, 0, SK_MESSAGE_CONFIG_RELOADED, LOG_FIELDS("SK_CONFIG", d->args->path),
                   "Configuration reloaded.");
        if (d->ready_sent)
                (void) sd_notify(0, "READY=1");
        daemon_schedule(d, 0);
        return 0;
}

/* ---- setup / teardown ---------------------------------------------------------------- */

static Daemon *daemon_free(Daemon *d) {
        if (!d)
                return NULL;
        /* Jobs in flight: cancel them all first, so that they stop together; each is
         * then given a short grace (a request aborts within about a second; past the
         * grace its thread is left behind and ends with the process). */
        if (d->job)
                job_cancel(d->job);
        leader_cancel(d->leader);
        reconciler_cancel(d->reconciler);
        if (d->job) {
                job_set_grace(d->job, EXIT_GRACE_USEC);
                d->job = job_free(d->job);
        }
        sd_event_source_disable_unref(d->step_timer);
        sd_event_source_disable_unref(d->sigterm);
        sd_event_source_disable_unref(d->sigint);
        sd_event_source_disable_unref(d->sighup);
        docker_events_free(d->events);
        reconciler_free(d->reconciler); /* before the leader it subscribed to */
        leader_free(d->leader);
        docker_free(d->docker);
        sd_event_unref(d->event);
        free(d->node_id);
        free(d->last_status);
        config_free(d->owned_config);
        free(d);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Daemon *, daemon_free);

static int daemon_new(Config *c, const ConfigArgs *args, Daemon **ret) {
        _cleanup_(daemon_freep) Daemon *d = NULL;
        sigset_t ss;
        int r;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->config = c;
        d->args = args;

        r = sd_event_default(&d->event);
        if (r < 0)
                return r;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return -errno;
        if ((r = sd_event_add_signal(d->event, &d->sigterm, SIGTERM, daemon_on_term, d)) < 0 ||
            (r = sd_event_add_signal(d->event, &d->sigint, SIGINT, daemon_on_term, d)) < 0 ||
            (r = sd_event_add_signal(d->event, &d->sighup, SIGHUP, daemon_on_hup, d)) < 0)
                return r;
        r = sd_event_set_watchdog(d->event, true);
        if (r < 0)
                return r;
        d->watchdog = r > 0;

        d->init_quiet_usec = INIT_QUIET_USEC_DEFAULT;
        const char *q = getenv("SWARMKEEPER_INIT_QUIET_SEC");
        if (q) {
                unsigned v;
                if (parse_uint(q, &v) < 0)
                        log_warning("Ignoring SWARMKEEPER_INIT_QUIET_SEC=%s: not a number of seconds.", q);
                else
                        d->init_quiet_usec = (uint64_t) v * USEC_PER_SEC;
        }

        r = docker_new(c->socket, &d->docker);
        if (r < 0)
                return r;
        r = leader_new(d->event, d->docker, (uint64_t) c->interval_sec * USEC_PER_SEC, &d->leader);
        if (r < 0)
                return r;
        r = leader_subscribe(d->leader, daemon_on_leader, d);
        if (r < 0)
                return r;
        r = reconciler_new(d->event, d->leader, c, &d->reconciler);
        if (r < 0)
                return r;
        reconciler_set_status_handler(d->reconciler, daemon_on_reconciler, d);
        *ret = TAKE_PTR(d);
        return 0;
}

int verb_run(Config *c, const ConfigArgs *args, bool json) {
        _cleanup_(daemon_freep) Daemon *d = NULL;
        int r;

        /* Who this host is, exactly as `prepare` finds out: an empty [Host] key asks the
         * metadata service. Before the loop: nothing runs yet that could wait for it. */
        (void) notify_status("finding out who this host is");
        bool had_ip = !isempty(c->private_ip);
        r = identity_resolve(c);
        if (r < 0)
                return r == -EINVAL ? SK_EXIT_CONFIG : SK_EXIT_AWS;
        if (!had_ip && config_verify(c) < 0) /* the culprit is logged */
                return SK_EXIT_CONFIG;

        r = daemon_new(c, args, &d);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the daemon: %m");
                return SK_EXIT_FAILURE;
        }
        log_info("swarmkeeper run: %s %s, engine %s, managers %s%s.", role_to_string(c->role),
                 isempty(c->private_ip) ? "(no Host.PrivateIp)" : c->private_ip, c->socket,
                 strv_length(c->managers) ? "configured" : "none",
                 daemon_is_bootstrap(d) ? ", bootstrap manager" : "");
        if (daemon_is_bootstrap(d))
                log_debug("A new swarm only on a freshly formatted volume, after %llu s without an answer "
                          "from the other managers.", (unsigned long long) (d->init_quiet_usec / USEC_PER_SEC));
        if (d->watchdog)
                log_debug("Watchdog enabled.");

        daemon_schedule(d, 0);
        r = sd_event_loop(d->event);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                return SK_EXIT_FAILURE;
        }
        return r;
}

