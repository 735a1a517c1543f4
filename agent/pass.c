/* SPDX-License-Identifier: MIT */
/*
 * One pass of the reconciler (see pass.h): the Pass object and its clients, then
 * pass_run(): observe, plan, log what changed, carry out the actions. pass_new() and
 * pass_free() run on the loop thread, pass_run() on the Job's worker thread (for `plan`
 * and `status`: all synchronously on the main thread).
 */
#include "pass.h"

#include <inttypes.h>
#include <time.h>

#include "act.h"
#include "aws-clients.h"
#include "log.h"
#include "messages.h"

#define RC_INFLIGHT_MAX_AGE_USEC (600 * USEC_PER_SEC)
/* A gap between two node listings above 2 × IntervalSec + this restarts every streak (a
 * pass itself may take this long: EC2 retries, a slow engine) */
#define RC_GAP_SLACK_USEC (30 * USEC_PER_SEC)
#define RC_DOCKER_TIMEOUT_MSEC 5000

void rc_clients_drop_subnets(RcClients *c) {
        ec2_subnet_list_done(&c->subnets);
        strv_free(c->subnet_ids);
        c->subnet_ids = NULL;
        c->subnets_usec = 0;
}

void rc_clients_done(RcClients *c) {
        AwsClients aws = { .imds = c->imds, .creds = c->creds, .ec2 = c->ec2 };

        rc_clients_drop_subnets(c);
        aws_clients_done(&aws);
        free(c->key);
        *c = (RcClients){};
}

Pass *pass_free(Pass *p) {
        if (!p)
                return NULL;
        rc_settings_unref(p->settings);
        rc_history_done(&p->history);
        if (p->planned)
                rc_plan_done(&p->plan);
        rc_world_done(&p->world);
        rc_clients_done(&p->clients);
        docker_free(p->docker);
        free(p);
        return NULL;
}

int pass_new(RcSettings *settings, const RcHistory *h, Pass **ret) {
        _cleanup_(pass_freep) Pass *p = calloc(1, sizeof(Pass));
        int r;

        if (!p)
                return -ENOMEM;
        p->settings = rc_settings_ref(settings);
        p->deadline_usec = now_usec(CLOCK_MONOTONIC) + RC_PASS_DEADLINE_USEC;
        if (h && (r = rc_history_copy(h, &p->history)) < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int pass_fail(Pass *p, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(p->error, sizeof(p->error), fmt, ap);
        va_end(ap);
        return -EIO;
}

bool pass_stopped(const Pass *p) {
        return (p->cancel && atomic_load(p->cancel)) || now_usec(CLOCK_MONOTONIC) >= p->deadline_usec;
}

int pass_docker(Pass *p) {
        int r;

        if (p->docker)
                return 0;
        r = docker_new_for_job(p->settings->socket, NULL, RC_DOCKER_TIMEOUT_MSEC, p->cancel, &p->docker);
        if (r < 0)
                return r;
        return docker_ping(p->docker);
}

/* What the EC2 clients are made from (no secret in it). */
int pass_clients_key(const Pass *p, char **ret) {
        return asprintf(ret, "%s|%s|%s|%d", strempty(p->settings->region), strempty(p->settings->endpoint),
                        strempty(p->settings->metadata_endpoint), p->settings->allow_plain_http) < 0 ? -ENOMEM : 0;
}

int pass_ec2(Pass *p) {
        const AwsClientsSpec spec = {
                .region = p->settings->region,
                .endpoint = p->settings->endpoint,
                .metadata_endpoint = p->settings->metadata_endpoint,
                .allow_plain_http = p->settings->allow_plain_http,
                .cancel = p->cancel,
        };
        AwsClients aws;
        char msg[sizeof(p->error)];
        int r;

        if (p->clients.ec2) {
                /* lent by the loop: this pass's cancel flag */
                imds_set_cancel(p->clients.imds, p->cancel);
                ec2_client_set_cancel(p->clients.ec2, p->cancel);
                return 0;
        }
        rc_clients_done(&p->clients);
        r = aws_clients_new(&spec, &aws, msg, sizeof(msg));
        if (r == -ECANCELED)
                return r; /* asking the metadata service for the region was cut short */
        if (r < 0)
                return pass_fail(p, "%s", msg);
        if (r > 0) /* once per set of clients: they are kept across passes */
                log_warning("Reconcile: %s.", msg);
        p->clients.imds = aws.imds;
        p->clients.creds = aws.creds;
        p->clients.ec2 = aws.ec2;
        /* short enough for the pass deadline */
        ec2_client_set_timeouts(p->clients.ec2, 3000, 20000);
        ec2_client_set_retry(p->clients.ec2, 4, 250 * USEC_PER_MSEC, 5 * USEC_PER_SEC);
        return pass_clients_key(p, &p->clients.key);
}

/* Log each action once: only what differs from the last pass's plan, by the action's
 * identity (rc_action_identity(): kind, wait code, ids; not its reason text). The steady
 * WAITs of a follower and of a complete swarm are not logged. */
static void pass_log_plan(Pass *p) {
        _cleanup_(strv_freep) char **keys = NULL;

        for (size_t i = 0; i < p->plan.n; i++) {
                const RcAction *a = &p->plan.actions[i];
                char line[512], key[RC_ACTION_IDENTITY_MAX];

                rc_action_identity(a, key, sizeof(key));
                (void) strv_extend(&keys, key);
                if (strv_contains(p->history.logged, key))
                        continue;
                p->plan_changed = true;
                if (a->wait == RC_WAIT_FOLLOWER || a->wait == RC_WAIT_SWARM_COMPLETE)
                        continue;
                rc_action_describe(a, line, sizeof(line));
                log_struct(a->kind == RC_ACTION_REPORT ? LOG_WARNING : LOG_INFO, 0, SK_MESSAGE_PLAN_ACTION,
                           LOG_FIELDS("SK_ACTION", rc_action_kind_to_string(a->kind), "SK_WAIT",
                                      a->kind == RC_ACTION_WAIT ? rc_wait_code_to_string(a->wait) : NULL,
                                      "SK_LOGICAL_ID", a->logical_id, "SK_INSTANCE_ID", a->instance_id, "SK_VOLUME_ID",
                                      a->volume_id, "SK_NODE_ID", a->node_id, "SK_DRY_RUN", p->settings->dry_run ? "yes" : NULL),
                           "Plan%s: %s", p->settings->dry_run ? " (DryRun)" : "", line);
        }
        if (strv_length(keys) != strv_length(p->history.logged))
                p->plan_changed = true; /* an action is done or gone */
        strv_free(p->history.logged);
        p->history.logged = TAKE_PTR(keys);
}

static void pass_node_back(Pass *p, uint64_t now) {
        const RcWorld *w = &p->world;

        for (size_t i = 0; w->nodes_ok && i < w->n_nodes; i++) {
                const DockerNode *n = &w->nodes[i];
                const RcNodeMark *m = history_mark(&p->history, n->id);
                uint64_t started = 0;
                char secs[32];

                if (!n->logical_id || !m ||
                    rc_history_recovery_done(&p->history, n->logical_id, m->healthy_since_usec, &started) <= 0)
                        continue;
                snprintf(secs, sizeof(secs), "%" PRIu64, (uint64_t) ((now - started + USEC_PER_SEC / 2) / USEC_PER_SEC));
                log_struct(LOG_NOTICE, 0, SK_MESSAGE_NODE_BACK,
                           LOG_FIELDS("SK_LOGICAL_ID", n->logical_id, "SK_NODE_ID", n->id, "SK_RECOVERY_SEC", secs),
                           "Reconcile: manager %s is back as node %s, Ready and Reachable, %s s after its "
                           "replacement began.", n->logical_id, n->id, secs);
        }
}

static bool logical_id_healthy(const RcWorld *w, const char *lid) {
        for (size_t i = 0; w->nodes_ok && i < w->n_nodes; i++)
                if (streq_ptr(w->nodes[i].logical_id, lid) && w->nodes[i].manager && node_healthy(&w->nodes[i]))
                        return true;
        return false;
}

static void pass_set_status(Pass *p) {
        p->status[0] = 0;
        if (p->quorum_loss_mode) {
                snprintf(p->status, sizeof(p->status), "no swarm leader: re-creating terminated managers");
                return;
        }
        /* the first change; else the first manager that is not healthy and waits */
        for (int pick_wait = 0; pick_wait < 2; pick_wait++)
                for (size_t i = 0; p->planned && i < p->plan.n; i++) {
                        const RcAction *a = &p->plan.actions[i];
                        if (a->kind == RC_ACTION_REPORT || (a->kind == RC_ACTION_WAIT) != pick_wait)
                                continue;
                        if (a->kind == RC_ACTION_WAIT && (!a->logical_id || logical_id_healthy(&p->world, a->logical_id)))
                                continue;
                        snprintf(p->status, sizeof(p->status), "reconcile: %s%s%s%s%s%s%s",
                                 a->kind == RC_ACTION_WAIT ? "waiting for" : rc_action_kind_to_string(a->kind),
                                 a->logical_id ? " " : "", strempty(a->logical_id),
                                 a->kind == RC_ACTION_WAIT ? " (" : "",
                                 a->kind == RC_ACTION_WAIT ? strempty(rc_wait_code_to_string(a->wait)) : "",
                                 a->kind == RC_ACTION_WAIT ? ")" : "", p->settings->dry_run ? " (DryRun)" : "");
                        return;
                }
}

/* A REPORT of a seat past its deadline: logged once per incident. */
static void pass_log_stuck(Pass *p, uint64_t now) {
        for (size_t i = 0; p->planned && i < p->plan.n; i++) {
                const RcAction *a = &p->plan.actions[i];
                RcSeatMemory *s = a->seat_stuck ? rc_history_seat(&p->history, a->logical_id, false) : NULL;
                char secs[32];

                if (!s || s->stuck_logged)
                        continue;
                snprintf(secs, sizeof(secs), "%" PRIu64,
                         (uint64_t) (s->busy_since_usec && now > s->busy_since_usec ? (now - s->busy_since_usec) / USEC_PER_SEC : 0));
                log_struct(LOG_WARNING, 0, SK_MESSAGE_SEAT_STUCK,
                           LOG_FIELDS("SK_LOGICAL_ID", a->logical_id, "SK_BUSY_SEC", secs, "SK_REASON", a->reason),
                           "Reconcile: the recovery of manager %s has not progressed for %s s; other managers "
                           "may be repaired first.", a->logical_id, secs);
                s->stuck_logged = true;
        }
}

/* The planner's view of what this pass saw and what is remembered. */
static int pass_view(Pass *p, uint64_t now, uint64_t wall, bool ec2_listed) {
        int r = rc_world_observe(&p->world, &p->history, now, p->engine_manager, ec2_listed, &p->obs, &p->mem);
        if (r < 0)
                return r;
        p->obs.self_instance_id = p->settings->self_instance_id;
        p->obs.realtime_usec = wall;
        return 0;
}

/* QUORUM_LOST when the mode turns to quorum-loss, QUORUM_RESTORED when a leader is back. */
static void pass_log_mode(Pass *p, uint64_t now) {
        if (p->mode == RC_MODE_QUORUM_LOSS) {
                if (!p->history.quorum_lost_logged) {
                        char secs[32];
                        snprintf(secs, sizeof(secs), "%" PRIu64,
                                 (uint64_t) ((now - p->history.no_leader_since_usec) / USEC_PER_SEC));
                        log_struct(LOG_WARNING, 0, SK_MESSAGE_QUORUM_LOST, LOG_FIELDS("SK_NO_LEADER_SEC", secs),
                                   "The swarm has had no leader for %s s: re-creating terminated managers "
                                   "whose volumes are intact, nothing else.", secs);
                        p->history.quorum_lost_logged = true;
                }
        } else if (p->history.quorum_lost_logged && (p->world.leader || p->world.any_leader)) {
                p->history.quorum_lost_logged = false;
                log_struct(LOG_NOTICE, 0, SK_MESSAGE_QUORUM_RESTORED, NULL, "The swarm has a leader again.");
        }
}

/*
 * pass_plan() observes and plans, pass_run() then acts (pass.h).
 *
 * The planner decides everything: the mode (rc_mode()), whether EC2 is listed
 * (rc_plan_needs_ec2()), and every action, including what is not done now (a WAIT with
 * its reason code). The executor observes, and carries out every change of the plan in
 * order; it skips one only when the re-check right before it shows that its precondition
 * no longer holds (ACTION_SKIPPED: the world changed since the listing).
 */
int pass_plan(Pass *p) {
        /* every streak, age and deadline on the monotonic clock: a step of the wall clock
         * neither fences nor waits; EC2's launch times alone are compared with wall */
        uint64_t now = now_usec(CLOCK_MONOTONIC), wall = now_usec(CLOCK_REALTIME);
        RcSpec spec;
        bool need_ec2;
        int r;

        p->now_usec = now;
        rc_settings_spec(p->settings, &spec);
        p->history.max_gap_usec = 2 * p->settings->interval_usec + RC_GAP_SLACK_USEC;

        r = pass_observe_nodes(p, now);
        if (r < 0)
                return r;
        r = pass_view(p, now, wall, false);
        if (r < 0)
                return r;
        p->mode = rc_mode(&spec, &p->obs, &p->mem);
        p->quorum_loss_mode = p->mode == RC_MODE_QUORUM_LOSS;
        if (!p->plan_only)
                pass_log_mode(p, now);
        need_ec2 = rc_plan_needs_ec2(&spec, &p->obs, &p->mem);
        p->amiss = rc_plan_amiss(&spec, &p->obs, &p->mem); /* passes follow each other faster */

        if (pass_stopped(p))
                return -ECANCELED;
        /* `plan` and `status` show the listings whatever the plan needs */
        if (need_ec2 || p->plan_only) {
                if (!p->plan_only)
                        p->history.ec2_observed_usec = now;
                r = pass_observe_ec2(p);
                if (r == -ECANCELED)
                        return r;
                /* a failed listing is recorded as such: the planner never calls it "missing" */
                rc_history_prune_inflight(&p->history, &p->world, now, RC_INFLIGHT_MAX_AGE_USEC);
                if (!p->plan_only)
                        pass_node_back(p, now);
                r = rc_history_remember_volumes(&p->history, &p->world);
                if (r < 0)
                        return r;
                if (p->world.volumes_ok)
                        p->history.unmarked_volumes = rc_world_unmarked_volumes(&p->world, p->settings->managers);
                if (p->world.instances_ok && p->world.volumes_ok && p->world.subnets_ok &&
                    pass_probe_volumes(p) == -ECANCELED)
                        return -ECANCELED;
                r = pass_view(p, now, wall, need_ec2);
                if (r < 0)
                        return r;
        } else
                log_debug("Reconcile: %s; EC2 not asked this pass.",
                          p->mode == RC_MODE_FOLLOWER ? "another node leads" : "the swarm is complete");

        r = rc_plan(&spec, &p->obs, &p->mem, &p->plan);
        if (r < 0)
                return pass_fail(p, "the planner refused: %s", strerror(-r));
        p->planned = true;
        pass_set_status(p);
        return 0;
}

int pass_run(Pass *p) {
        uint64_t now;
        char why[256];
        int r, failed = 0;

        r = pass_plan(p);
        if (r < 0)
                return r;
        now = p->now_usec;
        if (p->plan_only || p->mode == RC_MODE_FOLLOWER)
                return 0; /* a follower watches, the leader acts */
        pass_log_plan(p);
        /* a seat's deadline counts only passes that planned its managers */
        if (p->mode == RC_MODE_LEADER && p->obs.quorum && p->obs.instances_ok && p->obs.volumes_ok &&
            p->obs.subnets_ok && p->obs.nodes_ok &&
            !(p->plan.n == 1 && p->plan.actions[0].kind == RC_ACTION_WAIT && !p->plan.actions[0].logical_id)) {
                pass_log_stuck(p, now);
                rc_history_update_seats(&p->history, &p->plan, p->settings->managers, now);
        }
        if (p->settings->dry_run)
                return 0;

        for (size_t i = 0; i < p->plan.n; i++) {
                const RcAction *a = &p->plan.actions[i];

                if (a->kind == RC_ACTION_WAIT || a->kind == RC_ACTION_REPORT)
                        continue;
                if (pass_stopped(p))
                        return -ECANCELED;
                /* every action left changes EC2 or the swarm */
                why[0] = 0;
                r = pass_confirm(p, a, why, sizeof(why));
                if (r == RC_CONFIRM_SKIP) {
                        log_struct(LOG_NOTICE, 0, SK_MESSAGE_ACTION_SKIPPED,
                                   LOG_FIELDS("SK_ACTION", rc_action_kind_to_string(a->kind), "SK_LOGICAL_ID",
                                              a->logical_id, "SK_NODE_ID", a->node_id, "SK_REASON", why),
                                   "Reconcile: %s of node %s skipped: %s; the next pass decides again.",
                                   rc_action_kind_to_string(a->kind), strempty(a->node_id), why);
                        p->skipped++;
                        p->plan_changed = true; /* soon again */
                        continue;
                }
                if (r <= 0) {
                        log_warning("Reconcile: %s not confirmed right before %s; stopping this pass.",
                                    p->quorum_loss_mode ? "the absence of a leader" : "leadership",
                                    rc_action_kind_to_string(a->kind));
                        return -EPERM;
                }
                r = pass_act(p, a, now_usec(CLOCK_MONOTONIC));
                if (r == RC_ACT_NOT_YET) {
                        /* the next pass plans it again from EC2's state, at the cadence
                         * the plan's changes set: "not yet" is no change */
                        p->not_yet++;
                        continue;
                }
                if (r == -ECANCELED)
                        return r;
                /* logged, its key backed off (the next passes plan it as a WAIT until then);
                 * the other actions do not wait for it: a failing seat starves no other */
                if (r < 0 && failed == 0)
                        failed = r;
        }
        return failed;
}
