/* SPDX-License-Identifier: MIT */
/*
 * What a launched host is given (see user-data.h): the drop-in, the multipart
 * user-data, the launch and volume parameters. Pure, no I/O; the loop thread (rc_settings_new())
 * and the Job's worker thread (act_launch()) call it.
 */
#include "user-data.h"

#define RC_USER_DATA_MAX 16384 /* EC2's limit, before base64 */

/* The effective raw value of "Section.Key", NULL if this build has no such key. */
static const char *conf_raw(const Config *c, const char *name) {
        for (int i = 0; i < _CONFIG_KEY_MAX; i++)
                if (streq(config_key_name((ConfigKeyId) i), name))
                        return c->raw[i];
        return NULL;
}

/* Keys the launched host gets from the leader's configuration, by section. Never
 * Cluster.BootstrapManager: a launched host is never the bootstrap manager. Only a
 * manager (who may lead and launch next) gets Launch.* and the keys that make a
 * manager's volume; a worker never launches and holds nothing of the managers' power. */
static const struct {
        const char *name;
        bool manager_only;
} cluster_conf_keys[] = {
        { "Cluster.Name" }, { "Cluster.Managers" }, { "Cluster.Workers" },
        { "AWS.Region" }, { "AWS.Endpoint" }, { "AWS.MetadataEndpoint" }, { "AWS.AllowPlainHttp" },
        { "Volume.FileSystem" }, { "Volume.MountOptions" }, { "Volume.AttachTimeoutSec" },
        { "Volume.SizeGiB", true }, { "Volume.Type", true }, { "Volume.Encrypted", true },
        { "Volume.KmsKeyId", true },
        { "Launch.Template", true }, { "Launch.TemplateVersion", true }, { "Launch.ImageId", true },
        { "Launch.InstanceType", true }, { "Launch.SecurityGroupIds", true }, { "Launch.InstanceProfile", true },
        { "Launch.WorkerTemplate", true }, { "Launch.WorkerTemplateVersion", true },
        { "Launch.WorkerInstanceProfile", true }, { "Launch.SubnetIds", true }, { "Launch.KeyName", true },
        { "Reconcile.IntervalSec" }, { "Reconcile.GraceSec" }, { "Reconcile.QuorumLossGraceSec" },
        { "Reconcile.StableSec" }, { "Reconcile.DryRun" }, { "Reconcile.SeatDeadlineSec" },
        { "Log.Level" },
};

/* A growable text that can be wiped: every reallocation erases the old copy. */
typedef struct SecBuf {
        char *data;
        size_t size, alloc;
        int error;
} SecBuf;

static void secbuf_add(SecBuf *b, const char *s, size_t n) {
        if (b->error)
                return;
        if (b->size + n + 1 > b->alloc) {
                size_t na = (b->size + n + 1) * 2;
                char *nd = malloc(na < 256 ? 256 : na);
                if (!nd) {
                        b->error = -ENOMEM;
                        return;
                }
                if (b->data) {
                        memcpy(nd, b->data, b->size);
                        explicit_bzero(b->data, b->alloc);
                        free(b->data);
                }
                b->data = nd;
                b->alloc = na < 256 ? 256 : na;
        }
        memcpy(b->data + b->size, s, n);
        b->size += n;
        b->data[b->size] = 0;
}

static void secbuf_puts(SecBuf *b, const char *s) {
        secbuf_add(b, s, strlen(s));
}

static void secbuf_done(SecBuf *b) {
        if (b->data) {
                explicit_bzero(b->data, b->alloc);
                free(b->data);
        }
        *b = (SecBuf){};
}

int rc_cluster_conf(const Config *c, const char *role, const char *join_token, bool have_base, char **ret) {
        _cleanup_(secbuf_done) SecBuf b = {};
        const char *section = NULL;

        if (!role || (join_token && strpbrk(join_token, "\r\n")))
                return -EINVAL;
        bool manager = streq(role, "manager");

        secbuf_puts(&b, "# Written by the swarmkeeper leader that launched this host.\n");
        for (size_t i = 0; i < ELEMENTSOF(cluster_conf_keys); i++) {
                const char *name = cluster_conf_keys[i].name, *dot = strchr(name, '.');
                const char *v = conf_raw(c, name);

                if (isempty(v) || strpbrk(v, "\r\n") || (cluster_conf_keys[i].manager_only && !manager))
                        continue;
                if (!section || strncmp(section, name, (size_t) (dot - name) + 1) != 0) {
                        secbuf_puts(&b, "\n[");
                        secbuf_add(&b, name, (size_t) (dot - name));
                        secbuf_puts(&b, "]\n");
                        section = name;
                        if (startswith(name, "Cluster.")) {
                                secbuf_puts(&b, "Role=");
                                secbuf_puts(&b, role);
                                secbuf_puts(&b, "\n");
                        }
                        if (startswith(name, "Launch.") && have_base)
                                secbuf_puts(&b, "UserData=" RC_BASE_USER_DATA_PATH "\n");
                }
                secbuf_puts(&b, dot + 1);
                secbuf_puts(&b, "=");
                secbuf_puts(&b, v);
                secbuf_puts(&b, "\n");
        }
        if (join_token) {
                secbuf_puts(&b, "\n[Cluster]\nJoinToken=");
                secbuf_puts(&b, join_token);
                secbuf_puts(&b, "\n");
        }
        if (b.error)
                return b.error;
        *ret = TAKE_PTR(b.data);
        b = (SecBuf){};
        return 0;
}

static void secbuf_base64(SecBuf *b, const char *data, size_t size, size_t line) {
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t col = 0;

        for (size_t i = 0; i < size; i += 3) {
                uint32_t v = (uint32_t) (unsigned char) data[i] << 16;
                char out[4];
                if (i + 1 < size)
                        v |= (uint32_t) (unsigned char) data[i + 1] << 8;
                if (i + 2 < size)
                        v |= (unsigned char) data[i + 2];
                out[0] = tbl[(v >> 18) & 63];
                out[1] = tbl[(v >> 12) & 63];
                out[2] = i + 1 < size ? tbl[(v >> 6) & 63] : '=';
                out[3] = i + 2 < size ? tbl[v & 63] : '=';
                secbuf_add(b, out, 4);
                explicit_bzero(&v, sizeof(v));
                explicit_bzero(out, sizeof(out));
                col += 4;
                if (line && col >= line && i + 3 < size) {
                        secbuf_puts(b, "\n");
                        col = 0;
                }
        }
}

/* The MIME type cloud-init gives a part by its first line; NULL: a MIME entity itself. */
static int base_part_type(const char *base, size_t size, const char **ret) {
        static const struct {
                const char *prefix, *type;
        } types[] = {
                { "#cloud-config", "text/cloud-config" },
                { "#!", "text/x-shellscript" },
                { "#cloud-boothook", "text/cloud-boothook" },
                { "#include", "text/x-include-url" },
                { "#part-handler", "text/part-handler" },
                { "#upstart-job", "text/upstart-job" },
        };

        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                size_t l = strlen(types[i].prefix);
                if (size >= l && memcmp(base, types[i].prefix, l) == 0) {
                        *ret = types[i].type;
                        return 0;
                }
        }
        if ((size >= 13 && strncasecmp(base, "Content-Type:", 13) == 0) ||
            (size >= 13 && strncasecmp(base, "MIME-Version:", 13) == 0)) {
                *ret = NULL;
                return 0;
        }
        return -EMEDIUMTYPE;
}

int rc_user_data_build(const char *conf, const char *base, size_t base_size, char **ret, size_t *ret_size) {
        _cleanup_(secbuf_done) SecBuf b = {};
        const char *type = NULL;
        int r;

        if (!conf)
                return -EINVAL;
        if (base) {
                r = base_part_type(base, base_size, &type);
                if (r < 0)
                        return r;
                /* the boundary must not occur inside */
                if (memmem(base, base_size, RC_MIME_BOUNDARY, strlen(RC_MIME_BOUNDARY)))
                        return -EBADMSG;
        }

        secbuf_puts(&b, "Content-Type: multipart/mixed; boundary=\"" RC_MIME_BOUNDARY "\"\n"
                        "MIME-Version: 1.0\n\n"
                        "--" RC_MIME_BOUNDARY "\n"
                        "Content-Type: text/cloud-config; charset=\"us-ascii\"\n"
                        "MIME-Version: 1.0\n"
                        "Content-Transfer-Encoding: 7bit\n"
                        "Content-Disposition: attachment; filename=\"swarmkeeper-cluster.cfg\"\n\n"
                        "#cloud-config\n"
                        "write_files:\n"
                        "  - path: " RC_CLUSTER_DROPIN "\n"
                        "    owner: root:root\n"
                        "    permissions: '0600'\n"
                        "    encoding: b64\n"
                        "    content: ");
        secbuf_base64(&b, conf, strlen(conf), 0);
        secbuf_puts(&b, "\n");
        if (base) {
                secbuf_puts(&b, "  - path: " RC_BASE_USER_DATA_PATH "\n"
                                "    owner: root:root\n"
                                "    permissions: '0600'\n"
                                "    encoding: b64\n"
                                "    content: ");
                secbuf_base64(&b, base, base_size, 0);
                secbuf_puts(&b, "\n");
        }
        if (base) {
                secbuf_puts(&b, "\n--" RC_MIME_BOUNDARY "\n");
                if (type) {
                        secbuf_puts(&b, "Content-Type: ");
                        secbuf_puts(&b, type);
                        secbuf_puts(&b, "; charset=\"utf-8\"\n"
                                        "MIME-Version: 1.0\n"
                                        "Content-Transfer-Encoding: base64\n"
                                        "Content-Disposition: attachment; filename=\"base-user-data\"\n\n");
                        secbuf_base64(&b, base, base_size, 76);
                        secbuf_puts(&b, "\n");
                } else {
                        secbuf_add(&b, base, base_size);
                        if (base_size == 0 || base[base_size - 1] != '\n')
                                secbuf_puts(&b, "\n");
                }
        }
        secbuf_puts(&b, "--" RC_MIME_BOUNDARY "--\n");
        if (b.error)
                return b.error;
        if (b.size > RC_USER_DATA_MAX)
                return -E2BIG;
        *ret_size = b.size;
        *ret = TAKE_PTR(b.data);
        b = (SecBuf){};
        return 0;
}

int conf_with_token(const char *conf, const char *token, char **ret) {
        _cleanup_(secbuf_done) SecBuf b = {};

        secbuf_puts(&b, conf);
        if (token) {
                if (strpbrk(token, "\r\n"))
                        return -EINVAL;
                secbuf_puts(&b, "\n[Cluster]\nJoinToken=");
                secbuf_puts(&b, token);
                secbuf_puts(&b, "\n");
        }
        if (b.error)
                return b.error;
        *ret = TAKE_PTR(b.data);
        b = (SecBuf){};
        return 0;
}

/* ---- what a launch and a new data volume send ------------------------------------------ */

void rc_launch_conf_done(RcLaunchConf *l) {
        free(l->template_id);
        free(l->template_name);
        free(l->template_version);
        free(l->image_id);
        free(l->instance_type);
        free(l->instance_profile);
        *l = (RcLaunchConf){};
}

int rc_launch_conf(const Config *c, Role role, RcLaunchConf *ret) {
        _cleanup_(rc_launch_conf_done) RcLaunchConf l = {};
        bool worker = role == ROLE_WORKER;
        /* a worker: its own template and profile or none, never the managers' */
        const char *tmpl = nonempty(worker ? c->worker_launch_template : c->launch_template);
        const char *version = worker ? c->worker_launch_template_version : c->launch_template_version;
        const char *profile = nonempty(worker ? c->worker_instance_profile : c->instance_profile);
        int r;

        if (!config_launch_configured(c, role)) {
                *ret = (RcLaunchConf){};
                return 0;
        }
        l.configured = true;
        if (tmpl && ((r = strdup_or_null(startswith(tmpl, "lt-") ? tmpl : NULL, &l.template_id)) < 0 ||
                     (r = strdup_or_null(startswith(tmpl, "lt-") ? NULL : tmpl, &l.template_name)) < 0 ||
                     (r = strdup_or_null(nonempty(version) ?: "$Default", &l.template_version)) < 0))
                return r;
        if ((r = strdup_or_null(nonempty(c->image_id), &l.image_id)) < 0 ||
            (r = strdup_or_null(nonempty(c->instance_type), &l.instance_type)) < 0 ||
            (r = strdup_or_null(profile, &l.instance_profile)) < 0)
                return r;
        *ret = l;
        l = (RcLaunchConf){};
        return 0;
}

void rc_volume_conf_done(RcVolumeConf *v) {
        free(v->type);
        free(v->kms_key_id);
        *v = (RcVolumeConf){};
}

int rc_volume_conf(const Config *c, RcVolumeConf *ret) {
        _cleanup_(rc_volume_conf_done) RcVolumeConf v = {
                .size_gib = c->volume_size_gib,
                .encrypted = c->volume_encrypted,
        };
        int r;

        if ((r = strdup_or_null(nonempty(c->volume_type) ?: "gp3", &v.type)) < 0 ||
            (r = strdup_or_null(nonempty(c->volume_kms_key_id), &v.kms_key_id)) < 0)
                return r;
        *ret = v;
        v = (RcVolumeConf){};
        return 0;
}
