/* SPDX-License-Identifier: MIT */
/*
 * Carrying out the planner's actions (see act.h): the re-check right before a
 * destructive one, then RunInstances, AttachVolume, TerminateInstances, CreateVolume,
 * CreateTags and the engine's node update, node removal and token rotation, each logged
 * once by its failure or its success. I/O (EC2, the engine), on the Job's worker thread;
 * never in a `plan_only` pass.
 */
#include "act.h"

#include <inttypes.h>
#include <time.h>

#include "leader.h"
#include "log.h"
#include "messages.h"
#include "pass.h"

#define RC_DEVICE "/dev/sdf"

bool rc_action_needs_recheck(const RcAction *a) {
        return a && (a->kind == RC_ACTION_FENCE || a->kind == RC_ACTION_DEMOTE || a->kind == RC_ACTION_REMOVE_NODE);
}

int rc_action_still_holds(const RcAction *a, const DockerNode *nodes, size_t n, char *why, size_t why_size) {
        const DockerNode *x = NULL;
        size_t managers = 0, reachable = 0;

        if (!rc_action_needs_recheck(a))
                return 1;
        for (size_t i = 0; i < n; i++) {
                if (nodes[i].manager) {
                        managers++;
                        reachable += node_reach(&nodes[i]) == RC_REACH_REACHABLE;
                }
                if (a->node_id && streq_ptr(nodes[i].id, a->node_id))
                        x = &nodes[i];
        }
        if (!x) {
                (void) snprintf(why, why_size, "node %s is no longer listed", strempty(a->node_id));
                return 0;
        }
        switch (a->kind) {
        case RC_ACTION_FENCE:
                if (node_state(x->state) != RC_NODE_DOWN || node_reach(x) != RC_REACH_UNREACHABLE) {
                        (void) snprintf(why, why_size, "node %s is now %s, %s", x->id, strempty(x->state),
                                        x->reachability ?: "no manager status");
                        return 0;
                }
                return 1;
        case RC_ACTION_DEMOTE:
                if (!x->manager || node_reach(x) == RC_REACH_REACHABLE) {
                        (void) snprintf(why, why_size, "node %s is now %s", x->id,
                                        x->manager ? "Reachable" : "no manager");
                        return 0;
                }
                /* without it, a majority of the rest must stay reachable */
                if (managers <= 1 || !quorum_has_majority(reachable, managers - 1)) {
                        (void) snprintf(why, why_size, "only %zu of %zu managers are Reachable: demoting %s would cost quorum",
                                        reachable, managers, x->id);
                        return 0;
                }
                return 1;
        case RC_ACTION_REMOVE_NODE:
        default:
                if (x->manager || node_state(x->state) != RC_NODE_DOWN) {
                        (void) snprintf(why, why_size, "node %s is now %s%s", x->id, strempty(x->state),
                                        x->manager ? ", a manager" : "");
                        return 0;
                }
                return 1;
        }
}

int rc_confirm_action(Docker *d, const char *self_node_id, const RcAction *a, char *why, size_t why_size) {
        DockerNode *nodes = NULL;
        LeaderQuorum q = {};
        size_t n = 0;
        int r;

        if (!d || isempty(self_node_id) || !a)
                return -EINVAL;
        if (!rc_action_needs_recheck(a)) {
                r = leader_confirm_blocking(d, self_node_id, &q);
                return r < 0 ? r : r > 0 && q.majority ? RC_CONFIRM_GO : RC_CONFIRM_NO;
        }
        /* every node: a demoted one (REMOVE_NODE) is no manager any more */
        r = docker_nodes_list(d, &nodes, &n);
        if (r < 0)
                return r;
        r = leader_quorum_from_nodes(nodes, n, self_node_id, &q);
        if (r >= 0)
                r = !(r > 0 && q.majority) ? RC_CONFIRM_NO
                    : rc_action_still_holds(a, nodes, n, why, why_size) > 0 ? RC_CONFIRM_GO : RC_CONFIRM_SKIP;
        docker_nodes_free(nodes, n);
        return r;
}

void rc_action_describe(const RcAction *a, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s", rc_action_kind_to_string(a->kind));
#define PART(label, v)                                                                            \
        if ((v) && n >= 0 && (size_t) n < size)                                                   \
                n += snprintf(buf + n, size - (size_t) n, " " label "=%s", (v));
        PART("logical-id", a->logical_id);
        PART("instance", a->instance_id);
        PART("volume", a->volume_id);
        PART("node", a->node_id);
        PART("subnet", a->subnet_id);
        PART("az", a->availability_zone);
        PART("replaces", a->replaces);
        PART("generation", a->generation[0] ? a->generation : NULL); /* a worker launch's */
#undef PART
        if ((a->kind == RC_ACTION_SET_GENERATION || a->kind == RC_ACTION_LAUNCH_MANAGER) && n >= 0 && (size_t) n < size)
                n += snprintf(buf + n, size - (size_t) n, " generation=%" PRIu64, a->volume_generation);
        if (a->join_fresh && n >= 0 && (size_t) n < size)
                n += snprintf(buf + n, size - (size_t) n, " join-fresh");
        if (a->reason[0] && n >= 0 && (size_t) n < size)
                n += snprintf(buf + n, size - (size_t) n, ": %s", a->reason);
        /* the reason code last: "<kind> <ids>: <reason>" reads as before */
        if (a->kind == RC_ACTION_WAIT && n >= 0 && (size_t) n < size)
                (void) snprintf(buf + n, size - (size_t) n, " [wait=%s%s%s]", strempty(rc_wait_code_to_string(a->wait)),
                                rc_action_held(a) ? " for=" : "",
                                rc_action_held(a) ? strempty(rc_action_kind_to_string(a->waits_for)) : "");
}

/* ---- right before an action, and the actions themselves (on the Job's worker thread) --------- */

/*
 * Right before an action that changes EC2 or the swarm. Normal mode: this node Leader
 * and a majority Reachable, by one GET /nodes?role=manager. Quorum-loss mode: still no
 * leader anywhere. 1 yes, 0 no (an error or a timeout counts as no).
 */
int pass_confirm(Pass *p, const RcAction *a, char *why, size_t why_size) {
        _cleanup_(docker_info_done) DockerInfo info = {};
        DockerNode *nodes = NULL;
        size_t n = 0;
        bool any = false;
        int r;

        if (pass_stopped(p))
                return 0;
        if (!p->quorum_loss_mode) {
                /* fence, demote, remove: the same request re-checks that call's precondition */
                r = rc_confirm_action(p->docker, p->world.self_node_id, a, why, why_size);
                return r < 0 ? RC_CONFIRM_NO : r;
        }
        /* no leader still: the manager listing names none (or fails), and this engine is up
         * as a manager */
        if (docker_nodes_list_managers(p->docker, &nodes, &n) >= 0) {
                rc_leadership_from_nodes(nodes, n, p->world.self_node_id, NULL, NULL, &any);
                docker_nodes_free(nodes, n);
                if (any)
                        return 0;
        }
        return docker_info(p->docker, &info) >= 0 && info.state == DOCKER_SWARM_ACTIVE && info.control_available;
}

/* The user-data for a launch; a join token (from GET /swarm) only for a fresh join. */
static int pass_user_data(Pass *p, bool manager, bool join_fresh, char **ret, size_t *ret_size) {
        _cleanup_(docker_swarm_done) DockerSwarm sw = {};
        _cleanup_(erase_and_freep) char *conf = NULL, *base = NULL;
        const RcSettings *s = p->settings;
        size_t base_size = 0;
        int r;

        if (join_fresh) {
                r = docker_swarm_inspect(p->docker, &sw);
                if (r < 0)
                        return pass_fail(p, "cannot read the swarm's join tokens: %s", docker_last_error(p->docker));
        }
        r = conf_with_token(manager ? s->conf_manager : s->conf_worker,
                            join_fresh ? (manager ? sw.join_token_manager : sw.join_token_worker) : NULL, &conf);
        if (r < 0)
                return r;
        if (s->user_data_path) {
                r = read_full_file(s->user_data_path, &base, &base_size);
                if (r < 0)
                        return pass_fail(p, "cannot read Launch.UserData=%s: %s", s->user_data_path, strerror(-r));
        }
        r = rc_user_data_build(conf, base, base_size, ret, ret_size);
        if (r == -EMEDIUMTYPE)
                return pass_fail(p, "Launch.UserData=%s starts with neither #cloud-config, #!, #include, "
                                 "#cloud-boothook nor MIME headers", s->user_data_path);
        if (r == -E2BIG)
                return pass_fail(p, "the user-data (with Launch.UserData=%s) exceeds EC2's 16 KiB",
                                 strempty(s->user_data_path));
        if (r == -EBADMSG)
                return pass_fail(p, "Launch.UserData=%s contains the MIME boundary " RC_MIME_BOUNDARY,
                                 s->user_data_path);
        return r;
}

/* EC2's error of the pass's last call (NULL: no EC2 client). */
static const Ec2Error *last_ec2_error(const Pass *p) {
        return p->clients.ec2 ? ec2_client_last_error(p->clients.ec2) : NULL;
}

Ec2ErrorCode ec2_code(const Pass *p) {
        const Ec2Error *e = last_ec2_error(p);
        return e ? e->error : EC2_ERR_NONE;
}

/* SK_EC2_ERROR: EC2's code, NULL if e carries none. */
static const char *ec2_code_text(const Ec2Error *e) {
        return e && e->error != EC2_ERR_NONE && e->code[0] ? e->code : NULL;
}

/* ACTION_FAILED, with EC2's error e as SK_EC2_ERROR (NULL: none). */
static void log_action_failed_ec2(const RcAction *a, int r, const Ec2Error *e, const char *what) {
        log_struct(LOG_ERR, r, SK_MESSAGE_ACTION_FAILED,
                   LOG_FIELDS("SK_ACTION", rc_action_kind_to_string(a->kind), "SK_LOGICAL_ID", a->logical_id,
                              "SK_INSTANCE_ID", a->instance_id, "SK_VOLUME_ID", a->volume_id, "SK_NODE_ID", a->node_id,
                              "SK_EC2_ERROR", ec2_code_text(e)),
                   "Reconcile: %s %s failed: %s", rc_action_kind_to_string(a->kind),
                   strempty(a->logical_id ?: a->instance_id ?: a->node_id ?: a->volume_id), what);
}

static void log_action_failed(Pass *p, const RcAction *a, int r, const char *what) {
        log_action_failed_ec2(a, r, last_ec2_error(p), what);
}

/* The action failed with EC2's error e (the client's last one, or one saved before a
 * follow-up call replaced it). */
static int fail_ec2_error(const RcAction *a, int r, const Ec2Error *e) {
        char what[1024];

        if (e && e->code[0])
                snprintf(what, sizeof(what), "EC2 %s: %s (request %s)", e->code, e->message, e->request_id);
        else
                snprintf(what, sizeof(what), "%s", strerror(-r));
        log_action_failed_ec2(a, r, e, what);
        return r;
}

static int fail_ec2(Pass *p, const RcAction *a, int r) {
        return fail_ec2_error(a, r, last_ec2_error(p));
}

static int fail_docker(Pass *p, const RcAction *a, int r) {
        log_action_failed(p, a, r, docker_last_error(p->docker));
        return r;
}

static int act_launch(Pass *p, const RcAction *a, bool manager, uint64_t now) {
        _cleanup_(erase_and_freep) char *user_data = NULL;
        _cleanup_(ec2_instance_done) Ec2Instance inst = {};
        const char *key = rc_action_backoff_key(a); /* the key the planner's gate reads */
        const RcLaunchConf *lc = manager ? &p->settings->launch_manager : &p->settings->launch_worker;
        char token[RC_CLIENT_TOKEN_MAX + 1];
        size_t ud_size = 0;
        int r;

        if (manager && !a->logical_id)
                return -EINVAL;
        /* whether to launch at all (a launch path, backoff) is the planner's: it made a
         * WAIT of what may not happen now */
        /* the planner alone derives ClientTokens: without one a launch would not be
         * idempotent, and a token made here could differ from the one the planner checks */
        if (!a->client_token[0])
                return log_action_failed(p, a, -EINVAL, "the plan gave it no ClientToken"), -EINVAL;
        snprintf(token, sizeof(token), "%s", a->client_token);
        r = pass_user_data(p, manager, a->join_fresh, &user_data, &ud_size);
        if (r < 0) {
                log_action_failed(p, a, r, p->error[0] ? p->error : strerror(-r));
                return r;
        }

        char *instance_tags[] = { EC2_TAG_CLUSTER, p->settings->cluster, EC2_TAG_ROLE, manager ? "manager" : "worker",
                                  manager ? EC2_TAG_LOGICAL_ID : NULL, (char *) a->logical_id, NULL };
        /* The volumes created with the instance (its root volume) carry the cluster and the
         * role, never the logical id: that tag marks the one data volume of a manager, and a
         * root volume with it would be a second "volume" of that logical id. */
        char *volume_tags[] = { EC2_TAG_CLUSTER, p->settings->cluster, EC2_TAG_ROLE, manager ? "manager" : "worker", NULL };
        Ec2RunSpec spec = {
                .launch_template_id = lc->template_id,
                .launch_template_name = lc->template_name,
                .launch_template_version = lc->template_version,
                .image_id = lc->image_id,
                .instance_type = lc->instance_type,
                .subnet_id = a->subnet_id,
                .security_group_ids = p->settings->security_groups,
                .iam_instance_profile = lc->instance_profile,
                .key_name = p->settings->key_name,
                .user_data = user_data,
                .user_data_size = ud_size,
                .private_ip = manager ? (a->private_ip ?: a->logical_id) : NULL,
                .instance_tags = instance_tags,
                .volume_tags = volume_tags,
                .client_token = token,
        };

        if (manager && a->replaces && startswith(a->replaces, "i-"))
                log_struct(LOG_NOTICE, 0, SK_MESSAGE_REPLACEMENT_STARTED,
                           LOG_FIELDS("SK_LOGICAL_ID", a->logical_id, "SK_REPLACES", a->replaces),
                           "Reconcile: re-creating manager %s (instance %s is gone).", a->logical_id, a->replaces);
        r = ec2_run_instances(p->clients.ec2, &spec, &inst);
        if (user_data)
                explicit_bzero(user_data, ud_size);
        if (r < 0) {
                Ec2ErrorCode code = ec2_code(p);
                if (code == EC2_ERR_INVALID_IP_ADDRESS_IN_USE) {
                        /* EC2 releases a terminated instance's address within about a
                         * minute: retried every 10-15 s, not ever later */
                        (void) rc_history_backoff_fail_cap(&p->history, key, now, RC_BACKOFF_IP_IN_USE_CAP_USEC);
                        log_info("Reconcile: %s is still held by the old instance (InvalidIPAddress.InUse); "
                                 "retrying in a later pass.", key);
                        return RC_ACT_NOT_YET;
                }
                if (code == EC2_ERR_IDEMPOTENT_INSTANCE_TERMINATED) {
                        /* remembered for the planner: it moves the seat to its next generation */
                        (void) rc_history_add_dead_token(&p->history, token);
                        log_notice("Reconcile: the launch for %s with ClientToken %s ran an instance that is "
                                   "terminated already; the next pass uses a new token.", key, token);
                        return RC_ACT_NOT_YET;
                }
                rc_clients_drop_subnets(&p->clients); /* described again next pass */
                return fail_ec2(p, a, r); /* the caller backs key off */
        }
        (void) rc_history_add_inflight(&p->history, RC_INFLIGHT_LAUNCH, a->logical_id, inst.instance_id,
                                       a->volume_id, now);
        if (manager)
                (void) rc_history_recovery_start(&p->history, a->logical_id, now);
        log_struct(LOG_NOTICE, 0, manager ? SK_MESSAGE_INSTANCE_LAUNCHED : SK_MESSAGE_SCALE_STEP,
                   LOG_FIELDS("SK_LOGICAL_ID", a->logical_id, "SK_INSTANCE_ID", inst.instance_id,
                              "SK_SUBNET_ID", a->subnet_id, "SK_CLIENT_TOKEN", token, "SK_ROLE",
                              manager ? "manager" : "worker"),
                   "Reconcile: launched %s %s%s%s in %s (ClientToken %s, %s).", manager ? "manager" : "worker",
                   inst.instance_id, manager ? " for " : "", manager ? a->logical_id : "", strempty(a->subnet_id),
                   token, a->join_fresh ? "joins fresh" : "rejoins from its volume");
        return 0;
}

static int act_attach(Pass *p, const RcAction *a, uint64_t now) {
        int r = ec2_attach_volume(p->clients.ec2, a->volume_id, a->instance_id, RC_DEVICE, NULL);

        if (r < 0) {
                Ec2ErrorCode code = ec2_code(p);
                if (code == EC2_ERR_INCORRECT_STATE || code == EC2_ERR_INCORRECT_INSTANCE_STATE) {
                        log_info("Reconcile: %s cannot take %s yet (%s); retrying in a later pass.", a->instance_id,
                                 a->volume_id, ec2_error_code_to_string(code));
                        return RC_ACT_NOT_YET;
                }
                if (code == EC2_ERR_VOLUME_IN_USE) {
                        /* the look at the volume below replaces the client's last error */
                        Ec2Error in_use = *ec2_client_last_error(p->clients.ec2);
                        _cleanup_(ec2_volume_list_done) Ec2VolumeList l = {};
                        char *ids[] = { (char *) a->volume_id, NULL };
                        if (ec2_describe_volumes(p->clients.ec2, ids, NULL, &l) >= 0 && l.n == 1)
                                for (size_t j = 0; j < l.items[0].n_attachments; j++)
                                        if (streq_ptr(l.items[0].attachments[j].instance_id, a->instance_id)) {
                                                log_info("Reconcile: %s is already attached to %s (its own "
                                                         "prepare won the race).", a->volume_id, a->instance_id);
                                                return 0;
                                        }
                        return fail_ec2_error(a, r, &in_use);
                }
                return fail_ec2(p, a, r);
        }
        (void) rc_history_add_inflight(&p->history, RC_INFLIGHT_ATTACH, a->logical_id, a->instance_id, a->volume_id,
                                       now);
        log_struct(LOG_NOTICE, 0, SK_MESSAGE_RC_VOLUME_ATTACHED,
                   LOG_FIELDS("SK_LOGICAL_ID", a->logical_id, "SK_VOLUME_ID", a->volume_id, "SK_INSTANCE_ID",
                              a->instance_id),
                   "Reconcile: attached %s to %s (%s) as " RC_DEVICE ".", a->volume_id, a->instance_id,
                   strempty(a->logical_id));
        return 0;
}

static int act_terminate(Pass *p, const RcAction *a, uint64_t now) {
        char *ids[] = { (char *) a->instance_id, NULL };
        bool fence = a->kind == RC_ACTION_FENCE;
        int r;

        if (!a->instance_id)
                return -EINVAL;
        log_struct(LOG_WARNING, 0, fence ? SK_MESSAGE_FENCE : SK_MESSAGE_SCALE_STEP,
                   LOG_FIELDS("SK_LOGICAL_ID", a->logical_id, "SK_INSTANCE_ID", a->instance_id, "SK_REASON",
                              a->reason),
                   "Reconcile: terminating %s %s%s%s: %s", fence ? "manager instance" : "worker", a->instance_id,
                   fence ? " of " : "", fence ? strempty(a->logical_id) : "", a->reason);
        r = ec2_terminate_instances(p->clients.ec2, ids);
        if (r < 0 && ec2_code(p) == EC2_ERR_INVALID_INSTANCE_ID_NOT_FOUND) {
                /* EC2 has forgotten it (terminated long enough ago): what the terminate was
                 * for is true; the next listing shows the seat without it */
                log_info("Reconcile: %s is unknown to EC2 (InvalidInstanceID.NotFound): gone already.", a->instance_id);
                return RC_ACT_DONE;
        }
        if (r < 0)
                return fail_ec2(p, a, r);
        if (fence) {
                (void) rc_history_add_inflight(&p->history, RC_INFLIGHT_FENCE, a->logical_id, a->instance_id, NULL, now);
                (void) rc_history_recovery_start(&p->history, a->logical_id, now);
        }
        return 0;
}

static int act_node_update(Pass *p, const RcAction *a, const char *role, const char *availability, uint64_t now) {
        _cleanup_(docker_node_done) DockerNode n = {};
        int r;

        r = docker_node_inspect(p->docker, a->node_id, &n);
        if (r < 0)
                return fail_docker(p, a, r);
        r = docker_node_update(p->docker, &n, role, availability);
        if (r < 0)
                return fail_docker(p, a, r);
        if (availability)
                (void) rc_history_add_inflight(&p->history, RC_INFLIGHT_DRAIN, a->logical_id, a->instance_id, NULL, now);
        log_notice("Reconcile: node %s%s%s: %s.", a->node_id, a->logical_id ? " of " : "", strempty(a->logical_id),
                   role ? "demoted to worker" : "drained");
        return 0;
}

static int act_create_volume(Pass *p, const RcAction *a, uint64_t now) {
        _cleanup_(ec2_volume_done) Ec2Volume v = {};
        const RcVolumeConf *vc = &p->settings->volume;
        char token[RC_CLIENT_TOKEN_MAX + 1];
        char *tags[] = { EC2_TAG_CLUSTER, p->settings->cluster, EC2_TAG_LOGICAL_ID, (char *) a->logical_id, EC2_TAG_ROLE,
                         "manager", NULL };
        int r;

        if (!a->logical_id || !a->availability_zone)
                return -EINVAL;
        if (!a->client_token[0]) /* the planner alone derives ClientTokens */
                return log_action_failed(p, a, -EINVAL, "the plan gave it no ClientToken"), -EINVAL;
        snprintf(token, sizeof(token), "%s", a->client_token);
        Ec2VolumeSpec spec = {
                .availability_zone = a->availability_zone,
                .size_gib = vc->size_gib,
                .volume_type = vc->type,
                .encrypted = vc->encrypted,
                .kms_key_id = vc->kms_key_id,
                .tags = tags,
                .client_token = token,
        };
        r = ec2_create_volume(p->clients.ec2, &spec, &v);
        if (r < 0)
                return fail_ec2(p, a, r);
        (void) rc_history_add_inflight(&p->history, RC_INFLIGHT_CREATE_VOLUME, a->logical_id, NULL, v.volume_id, now);
        log_notice("Reconcile: created volume %s for %s in %s.", v.volume_id, a->logical_id, a->availability_zone);
        return 0;
}

/*
 * CreateTags on a manager's data volume: SET_GENERATION (swarmkeeper:generation), only
 * when the volume, described right now, does not show that generation or a later one
 * already (another agent's view may be older than ours); MARK_VOLUME
 * (swarmkeeper:has-state=yes).
 */
static int act_tag_volume(Pass *p, const RcAction *a) {
        char gen[24];
        char *ids[] = { (char *) a->volume_id, NULL };
        char *set_gen[] = { EC2_TAG_GENERATION, gen, NULL };
        char *mark[] = { EC2_TAG_HAS_STATE, "yes", NULL };
        bool generation = a->kind == RC_ACTION_SET_GENERATION;
        int r;

        if (!a->volume_id)
                return -EINVAL;
        snprintf(gen, sizeof(gen), "%" PRIu64, a->volume_generation);
        if (generation) {
                _cleanup_(ec2_volume_list_done) Ec2VolumeList l = {};

                r = ec2_describe_volumes(p->clients.ec2, ids, NULL, &l);
                if (r < 0)
                        return fail_ec2(p, a, r);
                if (l.n == 1 && volume_generation(ec2_tags_get(l.items[0].tags, EC2_TAG_GENERATION)) >= a->volume_generation) {
                        log_info("Reconcile: volume %s of %s is at generation %s or later already.", a->volume_id,
                                 strempty(a->logical_id), gen);
                        return 0;
                }
        }
        if (!generation && a->node_id) {
                /* First the node's own record of its volume (in Raft: a later leader, or this
                 * agent restarted, still knows which volume id to ask EC2 about when the
                 * seat's volume is gone from the listing), then the tag. */
                _cleanup_(docker_node_done) DockerNode n = {};

                r = docker_node_inspect(p->docker, a->node_id, &n);
                if (r >= 0 && !streq_ptr(n.volume_id, a->volume_id))
                        r = docker_node_set_label(p->docker, &n, SK_NODE_LABEL_VOLUME_ID, a->volume_id);
                if (r < 0)
                        return fail_docker(p, a, r);
        }
        r = ec2_create_tags(p->clients.ec2, ids, generation ? set_gen : mark);
        if (r < 0)
                return fail_ec2(p, a, r);
        if (generation)
                log_notice("Reconcile: volume %s of %s: generation %s (%s).", a->volume_id, strempty(a->logical_id), gen,
                           a->reason);
        else
                log_notice("Reconcile: volume %s of %s marked as holding swarm state.", a->volume_id,
                           strempty(a->logical_id));
        return 0;
}

/* Both join tokens rotated (docker_swarm_rotate_join_tokens()), then this agent's record
 * of when. */
static int act_rotate_tokens(Pass *p, const RcAction *a) {
        uint64_t swarm_usec = 0;
        int r;

        r = docker_swarm_rotate_join_tokens(p->docker, &swarm_usec);
        if (r < 0)
                return fail_docker(p, a, r);
        p->history.tokens_rotated_usec = now_usec(CLOCK_REALTIME);
        /* every instance EC2 lists now was launched before this rotation (on EC2's clock: no
         * later LaunchTime): only a later one can hold the new token */
        p->history.tokens_rotated_launch_usec = 0;
        for (size_t i = 0; p->world.instances_ok && i < p->world.instances.n; i++)
                if (p->world.instances.items[i].launch_time_usec > p->history.tokens_rotated_launch_usec)
                        p->history.tokens_rotated_launch_usec = p->world.instances.items[i].launch_time_usec;
        /* when on the swarm's clock: the planner compares it with node CreatedAt (issue 14);
         * not readable (0): this host's clock stands in (tokens_rotated_usec) */
        p->history.tokens_rotated_swarm_usec = swarm_usec;
        if (swarm_usec == 0)
                log_warning("Reconcile: rotated the swarm's join tokens but cannot read the swarm's UpdatedAt: %s",
                            docker_last_error(p->docker));
        log_notice("Reconcile: rotated the swarm's join tokens (%s).", a->reason);
        return 0;
}

static int act_dispatch(Pass *p, const RcAction *a, uint64_t now) {
        switch (a->kind) {
        case RC_ACTION_LAUNCH_MANAGER:
                return act_launch(p, a, true, now);
        case RC_ACTION_LAUNCH_WORKER:
                return act_launch(p, a, false, now);
        case RC_ACTION_ATTACH_VOLUME:
                return act_attach(p, a, now);
        case RC_ACTION_FENCE:
        case RC_ACTION_TERMINATE_WORKER:
                return act_terminate(p, a, now);
        case RC_ACTION_DEMOTE:
                return act_node_update(p, a, "worker", NULL, now);
        case RC_ACTION_DRAIN_WORKER:
                return act_node_update(p, a, NULL, "drain", now);
        case RC_ACTION_REMOVE_NODE: {
                int r = docker_node_remove(p->docker, a->node_id, false); /* never forced */
                if (r < 0)
                        return fail_docker(p, a, r);
                log_notice("Reconcile: removed node %s%s%s from the swarm.", a->node_id, a->logical_id ? " of " : "",
                           strempty(a->logical_id));
                return 0;
        }
        case RC_ACTION_CREATE_VOLUME:
                return act_create_volume(p, a, now);
        case RC_ACTION_ROTATE_TOKENS:
                return act_rotate_tokens(p, a);
        case RC_ACTION_SET_GENERATION:
        case RC_ACTION_MARK_VOLUME:
                return act_tag_volume(p, a);
        case RC_ACTION_WAIT:
        case RC_ACTION_REPORT:
        default:
                return 0;
        }
}

int pass_act(Pass *p, const RcAction *a, uint64_t now) {
        const char *key = rc_action_backoff_key(a);
        int r;

        if (a->kind == RC_ACTION_WAIT || a->kind == RC_ACTION_REPORT)
                return RC_ACT_DONE;
        r = act_dispatch(p, a, now);
        if (r == RC_ACT_DONE)
                rc_history_backoff_reset(&p->history, key);
        else if (r < 0 && r != -ECANCELED)
                /* the planner turns the key's next tries into WAITs until then: a launch
                 * backs off up to RC_BACKOFF_CAP_USEC, anything else is retried within
                 * RC_BACKOFF_RETRY_CAP_USEC */
                (void) rc_history_backoff_fail_cap(&p->history, key, now,
                                                   a->kind == RC_ACTION_LAUNCH_MANAGER || a->kind == RC_ACTION_LAUNCH_WORKER
                                                           ? RC_BACKOFF_CAP_USEC
                                                           : RC_BACKOFF_RETRY_CAP_USEC);
        return r;
}
