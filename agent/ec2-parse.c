/* SPDX-License-Identifier: MIT */
#include "ec2-parse.h"

#include "creds.h"

/* ---------------------------------------------------------------- ids */

bool ec2_id_valid(const char *s, const char *prefix) {
        const char *hex = s ? startswith(s, prefix) : NULL;
        size_t n = hex ? strlen(hex) : 0;
        return hex && (n == 8 || n == 17) && strspn(hex, "0123456789abcdef") == n;
}

/* ---------------------------------------------------------------- enums */

static const char *const instance_states[_EC2_INSTANCE_STATE_MAX] = {
        [EC2_INSTANCE_PENDING] = "pending",
        [EC2_INSTANCE_RUNNING] = "running",
        [EC2_INSTANCE_SHUTTING_DOWN] = "shutting-down",
        [EC2_INSTANCE_TERMINATED] = "terminated",
        [EC2_INSTANCE_STOPPING] = "stopping",
        [EC2_INSTANCE_STOPPED] = "stopped",
};

static const char *const volume_states[_EC2_VOLUME_STATE_MAX] = {
        [EC2_VOLUME_CREATING] = "creating",
        [EC2_VOLUME_AVAILABLE] = "available",
        [EC2_VOLUME_IN_USE] = "in-use",
        [EC2_VOLUME_DELETING] = "deleting",
        [EC2_VOLUME_DELETED] = "deleted",
        [EC2_VOLUME_ERROR] = "error",
};

static const char *const attachment_states[_EC2_ATTACHMENT_STATE_MAX] = {
        [EC2_ATTACHMENT_ATTACHING] = "attaching",
        [EC2_ATTACHMENT_ATTACHED] = "attached",
        [EC2_ATTACHMENT_DETACHING] = "detaching",
        [EC2_ATTACHMENT_DETACHED] = "detached",
        [EC2_ATTACHMENT_BUSY] = "busy",
};

const char *ec2_instance_state_to_string(Ec2InstanceState s) {
        return s >= 0 && s < _EC2_INSTANCE_STATE_MAX ? instance_states[s] : NULL;
}
Ec2InstanceState ec2_instance_state_from_string(const char *s) {
        return (Ec2InstanceState) string_table_lookup(instance_states, ELEMENTSOF(instance_states), s);
}
const char *ec2_volume_state_to_string(Ec2VolumeState s) {
        return s >= 0 && s < _EC2_VOLUME_STATE_MAX ? volume_states[s] : NULL;
}
Ec2VolumeState ec2_volume_state_from_string(const char *s) {
        return (Ec2VolumeState) string_table_lookup(volume_states, ELEMENTSOF(volume_states), s);
}
const char *ec2_attachment_state_to_string(Ec2AttachmentState s) {
        return s >= 0 && s < _EC2_ATTACHMENT_STATE_MAX ? attachment_states[s] : NULL;
}
Ec2AttachmentState ec2_attachment_state_from_string(const char *s) {
        return (Ec2AttachmentState) string_table_lookup(attachment_states, ELEMENTSOF(attachment_states), s);
}

const char *ec2_tags_get(char *const *tags, const char *key) {
        for (char *const *t = tags; t && t[0] && t[1]; t += 2)
                if (streq(t[0], key))
                        return t[1];
        return NULL;
}

/* ---------------------------------------------------------------- error codes */

/* Several strings may map to one value; the first one is its canonical name. The
 * throttling and transient strings are botocore's standard retry lists. */
static const struct {
        const char *name;
        Ec2ErrorCode code;
} error_codes[] = {
        { "RequestLimitExceeded", EC2_ERR_REQUEST_LIMIT_EXCEEDED },
        { "Throttling", EC2_ERR_THROTTLING },
        { "ThrottlingException", EC2_ERR_THROTTLING },
        { "ThrottledException", EC2_ERR_THROTTLING },
        { "RequestThrottledException", EC2_ERR_THROTTLING },
        { "TooManyRequestsException", EC2_ERR_THROTTLING },
        { "ProvisionedThroughputExceededException", EC2_ERR_THROTTLING },
        { "TransactionInProgressException", EC2_ERR_THROTTLING },
        { "BandwidthLimitExceeded", EC2_ERR_THROTTLING },
        { "LimitExceededException", EC2_ERR_THROTTLING },
        { "RequestThrottled", EC2_ERR_THROTTLING },
        { "SlowDown", EC2_ERR_THROTTLING },
        { "PriorRequestNotComplete", EC2_ERR_THROTTLING },
        { "EC2ThrottledException", EC2_ERR_THROTTLING },
        { "InternalError", EC2_ERR_INTERNAL_ERROR },
        { "InternalFailure", EC2_ERR_INTERNAL_ERROR },
        { "Unavailable", EC2_ERR_UNAVAILABLE },
        { "ServiceUnavailable", EC2_ERR_UNAVAILABLE },
        { "RequestTimeout", EC2_ERR_REQUEST_TIMEOUT },
        { "RequestTimeoutException", EC2_ERR_REQUEST_TIMEOUT },
        { "InsufficientInstanceCapacity", EC2_ERR_INSUFFICIENT_INSTANCE_CAPACITY },
        { "AuthFailure", EC2_ERR_AUTH_FAILURE },
        { "UnauthorizedOperation", EC2_ERR_UNAUTHORIZED_OPERATION },
        { "RequestExpired", EC2_ERR_REQUEST_EXPIRED },
        { "ExpiredToken", EC2_ERR_EXPIRED_TOKEN },
        { "InvalidClientTokenId", EC2_ERR_INVALID_CLIENT_TOKEN_ID },
        { "SignatureDoesNotMatch", EC2_ERR_SIGNATURE_DOES_NOT_MATCH },
        { "MissingAuthenticationToken", EC2_ERR_MISSING_AUTHENTICATION_TOKEN },
        { "IncompleteSignature", EC2_ERR_INCOMPLETE_SIGNATURE },
        { "OptInRequired", EC2_ERR_OPT_IN_REQUIRED },
        { "Blocked", EC2_ERR_BLOCKED },
        { "InvalidIPAddress.InUse", EC2_ERR_INVALID_IP_ADDRESS_IN_USE },
        { "IdempotentInstanceTerminated", EC2_ERR_IDEMPOTENT_INSTANCE_TERMINATED },
        { "IdempotentParameterMismatch", EC2_ERR_IDEMPOTENT_PARAMETER_MISMATCH },
        { "InstanceLimitExceeded", EC2_ERR_INSTANCE_LIMIT_EXCEEDED },
        { "InsufficientFreeAddressesInSubnet", EC2_ERR_INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET },
        { "InvalidAMIID.Malformed", EC2_ERR_INVALID_AMI_ID_MALFORMED },
        { "InvalidAMIID.NotFound", EC2_ERR_INVALID_AMI_ID_NOT_FOUND },
        { "InvalidLaunchTemplateId.NotFound", EC2_ERR_INVALID_LAUNCH_TEMPLATE_ID_NOT_FOUND },
        { "InvalidLaunchTemplateName.NotFoundException", EC2_ERR_INVALID_LAUNCH_TEMPLATE_NAME_NOT_FOUND },
        { "InvalidSubnetID.NotFound", EC2_ERR_INVALID_SUBNET_ID_NOT_FOUND },
        { "InvalidGroup.NotFound", EC2_ERR_INVALID_GROUP_NOT_FOUND },
        { "IncorrectState", EC2_ERR_INCORRECT_STATE },
        { "IncorrectInstanceState", EC2_ERR_INCORRECT_INSTANCE_STATE },
        { "InvalidInstanceID.NotFound", EC2_ERR_INVALID_INSTANCE_ID_NOT_FOUND },
        { "InvalidInstanceID.Malformed", EC2_ERR_INVALID_INSTANCE_ID_MALFORMED },
        { "InvalidVolume.NotFound", EC2_ERR_INVALID_VOLUME_NOT_FOUND },
        { "InvalidVolume.ZoneMismatch", EC2_ERR_INVALID_VOLUME_ZONE_MISMATCH },
        { "VolumeInUse", EC2_ERR_VOLUME_IN_USE },
        { "VolumeLimitExceeded", EC2_ERR_VOLUME_LIMIT_EXCEEDED },
        { "AttachmentLimitExceeded", EC2_ERR_ATTACHMENT_LIMIT_EXCEEDED },
        { "InvalidAttachment.NotFound", EC2_ERR_INVALID_ATTACHMENT_NOT_FOUND },
        { "InvalidParameterValue", EC2_ERR_INVALID_PARAMETER_VALUE },
        { "InvalidParameterCombination", EC2_ERR_INVALID_PARAMETER_COMBINATION },
        { "InvalidParameter", EC2_ERR_INVALID_PARAMETER },
        { "MissingParameter", EC2_ERR_MISSING_PARAMETER },
        { "UnknownParameter", EC2_ERR_UNKNOWN_PARAMETER },
        { "InvalidFilter", EC2_ERR_INVALID_FILTER },
        { "InvalidNextToken", EC2_ERR_INVALID_NEXT_TOKEN },
        { "InvalidPaginationToken", EC2_ERR_INVALID_NEXT_TOKEN },
        { "DryRunOperation", EC2_ERR_DRY_RUN_OPERATION },
};

Ec2ErrorCode ec2_error_code_from_string(const char *code) {
        if (isempty(code))
                return EC2_ERR_NONE;
        for (size_t i = 0; i < ELEMENTSOF(error_codes); i++)
                if (streq(code, error_codes[i].name))
                        return error_codes[i].code;
        return EC2_ERR_OTHER;
}

const char *ec2_error_code_to_string(Ec2ErrorCode e) {
        for (size_t i = 0; i < ELEMENTSOF(error_codes); i++)
                if (error_codes[i].code == e)
                        return error_codes[i].name;
        return NULL;
}

bool ec2_error_code_is_throttling(Ec2ErrorCode e) {
        return e == EC2_ERR_REQUEST_LIMIT_EXCEEDED || e == EC2_ERR_THROTTLING;
}

bool ec2_error_code_is_transient(Ec2ErrorCode e) {
        return e == EC2_ERR_INTERNAL_ERROR || e == EC2_ERR_UNAVAILABLE || e == EC2_ERR_REQUEST_TIMEOUT;
}

bool ec2_error_code_is_auth(Ec2ErrorCode e) {
        switch (e) {
        case EC2_ERR_AUTH_FAILURE:
        case EC2_ERR_UNAUTHORIZED_OPERATION:
        case EC2_ERR_REQUEST_EXPIRED:
        case EC2_ERR_EXPIRED_TOKEN:
        case EC2_ERR_INVALID_CLIENT_TOKEN_ID:
        case EC2_ERR_SIGNATURE_DOES_NOT_MATCH:
        case EC2_ERR_MISSING_AUTHENTICATION_TOKEN:
        case EC2_ERR_INCOMPLETE_SIGNATURE:
        case EC2_ERR_OPT_IN_REQUIRED:
        case EC2_ERR_BLOCKED:
                return true;
        default:
                return false;
        }
}

/* ---------------------------------------------------------------- structs */

void ec2_attachment_done(Ec2Attachment *a) {
        free(a->volume_id);
        free(a->instance_id);
        free(a->device);
        *a = (Ec2Attachment) {};
}

static void attachments_free(Ec2Attachment *a, size_t n) {
        for (size_t i = 0; i < n; i++)
                ec2_attachment_done(&a[i]);
        free(a);
}

void ec2_instance_done(Ec2Instance *i) {
        free(i->instance_id);
        free(i->private_ip);
        free(i->availability_zone);
        free(i->subnet_id);
        free(i->image_id);
        free(i->instance_type);
        free(i->client_token);
        free(i->state_reason);
        strv_free(i->tags);
        attachments_free(i->volumes, i->n_volumes);
        *i = (Ec2Instance) {};
}

void ec2_volume_done(Ec2Volume *v) {
        free(v->volume_id);
        free(v->availability_zone);
        free(v->volume_type);
        strv_free(v->tags);
        attachments_free(v->attachments, v->n_attachments);
        *v = (Ec2Volume) {};
}

void ec2_subnet_done(Ec2Subnet *s) {
        free(s->subnet_id);
        free(s->cidr_block);
        free(s->availability_zone);
        free(s->vpc_id);
        strv_free(s->tags);
        *s = (Ec2Subnet) {};
}

void ec2_subnet_list_done(Ec2SubnetList *l) {
        for (size_t i = 0; i < l->n; i++)
                ec2_subnet_done(&l->items[i]);
        free(l->items);
        *l = (Ec2SubnetList) {};
}

void ec2_instance_list_done(Ec2InstanceList *l) {
        for (size_t i = 0; i < l->n; i++)
                ec2_instance_done(&l->items[i]);
        free(l->items);
        *l = (Ec2InstanceList) {};
}

void ec2_volume_list_done(Ec2VolumeList *l) {
        for (size_t i = 0; i < l->n; i++)
                ec2_volume_done(&l->items[i]);
        free(l->items);
        *l = (Ec2VolumeList) {};
}

/* ---------------------------------------------------------------- parsing */

/* Copy the text at path (NULL when absent); -ENOMEM only. */
static int dup_text(const XmlNode *n, const char *path, char **ret) {
        const char *t = xml_text(n, path);
        *ret = NULL;
        if (!t)
                return 0;
        *ret = strdup(t);
        return *ret ? 0 : -ENOMEM;
}

static int need_text(const XmlNode *n, const char *path, char **ret) {
        const char *t = xml_text(n, path);
        if (isempty(t))
                return -EBADMSG;
        *ret = strdup(t);
        return *ret ? 0 : -ENOMEM;
}

static bool parse_bool_text(const char *t) {
        return t && streq(t, "true");
}

static int parse_u64_text(const char *t, uint64_t *ret) {
        char *e;
        unsigned long long v;
        if (isempty(t) || *t == '-')
                return -EBADMSG;
        errno = 0;
        v = strtoull(t, &e, 10);
        if (errno || *e)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int parse_tags(const XmlNode *n, char ***ret) {
        _cleanup_(strv_freep) char **tags = NULL;
        int r;

        XML_FOREACH_CHILD(item, xml_child(n, "tagSet"), "item") {
                const char *k = xml_text(item, "key"), *v = xml_text(item, "value");
                if (isempty(k))
                        return -EBADMSG;
                r = strv_extend(&tags, k);
                if (r >= 0)
                        r = strv_extend(&tags, strempty(v));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(tags);
        return 0;
}

/* volumeId, instanceId, device, status, deleteOnTermination, from n itself. */
static int parse_attachment_node(const XmlNode *n, Ec2Attachment *ret) {
        Ec2Attachment a = {};
        int r;

        a.state = ec2_attachment_state_from_string(xml_text(n, "status"));
        if (a.state < 0)
                return -EBADMSG;
        r = dup_text(n, "volumeId", &a.volume_id);
        if (r >= 0)
                r = dup_text(n, "instanceId", &a.instance_id);
        if (r >= 0)
                r = dup_text(n, "device", &a.device);
        if (r < 0) {
                ec2_attachment_done(&a);
                return r;
        }
        a.delete_on_termination = parse_bool_text(xml_text(n, "deleteOnTermination"));
        *ret = a;
        return 0;
}

static int parse_instance_node(const XmlNode *n, Ec2Instance *ret) {
        Ec2Instance i = {};
        const char *lt;
        size_t count = 0;
        int r;

        i.state = ec2_instance_state_from_string(xml_text(n, "instanceState/name"));
        if (i.state < 0)
                return -EBADMSG;
        r = need_text(n, "instanceId", &i.instance_id);
        if (r >= 0)
                r = dup_text(n, "privateIpAddress", &i.private_ip);
        if (r >= 0)
                r = dup_text(n, "placement/availabilityZone", &i.availability_zone);
        if (r >= 0)
                r = dup_text(n, "subnetId", &i.subnet_id);
        if (r >= 0)
                r = dup_text(n, "imageId", &i.image_id);
        if (r >= 0)
                r = dup_text(n, "instanceType", &i.instance_type);
        if (r >= 0)
                r = dup_text(n, "clientToken", &i.client_token);
        if (r >= 0)
                r = dup_text(n, "stateReason/code", &i.state_reason);
        if (r >= 0)
                r = parse_tags(n, &i.tags);
        if (r < 0)
                goto fail;
        lt = xml_text(n, "launchTime");
        if (lt && aws_parse_timestamp(lt, &i.launch_time_usec) < 0) {
                r = -EBADMSG;
                goto fail;
        }

        XML_FOREACH_CHILD(m, xml_child(n, "blockDeviceMapping"), "item")
                if (xml_child(m, "ebs"))
                        count++;
        if (count > 0) {
                i.volumes = calloc(count, sizeof(Ec2Attachment));
                if (!i.volumes) {
                        r = -ENOMEM;
                        goto fail;
                }
                XML_FOREACH_CHILD(m, xml_child(n, "blockDeviceMapping"), "item") {
                        const XmlNode *ebs = xml_child(m, "ebs");
                        Ec2Attachment *a;
                        if (!ebs)
                                continue;
                        a = &i.volumes[i.n_volumes];
                        r = parse_attachment_node(ebs, a);
                        if (r < 0)
                                goto fail;
                        i.n_volumes++;
                        if (!a->instance_id && !(a->instance_id = strdup(i.instance_id))) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        free(a->device);
                        r = dup_text(m, "deviceName", &a->device);
                        if (r < 0)
                                goto fail;
                }
        }
        *ret = i;
        return 0;
fail:
        ec2_instance_done(&i);
        return r;
}

static int parse_volume_node(const XmlNode *n, Ec2Volume *ret) {
        Ec2Volume v = {};
        const char *ct;
        size_t count = 0;
        int r;

        v.state = ec2_volume_state_from_string(xml_text(n, "status"));
        if (v.state < 0)
                return -EBADMSG;
        r = need_text(n, "volumeId", &v.volume_id);
        if (r >= 0)
                r = dup_text(n, "availabilityZone", &v.availability_zone);
        if (r >= 0)
                r = dup_text(n, "volumeType", &v.volume_type);
        if (r >= 0)
                r = parse_tags(n, &v.tags);
        if (r >= 0 && xml_text(n, "size"))
                r = parse_u64_text(xml_text(n, "size"), &v.size_gib);
        if (r < 0)
                goto fail;
        ct = xml_text(n, "createTime");
        if (ct && aws_parse_timestamp(ct, &v.create_time_usec) < 0) {
                r = -EBADMSG;
                goto fail;
        }
        XML_FOREACH_CHILD(a, xml_child(n, "attachmentSet"), "item")
                count++;
        if (count > 0) {
                v.attachments = calloc(count, sizeof(Ec2Attachment));
                if (!v.attachments) {
                        r = -ENOMEM;
                        goto fail;
                }
                XML_FOREACH_CHILD(a, xml_child(n, "attachmentSet"), "item") {
                        r = parse_attachment_node(a, &v.attachments[v.n_attachments]);
                        if (r < 0)
                                goto fail;
                        v.n_attachments++;
                }
        }
        *ret = v;
        return 0;
fail:
        ec2_volume_done(&v);
        return r;
}

/* Parse and check that the document element is <expected>. */
static int parse_answer(const char *xml, size_t size, const char *expected, XmlDoc **ret_doc,
                        const XmlNode **ret_root) {
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        const XmlNode *root;
        int r;

        r = xml_parse(xml, size, &d);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EBADMSG;
        root = xml_root(d);
        if (!streq(root->name, expected))
                return -EBADMSG;
        *ret_root = root;
        *ret_doc = TAKE_PTR(d);
        return 0;
}

static void copy_text(char *dst, size_t n, const char *src) {
        snprintf(dst, n, "%s", strempty(src));
}

int ec2_parse_error(const char *xml, size_t size, Ec2Error *ret) {
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        const XmlNode *root, *e;
        int r;

        r = xml_parse(xml, size, &d);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        root = xml_root(d);
        if (streq(root->name, "Response"))
                e = xml_path(root, "Errors/Error");
        else if (streq(root->name, "ErrorResponse"))
                e = xml_child(root, "Error");
        else
                return -EBADMSG;
        if (!e || isempty(xml_text(e, "Code")))
                return -EBADMSG;
        copy_text(ret->code, sizeof(ret->code), xml_text(e, "Code"));
        ret->error = ec2_error_code_from_string(xml_text(e, "Code"));
        copy_text(ret->message, sizeof(ret->message), xml_text(e, "Message"));
        copy_text(ret->request_id, sizeof(ret->request_id),
                  xml_text(root, "RequestID") ?: xml_text(root, "RequestId"));
        return 0;
}

/* One parsed element of `size` bytes per <item> of set, appended to the array *items
 * of *n; on failure the items parsed so far stay counted (the caller drops the list). */
static int parse_items_append(const XmlNode *set, size_t size, int (*parse_item)(const XmlNode *, void *),
                              void **items, size_t *n) {
        size_t count = 0;
        void *grown;
        int r;

        XML_FOREACH_CHILD(item, set, "item")
                count++;
        if (count == 0)
                return 0;
        grown = realloc(*items, (*n + count) * size);
        if (!grown)
                return -ENOMEM;
        *items = grown;
        XML_FOREACH_CHILD(item, set, "item") {
                r = parse_item(item, (char *) *items + *n * size);
                if (r < 0)
                        return r;
                (*n)++;
        }
        return 0;
}

static int instance_item(const XmlNode *n, void *ret) {
        return parse_instance_node(n, ret);
}

static int volume_item(const XmlNode *n, void *ret) {
        return parse_volume_node(n, ret);
}

/* The answer's nextToken; NULL when absent or empty (the last page). */
static int parse_next_token(const XmlNode *root, char **ret) {
        _cleanup_(freep) char *next = NULL;
        int r;

        if (!ret)
                return 0;
        r = dup_text(root, "nextToken", &next);
        if (r < 0)
                return r;
        *ret = next && *next ? TAKE_PTR(next) : NULL;
        return 0;
}

/* One DescribeInstances page: its instances are appended to *l. */
int ec2_parse_describe_instances_append(const char *xml, size_t size, Ec2InstanceList *l, char **ret_next_token) {
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        const XmlNode *root, *set;
        int r;

        r = parse_answer(xml, size, "DescribeInstancesResponse", &d, &root);
        if (r < 0)
                return r;
        /* An answer without its reservationSet is not an empty listing. */
        set = xml_child(root, "reservationSet");
        if (!set)
                return -EBADMSG;
        XML_FOREACH_CHILD(res, set, "item") {
                const XmlNode *is = xml_child(res, "instancesSet");
                if (!is)
                        return -EBADMSG;
                r = parse_items_append(is, sizeof(Ec2Instance), instance_item, (void **) &l->items, &l->n);
                if (r < 0)
                        return r;
        }
        return parse_next_token(root, ret_next_token);
}

/* One page of a listing whose items sit directly in <set_name> under the answer's root
 * (<response>): they are appended to *items (n of them, item_size bytes each). An answer
 * without its set is not an empty listing. */
static int parse_set_page_append(const char *xml, size_t size, const char *response, const char *set_name,
                                 size_t item_size, int (*parse_item)(const XmlNode *, void *), void **items,
                                 size_t *n, char **ret_next_token) {
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        const XmlNode *root, *set;
        int r;

        r = parse_answer(xml, size, response, &d, &root);
        if (r < 0)
                return r;
        set = xml_child(root, set_name);
        if (!set)
                return -EBADMSG;
        r = parse_items_append(set, item_size, parse_item, items, n);
        if (r < 0)
                return r;
        return parse_next_token(root, ret_next_token);
}

/* One DescribeVolumes page: its volumes are appended to *l. */
int ec2_parse_describe_volumes_append(const char *xml, size_t size, Ec2VolumeList *l, char **ret_next_token) {
        return parse_set_page_append(xml, size, "DescribeVolumesResponse", "volumeSet", sizeof(Ec2Volume),
                                     volume_item, (void **) &l->items, &l->n, ret_next_token);
}

/* ec2_parse_describe_NAME(): one whole answer into a new list (its _append, from empty). */
#define DEFINE_PARSE_LISTING(name, List, list_done)                                                  \
        int ec2_parse_describe_##name(const char *xml, size_t size, List *ret, char **ret_next_token) { \
                _cleanup_(list_done) List l = {};                                                    \
                _cleanup_(freep) char *next = NULL;                                                  \
                int r;                                                                               \
                                                                                                     \
                r = ec2_parse_describe_##name##_append(xml, size, &l, &next);                        \
                if (r < 0)                                                                           \
                        return r;                                                                    \
                if (ret_next_token)                                                                  \
                        *ret_next_token = TAKE_PTR(next);                                            \
                *ret = l;                                                                            \
                l = (List) {};                                                                       \
                return 0;                                                                            \
        }

DEFINE_PARSE_LISTING(instances, Ec2InstanceList, ec2_instance_list_done)
DEFINE_PARSE_LISTING(volumes, Ec2VolumeList, ec2_volume_list_done)

/* A subnetSet item: subnetId, cidrBlock, availabilityZone, vpcId, tagSet. */
static int parse_subnet_node(const XmlNode *n, Ec2Subnet *ret) {
        Ec2Subnet s = {};
        int r;

        r = need_text(n, "subnetId", &s.subnet_id);
        if (r >= 0)
                r = need_text(n, "cidrBlock", &s.cidr_block);
        if (r >= 0)
                r = need_text(n, "availabilityZone", &s.availability_zone);
        if (r >= 0)
                r = dup_text(n, "vpcId", &s.vpc_id);
        if (r >= 0)
                r = parse_tags(n, &s.tags);
        if (r < 0) {
                ec2_subnet_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

static int subnet_item(const XmlNode *n, void *ret) {
        return parse_subnet_node(n, ret);
}

int ec2_parse_describe_subnets_append(const char *xml, size_t size, Ec2SubnetList *l, char **ret_next_token) {
        return parse_set_page_append(xml, size, "DescribeSubnetsResponse", "subnetSet", sizeof(Ec2Subnet),
                                     subnet_item, (void **) &l->items, &l->n, ret_next_token);
}

DEFINE_PARSE_LISTING(subnets, Ec2SubnetList, ec2_subnet_list_done)

int ec2_parse_run_instances(const char *xml, size_t size, Ec2Instance *ret) {
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        const XmlNode *root, *item;
        int r;

        r = parse_answer(xml, size, "RunInstancesResponse", &d, &root);
        if (r < 0)
                return r;
        item = xml_child(xml_child(root, "instancesSet"), "item");
        if (!item || xml_next(item, "item")) /* exactly one was asked for */
                return -EBADMSG;
        return parse_instance_node(item, ret);
}

int ec2_parse_volume(const char *xml, size_t size, Ec2Volume *ret) {
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        const XmlNode *root;
        int r;

        r = parse_answer(xml, size, "CreateVolumeResponse", &d, &root);
        if (r < 0)
                return r;
        return parse_volume_node(root, ret);
}

int ec2_parse_attachment(const char *xml, size_t size, Ec2Attachment *ret) {
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        const XmlNode *root;
        int r;

        r = xml_parse(xml, size, &d);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        root = xml_root(d);
        if (!streq(root->name, "AttachVolumeResponse") && !streq(root->name, "DetachVolumeResponse"))
                return -EBADMSG;
        r = parse_attachment_node(root, ret);
        if (r < 0)
                return r;
        if (!ret->volume_id) {
                ec2_attachment_done(ret);
                return -EBADMSG;
        }
        return 0;
}

int ec2_parse_return(const char *xml, size_t size) {
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        const char *t;
        int r;

        r = xml_parse(xml, size, &d);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        if (!endswith(xml_root(d)->name, "Response"))
                return -EBADMSG;
        t = xml_text(xml_root(d), "return");
        return t && streq(t, "true") ? 0 : -EBADMSG;
}

int ec2_parse_terminate_instances(const char *xml, size_t size, size_t *ret_n) {
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        const XmlNode *root, *set;
        size_t n = 0;
        int r;

        r = parse_answer(xml, size, "TerminateInstancesResponse", &d, &root);
        if (r < 0)
                return r;
        set = xml_child(root, "instancesSet");
        if (!set)
                return -EBADMSG;
        XML_FOREACH_CHILD(item, set, "item") {
                if (isempty(xml_text(item, "instanceId")) ||
                    ec2_instance_state_from_string(xml_text(item, "currentState/name")) < 0)
                        return -EBADMSG;
                n++;
        }
        if (ret_n)
                *ret_n = n;
        return 0;
}
