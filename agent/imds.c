/* SPDX-License-Identifier: MIT */
#include "imds.h"

#include <time.h>

#include "ec2-parse.h"
#include "http.h"
#include "log.h"

#define IMDS_CONNECT_TIMEOUT_MSEC 1000
#define IMDS_TIMEOUT_MSEC 3000
#define IMDS_BACKOFF_BASE_USEC (100 * USEC_PER_MSEC)
#define IMDS_BACKOFF_CAP_USEC (1 * USEC_PER_SEC)

struct Imds {
        char *endpoint; /* without trailing slash */
        char *token_header; /* "X-aws-ec2-metadata-token: …": secret */
        uint64_t token_expiry; /* CLOCK_MONOTONIC */
        unsigned token_ttl;
        unsigned attempts;
        SkSleepFunc sleep;
        void *sleep_userdata;
        const atomic_bool *cancel; /* borrowed */
};

static const char *const imds_paths[_IMDS_KEY_MAX] = {
        [IMDS_INSTANCE_ID] = "meta-data/instance-id",
        [IMDS_LOCAL_IPV4] = "meta-data/local-ipv4",
        [IMDS_AVAILABILITY_ZONE] = "meta-data/placement/availability-zone",
        [IMDS_REGION] = "meta-data/placement/region",
};

const char *imds_key_path(ImdsKey k) {
        return k >= 0 && k < _IMDS_KEY_MAX ? imds_paths[k] : NULL;
}

void sk_sleep_real(uint64_t usec, void *userdata) {
        struct timespec ts = { .tv_sec = (time_t) (usec / USEC_PER_SEC),
                               .tv_nsec = (long) (usec % USEC_PER_SEC) * 1000 };
        (void) userdata;
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

int imds_new(const char *endpoint, Imds **ret) {
        _cleanup_(imds_freep) Imds *m = NULL;
        size_t l;

        if (http_url_validate(endpoint) < 0)
                return -EINVAL;
        m = calloc(1, sizeof(Imds));
        if (!m)
                return -ENOMEM;
        m->endpoint = strdup(endpoint);
        if (!m->endpoint)
                return -ENOMEM;
        l = strlen(m->endpoint);
        while (l > 0 && m->endpoint[l - 1] == '/')
                m->endpoint[--l] = 0;
        m->token_ttl = IMDS_TOKEN_TTL_SEC;
        m->attempts = 3;
        m->sleep = sk_sleep_real;
        *ret = TAKE_PTR(m);
        return 0;
}

static void imds_drop_token(Imds *m) {
        erase_and_free(m->token_header);
        m->token_header = NULL;
        m->token_expiry = 0;
}

Imds *imds_free(Imds *m) {
        if (!m)
                return NULL;
        imds_drop_token(m);
        free(m->endpoint);
        free(m);
        return NULL;
}

void imds_set_cancel(Imds *m, const atomic_bool *flag) {
        m->cancel = flag;
}

void imds_set_sleep(Imds *m, SkSleepFunc fn, void *userdata) {
        m->sleep = fn ?: sk_sleep_real;
        m->sleep_userdata = userdata;
}

void imds_set_token_ttl(Imds *m, unsigned sec) {
        m->token_ttl = sec < 1 ? 1 : sec > IMDS_TOKEN_TTL_SEC ? IMDS_TOKEN_TTL_SEC : sec;
        imds_drop_token(m);
}

void imds_set_attempts(Imds *m, unsigned attempts) {
        m->attempts = attempts ?: 1;
}

const char *imds_endpoint(const Imds *m) {
        return m->endpoint;
}

static bool transient(int r, long status) {
        if (r < 0)
                return r == -ETIMEDOUT || r == -ECONNREFUSED || r == -EPROTO || r == -EIO ||
                       r == -EHOSTUNREACH;
        return status >= 500 && status <= 599;
}

static void response_erase(HttpResponse *resp) {
        if (resp->body)
                explicit_bzero(resp->body, resp->body_size);
        http_response_done(resp);
}

/* One HTTP exchange with retries for transport errors and 5xx. */
static int imds_exchange(Imds *m, const HttpRequest *request, HttpResponse *resp) {
        HttpRequest req = *request;
        int r = 0;

        req.cancel = m->cancel;
        for (unsigned attempt = 0; attempt < m->attempts; attempt++) {
                if (attempt > 0) {
                        m->sleep(backoff_full_jitter_usec(attempt, IMDS_BACKOFF_BASE_USEC, IMDS_BACKOFF_CAP_USEC),
                                 m->sleep_userdata);
                        if (m->cancel && atomic_load(m->cancel))
                                return -ECANCELED;
                }
                r = http_perform(&req, resp);
                if (!transient(r, resp->status))
                        return r;
                log_debug("Metadata service %s %s: %s, attempt %u/%u.", req.method ?: "GET", req.url,
                          r < 0 ? resp->error : "server error", attempt + 1, m->attempts);
                if (attempt + 1 < m->attempts)
                        response_erase(resp);
        }
        return r;
}

static bool token_valid(const char *t, size_t n) {
        if (n == 0 || n > 1024)
                return false;
        for (size_t i = 0; i < n; i++)
                if (t[i] <= ' ' || t[i] > '~')
                        return false;
        return true;
}

static int imds_token(Imds *m) {
        _cleanup_(freep) char *url = NULL, *ttl = NULL;
        HttpResponse resp = HTTP_RESPONSE_NULL;
        uint64_t now = now_usec(CLOCK_MONOTONIC), margin;
        int r;

        /* Renew a little before it runs out: a request must not race the expiry. */
        margin = (uint64_t) m->token_ttl * USEC_PER_SEC / 4;
        if (margin > 60 * USEC_PER_SEC)
                margin = 60 * USEC_PER_SEC;
        if (m->token_header && now + margin < m->token_expiry)
                return 0;
        imds_drop_token(m);

        if (asprintf(&url, "%s/latest/api/token", m->endpoint) < 0 ||
            asprintf(&ttl, "X-aws-ec2-metadata-token-ttl-seconds: %u", m->token_ttl) < 0)
                return -ENOMEM;
        const char *headers[] = { ttl, NULL };
        HttpRequest req = {
                .method = "PUT",
                .url = url,
                .headers = headers,
                .connect_timeout_msec = IMDS_CONNECT_TIMEOUT_MSEC,
                .timeout_msec = IMDS_TIMEOUT_MSEC,
                .allow_insecure_http = true, /* the metadata service is plain http by nature */
                .max_response = 4096,
        };
        r = imds_exchange(m, &req, &resp);
        if (r < 0) {
                log_debug_errno(r, "Metadata service token request to %s failed: %s", url, resp.error);
                response_erase(&resp);
                return r;
        }
        if (resp.status != 200) {
                log_debug("Metadata service token request to %s answered HTTP %ld.", url, resp.status);
                r = resp.status == 401 || resp.status == 403 ? -EACCES : -EREMOTEIO;
                response_erase(&resp);
                return r;
        }
        if (!token_valid(resp.body, resp.body_size)) {
                response_erase(&resp);
                return -EBADMSG;
        }
        r = asprintf(&m->token_header, "X-aws-ec2-metadata-token: %s", resp.body);
        response_erase(&resp);
        if (r < 0) {
                m->token_header = NULL;
                return -ENOMEM;
        }
        m->token_expiry = now + (uint64_t) m->token_ttl * USEC_PER_SEC;
        log_debug("Got a metadata service token for %u s.", m->token_ttl);
        return 0;
}

/* GET with the token; the answer may be a secret, so it is erased on every path. */
static int imds_get_internal(Imds *m, const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_(freep) char *url = NULL;
        HttpResponse resp = HTTP_RESPONSE_NULL;
        int r;

        if (asprintf(&url, "%s/latest/%s", m->endpoint, path) < 0)
                return -ENOMEM;

        for (unsigned pass = 0; pass < 2; pass++) {
                r = imds_token(m);
                if (r < 0)
                        return r;
                const char *headers[] = { m->token_header, NULL };
                HttpRequest req = {
                        .url = url,
                        .headers = headers,
                        .connect_timeout_msec = IMDS_CONNECT_TIMEOUT_MSEC,
                        .timeout_msec = IMDS_TIMEOUT_MSEC,
                        .allow_insecure_http = true,
                        .max_response = max,
                };
                r = imds_exchange(m, &req, &resp);
                if (r < 0) {
                        log_debug_errno(r, "Metadata service GET %s failed: %s", url, resp.error);
                        response_erase(&resp);
                        return r;
                }
                if (resp.status != 401 || pass > 0)
                        break;
                /* Token expired or revoked: one fresh token, one more try. */
                response_erase(&resp);
                imds_drop_token(m);
        }

        switch (resp.status) {
        case 200:
                break;
        case 401:
        case 403:
                r = -EACCES;
                break;
        case 404:
                r = -ENOENT;
                break;
        default:
                r = -EREMOTEIO;
        }
        if (r < 0) {
                log_debug("Metadata service GET %s answered HTTP %ld.", url, resp.status);
                response_erase(&resp);
                return r;
        }
        if (ret_size)
                *ret_size = resp.body_size;
        *ret = TAKE_PTR(resp.body);
        return 0;
}

int imds_get(Imds *m, const char *path, char **ret, size_t *ret_size) {
        return imds_get_internal(m, path, IMDS_MAX_ANSWER, ret, ret_size);
}

static bool az_like(const char *s) {
        size_t n = strlen(s);
        if (n < 2 || n > 64 || s[0] == '-' || s[n - 1] == '-')
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
                        return false;
        return true;
}

int imds_parse_value(ImdsKey k, const char *body, size_t size, char **ret) {
        _cleanup_(freep) char *v = NULL;
        bool ok;

        if (!body || size > 256 || memchr(body, 0, size))
                return -EBADMSG;
        v = strndup(body, size);
        if (!v)
                return -ENOMEM;
        strstrip(v);
        switch (k) {
        case IMDS_INSTANCE_ID:
                ok = ec2_id_valid(v, "i-");
                break;
        case IMDS_LOCAL_IPV4:
                ok = ipv4_valid(v);
                break;
        case IMDS_AVAILABILITY_ZONE:
        case IMDS_REGION:
                ok = az_like(v);
                break;
        default:
                return -EINVAL;
        }
        if (!ok)
                return -EBADMSG;
        *ret = TAKE_PTR(v);
        return 0;
}

int imds_get_value(Imds *m, ImdsKey k, char **ret) {
        _cleanup_(freep) char *body = NULL;
        size_t n;
        int r;

        if (!imds_key_path(k))
                return -EINVAL;
        r = imds_get_internal(m, imds_paths[k], 4096, &body, &n);
        if (r < 0)
                return r;
        r = imds_parse_value(k, body, n, ret);
        if (r < 0)
                log_debug("Metadata service answered nonsense for %s.", imds_paths[k]);
        return r;
}

int imds_user_data(Imds *m, char **ret, size_t *ret_size) {
        return imds_get_internal(m, "user-data", IMDS_MAX_ANSWER, ret, ret_size);
}

int imds_role_name(Imds *m, char **ret) {
        _cleanup_(freep) char *body = NULL;
        size_t n;
        int r;

        r = imds_get_internal(m, "meta-data/iam/security-credentials/", 4096, &body, &n);
        if (r < 0)
                return r;
        body[strcspn(body, "\r\n")] = 0;
        strstrip(body);
        /* Role names: [\w+=,.@-]{1,64}. Anything else would end up in a URL path. */
        n = strlen(body);
        if (n == 0 || n > 64 || strspn(body, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@-") != n)
                return -EBADMSG;
        *ret = TAKE_PTR(body);
        return 0;
}

int imds_role_credentials_json(Imds *m, const char *role, char **ret, size_t *ret_size) {
        _cleanup_(freep) char *path = NULL;

        if (asprintf(&path, "meta-data/iam/security-credentials/%s", role) < 0)
                return -ENOMEM;
        return imds_get_internal(m, path, 64 * 1024, ret, ret_size);
}
