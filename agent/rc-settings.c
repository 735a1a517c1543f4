/* SPDX-License-Identifier: MIT */
/*
 * The reconcile executor's settings (see rc-settings.h): copied out of a Config once per
 * load, shared by reference, never changed.
 */
#include "rc-settings.h"

static RcSettings *rc_settings_free(RcSettings *s) {
        if (!s)
                return NULL;
        free(s->cluster);
        strv_free(s->managers);
        free(s->bootstrap);
        free(s->socket);
        free(s->region);
        free(s->endpoint);
        free(s->metadata_endpoint);
        rc_launch_conf_done(&s->launch_manager);
        rc_launch_conf_done(&s->launch_worker);
        rc_volume_conf_done(&s->volume);
        free(s->key_name);
        free(s->user_data_path);
        strv_free(s->security_groups);
        strv_free(s->subnet_ids);
        free(s->conf_manager);
        free(s->conf_worker);
        free(s->self_instance_id);
        free(s);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(RcSettings *, rc_settings_free);

int rc_settings_new(const Config *c, RcSettings **ret) {
        _cleanup_(rc_settings_freep) RcSettings *s = calloc(1, sizeof(RcSettings));
        const char *base = nonempty(c->user_data);
        int r;

        if (!s)
                return -ENOMEM;
        atomic_init(&s->n_ref, 1);
        s->workers = c->workers;
        s->grace_usec = (uint64_t) c->grace_sec * USEC_PER_SEC;
        s->stable_usec = (uint64_t) c->stable_sec * USEC_PER_SEC;
        s->quorum_loss_grace_usec = (uint64_t) c->quorum_loss_grace_sec * USEC_PER_SEC;
        s->seat_deadline_usec = (uint64_t) c->seat_deadline_sec * USEC_PER_SEC;
        s->interval_usec = (uint64_t) c->interval_sec * USEC_PER_SEC;
        s->dry_run = c->dry_run;
        s->allow_plain_http = c->allow_plain_http;
        if ((r = strdup_or_null(c->cluster_name, &s->cluster)) < 0 ||
            (r = strdup_or_null(c->bootstrap_manager, &s->bootstrap)) < 0 ||
            (r = strdup_or_null(c->socket, &s->socket)) < 0 ||
            (r = strdup_or_null(nonempty(c->instance_id), &s->self_instance_id)) < 0 ||
            (r = strdup_or_null(c->region, &s->region)) < 0 ||
            (r = strdup_or_null(c->endpoint, &s->endpoint)) < 0 ||
            (r = strdup_or_null(c->metadata_endpoint, &s->metadata_endpoint)) < 0 ||
            (r = rc_launch_conf(c, ROLE_MANAGER, &s->launch_manager)) < 0 ||
            (r = rc_launch_conf(c, ROLE_WORKER, &s->launch_worker)) < 0 ||
            (r = rc_volume_conf(c, &s->volume)) < 0 ||
            (r = strdup_or_null(nonempty(c->key_name), &s->key_name)) < 0 ||
            (r = strdup_or_null(base, &s->user_data_path)) < 0)
                return r;
        if (strv_copy(c->security_group_ids, &s->security_groups) < 0 ||
            strv_copy(c->subnet_ids, &s->subnet_ids) < 0 || strv_copy(c->managers, &s->managers) < 0)
                return -ENOMEM;
        if ((r = rc_cluster_conf(c, "manager", NULL, !!base, &s->conf_manager)) < 0 ||
            (r = rc_cluster_conf(c, "worker", NULL, !!base, &s->conf_worker)) < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

RcSettings *rc_settings_ref(RcSettings *s) {
        if (s)
                atomic_fetch_add(&s->n_ref, 1);
        return s;
}

RcSettings *rc_settings_unref(RcSettings *s) {
        if (s && atomic_fetch_sub(&s->n_ref, 1) == 1)
                rc_settings_free(s);
        return NULL;
}

void rc_settings_spec(const RcSettings *s, RcSpec *ret) {
        *ret = (RcSpec){
                .cluster = s->cluster,
                .managers = (const char *const *) s->managers,
                .n_managers = strv_length(s->managers),
                .bootstrap = s->bootstrap,
                .workers = s->workers,
                .grace_usec = s->grace_usec,
                .quorum_loss_grace_usec = s->quorum_loss_grace_usec,
                .stable_usec = s->stable_usec,
                .launch_settle_usec = RC_LAUNCH_SETTLE_USEC,
                .seat_deadline_usec = s->seat_deadline_usec,
                .no_launch_manager = !s->launch_manager.configured,
                .no_launch_worker = !s->launch_worker.configured,
        };
}
