/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What a launched host is given (part of the reconcile executor, see reconciler.h): the
 * 50-cluster.conf drop-in, the cloud-init multipart user-data that carries it, and a
 * role's launch parameters and a manager's new data volume copied out of the
 * configuration.
 *
 * Pure: no I/O. Called on the loop thread (the settings are made there,
 * rc_settings_new()) and on the Job's worker thread (a launch builds its user-data
 * there, act.c).
 */

#include "config.h"

/* ---- user-data for a launch -------------------------------------------------------------- */

#define RC_CLUSTER_DROPIN "/etc/swarmkeeper/swarmkeeper.conf.d/50-cluster.conf"
#define RC_BASE_USER_DATA_PATH "/etc/swarmkeeper/base-user-data"
#define RC_MIME_BOUNDARY "==swarmkeeper-user-data=="

/*
 * The drop-in a launched host gets: the cluster's keys (Cluster.*, AWS.*, Launch.*,
 * Reconcile.*, Volume.FileSystem…, as effective in c) with Cluster.Role = role, and
 * Cluster.JoinToken = join_token only if join_token is not NULL (a secret: the result
 * must be released with erase_and_free()). Launch.UserData points to
 * RC_BASE_USER_DATA_PATH when have_base. Host-specific keys (Host.*, Volume.Id,
 * Engine.*) are never copied, nor Cluster.BootstrapManager: a launched host is never
 * the bootstrap manager (it joins, or rejoins from its volume; it never inits). A
 * worker's drop-in carries no Launch.* (workers never launch: nothing of the managers'
 * template or instance profile) and none of the keys for creating a manager's volume.
 */
int rc_cluster_conf(const Config *c, const char *role, const char *join_token, bool have_base, char **ret);

/*
 * Cloud-init multipart user-data: a text/cloud-config part whose write_files put
 * `conf` at RC_CLUSTER_DROPIN (0600) and, when base is given, base at
 * RC_BASE_USER_DATA_PATH (0600); then base itself as its own part (its type from its
 * first line: #cloud-config, #!, #cloud-boothook, #include, or a MIME entity). Pure and
 * deterministic (same input, same bytes: a ClientToken retry must send the same
 * parameters). The result may hold a secret: erase_and_free() it.
 */
int rc_user_data_build(const char *conf, const char *base, size_t base_size, char **ret, size_t *ret_size);

/* conf, then "[Cluster] JoinToken=token" when token is not NULL. The result holds a
 * secret: erase_and_free() it. -EINVAL: the token holds a line break. */
int conf_with_token(const char *conf, const char *token, char **ret);

/* ---- what a launch and a new data volume send ------------------------------------------ */

/*
 * A role's launch parameters, copied out of the configuration (a reload cannot pull
 * them away). A manager: Launch.Template (+ TemplateVersion), Launch.ImageId,
 * Launch.InstanceType, Launch.InstanceProfile. A worker: Launch.WorkerTemplate (+
 * WorkerTemplateVersion), Launch.ImageId, Launch.InstanceType, Launch.WorkerInstanceProfile,
 * and never the managers' template or profile. configured is config_launch_configured();
 * when it is false every field is NULL and that role is not launched.
 */
typedef struct RcLaunchConf {
        bool configured;
        char *template_id, *template_name, *template_version; /* NULL: no template */
        char *image_id, *instance_type;                       /* NULL: the template's */
        char *instance_profile;                               /* NULL: none */
} RcLaunchConf;

int rc_launch_conf(const Config *c, Role role, RcLaunchConf *ret);
void rc_launch_conf_done(RcLaunchConf *l);

/* A manager's new data volume: Volume.SizeGiB, Volume.Type, Volume.Encrypted, Volume.KmsKeyId. */
typedef struct RcVolumeConf {
        uint64_t size_gib;
        char *type;
        bool encrypted;
        char *kms_key_id; /* NULL: EC2's default key */
} RcVolumeConf;

int rc_volume_conf(const Config *c, RcVolumeConf *ret);
void rc_volume_conf_done(RcVolumeConf *v);
