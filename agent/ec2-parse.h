/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * EC2 answers as plain structs: the data types and the pure parsers of the Query
 * API's XML answers (Version 2016-11-15). No I/O and no libcurl here: the client
 * (ec2.h), the unit tests, the fuzzer and the parse benchmark all use this.
 */

#include "xml.h"

/* Tag keys swarmkeeper puts on its instances and volumes. */
#define EC2_TAG_CLUSTER "swarmkeeper:cluster"
#define EC2_TAG_LOGICAL_ID "swarmkeeper:logical-id"
#define EC2_TAG_ROLE "swarmkeeper:role"
/* On a manager's data volume, written by the leader's agent (CreateTags): */
#define EC2_TAG_HAS_STATE "swarmkeeper:has-state"   /* "yes": its host has joined or inited */
#define EC2_TAG_GENERATION "swarmkeeper:generation" /* decimal: the seat's launch generation */

/* An EC2 resource id: prefix ("i-", "vol-", "sg-", "subnet-", "lt-", "ami-", …) and
 * exactly 8 or 17 lowercase hex digits, the two lengths EC2 hands out. NULL is not. */
bool ec2_id_valid(const char *s, const char *prefix);

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
        char *private_ip; /* NULL once terminated (EC2 drops it): identity is the logical-id tag */
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

/*
 * EC2 error codes the agent acts on, parsed once from the answer's <Code>. Anything
 * else is EC2_ERR_OTHER (the string is kept in Ec2Error.code). EC2_ERR_NONE: no EC2
 * error (success, or a transport failure with no answer).
 */
typedef enum Ec2ErrorCode {
        EC2_ERR_NONE,
        /* throttling and transient server-side failures: retried */
        EC2_ERR_REQUEST_LIMIT_EXCEEDED,
        EC2_ERR_THROTTLING,              /* Throttling and kin (botocore's list) */
        EC2_ERR_INTERNAL_ERROR,          /* InternalError, InternalFailure */
        EC2_ERR_UNAVAILABLE,             /* Unavailable, ServiceUnavailable */
        EC2_ERR_REQUEST_TIMEOUT,         /* RequestTimeout, RequestTimeoutException */
        EC2_ERR_INSUFFICIENT_INSTANCE_CAPACITY,
        /* credentials and permissions */
        EC2_ERR_AUTH_FAILURE,
        EC2_ERR_UNAUTHORIZED_OPERATION,
        EC2_ERR_REQUEST_EXPIRED,
        EC2_ERR_EXPIRED_TOKEN,
        EC2_ERR_INVALID_CLIENT_TOKEN_ID,
        EC2_ERR_SIGNATURE_DOES_NOT_MATCH,
        EC2_ERR_MISSING_AUTHENTICATION_TOKEN,
        EC2_ERR_INCOMPLETE_SIGNATURE,
        EC2_ERR_OPT_IN_REQUIRED,
        EC2_ERR_BLOCKED,
        /* launches */
        EC2_ERR_INVALID_IP_ADDRESS_IN_USE,        /* InvalidIPAddress.InUse */
        EC2_ERR_IDEMPOTENT_INSTANCE_TERMINATED,   /* IdempotentInstanceTerminated */
        EC2_ERR_IDEMPOTENT_PARAMETER_MISMATCH,    /* IdempotentParameterMismatch */
        EC2_ERR_INSTANCE_LIMIT_EXCEEDED,
        EC2_ERR_INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET,
        EC2_ERR_INVALID_AMI_ID_MALFORMED,
        EC2_ERR_INVALID_AMI_ID_NOT_FOUND,
        EC2_ERR_INVALID_LAUNCH_TEMPLATE_ID_NOT_FOUND,   /* InvalidLaunchTemplateId.NotFound */
        EC2_ERR_INVALID_LAUNCH_TEMPLATE_NAME_NOT_FOUND, /* InvalidLaunchTemplateName.NotFoundException */
        EC2_ERR_INVALID_SUBNET_ID_NOT_FOUND,      /* InvalidSubnetID.NotFound */
        EC2_ERR_INVALID_GROUP_NOT_FOUND,          /* InvalidGroup.NotFound */
        /* instances and volumes */
        EC2_ERR_INCORRECT_STATE,                  /* IncorrectState */
        EC2_ERR_INCORRECT_INSTANCE_STATE,         /* IncorrectInstanceState */
        EC2_ERR_INVALID_INSTANCE_ID_NOT_FOUND,    /* InvalidInstanceID.NotFound */
        EC2_ERR_INVALID_INSTANCE_ID_MALFORMED,    /* InvalidInstanceID.Malformed */
        EC2_ERR_INVALID_VOLUME_NOT_FOUND,         /* InvalidVolume.NotFound */
        EC2_ERR_INVALID_VOLUME_ZONE_MISMATCH,     /* InvalidVolume.ZoneMismatch */
        EC2_ERR_VOLUME_IN_USE,                    /* VolumeInUse */
        EC2_ERR_VOLUME_LIMIT_EXCEEDED,
        EC2_ERR_ATTACHMENT_LIMIT_EXCEEDED,
        EC2_ERR_INVALID_ATTACHMENT_NOT_FOUND,     /* InvalidAttachment.NotFound */
        /* requests */
        EC2_ERR_INVALID_PARAMETER_VALUE,
        EC2_ERR_INVALID_PARAMETER_COMBINATION,
        EC2_ERR_INVALID_PARAMETER,
        EC2_ERR_MISSING_PARAMETER,
        EC2_ERR_UNKNOWN_PARAMETER,
        EC2_ERR_INVALID_FILTER,
        EC2_ERR_INVALID_NEXT_TOKEN,               /* InvalidNextToken, InvalidPaginationToken */
        EC2_ERR_DRY_RUN_OPERATION,
        EC2_ERR_OTHER,                            /* any other code */
        _EC2_ERR_MAX,
} Ec2ErrorCode;

/* "InvalidIPAddress.InUse" → EC2_ERR_INVALID_IP_ADDRESS_IN_USE; NULL/"" → EC2_ERR_NONE;
 * unknown → EC2_ERR_OTHER. to_string gives the canonical code (NULL for NONE, OTHER). */
Ec2ErrorCode ec2_error_code_from_string(const char *code);
const char *ec2_error_code_to_string(Ec2ErrorCode e);

/* Throttling (retried with backoff), a transient server-side failure (retried), or
 * refused credentials/permissions (final, -EACCES). */
bool ec2_error_code_is_throttling(Ec2ErrorCode e);
bool ec2_error_code_is_transient(Ec2ErrorCode e);
bool ec2_error_code_is_auth(Ec2ErrorCode e);

typedef struct Ec2Error {
        long http_status;   /* 0: no answer */
        Ec2ErrorCode error; /* parsed from code */
        char code[128];     /* "RequestLimitExceeded"; "" if the answer carried none */
        char message[512];
        char request_id[128];
        char action[64];
        unsigned attempts;  /* how many requests the call made */
} Ec2Error;

/* A subnet (DescribeSubnets). */
typedef struct Ec2Subnet {
        char *subnet_id;
        char *cidr_block;        /* "10.0.1.0/24" */
        char *availability_zone;
        char *vpc_id;
        char **tags;
} Ec2Subnet;

typedef struct Ec2SubnetList {
        Ec2Subnet *items;
        size_t n;
} Ec2SubnetList;

void ec2_subnet_done(Ec2Subnet *s);
void ec2_subnet_list_done(Ec2SubnetList *l);

/*
 * Parsers of EC2 answers (for the client, the tests and the fuzzer). -EBADMSG
 * when the XML is not well-formed or not the expected answer.
 * ec2_parse_error(): fills *ret from <Response><Errors><Error>… (or
 * <ErrorResponse>), with ret->error parsed from the code; -EBADMSG if the body
 * is not one.
 */
int ec2_parse_error(const char *xml, size_t size, Ec2Error *ret);
int ec2_parse_describe_instances(const char *xml, size_t size, Ec2InstanceList *ret, char **ret_next_token);
int ec2_parse_describe_volumes(const char *xml, size_t size, Ec2VolumeList *ret, char **ret_next_token);
int ec2_parse_describe_subnets(const char *xml, size_t size, Ec2SubnetList *ret, char **ret_next_token);
/* One page of a listing appended to *l (the client's paging); on failure *l keeps what
 * it had plus possibly part of the page: the caller drops it whole. */
int ec2_parse_describe_instances_append(const char *xml, size_t size, Ec2InstanceList *l, char **ret_next_token);
int ec2_parse_describe_volumes_append(const char *xml, size_t size, Ec2VolumeList *l, char **ret_next_token);
int ec2_parse_describe_subnets_append(const char *xml, size_t size, Ec2SubnetList *l, char **ret_next_token);
int ec2_parse_run_instances(const char *xml, size_t size, Ec2Instance *ret);
int ec2_parse_volume(const char *xml, size_t size, Ec2Volume *ret);         /* CreateVolume */
int ec2_parse_attachment(const char *xml, size_t size, Ec2Attachment *ret); /* Attach/DetachVolume */
int ec2_parse_return(const char *xml, size_t size);                         /* CreateTags: <return>true */
int ec2_parse_terminate_instances(const char *xml, size_t size, size_t *ret_n);
