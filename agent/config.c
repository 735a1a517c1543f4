/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <syslog.h>

#include "ec2-parse.h"
#include "http.h"
#include "labels.h"
#include "log.h"

/* A parser checks `value` and stores it in `field`; on failure it returns
 * -EINVAL and points *why at a sentence saying what is wrong. */
typedef int (*ConfigParser)(const char *value, void *field, const char **why);

typedef struct ConfigKey {
        const char *section;
        const char *name;
        const char *full; /* "Section.Key" */
        const char *dflt;
        ConfigParser parse;
        size_t offset;
        bool secret;
} ConfigKey;

static int parse_string(const char *v, void *f, const char **why) {
        (void) why;
        return free_and_strdup(f, v);
}

static int parse_nonempty(const char *v, void *f, const char **why) {
        if (!*v) {
                *why = "must not be empty";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static int parse_cluster_name(const char *v, void *f, const char **why) {
        /* Goes into EC2 tags, engine labels and the ClientToken: keep it tame. */
        if (strlen(v) > 32) {
                *why = "is longer than 32 characters";
                return -EINVAL;
        }
        for (const char *p = v; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '-' && *p != '_' && *p != '.') {
                        *why = "may contain only letters, digits, '-', '_' and '.'";
                        return -EINVAL;
                }
        return free_and_strdup(f, v);
}

static int parse_role(const char *v, void *f, const char **why) {
        Role *r = f;
        if (streq(v, "manager"))
                *r = ROLE_MANAGER;
        else if (streq(v, "worker"))
                *r = ROLE_WORKER;
        else {
                *why = "must be 'manager' or 'worker'";
                return -EINVAL;
        }
        return 0;
}

static int parse_fs_type(const char *v, void *f, const char **why) {
        FileSystemType *t = f;
        if (streq(v, "ext4"))
                *t = FS_EXT4;
        else if (streq(v, "xfs"))
                *t = FS_XFS;
        else {
                *why = "must be 'ext4' or 'xfs'";
                return -EINVAL;
        }
        return 0;
}

static int parse_ipv4_or_empty(const char *v, void *f, const char **why) {
        if (*v && !ipv4_valid(v)) {
                *why = "is not an IPv4 address";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

/* A comma list: none empty, each `valid`, none twice. The messages say what is wrong. */
typedef struct ListRule {
        bool (*valid)(const char *s, const char *ctx);
        const char *ctx;
        const char *none, *bad, *twice;
} ListRule;

static int parse_list(const char *v, void *f, const ListRule *rule, const char **why) {
        _cleanup_(strv_freep) char **l = NULL;
        char ***dst = f;
        int r;

        r = strv_split_trim(v, ',', &l);
        if (r < 0)
                return r;
        if (*v && !l[0]) {
                *why = rule->none;
                return -EINVAL;
        }
        for (size_t i = 0; l[i]; i++) {
                if (!rule->valid(l[i], rule->ctx)) {
                        *why = rule->bad;
                        return -EINVAL;
                }
                for (size_t j = 0; j < i; j++)
                        if (streq(l[i], l[j])) {
                                *why = rule->twice;
                                return -EINVAL;
                        }
        }
        strv_free(*dst);
        *dst = TAKE_PTR(l);
        return 0;
}

static bool list_ipv4_valid(const char *s, const char *ctx) {
        return ipv4_valid(s);
}

static int parse_ipv4_list(const char *v, void *f, const char **why) {
        static const ListRule rule = {
                .valid = list_ipv4_valid,
                .none = "lists no address (a cluster needs at least one manager)",
                .bad = "has an element that is not an IPv4 address",
                .twice = "lists an address twice",
        };
        return parse_list(v, f, &rule, why);
}

static int parse_labels(const char *v, void *f, const char **why) {
        _cleanup_(strv_freep) char **l = NULL;
        char ***dst = f;
        int r;

        r = strv_split_trim(v, ',', &l);
        if (r < 0)
                return r;
        STRV_FOREACH(i, l) {
                const char *eq = strchr(*i, '=');
                if (!eq || eq == *i) {
                        *why = "must be a comma separated list of key=value";
                        return -EINVAL;
                }
                if (startswith(*i, SK_LABEL_NAMESPACE)) {
                        *why = "must not set labels in the swarmkeeper. namespace";
                        return -EINVAL;
                }
        }
        strv_free(*dst);
        *dst = TAKE_PTR(l);
        return 0;
}

static int parse_uint_field(const char *v, void *f, const char **why) {
        int r = parse_uint(v, f);
        if (r < 0)
                *why = r == -ERANGE ? "is out of range" : "is not a non-negative integer";
        return r < 0 ? -EINVAL : 0;
}

static int parse_uint_positive(const char *v, void *f, const char **why) {
        unsigned u;
        int r = parse_uint_field(v, &u, why);
        if (r < 0)
                return r;
        if (u == 0) {
                *why = "must be at least 1";
                return -EINVAL;
        }
        *(unsigned *) f = u;
        return 0;
}

static int parse_bool_field(const char *v, void *f, const char **why) {
        if (parse_bool(v, f) < 0) {
                *why = "is not a boolean (yes/no)";
                return -EINVAL;
        }
        return 0;
}

static int parse_log_level(const char *v, void *f, const char **why) {
        int l = log_level_from_string(v);
        if (l < 0) {
                *why = "must be one of debug, info, notice, warning, err";
                return -EINVAL;
        }
        *(int *) f = l;
        return 0;
}

static int parse_abs_path(const char *v, void *f, const char **why) {
        if (v[0] != '/') {
                *why = "is not an absolute path";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static int parse_device(const char *v, void *f, const char **why) {
        if (!streq(v, "auto") && v[0] != '/') {
                *why = "must be 'auto' or an absolute device path";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static int parse_volume_id(const char *v, void *f, const char **why) {
        if (*v && !ec2_id_valid(v, "vol-")) {
                *why = "is not an EBS volume id (vol- and 8 or 17 hex digits)";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static int parse_instance_id(const char *v, void *f, const char **why) {
        if (*v && !ec2_id_valid(v, "i-")) {
                *why = "is not an EC2 instance id (i- and 8 or 17 hex digits)";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static int parse_join_token(const char *v, void *f, const char **why) {
        /* SWMTKN-1-<digest>-<secret>; never echo the value. */
        const char *rest = startswith(v, "SWMTKN-1-");
        size_t n = rest ? strlen(rest) : 0;
        if (*v && (!rest || n == 0 || n > 256 ||
                   strspn(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != n)) {
                *why = "is not a Swarm join token (SWMTKN-1-, then letters, digits and -)";
                return -EINVAL;
        }
        char **dst = f;
        char *copy = strdup(v);
        if (!copy)
                return -ENOMEM;
        erase_and_free(*dst);
        *dst = copy;
        return 0;
}

static int parse_url(const char *v, void *f, const char **why) {
        const char *rest = startswith(v, "https://");
        if (!rest)
                rest = startswith(v, "http://");
        if (!rest || !*rest || strpbrk(v, " \t")) {
                *why = "is not an http:// or https:// URL";
                return -EINVAL;
        }
        /* libcurl's own URL parser: what passes here is what curl would send to.
         * http://localhost:1@evil.example/ names evil.example, so userinfo is refused. */
        if (http_url_validate(v) < 0) {
                *why = "is not a URL with a host and without user information (user@, user:password@)";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static int parse_url_or_empty(const char *v, void *f, const char **why) {
        if (!*v)
                return free_and_strdup(f, v);
        return parse_url(v, f, why);
}

static int parse_unit_name(const char *v, void *f, const char **why) {
        if (!endswith(v, ".service") || strchr(v, '/')) {
                *why = "is not a service unit name (…service)";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static int parse_grace_sec(const char *v, void *f, const char **why) {
        unsigned u;
        int r = parse_uint_field(v, &u, why);
        if (r < 0)
                return r;
        if (u < CONFIG_GRACE_SEC_MIN) {
                *why = "must be at least 60 (a restarting manager is Down for tens of seconds)";
                return -EINVAL;
        }
        *(unsigned *) f = u;
        return 0;
}

static int parse_abs_path_or_empty(const char *v, void *f, const char **why) {
        if (!*v)
                return free_and_strdup(f, v);
        return parse_abs_path(v, f, why);
}

static int parse_launch_template(const char *v, void *f, const char **why) {
        size_t n = strlen(v);
        /* An id (lt- and 8 or 17 hex digits) or a name: 3–128 of [A-Za-z0-9()./_-]. */
        if (*v && !ec2_id_valid(v, "lt-")) {
                if (startswith(v, "lt-")) {
                        *why = "is not a launch template id (lt- and 8 or 17 hex digits)";
                        return -EINVAL;
                }
                if (n < 3 || n > 128 ||
                    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789()./_-") != n) {
                        *why = "is neither a launch template id (lt-…) nor a name (3 to 128 of A-Z a-z 0-9 ( ) . / _ -)";
                        return -EINVAL;
                }
        }
        return free_and_strdup(f, v);
}

static int parse_template_version(const char *v, void *f, const char **why) {
        unsigned u;
        if (!streq(v, "$Default") && !streq(v, "$Latest") && (parse_uint(v, &u) < 0 || u == 0)) {
                *why = "must be $Default, $Latest or a version number";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static int parse_image_id(const char *v, void *f, const char **why) {
        if (*v && !ec2_id_valid(v, "ami-")) {
                *why = "is not an AMI id (ami- and 8 or 17 hex digits)";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static int parse_instance_type(const char *v, void *f, const char **why) {
        size_t n = strlen(v);
        const char *dot = strchr(v, '.');
        if (*v && (n > 64 || !dot || dot == v || !dot[1] ||
                   strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-.") != n)) {
                *why = "is not an instance type (family.size, e.g. t3.medium)";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static int parse_aws_id_list(const char *v, void *f, const char *prefix, const char **why) {
        const ListRule rule = {
                .valid = ec2_id_valid,
                .ctx = prefix,
                .none = "lists no id",
                .bad = streq(prefix, "sg-") ? "has an element that is not a security group id (sg- and 8 or 17 hex digits)"
                                            : "has an element that is not a subnet id (subnet- and 8 or 17 hex digits)",
                .twice = "lists an id twice",
        };
        return parse_list(v, f, &rule, why);
}

static int parse_sg_list(const char *v, void *f, const char **why) {
        return parse_aws_id_list(v, f, "sg-", why);
}

static int parse_subnet_list(const char *v, void *f, const char **why) {
        return parse_aws_id_list(v, f, "subnet-", why);
}

static int parse_instance_profile(const char *v, void *f, const char **why) {
        static const char name_chars[] =
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-";
        size_t n = strlen(v);

        if (!*v)
                return free_and_strdup(f, v);
        if (startswith(v, "arn:")) {
                /* arn:<partition>:iam::<12 digits>:instance-profile/<path/>name */
                const char *p = v + 4, *e = strchr(p, ':');
                const char *acct, *rest;
                if (!e || e == p || strspn(p, "abcdefghijklmnopqrstuvwxyz-") != (size_t) (e - p) ||
                    !(acct = startswith(e + 1, "iam::")) || strspn(acct, "0123456789") != 12 ||
                    !(rest = startswith(acct + 12, ":instance-profile/")) || !*rest ||
                    endswith(rest, "/") || n > 2048 ||
                    strspn(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-/") !=
                            strlen(rest)) {
                        *why = "is not an instance profile ARN (arn:aws:iam::<account>:instance-profile/<name>)";
                        return -EINVAL;
                }
        } else if (n > 128 || strspn(v, name_chars) != n) {
                *why = "is neither an instance profile name (1 to 128 of A-Z a-z 0-9 + = , . @ _ -) nor an ARN";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static int parse_key_name(const char *v, void *f, const char **why) {
        size_t n = strlen(v);
        for (const char *p = v; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e) {
                        *why = "may contain only printable ASCII characters";
                        return -EINVAL;
                }
        if (n > 255) {
                *why = "is longer than 255 characters";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static int parse_volume_size(const char *v, void *f, const char **why) {
        unsigned u;
        int r = parse_uint_field(v, &u, why);
        if (r < 0)
                return r;
        if (u < CONFIG_VOLUME_SIZE_MIN || u > CONFIG_VOLUME_SIZE_MAX) {
                *why = "is out of range (1 to 16384 GiB)";
                return -EINVAL;
        }
        *(unsigned *) f = u;
        return 0;
}

static int parse_volume_type(const char *v, void *f, const char **why) {
        static const char *const types[] = { "gp2", "gp3", "st1", "sc1", "standard" };

        if (streq(v, "io1") || streq(v, "io2")) {
                /* EC2 refuses io1/io2 without Iops, which we do not set: every replacement
                 * volume would fail to be created. */
                *why = "needs provisioned IOPS, which swarmkeeper does not set: use gp3 (3000 IOPS "
                       "included) or gp2";
                return -EINVAL;
        }
        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                if (streq(v, types[i]))
                        return free_and_strdup(f, v);
        *why = "is not an EBS volume type (gp2, gp3, io1, io2, st1, sc1, standard)";
        return -EINVAL;
}

/* A KMS key id: 8-4-4-4-12 lower-case hex digits, or mrk- and 32 (a multi-Region key). */
static bool kms_key_uuid_valid(const char *v) {
        const char *m = startswith(v, "mrk-");
        size_t n = strlen(v);

        if (m)
                return n == 36 && strspn(m, "0123456789abcdef") == 32;
        if (n != 36)
                return false;
        for (size_t i = 0; i < n; i++)
                if (i == 8 || i == 13 || i == 18 || i == 23 ? v[i] != '-' : !strchr("0123456789abcdef", v[i]))
                        return false;
        return true;
}

/* alias/ and 1 to 250 of A-Z a-z 0-9 / _ - */
static bool kms_alias_valid(const char *v) {
        const char *name = startswith(v, "alias/");
        size_t k = name ? strlen(name) : 0;
        return name && k > 0 && k <= 250 &&
               strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-") == k;
}

static int parse_kms_key_id(const char *v, void *f, const char **why) {
        bool ok = !*v;

        if (!ok && startswith(v, "arn:")) {
                /* arn:<partition>:kms:<region>:<12 digits>:key/<id> or :alias/<name> */
                const char *p = v + 4, *e = strchr(p, ':'), *region, *acct, *res;
                if (e && e > p && strspn(p, "abcdefghijklmnopqrstuvwxyz-") == (size_t) (e - p) &&
                    (region = startswith(e + 1, "kms:")) && (acct = strchr(region, ':')) && acct > region &&
                    strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") == (size_t) (acct - region) &&
                    strspn(acct + 1, "0123456789") == 12 && acct[13] == ':') {
                        res = acct + 14;
                        ok = startswith(res, "key/") ? kms_key_uuid_valid(res + 4) : kms_alias_valid(res);
                }
        } else if (!ok)
                ok = kms_key_uuid_valid(v) || kms_alias_valid(v);
        if (!ok) {
                *why = "is not a KMS key (a key id, mrk-…, alias/<name>, or an arn:aws:kms:… key or alias ARN)";
                return -EINVAL;
        }
        return free_and_strdup(f, v);
}

static const ConfigKey config_keys[_CONFIG_KEY_MAX] = {
#define X(id, sec, key, dflt, parser, field, secr)                                       \
        [CONFIG_##id] = { sec, key, sec "." key, dflt, parse_##parser,                  \
                          offsetof(Config, field), secr },
        SK_CONFIG_KEYS(X)
#undef X
};

const char *config_key_name(ConfigKeyId id) {
        return config_keys[id].full;
}

const char *role_to_string(Role r) {
        return r == ROLE_WORKER ? "worker" : "manager";
}

const char *fs_type_to_string(FileSystemType t) {
        return t == FS_XFS ? "xfs" : "ext4";
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->cluster_name);
        strv_free(c->managers);
        free(c->bootstrap_manager);
        erase_and_free(c->join_token);
        free(c->instance_id);
        free(c->private_ip);
        free(c->availability_zone);
        free(c->volume_id);
        free(c->device);
        free(c->mount_point);
        free(c->mount_options);
        free(c->volume_type);
        free(c->volume_kms_key_id);
        free(c->daemon_config);
        strv_free(c->labels);
        free(c->socket);
        free(c->unit);
        free(c->region);
        free(c->endpoint);
        free(c->metadata_endpoint);
        free(c->launch_template);
        free(c->launch_template_version);
        free(c->image_id);
        free(c->instance_type);
        strv_free(c->security_group_ids);
        free(c->instance_profile);
        free(c->worker_launch_template);
        free(c->worker_launch_template_version);
        free(c->worker_instance_profile);
        strv_free(c->subnet_ids);
        free(c->key_name);
        free(c->user_data);
        for (size_t i = 0; i < _CONFIG_KEY_MAX; i++) {
                free(c->raw[i]);
                free(c->source[i]);
        }
        strv_free(c->files);
        free(c);
        return NULL;
}

/* What a message may show of a name or value from the input. A Swarm join token is
 * never shown, whatever key or line it stands in; names that are not tame are not
 * shown either (a mistyped line may carry a token in its "key"). */
static bool looks_secret(const char *s) {
        return strcasestr(s, "SWMTKN") != NULL;
}

static const char *echo_value(const char *s) {
        return looks_secret(s) ? "(hidden: looks like a join token)" : s;
}

static const char *echo_name(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64 || looks_secret(s) ||
            strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._- ") != n)
                return "(not shown)";
        return s;
}

/* Store value for key id; on a bad value log "origin: Key=value: why". */
static int config_assign(Config *c, ConfigKeyId id, const char *value, const char *origin) {
        const ConfigKey *k = &config_keys[id];
        const char *why = NULL;
        int r;

        r = k->parse(value, (uint8_t *) c + k->offset, &why);
        if (r == -EINVAL)
                return log_error("%s: %s=%s %s.", origin, k->full, k->secret ? "(hidden)" : echo_value(value),
                                 why ? why : "is invalid"),
                       -EINVAL;
        if (r < 0)
                return r;
        /* A secret's only copy is its field: raw just says whether it is set. */
        r = free_and_strdup(&c->raw[id], k->secret ? (*value ? "(set)" : "") : value);
        if (r < 0)
                return r;
        if (k->secret && *value)
                c->n_secrets_set++;
        return free_and_strdup(&c->source[id], origin);
}

int config_set_value(Config *c, ConfigKeyId id, const char *value, const char *source) {
        return config_assign(c, id, value, source);
}

int config_new(Config **ret) {
        _cleanup_(config_freep) Config *c = calloc(1, sizeof(Config));
        int r;

        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < _CONFIG_KEY_MAX; i++) {
                r = config_assign(c, (ConfigKeyId) i, config_keys[i].dflt, "default");
                if (r < 0)
                        return r;
        }
        c->files = calloc(1, sizeof(char *));
        if (!c->files)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

static int config_lookup(const char *section, const char *name, ConfigKeyId *ret) {
        for (size_t i = 0; i < _CONFIG_KEY_MAX; i++)
                if (streq(config_keys[i].section, section) && streq(config_keys[i].name, name)) {
                        *ret = (ConfigKeyId) i;
                        return 0;
                }
        return -ENOENT;
}

static bool section_known(const char *section) {
        for (size_t i = 0; i < _CONFIG_KEY_MAX; i++)
                if (streq(config_keys[i].section, section))
                        return true;
        return false;
}

/* A growable line buffer for continuation lines: appends are amortised O(1), and the
 * old block is wiped before it is freed (it may hold a secret). */
typedef struct LineBuf {
        char *p;
        size_t n, cap;
} LineBuf;

static void linebuf_done(LineBuf *b) {
        erase_and_free_size(b->p, b->cap);
        *b = (LineBuf) {};
}

static int linebuf_append(LineBuf *b, const char *s, size_t n) {
        if (b->n + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                char *np;
                while (cap < b->n + n + 1)
                        cap *= 2;
                np = malloc(cap);
                if (!np)
                        return -ENOMEM;
                if (b->p)
                        memcpy(np, b->p, b->n);
                erase_and_free_size(b->p, b->cap);
                b->p = np;
                b->cap = cap;
        }
        memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = 0;
        return 0;
}

/* [s, s+n) without leading and trailing ASCII whitespace. */
static void span_strip(const char **s, size_t *n) {
        while (*n > 0 && isspace((unsigned char) **s))
                (*s)++, (*n)--;
        while (*n > 0 && isspace((unsigned char) (*s)[*n - 1]))
                (*n)--;
}

int config_parse_buffer(Config *c, const char *data, size_t size, const char *origin) {
        _cleanup_(freep) char *section = NULL;
        _cleanup_(linebuf_done) LineBuf joined = {};
        const char *p = data, *end = data + size, *nul;
        unsigned line = 0, start_line = 0;
        bool continuing = false;
        int r, ret = 0;

        /* A NUL byte is not text: refuse the whole file rather than parse half of it. */
        nul = memchr(data, 0, size);
        if (nul) {
                unsigned at = 1;
                for (const char *q = data; q < nul; q++)
                        at += *q == '\n';
                return log_error("%s:%u: Contains a NUL byte: not a text file.", origin, at), -EINVAL;
        }

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p)), *s = p;
                size_t n = (eol ? eol : end) - p;
                char origin_line[512], *l, *eq, *key, *value;
                bool more = eol && eol + 1 < end;

                p = eol ? eol + 1 : end;
                line++;
                span_strip(&s, &n);

                if (!continuing) {
                        joined.n = 0;
                        start_line = line;
                } else if ((r = linebuf_append(&joined, " ", 1)) < 0)
                        return r;
                if ((r = linebuf_append(&joined, s, n)) < 0)
                        return r;
                /* A trailing backslash joins the next line with a space. */
                if (joined.n > 0 && joined.p[joined.n - 1] == '\\' && more) {
                        joined.p[--joined.n] = 0;
                        continuing = true;
                        continue;
                }
                continuing = false;
                l = strstrip(joined.p);
                if (!*l || *l == '#' || *l == ';')
                        continue;
                snprintf(origin_line, sizeof(origin_line), "%s:%u", origin, start_line);

                if (*l == '[') {
                        char *e = strchr(l, ']');
                        if (!e || e[1]) {
                                /* The line is not echoed: it may hold anything, a token too. */
                                log_error("%s: Invalid section header (expected [Section] alone on the line).",
                                          origin_line);
                                ret = -EINVAL;
                                continue;
                        }
                        *e = 0;
                        r = free_and_strdup(&section, l + 1);
                        if (r < 0)
                                return r;
                        if (!section_known(section))
                                log_warning("%s: Unknown section [%s], ignoring.", origin_line, echo_name(section));
                        continue;
                }

                eq = strchr(l, '=');
                if (!eq) {
                        log_error("%s: Line is neither a [Section], a Key=Value nor a comment.", origin_line);
                        ret = -EINVAL;
                        continue;
                }
                *eq = 0;
                key = strstrip(l);
                value = strstrip(eq + 1);
                if (!section) {
                        log_warning("%s: Key %s outside of any section, ignoring.", origin_line, echo_name(key));
                        continue;
                }
                ConfigKeyId id;
                if (config_lookup(section, key, &id) < 0) {
                        if (section_known(section))
                                log_warning("%s: Unknown key %s in [%s], ignoring.", origin_line, echo_name(key),
                                            section);
                        continue;
                }
                r = config_assign(c, id, value, origin_line);
                if (r == -EINVAL)
                        ret = -EINVAL; /* keep going: report every bad line at once */
                else if (r < 0)
                        return r;
        }
        return ret;
}

int config_parse_text(Config *c, const char *text, const char *origin) {
        return config_parse_buffer(c, text, strlen(text), origin);
}

int config_set(Config *c, const char *assignment) {
        _cleanup_(erase_and_freep) char *copy = strdup(assignment);
        char *dot, *eq;
        ConfigKeyId id;

        if (!copy)
                return -ENOMEM;
        eq = strchr(copy, '=');
        dot = eq ? memchr(copy, '.', (size_t) (eq - copy)) : NULL;
        if (!eq || !dot || dot == copy || dot + 1 == eq) {
                /* Name what stands left of '=' only if it looks like a key: the rest (or all
                 * of it, when '=' is missing) may be a token. */
                if (eq)
                        *eq = 0;
                return log_error("--set %s%s: expected Section.Key=value.", eq ? echo_name(copy) : "(argument not shown)",
                                 eq ? "=…" : ""),
                       -EINVAL;
        }
        *dot = *eq = 0;
        if (config_lookup(copy, dot + 1, &id) < 0) {
                log_warning("--set %s.%s: Unknown key, ignoring.", echo_name(copy), echo_name(dot + 1));
                return 0;
        }
        return config_assign(c, id, eq + 1, "--set");
}

static int config_parse_file(Config *c, const char *path, bool must_exist) {
        _cleanup_(closep) int fd = -1;
        char *text = NULL;
        unsigned secrets_before = c->n_secrets_set;
        size_t size = 0;
        struct stat st;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT && !must_exist)
                return 0;
        if (fd < 0 || fstat(fd, &st) < 0)
                r = -errno;
        else
                r = read_full_fd(fd, &text, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read configuration file %s: %m", path), -EINVAL;
        r = strv_extend(&c->files, path);
        if (r >= 0)
                r = config_parse_buffer(c, text, size, path);
        erase_and_free_size(text, size + 1); /* it may have held a secret */
        if (r < 0)
                return r;

        /* As ssh refuses a private key that others can read: a file that holds a secret
         * must be readable by its owner only, and owned by root or by us. */
        if (c->n_secrets_set != secrets_before &&
            ((st.st_mode & 0077) != 0 || (st.st_uid != 0 && st.st_uid != geteuid())))
                return log_error("%s: holds Cluster.JoinToken but has mode %04o, owner uid %u: refusing "
                                 "it. Make it readable by its owner only (chmod 0600) and owned by root.",
                                 path, (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid),
                       -EINVAL;
        return 0;
}

static int dropin_filter(const struct dirent *d) {
        return d->d_name[0] != '.' && endswith(d->d_name, ".conf");
}

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

int config_read_user_data(const Config *c, char **ret, size_t *ret_size) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        struct stat st;
        int r;

        if (isempty(c->user_data)) {
                text = strdup("");
                if (!text)
                        return -ENOMEM;
        } else {
                fd = open(c->user_data, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0)
                        return -errno;
                if (fstat(fd, &st) < 0)
                        return -errno;
                if (!S_ISREG(st.st_mode))
                        return -EBADF;
                if (st.st_size > (off_t) CONFIG_USER_DATA_MAX)
                        return -EFBIG;
                r = read_full_fd(fd, &text, &size);
                if (r < 0)
                        return r;
                if (size > CONFIG_USER_DATA_MAX) /* grew while we read */
                        return -EFBIG;
        }
        *ret = TAKE_PTR(text);
        if (ret_size)
                *ret_size = size;
        return 0;
}

/* Launch.UserData names a file the leader will read: check it now, where an operator
 * sees the error, rather than at the first launch. Workers never launch. */
static int config_verify_files(const Config *c) {
        _cleanup_(freep) char *text = NULL;
        int r;

        if (c->role != ROLE_MANAGER || isempty(c->user_data))
                return 0;
        r = config_read_user_data(c, &text, NULL);
        if (r == -EFBIG)
                return log_error("%s: Launch.UserData=%s is larger than %u bytes (EC2's limit on "
                                 "user data).",
                                 c->source[CONFIG_LAUNCH_USER_DATA], c->user_data, CONFIG_USER_DATA_MAX),
                       -EINVAL;
        if (r == -EBADF)
                return log_error("%s: Launch.UserData=%s is not a regular file.",
                                 c->source[CONFIG_LAUNCH_USER_DATA], c->user_data),
                       -EINVAL;
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return log_error_errno(r, "%s: Launch.UserData=%s cannot be read: %m",
                                       c->source[CONFIG_LAUNCH_USER_DATA], c->user_data),
                       -EINVAL;
        return 0;
}

int config_erase_secret(Config *c, ConfigKeyId id) {
        const ConfigKey *k;
        char **field;

        if ((size_t) id >= _CONFIG_KEY_MAX || !config_keys[id].secret)
                return -EINVAL;
        k = &config_keys[id];
        field = (char **) ((uint8_t *) c + k->offset); /* every secret is a string */
        erase_and_free(*field);
        *field = strdup("");
        if (!*field)
                return -ENOMEM;
        return free_and_strdup(&c->source[id], "erased after use");
}

int config_load(Config **ret, const char *path, const char *dropin_dir, char *const *sets) {
        _cleanup_(config_freep) Config *c = NULL;
        struct dirent **entries = NULL;
        int r, n, ret_r = 0;

        r = config_new(&c);
        if (r < 0)
                return r;

        r = config_parse_file(c, path ?: SK_CONFIG_FILE, path != NULL);
        if (r < 0 && r != -EINVAL)
                return r;
        if (r < 0)
                ret_r = r;

        if (!dropin_dir)
                dropin_dir = SK_CONFIG_DROPIN_DIR;
        /* Every file is read even after a bad one, so that all culprits are named at once. */
        n = scandir(dropin_dir, &entries, dropin_filter, alphasort);
        for (int i = 0; i < n; i++) {
                _cleanup_(freep) char *p = NULL;

                if (asprintf(&p, "%s/%s", dropin_dir, entries[i]->d_name) < 0)
                        r = -ENOMEM;
                else
                        r = config_parse_file(c, p, true);
                free(entries[i]);
                if (r < 0 && (ret_r >= 0 || r != -EINVAL))
                        ret_r = r;
        }
        free(entries);
        if (ret_r < 0 && ret_r != -EINVAL)
                return ret_r;

        STRV_FOREACH(s, sets) {
                r = config_set(c, *s);
                if (r < 0 && r != -EINVAL)
                        return r;
                if (r < 0)
                        ret_r = r;
        }
        if (ret_r < 0)
                return ret_r;

        r = config_verify(c);
        if (r < 0)
                return r;
        r = config_verify_files(c);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

void config_dump(const Config *c, FILE *f) {
        const char *section = NULL;

        fprintf(f, "# Effective configuration. Read, in order:\n");
        STRV_FOREACH(p, c->files)
                fprintf(f, "#   %s\n", *p);
        fprintf(f, "# then --set assignments. Each key shows where its value came from.\n");

        for (size_t i = 0; i < _CONFIG_KEY_MAX; i++) {
                const ConfigKey *k = &config_keys[i];
                _cleanup_(freep) char *line = NULL;
                const char *v = c->raw[i] ?: "";

                if (!section || !streq(section, k->section)) {
                        fprintf(f, "\n[%s]\n", k->section);
                        section = k->section;
                }
                if (k->secret && *v)
                        v = streq(strempty(c->source[i]), "erased after use") ? "(erased after use)" : "(set, hidden)";
                else
                        v = echo_value(v);
                if (asprintf(&line, "%s=%s", k->name, v) < 0)
                        continue;
                fprintf(f, "%-40s # %s\n", line, c->source[i] ?: "default");
        }
}
