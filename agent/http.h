/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One synchronous HTTP request with libcurl: TCP or a unix socket (Docker), optional
 * SigV4 signing (EC2), hard connect and total timeouts, a capped response body.
 * Used by docker, imds and ec2. Never logs headers or bodies above debug, and never
 * the credentials it is given.
 */

#include <stdatomic.h>

#include "util.h"

typedef struct HttpRequest {
        const char *method;       /* "GET" (default), "POST", "PUT", "DELETE" */
        const char *url;          /* for unix sockets: http://localhost/path */
        const char *unix_socket;  /* NULL: TCP */
        const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
        const char *body;         /* NULL: no body */
        size_t body_size;
        uint64_t connect_timeout_msec; /* 0: 2000 */
        uint64_t timeout_msec;         /* 0: 10000 */
        size_t max_response;           /* 0: 32 MiB */
        /* SigV4: provider string for CURLOPT_AWS_SIGV4 ("aws:amz:us-east-1:ec2")
         * plus the key pair; the session token goes in as a header by the caller. */
        const char *sigv4;
        const char *access_key_id;
        const char *secret_access_key;
        bool allow_insecure_http; /* plain http to a non-loopback host (IMDS; AWS.AllowPlainHttp) */
        /* When set and raised (by another thread), the transfer is aborted within about
         * 100 ms (libcurl's multi interface polled in slices): -ECANCELED. */
        const atomic_bool *cancel;
} HttpRequest;

typedef struct HttpResponse {
        long status;   /* HTTP status; 0 if no answer */
        char *body;    /* NUL-terminated */
        size_t body_size;
        char error[256]; /* transport error text, if any */
} HttpResponse;

#define HTTP_RESPONSE_NULL ((HttpResponse){})

/*
 * Perform the request. 0 with *ret filled for any HTTP answer (check ret->status);
 * -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -ENOENT (no socket), -EMSGSIZE (answer
 * too big), -EPROTO (garbage), -ECANCELED (req->cancel raised) or -EIO for transport
 * failures; -EINVAL for a URL with userinfo or not http(s); -EPROTONOSUPPORT for plain
 * http to a non-loopback host without allow_insecure_http; -EOPNOTSUPP when libcurl
 * refuses an option it needs; ret->error says which.
 * ret is always initialized and must be released with http_response_done().
 */
int http_perform(const HttpRequest *req, HttpResponse *ret);
void http_response_done(HttpResponse *r);

/* libcurl's global initialization, once per process (pthread_once); http_perform()
 * calls it, a program may call it early from its main thread. 0 or -ENOMEM. */
int http_global_init(void);

/* URLs are parsed with libcurl's URL API (CURLU), the parser that sends the request:
 * http_url_validate(): 0 for an http:// or https:// URL with a host and without
 * userinfo (user, password, login options), -EINVAL otherwise.
 * http_url_plain_ok(): a valid http:// URL whose host is loopback (127.0.0.0/8, ::1,
 * localhost): the only plain http that http_perform() sends without
 * allow_insecure_http. http://localhost:1@evil.example/ is not (it names evil.example).
 * http_url_is_plain(): a valid http:// URL. */
int http_url_validate(const char *url);
bool http_url_plain_ok(const char *url);
bool http_url_is_plain(const char *url);

/* Percent-encode for an application/x-www-form-urlencoded body (RFC 3986 unreserved kept). */
char *http_form_escape(const char *s);
