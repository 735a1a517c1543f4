/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the reconcile executor takes from the configuration (part of it, see
 * reconciler.h), built once per configuration load and never changed after: the loop
 * makes one when the Reconciler is made and one on each reload (reconciler.c), `plan`
 * and `status` one from their Config (overview.c). Every pass holds a reference, so a
 * pass in flight keeps the settings it started with while a reload makes new ones, and
 * none of it points into the Config it came from (which a reload frees).
 *
 * The reference count is atomic: the loop takes and drops the references today, but a
 * Pass freed on a Job's worker thread (a Job's destroy callback) stays correct.
 */

#include <stdatomic.h>

#include "config.h"
#include "reconcile.h"
#include "user-data.h"

/* After our own launch, how long a listing that does not show it is not evidence of
 * "missing" (RcSpec.launch_settle_usec) */
#define RC_LAUNCH_SETTLE_USEC (120 * USEC_PER_SEC)

typedef struct RcSettings {
        atomic_uint n_ref;

        char *cluster;                    /* Cluster.Name */
        char **managers;                  /* Cluster.Managers (NULL: none) */
        char *bootstrap;                  /* Cluster.BootstrapManager (NULL: none) */
        unsigned workers;                 /* Cluster.Workers */
        uint64_t grace_usec, quorum_loss_grace_usec, stable_usec; /* Reconcile.* */
        uint64_t seat_deadline_usec, interval_usec;
        char *socket;                     /* Engine.Socket */
        char *region, *endpoint, *metadata_endpoint; /* AWS.*: NULL or "" for the defaults */
        RcLaunchConf launch_manager, launch_worker; /* a worker's: never the managers' template/profile */
        RcVolumeConf volume;              /* a manager's new data volume */
        char *key_name, *user_data_path;  /* NULL: none */
        char **security_groups, **subnet_ids;
        char *conf_manager, *conf_worker; /* the 50-cluster.conf drop-ins, without a token */
        char *self_instance_id;           /* Host.InstanceId (NULL: unknown) */
        bool allow_plain_http;
        bool dry_run;
} RcSettings;

/* From c, copied: nothing in *ret points into c. One reference, the caller's. */
int rc_settings_new(const Config *c, RcSettings **ret);
RcSettings *rc_settings_ref(RcSettings *s);
/* Drops one reference; frees at the last. Returns NULL. */
RcSettings *rc_settings_unref(RcSettings *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(RcSettings *, rc_settings_unref);

/* The planner's desired state. Its strings are borrowed from s: valid while s is. */
void rc_settings_spec(const RcSettings *s, RcSpec *ret);
