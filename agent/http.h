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
        bool allow_insecure_http; /* plain http to a non-loopback host */
        /* When set and raised (by another thread), the transfer is aborted within about a
         * second (libcurl's progress callback): -ECANCELED. */
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
 * too big), -EPROTO (garbage), -ECANCELED (req->cancel raised) or -EIO for transport failures, with ret->error set.
 * ret is always initialized and must be released with http_response_done().
 */
int http_perform(const HttpRequest *req, HttpResponse *ret);
void http_response_done(HttpResponse *r);

/* True for http:// URLs whose host is loopback or a private test address (RFC 1918,
 * link-local): plain http is allowed only there. */
bool http_url_plain_ok(const char *url);

/* Percent-encode for an application/x-www-form-urlencoded body (RFC 3986 unreserved kept). */
char *http_form_escape(const char *s);
