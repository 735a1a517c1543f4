/* SPDX-License-Identifier: MIT */
/*
 * What one pass saw (see observe.h). First the pure part: RcWorld, leadership from a
 * node listing, the EC2/engine → RcObservation join. Then the pass's observing I/O
 * (pass_observe_*(): the engine's node listing, EC2's instances, volumes and subnets),
 * which runs on the Job's worker thread (or synchronously for `plan` and `status`).
 */
#include "observe.h"

#include <time.h>

#include "log.h"
#include "pass.h"
#include "rc-history.h"

/* Subnets are immutable in EC2 but for their deletion: described again after this long,
 * or after a launch that failed. */
#define RC_SUBNETS_MAX_AGE_USEC (300 * USEC_PER_SEC)

/* The planner's view a previous rc_world_observe() built (set to NULL: a failure before
 * the next one is built leaves nothing to free twice). */
static void world_drop_observation(RcWorld *w) {
        w->rc_instances = mfree(w->rc_instances);
        w->rc_volumes = mfree(w->rc_volumes);
        w->rc_attached = mfree(w->rc_attached);
        w->rc_subnets = mfree(w->rc_subnets);
        w->rc_nodes = mfree(w->rc_nodes);
        w->rc_inflight = mfree(w->rc_inflight);
        w->rc_seats = mfree(w->rc_seats);
        w->rc_backoff = mfree(w->rc_backoff);
        w->rc_streaks = mfree(w->rc_streaks);
        w->rc_asked = mfree(w->rc_asked);
}

void rc_world_done(RcWorld *w) {
        ec2_instance_list_done(&w->instances);
        ec2_volume_list_done(&w->volumes);
        for (size_t i = 0; i < w->n_subnets; i++) {
                free(w->subnets[i].id);
                free(w->subnets[i].cidr);
                free(w->subnets[i].availability_zone);
        }
        free(w->subnets);
        docker_nodes_free(w->nodes, w->n_nodes);
        free(w->self_node_id);
        world_drop_observation(w);
        *w = (RcWorld){};
}

void rc_leadership_from_nodes(const DockerNode *nodes, size_t n, const char *self_id, bool *ret_leader,
                              bool *ret_quorum, bool *ret_any_leader) {
        size_t managers = 0, reachable = 0;
        bool leader = false, any = false;

        for (size_t i = 0; i < n; i++) {
                if (!nodes[i].manager)
                        continue;
                managers++;
                if (streq_ptr(nodes[i].reachability, "reachable"))
                        reachable++;
                if (nodes[i].leader) {
                        any = true;
                        if (streq_ptr(nodes[i].id, self_id))
                                leader = true;
                }
        }
        if (ret_leader)
                *ret_leader = leader;
        if (ret_quorum)
                *ret_quorum = managers > 0 && reachable * 2 > managers;
        if (ret_any_leader)
                *ret_any_leader = any;
}

static RcInstanceState instance_state(Ec2InstanceState s) {
        switch (s) {
        case EC2_INSTANCE_PENDING:
                return RC_INSTANCE_PENDING;
        case EC2_INSTANCE_RUNNING:
                return RC_INSTANCE_RUNNING;
        case EC2_INSTANCE_TERMINATED:
                return RC_INSTANCE_TERMINATED;
        case EC2_INSTANCE_STOPPING:
                return RC_INSTANCE_STOPPING;
        case EC2_INSTANCE_STOPPED:
                return RC_INSTANCE_STOPPED;
        case EC2_INSTANCE_SHUTTING_DOWN:
        default:
                /* unknown states are present and dying: never "missing" */
                return RC_INSTANCE_SHUTTING_DOWN;
        }
}

static RcVolumeState volume_state(Ec2VolumeState s) {
        switch (s) {
        case EC2_VOLUME_CREATING:
                return RC_VOLUME_CREATING;
        case EC2_VOLUME_AVAILABLE:
                return RC_VOLUME_AVAILABLE;
        case EC2_VOLUME_IN_USE:
                return RC_VOLUME_IN_USE;
        case EC2_VOLUME_DELETING:
                return RC_VOLUME_DELETING;
        case EC2_VOLUME_DELETED:
                return RC_VOLUME_DELETED;
        case EC2_VOLUME_ERROR:
        default:
                return RC_VOLUME_ERROR;
        }
}

RcNodeState node_state(const char *s) {
        if (streq_ptr(s, "ready"))
                return RC_NODE_READY;
        if (streq_ptr(s, "down"))
                return RC_NODE_DOWN;
        if (streq_ptr(s, "disconnected"))
                return RC_NODE_DISCONNECTED;
        return RC_NODE_UNKNOWN;
}

RcReachability node_reach(const DockerNode *n) {
        if (!n->manager)
                return RC_REACH_NONE;
        if (streq_ptr(n->reachability, "reachable"))
                return RC_REACH_REACHABLE;
        if (streq_ptr(n->reachability, "unreachable"))
                return RC_REACH_UNREACHABLE;
        return RC_REACH_UNKNOWN;
}

bool node_bad(const DockerNode *n) {
        /* a manager: Down AND Unreachable; a worker: Down */
        if (node_state(n->state) != RC_NODE_DOWN)
                return false;
        return !n->manager || node_reach(n) == RC_REACH_UNREACHABLE;
}

bool node_healthy(const DockerNode *n) {
        if (node_state(n->state) != RC_NODE_READY)
                return false;
        return !n->manager || node_reach(n) == RC_REACH_REACHABLE;
}

/* swarmkeeper:generation: strictly decimal; absent or malformed: 0 (the planner moves past
 * any used token from there). */
uint64_t volume_generation(const char *s) {
        uint64_t v = 0;

        if (isempty(s) || strlen(s) > 20 || (s[0] == '0' && s[1]))
                return 0;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return 0;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        return v;
}

int rc_world_observe(RcWorld *w, const RcHistory *h, uint64_t now, bool self_manager, bool ec2_listed,
                     RcObservation *ret_obs, RcMemory *ret_mem) {
        size_t n_att = 0, k = 0, n_asked = 0;

        world_drop_observation(w);
        w->rc_seats = calloc(h->n_seats + 1, sizeof(RcSeat));
        if (!w->rc_seats)
                return -ENOMEM;
        for (size_t i = 0; i < h->n_seats; i++)
                w->rc_seats[i] = (RcSeat){
                        .logical_id = h->seats[i].logical_id,
                        .busy_since_usec = h->seats[i].busy_since_usec,
                        .volume_id = h->seats[i].volume_id,
                };
        w->rc_instances = calloc(w->instances.n + 1, sizeof(RcInstance));
        w->rc_volumes = calloc(w->volumes.n + 1, sizeof(RcVolume));
        for (size_t i = 0; i < w->volumes.n; i++)
                n_att += w->volumes.items[i].n_attachments;
        w->rc_attached = calloc(n_att + 1, sizeof(char *));
        w->rc_subnets = calloc(w->n_subnets + 1, sizeof(RcSubnet));
        w->rc_nodes = calloc(w->n_nodes + 1, sizeof(RcNode));
        w->rc_inflight = calloc(h->n_inflight + 1, sizeof(RcInflight));
        w->rc_backoff = calloc(h->n_backoff + 1, sizeof(RcBackoffEntry));
        w->rc_streaks = calloc(h->n_marks + 1, sizeof(RcNodeStreak));
        w->rc_asked = calloc(h->n_seats + 1, sizeof(RcVolumeAsked));
        if (!w->rc_instances || !w->rc_volumes || !w->rc_attached || !w->rc_subnets || !w->rc_nodes ||
            !w->rc_inflight || !w->rc_backoff || !w->rc_streaks || !w->rc_asked)
                return -ENOMEM;
        for (size_t i = 0; i < h->n_seats; i++)
                if (h->seats[i].volume_id && h->seats[i].volume_probe != RC_VOLUME_PROBE_UNKNOWN)
                        w->rc_asked[n_asked++] = (RcVolumeAsked){
                                .volume_id = h->seats[i].volume_id,
                                .probe = h->seats[i].volume_probe,
                        };
        for (size_t i = 0; i < h->n_marks; i++)
                w->rc_streaks[i] = (RcNodeStreak){
                        .node_id = h->marks[i].node_id,
                        .bad_since_usec = h->marks[i].bad_since_usec,
                        .healthy_since_usec = h->marks[i].healthy_since_usec,
                        .drained_since_usec = h->marks[i].drained_since_usec,
                };
        for (size_t i = 0; i < h->n_backoff; i++)
                w->rc_backoff[i] = (RcBackoffEntry){
                        .key = h->backoff[i].key,
                        .not_before_usec = h->backoff[i].not_before_usec,
                };

        for (size_t i = 0; i < w->instances.n; i++) {
                const Ec2Instance *e = &w->instances.items[i];
                RcInstanceState st = instance_state(e->state);
                w->rc_instances[i] = (RcInstance){
                        .id = e->instance_id,
                        .state = st,
                        .cluster = ec2_tags_get(e->tags, EC2_TAG_CLUSTER),
                        .logical_id = ec2_tags_get(e->tags, EC2_TAG_LOGICAL_ID),
                        .role = ec2_tags_get(e->tags, EC2_TAG_ROLE),
                        /* a terminated instance has no address: identity is the tag */
                        .private_ip = st == RC_INSTANCE_TERMINATED ? NULL : e->private_ip,
                        .subnet_id = st == RC_INSTANCE_TERMINATED ? NULL : e->subnet_id,
                        .availability_zone = e->availability_zone,
                        .launch_usec = e->launch_time_usec,
                        .client_token = isempty(e->client_token) ? NULL : e->client_token,
                };
        }
        for (size_t i = 0; i < w->volumes.n; i++) {
                const Ec2Volume *v = &w->volumes.items[i];
                w->rc_volumes[i] = (RcVolume){
                        .id = v->volume_id,
                        .state = volume_state(v->state),
                        .logical_id = ec2_tags_get(v->tags, EC2_TAG_LOGICAL_ID),
                        .availability_zone = v->availability_zone,
                        .attached_to = w->rc_attached + k,
                        .has_state = streq_ptr(ec2_tags_get(v->tags, EC2_TAG_HAS_STATE), "yes"),
                        .generation = volume_generation(ec2_tags_get(v->tags, EC2_TAG_GENERATION)),
                };
                for (size_t j = 0; j < v->n_attachments; j++)
                        if (v->attachments[j].instance_id)
                                w->rc_attached[k++] = v->attachments[j].instance_id;
                w->rc_volumes[i].n_attached = (size_t) (w->rc_attached + k - w->rc_volumes[i].attached_to);
        }
        for (size_t i = 0; i < w->n_subnets; i++)
                w->rc_subnets[i] = (RcSubnet){
                        .id = w->subnets[i].id,
                        .cidr = w->subnets[i].cidr,
                        .availability_zone = w->subnets[i].availability_zone,
                };
        for (size_t i = 0; i < w->n_nodes; i++) {
                const DockerNode *d = &w->nodes[i];
                w->rc_nodes[i] = (RcNode){
                        .id = d->id,
                        .logical_id = d->logical_id,
                        .instance_id = d->instance_id,
                        .addr = d->addr,
                        .manager = streq_ptr(d->role, "manager"),
                        .leader = d->leader,
                        .state = node_state(d->state),
                        .reachability = node_reach(d),
                        .availability = d->availability,
                        .created_usec = d->created_usec,
                        .manager_addr = d->manager ? d->manager_addr : NULL,
                };
        }
        for (size_t i = 0; i < h->n_inflight; i++)
                w->rc_inflight[i] = (RcInflight){
                        .kind = h->inflight[i].kind,
                        .logical_id = h->inflight[i].logical_id,
                        .instance_id = h->inflight[i].instance_id,
                        .volume_id = h->inflight[i].volume_id,
                        .since_usec = h->inflight[i].since_usec,
                };

        *ret_obs = (RcObservation){
                .now_usec = now,
                .instances_ok = w->instances_ok,
                .instances = w->rc_instances,
                .n_instances = w->instances_ok ? w->instances.n : 0,
                .volumes_ok = w->volumes_ok,
                .volumes = w->rc_volumes,
                .n_volumes = w->volumes_ok ? w->volumes.n : 0,
                .subnets_ok = w->subnets_ok,
                .subnets = w->rc_subnets,
                .n_subnets = w->subnets_ok ? w->n_subnets : 0,
                .nodes_ok = w->nodes_ok,
                .nodes = w->rc_nodes,
                .n_nodes = w->nodes_ok ? w->n_nodes : 0,
                .leader = w->leader,
                .quorum = w->quorum,
                .self_manager = self_manager,
                .ec2_listed = ec2_listed,
                .volumes_asked = w->rc_asked,
                .n_volumes_asked = n_asked,
        };
        *ret_mem = (RcMemory){
                .no_leader_since_usec = h->no_leader_since_usec,
                .streaks = w->rc_streaks,
                .n_streaks = h->n_marks,
                .inflight = w->rc_inflight,
                .n_inflight = h->n_inflight,
                .seats = w->rc_seats,
                .n_seats = h->n_seats,
                .dead_client_tokens = (const char *const *) h->dead_tokens,
                .n_dead_client_tokens = strv_length(h->dead_tokens),
                .tokens_rotated_usec = h->tokens_rotated_usec,
                .tokens_rotated_swarm_usec = h->tokens_rotated_swarm_usec,
                .tokens_rotated_launch_usec = h->tokens_rotated_launch_usec,
                .backoff = w->rc_backoff,
                .n_backoff = h->n_backoff,
                .n_recovering = h->n_recovering,
                .ec2_observed_usec = h->ec2_observed_usec,
                .unmarked_volumes = h->unmarked_volumes,
        };
        return 0;
}

bool rc_world_unmarked_volumes(const RcWorld *w, char *const *managers) {
        if (!w->volumes_ok)
                return false;
        for (size_t i = 0; i < w->volumes.n; i++) {
                const Ec2Volume *v = &w->volumes.items[i];

                if (v->state != EC2_VOLUME_CREATING && v->state != EC2_VOLUME_AVAILABLE && v->state != EC2_VOLUME_IN_USE)
                        continue;
                const char *lid = ec2_tags_get(v->tags, EC2_TAG_LOGICAL_ID);

                if (lid && strv_contains(managers, lid) &&
                    !streq_ptr(ec2_tags_get(v->tags, EC2_TAG_HAS_STATE), "yes"))
                        return true;
        }
        return false;
}

/* ---- the pass's observing I/O (on the Job's worker thread) -------------------------------- */

int pass_observe_nodes(Pass *p, uint64_t now) {
        _cleanup_(docker_info_done) DockerInfo info = {};
        RcWorld *w = &p->world;
        int r;

        r = pass_docker(p);
        if (r < 0)
                return pass_fail(p, "the Docker engine at %s is unreachable: %s", p->settings->socket,
                                 p->docker ? docker_last_error(p->docker) : strerror(-r));
        r = docker_info(p->docker, &info);
        if (r < 0)
                return pass_fail(p, "cannot ask the engine about the swarm: %s", docker_last_error(p->docker));
        p->engine_manager = info.state == DOCKER_SWARM_ACTIVE && info.control_available;
        if (!p->engine_manager)
                return pass_fail(p, "this engine is not an active manager (swarm state %s)",
                                 docker_swarm_state_to_string(info.state));
        w->self_node_id = TAKE_PTR(info.node_id);

        r = docker_nodes_list(p->docker, &w->nodes, &w->n_nodes);
        w->nodes_ok = r >= 0;
        if (w->nodes_ok) {
                rc_leadership_from_nodes(w->nodes, w->n_nodes, w->self_node_id, &w->leader, &w->quorum,
                                         &w->any_leader);
                r = rc_history_update_nodes(&p->history, w->nodes, w->n_nodes, now);
                if (r < 0)
                        return r;
        } else
                log_debug_errno(r, "Cannot list the swarm's nodes: %s", docker_last_error(p->docker));

        if (w->nodes_ok && w->any_leader)
                p->history.no_leader_since_usec = 0;
        else if (!p->history.no_leader_since_usec)
                p->history.no_leader_since_usec = now;
        return 0;
}

static const char *cluster_filter_value(const Pass *p) {
        return p->settings->cluster;
}

int pass_observe_ec2(Pass *p) {
        RcWorld *w = &p->world;
        const Ec2Filter by_cluster[] = {
                { "tag:" EC2_TAG_CLUSTER, EC2_VALUES(cluster_filter_value(p)) },
                {},
        };
        int r;

        r = pass_ec2(p);
        if (r < 0)
                return r;
        r = ec2_describe_instances(p->clients.ec2, NULL, by_cluster, &w->instances);
        w->instances_ok = r >= 0;
        if (r < 0)
                return ec2_log_error(p->clients.ec2, LOG_WARNING, r, "Reconcile: cannot list the cluster's instances");
        if (pass_stopped(p))
                return -ECANCELED;
        r = ec2_describe_volumes(p->clients.ec2, NULL, by_cluster, &w->volumes);
        w->volumes_ok = r >= 0;
        if (r < 0)
                return ec2_log_error(p->clients.ec2, LOG_WARNING, r, "Reconcile: cannot list the cluster's volumes");
        if (pass_stopped(p))
                return -ECANCELED;
        if (!p->settings->subnet_ids) {
                /* nothing to look up: the planner refuses launches that need a subnet */
                w->subnets_ok = true;
                return 0;
        }
        {
                RcClients *c = &p->clients;
                uint64_t mono = now_usec(CLOCK_MONOTONIC);

                if (!c->subnets_usec || mono >= c->subnets_usec + RC_SUBNETS_MAX_AGE_USEC ||
                    !strv_equal(c->subnet_ids, p->settings->subnet_ids)) {
                        rc_clients_drop_subnets(c);
                        r = ec2_describe_subnets(c->ec2, p->settings->subnet_ids, NULL, &c->subnets);
                        if (r < 0) {
                                rc_clients_drop_subnets(c);
                                return ec2_log_error(c->ec2, LOG_WARNING, r, "Reconcile: cannot describe Launch.SubnetIds");
                        }
                        if (strv_copy(p->settings->subnet_ids, &c->subnet_ids) < 0) {
                                rc_clients_drop_subnets(c);
                                return -ENOMEM;
                        }
                        c->subnets_usec = mono;
                }
                w->subnets_ok = true;
                const Ec2SubnetList l = c->subnets;
                w->subnets = calloc(l.n + 1, sizeof(RcSubnetInfo));
                if (!w->subnets)
                        return -ENOMEM;
                for (size_t i = 0; i < l.n; i++) {
                        w->n_subnets = i + 1; /* rc_world_done() frees what was copied */
                        if (strdup_or_null(l.items[i].subnet_id, &w->subnets[i].id) < 0 ||
                            strdup_or_null(l.items[i].cidr_block, &w->subnets[i].cidr) < 0 ||
                            strdup_or_null(l.items[i].availability_zone, &w->subnets[i].availability_zone) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

/* For each manager seat with no volume tagged for it in the listing: DescribeVolumes by
 * its last known volume id. Only EC2's answer about that id may say "lost for good". */
int pass_probe_volumes(Pass *p) {
        RcWorld *w = &p->world;

        for (size_t i = 0; i < p->history.n_seats; i++)
                p->history.seats[i].volume_probe = RC_VOLUME_PROBE_UNKNOWN;
        if (!w->volumes_ok)
                return 0;
        STRV_FOREACH(m, p->settings->managers) {
                _cleanup_(ec2_volume_list_done) Ec2VolumeList l = {};
                RcSeatMemory *s = rc_history_seat(&p->history, *m, false);
                bool listed = false;
                int r;

                for (size_t i = 0; i < w->volumes.n && !listed; i++)
                        listed = streq_ptr(ec2_tags_get(w->volumes.items[i].tags, EC2_TAG_LOGICAL_ID), *m);
                if (listed || !s || !s->volume_id)
                        continue;
                if (pass_stopped(p))
                        return -ECANCELED;
                char *ids[] = { s->volume_id, NULL };
                r = ec2_describe_volumes(p->clients.ec2, ids, NULL, &l);
                if (r < 0 && ec2_code(p) == EC2_ERR_INVALID_VOLUME_NOT_FOUND)
                        s->volume_probe = RC_VOLUME_PROBE_NOT_FOUND;
                else if (r < 0)
                        log_debug("Reconcile: %s: cannot describe its volume %s; not taken as lost.", *m, s->volume_id);
                else if (l.n == 0 || l.items[0].state == EC2_VOLUME_DELETED)
                        s->volume_probe = RC_VOLUME_PROBE_NOT_FOUND;
                else if (l.items[0].state == EC2_VOLUME_ERROR)
                        s->volume_probe = RC_VOLUME_PROBE_ERROR;
                else
                        s->volume_probe = RC_VOLUME_PROBE_EXISTS;
        }
        return 0;
}
