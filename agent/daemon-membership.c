/* SPDX-License-Identifier: MIT */
/*
 * The membership step of `swarmkeeper run`: when the engine is not in a swarm, gather the
 * input of membership_decide() (membership.h: pure) — the other managers' answer on the
 * swarm port, the quiet period, the formatted marker, the join token — and act on it:
 * start the swarm init or join job and handle its result (backoff, logs, STATUS, erasing
 * the token after a join). I/O around the pure decision. Runs on the event loop's thread,
 * except daemon_probe_swarm_port(), which runs on the engine probe Job's worker thread
 * (job.h). The Daemon object is daemon.c's (daemon-internal.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "daemon-internal.h"
#include "log.h"
#include "membership.h"
#include "messages.h"
#include "volume.h"

/* Membership retries: at least JOIN_RETRY_MIN_USEC apart, so that an engine that keeps
 * failing sees at most 3 attempts in any 10 s; then exponential with jitter. */
#define JOIN_RETRY_MIN_USEC (5 * USEC_PER_SEC)
#define JOIN_RETRY_BASE_USEC (2 * USEC_PER_SEC)
#define JOIN_RETRY_CAP_USEC (25 * USEC_PER_SEC)
#define PROBE_TIMEOUT_MSEC 1000

/* Engine text may echo what we sent. docker.c masks anything that looks like a join
 * token; this masks the configured one too, whatever it looks like. */
static void scrub_token(char *text, const char *token) {
        char *p;
        size_t n;

        if (isempty(token) || !text)
                return;
        n = strlen(token);
        while ((p = strstr(text, token)))
                memset(p, '*', n);
}

/* A swarm was initialized or joined: the fresh volume is in use now. The marker,
 * $RUNTIME_DIRECTORY/formatted, is the file `prepare` leaves when it formatted the
 * volume in this boot (volume.h has the contract). */
static void formatted_marker_remove(void) {
        _cleanup_(freep) char *p = NULL;
        int r = volume_formatted_marker_remove();
        if (r < 0)
                log_warning_errno(r, "Cannot remove %s: %m",
                                  volume_formatted_marker_path(&p) >= 0 ? p : VOLUME_FORMATTED_MARKER);
}

/* Does anything listen on ip:2377? 1 yes, 0 no (within PROBE_TIMEOUT_MSEC; a cancel
 * ends the wait early). */
int daemon_probe_swarm_port(const char *ip, const atomic_bool *cancel) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(DOCKER_SWARM_PORT) };
        _cleanup_(closep) int fd = -1;
        struct pollfd p;
        int err = 0, n = 0;
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
        for (int waited = 0; waited < PROBE_TIMEOUT_MSEC && n == 0; waited += 100) {
                if (cancel && atomic_load(cancel))
                        return 0;
                p = (struct pollfd){ .fd = fd, .events = POLLOUT };
                n = poll(&p, 1, 100);
        }
        if (n <= 0)
                return 0;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
                return 0;
        return 1;
}

static bool is_self(const Daemon *d, const char *ip) {
        return !isempty(d->config->private_ip) && streq(ip, d->config->private_ip);
}

bool daemon_is_bootstrap(const Daemon *d) {
        return d->config->role == ROLE_MANAGER && !isempty(d->config->bootstrap_manager) &&
               is_self(d, d->config->bootstrap_manager);
}

/* After a failed init or join: no new attempt before the backoff says so. */
uint64_t daemon_membership_backoff(Daemon *d) {
        uint64_t delay = JOIN_RETRY_MIN_USEC +
                         backoff_full_jitter_usec(d->join_attempt++, JOIN_RETRY_BASE_USEC, JOIN_RETRY_CAP_USEC);
        d->membership_not_before = now_usec(CLOCK_MONOTONIC) + delay;
        return delay;
}

static void daemon_init_swarm(Daemon *d) {
        const char *addr = d->config->private_ip;
        EngineJob *e;
        int r;

        e = calloc(1, sizeof(*e));
        if (!e)
                return daemon_oom(d);
        e->op = ENGINE_OP_INIT;
        if (!isempty(addr) && !(e->advertise = strdup(addr))) {
                engine_job_free(e);
                return daemon_oom(d);
        }
        daemon_status(d, "initializing swarm, advertising %s", isempty(addr) ? "the default address" : addr);
        r = daemon_engine_job(d, e);
        if (r < 0) {
                log_warning_errno(r, "Cannot start the swarm init: %m");
                daemon_schedule(d, SETTLE_POLL_USEC);
        }
}

void daemon_init_done(Daemon *d, EngineJob *e) {
        const char *addr = d->config->private_ip;

        if (e->r < 0) {
                if (!e->answered && e->r != -ETIMEDOUT) {
                        (void) daemon_membership_backoff(d);
                        return daemon_engine_lost(d, e->r, false, e->error);
                }
                log_warning_errno(e->r, "Failed to initialize the swarm: %s; retrying.", strempty(e->error));
                daemon_status(d, "initializing swarm failed, retrying");
                return daemon_schedule(d, daemon_membership_backoff(d));
        }
        d->join_attempt = 0;
        d->quiet_since_usec = 0;
        formatted_marker_remove();
        log_struct(LOG_NOTICE, 0, SK_MESSAGE_SWARM_INITIALIZED,
                   LOG_FIELDS("SK_NODE_ID", e->node_id, "SK_ADVERTISE_ADDR", addr),
                   "Initialized a new swarm as its first manager (node %s, advertising %s).", strempty(e->node_id),
                   isempty(addr) ? "the default address" : addr);
        daemon_schedule(d, 0);
}

/* The other managers as "ip:2377"; NULL (and 0) when there is none. */
int daemon_other_managers(const Daemon *d, bool with_port, char ***ret) {
        _cleanup_(strv_freep) char **l = NULL;
        int r;

        STRV_FOREACH(m, d->config->managers)
                if (!is_self(d, *m)) {
                        _cleanup_(freep) char *a = NULL;
                        if (with_port ? asprintf(&a, "%s:%d", *m, DOCKER_SWARM_PORT) < 0 : !(a = strdup(*m)))
                                return -ENOMEM;
                        r = strv_consume(&l, TAKE_PTR(a));
                        if (r < 0)
                                return r;
                }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Not in a swarm and nothing to do now: when to look again. The bootstrap manager keeps
 * probing the others every couple of seconds (its quiet period must be measured). */
static uint64_t daemon_idle_usec(const Daemon *d) {
        return daemon_is_bootstrap(d) ? 2 * SETTLE_POLL_USEC : (uint64_t) d->config->interval_sec * USEC_PER_SEC;
}

static void daemon_join_swarm(Daemon *d) {
        _cleanup_(strv_freep) char **remotes = NULL;
        _cleanup_(freep) char *list = NULL;
        EngineJob *e;
        int r;

        if (daemon_other_managers(d, true, &remotes) < 0)
                return daemon_oom(d);
        list = strv_join(remotes, ", ");
        if (!list)
                return daemon_oom(d);

        if (!remotes) {
                if (!d->token_missing_logged)
                        log_error("Not in a swarm and Cluster.Managers names no other manager to join; "
                                  "set Cluster.Managers (or Cluster.BootstrapManager to this host) and reload.");
                d->token_missing_logged = true;
                daemon_status(d, "not in a swarm: no other manager configured to join");
                return daemon_schedule(d, daemon_idle_usec(d));
        }
        if (isempty(d->config->join_token)) {
                if (!d->token_missing_logged)
                        log_error("Not in a swarm, and Cluster.JoinToken is not set: cannot join via %s. "
                                  "Set it (e.g. in a drop-in) and reload.", list);
                d->token_missing_logged = true;
                daemon_status(d, "not in a swarm: waiting for Cluster.JoinToken to join via %s", list);
                return daemon_schedule(d, daemon_idle_usec(d));
        }
        d->token_missing_logged = false;

        e = calloc(1, sizeof(*e));
        if (!e)
                return daemon_oom(d);
        e->op = ENGINE_OP_JOIN;
        e->remotes = TAKE_PTR(remotes);
        e->token = strdup(d->config->join_token);
        if (!e->token || (!isempty(d->config->private_ip) && !(e->advertise = strdup(d->config->private_ip)))) {
                engine_job_free(e);
                return daemon_oom(d);
        }
        daemon_status(d, "joining swarm via %s", list);
        r = daemon_engine_job(d, e);
        if (r < 0) {
                log_warning_errno(r, "Cannot start the swarm join: %m");
                daemon_schedule(d, SETTLE_POLL_USEC);
        }
}

void daemon_join_done(Daemon *d, EngineJob *e) {
        _cleanup_(freep) char *list = strv_join(e->remotes, ", ");

        if (e->r == -ETIMEDOUT && !e->answered) {
                log_info("Joining the swarm via %s takes a while; the engine continues in the background.",
                         strempty(list));
                (void) daemon_membership_backoff(d); /* if it gave up, the next try waits */
                return daemon_schedule(d, SETTLE_POLL_USEC);
        }
        if (e->r < 0) {
                scrub_token(e->error, d->config->join_token);
                if (!e->answered) {
                        (void) daemon_membership_backoff(d);
                        return daemon_engine_lost(d, e->r, false, e->error);
                }
                /* the engine answered: an engine error, not an unreachable engine */
                uint64_t delay = daemon_membership_backoff(d);
                log_warning_errno(e->r, "Failed to join the swarm via %s: the engine answered HTTP %ld: %s; "
                                  "retrying in %llu s.", strempty(list), e->status, strempty(e->error),
                                  (unsigned long long) ((delay + USEC_PER_SEC - 1) / USEC_PER_SEC));
                daemon_status(d, "joining swarm via %s failed (engine error), retrying", strempty(list));
                return daemon_schedule(d, delay);
        }
        d->join_attempt = 0;
        formatted_marker_remove();
        /* the engine keeps what it needs; our copy of the token has served */
        (void) config_erase_secret(d->config, CONFIG_CLUSTER_JOIN_TOKEN);
        log_struct(LOG_NOTICE, 0, SK_MESSAGE_SWARM_JOINED, LOG_FIELDS("SK_REMOTES", list),
                   "Joined the swarm via %s.", strempty(list));
        daemon_schedule(d, 0);
}

/* Not in a swarm: init or join, as membership_decide() says (membership.h). */
void daemon_not_in_swarm(Daemon *d, EngineJob *e) {
        uint64_t now = now_usec(CLOCK_MONOTONIC), quiet;
        MembershipDecision m;
        bool fresh;

        if (now < d->membership_not_before)
                return daemon_schedule(d, d->membership_not_before - now);

        /* the quiet period: every other manager silent on the swarm port, in a row */
        if (e->answering)
                d->quiet_since_usec = 0;
        quiet = d->quiet_since_usec > 0 ? now - d->quiet_since_usec : 0;
        fresh = volume_formatted_marker_exists();
        m = membership_decide(&(const MembershipInput) {
                .engine = e->info.state,
                .manager = d->config->role == ROLE_MANAGER,
                .bootstrap = daemon_is_bootstrap(d),
                .has_token = !isempty(d->config->join_token),
                .fresh_volume = fresh,
                .n_peers = strv_length(e->probe),
                .peer_answered = e->answering != NULL,
                .quiet_usec = quiet,
                .init_quiet_usec = d->init_quiet_usec,
        });
        if (m.reason == MEMBERSHIP_QUIET_TOO_SHORT || m.reason == MEMBERSHIP_QUIET_LONG_ENOUGH ||
            m.reason == MEMBERSHIP_ALONE)
                d->no_marker_logged = false;
        if (m.reason != MEMBERSHIP_HAS_TOKEN)
                d->token_no_init_logged = false;

        switch (m.reason) {
        case MEMBERSHIP_PEER_ANSWERED:
                log_struct(LOG_INFO, 0, SK_MESSAGE_INIT_WITHHELD,
                           LOG_FIELDS("SK_REASON", "peer-answered", "SK_PEER", e->answering),
                           "Manager %s answers on the swarm port: joining instead of initializing.", e->answering);
                break;
        case MEMBERSHIP_HAS_TOKEN:
                if (!d->token_no_init_logged && fresh && !e->answering)
                        log_struct(LOG_NOTICE, 0, SK_MESSAGE_INIT_WITHHELD, LOG_FIELDS("SK_REASON", "has-token"),
                                   "This host holds a join token: it joins the existing swarm and never "
                                   "initializes a new one, however long the other managers stay silent.");
                d->token_no_init_logged = true;
                break;
        case MEMBERSHIP_NOT_FRESH:
                if (!d->no_marker_logged) {
                        _cleanup_(freep) char *p = NULL;
                        (void) volume_formatted_marker_path(&p);
                        log_struct(LOG_NOTICE, 0, SK_MESSAGE_INIT_WITHHELD,
                                   LOG_FIELDS("SK_REASON", "not-fresh", "SK_MARKER", strempty(p)),
                                   "No other manager answers, but this host's volume was not freshly formatted "
                                   "in this boot (no %s): not initializing a new swarm; joining instead.",
                                   strempty(p));
                }
                d->no_marker_logged = true;
                break;
        case MEMBERSHIP_QUIET_TOO_SHORT:
                if (d->quiet_since_usec == 0)
                        d->quiet_since_usec = now;
                /* one STATUS (and one log line) for the whole wait, not one a second */
                daemon_status(d, "not in a swarm: no other manager answers; initializing a new swarm "
                              "once none has for %llu s",
                              (unsigned long long) (d->init_quiet_usec / USEC_PER_SEC));
                return daemon_schedule(d, m.wait_usec < SETTLE_POLL_USEC ? m.wait_usec : SETTLE_POLL_USEC);
        case MEMBERSHIP_QUIET_LONG_ENOUGH:
                log_notice("No other manager answered on the swarm port for %llu s.",
                           (unsigned long long) (quiet / USEC_PER_SEC));
                break;
        default:
                break;
        }

        switch (m.action) {
        case MEMBERSHIP_INIT:
                return daemon_init_swarm(d);
        case MEMBERSHIP_JOIN:
                return daemon_join_swarm(d);
        default: /* the engine is in a swarm after all: daemon_probe_done() handles those states */
                return daemon_schedule(d, SETTLE_POLL_USEC);
        }
}

