/* SPDX-License-Identifier: MIT */
#include "creds.h"

#include <json-c/json.h>
#include <time.h>

#include "json-util.h"
#include "log.h"
#include "messages.h"

struct CredsProvider {
        CredsSource source;
        AwsCredentials current;
        bool have;
        Imds *imds; /* borrowed */
        char *role;
        CredsFetchFunc fetch;
        void *fetch_userdata;
        uint64_t (*now)(void *userdata);
        void *now_userdata;
        uint64_t margin;
};

void aws_credentials_done(AwsCredentials *c) {
        erase_and_free(c->access_key_id);
        erase_and_free(c->secret_access_key);
        erase_and_free(c->session_token);
        *c = AWS_CREDENTIALS_NULL;
}

int aws_parse_timestamp(const char *s, uint64_t *ret_usec) {
        struct tm tm = {};
        const char *p;
        uint64_t frac = 0, scale = 1000000;
        time_t t;

        if (!s)
                return -EINVAL;
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++)
                        if (scale > 1) {
                                scale /= 10;
                                frac += (uint64_t) (*p - '0') * scale;
                        }
        }
        if (!streq(p, "Z") && !streq(p, "+00:00"))
                return -EINVAL;
        t = timegm(&tm);
        if (t < 0)
                return -EINVAL;
        *ret_usec = (uint64_t) t * USEC_PER_SEC + frac;
        return 0;
}

/* Copy a string member, then wipe json-c's copy of it. */
static int take_string(struct json_object *o, const char *key, bool required, char **ret) {
        struct json_object *v;
        char *s;
        int l;

        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
                *ret = NULL;
                return required ? -EBADMSG : 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        l = json_object_get_string_len(v);
        if (l <= 0 || l > 8192)
                return -EBADMSG;
        s = strndup(json_object_get_string(v), (size_t) l);
        json_string_erase(v);
        if (!s)
                return -ENOMEM;
        if (strlen(s) != (size_t) l) { /* embedded NUL */
                erase_and_free(s);
                return -EBADMSG;
        }
        *ret = s;
        return 0;
}

int creds_parse_imds_json(const char *json, size_t size, uint64_t now, AwsCredentials *ret) {
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        _cleanup_(freep) char *code = NULL, *expiration = NULL;
        AwsCredentials c = AWS_CREDENTIALS_NULL;
        int r;

        if (!json || size == 0 || size > 64 * 1024)
                return -EBADMSG;
        r = json_parse_text(json, size, 8, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8, &o);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;

        r = take_string(o, "Code", false, &code);
        if (r < 0)
                goto fail;
        if (code && !streq(code, "Success")) {
                r = -EBADMSG;
                goto fail;
        }
        r = take_string(o, "AccessKeyId", true, &c.access_key_id);
        if (r >= 0)
                r = take_string(o, "SecretAccessKey", true, &c.secret_access_key);
        if (r >= 0)
                r = take_string(o, "Token", false, &c.session_token);
        if (r >= 0)
                r = take_string(o, "Expiration", true, &expiration);
        if (r < 0)
                goto fail;
        if (aws_parse_timestamp(expiration, &c.expiration_usec) < 0 || c.expiration_usec == 0) {
                r = -EBADMSG;
                goto fail;
        }
        if (now > 0 && c.expiration_usec <= now) {
                r = -EKEYREVOKED;
                goto fail;
        }
        *ret = c;
        return 0;
fail:
        aws_credentials_done(&c);
        return r;
}

static uint64_t realtime_now(void *userdata) {
        (void) userdata;
        return now_usec(CLOCK_REALTIME);
}

static int provider_alloc(CredsSource source, CredsProvider **ret) {
        CredsProvider *p = calloc(1, sizeof(CredsProvider));
        if (!p)
                return -ENOMEM;
        p->source = source;
        p->now = realtime_now;
        p->margin = CREDS_REFRESH_MARGIN_USEC;
        *ret = p;
        return 0;
}

static int fetch_instance_role(void *userdata, AwsCredentials *ret) {
        CredsProvider *p = userdata;
        _cleanup_(erase_and_freep) char *json = NULL;
        size_t n;
        int r;

        if (!p->role) {
                r = imds_role_name(p->imds, &p->role);
                if (r == -ENOENT)
                        return -ENOKEY;
                if (r < 0)
                        return r;
        }
        r = imds_role_credentials_json(p->imds, p->role, &json, &n);
        if (r == -ENOENT) {
                /* The role may have been swapped: look it up again next time. */
                free(p->role);
                p->role = NULL;
                return -ENOKEY;
        }
        if (r < 0)
                return r;
        r = creds_parse_imds_json(json, n, p->now(p->now_userdata), ret);
        explicit_bzero(json, n);
        return r;
}

int creds_provider_new(Imds *imds, CredsProvider **ret) {
        _cleanup_(creds_provider_freep) CredsProvider *p = NULL;
        const char *akid = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY"),
                   *token = getenv("AWS_SESSION_TOKEN");
        int r;

        if (!isempty(akid)) {
                if (isempty(secret))
                        return -EINVAL;
                r = provider_alloc(CREDS_SOURCE_ENVIRONMENT, &p);
                if (r < 0)
                        return r;
                p->current.access_key_id = strdup(akid);
                p->current.secret_access_key = strdup(secret);
                p->current.session_token = isempty(token) ? NULL : strdup(token);
                if (!p->current.access_key_id || !p->current.secret_access_key ||
                    (!isempty(token) && !p->current.session_token))
                        return -ENOMEM;
                p->have = true;
                *ret = TAKE_PTR(p);
                return 0;
        }
        if (!imds)
                return -ENOKEY;
        r = provider_alloc(CREDS_SOURCE_INSTANCE_ROLE, &p);
        if (r < 0)
                return r;
        p->imds = imds;
        p->fetch = fetch_instance_role;
        p->fetch_userdata = p;
        *ret = TAKE_PTR(p);
        return 0;
}

int creds_provider_new_custom(CredsFetchFunc fetch, void *userdata, CredsProvider **ret) {
        CredsProvider *p;
        int r;

        if (!fetch)
                return -EINVAL;
        r = provider_alloc(CREDS_SOURCE_CUSTOM, &p);
        if (r < 0)
                return r;
        p->fetch = fetch;
        p->fetch_userdata = userdata;
        *ret = p;
        return 0;
}

CredsProvider *creds_provider_free(CredsProvider *p) {
        if (!p)
                return NULL;
        aws_credentials_done(&p->current);
        free(p->role);
        free(p);
        return NULL;
}

CredsSource creds_provider_source(const CredsProvider *p) {
        return p->source;
}

void creds_provider_set_clock(CredsProvider *p, uint64_t (*now)(void *userdata), void *userdata) {
        p->now = now ?: realtime_now;
        p->now_userdata = userdata;
}

void creds_provider_set_refresh_margin(CredsProvider *p, uint64_t usec) {
        p->margin = usec;
}

void creds_invalidate(CredsProvider *p) {
        if (p->fetch)
                p->have = false; /* keep them until fresh ones arrive */
}

int creds_get(CredsProvider *p, const AwsCredentials **ret) {
        AwsCredentials fresh = AWS_CREDENTIALS_NULL;
        uint64_t now;
        bool usable;
        int r;

        if (!p->fetch) { /* environment: long-term, or whatever the operator set */
                *ret = &p->current;
                return 0;
        }
        now = p->now(p->now_userdata);
        usable = p->current.access_key_id &&
                 (p->current.expiration_usec == 0 || now < p->current.expiration_usec);
        if (p->have && usable &&
            (p->current.expiration_usec == 0 || now + p->margin < p->current.expiration_usec)) {
                *ret = &p->current;
                return 0;
        }

        r = p->fetch(p->fetch_userdata, &fresh);
        if (r < 0) {
                if (p->have && usable) {
                        /* Still valid for a while: keep using them, try again next time. */
                        log_debug_errno(r, "Refreshing the AWS credentials failed (%m); the current ones are "
                                        "valid for %llu s more.",
                                        (unsigned long long) ((p->current.expiration_usec - now) / USEC_PER_SEC));
                        *ret = &p->current;
                        return 0;
                }
                return r == -EKEYREVOKED ? -EKEYEXPIRED : r;
        }
        aws_credentials_done(&p->current);
        p->current = fresh;
        p->have = true;

        char exp[64] = "never";
        if (fresh.expiration_usec > 0) {
                time_t t = (time_t) (fresh.expiration_usec / USEC_PER_SEC);
                struct tm tm;
                if (gmtime_r(&t, &tm))
                        (void) strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        log_struct(LOG_DEBUG, 0, SK_MESSAGE_CREDENTIALS_REFRESHED,
                   LOG_FIELDS("SK_CREDENTIALS_SOURCE", p->role ? "instance-role" : "custom",
                              "SK_CREDENTIALS_ROLE", p->role, "SK_CREDENTIALS_EXPIRATION", exp),
                   "Fetched AWS credentials%s%s, valid until %s.", p->role ? " of role " : "", strempty(p->role),
                   exp);
        *ret = &p->current;
        return 1;
}
