/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Swarm membership, the decision alone: given what the daemon knows of this host and
 * of its engine, what it does next: nothing, wait, join, or initialize a new swarm.
 * A pure function; daemon-membership.c gathers the input and acts on the answer.
 *
 * The rules (never a second swarm):
 *  - An engine in a swarm (active) is left alone; one on its way back (pending, locked,
 *    error) rejoins from its own state: it is waited for, never joined or initialized.
 *  - Only the bootstrap manager (Cluster.Role=manager and Host.PrivateIp ==
 *    Cluster.BootstrapManager) ever initializes a swarm, and only when all of these hold:
 *      it holds no join token: a token means a swarm exists, so a host that has one
 *        joins it, however long the other managers stay silent;
 *      its volume was formatted by `prepare` in this boot (the marker, volume.h): any
 *        other volume may hold the swarm's state;
 *      no other configured manager answers on the swarm port, and none has answered
 *        for init_quiet_usec in a row (with no other manager configured: at once).
 *  - Every other host not in a swarm joins (daemon-membership.c waits while it lacks a
 *    token or a manager to join).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "docker.h"

typedef enum MembershipAction {
        MEMBERSHIP_NOTHING,     /* in a swarm */
        MEMBERSHIP_REJOIN_WAIT, /* the engine rejoins from its own state: wait for it */
        MEMBERSHIP_WAIT,        /* the others have not been silent long enough yet (wait_usec) */
        MEMBERSHIP_JOIN,
        MEMBERSHIP_INIT,
        _MEMBERSHIP_ACTION_MAX,
} MembershipAction;

typedef enum MembershipReason {
        MEMBERSHIP_IN_SWARM,          /* NOTHING */
        MEMBERSHIP_ENGINE_REJOINING,  /* REJOIN_WAIT: pending, locked, error (or unknown) */
        MEMBERSHIP_NOT_BOOTSTRAP,     /* JOIN */
        MEMBERSHIP_HAS_TOKEN,         /* JOIN: a host with a join token never initializes */
        MEMBERSHIP_PEER_ANSWERED,     /* JOIN */
        MEMBERSHIP_NOT_FRESH,         /* JOIN: the volume was not formatted in this boot */
        MEMBERSHIP_QUIET_TOO_SHORT,   /* WAIT */
        MEMBERSHIP_QUIET_LONG_ENOUGH, /* INIT */
        MEMBERSHIP_ALONE,             /* INIT: no other manager is configured */
        _MEMBERSHIP_REASON_MAX,
} MembershipReason;

typedef struct MembershipInput {
        DockerSwarmState engine;  /* the engine's LocalNodeState */
        bool manager;             /* Cluster.Role=manager */
        bool bootstrap;           /* Host.PrivateIp == Cluster.BootstrapManager */
        bool has_token;           /* Cluster.JoinToken is set */
        bool fresh_volume;        /* prepare formatted the volume in this boot */
        size_t n_peers;           /* other managers asked on the swarm port */
        bool peer_answered;       /* one of them answered */
        uint64_t quiet_usec;      /* how long none of them has answered, in a row */
        uint64_t init_quiet_usec; /* how long that must be before an init */
} MembershipInput;

typedef struct MembershipDecision {
        MembershipAction action;
        MembershipReason reason;
        uint64_t wait_usec; /* WAIT: how much longer the others must stay silent */
} MembershipDecision;

MembershipDecision membership_decide(const MembershipInput *in);

const char *membership_action_to_string(MembershipAction a);
const char *membership_reason_to_string(MembershipReason r);
