/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Configuration: /etc/swarmkeeper/swarmkeeper.conf, then
 * /etc/swarmkeeper/swarmkeeper.conf.d/ *.conf in lexical order (later wins), then
 * --set Section.Key=value (wins over all). systemd-style INI: [Section], Key=Value,
 * '#' or ';' comment lines, a trailing backslash continues a line.
 *
 * Unknown keys are warnings (file:line); bad values make config_load() log the
 * culprit (file:line, key, why) and return -EINVAL. A file that sets a secret
 * (JoinToken) must have no group/other mode bits and be owned by root or by us, as ssh
 * wants of a private key; otherwise it is refused (-EINVAL, naming file, mode, owner).
 */

#include <stdio.h>

#include "util.h"

#define SK_CONFIG_FILE "/etc/swarmkeeper/swarmkeeper.conf"
#define SK_CONFIG_DROPIN_DIR "/etc/swarmkeeper/swarmkeeper.conf.d"

typedef enum Role { ROLE_MANAGER, ROLE_WORKER } Role;
typedef enum FileSystemType { FS_EXT4, FS_XFS } FileSystemType;

const char *role_to_string(Role r);
const char *fs_type_to_string(FileSystemType t);

/* X(id, section, key, default, parser, field, secret) — one row per key. */
#define SK_CONFIG_KEYS(X)                                                                       \
        X(CLUSTER_NAME, "Cluster", "Name", "", cluster_name, cluster_name, false)               \
        X(CLUSTER_ROLE, "Cluster", "Role", "manager", role, role, false)                        \
        X(CLUSTER_MANAGERS, "Cluster", "Managers", "", ipv4_list, managers, false)              \
        X(CLUSTER_BOOTSTRAP, "Cluster", "BootstrapManager", "", ipv4_or_empty, bootstrap_manager, false) \
        X(CLUSTER_WORKERS, "Cluster", "Workers", "0", uint_field, workers, false)                     \
        X(CLUSTER_JOIN_TOKEN, "Cluster", "JoinToken", "", join_token, join_token, true)         \
        X(HOST_INSTANCE_ID, "Host", "InstanceId", "", instance_id, instance_id, false)          \
        X(HOST_PRIVATE_IP, "Host", "PrivateIp", "", ipv4_or_empty, private_ip, false)           \
        X(HOST_AZ, "Host", "AvailabilityZone", "", string, availability_zone, false)            \
        X(VOLUME_ID, "Volume", "Id", "", volume_id, volume_id, false)                           \
        X(VOLUME_DEVICE, "Volume", "Device", "auto", device, device, false)                     \
        X(VOLUME_MOUNT_POINT, "Volume", "MountPoint", "/var/lib/docker", abs_path, mount_point, false) \
        X(VOLUME_FS, "Volume", "FileSystem", "ext4", fs_type, file_system, false)               \
        X(VOLUME_MOUNT_OPTIONS, "Volume", "MountOptions", "defaults", nonempty, mount_options, false) \
        X(VOLUME_ATTACH_TIMEOUT, "Volume", "AttachTimeoutSec", "600", uint_field, attach_timeout_sec, false) \
        X(VOLUME_SIZE, "Volume", "SizeGiB", "50", volume_size, volume_size_gib, false)            \
        X(VOLUME_TYPE, "Volume", "Type", "gp3", volume_type, volume_type, false)                  \
        X(VOLUME_ENCRYPTED, "Volume", "Encrypted", "yes", bool_field, volume_encrypted, false)    \
        X(VOLUME_KMS_KEY_ID, "Volume", "KmsKeyId", "", kms_key_id, volume_kms_key_id, false)      \
        X(ENGINE_DAEMON_CONFIG, "Engine", "DaemonConfig", "/etc/docker/daemon.json", abs_path, daemon_config, false) \
        X(ENGINE_LABELS, "Engine", "Labels", "", labels, labels, false)                         \
        X(ENGINE_SOCKET, "Engine", "Socket", "/run/docker.sock", abs_path, socket, false)        \
        X(ENGINE_UNIT, "Engine", "Unit", "docker.service", unit_name, unit, false)              \
        X(AWS_REGION, "AWS", "Region", "", string, region, false)                               \
        X(AWS_ENDPOINT, "AWS", "Endpoint", "", url_or_empty, endpoint, false)                   \
        X(AWS_METADATA_ENDPOINT, "AWS", "MetadataEndpoint", "http://169.254.169.254", url, metadata_endpoint, false) \
        X(AWS_ALLOW_PLAIN_HTTP, "AWS", "AllowPlainHttp", "no", bool_field, allow_plain_http, false) \
        X(LAUNCH_TEMPLATE, "Launch", "Template", "", launch_template, launch_template, false)   \
        X(LAUNCH_TEMPLATE_VERSION, "Launch", "TemplateVersion", "$Default", template_version, launch_template_version, false) \
        X(LAUNCH_IMAGE_ID, "Launch", "ImageId", "", image_id, image_id, false)                 \
        X(LAUNCH_INSTANCE_TYPE, "Launch", "InstanceType", "", instance_type, instance_type, false) \
        X(LAUNCH_SECURITY_GROUPS, "Launch", "SecurityGroupIds", "", sg_list, security_group_ids, false) \
        X(LAUNCH_INSTANCE_PROFILE, "Launch", "InstanceProfile", "", instance_profile, instance_profile, false) \
        X(LAUNCH_WORKER_TEMPLATE, "Launch", "WorkerTemplate", "", launch_template, worker_launch_template, false) \
        X(LAUNCH_WORKER_TEMPLATE_VERSION, "Launch", "WorkerTemplateVersion", "$Default", template_version, worker_launch_template_version, false) \
        X(LAUNCH_WORKER_INSTANCE_PROFILE, "Launch", "WorkerInstanceProfile", "", instance_profile, worker_instance_profile, false) \
        X(LAUNCH_SUBNETS, "Launch", "SubnetIds", "", subnet_list, subnet_ids, false)           \
        X(LAUNCH_KEY_NAME, "Launch", "KeyName", "", key_name, key_name, false)                 \
        X(LAUNCH_USER_DATA, "Launch", "UserData", "", abs_path_or_empty, user_data, false)     \
        X(RECONCILE_INTERVAL, "Reconcile", "IntervalSec", "30", uint_positive, interval_sec, false) \
        X(RECONCILE_GRACE, "Reconcile", "GraceSec", "60", grace_sec, grace_sec, false)         \
        X(RECONCILE_QUORUM_GRACE, "Reconcile", "QuorumLossGraceSec", "120", uint_field, quorum_loss_grace_sec, false) \
        X(RECONCILE_STABLE, "Reconcile", "StableSec", "30", uint_field, stable_sec, false)     \
        X(RECONCILE_DRY_RUN, "Reconcile", "DryRun", "no", bool_field, dry_run, false)                 \
        X(RECONCILE_SEAT_DEADLINE, "Reconcile", "SeatDeadlineSec", "300", uint_positive, seat_deadline_sec, false) \
        X(LOG_LEVEL, "Log", "Level", "info", log_level, log_level, false)

typedef enum ConfigKeyId {
#define X(id, ...) CONFIG_##id,
        SK_CONFIG_KEYS(X)
#undef X
        _CONFIG_KEY_MAX,
} ConfigKeyId;

typedef struct Config {
        /* [Cluster] */
        char *cluster_name;
        Role role;
        char **managers;
        char *bootstrap_manager;
        unsigned workers;
        char *join_token; /* secret: never logged, never printed */
        /* [Host] */
        char *instance_id;
        char *private_ip;
        char *availability_zone;
        /* [Volume] */
        char *volume_id;
        char *device; /* "auto" or an absolute path */
        char *mount_point;
        FileSystemType file_system;
        char *mount_options;
        unsigned attach_timeout_sec;
        /* a manager's data volume the leader creates (a lost one's replacement) */
        unsigned volume_size_gib;   /* CONFIG_VOLUME_SIZE_MIN…CONFIG_VOLUME_SIZE_MAX */
        char *volume_type;          /* gp2 gp3 st1 sc1 standard (io1/io2 need IOPS: refused) */
        bool volume_encrypted;
        char *volume_kms_key_id;    /* "" (EC2's default key) | key id | alias/… | ARN */
        /* [Engine] */
        char *daemon_config;
        char **labels; /* "k=v" */
        char *socket;
        char *unit;
        /* [AWS] */
        char *region;
        char *endpoint;
        char *metadata_endpoint;
        bool allow_plain_http;      /* plain http:// to a non-loopback EC2 endpoint */
        /* [Launch]: how the leader launches a replacement manager (or a worker) */
        char *launch_template;      /* "" | lt-… | a template name */
        char *launch_template_version; /* "$Default" | "$Latest" | "<n>" */
        char *image_id;             /* "" | ami-… */
        char *instance_type;        /* "" | e.g. "t3.medium" */
        char **security_group_ids;  /* sg-… */
        char *instance_profile;     /* "" | a name | an instance-profile ARN: managers only */
        /* Workers: never Launch.Template nor Launch.InstanceProfile (the managers' power) */
        char *worker_launch_template;         /* "" | lt-… | a template name */
        char *worker_launch_template_version; /* "$Default" | "$Latest" | "<n>" */
        char *worker_instance_profile;        /* "" (none) | a name | an ARN */
        char **subnet_ids;          /* subnet-…; the one whose CIDR holds a logical id */
        char *key_name;
        char *user_data;            /* "" | absolute path of the base user-data file */
        /* [Reconcile] */
        unsigned interval_sec;
        unsigned grace_sec;         /* >= CONFIG_GRACE_SEC_MIN */
        unsigned quorum_loss_grace_sec;
        unsigned stable_sec;
        bool dry_run;
        unsigned seat_deadline_sec; /* a manager's recovery that has not progressed this long no
                                     * longer holds the one-at-a-time slot (issue 14) */
        /* [Log] */
        int log_level;

        /* Effective raw value and where it came from ("default", "file:line", "--set"). */
        char *raw[_CONFIG_KEY_MAX];
        char *source[_CONFIG_KEY_MAX];
        char **files; /* files read, in order */
        unsigned n_secrets_set; /* non-empty secret values assigned so far */
} Config;

/* A config with every key at its default. */
int config_new(Config **ret);
Config *config_free(Config *c);
static inline void config_freep(Config **c) {
        if (*c)
                config_free(*c);
}

/*
 * Load defaults, main file (path NULL: SK_CONFIG_FILE, may be missing; given: must
 * exist), drop-ins from dropin_dir (NULL: SK_CONFIG_DROPIN_DIR), then the --set
 * assignments ("Section.Key=value"). Logs the culprit and returns -EINVAL on a bad
 * value; other negative errno on I/O errors (logged too).
 */
int config_load(Config **ret, const char *path, const char *dropin_dir, char *const *sets);

/* What the command line says about where configuration comes from. */
typedef struct ConfigArgs {
        const char *path;       /* --config; NULL: SK_CONFIG_FILE */
        const char *dropin_dir; /* NULL: SK_CONFIG_DROPIN_DIR */
        char **sets;            /* --set assignments */
} ConfigArgs;

static inline int config_load_args(Config **ret, const ConfigArgs *a) {
        return config_load(ret, a->path, a->dropin_dir, a->sets);
}

/* Parse one file's bytes into c; `origin` names it in messages. Linear in size. A NUL
 * byte anywhere is an error naming origin:line, and then nothing of the text is applied.
 * No message ever shows a secret value, nor anything that looks like a join token. */
int config_parse_buffer(Config *c, const char *data, size_t size, const char *origin);
/* The same for a NUL-terminated text. */
int config_parse_text(Config *c, const char *text, const char *origin);
/* Apply one "Section.Key=value". */
int config_set(Config *c, const char *assignment);
/* Checks across keys (BootstrapManager in Managers, …); logs and returns -EINVAL.
 * Logs warnings (even manager count, more than 7, no launch configuration on a
 * manager) without failing. Does no I/O. */
int config_verify(const Config *c);

/* Reconcile.GraceSec may not be lower (a node is Down ~15 s after a missed heartbeat,
 * an election takes 10–19 s: less would fence managers that are only restarting). */
#define CONFIG_GRACE_SEC_MIN 60u
/* EC2's limit on user data (raw, before base64). */
#define CONFIG_USER_DATA_MAX (16u * 1024u)

/* Volume.SizeGiB bounds (EBS: 1 GiB to 16 TiB; per type narrower, see config_verify()). */
#define CONFIG_VOLUME_SIZE_MIN 1u
#define CONFIG_VOLUME_SIZE_MAX 16384u

/*
 * "Launching is configured": the one definition, used by config_verify()'s warnings,
 * config_verify_launch() and the reconciler (whether it runs, and which launches it
 * makes). Cluster.Managers (the seats: the planner refuses a spec without one),
 * Launch.SubnetIds, and:
 *   ROLE_MANAGER: Launch.Template, or Launch.ImageId and Launch.InstanceType;
 *   ROLE_WORKER:  Launch.WorkerTemplate, or Launch.ImageId and Launch.InstanceType.
 * A worker never uses Launch.Template (it carries the managers' instance profile) nor
 * Launch.InstanceProfile: with only Launch.Template set, workers are not launched.
 */
bool config_launch_configured(const Config *c, Role role);
/* The keys still missing for role, for a message ("nothing" when none is); an empty
 * Cluster.Managers= is named first, alone. */
const char *config_launch_missing(const Config *c, Role role);

/*
 * config_launch_configured(c, ROLE_MANAGER) as a check that logs one error naming the
 * missing key(s) and returns -EINVAL; 0 if launching is configured. Not part of
 * config_verify(): prepare, run on a worker and the tests work without it. (The
 * reconciler asks config_launch_configured() itself and stays idle without it.)
 */
int config_verify_launch(const Config *c);

/* Read Launch.UserData (must be a regular file of at most CONFIG_USER_DATA_MAX bytes).
 * *ret is NUL-terminated; "" if the key is empty. Negative errno; -EFBIG if too big,
 * -EBADF if not a regular file. Does not log. */
int config_read_user_data(const Config *c, char **ret, size_t *ret_size);

/* Wipe and forget a secret (e.g. Cluster.JoinToken after a successful join): the field
 * and the raw copy are erased, the source says so. 0, or -EINVAL if id is not secret. */
int config_erase_secret(Config *c, ConfigKeyId id);

/* Set a key from elsewhere (e.g. the metadata service); source is free text. */
int config_set_value(Config *c, ConfigKeyId id, const char *value, const char *source);

const char *config_key_name(ConfigKeyId id); /* "Section.Key" */

/* The effective configuration, INI-style, each key with its source; secrets hidden. */
void config_dump(const Config *c, FILE *f);
