/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Swarm leadership of this node, kept current inside sd-event:
 *   - node events from the engine (leader_on_event) schedule a check right away and a
 *     couple of follow-ups while the cluster settles (an election shows up as a burst
 *     of node updates);
 *   - a slow safety poll (Reconcile.IntervalSec) catches anything the events missed;
 *   - leader_confirm_blocking() answers a worker thread about to act (see below).
 * One check is one GET /nodes/<self>, on a worker thread (a Job) with its own Docker
 * client: the loop never waits for the engine. One check is in flight at a time; asking
 * for another meanwhile runs one more after it. A result that arrives after
 * leader_stop() or a leader_start() for another node is dropped. Every change of leadership is logged with
 * SK_MESSAGE_LEADER_GAINED / SK_MESSAGE_LEADER_LOST; subscribers are called on any change
 * of this node's manager state (leadership, reachability, node state, role).
 */

#include <systemd/sd-event.h>

#include "docker-events.h"
#include "docker.h"

typedef struct Leader Leader;

/* Called after a check changed anything; query with leader_is_leader()/leader_self(). */
typedef void (*LeaderHandler)(Leader *l, void *userdata);

/* docker: not owned, used for its socket, API version and timeout only (the checks make
 * their own clients); leader_set_docker() on a change. */
int leader_new(sd_event *event, Docker *docker, uint64_t poll_usec, Leader **ret);
Leader *leader_free(Leader *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(Leader *, leader_free);

/* Start following node_id (the local node; must be a manager's engine). Checks now. */
int leader_start(Leader *l, const char *node_id);
/* Stop polling; leadership is reported lost (if held) with `why`. */
void leader_stop(Leader *l, const char *why);
bool leader_running(const Leader *l);

void leader_set_docker(Leader *l, Docker *docker);
int leader_set_poll_interval(Leader *l, uint64_t poll_usec);

/* Up to 8 subscribers; the same (cb, userdata) pair is added once. */
int leader_subscribe(Leader *l, LeaderHandler cb, void *userdata);
void leader_unsubscribe(Leader *l, LeaderHandler cb, void *userdata);

/* What the last successful check said. */
bool leader_is_leader(const Leader *l);
/* The last inspection of this node (NULL before the first successful check). */
const DockerNode *leader_self(const Leader *l);
/* The last check's failure (negative errno), 0 if it succeeded. Subscribers are also
 * called when this changes. */
int leader_last_error(const Leader *l);
/* Usec (CLOCK_REALTIME) of the last leadership change, 0 if none yet. */
uint64_t leader_changed_usec(const Leader *l);

/* A check is in flight. */
bool leader_checking(const Leader *l);
/* Raise the cancel flag of the check in flight (at exit, before leader_free(), so that
 * all threads stop together); its result is dropped. */
void leader_cancel(Leader *l);

/*
 * Leadership and quorum from ONE `GET /nodes?filters={"role":["manager"]}`, for a worker
 * thread (a Job) about to act as leader: no Leader object, no loop, no side effects.
 *
 *   leader_quorum_parse(): pure; the engine's JSON answer + this node's ID → quorum.
 *   leader_quorum_from_nodes(): the same from an already parsed node list.
 *   leader_confirm_blocking(): the request with the caller's OWN client (one per thread;
 *     give it the Job's cancel flag with docker_set_cancel()), then the parse. Blocks up
 *     to the client's timeout (default 5 s).
 *
 * All three return 1: node_id is a manager and the leader; 0: it is not (not listed, not
 * a manager, or another node leads); negative errno: the engine could not tell (treat as
 * "not leader"): -EINVAL bad node ID, -EBADMSG malformed answer, or docker_call()'s errors
 * (-ENOTCONN: this engine is not a manager). ret (may be NULL) is filled when >= 0.
 * majority: more than half of the listed managers (ManagerStatus.Reachability
 * "reachable"; the leader counts itself) are reachable, i.e. the swarm has quorum now.
 */
typedef struct LeaderQuorum {
        bool self_found;          /* node_id is in the manager list */
        bool leader;              /* … and ManagerStatus.Leader */
        unsigned n_managers;      /* managers listed */
        unsigned n_reachable;     /* of those, Reachability "reachable" */
        bool majority;            /* quorum_has_majority(n_reachable, n_managers) */
} LeaderQuorum;

int leader_quorum_from_nodes(const DockerNode *nodes, size_t n, const char *node_id, LeaderQuorum *ret);
int leader_quorum_parse(const char *json, const char *node_id, LeaderQuorum *ret);
int leader_confirm_blocking(Docker *own_client, const char *node_id, LeaderQuorum *ret);

/*
 * The same question from the loop, without blocking and without side effects: one
 * `GET /nodes?filters={"role":["manager"]}` on a worker thread with its own client; cb runs
 * in the loop with leader_confirm_blocking()'s answer (r, and q when r >= 0). The Leader's
 * own state and subscribers are untouched. Needs leader_start() (the node ID): -ESTALE
 * otherwise; one at a time: -EBUSY while one is in flight. If leader_stop() or a
 * leader_start() for another node came in between, cb gets -ESTALE. leader_free()
 * cancels it without calling cb.
 */
typedef void (*LeaderConfirmHandler)(Leader *l, int r, const LeaderQuorum *q, void *userdata);
int leader_confirm_async(Leader *l, LeaderConfirmHandler cb, void *userdata);

/* Feed an engine event (from the /events stream). */
void leader_on_event(Leader *l, const DockerEvent *ev);

/* The events stream (re)connected: events may have been missed, check soon. */
void leader_kick(Leader *l);
