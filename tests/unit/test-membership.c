/* SPDX-License-Identifier: MIT */
/* membership_decide(): init, join or wait, one row per world. */
#include "membership.h"
#include "test.h"

#define S USEC_PER_SEC
#define QUIET (30 * S)

enum { MGR = 1 << 0, BOOT = 1 << 1, TOKEN = 1 << 2, FRESH = 1 << 3, ANSWER = 1 << 4 };

static void test_table(void) {
        const struct {
                const char *name;
                DockerSwarmState engine;
                unsigned flags;
                size_t peers;
                uint64_t quiet;
                MembershipAction action;
                MembershipReason reason;
                uint64_t wait;
        } rows[] = {
                /* the first boot of the cluster: the bootstrap manager alone inits */
                { "bootstrap, fresh, no token, silent 30 s: init", DOCKER_SWARM_INACTIVE, MGR | BOOT | FRESH, 2, QUIET,
                  MEMBERSHIP_INIT, MEMBERSHIP_QUIET_LONG_ENOUGH, 0 },
                { "bootstrap, fresh, no token, silent 31 s: init", DOCKER_SWARM_INACTIVE, MGR | BOOT | FRESH, 2,
                  QUIET + S, MEMBERSHIP_INIT, MEMBERSHIP_QUIET_LONG_ENOUGH, 0 },
                { "bootstrap, fresh, no token, silent 10 s: wait 20 s more", DOCKER_SWARM_INACTIVE,
                  MGR | BOOT | FRESH, 2, 10 * S, MEMBERSHIP_WAIT, MEMBERSHIP_QUIET_TOO_SHORT, 20 * S },
                { "bootstrap, fresh, no token, first probe: wait 30 s", DOCKER_SWARM_INACTIVE, MGR | BOOT | FRESH, 2,
                  0, MEMBERSHIP_WAIT, MEMBERSHIP_QUIET_TOO_SHORT, QUIET },
                { "bootstrap, fresh, no token, cluster of one: init at once", DOCKER_SWARM_INACTIVE,
                  MGR | BOOT | FRESH, 0, 0, MEMBERSHIP_INIT, MEMBERSHIP_ALONE, 0 },
                { "bootstrap, fresh, no token, a peer answers: join", DOCKER_SWARM_INACTIVE,
                  MGR | BOOT | FRESH | ANSWER, 2, QUIET, MEMBERSHIP_JOIN, MEMBERSHIP_PEER_ANSWERED, 0 },
                { "bootstrap, old volume, no token, silent for long: join, never init", DOCKER_SWARM_INACTIVE,
                  MGR | BOOT, 2, 3600 * S, MEMBERSHIP_JOIN, MEMBERSHIP_NOT_FRESH, 0 },
                { "bootstrap, old volume, cluster of one: join, never init", DOCKER_SWARM_INACTIVE, MGR | BOOT, 0, 0,
                  MEMBERSHIP_JOIN, MEMBERSHIP_NOT_FRESH, 0 },
                /* issue 14: a token means a swarm exists; the old logic inited here after 30 s */
                { "bootstrap, token, fresh volume, no peer for 30 s: join, never init", DOCKER_SWARM_INACTIVE,
                  MGR | BOOT | TOKEN | FRESH, 2, QUIET, MEMBERSHIP_JOIN, MEMBERSHIP_HAS_TOKEN, 0 },
                { "bootstrap, token, fresh volume, no peer for an hour: join, never init", DOCKER_SWARM_INACTIVE,
                  MGR | BOOT | TOKEN | FRESH, 2, 3600 * S, MEMBERSHIP_JOIN, MEMBERSHIP_HAS_TOKEN, 0 },
                { "bootstrap, token, fresh volume, first probe: join, no init wait", DOCKER_SWARM_INACTIVE,
                  MGR | BOOT | TOKEN | FRESH, 2, 0, MEMBERSHIP_JOIN, MEMBERSHIP_HAS_TOKEN, 0 },
                { "bootstrap, token, fresh volume, cluster of one: join, never init", DOCKER_SWARM_INACTIVE,
                  MGR | BOOT | TOKEN | FRESH, 0, 0, MEMBERSHIP_JOIN, MEMBERSHIP_HAS_TOKEN, 0 },
                { "bootstrap, token, a peer answers: join", DOCKER_SWARM_INACTIVE, MGR | BOOT | TOKEN | FRESH | ANSWER,
                  2, 0, MEMBERSHIP_JOIN, MEMBERSHIP_HAS_TOKEN, 0 },
                /* nobody else ever inits */
                { "manager, not bootstrap, fresh, silent: join", DOCKER_SWARM_INACTIVE, MGR | FRESH, 2, 3600 * S,
                  MEMBERSHIP_JOIN, MEMBERSHIP_NOT_BOOTSTRAP, 0 },
                { "manager, not bootstrap, token, fresh: join", DOCKER_SWARM_INACTIVE, MGR | TOKEN | FRESH, 2,
                  3600 * S, MEMBERSHIP_JOIN, MEMBERSHIP_NOT_BOOTSTRAP, 0 },
                { "worker naming itself bootstrap, fresh, silent: join", DOCKER_SWARM_INACTIVE, BOOT | FRESH, 2,
                  3600 * S, MEMBERSHIP_JOIN, MEMBERSHIP_NOT_BOOTSTRAP, 0 },
                { "worker, token: join", DOCKER_SWARM_INACTIVE, TOKEN, 0, 0, MEMBERSHIP_JOIN,
                  MEMBERSHIP_NOT_BOOTSTRAP, 0 },
                /* an engine with swarm state of its own is left to it */
                { "bootstrap, fresh, engine active: nothing", DOCKER_SWARM_ACTIVE, MGR | BOOT | FRESH, 2, QUIET,
                  MEMBERSHIP_NOTHING, MEMBERSHIP_IN_SWARM, 0 },
                { "manager, engine pending (rejoining from its volume): wait", DOCKER_SWARM_PENDING, MGR | TOKEN, 2,
                  QUIET, MEMBERSHIP_REJOIN_WAIT, MEMBERSHIP_ENGINE_REJOINING, 0 },
                { "bootstrap, fresh, engine pending, silent: wait, never init", DOCKER_SWARM_PENDING,
                  MGR | BOOT | FRESH, 2, 3600 * S, MEMBERSHIP_REJOIN_WAIT, MEMBERSHIP_ENGINE_REJOINING, 0 },
                { "bootstrap, fresh, engine locked: wait", DOCKER_SWARM_LOCKED, MGR | BOOT | FRESH, 2, QUIET,
                  MEMBERSHIP_REJOIN_WAIT, MEMBERSHIP_ENGINE_REJOINING, 0 },
                { "bootstrap, fresh, engine error: wait", DOCKER_SWARM_ERROR, MGR | BOOT | FRESH, 2, QUIET,
                  MEMBERSHIP_REJOIN_WAIT, MEMBERSHIP_ENGINE_REJOINING, 0 },
                { "worker, engine active: nothing", DOCKER_SWARM_ACTIVE, 0, 0, 0, MEMBERSHIP_NOTHING,
                  MEMBERSHIP_IN_SWARM, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                MembershipInput in = {
                        .engine = rows[i].engine,
                        .manager = rows[i].flags & MGR,
                        .bootstrap = rows[i].flags & BOOT,
                        .has_token = rows[i].flags & TOKEN,
                        .fresh_volume = rows[i].flags & FRESH,
                        .n_peers = rows[i].peers,
                        .peer_answered = rows[i].flags & ANSWER,
                        .quiet_usec = rows[i].quiet,
                        .init_quiet_usec = QUIET,
                };
                MembershipDecision m = membership_decide(&in);

                if (m.action != rows[i].action || m.reason != rows[i].reason)
                        fprintf(stderr, "row '%s': %s (%s), expected %s (%s)\n", rows[i].name,
                                strempty(membership_action_to_string(m.action)),
                                strempty(membership_reason_to_string(m.reason)),
                                membership_action_to_string(rows[i].action),
                                membership_reason_to_string(rows[i].reason));
                CHECK_INT(m.action, rows[i].action);
                CHECK_INT(m.reason, rows[i].reason);
                if (rows[i].action == MEMBERSHIP_WAIT)
                        CHECK_INT(m.wait_usec, rows[i].wait);
        }
}

/* The rule as a property: over every combination of the inputs, an init needs the
 * bootstrap manager, no token, a fresh volume, an inactive engine and no answer. */
static void test_init_only_when(void) {
        static const DockerSwarmState engines[] = { DOCKER_SWARM_INACTIVE, DOCKER_SWARM_PENDING,
                                                    DOCKER_SWARM_ACTIVE, DOCKER_SWARM_ERROR, DOCKER_SWARM_LOCKED };
        static const uint64_t quiets[] = { 0, 1, QUIET - 1, QUIET, 100 * QUIET };
        unsigned inits = 0;

        for (size_t e = 0; e < ELEMENTSOF(engines); e++)
                for (unsigned f = 0; f < 32; f++)
                        for (size_t peers = 0; peers <= 2; peers++)
                                for (size_t q = 0; q < ELEMENTSOF(quiets); q++) {
                                        MembershipInput in = {
                                                .engine = engines[e],
                                                .manager = f & MGR,
                                                .bootstrap = f & BOOT,
                                                .has_token = f & TOKEN,
                                                .fresh_volume = f & FRESH,
                                                .n_peers = peers,
                                                .peer_answered = peers > 0 && (f & ANSWER),
                                                .quiet_usec = quiets[q],
                                                .init_quiet_usec = QUIET,
                                        };
                                        MembershipDecision m = membership_decide(&in);
                                        bool may = engines[e] == DOCKER_SWARM_INACTIVE && in.manager &&
                                                   in.bootstrap && !in.has_token && in.fresh_volume &&
                                                   !in.peer_answered && (peers == 0 || quiets[q] >= QUIET);
                                        if (m.action == MEMBERSHIP_INIT && !may)
                                                fprintf(stderr, "init where it must not: engine %d flags %#x "
                                                        "peers %zu quiet %llu\n", engines[e], f, peers,
                                                        (unsigned long long) quiets[q]);
                                        CHECK_INT(m.action == MEMBERSHIP_INIT, may);
                                        inits += m.action == MEMBERSHIP_INIT;
                                }
        CHECK(inits > 0);
}

static void test_strings(void) {
        for (int a = 0; a < _MEMBERSHIP_ACTION_MAX; a++)
                CHECK(membership_action_to_string(a) != NULL);
        for (int r = 0; r < _MEMBERSHIP_REASON_MAX; r++)
                CHECK(membership_reason_to_string(r) != NULL);
        CHECK(membership_action_to_string(_MEMBERSHIP_ACTION_MAX) == NULL);
        CHECK_STR(membership_action_to_string(MEMBERSHIP_REJOIN_WAIT), "rejoin-wait");
}

int main(void) {
        test_table();
        test_init_only_when();
        test_strings();
        return test_done("test-membership");
}
