/* SPDX-License-Identifier: MIT */
/*
 * `swarmkeeper run`: one sd-event loop that owns the engine connection, the events
 * stream, swarm membership (init / rejoin / join), leadership tracking, the watchdog and
 * the signals. The membership logic is one step function, re-run on a timer, on engine
 * events and on SIGHUP; it never blocks longer than one short engine request.
 */
#include "daemon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "docker-events.h"
#include "docker.h"
#include "leader.h"
#include "log.h"
#include "messages.h"
#include "reconciler.h"

#define ENGINE_RETRY_BASE_USEC (500 * USEC_PER_MSEC)
#define ENGINE_RETRY_CAP_USEC (10 * USEC_PER_SEC)
#define JOIN_RETRY_BASE_USEC (1 * USEC_PER_SEC)
#define JOIN_RETRY_CAP_USEC (30 * USEC_PER_SEC)
#define EVENTS_RETRY_BASE_USEC (200 * USEC_PER_MSEC)
#define EVENTS_RETRY_CAP_USEC (10 * USEC_PER_SEC)
#define EVENTS_HEADER_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define SETTLE_POLL_USEC (1 * USEC_PER_SEC)
#define JOIN_TIMEOUT_MSEC 10000
#define PROBE_TIMEOUT_MSEC 1000

typedef struct Daemon {
        Config *config;             /* current; == owned_config after a reload */
        Config *owned_config;
        const ConfigArgs *args;

        sd_event *event;
        sd_event_source *step_timer;
        sd_event_source *sigterm, *sigint, *sighup;

        Docker *docker;
        bool engine_up;
        bool engine_down_logged;
        unsigned engine_attempt;

        DockerEvents *events;
        bool events_closed;         /* the stream ended; freed at the next step */
        unsigned events_attempt;

        Leader *leader;
        Reconciler *reconciler;     /* acts while this node leads (reconciler.c) */
        char *node_id;
        bool manager;               /* the engine has control available */
        bool running;               /* in the swarm and active */
        bool ready_sent;
        unsigned join_attempt;
        bool token_missing_logged;
        bool locked_logged;
        char *last_status;
        bool watchdog;
} Daemon;

static void daemon_schedule(Daemon *d, uint64_t usec);

_printf_(2, 3) static void daemon_status(Daemon *d, const char *fmt, ...) {
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

/* Before an engine call that may take long: tell the watchdog we are alive. */
static void daemon_watchdog_kick(Daemon *d) {
        if (d->watchdog)
                (void) sd_notify(0, "WATCHDOG=1");
}

/* Engine text may echo what we sent; never let the join token through. */
static void scrub_token(char *text, const char *token) {
        char *p;
        size_t n;

        if (isempty(token) || !text)
                return;
        n = strlen(token);
        while ((p = strstr(text, token))) {
                memset(p, '*', n);
        }
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
        if (ev->type == DOCKER_EVENT_NODE)
                reconciler_kick(d->reconciler);
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

static void daemon_engine_lost(Daemon *d, int error) {
        const char *why = docker_last_error(d->docker);

        if (d->engine_up || !d->engine_down_logged)
                log_struct(LOG_WARNING, error, SK_MESSAGE_ENGINE_UNREACHABLE,
                           LOG_FIELDS("SK_ENGINE_SOCKET", d->config->socket),
                           "Docker engine at %s is unreachable: %s", d->config->socket,
                           *why ? why : strerror(-error));
        d->engine_down_logged = true;
        d->engine_up = false;
        d->running = false;
        daemon_events_reset(d);
        leader_stop(d->leader, "the Docker engine is unreachable");
        daemon_status(d, "waiting for Docker engine at %s (%s)", d->config->socket,
                      error == -ENOENT ? "no socket" : error == -ECONNREFUSED ? "connection refused" :
                      error == -ETIMEDOUT ? "no answer" :
                      error == -EBADMSG || error == -EPROTO || error == -EIO ? "bad answer" :
                      strerror(-error));
        daemon_schedule(d, backoff_full_jitter_usec(d->engine_attempt++, ENGINE_RETRY_BASE_USEC,
                                                    ENGINE_RETRY_CAP_USEC));
}

/* Transport failures and garbage mean the engine is gone; an engine error is an answer. */
static bool error_is_transport(int r) {
        return r == -ENOENT || r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EPROTO ||
               r == -EIO || r == -EBADMSG || r == -EMSGSIZE || r == -EHOSTUNREACH || r == -ENOTSOCK;
}

/* ---- membership ---------------------------------------------------------------------- */

/* Does anything listen on ip:2377? 1 yes, 0 no (within PROBE_TIMEOUT_MSEC). */
static int probe_swarm_port(const char *ip) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(DOCKER_SWARM_PORT) };
        _cleanup_(closep) int fd = -1;
        struct pollfd p;
        int err = 0;
        socklen_t len = sizeof(err);

        if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
                return -EINVAL;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                return 1;
        if (errno != EINPROGRESS)
                return 0;
        p = (struct pollfd){ .fd = fd, .events = POLLOUT };
        if (poll(&p, 1, PROBE_TIMEOUT_MSEC) <= 0)
                return 0;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
                return 0;
        return 1;
}

static bool is_self(const Daemon *d, const char *ip) {
        return !isempty(d->config->private_ip) && streq(ip, d->config->private_ip);
}

/* Which of the other managers has a swarm port open; NULL if none. */
static const char *other_manager_answering(Daemon *d) {
        STRV_FOREACH(m, d->config->managers) {
                if (is_self(d, *m))
                        continue;
                if (probe_swarm_port(*m) > 0) {
                        log_debug("Manager %s answers on port %d.", *m, DOCKER_SWARM_PORT);
                        return *m;
                }
        }
        return NULL;
}

static bool is_bootstrap(const Daemon *d) {
        return d->config->role == ROLE_MANAGER && !isempty(d->config->bootstrap_manager) &&
               is_self(d, d->config->bootstrap_manager);
}

static void daemon_oom(Daemon *d) {
        (void) log_error_errno(-ENOMEM, "Out of memory; retrying.");
        daemon_schedule(d, SETTLE_POLL_USEC);
}

static void daemon_init_swarm(Daemon *d) {
        _cleanup_(freep) char *node_id = NULL;
        const char *addr = d->config->private_ip;
        int r;

        daemon_status(d, "initializing swarm, advertising %s", isempty(addr) ? "the default address" : addr);
        daemon_watchdog_kick(d);
        r = docker_swarm_init(d->docker, addr, &node_id);
        if (r < 0) {
                log_warning_errno(r, "Failed to initialize the swarm: %s; retrying.", docker_last_error(d->docker));
                if (error_is_transport(r) && r != -ETIMEDOUT)
                        return daemon_engine_lost(d, r);
                daemon_status(d, "initializing swarm failed, retrying");
                return daemon_schedule(d, backoff_full_jitter_usec(d->join_attempt++, JOIN_RETRY_BASE_USEC,
                                                                   JOIN_RETRY_CAP_USEC));
        }
        d->join_attempt = 0;
        log_struct(LOG_NOTICE, 0, SK_MESSAGE_SWARM_INITIALIZED,
                   LOG_FIELDS("SK_NODE_ID", node_id, "SK_ADVERTISE_ADDR", addr),
                   "Initialized a new swarm as its first manager (node %s, advertising %s).", node_id,
                   isempty(addr) ? "the default address" : addr);
        daemon_schedule(d, 0);
}

static void daemon_join_swarm(Daemon *d) {
        _cleanup_(strv_freep) char **remotes = NULL;
        _cleanup_(freep) char *list = NULL, *err = NULL;
        int r;

        STRV_FOREACH(m, d->config->managers)
                if (!is_self(d, *m)) {
                        _cleanup_(freep) char *a = NULL;
                        if (asprintf(&a, "%s:%d", *m, DOCKER_SWARM_PORT) < 0 || strv_extend(&remotes, a) < 0)
                                return daemon_oom(d);
                }
        list = strv_join(remotes, ", ");
        if (!list)
                return daemon_oom(d);

        if (!remotes) {
                if (!d->token_missing_logged)
                        log_error("Not in a swarm and Cluster.Managers names no other manager to join; "
                                  "set Cluster.Managers (or Cluster.BootstrapManager to this host) and reload.");
                d->token_missing_logged = true;
                daemon_status(d, "not in a swarm: no other manager configured to join");
                return daemon_schedule(d, (uint64_t) d->config->interval_sec * USEC_PER_SEC);
        }
        if (isempty(d->config->join_token)) {
                if (!d->token_missing_logged)
                        log_error("Not in a swarm, and Cluster.JoinToken is not set: cannot join via %s. "
                                  "Set it (e.g. in a drop-in) and reload.", list);
                d->token_missing_logged = true;
                daemon_status(d, "not in a swarm: waiting for Cluster.JoinToken to join via %s", list);
                return daemon_schedule(d, (uint64_t) d->config->interval_sec * USEC_PER_SEC);
        }
        d->token_missing_logged = false;

        daemon_status(d, "joining swarm via %s", list);
        daemon_watchdog_kick(d);
        r = docker_swarm_join(d->docker, remotes, d->config->join_token, d->config->private_ip, JOIN_TIMEOUT_MSEC);
        if (r == -ETIMEDOUT) {
                log_info("Joining the swarm via %s takes a while; the engine continues in the background.", list);
                return daemon_schedule(d, SETTLE_POLL_USEC);
        }
        if (r < 0) {
                err = strdup(docker_last_error(d->docker));
                scrub_token(err, d->config->join_token);
                if (error_is_transport(r))
                        return daemon_engine_lost(d, r);
                log_warning_errno(r, "Failed to join the swarm via %s: %s; retrying.", list, strempty(err));
                daemon_status(d, "joining swarm via %s failed, retrying", list);
                return daemon_schedule(d, backoff_full_jitter_usec(d->join_attempt++, JOIN_RETRY_BASE_USEC,
                                                                   JOIN_RETRY_CAP_USEC));
        }
        d->join_attempt = 0;
        log_struct(LOG_NOTICE, 0, SK_MESSAGE_SWARM_JOINED, LOG_FIELDS("SK_REMOTES", list),
                   "Joined the swarm via %s.", list);
        daemon_schedule(d, 0);
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

static void daemon_step(Daemon *d) {
        _cleanup_(docker_info_done) DockerInfo info = {};
        int r;

        if (d->events_closed)
                daemon_events_reset(d);

        if (!d->engine_up) {
                if (!d->last_status || !d->engine_down_logged)
                        daemon_status(d, "waiting for Docker engine at %s", d->config->socket);
                r = docker_ping(d->docker);
                if (r < 0)
                        return daemon_engine_lost(d, r);
                d->engine_up = true;
                d->engine_down_logged = false;
                log_info("Docker engine at %s is up (API %s).", d->config->socket, d->docker->api_version);
        }
        (void) daemon_events_connect(d);

        r = docker_info(d->docker, &info);
        if (r < 0)
                return daemon_engine_lost(d, r);
        /* the backoff restarts only once the engine answered sensibly */
        d->engine_attempt = 0;

        if (info.state != DOCKER_SWARM_LOCKED)
                d->locked_logged = false;

        switch (info.state) {
        case DOCKER_SWARM_ACTIVE:
                if (isempty(info.node_id))
                        return daemon_engine_lost(d, -EBADMSG);
                if (!streq_ptr(d->node_id, info.node_id)) {
                        log_info("This engine is node %s of swarm %s.", info.node_id,
                                 isempty(info.cluster_id) ? "(cluster id visible to managers only)" : info.cluster_id);
                        (void) free_and_strdup(&d->node_id, info.node_id);
                }
                d->manager = info.control_available;
                if (d->manager) {
                        r = leader_start(d->leader, info.node_id);
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
                log_warning("The engine reports a swarm error: %s; waiting.", strempty(info.swarm_error));
                daemon_status(d, "swarm error on this engine, waiting");
                return daemon_schedule(d, backoff_full_jitter_usec(d->join_attempt++, JOIN_RETRY_BASE_USEC,
                                                                   JOIN_RETRY_CAP_USEC));

        case DOCKER_SWARM_INACTIVE:
        default:
                d->running = false;
                free(d->node_id);
                d->node_id = NULL;
                leader_stop(d->leader, "the engine is not in a swarm");
                if (is_bootstrap(d)) {
                        const char *m = other_manager_answering(d);
                        if (!m)
                                return daemon_init_swarm(d);
                        log_info("Manager %s answers on the swarm port: joining instead of initializing.", m);
                }
                return daemon_join_swarm(d);
        }
}

static int daemon_on_step(sd_event_source *s, uint64_t usec, void *userdata) {
        daemon_step(userdata);
        return 0;
}

static void daemon_schedule(Daemon *d, uint64_t usec) {
        uint64_t when = now_usec(CLOCK_MONOTONIC) + usec;
        int r;

        if (d->step_timer) {
                uint64_t cur;
                /* an earlier pending wakeup wins */
                if (sd_event_source_get_enabled(d->step_timer, NULL) > 0 &&
                    sd_event_source_get_time(d->step_timer, &cur) >= 0 && cur <= when)
                        return;
                r = sd_event_source_set_time(d->step_timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(d->step_timer, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time(d->event, &d->step_timer, CLOCK_MONOTONIC, when, 10 * USEC_PER_MSEC,
                                      daemon_on_step, d);
                if (r >= 0)
                        (void) sd_event_source_set_description(d->step_timer, "step");
        }
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
        }
        if (old->interval_sec != c->interval_sec)
                (void) leader_set_poll_interval(d->leader, (uint64_t) c->interval_sec * USEC_PER_SEC);
        d->token_missing_logged = false;
        d->join_attempt = 0;
        reconciler_set_config(d->reconciler, c);
}

static int daemon_on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        Config *nc = NULL, *old = d->config;
        int r;

        /* RELOADING=1 … READY=1 brackets the reload, only once we told systemd READY=1 */
        if (d->ready_sent)
                (void) sd_notify(0, "RELOADING=1");
        r = config_load_args(&nc, d->args); /* verifies, logs the culprit */
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

        r = daemon_new(c, args, &d);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the daemon: %m");
                return SK_EXIT_FAILURE;
        }
        log_info("swarmkeeper run: %s %s, engine %s, managers %s%s.", role_to_string(c->role),
                 isempty(c->private_ip) ? "(no Host.PrivateIp)" : c->private_ip, c->socket,
                 strv_length(c->managers) ? "configured" : "none",
                 is_bootstrap(d) ? ", bootstrap manager" : "");
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
