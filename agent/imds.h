/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The EC2 instance metadata service, IMDSv2 only: a session token from
 * PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds), cached and renewed
 * before it runs out, sent as X-aws-ec2-metadata-token on every GET. A GET that
 * is refused (401) gets one fresh token and one more try. Transport errors and
 * 5xx answers are retried a few times with jittered backoff.
 *
 * The endpoint is AWS.MetadataEndpoint (default http://169.254.169.254); tests
 * point it at the fake. The token is a secret: never logged, erased when freed.
 */

#include <stdatomic.h>

#include "util.h"

/* How the AWS modules wait between retries; tests inject one that does not sleep. */
typedef void (*SkSleepFunc)(uint64_t usec, void *userdata);
void sk_sleep_real(uint64_t usec, void *userdata);

#define IMDS_TOKEN_TTL_SEC 21600u
#define IMDS_MAX_ANSWER (256u * 1024)

typedef struct Imds Imds;

typedef enum ImdsKey {
        IMDS_INSTANCE_ID,       /* meta-data/instance-id: i-0123… */
        IMDS_LOCAL_IPV4,        /* meta-data/local-ipv4 */
        IMDS_AVAILABILITY_ZONE, /* meta-data/placement/availability-zone */
        IMDS_REGION,            /* meta-data/placement/region */
        _IMDS_KEY_MAX,
} ImdsKey;

const char *imds_key_path(ImdsKey k);

/* endpoint: "http://169.254.169.254" (a trailing slash is fine). */
int imds_new(const char *endpoint, Imds **ret);
Imds *imds_free(Imds *m);
static inline void imds_freep(Imds **m) {
        if (*m)
                imds_free(*m);
}

void imds_set_sleep(Imds *m, SkSleepFunc fn, void *userdata);
/* A flag another thread raises: a request in flight is aborted within about 100 ms
 * and no retry follows (-ECANCELED). The backoff sleeps here are at most 1 s. For a
 * worker thread whose EC2 client refreshes role credentials through this Imds.
 * Borrowed; NULL: none. */
void imds_set_cancel(Imds *m, const atomic_bool *flag);
/* Token lifetime asked for (1…21600 s; default IMDS_TOKEN_TTL_SEC). */
void imds_set_token_ttl(Imds *m, unsigned sec);
/* Attempts per request for transport errors and 5xx (default 3). */
void imds_set_attempts(Imds *m, unsigned attempts);
const char *imds_endpoint(const Imds *m);

/*
 * GET /latest/<path>. 0 with the answer (NUL-terminated, *ret_size may be NULL);
 * -ENOENT: 404 (no such item); -EACCES: the token was refused even after a fresh
 * one; -EREMOTEIO: another HTTP status; -EBADMSG: nonsense answer;
 * or a transport error from http_perform() (-ETIMEDOUT, -ECONNREFUSED, …).
 */
int imds_get(Imds *m, const char *path, char **ret, size_t *ret_size);

/* One well-known value, validated (see imds_parse_value()). */
int imds_get_value(Imds *m, ImdsKey k, char **ret);

/* User data as given at launch; -ENOENT if there is none. */
int imds_user_data(Imds *m, char **ret, size_t *ret_size);

/* The instance role's name (first line of iam/security-credentials/); -ENOENT: no role. */
int imds_role_name(Imds *m, char **ret);

/* The role's credentials as JSON. A secret: release with erase_and_free(). */
int imds_role_credentials_json(Imds *m, const char *role, char **ret, size_t *ret_size);

/*
 * Check and trim one answer: an instance id (i- and 8 or 17 hex digits), an IPv4
 * address, an availability zone or region name (lowercase letters, digits and
 * dashes, at most 64). -EBADMSG if it is not one.
 */
int imds_parse_value(ImdsKey k, const char *body, size_t size, char **ret);
