/* SPDX-License-Identifier: MIT */
/*
 * Configuration keys and values: the key table (SK_CONFIG_KEYS), one parser per kind of
 * value, the Config object (new, free, assign, erase a secret) and the dump. Pure: no I/O
 * besides config_dump()'s FILE. The INI text parser is config-parse.c, the checks across
 * keys config-verify.c, reading files and drop-ins config-load.c. Runs on the event loop's
 * thread (Config is never shared with a Job's worker thread).
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <syslog.h>

#include "config-internal.h"
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

const char *config_echo_name(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64 || looks_secret(s) ||
            strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._- ") != n)
                return "(not shown)";
        return s;
}

/* Store value for key id; on a bad value log "origin: Key=value: why". */
int config_assign(Config *c, ConfigKeyId id, const char *value, const char *origin) {
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

int config_lookup(const char *section, const char *name, ConfigKeyId *ret) {
        for (size_t i = 0; i < _CONFIG_KEY_MAX; i++)
                if (streq(config_keys[i].section, section) && streq(config_keys[i].name, name)) {
                        *ret = (ConfigKeyId) i;
                        return 0;
                }
        return -ENOENT;
}

bool config_section_known(const char *section) {
        for (size_t i = 0; i < _CONFIG_KEY_MAX; i++)
                if (streq(config_keys[i].section, section))
                        return true;
        return false;
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
