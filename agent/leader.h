/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Swarm leadership of this node, kept current inside sd-event:
 *   - node events from the engine (leader_on_event) schedule a check right away and a
 *     couple of follow-ups while the cluster settles (an election shows up as a burst
 *     of node updates);
 *   - a slow safety poll (Reconcile.IntervalSec) catches anything the events missed;
 *   - leader_confirm_now() asks the engine synchronously, for callers about to act.
 * One check is one GET /nodes/<self>. Every change of leadership is logged with
 * SK_MESSAGE_LEADER_GAINED / SK_MESSAGE_LEADER_LOST; subscribers are called on any change
 * of this node's manager state (leadership, reachability, node state, role).
 */

#include <systemd/sd-event.h>

#include "docker.h"

typedef struct Leader Leader;

/* Called after a check changed anything; query with leader_is_leader()/leader_self(). */
typedef void (*LeaderHandler)(Leader *l, void *userdata);

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

/*
 * Ask the engine now. 1: this node leads, 0: it does not, negative errno: the engine
 * could not tell (treat as "not leader" before acting). Updates the state like any check.
 */
int leader_confirm_now(Leader *l);

/* Feed an engine event (from the /events stream). */
void leader_on_event(Leader *l, const DockerEvent *ev);

/* The events stream (re)connected: events may have been missed, check soon. */
void leader_kick(Leader *l);
