/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A small EC2 client: the Query API (Version 2016-11-15) as POST form bodies,
 * signed by libcurl (CURLOPT_AWS_SIGV4 "aws:amz:<region>:ec2"), answers parsed
 * from XML into plain structs that a pure planner can consume.
 *
 * Retries: throttling (RequestLimitExceeded and kin), 5xx and transport failures
 * (timeouts, refused or dropped connections) are retried with exponential backoff
 * and full jitter, capped, at most `max_attempts` per call and under a per-client
 * retry budget (a token bucket: each retry costs, each success refunds), so a
 * struggling endpoint is not hammered. Other 4xx answers are final. RunInstances
 * without a ClientToken gets a random one, so that a retry cannot launch twice.
 *
 * Errors: every call returns 0 or a negative errno. When EC2 answered with an
 * error, ec2_client_last_error() holds its code, message and request id:
 *   -EACCES      AuthFailure, UnauthorizedOperation, expired credentials…
 *   -ENOENT      a *.NotFound code
 *   -EAGAIN      still throttled or failing (5xx) after the retries
 *   -EREMOTEIO   any other EC2 error (check the code)
 *   -EBADMSG     the answer was not what EC2 sends (malformed, truncated XML)
 *   -ETIMEDOUT, -ECONNREFUSED, -EPROTO, …: transport, after the retries
 *   -ECANCELED   the cancel flag was raised (also mid-request or mid-backoff)
 *   -EPROTONOSUPPORT plain http to a non-loopback endpoint without allow_plain_http
 * Listings (Describe*) also fail, early, when they do not end: -EBADMSG for a
 * nextToken seen before, -E2BIG past the page cap, -ETIME past the listing deadline.
 * The library logs only at debug; callers log once (SK_MESSAGE_AWS_ERROR).
 *
 * Threads: a client has no global state (libcurl is initialized once, thread-safely,
 * by http_global_init()); one client is used by one thread at a time. Its
 * CredsProvider is not locked: a client used from a worker thread needs a provider
 * that no other thread uses at the same time.
 */

#include <stdatomic.h>

#include "creds.h"
#include "ec2-parse.h"

#define EC2_API_VERSION "2016-11-15"

/* A filter: name and NULL-terminated values; arrays of them end with { NULL }. */
typedef struct Ec2Filter {
        const char *name;
        const char *const *values;
} Ec2Filter;

#define EC2_VALUES(...) ((const char *const[]){ __VA_ARGS__, NULL })

typedef struct Ec2Client Ec2Client;

/*
 * region: for signing and the default endpoint https://ec2.<region>.amazonaws.com.
 * endpoint: NULL/"" for the default, else an http(s) URL with a host and without
 * userinfo (-EINVAL otherwise). Plain http is sent only to a loopback address unless
 * ec2_client_set_allow_plain_http(). creds: borrowed.
 */
int ec2_client_new(const char *region, const char *endpoint, CredsProvider *creds, Ec2Client **ret);
Ec2Client *ec2_client_free(Ec2Client *c);
static inline void ec2_client_freep(Ec2Client **c) {
        if (*c)
                ec2_client_free(*c);
}

void ec2_client_set_sleep(Ec2Client *c, SkSleepFunc fn, void *userdata);
/* Defaults: 5 attempts, 250 ms base, 20 s cap, budget 500 (a retry costs 5, a
 * timeout 10; a first-try success refunds 1, a success after retries its cost). */
void ec2_client_set_retry(Ec2Client *c, unsigned max_attempts, uint64_t base_usec, uint64_t cap_usec);
void ec2_client_set_retry_budget(Ec2Client *c, unsigned budget);
/* Defaults: connect 3 s, total 30 s per request. */
void ec2_client_set_timeouts(Ec2Client *c, uint64_t connect_msec, uint64_t total_msec);
/* Page sizes asked for: DescribeInstances 5…1000 (default 1000), DescribeVolumes
 * 5…500 (default 500), DescribeSubnets 5…1000 (default 1000); 0 keeps one as it is. */
void ec2_client_set_page_size(Ec2Client *c, unsigned instances, unsigned volumes, unsigned subnets);
/* Every Describe* listing: at most max_pages pages (default 100) and deadline_usec
 * from its first request to its last answer (default 5 min); 0: the default. */
void ec2_client_set_listing_limits(Ec2Client *c, unsigned max_pages, uint64_t deadline_usec);
/* Plain http:// to a non-loopback endpoint (AWS.AllowPlainHttp=yes; test setups). */
void ec2_client_set_allow_plain_http(Ec2Client *c, bool allow);
/* Is the endpoint plain http to a host that is not loopback? */
bool ec2_client_endpoint_plain(const Ec2Client *c);
/* A flag another thread raises to stop what this client does: a request in flight
 * is aborted and a backoff sleep cut short, both within about 100 ms, and the call
 * returns -ECANCELED. Borrowed; NULL: none. */
void ec2_client_set_cancel(Ec2Client *c, const atomic_bool *flag);
const char *ec2_client_endpoint(const Ec2Client *c);
unsigned ec2_client_retry_budget(const Ec2Client *c);

/* The error of the last call that failed with an answer from EC2 (or transport). */
const Ec2Error *ec2_client_last_error(const Ec2Client *c);

/*
 * For callers: log the last error of `c` once, at `level`, with SK_MESSAGE_AWS_ERROR
 * and the action, code and request id as fields: "<context>: EC2 <Action> failed: …".
 * Returns r.
 */
int ec2_log_error(const Ec2Client *c, int level, int r, const char *context);

/* Every page (NextToken) of instances, all states unless a filter says otherwise.
 * instance_ids and filters may be NULL. Never returns a partial listing. */
int ec2_describe_instances(Ec2Client *c, char *const *instance_ids, const Ec2Filter *filters,
                           Ec2InstanceList *ret);

typedef struct Ec2RunSpec {
        /* Either a launch template (id or name, optional version)… */
        const char *launch_template_id;
        const char *launch_template_name;
        const char *launch_template_version;
        /* …and/or explicit parameters (override the template). */
        const char *image_id;
        const char *instance_type;
        const char *subnet_id;
        const char *availability_zone;
        char **security_group_ids;
        const char *iam_instance_profile; /* an ARN ("arn:…") or a name */
        const char *key_name;
        const char *user_data; /* raw; base64-encoded here. May hold a join token: erased after */
        size_t user_data_size;
        const char *private_ip;
        char **instance_tags; /* key, value, … */
        char **volume_tags;
        const char *client_token; /* ≤ 64 ASCII; NULL: a random one */
} Ec2RunSpec;

/* One instance (MinCount=MaxCount=1) with IMDSv2 required and hop limit 1, its tags
 * (instance and volumes) in the same call. -EMSGSIZE: user data over 16 KiB. */
int ec2_run_instances(Ec2Client *c, const Ec2RunSpec *spec, Ec2Instance *ret);
int ec2_terminate_instances(Ec2Client *c, char *const *instance_ids);

int ec2_describe_volumes(Ec2Client *c, char *const *volume_ids, const Ec2Filter *filters, Ec2VolumeList *ret);
/* Every page of subnets (SubnetId.N or filters, e.g. "vpc-id", "tag:…"). */
int ec2_describe_subnets(Ec2Client *c, char *const *subnet_ids, const Ec2Filter *filters, Ec2SubnetList *ret);

typedef struct Ec2VolumeSpec {
        const char *availability_zone;
        uint64_t size_gib;
        const char *volume_type; /* NULL: gp3 */
        uint64_t iops, throughput; /* 0: default */
        bool encrypted;
        const char *kms_key_id;
        char **tags;
        const char *client_token;
} Ec2VolumeSpec;

int ec2_create_volume(Ec2Client *c, const Ec2VolumeSpec *spec, Ec2Volume *ret);
/* ret may be NULL. */
int ec2_attach_volume(Ec2Client *c, const char *volume_id, const char *instance_id, const char *device,
                      Ec2Attachment *ret);
/* instance_id may be NULL; ret may be NULL. */
int ec2_detach_volume(Ec2Client *c, const char *volume_id, const char *instance_id, bool force,
                      Ec2Attachment *ret);
int ec2_create_tags(Ec2Client *c, char *const *resource_ids, char *const *tags);

