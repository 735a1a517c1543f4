/* SPDX-License-Identifier: MIT */
#include "ebs.h"

#include <time.h>

#include "aws-clients.h"
#include "log.h"
#include "messages.h"
#include "volume.h"

#define EBS_POLL_MIN_USEC (250 * USEC_PER_MSEC)
#define EBS_POLL_MAX_USEC (5 * USEC_PER_SEC)

#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")

typedef struct Ebs {
        const Config *config;
        AwsClients aws;
} Ebs;

static void ebs_done(Ebs *e) {
        aws_clients_done(&e->aws);
}

static int ebs_connect(Ebs *e) {
        const Config *c = e->config;
        const AwsClientsSpec spec = {
                .region = c->region,
                .endpoint = c->endpoint,
                .metadata_endpoint = c->metadata_endpoint,
                .allow_plain_http = c->allow_plain_http,
        };
        char msg[512];
        int r;

        r = aws_clients_new(&spec, &e->aws, msg, sizeof(msg));
        if (r < 0)
                return log_error_errno(r, "%s.", msg);
        if (r > 0)
                log_warning("%s.", msg);
        return 0;
}

int ebs_choose_volume(const Ec2Volume *volumes, size_t n, size_t *ret_index) {
        (void) volumes; /* attachments do not count: see ebs.h */
        if (n == 0)
                return -ENOENT;
        if (n > 1)
                return -ENOTUNIQ;
        *ret_index = 0;
        return 0;
}

/* The volume tagged for this host; none or several are errors (logged). */
static int ebs_find(Ebs *e, Ec2Volume *ret) {
        const Config *c = e->config;
        _cleanup_(ec2_volume_list_done) Ec2VolumeList l = {};
        const Ec2Filter filters[] = {
                { "tag:" EC2_TAG_CLUSTER, EC2_VALUES(c->cluster_name) },
                { "tag:" EC2_TAG_LOGICAL_ID, EC2_VALUES(c->private_ip) },
                { "availability-zone", EC2_VALUES(c->availability_zone) },
                {},
        };
        size_t pick = SIZE_MAX;
        int r;

        r = ec2_describe_volumes(e->aws.ec2, NULL, filters, &l);
        if (r < 0)
                return ec2_log_error(e->aws.ec2, LOG_ERR, r, "Failed to look for this host's volume");

        if (l.n == 0) {
                _cleanup_(ec2_volume_list_done) Ec2VolumeList elsewhere = {};
                const Ec2Filter anywhere[] = { filters[0], filters[1], {} };

                /* A better message if it exists in another zone. */
                if (ec2_describe_volumes(e->aws.ec2, NULL, anywhere, &elsewhere) >= 0 && elsewhere.n > 0)
                        return log_error("Volume %s tagged %s=%s, %s=%s is in %s, but this instance is in %s: "
                                         "EBS volumes attach only within their zone.",
                                         elsewhere.items[0].volume_id, EC2_TAG_CLUSTER, c->cluster_name,
                                         EC2_TAG_LOGICAL_ID, c->private_ip,
                                         strempty(elsewhere.items[0].availability_zone), c->availability_zone),
                               -ENOENT;
                return log_error("No EBS volume tagged %s=%s, %s=%s in %s; create one, or set Volume.Id= or "
                                 "Volume.Device=.",
                                 EC2_TAG_CLUSTER, c->cluster_name, EC2_TAG_LOGICAL_ID, c->private_ip,
                                 c->availability_zone),
                       -ENOENT;
        }

        r = ebs_choose_volume(l.items, l.n, &pick);
        if (r == -ENOTUNIQ) {
                _cleanup_(strv_freep) char **ids = NULL;
                _cleanup_(freep) char *list = NULL, *fields = NULL;
                char count[32];

                for (size_t i = 0; i < l.n; i++)
                        if (strv_extend(&ids, strempty(l.items[i].volume_id)) < 0)
                                return log_oom();
                list = strv_join(ids, ", ");
                fields = strv_join(ids, " ");
                if (!list || !fields)
                        return log_oom();
                snprintf(count, sizeof(count), "%zu", l.n);
                return log_struct(LOG_ERR, 0, SK_MESSAGE_VOLUME_AMBIGUOUS,
                                  LOG_FIELDS("SK_VOLUME_IDS", fields, "SK_VOLUME_COUNT", count, "SK_CLUSTER",
                                             c->cluster_name, "SK_LOGICAL_ID", c->private_ip, "SK_INSTANCE_ID",
                                             c->instance_id, "SK_AVAILABILITY_ZONE", c->availability_zone),
                                  "%zu volumes are tagged %s=%s, %s=%s in %s (%s); refusing to attach, format or "
                                  "mount any of them. Find out where the others came from, remove the tags from "
                                  "all but this seat's volume (or set Volume.Id=), then start prepare again.",
                                  l.n, EC2_TAG_CLUSTER, c->cluster_name, EC2_TAG_LOGICAL_ID, c->private_ip,
                                  c->availability_zone, list),
                       -ENOTUNIQ;
        }
        if (r < 0)
                return r;

        *ret = l.items[pick];
        l.items[pick] = (Ec2Volume) {};
        return 0;
}

static bool device_same(const char *a, const char *b) {
        const char *x = startswith(a, "/dev/xvd") ?: startswith(a, "/dev/sd");
        const char *y = startswith(b, "/dev/xvd") ?: startswith(b, "/dev/sd");
        if (!x || !y)
                return streq(a, b);
        return streq(x, y);
}

/* A device name no EBS volume of this instance uses (and that we did not try yet). */
static int ebs_pick_device(Ebs *e, char *const *tried, char **ret) {
        _cleanup_(ec2_instance_list_done) Ec2InstanceList l = {};
        char *const ids[] = { e->config->instance_id, NULL };
        int r;

        r = ec2_describe_instances(e->aws.ec2, ids, NULL, &l);
        if (r < 0)
                return ec2_log_error(e->aws.ec2, LOG_ERR, r, "Failed to list this instance's devices");
        if (l.n != 1)
                return log_error("EC2 does not know this instance (%s).", e->config->instance_id), -ENOENT;

        for (char letter = 'f'; letter <= 'p'; letter++) {
                char name[16];
                bool used = false;

                snprintf(name, sizeof(name), "/dev/sd%c", letter);
                for (size_t i = 0; i < l.items[0].n_volumes && !used; i++)
                        used = l.items[0].volumes[i].device && device_same(l.items[0].volumes[i].device, name);
                STRV_FOREACH(t, tried)
                        used = used || device_same(*t, name);
                if (!used) {
                        *ret = strdup(name);
                        return *ret ? 0 : -ENOMEM;
                }
        }
        return log_error("Instance %s has no free device name between /dev/sdf and /dev/sdp.",
                         e->config->instance_id),
               -ENOSPC;
}

/* This instance's attachment if there is one, else the first. */
static const Ec2Attachment *volume_attachment(const Ec2Volume *v, const char *instance_id) {
        for (size_t i = 0; i < v->n_attachments; i++)
                if (streq_ptr(v->attachments[i].instance_id, instance_id))
                        return &v->attachments[i];
        return v->n_attachments > 0 ? &v->attachments[0] : NULL;
}

int ebs_volume_check(const Ec2Volume *v, const char *instance_id, const char **ret_other) {
        if (!ec2_id_valid(v->volume_id, "vol-"))
                return -EBADMSG;
        for (size_t i = 0; i < v->n_attachments; i++) {
                const Ec2Attachment *a = &v->attachments[i];
                if (a->device && !volume_device_name_valid(a->device))
                        return -EBADMSG;
                if (a->instance_id && !ec2_id_valid(a->instance_id, "i-"))
                        return -EBADMSG;
        }
        for (size_t i = 0; i < v->n_attachments; i++) {
                const Ec2Attachment *a = &v->attachments[i];
                if (!streq_ptr(a->instance_id, instance_id))
                        continue;
                /* Ours: is anyone else attached (or not yet fully detached)? */
                for (size_t j = 0; j < v->n_attachments; j++)
                        if (j != i && v->attachments[j].state != EC2_ATTACHMENT_DETACHED &&
                            !streq_ptr(v->attachments[j].instance_id, instance_id)) {
                                if (ret_other)
                                        *ret_other = v->attachments[j].instance_id;
                                return -EUSERS;
                        }
        }
        return 0;
}

int ebs_locate_and_attach(const Config *c, uint64_t deadline, char **ret_volume_id, char **ret_requested_device) {
        _cleanup_(ebs_done) Ebs e = { .config = c };
        _cleanup_(strv_freep) char **tried = NULL;
        _cleanup_(freep) char *waiting_for = NULL;
        uint64_t poll = EBS_POLL_MIN_USEC, now;
        bool attached_by_us = false;
        int r;

        if (isempty(c->instance_id) || isempty(c->private_ip) || isempty(c->availability_zone))
                return log_error("Finding the volume needs Host.InstanceId, Host.PrivateIp and "
                                 "Host.AvailabilityZone."),
                       -EINVAL;

        r = ebs_connect(&e);
        if (r < 0)
                return r;

        for (;;) {
                _cleanup_(ec2_volume_done) Ec2Volume v = {};
                const Ec2Attachment *a;
                _cleanup_(freep) char *what = NULL;

                const char *other = NULL;

                r = ebs_find(&e, &v);
                if (r < 0)
                        return r;
                /* Nothing from the answer becomes a path unchecked. */
                r = ebs_volume_check(&v, c->instance_id, &other);
                if (r == -EBADMSG)
                        return log_error("EC2 answered a malformed volume id, instance id or device name for the "
                                         "volume tagged %s=%s; not using it.",
                                         EC2_TAG_LOGICAL_ID, c->private_ip),
                               -EBADMSG;
                if (r == -EUSERS)
                        /* Neither ext4 nor xfs is a cluster filesystem: two hosts mounting it
                         * corrupt it. Multi-attach is for cluster-aware software, not for us. */
                        return log_struct(LOG_ERR, 0, SK_MESSAGE_MULTI_ATTACH_REFUSED,
                                          LOG_FIELDS("SK_VOLUME_ID", v.volume_id, "SK_INSTANCE_ID", c->instance_id,
                                                     "SK_OTHER_INSTANCE_ID", other),
                                          "Volume %s is attached to this instance and also to %s (EBS "
                                          "Multi-Attach); ext4 and xfs are not cluster filesystems, refusing "
                                          "to format or mount it. Detach it from the other instance.",
                                          v.volume_id, strempty(other)),
                               -EUSERS;
                a = volume_attachment(&v, c->instance_id);

                if (v.state == EC2_VOLUME_IN_USE && a && streq_ptr(a->instance_id, c->instance_id) &&
                    a->state == EC2_ATTACHMENT_ATTACHED) {
                        if (attached_by_us)
                                log_struct(LOG_NOTICE, 0, SK_MESSAGE_VOLUME_ATTACHED,
                                           LOG_FIELDS("SK_VOLUME_ID", v.volume_id, "SK_INSTANCE_ID", c->instance_id,
                                                      "SK_DEVICE", a->device, "SK_LOGICAL_ID", c->private_ip),
                                           "Attached volume %s to instance %s as %s.", v.volume_id, c->instance_id,
                                           strempty(a->device));
                        else
                                log_info("Volume %s is attached to this instance as %s.", v.volume_id,
                                         strempty(a->device));
                        *ret_volume_id = TAKE_PTR(v.volume_id);
                        *ret_requested_device = a->device ? strdup(a->device) : NULL;
                        return 0;
                }

                if (v.state == EC2_VOLUME_AVAILABLE) {
                        _cleanup_(freep) char *dev = NULL;
                        const Ec2Error *err;

                        r = ebs_pick_device(&e, tried, &dev);
                        if (r < 0)
                                return r;
                        log_info("Attaching volume %s to instance %s as %s.", v.volume_id, c->instance_id, dev);
                        r = ec2_attach_volume(e.aws.ec2, v.volume_id, c->instance_id, dev, NULL);
                        err = ec2_client_last_error(e.aws.ec2);
                        if (r >= 0)
                                attached_by_us = true;
                        else if (err->error == EC2_ERR_VOLUME_IN_USE || err->error == EC2_ERR_INCORRECT_STATE)
                                /* Someone was quicker, or an earlier try went through: look again. */
                                log_debug("AttachVolume %s: %s; looking again.", v.volume_id, err->code);
                        else if (err->error == EC2_ERR_INVALID_PARAMETER_VALUE && strstr(err->message, "in use")) {
                                /* The device name got taken meanwhile: another name. */
                                if (strv_extend(&tried, dev) < 0)
                                        return log_oom();
                                if (strv_length(tried) > 8)
                                        return ec2_log_error(e.aws.ec2, LOG_ERR, r, "Failed to attach the volume");
                                continue;
                        } else
                                return ec2_log_error(e.aws.ec2, LOG_ERR, r, "Failed to attach the volume");
                } else if (v.state == EC2_VOLUME_IN_USE || v.state == EC2_VOLUME_CREATING) {
                        /* Attaching to us, or still held by a dying instance: its volumes detach
                         * by themselves once it is terminated. Never forced away from another. */
                        if (a && !streq_ptr(a->instance_id, c->instance_id))
                                r = asprintf(&what, "in use by instance %s (%s)", strempty(a->instance_id),
                                             ec2_attachment_state_to_string(a->state));
                        else
                                r = asprintf(&what, "%s", a ? ec2_attachment_state_to_string(a->state)
                                                            : ec2_volume_state_to_string(v.state));
                        if (r < 0)
                                return log_oom();
                        if (!streq_ptr(what, waiting_for)) {
                                log_info("Volume %s is %s; waiting.", v.volume_id, what);
                                (void) notify_status("waiting for volume %s (%s)", v.volume_id, what);
                                free(waiting_for);
                                waiting_for = TAKE_PTR(what);
                        }
                } else
                        return log_error("Volume %s is %s; cannot use it.", v.volume_id,
                                         strempty(ec2_volume_state_to_string(v.state))),
                               -EIO;

                now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return log_error("Volume %s was not attached to this instance within %u s "
                                         "(Volume.AttachTimeoutSec); last seen %s.",
                                         v.volume_id, c->attach_timeout_sec,
                                         waiting_for ? waiting_for : "available"),
                               -ETIME; /* not -ETIMEDOUT: that is a transport timeout talking to EC2 */
                sk_sleep_real(poll < deadline - now ? poll : deadline - now, NULL);
                poll = poll * 2 > EBS_POLL_MAX_USEC ? EBS_POLL_MAX_USEC : poll * 2;
        }
}
