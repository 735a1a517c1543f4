/* SPDX-License-Identifier: MIT */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
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

bool http_url_plain_ok(const char *url) {
        const char *host = startswith(url, "http://");
        char buf[256];
        size_t n;
        struct in_addr a;

        if (!host)
                return false;
        n = strcspn(host, ":/");
        if (n == 0 || n >= sizeof(buf))
                return false;
        memcpy(buf, host, n);
        buf[n] = 0;
        if (streq(buf, "localhost"))
                return true;
        if (inet_pton(AF_INET, buf, &a) != 1)
                return false;
        uint32_t ip = ntohl(a.s_addr);
        return (ip >> 24) == 127 ||                /* loopback */
               (ip >> 24) == 10 ||                 /* RFC 1918 */
               (ip >> 20) == (172u << 4 | 1) ||    /* 172.16/12 */
               (ip >> 16) == (192u << 8 | 168) ||  /* 192.168/16 */
               (ip >> 16) == (169u << 8 | 254);    /* link-local: the metadata service */
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

int http_perform(const HttpRequest *req, HttpResponse *ret) {
        _cleanup_(curl_easy_cleanupp) CURL *h = NULL;
        _cleanup_(curl_slist_free_allp) struct curl_slist *hdrs = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        const char *method = req->method ?: "GET";
        Sink sink = { .resp = ret, .max = req->max_response ?: 32u * 1024 * 1024 };
        CURLcode c;

        *ret = HTTP_RESPONSE_NULL;

        if (req->cancel && atomic_load(req->cancel)) {
                snprintf(ret->error, sizeof(ret->error), "cancelled");
                return -ECANCELED;
        }
        if (req->unix_socket) {
                struct stat st;
                if (stat(req->unix_socket, &st) < 0) {
                        snprintf(ret->error, sizeof(ret->error), "%s: %s", req->unix_socket, strerror(errno));
                        return -errno;
                }
        } else if (!startswith(req->url, "https://") &&
                   !(req->allow_insecure_http || http_url_plain_ok(req->url))) {
                snprintf(ret->error, sizeof(ret->error),
                         "plain http is allowed only to loopback and private test addresses");
                return -EPROTONOSUPPORT;
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

        (void) curl_easy_setopt(h, CURLOPT_URL, req->url);
        (void) curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(h, CURLOPT_NOPROXY, "*"); /* never via a proxy */
        (void) curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        (void) curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        (void) curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        (void) curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long) (req->connect_timeout_msec ?: 2000));
        (void) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long) (req->timeout_msec ?: 10000));
        (void) curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        (void) curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
        (void) curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
        (void) curl_easy_setopt(h, CURLOPT_USERAGENT, "swarmkeeper");
        if (req->unix_socket)
                (void) curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
        if (hdrs)
                (void) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        if (req->cancel) {
                (void) curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, http_xferinfo);
                (void) curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *) req->cancel);
                (void) curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        }

        if (streq(method, "POST") || req->body) {
                (void) curl_easy_setopt(h, CURLOPT_POST, 1L);
                (void) curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ?: "");
                (void) curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (req->body ? req->body_size : 0));
        }
        if (!streq(method, "GET") && !streq(method, "POST"))
                (void) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);

        if (req->sigv4) {
                (void) curl_easy_setopt(h, CURLOPT_AWS_SIGV4, req->sigv4);
                (void) curl_easy_setopt(h, CURLOPT_USERNAME, req->access_key_id);
                (void) curl_easy_setopt(h, CURLOPT_PASSWORD, req->secret_access_key);
        }

        c = curl_easy_perform(h);
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
