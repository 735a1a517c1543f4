/* SPDX-License-Identifier: MIT */
/*
 * The EC2 client (agent/ec2.c) against the fake EC2: every call, pagination, filters,
 * every error path with its code; RunInstances in one call with its ClientToken,
 * idempotent and refused when it must be; volumes created, attached, tagged, detached;
 * throttling and 5xx retried with jittered backoff and bounded by attempts and the retry
 * budget, other 4xx final, timeouts, nobody listening. Retry sleeps are injected (no
 * waiting). Against a server that answers garbage: test-ec2-garbage-client.c.
 */
#include "aws-test-lib.h"

/* ------------------------------------------------------------ EC2 calls */

static void test_describe_pagination(void) {
        Env e;
        Ec2InstanceList l = {};
        Ec2VolumeList vl = {};
        struct json_object *call;
        char ip[32];
        static const char *const states[] = { "running", "stopped", "terminated", "pending", "shutting-down" };
        _cleanup_(strv_freep) char **ids = NULL;

        reset_fake();
        env_open(&e);
        ec2_client_set_page_size(e.ec2, 5, 5, 5);
        for (unsigned i = 0; i < 12; i++) {
                char extra[160];
                snprintf(ip, sizeof(ip), "10.0.1.%u", 100 + i);
                snprintf(extra, sizeof(extra), "\"state\": \"%s\", \"tags\": {\"swarmkeeper:cluster\": \"pg\"}",
                         states[i % ELEMENTSOF(states)]);
                char *id = seed_instance(ip, "us-east-1a", extra);
                CHECK(id != NULL);
                (void) strv_consume(&ids, id);
        }
        for (unsigned i = 0; i < 3; i++) {
                snprintf(ip, sizeof(ip), "10.0.1.%u", 200 + i);
                free(seed_instance(ip, "us-east-1a", "\"tags\": {\"swarmkeeper:cluster\": \"other\"}"));
        }
        control_void("DELETE", "/_fake/calls", NULL);

        const Ec2Filter cluster[] = { { "tag:" EC2_TAG_CLUSTER, EC2_VALUES("pg") }, {} };
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, cluster, &l), 0);
        CHECK_INT(l.n, 12);
        for (size_t i = 0; i < l.n && i < 12; i++) {
                CHECK_STR(l.items[i].instance_id, ids[i]);
                CHECK_STR(ec2_instance_state_to_string(l.items[i].state), states[i % ELEMENTSOF(states)]);
                CHECK_STR(ec2_tags_get(l.items[i].tags, EC2_TAG_CLUSTER), "pg");
                /* EC2 drops a terminated instance's address. */
                CHECK((l.items[i].private_ip == NULL) == (l.items[i].state == EC2_INSTANCE_TERMINATED));
        }
        ec2_instance_list_done(&l);
        CHECK_INT(fake_calls("DescribeInstances", &call), 3); /* 5 + 5 + 2 */
        CHECK_STR(json_param(call, "MaxResults"), "5");
        CHECK(json_param(call, "NextToken") != NULL);
        CHECK_STR(json_param(call, "Filter.1.Name"), "tag:swarmkeeper:cluster");
        CHECK_STR(json_param(call, "Filter.1.Value.1"), "pg");
        json_object_put(call);

        /* Two filters, two values. */
        const Ec2Filter running[] = {
                { "tag:" EC2_TAG_CLUSTER, EC2_VALUES("pg", "other") },
                { "instance-state-name", EC2_VALUES("running", "stopped") },
                {},
        };
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, running, &l), 0);
        CHECK_INT(l.n, 3 + 3 + 3); /* pg: running i = 0, 5, 10 and stopped i = 1, 6, 11; others: running ×3 */
        ec2_instance_list_done(&l);

        /* By id: no MaxResults (EC2 refuses the combination). */
        control_void("DELETE", "/_fake/calls", NULL);
        char *two[] = { ids[0], ids[7], NULL };
        CHECK_INT(ec2_describe_instances(e.ec2, two, NULL, &l), 0);
        CHECK_INT(l.n, 2);
        ec2_instance_list_done(&l);
        CHECK_INT(fake_calls("DescribeInstances", &call), 1);
        CHECK(json_param(call, "MaxResults") == NULL);
        CHECK_STR(json_param(call, "InstanceId.2"), ids[7]);
        json_object_put(call);

        /* An unknown id: NotFound, and nothing returned. */
        char *unknown[] = { (char *) "i-0123456789abcdef0", NULL };
        l.n = 77;
        CHECK_INT(ec2_describe_instances(e.ec2, unknown, NULL, &l), -ENOENT);
        CHECK_EC2_CODE(&e, "InvalidInstanceID.NotFound");
        CHECK_INT(l.n, 77);
        l = (Ec2InstanceList) {};

        /* A filter EC2 does not know: final, with the fake's message. */
        const Ec2Filter bogus[] = { { "no-such-filter", EC2_VALUES("x") }, {} };
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, bogus, &l), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidParameterValue");
        CHECK_INT(ec2_client_last_error(e.ec2)->error, EC2_ERR_INVALID_PARAMETER_VALUE);
        CHECK(strstr(ec2_client_last_error(e.ec2)->message, "no-such-filter") != NULL);

        /* Volumes: 7 tagged over two pages, 2 others. */
        for (unsigned i = 0; i < 7; i++)
                free(seed_volume("us-east-1a", "\"tags\": {\"swarmkeeper:cluster\": \"pg\"}"));
        free(seed_volume("us-east-1b", NULL));
        free(seed_volume("us-east-1a", "\"tags\": {\"swarmkeeper:cluster\": \"zz\"}"));
        control_void("DELETE", "/_fake/calls", NULL);
        CHECK_INT(ec2_describe_volumes(e.ec2, NULL, cluster, &vl), 0);
        CHECK_INT(vl.n, 7);
        for (size_t i = 0; i < vl.n; i++) {
                CHECK_INT(vl.items[i].state, EC2_VOLUME_AVAILABLE);
                CHECK_INT(vl.items[i].size_gib, 8);
                CHECK_STR(vl.items[i].availability_zone, "us-east-1a");
        }
        CHECK_INT(fake_calls("DescribeVolumes", NULL), 2);
        ec2_volume_list_done(&vl);
        CHECK_INT(ec2_describe_volumes(e.ec2, NULL, NULL, &vl), 0);
        CHECK_INT(vl.n, 9);
        ec2_volume_list_done(&vl);
        env_close(&e);
}

static void test_describe_subnets(void) {
        Env e;
        Ec2SubnetList l = {};
        struct json_object *call;

        reset_fake();
        env_open(&e);
        ec2_client_set_page_size(e.ec2, 0, 0, 5);
        /* The fake's three default subnets, and seven of a cluster in another VPC. */
        for (unsigned k = 0; k < 7; k++)
                control_void("POST", "/_fake/subnets",
                             "{\"id\": \"subnet-0%016u\", \"az\": \"us-east-1%c\", \"cidr\": \"10.1.%u.0/24\","
                             " \"vpc\": \"vpc-0sk\", \"tags\": {\"swarmkeeper:cluster\": \"sn\"}}",
                             k, 'a' + (char) (k % 3), k);
        control_void("DELETE", "/_fake/calls", NULL);

        const Ec2Filter vpc[] = { { "vpc-id", EC2_VALUES("vpc-0sk") }, {} };
        CHECK_INT(ec2_describe_subnets(e.ec2, NULL, vpc, &l), 0);
        CHECK_INT(l.n, 7);
        for (size_t k = 0; k < l.n; k++) {
                CHECK_STR(l.items[k].vpc_id, "vpc-0sk");
                CHECK_STR(ec2_tags_get(l.items[k].tags, EC2_TAG_CLUSTER), "sn");
                CHECK(startswith(strempty(l.items[k].cidr_block), "10.1.") != NULL);
        }
        ec2_subnet_list_done(&l);
        CHECK_INT(fake_calls("DescribeSubnets", &call), 2); /* 5 + 2 */
        CHECK_STR(json_param(call, "MaxResults"), "5");
        CHECK(json_param(call, "NextToken") != NULL);
        CHECK_STR(json_param(call, "Filter.1.Name"), "vpc-id");
        json_object_put(call);

        /* All, by tag, by id; an unknown id is NotFound. */
        CHECK_INT(ec2_describe_subnets(e.ec2, NULL, NULL, &l), 0);
        CHECK_INT(l.n, 10);
        ec2_subnet_list_done(&l);
        const Ec2Filter tagged[] = { { "tag:" EC2_TAG_CLUSTER, EC2_VALUES("sn") },
                                     { "availability-zone", EC2_VALUES("us-east-1b") }, {} };
        CHECK_INT(ec2_describe_subnets(e.ec2, NULL, tagged, &l), 0);
        CHECK_INT(l.n, 2); /* k = 1, 4 */
        ec2_subnet_list_done(&l);
        char *ids[] = { (char *) "subnet-aaaaaaaa", NULL };
        CHECK_INT(ec2_describe_subnets(e.ec2, ids, NULL, &l), 0);
        CHECK_INT(l.n, 1);
        if (l.n == 1) {
                CHECK_STR(l.items[0].cidr_block, "10.0.1.0/24");
                CHECK_STR(l.items[0].availability_zone, "us-east-1a");
        }
        ec2_subnet_list_done(&l);
        char *nope[] = { (char *) "subnet-0123456789abcdef0", NULL };
        CHECK_INT(ec2_describe_subnets(e.ec2, nope, NULL, &l), -ENOENT);
        CHECK_INT(ec2_client_last_error(e.ec2)->error, EC2_ERR_INVALID_SUBNET_ID_NOT_FOUND);
        env_close(&e);
}

static void test_run_and_terminate(void) {
        Env e;
        Ec2Instance i = {}, again = {};
        Ec2InstanceList l = {};
        struct json_object *rec, *call;
        static const char user_data[] = "#cloud-config\nswarmkeeper:\n  join-token: SWMTKN-1-secret\n";
        char *sgs[] = { (char *) "sg-0123456789abcdef0", (char *) "sg-11111111", NULL };
        char *itags[] = { (char *) EC2_TAG_CLUSTER, (char *) "rc", (char *) EC2_TAG_LOGICAL_ID,
                          (char *) "10.0.1.30", (char *) EC2_TAG_ROLE, (char *) "manager", NULL };
        char *vtags[] = { (char *) EC2_TAG_CLUSTER, (char *) "rc", NULL };
        Ec2RunSpec spec = {
                .image_id = "ami-0123456789abcdef0",
                .instance_type = "t3.small",
                .subnet_id = "subnet-aaaaaaaa",
                .security_group_ids = sgs,
                .iam_instance_profile = "swarmkeeper-profile",
                .key_name = "ops",
                .user_data = user_data,
                .user_data_size = sizeof(user_data) - 1,
                .private_ip = "10.0.1.30",
                .instance_tags = itags,
                .volume_tags = vtags,
                .client_token = "rc-10.0.1.30-i-00000000",
        };

        reset_fake();
        env_open(&e);
        CHECK_INT(ec2_run_instances(e.ec2, &spec, &i), 0);
        CHECK_INT(i.state, EC2_INSTANCE_PENDING);
        CHECK_STR(i.private_ip, "10.0.1.30");
        CHECK_STR(i.availability_zone, "us-east-1a");
        CHECK_STR(i.client_token, spec.client_token);
        CHECK_STR(ec2_tags_get(i.tags, EC2_TAG_ROLE), "manager");

        rec = fake_find("instances", i.instance_id);
        CHECK_STR(json_str(rec, "http_tokens"), "required");
        CHECK_STR(json_str(rec, "hop_limit"), "1");
        CHECK_STR(json_str(rec, "image_id"), "ami-0123456789abcdef0");
        CHECK_STR(json_str(rec, "instance_type"), "t3.small");
        CHECK_STR(json_str(rec, "key_name"), "ops");
        CHECK_STR(json_str(rec, "iam_instance_profile"),
                  "arn:aws:iam::123456789012:instance-profile/swarmkeeper-profile");
        CHECK_STR(json_str(rec, "user_data"), "I2Nsb3VkLWNvbmZpZwpzd2FybWtlZXBlcjoKICBqb2luLXRva2VuOiBTV01US04tMS1zZWNyZXQK");
        CHECK(strstr(strempty(json_object_to_json_string(rec)), "sg-11111111") != NULL);
        json_object_put(rec);
        /* Everything the reconciler needs goes in ONE call: no follow-up CreateTags or
         * ModifyInstanceMetadataOptions that a crash could skip. */
        CHECK_INT(fake_calls("RunInstances", &call), 1);
        CHECK_INT(fake_calls(NULL, NULL), 1);
        CHECK_STR(json_param(call, "PrivateIpAddress"), "10.0.1.30");
        CHECK_STR(json_param(call, "SubnetId"), "subnet-aaaaaaaa");
        CHECK_STR(json_param(call, "ClientToken"), "rc-10.0.1.30-i-00000000");
        CHECK_STR(json_param(call, "IamInstanceProfile.Name"), "swarmkeeper-profile");
        CHECK(json_param(call, "IamInstanceProfile.Arn") == NULL);
        CHECK_STR(json_param(call, "KeyName"), "ops");
        CHECK_STR(json_param(call, "SecurityGroupId.1"), "sg-0123456789abcdef0");
        CHECK_STR(json_param(call, "SecurityGroupId.2"), "sg-11111111");
        CHECK(json_param(call, "UserData") != NULL);
        CHECK_STR(json_param(call, "MetadataOptions.HttpTokens"), "required");
        CHECK_STR(json_param(call, "MetadataOptions.HttpPutResponseHopLimit"), "1");
        CHECK_STR(json_param(call, "TagSpecification.1.ResourceType"), "instance");
        CHECK_STR(json_param(call, "TagSpecification.1.Tag.2.Key"), EC2_TAG_LOGICAL_ID);
        CHECK_STR(json_param(call, "TagSpecification.1.Tag.2.Value"), "10.0.1.30");
        CHECK_STR(json_param(call, "TagSpecification.2.ResourceType"), "volume");
        CHECK_STR(json_param(call, "TagSpecification.2.Tag.1.Value"), "rc");
        CHECK_STR(json_param(call, "MinCount"), "1");
        CHECK_STR(json_param(call, "MaxCount"), "1");
        json_object_put(call);

        /* DescribeInstances gives the ClientToken back: the planner's proof that this
         * cluster launched the instance for its seat (never attach to anything else). */
        {
                Ec2InstanceList dl = {};
                char *ids[] = { i.instance_id, NULL };
                CHECK_INT(ec2_describe_instances(e.ec2, ids, NULL, &dl), 0);
                CHECK_INT(dl.n, 1);
                if (dl.n == 1)
                        CHECK_STR(dl.items[0].client_token, spec.client_token);
                ec2_instance_list_done(&dl);
        }

        /* Same token, same parameters: the same instance, no second launch. */
        CHECK_INT(ec2_run_instances(e.ec2, &spec, &again), 0);
        CHECK_STR(again.instance_id, i.instance_id);
        ec2_instance_done(&again);

        /* Same token, different parameters: refused, not retried. */
        Ec2RunSpec changed = spec;
        changed.instance_type = "t3.large";
        CHECK_INT(ec2_run_instances(e.ec2, &changed, &again), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "IdempotentParameterMismatch");
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 1);
        CHECK_INT(e.sleeps.n, 0);

        /* The address is held until the instance is terminated. */
        Ec2RunSpec other = spec;
        other.client_token = "rc-10.0.1.30-i-11111111";
        CHECK_INT(ec2_run_instances(e.ec2, &other, &again), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidIPAddress.InUse");

        /* Terminate: shutting-down, then terminated, still listed but without its address. */
        char *ids[] = { i.instance_id, NULL };
        CHECK_INT(ec2_terminate_instances(e.ec2, ids), 0);
        CHECK_INT(ec2_describe_instances(e.ec2, ids, NULL, &l), 0);
        CHECK_INT(l.n, 1);
        if (l.n == 1)
                CHECK_INT(l.items[0].state, EC2_INSTANCE_SHUTTING_DOWN);
        ec2_instance_list_done(&l);
        CHECK_INT(ec2_run_instances(e.ec2, &other, &again), -EREMOTEIO); /* shutting-down still holds it */
        CHECK_EC2_CODE(&e, "InvalidIPAddress.InUse");
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        CHECK_INT(ec2_describe_instances(e.ec2, ids, NULL, &l), 0);
        if (l.n == 1) {
                CHECK_INT(l.items[0].state, EC2_INSTANCE_TERMINATED);
                CHECK(l.items[0].private_ip == NULL);
                CHECK_STR(l.items[0].state_reason, "Client.UserInitiatedShutdown");
        }
        ec2_instance_list_done(&l);
        /* Terminating twice is fine. The address stays in use a while after 'terminated'
         * (--ip-release-delay 10), then a replacement on it launches. */
        CHECK_INT(ec2_terminate_instances(e.ec2, ids), 0);
        CHECK_INT(ec2_run_instances(e.ec2, &other, &again), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidIPAddress.InUse");
        control_void("POST", "/_fake/time", "{\"advance\": 10}");
        CHECK_INT(ec2_run_instances(e.ec2, &other, &again), 0);
        CHECK_STR(again.private_ip, "10.0.1.30");
        CHECK(!streq(again.instance_id, i.instance_id));
        ec2_instance_done(&again);
        /* The old token names a terminated instance: refused, not a launch. */
        CHECK_INT(ec2_run_instances(e.ec2, &spec, &again), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "IdempotentInstanceTerminated");
        CHECK(again.instance_id == NULL);

        /* Launch template, no token given: a random one keeps retries idempotent. */
        Ec2RunSpec lt = { .launch_template_id = "lt-0123456789abcdef0", .launch_template_version = "3",
                          .availability_zone = "us-east-1b" };
        CHECK_INT(ec2_run_instances(e.ec2, &lt, &again), 0);
        CHECK(startswith(strempty(again.client_token), "sk-") != NULL);
        CHECK_INT(strlen(strempty(again.client_token)), 35);
        CHECK_STR(again.availability_zone, "us-east-1b");
        fake_calls("RunInstances", &call);
        CHECK_STR(json_param(call, "LaunchTemplate.LaunchTemplateId"), "lt-0123456789abcdef0");
        CHECK_STR(json_param(call, "LaunchTemplate.Version"), "3");
        CHECK_STR(json_param(call, "MetadataOptions.HttpTokens"), "required");
        json_object_put(call);
        rec = fake_find("instances", again.instance_id);
        CHECK(strstr(strempty(json_object_to_json_string(rec)), "lt-0123456789abcdef0") != NULL);
        CHECK_STR(json_str(rec, "http_tokens"), "required");
        json_object_put(rec);
        ec2_instance_done(&again);

        /* Unknown instance: NotFound. */
        char *nope[] = { (char *) "i-0fedcba9876543210", NULL };
        CHECK_INT(ec2_terminate_instances(e.ec2, nope), -ENOENT);
        CHECK_EC2_CODE(&e, "InvalidInstanceID.NotFound");

        /* A bad parameter EC2 refuses. */
        Ec2RunSpec bad = { .image_id = "not-an-ami" };
        CHECK_INT(ec2_run_instances(e.ec2, &bad, &again), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidAMIID.Malformed");

        ec2_instance_done(&i);
        env_close(&e);
}

static Ec2VolumeState volume_state(Env *e, const char *id, Ec2AttachmentState *ret_att) {
        char *ids[] = { (char *) id, NULL };
        Ec2VolumeList l = {};
        Ec2VolumeState s = _EC2_VOLUME_STATE_INVALID;
        if (ec2_describe_volumes(e->ec2, ids, NULL, &l) == 0 && l.n == 1) {
                s = l.items[0].state;
                if (ret_att)
                        *ret_att = l.items[0].n_attachments ? l.items[0].attachments[0].state
                                                            : _EC2_ATTACHMENT_STATE_INVALID;
        }
        ec2_volume_list_done(&l);
        return s;
}

static void test_volumes(void) {
        Env e;
        Ec2Volume v = {}, vb = {}, again = {};
        Ec2Attachment a = {};
        Ec2AttachmentState as = _EC2_ATTACHMENT_STATE_INVALID; /* volume_state() sets it only on success */
        _cleanup_(freep) char *inst = NULL;
        char *vtags[] = { (char *) EC2_TAG_CLUSTER, (char *) "vc", (char *) EC2_TAG_LOGICAL_ID,
                          (char *) "10.0.1.40", NULL };
        Ec2VolumeSpec spec = { .availability_zone = "us-east-1a", .size_gib = 10, .tags = vtags,
                               .client_token = "vc-10.0.1.40-vol" };

        reset_fake();
        env_open(&e);
        inst = seed_instance("10.0.1.40", "us-east-1a", NULL);

        CHECK_INT(ec2_create_volume(e.ec2, &spec, &v), 0);
        CHECK_INT(v.state, EC2_VOLUME_CREATING);
        CHECK_INT(v.size_gib, 10);
        CHECK_STR(v.volume_type, "gp3");
        CHECK_STR(ec2_tags_get(v.tags, EC2_TAG_LOGICAL_ID), "10.0.1.40");
        /* Idempotent by token. */
        CHECK_INT(ec2_create_volume(e.ec2, &spec, &again), 0);
        CHECK_STR(again.volume_id, v.volume_id);
        ec2_volume_done(&again);

        /* Not available yet. */
        CHECK_INT(ec2_attach_volume(e.ec2, v.volume_id, inst, "/dev/sdf", NULL), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "IncorrectState");
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        CHECK_INT(volume_state(&e, v.volume_id, NULL), EC2_VOLUME_AVAILABLE);

        CHECK_INT(ec2_attach_volume(e.ec2, v.volume_id, inst, "/dev/sdf", &a), 0);
        CHECK_STR(a.volume_id, v.volume_id);
        CHECK_STR(a.instance_id, inst);
        CHECK_STR(a.device, "/dev/sdf");
        CHECK_INT(a.state, EC2_ATTACHMENT_ATTACHING);
        ec2_attachment_done(&a);
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        CHECK_INT(volume_state(&e, v.volume_id, &as), EC2_VOLUME_IN_USE);
        CHECK_INT(as, EC2_ATTACHMENT_ATTACHED);

        /* Never attached twice. */
        CHECK_INT(ec2_attach_volume(e.ec2, v.volume_id, inst, "/dev/sdg", NULL), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "VolumeInUse");

        /* Same zone only. */
        Ec2VolumeSpec other_zone = { .availability_zone = "us-east-1b", .size_gib = 1, .volume_type = "gp2" };
        CHECK_INT(ec2_create_volume(e.ec2, &other_zone, &vb), 0);
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        CHECK_INT(ec2_attach_volume(e.ec2, vb.volume_id, inst, "/dev/sdh", NULL), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidVolume.ZoneMismatch");

        /* Unknown volume, bad size. */
        CHECK_INT(ec2_attach_volume(e.ec2, "vol-0123456789abcdef0", inst, "/dev/sdh", NULL), -ENOENT);
        CHECK_EC2_CODE(&e, "InvalidVolume.NotFound");
        Ec2VolumeSpec huge = { .availability_zone = "us-east-1a", .size_gib = 100000 };
        CHECK_INT(ec2_create_volume(e.ec2, &huge, &again), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidParameterValue");

        /* What a manager's replacement volume is made with (Volume.*): every parameter
         * reaches EC2, and a KMS key without encryption is refused as EC2 does. */
        {
                Ec2VolumeSpec enc = { .availability_zone = "us-east-1a", .size_gib = 50, .volume_type = "gp3",
                                      .encrypted = true, .kms_key_id = "alias/sk", .client_token = "vc-enc" };
                Ec2Volume ve = {};
                struct json_object *call = NULL, *rec = NULL, *x;

                CHECK_INT(ec2_create_volume(e.ec2, &enc, &ve), 0);
                CHECK(fake_calls("CreateVolume", &call) > 0);
                CHECK_STR(json_param(call, "Size"), "50");
                CHECK_STR(json_param(call, "VolumeType"), "gp3");
                CHECK_STR(json_param(call, "Encrypted"), "true");
                CHECK_STR(json_param(call, "KmsKeyId"), "alias/sk");
                rec = fake_find("volumes", ve.volume_id);
                CHECK(rec && json_object_object_get_ex(rec, "encrypted", &x) && json_object_get_boolean(x));
                CHECK_STR(json_str(rec, "kms_key_id"), "alias/sk");
                CHECK_INT(ve.size_gib, 50);
                json_object_put(call);
                json_object_put(rec);
                ec2_volume_done(&ve);

                enc.encrypted = false;
                enc.client_token = "vc-enc-2";
                CHECK_INT(ec2_create_volume(e.ec2, &enc, &ve), -EREMOTEIO);
                CHECK_EC2_CODE(&e, "InvalidParameterDependency");
        }

        /* Tags on both, then found by the new tag. */
        char *res[] = { v.volume_id, vb.volume_id, inst, NULL };
        char *more[] = { (char *) "team", (char *) "infra", (char *) "Name", (char *) "a b&c=d", NULL };
        CHECK_INT(ec2_create_tags(e.ec2, res, more), 0);
        Ec2VolumeList vl = {};
        const Ec2Filter team[] = { { "tag:team", EC2_VALUES("infra") }, {} };
        CHECK_INT(ec2_describe_volumes(e.ec2, NULL, team, &vl), 0);
        CHECK_INT(vl.n, 2);
        if (vl.n > 0)
                CHECK_STR(ec2_tags_get(vl.items[0].tags, "Name"), "a b&c=d");
        ec2_volume_list_done(&vl);
        Ec2InstanceList il = {};
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, team, &il), 0);
        CHECK_INT(il.n, 1);
        if (il.n == 1) {
                CHECK_INT(il.items[0].n_volumes, 1);
                CHECK_STR(il.items[0].volumes[0].volume_id, v.volume_id);
                CHECK_STR(il.items[0].volumes[0].device, "/dev/sdf");
        }
        ec2_instance_list_done(&il);
        char *bad_tag[] = { (char *) "aws:reserved", (char *) "x", NULL };
        CHECK_INT(ec2_create_tags(e.ec2, res, bad_tag), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidParameterValue");

        /* Detach: detaching, then available. */
        CHECK_INT(ec2_detach_volume(e.ec2, v.volume_id, inst, false, &a), 0);
        CHECK_INT(a.state, EC2_ATTACHMENT_DETACHING);
        ec2_attachment_done(&a);
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        CHECK_INT(volume_state(&e, v.volume_id, NULL), EC2_VOLUME_AVAILABLE);
        CHECK_INT(ec2_detach_volume(e.ec2, v.volume_id, NULL, false, NULL), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "IncorrectState");

        /* A terminated instance's volumes come back by themselves. */
        CHECK_INT(ec2_attach_volume(e.ec2, v.volume_id, inst, "/dev/sdf", NULL), 0);
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        char *ids[] = { inst, NULL };
        CHECK_INT(ec2_terminate_instances(e.ec2, ids), 0);
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        CHECK_INT(volume_state(&e, v.volume_id, NULL), EC2_VOLUME_AVAILABLE);

        ec2_volume_done(&v);
        ec2_volume_done(&vb);
        env_close(&e);
}

/* ------------------------------------------------------------ retries */

static void test_throttling(void) {
        Env e;
        Ec2InstanceList l = {};
        const uint64_t base = 250 * USEC_PER_MSEC, cap = 20 * USEC_PER_SEC;

        reset_fake();
        env_open(&e);

        /* Throttled twice, then through: 3 requests, 2 jittered sleeps within the bounds. */
        control_void("POST", "/_fake/faults", "{\"action\": \"DescribeInstances\", \"code\": \"RequestLimitExceeded\", \"count\": 2}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), 0);
        ec2_instance_list_done(&l);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 3);
        CHECK_INT(e.sleeps.n, 2);
        CHECK(e.sleeps.v[0] <= base);
        CHECK(e.sleeps.v[1] <= 2 * base);
        CHECK_INT(fake_calls("DescribeInstances", NULL), 3);
        CHECK_INT(ec2_client_retry_budget(e.ec2), 500); /* spent 10, refunded 10 */

        /* Throttled for good: bounded by the attempts (5), then -EAGAIN with the code. */
        control_void("DELETE", "/_fake/calls", NULL);
        e.sleeps.n = 0;
        control_void("POST", "/_fake/faults", "{\"code\": \"RequestLimitExceeded\", \"count\": 100}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), -EAGAIN);
        CHECK_EC2_CODE(&e, "RequestLimitExceeded");
        CHECK_INT(ec2_client_last_error(e.ec2)->http_status, 503);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 5);
        CHECK_INT(fake_calls("DescribeInstances", NULL), 5);
        CHECK_INT(e.sleeps.n, 4);
        for (unsigned k = 0; k < 4 && k < e.sleeps.n; k++)
                CHECK(e.sleeps.v[k] <= (base << k < cap ? base << k : cap));
        CHECK_INT(ec2_client_retry_budget(e.ec2), 480);

        /* The retry budget: with 12 left only two more retries are allowed, then none. */
        ec2_client_set_retry_budget(e.ec2, 12);
        control_void("DELETE", "/_fake/calls", NULL);
        Ec2VolumeList vl = {};
        CHECK_INT(ec2_describe_volumes(e.ec2, NULL, NULL, &vl), -EAGAIN);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 3);
        CHECK_INT(ec2_client_retry_budget(e.ec2), 2);
        CHECK_INT(ec2_describe_volumes(e.ec2, NULL, NULL, &vl), -EAGAIN);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 1);
        CHECK_INT(fake_calls("DescribeVolumes", NULL), 4);
        control_void("DELETE", "/_fake/faults", NULL);
        /* Successes refill it. */
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), 0);
        ec2_instance_list_done(&l);
        CHECK_INT(ec2_client_retry_budget(e.ec2), 3);
        ec2_client_set_retry_budget(e.ec2, 500);

        /* 500 InternalError and 503 Unavailable: retried. */
        e.sleeps.n = 0;
        control_void("POST", "/_fake/faults", "{\"code\": \"InternalError\", \"count\": 1}");
        control_void("POST", "/_fake/faults", "{\"code\": \"Unavailable\", \"count\": 1}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), 0);
        ec2_instance_list_done(&l);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 3);

        /* Capacity (HTTP 500) on RunInstances: retried with the same ClientToken. */
        control_void("DELETE", "/_fake/calls", NULL);
        control_void("POST", "/_fake/faults", "{\"action\": \"RunInstances\", \"code\": \"InsufficientInstanceCapacity\", \"count\": 1}");
        Ec2RunSpec spec = { .image_id = "ami-0123456789abcdef0", .private_ip = "10.0.1.50" };
        Ec2Instance i = {};
        CHECK_INT(ec2_run_instances(e.ec2, &spec, &i), 0);
        struct json_object *calls = control("GET", "/_fake/calls", NULL);
        if (json_object_array_length(calls) == 2) {
                struct json_object *a = json_object_array_get_idx(calls, 0), *b = json_object_array_get_idx(calls, 1);
                CHECK_STR(json_str(a, "error_code"), "InsufficientInstanceCapacity");
                CHECK_STR(json_param(a, "ClientToken"), json_param(b, "ClientToken"));
        } else
                CHECK_INT(json_object_array_length(calls), 2);
        json_object_put(calls);
        ec2_instance_done(&i);

        /* Other 4xx: final at once. */
        e.sleeps.n = 0;
        control_void("POST", "/_fake/faults", "{\"code\": \"InvalidParameterValue\", \"status\": 400, \"count\": 1}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), -EREMOTEIO);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 1);
        CHECK_INT(e.sleeps.n, 0);
        control_void("POST", "/_fake/faults", "{\"code\": \"UnauthorizedOperation\", \"status\": 403, \"count\": 1}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), -EACCES);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 1);

        /* Timeouts: a slow answer is abandoned and retried; bounded too. */
        ec2_client_set_timeouts(e.ec2, 1000, 400);
        e.sleeps.n = 0;
        control_void("POST", "/_fake/faults", "{\"latency\": 1.0, \"count\": 1}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), 0);
        ec2_instance_list_done(&l);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 2);
        ec2_client_set_retry(e.ec2, 2, base, cap);
        control_void("POST", "/_fake/faults", "{\"latency\": 1.0, \"count\": 2}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), -ETIMEDOUT);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 2);
        msleep(1200); /* let the fake finish the slow ones */
        control_void("DELETE", "/_fake/faults", NULL);

        /* Nobody listening: retried, then the transport error. */
        Ec2Client *dead = NULL;
        Sleeps s = {};
        CHECK_INT(ec2_client_new("us-east-1", "http://127.0.0.1:1", e.creds, &dead), 0);
        ec2_client_set_sleep(dead, record_sleep, &s);
        CHECK_INT(ec2_describe_instances(dead, NULL, NULL, &l), -ECONNREFUSED);
        CHECK_INT(ec2_client_last_error(dead)->attempts, 5);
        CHECK_INT(s.n, 4);
        ec2_client_free(dead);

        /* Plain http to a public address is refused before anything is sent. */
        CHECK_INT(ec2_client_new("us-east-1", "http://192.0.2.1", e.creds, &dead), 0);
        CHECK_INT(ec2_describe_instances(dead, NULL, NULL, &l), -EPROTONOSUPPORT);
        ec2_client_free(dead);
        env_close(&e);
}

/* ------------------------------------------------------------ main */

int main(void) {
        static const AwsTest tests[] = {
                AWS_TEST(test_describe_pagination),
                AWS_TEST(test_describe_subnets),
                AWS_TEST(test_run_and_terminate),
                AWS_TEST(test_volumes),
                AWS_TEST(test_throttling),
                {},
        };

        return aws_test_main("ec2-client", AWS_TEST_FAKE, tests);
}
