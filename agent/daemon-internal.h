/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Internal to `swarmkeeper run` (daemon.c, daemon-membership.c): the Daemon loop object,
 * the engine job, and what the two files call of each other. Not for other modules: they
 * use daemon.h. Everything here runs on the event loop's thread, except
 * daemon_probe_swarm_port() (a Job's worker thread, see job.h).
 */

#include <systemd/sd-event.h>

#include "config.h"
#include "docker-events.h"
#include "docker.h"
#include "job.h"
#include "leader.h"
#include "reconciler.h"

#define SETTLE_POLL_USEC (1 * USEC_PER_SEC)

typedef struct Daemon Daemon;

/* One engine job: what it needs (copies) and what it found. */
typedef enum EngineOp {
        ENGINE_OP_PROBE,        /* [ping,] /info, and when not in a swarm the other managers' ports */
        ENGINE_OP_INIT,
        ENGINE_OP_JOIN,
} EngineOp;

typedef struct EngineJob {
        Daemon *daemon;
        EngineOp op;
        char *socket;
        char api_version[16];
        bool ping;              /* PROBE: the engine is not known to be up */
        char **probe;           /* PROBE: other managers' IPs, asked when not in a swarm */
        char **remotes;         /* JOIN */
        char *token;            /* JOIN: a copy, erased with the job */
        char *advertise;        /* INIT, JOIN */
        /* results */
        int r;                  /* of the request that failed */
        bool answered;          /* … which got an HTTP answer (an engine error, not a transport one) */
        long status;
        char *error;            /* its text, join tokens masked */
        DockerInfo info;
        bool have_info;
        char *answering;        /* PROBE: a manager that answered on the swarm port */
        char *node_id;          /* INIT */
} EngineJob;

struct Daemon {
        Config *config;             /* current; == owned_config after a reload */
        Config *owned_config;
        const ConfigArgs *args;

        sd_event *event;
        sd_event_source *step_timer;
        sd_event_source *sigterm, *sigint, *sighup;

        Docker *docker;             /* settings only (socket, API version): requests run in jobs */
        Job *job;                   /* the engine job in flight */
        bool step_pending;          /* a step was due while the job ran */
        uint64_t membership_not_before; /* CLOCK_MONOTONIC: no init/join before this */
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

        /* bootstrap */
        uint64_t init_quiet_usec;   /* how long every other manager must stay silent */
        uint64_t quiet_since_usec;  /* CLOCK_MONOTONIC of the first silent probe in a row; 0: none */
        bool no_marker_logged;
        bool token_no_init_logged;
};

/* daemon.c: the loop */
void daemon_schedule(Daemon *d, uint64_t usec);
/* STATUS= and a log line, when the text changed. */
_printf_(2, 3) void daemon_status(Daemon *d, const char *fmt, ...);
/* Log the failed allocation; a step follows. */
void daemon_oom(Daemon *d);
void engine_job_free(void *userdata);
/* Start an engine job; takes e (also on failure). */
int daemon_engine_job(Daemon *d, EngineJob *e);
void daemon_engine_lost(Daemon *d, int error, bool answered, const char *why);

/* daemon-membership.c: init / join */
/* Does anything listen on ip:2377? 1 yes, 0 no. On a Job's worker thread. */
int daemon_probe_swarm_port(const char *ip, const atomic_bool *cancel);
bool daemon_is_bootstrap(const Daemon *d);
/* The other managers (as "ip:2377" with_port); NULL (and 0) when there is none. */
int daemon_other_managers(const Daemon *d, bool with_port, char ***ret);
/* After a failed init or join: no new attempt before the returned delay. */
uint64_t daemon_membership_backoff(Daemon *d);
void daemon_init_done(Daemon *d, EngineJob *e);
void daemon_join_done(Daemon *d, EngineJob *e);
/* Not in a swarm: init or join, as membership_decide() says. */
void daemon_not_in_swarm(Daemon *d, EngineJob *e);
