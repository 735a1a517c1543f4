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
 * The library logs only at debug; callers log once (SK_MESSAGE_AWS_ERROR).
 */

#include "creds.h"
#include "xml.h"

#define EC2_API_VERSION "2016-11-15"

/* Tag keys swarmkeeper puts on its instances and volumes. */
#define EC2_TAG_CLUSTER "swarmkeeper:cluster"
#define EC2_TAG_LOGICAL_ID "swarmkeeper:logical-id"
#define EC2_TAG_ROLE "swarmkeeper:role"

typedef enum Ec2InstanceState {
        EC2_INSTANCE_PENDING,
        EC2_INSTANCE_RUNNING,
        EC2_INSTANCE_SHUTTING_DOWN,
        EC2_INSTANCE_TERMINATED,
        EC2_INSTANCE_STOPPING,
        EC2_INSTANCE_STOPPED,
        _EC2_INSTANCE_STATE_MAX,
        _EC2_INSTANCE_STATE_INVALID = -EINVAL,
} Ec2InstanceState;

typedef enum Ec2VolumeState {
        EC2_VOLUME_CREATING,
        EC2_VOLUME_AVAILABLE,
        EC2_VOLUME_IN_USE,
        EC2_VOLUME_DELETING,
        EC2_VOLUME_DELETED,
        EC2_VOLUME_ERROR,
        _EC2_VOLUME_STATE_MAX,
        _EC2_VOLUME_STATE_INVALID = -EINVAL,
} Ec2VolumeState;

typedef enum Ec2AttachmentState {
        EC2_ATTACHMENT_ATTACHING,
        EC2_ATTACHMENT_ATTACHED,
        EC2_ATTACHMENT_DETACHING,
        EC2_ATTACHMENT_DETACHED,
        EC2_ATTACHMENT_BUSY,
        _EC2_ATTACHMENT_STATE_MAX,
        _EC2_ATTACHMENT_STATE_INVALID = -EINVAL,
} Ec2AttachmentState;

const char *ec2_instance_state_to_string(Ec2InstanceState s);
Ec2InstanceState ec2_instance_state_from_string(const char *s);
const char *ec2_volume_state_to_string(Ec2VolumeState s);
Ec2VolumeState ec2_volume_state_from_string(const char *s);
const char *ec2_attachment_state_to_string(Ec2AttachmentState s);
Ec2AttachmentState ec2_attachment_state_from_string(const char *s);

/* Tags are a NULL-terminated vector of key, value, key, value, … */
const char *ec2_tags_get(char *const *tags, const char *key);

typedef struct Ec2Attachment {
        char *volume_id;
        char *instance_id;
        char *device; /* as requested: /dev/sdf */
        Ec2AttachmentState state;
        bool delete_on_termination;
} Ec2Attachment;

typedef struct Ec2Instance {
        char *instance_id;
        Ec2InstanceState state;
        char *private_ip; /* still shown after termination; may be NULL */
        char *availability_zone;
        char *subnet_id;
        char *image_id;
        char *instance_type;
        char *client_token;
        char *state_reason; /* stateReason/code, e.g. Client.UserInitiatedShutdown */
        uint64_t launch_time_usec; /* CLOCK_REALTIME; 0: unknown */
        char **tags;
        Ec2Attachment *volumes; /* blockDeviceMapping (EBS only) */
        size_t n_volumes;
} Ec2Instance;

typedef struct Ec2Volume {
        char *volume_id;
        Ec2VolumeState state;
        char *availability_zone;
        uint64_t size_gib;
        char *volume_type;
        uint64_t create_time_usec;
        char **tags;
        Ec2Attachment *attachments;
        size_t n_attachments;
} Ec2Volume;

typedef struct Ec2InstanceList {
        Ec2Instance *items;
        size_t n;
} Ec2InstanceList;

typedef struct Ec2VolumeList {
        Ec2Volume *items;
        size_t n;
} Ec2VolumeList;

void ec2_attachment_done(Ec2Attachment *a);
void ec2_instance_done(Ec2Instance *i);
void ec2_volume_done(Ec2Volume *v);
void ec2_instance_list_done(Ec2InstanceList *l);
void ec2_volume_list_done(Ec2VolumeList *l);

/* A filter: name and NULL-terminated values; arrays of them end with { NULL }. */
typedef struct Ec2Filter {
        const char *name;
        const char *const *values;
} Ec2Filter;

#define EC2_VALUES(...) ((const char *const[]){ __VA_ARGS__, NULL })

typedef struct Ec2Error {
        long http_status;   /* 0: no answer */
        char code[128];     /* "RequestLimitExceeded"; "" if the answer carried none */
        char message[512];
        char request_id[128];
        char action[64];
        unsigned attempts;  /* how many requests the call made */
} Ec2Error;

/* Is this error code throttling, or a transient server-side failure? */
bool ec2_error_code_is_throttling(const char *code);
bool ec2_error_code_is_transient(const char *code);

typedef struct Ec2Client Ec2Client;

/*
 * region: for signing and the default endpoint https://ec2.<region>.amazonaws.com.
 * endpoint: NULL/"" for the default, else a URL (plain http only to loopback and
 * private test addresses, see http_url_plain_ok()). creds: borrowed.
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
 * 5…500 (default 500). */
void ec2_client_set_page_size(Ec2Client *c, unsigned instances, unsigned volumes);
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

/* One instance (MinCount=MaxCount=1) with IMDSv2 required and hop limit 1. */
int ec2_run_instances(Ec2Client *c, const Ec2RunSpec *spec, Ec2Instance *ret);
int ec2_terminate_instances(Ec2Client *c, char *const *instance_ids);

int ec2_describe_volumes(Ec2Client *c, char *const *volume_ids, const Ec2Filter *filters, Ec2VolumeList *ret);

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

/*
 * Parsers of EC2 answers (for the client, the tests and the fuzzer). -EBADMSG
 * when the XML is not well-formed or not the expected answer.
 * ec2_parse_error(): fills *ret from <Response><Errors><Error>… (or
 * <ErrorResponse>); -EBADMSG if the body is not one.
 */
int ec2_parse_error(const char *xml, size_t size, Ec2Error *ret);
int ec2_parse_describe_instances(const char *xml, size_t size, Ec2InstanceList *ret, char **ret_next_token);
int ec2_parse_describe_volumes(const char *xml, size_t size, Ec2VolumeList *ret, char **ret_next_token);
int ec2_parse_run_instances(const char *xml, size_t size, Ec2Instance *ret);
int ec2_parse_volume(const char *xml, size_t size, Ec2Volume *ret);         /* CreateVolume */
int ec2_parse_attachment(const char *xml, size_t size, Ec2Attachment *ret); /* Attach/DetachVolume */
int ec2_parse_return(const char *xml, size_t size);                         /* CreateTags: <return>true */
int ec2_parse_terminate_instances(const char *xml, size_t size, size_t *ret_n);
