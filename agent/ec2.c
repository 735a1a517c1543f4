/* SPDX-License-Identifier: MIT */
#include "ec2.h"

#include <stdarg.h>
#include <sys/random.h>
#include <time.h>

#include "http.h"
#include "log.h"
#include "messages.h"

#define EC2_DEFAULT_ATTEMPTS 5
#define EC2_DEFAULT_BASE_USEC (250 * USEC_PER_MSEC)
#define EC2_DEFAULT_CAP_USEC (20 * USEC_PER_SEC)
#define EC2_RETRY_BUDGET 500u
#define EC2_RETRY_COST 5u
#define EC2_RETRY_COST_TIMEOUT 10u
#define EC2_DEFAULT_MAX_PAGES 100u
#define EC2_DEFAULT_LISTING_USEC (5 * 60 * USEC_PER_SEC)
#define EC2_CANCEL_SLICE_USEC (50 * USEC_PER_MSEC)
#define EC2_MAX_USER_DATA 16384u /* raw, before base64 (EC2's limit) */

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#define EC2_MAX_ANSWER (64u * 1024 * 1024)

struct Ec2Client {
        char *region;
        char *endpoint;
        char *sigv4;
        CredsProvider *creds; /* borrowed */
        SkSleepFunc sleep;
        void *sleep_userdata;
        unsigned max_attempts;
        uint64_t base_usec, cap_usec;
        unsigned budget, budget_max;
        uint64_t connect_msec, total_msec;
        unsigned instances_page, volumes_page, subnets_page;
        unsigned max_pages;
        uint64_t listing_usec;
        bool allow_plain_http;
        const atomic_bool *cancel; /* borrowed; raised by another thread */
        Ec2Error last_error;
};

static void copy_text(char *dst, size_t n, const char *src) {
        snprintf(dst, n, "%s", strempty(src));
}

/* ---------------------------------------------------------------- form bodies */

typedef struct Form {
        char *buf;
        size_t len, alloc;
        int error;
} Form;

/* Bodies may carry user data (which may carry a join token): erased when done. */
static void form_done(Form *f) {
        if (f->buf)
                explicit_bzero(f->buf, f->alloc);
        free(f->buf);
        *f = (Form) {};
}

static void form_append(Form *f, const char *s, size_t n) {
        if (f->error)
                return;
        if (f->len + n + 1 > f->alloc) {
                size_t na = (f->len + n + 1) * 2;
                char *nb = malloc(na);
                if (!nb) {
                        f->error = -ENOMEM;
                        return;
                }
                if (f->buf) {
                        memcpy(nb, f->buf, f->len);
                        explicit_bzero(f->buf, f->alloc);
                        free(f->buf);
                }
                f->buf = nb;
                f->alloc = na;
        }
        memcpy(f->buf + f->len, s, n);
        f->len += n;
        f->buf[f->len] = 0;
}

static void form_add(Form *f, const char *key, const char *value) {
        _cleanup_(erase_and_freep) char *v = NULL;

        if (f->error || !value)
                return;
        v = http_form_escape(value);
        if (!v) {
                f->error = -ENOMEM;
                return;
        }
        if (f->len > 0)
                form_append(f, "&", 1);
        form_append(f, key, strlen(key));
        form_append(f, "=", 1);
        form_append(f, v, strlen(v));
}

_printf_(3, 4) static void form_addf(Form *f, const char *value, const char *keyfmt, ...) {
        char key[256];
        va_list ap;
        int n;

        if (f->error || !value)
                return;
        va_start(ap, keyfmt);
        n = vsnprintf(key, sizeof(key), keyfmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof(key)) {
                f->error = -EINVAL;
                return;
        }
        form_add(f, key, value);
}

static void form_action(Form *f, const char *action) {
        form_add(f, "Action", action);
        form_add(f, "Version", EC2_API_VERSION);
}

static void form_ids(Form *f, const char *prefix, char *const *ids) {
        unsigned i = 1;
        STRV_FOREACH(id, ids)
                form_addf(f, *id, "%s.%u", prefix, i++);
}

static void form_filters(Form *f, const Ec2Filter *filters) {
        unsigned i = 1;
        for (const Ec2Filter *x = filters; x && x->name; x++, i++) {
                unsigned j = 1;
                form_addf(f, x->name, "Filter.%u.Name", i);
                for (const char *const *v = x->values; v && *v; v++)
                        form_addf(f, *v, "Filter.%u.Value.%u", i, j++);
        }
}

static void form_tags(Form *f, const char *prefix, char *const *tags) {
        unsigned i = 1;
        for (char *const *t = tags; t && t[0] && t[1]; t += 2, i++) {
                form_addf(f, t[0], "%sTag.%u.Key", prefix, i);
                form_addf(f, t[1], "%sTag.%u.Value", prefix, i);
        }
}

static char *base64_encode(const char *data, size_t n) {
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const unsigned char *s = (const unsigned char *) data;
        char *r = malloc((n + 2) / 3 * 4 + 1), *p = r;

        if (!r)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t) s[i] << 16 | (i + 1 < n ? (uint32_t) s[i + 1] << 8 : 0) |
                             (i + 2 < n ? s[i + 2] : 0);
                *p++ = tbl[v >> 18 & 63];
                *p++ = tbl[v >> 12 & 63];
                *p++ = i + 1 < n ? tbl[v >> 6 & 63] : '=';
                *p++ = i + 2 < n ? tbl[v & 63] : '=';
        }
        *p = 0;
        return r;
}

/* ---------------------------------------------------------------- client */

int ec2_client_new(const char *region, const char *endpoint, CredsProvider *creds, Ec2Client **ret) {
        _cleanup_(ec2_client_freep) Ec2Client *c = NULL;

        if (isempty(region) || strlen(region) > 64 || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
                return -EINVAL;
        if (!creds)
                return -EINVAL;
        if (!isempty(endpoint) && http_url_validate(endpoint) < 0) /* http(s), a host, no userinfo */
                return -EINVAL;

        c = calloc(1, sizeof(Ec2Client));
        if (!c)
                return -ENOMEM;
        c->region = strdup(region);
        if (isempty(endpoint)) {
                if (asprintf(&c->endpoint, "https://ec2.%s.amazonaws.com/", region) < 0)
                        c->endpoint = NULL;
        } else
                c->endpoint = strdup(endpoint);
        if (asprintf(&c->sigv4, "aws:amz:%s:ec2", region) < 0)
                c->sigv4 = NULL;
        if (!c->region || !c->endpoint || !c->sigv4)
                return -ENOMEM;
        c->creds = creds;
        c->sleep = sk_sleep_real;
        c->max_attempts = EC2_DEFAULT_ATTEMPTS;
        c->base_usec = EC2_DEFAULT_BASE_USEC;
        c->cap_usec = EC2_DEFAULT_CAP_USEC;
        c->budget = c->budget_max = EC2_RETRY_BUDGET;
        c->connect_msec = 3000;
        c->total_msec = 30000;
        c->instances_page = 1000;
        c->volumes_page = 500;
        c->subnets_page = 1000;
        c->max_pages = EC2_DEFAULT_MAX_PAGES;
        c->listing_usec = EC2_DEFAULT_LISTING_USEC;
        *ret = TAKE_PTR(c);
        return 0;
}

Ec2Client *ec2_client_free(Ec2Client *c) {
        if (!c)
                return NULL;
        free(c->region);
        free(c->endpoint);
        free(c->sigv4);
        free(c);
        return NULL;
}

void ec2_client_set_sleep(Ec2Client *c, SkSleepFunc fn, void *userdata) {
        c->sleep = fn ?: sk_sleep_real;
        c->sleep_userdata = userdata;
}

void ec2_client_set_retry(Ec2Client *c, unsigned max_attempts, uint64_t base_usec, uint64_t cap_usec) {
        c->max_attempts = max_attempts ?: 1;
        c->base_usec = base_usec;
        c->cap_usec = cap_usec;
}

void ec2_client_set_retry_budget(Ec2Client *c, unsigned budget) {
        c->budget = c->budget_max = budget;
}

void ec2_client_set_timeouts(Ec2Client *c, uint64_t connect_msec, uint64_t total_msec) {
        c->connect_msec = connect_msec;
        c->total_msec = total_msec;
}

void ec2_client_set_page_size(Ec2Client *c, unsigned instances, unsigned volumes, unsigned subnets) {
        c->instances_page = instances ?: c->instances_page;
        c->volumes_page = volumes ?: c->volumes_page;
        c->subnets_page = subnets ?: c->subnets_page;
}

void ec2_client_set_listing_limits(Ec2Client *c, unsigned max_pages, uint64_t deadline_usec) {
        c->max_pages = max_pages ?: EC2_DEFAULT_MAX_PAGES;
        c->listing_usec = deadline_usec ?: EC2_DEFAULT_LISTING_USEC;
}

void ec2_client_set_allow_plain_http(Ec2Client *c, bool allow) {
        c->allow_plain_http = allow;
}

bool ec2_client_endpoint_plain(const Ec2Client *c) {
        return http_url_is_plain(c->endpoint) && !http_url_plain_ok(c->endpoint);
}

void ec2_client_set_cancel(Ec2Client *c, const atomic_bool *flag) {
        c->cancel = flag;
}

static bool cancelled(const Ec2Client *c) {
        return c->cancel && atomic_load(c->cancel);
}

const char *ec2_client_endpoint(const Ec2Client *c) {
        return c->endpoint;
}

unsigned ec2_client_retry_budget(const Ec2Client *c) {
        return c->budget;
}

const Ec2Error *ec2_client_last_error(const Ec2Client *c) {
        return &c->last_error;
}

int ec2_log_error(const Ec2Client *c, int level, int r, const char *context) {
        const Ec2Error *e = &c->last_error;
        char status[24] = "";

        if (e->http_status > 0)
                snprintf(status, sizeof(status), "%ld", e->http_status);
        return log_struct(level, r, SK_MESSAGE_AWS_ERROR,
                          LOG_FIELDS("SK_AWS_ACTION", e->action, "SK_AWS_ENDPOINT", c->endpoint,
                                     "SK_AWS_ERROR_CODE", isempty(e->code) ? NULL : e->code,
                                     "SK_AWS_REQUEST_ID", isempty(e->request_id) ? NULL : e->request_id,
                                     "SK_AWS_HTTP_STATUS", isempty(status) ? NULL : status),
                          "%s: EC2 %s at %s failed after %u attempt(s): %s%s%s%s%s%s: %m", context,
                          isempty(e->action) ? "call" : e->action, c->endpoint, e->attempts,
                          e->code, isempty(e->code) ? "" : " ", e->message,
                          isempty(e->request_id) ? "" : " (request id ", e->request_id,
                          isempty(e->request_id) ? "" : ")");
}

/* The backoff: cancellable within EC2_CANCEL_SLICE_USEC, never past the deadline.
 * 0, -ECANCELED, or -ETIME when the deadline would pass while sleeping. */
static int client_sleep(Ec2Client *c, uint64_t usec, uint64_t deadline) {
        if (deadline > 0 && now_usec(CLOCK_MONOTONIC) + usec >= deadline)
                return -ETIME;
        if (c->sleep == sk_sleep_real && c->cancel) {
                uint64_t end = now_usec(CLOCK_MONOTONIC) + usec;
                for (uint64_t n = now_usec(CLOCK_MONOTONIC); n < end && !cancelled(c); n = now_usec(CLOCK_MONOTONIC))
                        sk_sleep_real(MIN(end - n, (uint64_t) EC2_CANCEL_SLICE_USEC), NULL);
        } else
                c->sleep(usec, c->sleep_userdata);
        return cancelled(c) ? -ECANCELED : 0;
}

static bool transport_retryable(int r) {
        return r == -ETIMEDOUT || r == -ECONNREFUSED || r == -EPROTO || r == -EIO || r == -ECONNRESET ||
               r == -EHOSTUNREACH;
}

static int error_to_errno(const Ec2Error *e) {
        if (ec2_error_code_is_auth(e->error) || e->http_status == 401 || e->http_status == 403)
                return -EACCES;
        if (endswith(e->code, ".NotFound"))
                return -ENOENT;
        return -EREMOTEIO;
}

/*
 * One call: sign, send, retry what is worth retrying. On success *ret_body is the
 * answer (2xx); otherwise c->last_error says what EC2 or the transport said.
 * deadline: CLOCK_MONOTONIC µs (0: none) that no request or sleep goes past: -ETIME.
 */
static int ec2_call(Ec2Client *c, const char *action, Form *form, uint64_t deadline, char **ret_body,
                    size_t *ret_size) {
        Ec2Error *e = &c->last_error;
        bool refreshed_after_auth = false;
        unsigned attempt = 0, spent = 0;
        int r;

        if (form->error)
                return form->error;
        *e = (Ec2Error) {};
        copy_text(e->action, sizeof(e->action), action);

        for (;;) {
                uint64_t timeout_msec = c->total_msec;

                if (cancelled(c)) {
                        snprintf(e->message, sizeof(e->message), "cancelled");
                        return -ECANCELED;
                }
                if (deadline > 0) {
                        uint64_t n = now_usec(CLOCK_MONOTONIC);
                        if (n >= deadline) {
                                snprintf(e->message, sizeof(e->message), "deadline passed");
                                return -ETIME;
                        }
                        timeout_msec = MIN(timeout_msec ?: UINT64_MAX, (deadline - n + 999) / 1000);
                }

                _cleanup_(erase_and_freep) char *token_header = NULL;
                HttpResponse resp = HTTP_RESPONSE_NULL;
                const AwsCredentials *cr;
                unsigned cost = 0;
                bool retry = false;

                r = creds_get(c->creds, &cr);
                if (r < 0) {
                        copy_text(e->code, sizeof(e->code), "");
                        e->error = EC2_ERR_NONE;
                        snprintf(e->message, sizeof(e->message), "no AWS credentials: %s", strerror(-r));
                        return r;
                }
                if (cr->session_token && asprintf(&token_header, "X-Amz-Security-Token: %s", cr->session_token) < 0) {
                        token_header = NULL;
                        return -ENOMEM;
                }
                const char *headers[] = { "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                                          "Accept: text/xml", token_header, NULL };
                HttpRequest req = {
                        .method = "POST",
                        .url = c->endpoint,
                        .headers = headers,
                        .body = form->buf,
                        .body_size = form->len,
                        .connect_timeout_msec = c->connect_msec,
                        .timeout_msec = timeout_msec,
                        .allow_insecure_http = c->allow_plain_http,
                        .cancel = c->cancel,
                        .max_response = EC2_MAX_ANSWER,
                        .sigv4 = c->sigv4,
                        .access_key_id = cr->access_key_id,
                        .secret_access_key = cr->secret_access_key,
                };

                attempt++;
                e->attempts = attempt;
                r = http_perform(&req, &resp);
                e->http_status = resp.status;
                if (r < 0) {
                        copy_text(e->code, sizeof(e->code), "");
                        e->error = EC2_ERR_NONE;
                        copy_text(e->message, sizeof(e->message), resp.error);
                        http_response_done(&resp);
                        log_debug_errno(r, "EC2 %s: %s (attempt %u).", action, e->message, attempt);
                        if (!transport_retryable(r))
                                return r;
                        retry = true;
                        cost = r == -ETIMEDOUT ? EC2_RETRY_COST_TIMEOUT : EC2_RETRY_COST;
                } else if (resp.status >= 200 && resp.status < 300) {
                        /* Success refunds: a little for a first try, the retries' cost otherwise. */
                        c->budget += spent ? spent : 1;
                        if (c->budget > c->budget_max)
                                c->budget = c->budget_max;
                        log_debug("EC2 %s: HTTP %ld after %u attempt(s).", action, resp.status, attempt);
                        *ret_body = TAKE_PTR(resp.body);
                        if (ret_size)
                                *ret_size = resp.body_size;
                        return 0;
                } else {
                        Ec2Error parsed = {};
                        if (ec2_parse_error(resp.body, resp.body_size, &parsed) >= 0) {
                                copy_text(e->code, sizeof(e->code), parsed.code);
                                e->error = parsed.error;
                                copy_text(e->message, sizeof(e->message), parsed.message);
                                copy_text(e->request_id, sizeof(e->request_id), parsed.request_id);
                        } else {
                                copy_text(e->code, sizeof(e->code), "");
                                e->error = EC2_ERR_NONE;
                                copy_text(e->request_id, sizeof(e->request_id), "");
                                snprintf(e->message, sizeof(e->message), "HTTP %ld without an EC2 error body",
                                         resp.status);
                        }
                        http_response_done(&resp);
                        log_debug("EC2 %s: HTTP %ld %s: %s (request %s, attempt %u).", action, e->http_status,
                                  e->code, e->message, e->request_id, attempt);
                        if (ec2_error_code_is_throttling(e->error) || ec2_error_code_is_transient(e->error) ||
                            (e->http_status >= 500 && e->http_status <= 599) || e->http_status == 429) {
                                retry = true;
                                cost = EC2_RETRY_COST;
                        } else if (!refreshed_after_auth && creds_provider_source(c->creds) != CREDS_SOURCE_ENVIRONMENT &&
                                   (e->error == EC2_ERR_EXPIRED_TOKEN || e->error == EC2_ERR_REQUEST_EXPIRED ||
                                    e->error == EC2_ERR_AUTH_FAILURE)) {
                                /* Temporary credentials that the server no longer takes: once more, fresh. */
                                refreshed_after_auth = true;
                                creds_invalidate(c->creds);
                                continue;
                        } else
                                return error_to_errno(e);
                }

                if (!retry)
                        return -EIO;
                if (attempt >= c->max_attempts || c->budget < cost) {
                        log_debug("EC2 %s: giving up after %u attempt(s) (retry budget %u).", action, attempt,
                                  c->budget);
                        return r < 0 ? r : -EAGAIN;
                }
                c->budget -= cost;
                spent += cost;
                r = client_sleep(c, backoff_full_jitter_usec(attempt - 1, c->base_usec, c->cap_usec), deadline);
                if (r < 0) {
                        log_debug_errno(r, "EC2 %s: stopped before retry %u: %m", action, attempt + 1);
                        return r;
                }
        }
}

static int check_token(const char *token) {
        size_t n;
        if (!token)
                return 0;
        n = strlen(token);
        if (n == 0 || n > 64)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (token[i] < 0x21 || token[i] > 0x7e)
                        return -EINVAL;
        return 0;
}

static int random_token(char ret[static 40]) {
        uint8_t b[16];
        static const char hex[] = "0123456789abcdef";
        size_t got = 0;
        while (got < sizeof(b)) {
                ssize_t k = getrandom(b + got, sizeof(b) - got, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t) k;
        }
        memcpy(ret, "sk-", 3);
        for (size_t i = 0; i < sizeof(b); i++) {
                ret[3 + 2 * i] = hex[b[i] >> 4];
                ret[4 + 2 * i] = hex[b[i] & 15];
        }
        ret[3 + 2 * sizeof(b)] = 0;
        return 0;
}

/* A Describe* listing: what to ask and how to parse a page into the list. */
typedef struct Listing {
        const char *action;
        const char *id_param;
        unsigned page_size;
        int (*parse_page)(const char *xml, size_t size, void *list, char **ret_next_token);
} Listing;

/* Request one page (ids or filters, MaxResults only without ids). */
static int describe_page(Ec2Client *c, const Listing *l, char *const *ids, const Ec2Filter *filters,
                         const char *token, uint64_t deadline, char **ret_body, size_t *ret_size) {
        _cleanup_(form_done) Form f = {};
        char mr[16];

        form_action(&f, l->action);
        form_ids(&f, l->id_param, ids);
        form_filters(&f, filters);
        if (strv_length(ids) == 0) {
                snprintf(mr, sizeof(mr), "%u", l->page_size);
                form_add(&f, "MaxResults", mr);
        }
        form_add(&f, "NextToken", token);
        return ec2_call(c, l->action, &f, deadline, ret_body, ret_size);
}

/*
 * Every page into list, or an error and list holds what the caller drops whole (a
 * listing is complete or an error, never partial). A listing that does not end is an
 * error, found early: any nextToken seen before (A→B→A) is -EBADMSG, more than
 * max_pages pages -E2BIG, past the listing's deadline -ETIME.
 */
static int describe_all(Ec2Client *c, const Listing *l, char *const *ids, const Ec2Filter *filters, void *list) {
        _cleanup_(strv_freep) char **seen = NULL;
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + c->listing_usec;
        const char *token = NULL;
        int r;

        for (unsigned page = 1;; page++) {
                _cleanup_(freep) char *body = NULL, *next = NULL;
                size_t n;

                r = describe_page(c, l, ids, filters, token, deadline, &body, &n);
                if (r == -ETIME)
                        snprintf(c->last_error.message, sizeof(c->last_error.message),
                                 "the listing did not finish within %llu ms (page %u)",
                                 (unsigned long long) (c->listing_usec / USEC_PER_MSEC), page);
                if (r < 0)
                        return r;
                r = l->parse_page(body, n, list, &next);
                if (r < 0) {
                        snprintf(c->last_error.message, sizeof(c->last_error.message),
                                 "page %u of the answer is not what EC2 sends", page);
                        return r;
                }
                if (!next)
                        return 0;
                if (strv_contains(seen, next)) {
                        snprintf(c->last_error.message, sizeof(c->last_error.message),
                                 "nextToken of page %u was seen before: the listing does not end", page);
                        return -EBADMSG;
                }
                if (page >= c->max_pages) {
                        snprintf(c->last_error.message, sizeof(c->last_error.message),
                                 "more than %u pages", c->max_pages);
                        return -E2BIG;
                }
                r = strv_consume(&seen, TAKE_PTR(next));
                if (r < 0)
                        return r;
                token = seen[strv_length(seen) - 1];
        }
}

static int instances_page(const char *xml, size_t size, void *list, char **ret_next_token) {
        return ec2_parse_describe_instances_append(xml, size, list, ret_next_token);
}

static int volumes_page(const char *xml, size_t size, void *list, char **ret_next_token) {
        return ec2_parse_describe_volumes_append(xml, size, list, ret_next_token);
}

static int subnets_page(const char *xml, size_t size, void *list, char **ret_next_token) {
        return ec2_parse_describe_subnets_append(xml, size, list, ret_next_token);
}

int ec2_describe_instances(Ec2Client *c, char *const *instance_ids, const Ec2Filter *filters,
                           Ec2InstanceList *ret) {
        _cleanup_(ec2_instance_list_done) Ec2InstanceList all = {};
        const Listing l = { "DescribeInstances", "InstanceId", c->instances_page, instances_page };
        int r;

        r = describe_all(c, &l, instance_ids, filters, &all);
        if (r < 0)
                return r;
        *ret = all;
        all = (Ec2InstanceList) {};
        return 0;
}

int ec2_describe_volumes(Ec2Client *c, char *const *volume_ids, const Ec2Filter *filters, Ec2VolumeList *ret) {
        _cleanup_(ec2_volume_list_done) Ec2VolumeList all = {};
        const Listing l = { "DescribeVolumes", "VolumeId", c->volumes_page, volumes_page };
        int r;

        r = describe_all(c, &l, volume_ids, filters, &all);
        if (r < 0)
                return r;
        *ret = all;
        all = (Ec2VolumeList) {};
        return 0;
}

int ec2_describe_subnets(Ec2Client *c, char *const *subnet_ids, const Ec2Filter *filters, Ec2SubnetList *ret) {
        _cleanup_(ec2_subnet_list_done) Ec2SubnetList all = {};
        const Listing l = { "DescribeSubnets", "SubnetId", c->subnets_page, subnets_page };
        int r;

        r = describe_all(c, &l, subnet_ids, filters, &all);
        if (r < 0)
                return r;
        *ret = all;
        all = (Ec2SubnetList) {};
        return 0;
}

int ec2_run_instances(Ec2Client *c, const Ec2RunSpec *s, Ec2Instance *ret) {
        _cleanup_(form_done) Form f = {};
        _cleanup_(freep) char *body = NULL;
        _cleanup_(erase_and_freep) char *ud = NULL;
        char token[40];
        unsigned spec = 1;
        size_t n;
        int r;

        if (!s->launch_template_id && !s->launch_template_name && !s->image_id)
                return -EINVAL;
        if (s->launch_template_id && s->launch_template_name)
                return -EINVAL;
        if (check_token(s->client_token) < 0)
                return -EINVAL;
        if (s->user_data && s->user_data_size > EC2_MAX_USER_DATA)
                return -EMSGSIZE;
        if (!s->client_token) {
                r = random_token(token);
                if (r < 0)
                        return r;
        }

        form_action(&f, "RunInstances");
        form_add(&f, "MinCount", "1");
        form_add(&f, "MaxCount", "1");
        form_add(&f, "ClientToken", s->client_token ?: token);
        form_add(&f, "LaunchTemplate.LaunchTemplateId", s->launch_template_id);
        form_add(&f, "LaunchTemplate.LaunchTemplateName", s->launch_template_name);
        if (s->launch_template_id || s->launch_template_name)
                form_add(&f, "LaunchTemplate.Version", s->launch_template_version);
        form_add(&f, "ImageId", s->image_id);
        form_add(&f, "InstanceType", s->instance_type);
        form_add(&f, "SubnetId", s->subnet_id);
        form_add(&f, "Placement.AvailabilityZone", s->availability_zone);
        form_ids(&f, "SecurityGroupId", s->security_group_ids);
        if (s->iam_instance_profile)
                form_add(&f, startswith(s->iam_instance_profile, "arn:") ? "IamInstanceProfile.Arn"
                                                                          : "IamInstanceProfile.Name",
                         s->iam_instance_profile);
        form_add(&f, "KeyName", s->key_name);
        if (s->user_data) {
                ud = base64_encode(s->user_data, s->user_data_size);
                if (!ud)
                        return -ENOMEM;
                form_add(&f, "UserData", ud);
        }
        form_add(&f, "PrivateIpAddress", s->private_ip);
        form_add(&f, "MetadataOptions.HttpTokens", "required");
        form_add(&f, "MetadataOptions.HttpPutResponseHopLimit", "1");
        form_add(&f, "MetadataOptions.HttpEndpoint", "enabled");
        if (s->instance_tags && s->instance_tags[0]) {
                char prefix[64];
                form_addf(&f, "instance", "TagSpecification.%u.ResourceType", spec);
                snprintf(prefix, sizeof(prefix), "TagSpecification.%u.", spec++);
                form_tags(&f, prefix, s->instance_tags);
        }
        if (s->volume_tags && s->volume_tags[0]) {
                char prefix[64];
                form_addf(&f, "volume", "TagSpecification.%u.ResourceType", spec);
                snprintf(prefix, sizeof(prefix), "TagSpecification.%u.", spec++);
                form_tags(&f, prefix, s->volume_tags);
        }

        r = ec2_call(c, "RunInstances", &f, 0, &body, &n);
        if (r < 0)
                return r;
        return ec2_parse_run_instances(body, n, ret);
}

int ec2_terminate_instances(Ec2Client *c, char *const *instance_ids) {
        _cleanup_(form_done) Form f = {};
        _cleanup_(freep) char *body = NULL;
        size_t n, got;
        int r;

        if (strv_length(instance_ids) == 0)
                return -EINVAL;
        form_action(&f, "TerminateInstances");
        form_ids(&f, "InstanceId", instance_ids);
        r = ec2_call(c, "TerminateInstances", &f, 0, &body, &n);
        if (r < 0)
                return r;
        r = ec2_parse_terminate_instances(body, n, &got);
        if (r < 0)
                return r;
        return got == strv_length(instance_ids) ? 0 : -EBADMSG;
}

int ec2_create_volume(Ec2Client *c, const Ec2VolumeSpec *s, Ec2Volume *ret) {
        _cleanup_(form_done) Form f = {};
        _cleanup_(freep) char *body = NULL;
        char num[32];
        size_t n;
        int r;

        if (isempty(s->availability_zone) || s->size_gib == 0 || check_token(s->client_token) < 0)
                return -EINVAL;
        form_action(&f, "CreateVolume");
        form_add(&f, "AvailabilityZone", s->availability_zone);
        snprintf(num, sizeof(num), "%llu", (unsigned long long) s->size_gib);
        form_add(&f, "Size", num);
        form_add(&f, "VolumeType", s->volume_type ?: "gp3");
        if (s->iops > 0) {
                snprintf(num, sizeof(num), "%llu", (unsigned long long) s->iops);
                form_add(&f, "Iops", num);
        }
        if (s->throughput > 0) {
                snprintf(num, sizeof(num), "%llu", (unsigned long long) s->throughput);
                form_add(&f, "Throughput", num);
        }
        if (s->encrypted)
                form_add(&f, "Encrypted", "true");
        form_add(&f, "KmsKeyId", s->kms_key_id);
        form_add(&f, "ClientToken", s->client_token);
        if (s->tags && s->tags[0]) {
                form_add(&f, "TagSpecification.1.ResourceType", "volume");
                form_tags(&f, "TagSpecification.1.", s->tags);
        }
        r = ec2_call(c, "CreateVolume", &f, 0, &body, &n);
        if (r < 0)
                return r;
        return ec2_parse_volume(body, n, ret);
}

static int attachment_result(const char *body, size_t n, Ec2Attachment *ret) {
        Ec2Attachment a;
        int r = ec2_parse_attachment(body, n, &a);
        if (r < 0)
                return r;
        if (ret)
                *ret = a;
        else
                ec2_attachment_done(&a);
        return 0;
}

int ec2_attach_volume(Ec2Client *c, const char *volume_id, const char *instance_id, const char *device,
                      Ec2Attachment *ret) {
        _cleanup_(form_done) Form f = {};
        _cleanup_(freep) char *body = NULL;
        size_t n;
        int r;

        if (isempty(volume_id) || isempty(instance_id) || isempty(device))
                return -EINVAL;
        form_action(&f, "AttachVolume");
        form_add(&f, "VolumeId", volume_id);
        form_add(&f, "InstanceId", instance_id);
        form_add(&f, "Device", device);
        r = ec2_call(c, "AttachVolume", &f, 0, &body, &n);
        if (r < 0)
                return r;
        return attachment_result(body, n, ret);
}

int ec2_detach_volume(Ec2Client *c, const char *volume_id, const char *instance_id, bool force,
                      Ec2Attachment *ret) {
        _cleanup_(form_done) Form f = {};
        _cleanup_(freep) char *body = NULL;
        size_t n;
        int r;

        if (isempty(volume_id))
                return -EINVAL;
        form_action(&f, "DetachVolume");
        form_add(&f, "VolumeId", volume_id);
        form_add(&f, "InstanceId", instance_id);
        if (force)
                form_add(&f, "Force", "true");
        r = ec2_call(c, "DetachVolume", &f, 0, &body, &n);
        if (r < 0)
                return r;
        return attachment_result(body, n, ret);
}

int ec2_create_tags(Ec2Client *c, char *const *resource_ids, char *const *tags) {
        _cleanup_(form_done) Form f = {};
        _cleanup_(freep) char *body = NULL;
        size_t n;
        int r;

        if (strv_length(resource_ids) == 0 || strv_length(tags) < 2 || strv_length(tags) % 2)
                return -EINVAL;
        form_action(&f, "CreateTags");
        form_ids(&f, "ResourceId", resource_ids);
        form_tags(&f, "", tags);
        r = ec2_call(c, "CreateTags", &f, 0, &body, &n);
        if (r < 0)
                return r;
        return ec2_parse_return(body, n);
}
