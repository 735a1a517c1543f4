/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What one pass saw (part of the reconcile executor, see reconciler.h): the EC2 and
 * engine listings a pass owns (RcWorld), leadership read from a node listing, and their
 * join with the history into the planner's RcObservation.
 *
 * Everything declared here is pure (no I/O). observe.c also holds the pass's observing
 * I/O, pass_observe_*() (declared in the internal pass.h). Both run on the Job's worker
 * thread inside `run`, or synchronously on the main thread for `plan` and `status`.
 */

#include "docker.h"
#include "ec2.h"
#include "reconcile.h"

struct RcHistory; /* rc-history.h (which includes this header) */

/* ---- what one pass saw ------------------------------------------------------------------- */

typedef struct RcSubnetInfo {
        char *id;
        char *cidr;
        char *availability_zone;
} RcSubnetInfo;

/* Owns the listings and everything the RcObservation built from it points to. */
typedef struct RcWorld {
        bool instances_ok, volumes_ok, subnets_ok, nodes_ok;
        Ec2InstanceList instances;
        Ec2VolumeList volumes;
        RcSubnetInfo *subnets;
        size_t n_subnets;
        DockerNode *nodes;
        size_t n_nodes;
        char *self_node_id;
        bool leader, quorum;          /* from the node listing */
        bool any_leader;              /* some manager is Leader in the listing */

        /* built by rc_world_observe() */
        RcInstance *rc_instances;
        RcVolume *rc_volumes;
        const char **rc_attached;
        RcSubnet *rc_subnets;
        RcNode *rc_nodes;
        RcInflight *rc_inflight;
        RcSeat *rc_seats;             /* from the history's seats */
        RcBackoffEntry *rc_backoff;   /* from the history's backoff */
        RcNodeStreak *rc_streaks;     /* from the history's node marks */
        RcVolumeAsked *rc_asked;      /* this pass's DescribeVolumes by id (kept in the history's
                                       * seats by pass_probe_volumes()) */
} RcWorld;

void rc_world_done(RcWorld *w);

/*
 * Leadership from a node listing (all nodes or managers only): leader = self is
 * Leader; quorum = more than half of the managers are Reachable; any_leader = some
 * manager is Leader.
 */
void rc_leadership_from_nodes(const DockerNode *nodes, size_t n, const char *self_id, bool *ret_leader,
                              bool *ret_quorum, bool *ret_any_leader);

/* The planner's input: obs from what w saw (ec2_listed: w's EC2 listings were asked this
 * pass), mem from what h remembers (the node streaks joined onto obs's nodes). Both point
 * into w and h, valid while both live. self_manager: this agent's engine is a manager.
 * now_usec: CLOCK_MONOTONIC (obs.realtime_usec and self_instance_id are left for the
 * caller). */
int rc_world_observe(RcWorld *w, const struct RcHistory *h, uint64_t now_usec, bool self_manager, bool ec2_listed,
                     RcObservation *ret_obs, RcMemory *ret_mem);

/* A complete volume listing shows an intact volume of one of managers (logical ids) that is
 * not tagged swarmkeeper:has-state=yes. */
bool rc_world_unmarked_volumes(const RcWorld *w, char *const *managers);

/* A node as the planner classifies it (shared by observe.c, rc-history.c, act.c, pass.c):
 * its state and manager status; bad = Down (and Unreachable for a manager); healthy =
 * Ready (and Reachable for a manager). volume_generation(): the swarmkeeper:generation
 * tag, strictly decimal; absent or malformed: 0. */
RcNodeState node_state(const char *s);
RcReachability node_reach(const DockerNode *n);
bool node_bad(const DockerNode *n);
bool node_healthy(const DockerNode *n);
uint64_t volume_generation(const char *s);
