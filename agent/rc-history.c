/* SPDX-License-Identifier: MIT */
/*
 * The reconciler's memory across passes (see rc-history.h): streaks per node, in
 * flight, backoff, recoveries, seats, dead ClientTokens. Pure, no I/O; the loop's copy
 * is touched on the loop thread, a pass's copy on the Job's worker thread.
 */
#include "rc-history.h"

#include "log.h"

const RcNodeMark *history_mark(const RcHistory *h, const char *node_id) {
        for (size_t i = 0; i < h->n_marks; i++)
                if (streq(h->marks[i].node_id, node_id))
                        return &h->marks[i];
        return NULL;
}

static void inflight_entry_done(RcInflightEntry *e) {
        free(e->logical_id);
        free(e->instance_id);
        free(e->volume_id);
        *e = (RcInflightEntry){};
}

void rc_history_done(RcHistory *h) {
        for (size_t i = 0; i < h->n_marks; i++)
                free(h->marks[i].node_id);
        free(h->marks);
        for (size_t i = 0; i < h->n_inflight; i++)
                inflight_entry_done(&h->inflight[i]);
        free(h->inflight);
        for (size_t i = 0; i < h->n_backoff; i++)
                free(h->backoff[i].key);
        free(h->backoff);
        for (size_t i = 0; i < h->n_recovering; i++)
                free(h->recovering[i].logical_id);
        free(h->recovering);
        strv_free(h->logged);
        free(h->leader_node_id);
        for (size_t i = 0; i < h->n_seats; i++) {
                free(h->seats[i].logical_id);
                free(h->seats[i].volume_id);
        }
        free(h->seats);
        strv_free(h->dead_tokens);
        *h = (RcHistory){};
}

int rc_history_copy(const RcHistory *src, RcHistory *ret) {
        _cleanup_(rc_history_done) RcHistory h = {
                .no_leader_since_usec = src->no_leader_since_usec,
                .tokens_rotated_usec = src->tokens_rotated_usec,
                .ec2_observed_usec = src->ec2_observed_usec,
                .quorum_lost_logged = src->quorum_lost_logged,
                .nodes_observed_usec = src->nodes_observed_usec,
                .max_gap_usec = src->max_gap_usec,
                .tokens_rotated_swarm_usec = src->tokens_rotated_swarm_usec,
                .tokens_rotated_launch_usec = src->tokens_rotated_launch_usec,
                .unmarked_volumes = src->unmarked_volumes,
        };

        if (src->n_marks) {
                h.marks = calloc(src->n_marks, sizeof(RcNodeMark));
                if (!h.marks)
                        return -ENOMEM;
                for (; h.n_marks < src->n_marks; h.n_marks++) {
                        h.marks[h.n_marks] = src->marks[h.n_marks];
                        h.marks[h.n_marks].node_id = strdup(src->marks[h.n_marks].node_id);
                        if (!h.marks[h.n_marks].node_id)
                                return -ENOMEM;
                }
        }
        for (size_t i = 0; i < src->n_inflight; i++) {
                const RcInflightEntry *e = &src->inflight[i];
                int r = rc_history_add_inflight(&h, e->kind, e->logical_id, e->instance_id, e->volume_id,
                                                e->since_usec);
                if (r < 0)
                        return r;
        }
        if (src->n_backoff) {
                h.backoff = calloc(src->n_backoff, sizeof(RcBackoff));
                if (!h.backoff)
                        return -ENOMEM;
                for (; h.n_backoff < src->n_backoff; h.n_backoff++) {
                        h.backoff[h.n_backoff] = src->backoff[h.n_backoff];
                        h.backoff[h.n_backoff].key = strdup(src->backoff[h.n_backoff].key);
                        if (!h.backoff[h.n_backoff].key)
                                return -ENOMEM;
                }
        }
        for (size_t i = 0; i < src->n_recovering; i++) {
                int r = rc_history_recovery_start(&h, src->recovering[i].logical_id, src->recovering[i].started_usec);
                if (r < 0)
                        return r;
        }
        if (strv_copy(src->logged, &h.logged) < 0 || strdup_or_null(src->leader_node_id, &h.leader_node_id) < 0 ||
            strv_copy(src->dead_tokens, &h.dead_tokens) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < src->n_seats; i++) {
                RcSeatMemory *m = rc_history_seat(&h, src->seats[i].logical_id, true);
                if (!m || strdup_or_null(src->seats[i].volume_id, &m->volume_id) < 0)
                        return -ENOMEM;
                m->busy_since_usec = src->seats[i].busy_since_usec;
                m->volume_probe = src->seats[i].volume_probe;
                m->stuck_logged = src->seats[i].stuck_logged;
        }
        *ret = h;
        h = (RcHistory){};
        return 0;
}

int rc_history_update_nodes(RcHistory *h, const DockerNode *nodes, size_t n, uint64_t now) {
        RcNodeMark *marks = calloc(n + 1, sizeof(RcNodeMark));
        const char *leader = NULL;
        bool gap, new_leader;

        if (!marks)
                return -ENOMEM;
        for (size_t i = 0; i < n && !leader; i++)
                if (nodes[i].leader)
                        leader = nodes[i].id;
        /* Evidence must be continuous: not watched for a while, or watched through another
         * leader's dispatcher, every streak starts again now. */
        gap = h->max_gap_usec > 0 && h->nodes_observed_usec != 0 &&
              (now < h->nodes_observed_usec || now - h->nodes_observed_usec > h->max_gap_usec);
        new_leader = h->nodes_observed_usec != 0 && !streq_ptr(leader, h->leader_node_id);
        if (gap || new_leader)
                log_debug("Reconcile: %s: every Down/drained streak starts again.",
                          gap ? "a gap between two node listings" : "another Leader");
        for (size_t i = 0; i < n; i++) {
                const RcNodeMark *found = history_mark(h, nodes[i].id), *old = gap || new_leader ? NULL : found;
                RcNodeMark keep_healthy = { .healthy_since_usec = found && !gap ? found->healthy_since_usec : 0 };

                if (found && !gap && new_leader)
                        old = &keep_healthy; /* only healthy_since survives a new Leader */
                marks[i].node_id = strdup(nodes[i].id);
                if (!marks[i].node_id) {
                        for (size_t j = 0; j < i; j++)
                                free(marks[j].node_id);
                        free(marks);
                        return -ENOMEM;
                }
                if (node_bad(&nodes[i]))
                        marks[i].bad_since_usec = old && old->bad_since_usec ? old->bad_since_usec : now;
                if (node_healthy(&nodes[i]))
                        marks[i].healthy_since_usec =
                                old && old->healthy_since_usec ? old->healthy_since_usec : now;
                else if (old && node_state(nodes[i].state) == RC_NODE_UNKNOWN &&
                         (!nodes[i].manager || node_reach(&nodes[i]) == RC_REACH_REACHABLE))
                        /* a new leader's dispatcher has not heard from it yet: no break */
                        marks[i].healthy_since_usec = old->healthy_since_usec;
                if (streq_ptr(nodes[i].availability, "drain"))
                        marks[i].drained_since_usec =
                                old && old->drained_since_usec ? old->drained_since_usec : now;
        }
        for (size_t i = 0; i < h->n_marks; i++)
                free(h->marks[i].node_id);
        free(h->marks);
        h->marks = marks;
        h->n_marks = n;
        h->nodes_observed_usec = now;
        if (!streq_ptr(leader, h->leader_node_id) && free_and_strdup(&h->leader_node_id, leader) < 0)
                return -ENOMEM;
        return 0;
}

RcSeatMemory *rc_history_seat(RcHistory *h, const char *logical_id, bool create) {
        RcSeatMemory *n;

        if (!logical_id)
                return NULL;
        for (size_t i = 0; i < h->n_seats; i++)
                if (streq(h->seats[i].logical_id, logical_id))
                        return &h->seats[i];
        if (!create)
                return NULL;
        n = realloc(h->seats, (h->n_seats + 1) * sizeof(RcSeatMemory));
        if (!n)
                return NULL;
        h->seats = n;
        n[h->n_seats] = (RcSeatMemory){ .logical_id = strdup(logical_id) };
        if (!n[h->n_seats].logical_id)
                return NULL;
        return &h->seats[h->n_seats++];
}

static int seat_remember_volume(RcHistory *h, const char *logical_id, const char *volume_id) {
        RcSeatMemory *m;

        if (!logical_id || !volume_id)
                return 0;
        m = rc_history_seat(h, logical_id, true);
        if (!m)
                return -ENOMEM;
        return streq_ptr(m->volume_id, volume_id) ? 0 : free_and_strdup(&m->volume_id, volume_id) < 0 ? -ENOMEM : 0;
}

int rc_history_remember_volumes(RcHistory *h, const RcWorld *w) {
        int r;

        /* the in-flight records first: a listing that shows a volume tagged for the seat
         * has the last word */
        for (size_t i = 0; i < h->n_inflight; i++)
                if ((r = seat_remember_volume(h, h->inflight[i].logical_id, h->inflight[i].volume_id)) < 0)
                        return r;
        /* what a manager's node says its volume is (written by the leader that marked it: in
         * Raft, so known to a leader that never listed that volume) */
        for (size_t i = 0; w->nodes_ok && i < w->n_nodes; i++) {
                const DockerNode *n = &w->nodes[i];
                char seat[64];
                const char *colon;

                if (!n->volume_id || !n->manager_addr || !(colon = strrchr(n->manager_addr, ':')) ||
                    (size_t) (colon - n->manager_addr) >= sizeof(seat))
                        continue;
                snprintf(seat, sizeof(seat), "%.*s", (int) (colon - n->manager_addr), n->manager_addr);
                if ((r = seat_remember_volume(h, seat, n->volume_id)) < 0)
                        return r;
        }
        /* a manager instance's data volume (kept on delete: not the root volume) */
        for (size_t i = 0; w->instances_ok && i < w->instances.n; i++) {
                const Ec2Instance *e = &w->instances.items[i];
                if (!streq_ptr(ec2_tags_get(e->tags, EC2_TAG_ROLE), "manager"))
                        continue;
                for (size_t j = 0; j < e->n_volumes; j++)
                        if (!e->volumes[j].delete_on_termination &&
                            (r = seat_remember_volume(h, ec2_tags_get(e->tags, EC2_TAG_LOGICAL_ID), e->volumes[j].volume_id)) < 0)
                                return r;
        }
        for (size_t i = 0; w->volumes_ok && i < w->volumes.n; i++) {
                const Ec2Volume *v = &w->volumes.items[i];
                if (v->state != EC2_VOLUME_CREATING && v->state != EC2_VOLUME_AVAILABLE && v->state != EC2_VOLUME_IN_USE)
                        continue;
                if ((r = seat_remember_volume(h, ec2_tags_get(v->tags, EC2_TAG_LOGICAL_ID), v->volume_id)) < 0)
                        return r;
        }
        return 0;
}

void rc_history_update_seats(RcHistory *h, const RcPlan *plan, char *const *managers, uint64_t now) {
        STRV_FOREACH(m, managers) {
                RcSeatMemory *s;
                bool holds = false, pending = false;

                for (size_t i = 0; i < plan->n; i++)
                        if (streq_ptr(plan->actions[i].logical_id, *m)) {
                                holds = holds || plan->actions[i].holds_slot;
                                pending = pending || plan->actions[i].seat_pending;
                        }
                s = rc_history_seat(h, *m, holds);
                if (!s)
                        continue;
                if (holds && !s->busy_since_usec)
                        s->busy_since_usec = now;
                else if (!holds && !pending) {
                        s->busy_since_usec = 0;
                        s->stuck_logged = false;
                }
        }
}

int rc_history_add_inflight(RcHistory *h, RcInflightKind kind, const char *logical_id, const char *instance_id,
                            const char *volume_id, uint64_t now) {
        RcInflightEntry e = { .kind = kind, .since_usec = now };
        RcInflightEntry *n;

        if (strdup_or_null(logical_id, &e.logical_id) < 0 || strdup_or_null(instance_id, &e.instance_id) < 0 ||
            strdup_or_null(volume_id, &e.volume_id) < 0) {
                inflight_entry_done(&e);
                return -ENOMEM;
        }
        n = realloc(h->inflight, (h->n_inflight + 1) * sizeof(RcInflightEntry));
        if (!n) {
                inflight_entry_done(&e);
                return -ENOMEM;
        }
        h->inflight = n;
        h->inflight[h->n_inflight++] = e;
        return 0;
}

static const Ec2Instance *world_instance(const RcWorld *w, const char *id) {
        for (size_t i = 0; id && w->instances_ok && i < w->instances.n; i++)
                if (streq(w->instances.items[i].instance_id, id))
                        return &w->instances.items[i];
        return NULL;
}

static const Ec2Volume *world_volume(const RcWorld *w, const char *id) {
        for (size_t i = 0; id && w->volumes_ok && i < w->volumes.n; i++)
                if (streq(w->volumes.items[i].volume_id, id))
                        return &w->volumes.items[i];
        return NULL;
}

/* Does the listing show what the in-flight action was for? */
static bool inflight_seen(const RcInflightEntry *e, const RcWorld *w) {
        const Ec2Instance *i = world_instance(w, e->instance_id);
        const Ec2Volume *v = world_volume(w, e->volume_id);

        switch (e->kind) {
        case RC_INFLIGHT_LAUNCH:
                /* the instance shows up and runs (or is gone already) */
                return i && i->state != EC2_INSTANCE_PENDING;
        case RC_INFLIGHT_ATTACH:
                if (!v)
                        return false;
                for (size_t j = 0; j < v->n_attachments; j++)
                        if (streq_ptr(v->attachments[j].instance_id, e->instance_id) &&
                            v->attachments[j].state == EC2_ATTACHMENT_ATTACHED)
                                return true;
                return i && i->state != EC2_INSTANCE_RUNNING && i->state != EC2_INSTANCE_PENDING;
        case RC_INFLIGHT_FENCE:
                return i && i->state == EC2_INSTANCE_TERMINATED;
        case RC_INFLIGHT_CREATE_VOLUME:
                return v && v->state != EC2_VOLUME_CREATING;
        case RC_INFLIGHT_DRAIN:
        default:
                return i && i->state == EC2_INSTANCE_TERMINATED;
        }
}

void rc_history_prune_inflight(RcHistory *h, const RcWorld *w, uint64_t now, uint64_t max_age) {
        size_t k = 0;

        for (size_t i = 0; i < h->n_inflight; i++) {
                RcInflightEntry *e = &h->inflight[i];
                if (inflight_seen(e, w) || now >= e->since_usec + max_age) {
                        inflight_entry_done(e);
                        continue;
                }
                h->inflight[k++] = *e;
        }
        h->n_inflight = k;
}

int rc_history_add_dead_token(RcHistory *h, const char *token) {
        size_t n = strv_length(h->dead_tokens);

        if (isempty(token))
                return -EINVAL;
        if (strv_contains(h->dead_tokens, token))
                return 0;
        if (n >= RC_DEAD_TOKENS_MAX) {
                /* the oldest goes (the listing still shows its instance, or EC2 forgot it) */
                free(h->dead_tokens[0]);
                memmove(h->dead_tokens, h->dead_tokens + 1, n * sizeof(char *));
        }
        return strv_extend(&h->dead_tokens, token);
}

static RcBackoff *backoff_find(const RcHistory *h, const char *key) {
        for (size_t i = 0; i < h->n_backoff; i++)
                if (streq(h->backoff[i].key, key))
                        return &h->backoff[i];
        return NULL;
}

bool rc_history_backoff_ready(const RcHistory *h, const char *key, uint64_t now) {
        const RcBackoff *b = backoff_find(h, key);
        return !b || now >= b->not_before_usec;
}

int rc_history_backoff_fail(RcHistory *h, const char *key, uint64_t now) {
        return rc_history_backoff_fail_cap(h, key, now, RC_BACKOFF_CAP_USEC);
}

int rc_history_backoff_fail_cap(RcHistory *h, const char *key, uint64_t now, uint64_t cap_usec) {
        RcBackoff *b = backoff_find(h, key);
        uint64_t exp;

        if (!b) {
                RcBackoff *n = realloc(h->backoff, (h->n_backoff + 1) * sizeof(RcBackoff));
                if (!n)
                        return -ENOMEM;
                h->backoff = n;
                b = &h->backoff[h->n_backoff];
                *b = (RcBackoff){ .key = strdup(key) };
                if (!b->key)
                        return -ENOMEM;
                h->n_backoff++;
        }
        /* exponential, full jitter, but never less than the base: retrying at once helps nobody */
        exp = RC_BACKOFF_BASE_USEC << (b->attempt < 16 ? b->attempt : 16);
        if (cap_usec < RC_BACKOFF_BASE_USEC)
                cap_usec = RC_BACKOFF_BASE_USEC;
        if (exp > cap_usec)
                exp = cap_usec;
        b->not_before_usec = now + RC_BACKOFF_BASE_USEC + random_below(exp - RC_BACKOFF_BASE_USEC + 1);
        if (b->attempt < 64)
                b->attempt++;
        return 0;
}

void rc_history_backoff_reset(RcHistory *h, const char *key) {
        RcBackoff *b = backoff_find(h, key);
        if (!b)
                return;
        free(b->key);
        *b = h->backoff[--h->n_backoff];
}

int rc_history_recovery_start(RcHistory *h, const char *logical_id, uint64_t now) {
        RcRecovery *n;

        if (!logical_id)
                return -EINVAL;
        for (size_t i = 0; i < h->n_recovering; i++)
                if (streq(h->recovering[i].logical_id, logical_id))
                        return 0;
        n = realloc(h->recovering, (h->n_recovering + 1) * sizeof(RcRecovery));
        if (!n)
                return -ENOMEM;
        h->recovering = n;
        n[h->n_recovering] = (RcRecovery){ .logical_id = strdup(logical_id), .started_usec = now };
        if (!n[h->n_recovering].logical_id)
                return -ENOMEM;
        h->n_recovering++;
        return 0;
}

int rc_history_recovery_done(RcHistory *h, const char *logical_id, uint64_t healthy_since, uint64_t *ret_started) {
        for (size_t i = 0; logical_id && i < h->n_recovering; i++) {
                RcRecovery *e = &h->recovering[i];
                if (!streq(e->logical_id, logical_id))
                        continue;
                /* healthy without a break since before the replacement began: not back yet,
                 * the old node has not even noticed it is gone */
                if (healthy_since == 0 || healthy_since <= e->started_usec)
                        return 0;
                if (ret_started)
                        *ret_started = e->started_usec;
                free(e->logical_id);
                *e = h->recovering[--h->n_recovering];
                return 1;
        }
        return 0;
}
