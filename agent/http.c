/* SPDX-License-Identifier: MIT */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <sys/stat.h>

#include "log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all);

typedef struct Sink {
        HttpResponse *resp;
        size_t max;
        bool overflow;
} Sink;

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Sink *s = userdata;
        size_t n = size * nmemb;
        char *nb;

        if (s->resp->body_size + n > s->max) {
                s->overflow = true;
                return 0; /* aborts the transfer */
        }
        nb = realloc(s->resp->body, s->resp->body_size + n + 1);
        if (!nb)
                return 0;
        memcpy(nb + s->resp->body_size, ptr, n);
        s->resp->body = nb;
        s->resp->body_size += n;
        nb[s->resp->body_size] = 0;
        return n;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(CURLU *, curl_url_cleanup);
DEFINE_TRIVIAL_CLEANUP_FUNC(char *, curl_free);

/* libcurl's global state, once per process, before any thread uses it (curl_easy_init()
 * would do it implicitly, and not thread-safely with older libcurl). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int http_global_init(void) {
        (void) pthread_once(&curl_once, curl_init_once);
        return curl_init_result == CURLE_OK ? 0 : -ENOMEM;
}

/* Does the URL part exist? (user, password, login options) */
static bool url_has_part(CURLU *u, CURLUPart part) {
        _cleanup_(curl_freep) char *v = NULL;
        return curl_url_get(u, part, &v, 0) == CURLUE_OK && v;
}

/* Parse with libcurl's own parser (what is checked is what is sent): http or https,
 * a host, no userinfo. *ret_plain_loopback: plain http to a loopback address. */
static int url_parse(const char *url, CURLU **ret, bool *ret_plain, bool *ret_loopback) {
        _cleanup_(curl_url_cleanupp) CURLU *u = NULL;
        _cleanup_(curl_freep) char *scheme = NULL, *host = NULL;
        struct in_addr a4;
        struct in6_addr a6;
        bool loopback = false;

        if (isempty(url))
                return -EINVAL;
        u = curl_url();
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
                return -EINVAL;
        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme ||
            (!streq(scheme, "http") && !streq(scheme, "https")))
                return -EINVAL;
        /* http://localhost:1@evil.example/ goes to evil.example: refuse any userinfo. */
        if (url_has_part(u, CURLUPART_USER) || url_has_part(u, CURLUPART_PASSWORD) ||
            url_has_part(u, CURLUPART_OPTIONS))
                return -EINVAL;
        if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || isempty(host))
                return -EINVAL;

        if (streq(host, "localhost"))
                loopback = true;
        else if (inet_pton(AF_INET, host, &a4) == 1)
                loopback = (ntohl(a4.s_addr) >> 24) == 127;
        else if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                host[strlen(host) - 1] = 0;
                loopback = inet_pton(AF_INET6, host + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
        }
        if (ret_plain)
                *ret_plain = streq(scheme, "http");
        if (ret_loopback)
                *ret_loopback = loopback;
        if (ret)
                *ret = TAKE_PTR(u);
        return 0;
}

int http_url_validate(const char *url) {
        return url_parse(url, NULL, NULL, NULL);
}

bool http_url_plain_ok(const char *url) {
        bool plain, loopback;
        return url_parse(url, NULL, &plain, &loopback) >= 0 && plain && loopback;
}

bool http_url_is_plain(const char *url) {
        bool plain;
        return url_parse(url, NULL, &plain, NULL) >= 0 && plain;
}

char *http_form_escape(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        char *r = malloc(strlen(s) * 3 + 1), *p = r;

        if (!r)
                return NULL;
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (isalnum(*c) || *c == '-' || *c == '_' || *c == '.' || *c == '~')
                        *p++ = (char) *c;
                else {
                        *p++ = '%';
                        *p++ = hex[*c >> 4];
                        *p++ = hex[*c & 15];
                }
        *p = 0;
        return r;
}

static int http_xferinfo(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow) {
        const atomic_bool *cancel = userdata;
        return atomic_load(cancel) ? 1 : 0; /* non-zero aborts: CURLE_ABORTED_BY_CALLBACK */
}

static int curl_to_errno(CURLcode c, bool overflow) {
        if (overflow)
                return -EMSGSIZE;
        switch (c) {
        case CURLE_ABORTED_BY_CALLBACK:
                return -ECANCELED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
                return -EHOSTUNREACH;
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_BAD_CONTENT_ENCODING:
                return -EPROTO;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

/* curl_easy_perform(), but a raised flag stops it within CANCEL_POLL_MSEC: the multi
 * interface polled in short slices (the progress callback alone runs only about once a
 * second while a server is silent). CURLE_ABORTED_BY_CALLBACK when cancelled. */
#define CANCEL_POLL_MSEC 100
static CURLcode perform_cancellable(CURL *h, const atomic_bool *cancel) {
        CURLM *m = curl_multi_init();
        CURLcode result = CURLE_OK;
        int running = 1, left;
        CURLMsg *msg;

        if (!m)
                return CURLE_OUT_OF_MEMORY;
        if (curl_multi_add_handle(m, h) != CURLM_OK) {
                curl_multi_cleanup(m);
                return CURLE_FAILED_INIT;
        }
        while (running) {
                if (atomic_load(cancel)) {
                        result = CURLE_ABORTED_BY_CALLBACK;
                        break;
                }
                if (curl_multi_perform(m, &running) != CURLM_OK) {
                        result = CURLE_RECV_ERROR;
                        break;
                }
                if (running && curl_multi_poll(m, NULL, 0, CANCEL_POLL_MSEC, NULL) != CURLM_OK) {
                        result = CURLE_RECV_ERROR;
                        break;
                }
        }
        if (!running) {
                result = CURLE_GOT_NOTHING; /* unless the transfer says how it ended */
                while ((msg = curl_multi_info_read(m, &left)))
                        if (msg->msg == CURLMSG_DONE && msg->easy_handle == h)
                                result = msg->data.result;
        }
        (void) curl_multi_remove_handle(m, h);
        (void) curl_multi_cleanup(m);
        return result;
}

/* Set an option that matters; a libcurl that refuses it fails the request (named). */
#define SETOPT(h, opt, val)                                                                    \
        do {                                                                                   \
                CURLcode _c = curl_easy_setopt((h), (opt), (val));                             \
                if (_c != CURLE_OK) {                                                          \
                        snprintf(ret->error, sizeof(ret->error), "libcurl refused %s: %s", #opt, \
                                 curl_easy_strerror(_c));                                      \
                        return _c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EOPNOTSUPP;              \
                }                                                                              \
        } while (0)

int http_perform(const HttpRequest *req, HttpResponse *ret) {
        _cleanup_(curl_easy_cleanupp) CURL *h = NULL;
        _cleanup_(curl_slist_free_allp) struct curl_slist *hdrs = NULL;
        _cleanup_(curl_url_cleanupp) CURLU *u = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        const char *method = req->method ?: "GET";
        Sink sink = { .resp = ret, .max = req->max_response ?: 32u * 1024 * 1024 };
        bool plain, loopback;
        CURLcode c;
        int r;

        *ret = HTTP_RESPONSE_NULL;

        if (req->cancel && atomic_load(req->cancel)) {
                snprintf(ret->error, sizeof(ret->error), "cancelled");
                return -ECANCELED;
        }
        r = url_parse(req->url, &u, &plain, &loopback);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                snprintf(ret->error, sizeof(ret->error),
                         "not an http:// or https:// URL with a host and without user information");
                return -EINVAL;
        }
        if (req->unix_socket) {
                struct stat st;
                if (stat(req->unix_socket, &st) < 0) {
                        snprintf(ret->error, sizeof(ret->error), "%s: %s", req->unix_socket, strerror(errno));
                        return -errno;
                }
        } else if (plain && !loopback && !req->allow_insecure_http) {
                snprintf(ret->error, sizeof(ret->error), "plain http is allowed only to a loopback address");
                return -EPROTONOSUPPORT;
        }

        r = http_global_init();
        if (r < 0) {
                snprintf(ret->error, sizeof(ret->error), "libcurl failed to initialize");
                return r;
        }
        h = curl_easy_init();
        if (!h)
                return -ENOMEM;

        for (const char *const *x = req->headers; x && *x; x++) {
                struct curl_slist *n = curl_slist_append(hdrs, *x);
                if (!n)
                        return -ENOMEM;
                hdrs = n;
        }
        if (req->body && !req->sigv4) {
                /* No "Expect: 100-continue" round trip. Not with SigV4: libcurl < 8.3 signs
                 * the suppressed header it then does not send (curl#11664), and it asks for
                 * 100-continue only above 1 MiB anyway. */
                struct curl_slist *n = curl_slist_append(hdrs, "Expect:");
                if (!n)
                        return -ENOMEM;
                hdrs = n;
        }

        SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
        SETOPT(h, CURLOPT_CURLU, u); /* exactly the URL checked above */
        SETOPT(h, CURLOPT_NOSIGNAL, 1L);
        SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
        SETOPT(h, CURLOPT_NOPROXY, "*"); /* never via a proxy */
        SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
        SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
        SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, (long) (req->connect_timeout_msec ?: 2000));
        SETOPT(h, CURLOPT_TIMEOUT_MS, (long) (req->timeout_msec ?: 10000));
        SETOPT(h, CURLOPT_WRITEFUNCTION, sink_write);
        SETOPT(h, CURLOPT_WRITEDATA, &sink);
        (void) curl_easy_setopt(h, CURLOPT_USERAGENT, "swarmkeeper");
        if (req->unix_socket)
                SETOPT(h, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
        if (hdrs)
                SETOPT(h, CURLOPT_HTTPHEADER, hdrs);
        if (req->cancel) {
                SETOPT(h, CURLOPT_XFERINFOFUNCTION, http_xferinfo);
                SETOPT(h, CURLOPT_XFERINFODATA, (void *) req->cancel);
                SETOPT(h, CURLOPT_NOPROGRESS, 0L);
        }

        if (streq(method, "POST") || req->body) {
                SETOPT(h, CURLOPT_POST, 1L);
                SETOPT(h, CURLOPT_POSTFIELDS, req->body ?: "");
                SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (req->body ? req->body_size : 0));
        }
        if (!streq(method, "GET") && !streq(method, "POST"))
                SETOPT(h, CURLOPT_CUSTOMREQUEST, method);

        if (req->sigv4) {
                SETOPT(h, CURLOPT_AWS_SIGV4, req->sigv4);
                SETOPT(h, CURLOPT_USERNAME, req->access_key_id);
                SETOPT(h, CURLOPT_PASSWORD, req->secret_access_key);
        }

        c = req->cancel ? perform_cancellable(h, req->cancel) : curl_easy_perform(h);
        (void) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->status);
        if (c != CURLE_OK) {
                snprintf(ret->error, sizeof(ret->error), "%s",
                         sink.overflow ? "answer too large" :
                         c == CURLE_ABORTED_BY_CALLBACK ? "cancelled" : (*errbuf ? errbuf : curl_easy_strerror(c)));
                free(ret->body);
                ret->body = NULL;
                ret->body_size = 0;
                return curl_to_errno(c, sink.overflow);
        }
        if (!ret->body) {
                ret->body = strdup("");
                if (!ret->body)
                        return -ENOMEM;
        }
        log_debug("HTTP %s %s -> %ld (%zu bytes)", method, req->url, ret->status, ret->body_size);
        return 0;
}

void http_response_done(HttpResponse *r) {
        free(r->body);
        *r = HTTP_RESPONSE_NULL;
}
