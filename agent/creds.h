/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * AWS credentials for signing EC2 calls: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 * (and AWS_SESSION_TOKEN) from the environment if set, else the instance role's
 * temporary credentials from the metadata service, fetched again once they are
 * within CREDS_REFRESH_MARGIN_USEC of their Expiration.
 *
 * Secrets: never logged (not even the access key id), erased when dropped. If a
 * refresh fails while the old credentials are still valid, the old ones are used.
 */

#include "imds.h"

#define CREDS_REFRESH_MARGIN_USEC (5 * 60 * USEC_PER_SEC)

typedef struct AwsCredentials {
        char *access_key_id;
        char *secret_access_key;
        char *session_token;      /* NULL for long-term keys */
        uint64_t expiration_usec; /* CLOCK_REALTIME; 0: does not expire */
} AwsCredentials;

#define AWS_CREDENTIALS_NULL ((AwsCredentials){})

/* Erase and free the members; leaves *c as AWS_CREDENTIALS_NULL. */
void aws_credentials_done(AwsCredentials *c);

/*
 * An IMDS role credentials answer ({"Code": "Success", "AccessKeyId": …,
 * "SecretAccessKey": …, "Token": …, "Expiration": "2024-01-01T00:00:00Z"}) into
 * *ret. -EBADMSG if it is not JSON, Code is not Success, or a member is missing,
 * not a string or empty; -EKEYREVOKED if it has expired already (now_usec given).
 */
int creds_parse_imds_json(const char *json, size_t size, uint64_t now_usec_realtime, AwsCredentials *ret);

/* "2024-01-01T12:34:56Z" or with fractional seconds → µs since the epoch; -EINVAL. */
int aws_parse_timestamp(const char *s, uint64_t *ret_usec);

typedef enum CredsSource {
        CREDS_SOURCE_ENVIRONMENT,
        CREDS_SOURCE_INSTANCE_ROLE,
        CREDS_SOURCE_CUSTOM,
} CredsSource;

typedef struct CredsProvider CredsProvider;

/* Fetches fresh credentials into *ret (for tests; the instance role uses IMDS). */
typedef int (*CredsFetchFunc)(void *userdata, AwsCredentials *ret);

/*
 * From the environment when AWS_ACCESS_KEY_ID is set (-EINVAL if then
 * AWS_SECRET_ACCESS_KEY is not), else from the instance role through `imds`
 * (borrowed: must outlive the provider; NULL: -ENOKEY when the environment has
 * nothing).
 */
int creds_provider_new(Imds *imds, CredsProvider **ret);
int creds_provider_new_custom(CredsFetchFunc fetch, void *userdata, CredsProvider **ret);
CredsProvider *creds_provider_free(CredsProvider *p);
static inline void creds_provider_freep(CredsProvider **p) {
        if (*p)
                creds_provider_free(*p);
}

CredsSource creds_provider_source(const CredsProvider *p);
void creds_provider_set_clock(CredsProvider *p, uint64_t (*now)(void *userdata), void *userdata);
void creds_provider_set_refresh_margin(CredsProvider *p, uint64_t usec);

/*
 * Valid credentials, fetched or refreshed as needed. Returns 0 (cached) or 1
 * (just fetched); *ret stays valid until the next call on p. -ENOKEY: the
 * instance has no role; -EKEYEXPIRED: they expired and no fresh ones could be had;
 * or the metadata service's error.
 */
int creds_get(CredsProvider *p, const AwsCredentials **ret);

/* The server refused them (expired token): the next creds_get() fetches anew. */
void creds_invalidate(CredsProvider *p);
