/* SPDX-License-Identifier: MIT */
#include "membership.h"

#include "util.h"

MembershipDecision membership_decide(const MembershipInput *in) {
        switch (in->engine) {
        case DOCKER_SWARM_INACTIVE:
                break;
        case DOCKER_SWARM_ACTIVE:
                return (MembershipDecision) { MEMBERSHIP_NOTHING, MEMBERSHIP_IN_SWARM };
        default: /* pending, locked, error: the engine has swarm state of its own */
                return (MembershipDecision) { MEMBERSHIP_REJOIN_WAIT, MEMBERSHIP_ENGINE_REJOINING };
        }

        if (!in->manager || !in->bootstrap)
                return (MembershipDecision) { MEMBERSHIP_JOIN, MEMBERSHIP_NOT_BOOTSTRAP };
        /* First: whatever the volume and the others say, a token means there is a swarm. */
        if (in->has_token)
                return (MembershipDecision) { MEMBERSHIP_JOIN, MEMBERSHIP_HAS_TOKEN };
        if (in->peer_answered)
                return (MembershipDecision) { MEMBERSHIP_JOIN, MEMBERSHIP_PEER_ANSWERED };
        if (!in->fresh_volume)
                return (MembershipDecision) { MEMBERSHIP_JOIN, MEMBERSHIP_NOT_FRESH };
        if (in->n_peers == 0)
                return (MembershipDecision) { MEMBERSHIP_INIT, MEMBERSHIP_ALONE };
        if (in->quiet_usec < in->init_quiet_usec)
                return (MembershipDecision) { MEMBERSHIP_WAIT, MEMBERSHIP_QUIET_TOO_SHORT,
                                              in->init_quiet_usec - in->quiet_usec };
        return (MembershipDecision) { MEMBERSHIP_INIT, MEMBERSHIP_QUIET_LONG_ENOUGH };
}

static const char *const action_table[_MEMBERSHIP_ACTION_MAX] = {
        [MEMBERSHIP_NOTHING] = "nothing",     [MEMBERSHIP_REJOIN_WAIT] = "rejoin-wait",
        [MEMBERSHIP_WAIT] = "wait",           [MEMBERSHIP_JOIN] = "join",
        [MEMBERSHIP_INIT] = "init",
};

static const char *const reason_table[_MEMBERSHIP_REASON_MAX] = {
        [MEMBERSHIP_IN_SWARM] = "in-swarm",
        [MEMBERSHIP_ENGINE_REJOINING] = "engine-rejoining",
        [MEMBERSHIP_NOT_BOOTSTRAP] = "not-bootstrap",
        [MEMBERSHIP_HAS_TOKEN] = "has-token",
        [MEMBERSHIP_PEER_ANSWERED] = "peer-answered",
        [MEMBERSHIP_NOT_FRESH] = "volume-not-fresh",
        [MEMBERSHIP_QUIET_TOO_SHORT] = "quiet-too-short",
        [MEMBERSHIP_QUIET_LONG_ENOUGH] = "quiet-long-enough",
        [MEMBERSHIP_ALONE] = "alone",
};

const char *membership_action_to_string(MembershipAction a) {
        return a >= 0 && a < _MEMBERSHIP_ACTION_MAX ? action_table[a] : NULL;
}

const char *membership_reason_to_string(MembershipReason r) {
        return r >= 0 && r < _MEMBERSHIP_REASON_MAX ? reason_table[r] : NULL;
}
