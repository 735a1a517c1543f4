/* SPDX-License-Identifier: MIT */
/*
 * Checks across configuration keys: config_verify() (BootstrapManager in Managers, the
 * [Volume] and worker launch pairs, warnings) and whether launching is configured
 * (config_launch_configured(), config_launch_missing(), config_verify_launch()). Pure
 * (no I/O; logs the culprit). Runs on the event loop's thread; the reconciler asks
 * config_launch_configured() from it too.
 */
#include "config.h"

#include "log.h"

/* The template a role launches from ("" for none): a worker never uses Launch.Template. */
static const char *launch_template_of(const Config *c, Role role) {
        return strempty(role == ROLE_WORKER ? c->worker_launch_template : c->launch_template);
}

/* What to launch from: the role's template, or an image and an instance type. */
static bool launch_image_configured(const Config *c, Role role) {
        return *launch_template_of(c, role) || (!isempty(c->image_id) && !isempty(c->instance_type));
}

bool config_launch_configured(const Config *c, Role role) {
        return strv_length(c->managers) > 0 && launch_image_configured(c, role) && strv_length(c->subnet_ids) > 0;
}

const char *config_launch_missing(const Config *c, Role role) {
        bool tmpl = *launch_template_of(c, role);
        bool image = launch_image_configured(c, role);
        bool subnets = strv_length(c->subnet_ids) > 0;
        bool half = !tmpl && !isempty(c->image_id); /* ImageId without type */
        bool w = role == ROLE_WORKER;

        if (strv_length(c->managers) == 0)
                return "Cluster.Managers=";
        if (!image && !subnets)
                return half ? (w ? "Launch.InstanceType= (or Launch.WorkerTemplate=) and Launch.SubnetIds="
                                 : "Launch.InstanceType= (or Launch.Template=) and Launch.SubnetIds=")
                            : (w ? "Launch.WorkerTemplate= (or Launch.ImageId= and Launch.InstanceType=) and "
                                   "Launch.SubnetIds="
                                 : "Launch.Template= (or Launch.ImageId= and Launch.InstanceType=) and "
                                   "Launch.SubnetIds=");
        if (!image)
                return half ? (w ? "Launch.InstanceType= (or Launch.WorkerTemplate=)"
                                 : "Launch.InstanceType= (or Launch.Template=)")
                            : (w ? "Launch.WorkerTemplate= (or Launch.ImageId= and Launch.InstanceType=)"
                                 : "Launch.Template= (or Launch.ImageId= and Launch.InstanceType=)");
        if (!subnets)
                return "Launch.SubnetIds=";
        return "nothing";
}

/* The name of an instance profile given as a name or an ARN (…:instance-profile/path/name). */
static const char *instance_profile_name(const char *p) {
        const char *slash = startswith(p, "arn:") ? strrchr(p, '/') : NULL;
        return slash ? slash + 1 : p;
}

/* Cross-key checks of [Volume] (Type, SizeGiB, Encrypted, KmsKeyId). */
static int config_verify_volume(const Config *c) {
        static const struct {
                const char *type;
                unsigned min, max;
        } sizes[] = { { "st1", 125, 16384 }, { "sc1", 125, 16384 }, { "standard", 1, 1024 } };

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                if (streq_ptr(c->volume_type, sizes[i].type) &&
                    (c->volume_size_gib < sizes[i].min || c->volume_size_gib > sizes[i].max))
                        return log_error("%s: Volume.SizeGiB=%u is out of range for Volume.Type=%s (%s): "
                                         "EC2 makes %s volumes of %u to %u GiB.",
                                         c->source[CONFIG_VOLUME_SIZE], c->volume_size_gib, c->volume_type,
                                         c->source[CONFIG_VOLUME_TYPE], c->volume_type, sizes[i].min, sizes[i].max),
                               -EINVAL;
        if (!isempty(c->volume_kms_key_id) && !c->volume_encrypted)
                return log_error("%s: Volume.KmsKeyId= is set but Volume.Encrypted=no (%s): a KMS key "
                                 "only encrypts an encrypted volume (EC2 refuses the pair).",
                                 c->source[CONFIG_VOLUME_KMS_KEY_ID], c->source[CONFIG_VOLUME_ENCRYPTED]),
                       -EINVAL;
        return 0;
}

/* The managers' template and profile hold the managers' power: never a worker's. */
static int config_verify_worker_launch(const Config *c) {
        if (!isempty(c->worker_launch_template) && streq_ptr(c->worker_launch_template, c->launch_template))
                return log_error("%s: Launch.WorkerTemplate=%s is the managers' Launch.Template= (%s): a "
                                 "worker must not be launched with the managers' template (it carries their "
                                 "instance profile); give workers a template of their own.",
                                 c->source[CONFIG_LAUNCH_WORKER_TEMPLATE], c->worker_launch_template,
                                 c->source[CONFIG_LAUNCH_TEMPLATE]),
                       -EINVAL;
        if (!isempty(c->worker_instance_profile) && !isempty(c->instance_profile) &&
            streq(instance_profile_name(c->worker_instance_profile), instance_profile_name(c->instance_profile)))
                return log_error("%s: Launch.WorkerInstanceProfile=%s is the managers' Launch.InstanceProfile= "
                                 "(%s): workers would hold the managers' AWS power; give workers a separate "
                                 "profile without it, or none.",
                                 c->source[CONFIG_LAUNCH_WORKER_INSTANCE_PROFILE], c->worker_instance_profile,
                                 c->source[CONFIG_LAUNCH_INSTANCE_PROFILE]),
                       -EINVAL;
        return 0;
}

int config_verify(const Config *c) {
        int r;

        if (!isempty(c->bootstrap_manager) && !strv_contains(c->managers, c->bootstrap_manager))
                return log_error("%s: Cluster.BootstrapManager=%s is not one of Cluster.Managers= (%s).",
                                 c->source[CONFIG_CLUSTER_BOOTSTRAP], c->bootstrap_manager,
                                 c->source[CONFIG_CLUSTER_MANAGERS]),
                       -EINVAL;
        if (c->role == ROLE_MANAGER && !isempty(c->private_ip) && strv_length(c->managers) > 0 &&
            !strv_contains(c->managers, c->private_ip))
                return log_error("%s: Host.PrivateIp=%s is not one of Cluster.Managers= (%s), "
                                 "but Cluster.Role=manager.",
                                 c->source[CONFIG_HOST_PRIVATE_IP], c->private_ip,
                                 c->source[CONFIG_CLUSTER_MANAGERS]),
                       -EINVAL;

        size_t n = strv_length(c->managers);
        if (n > 0 && n % 2 == 0)
                log_warning("%s: Cluster.Managers= lists %zu managers: an even count adds no fault "
                            "tolerance (%zu managers survive %zu failures, as %zu do) and makes a split "
                            "vote more likely; use an odd count.",
                            c->source[CONFIG_CLUSTER_MANAGERS], n, n, (n - 1) / 2, n - 1);
        if (n > 7)
                log_warning("%s: Cluster.Managers= lists %zu managers: more than 7 slows Raft down "
                            "(every write waits for a majority) without real gain; use 3, 5 or 7.",
                            c->source[CONFIG_CLUSTER_MANAGERS], n);
        r = config_verify_volume(c);
        if (r < 0)
                return r;
        r = config_verify_worker_launch(c);
        if (r < 0)
                return r;
        if (c->role == ROLE_MANAGER && n > 0 && !config_launch_configured(c, ROLE_MANAGER))
                log_warning("No launch configuration (%s): this manager cannot re-create a lost "
                            "manager when it leads; it will refuse to launch.",
                            config_launch_missing(c, ROLE_MANAGER));
        else if (c->role == ROLE_MANAGER && n > 0 && c->workers > 0 && !config_launch_configured(c, ROLE_WORKER))
                log_warning("%s: Cluster.Workers=%u but no launch configuration for workers (%s; "
                            "Launch.Template= carries the managers' instance profile and is never used "
                            "for a worker): no worker will be launched.",
                            c->source[CONFIG_CLUSTER_WORKERS], c->workers, config_launch_missing(c, ROLE_WORKER));
        if (isempty(c->launch_template) && !streq(c->launch_template_version, "$Default"))
                log_warning("%s: Launch.TemplateVersion= without Launch.Template=, ignoring.",
                            c->source[CONFIG_LAUNCH_TEMPLATE_VERSION]);
        if (isempty(c->worker_launch_template) && !streq(c->worker_launch_template_version, "$Default"))
                log_warning("%s: Launch.WorkerTemplateVersion= without Launch.WorkerTemplate=, ignoring.",
                            c->source[CONFIG_LAUNCH_WORKER_TEMPLATE_VERSION]);
        return 0;
}

int config_verify_launch(const Config *c) {
        if (config_launch_configured(c, ROLE_MANAGER))
                return 0;
        if (strv_length(c->managers) == 0)
                return log_error("%s: Cluster.Managers= lists no manager: refusing to launch.",
                                 c->source[CONFIG_CLUSTER_MANAGERS]),
                       -EINVAL;
        return log_error("Launch configuration incomplete: %s must be set to launch an "
                         "instance; refusing to launch.",
                         config_launch_missing(c, ROLE_MANAGER)),
               -EINVAL;
}
