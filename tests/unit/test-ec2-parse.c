/* SPDX-License-Identifier: MIT */
/* The pure parsers of EC2's answers (ec2-parse.c), on embedded answers shaped like EC2's
 * own: listings, errors and their codes, the other calls' answers, the state names. */
#include "ec2-parse.h"
#include "log.h"
#include "test.h"

static const char describe_instances[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
        "    <requestId>8f7724cf-496f-496e-8fe3-example</requestId>\n"
        "    <reservationSet>\n"
        "        <item>\n"
        "            <reservationId>r-1234567890abcdef0</reservationId>\n"
        "            <ownerId>123456789012</ownerId>\n"
        "            <groupSet/>\n"
        "            <instancesSet>\n"
        "                <item>\n"
        "                    <instanceId>i-1234567890abcdef0</instanceId>\n"
        "                    <imageId>ami-bff32ccc</imageId>\n"
        "                    <instanceState><code>16</code><name>running</name></instanceState>\n"
        "                    <privateDnsName>ip-10-0-1-10.ec2.internal</privateDnsName>\n"
        "                    <instanceType>t3.micro</instanceType>\n"
        "                    <launchTime>2018-05-08T16:46:19.000Z</launchTime>\n"
        "                    <placement><availabilityZone>eu-west-1c</availabilityZone><tenancy>default</tenancy></placement>\n"
        "                    <subnetId>subnet-56f5f633</subnetId>\n"
        "                    <privateIpAddress>10.0.1.10</privateIpAddress>\n"
        "                    <groupSet><item><groupId>sg-e4076980</groupId><groupName>SG</groupName></item></groupSet>\n"
        "                    <blockDeviceMapping>\n"
        "                        <item><deviceName>/dev/xvda</deviceName><ebs><volumeId>vol-1234567890abcdef0</volumeId>"
        "<status>attached</status><attachTime>2015-12-22T10:44:09.000Z</attachTime><deleteOnTermination>true</deleteOnTermination></ebs></item>\n"
        "                        <item><deviceName>/dev/sdf</deviceName><ebs><volumeId>vol-0aaaaaaaaaaaaaaaa</volumeId>"
        "<status>attaching</status><deleteOnTermination>false</deleteOnTermination></ebs></item>\n"
        "                    </blockDeviceMapping>\n"
        "                    <clientToken>sk-c1-10.0.1.10-i-0</clientToken>\n"
        "                    <tagSet>\n"
        "                        <item><key>swarmkeeper:cluster</key><value>prod</value></item>\n"
        "                        <item><key>swarmkeeper:logical-id</key><value>10.0.1.10</value></item>\n"
        "                        <item><key>Name</key><value/></item>\n"
        "                    </tagSet>\n"
        "                </item>\n"
        "                <item>\n"
        "                    <instanceId>i-0bbbbbbbbbbbbbbbb</instanceId>\n"
        "                    <instanceState><code>48</code><name>terminated</name></instanceState>\n"
        "                    <stateReason><code>Client.UserInitiatedShutdown</code><message>x</message></stateReason>\n"
        "                    <privateIpAddress>10.0.1.11</privateIpAddress>\n"
        "                    <placement><availabilityZone>eu-west-1c</availabilityZone></placement>\n"
        "                </item>\n"
        "            </instancesSet>\n"
        "        </item>\n"
        "        <item>\n"
        "            <reservationId>r-2</reservationId>\n"
        "            <instancesSet><item><instanceId>i-0cccccccccccccccc</instanceId>"
        "<instanceState><code>80</code><name>stopped</name></instanceState></item></instancesSet>\n"
        "        </item>\n"
        "    </reservationSet>\n"
        "    <nextToken>eyJ2IjoxfQ==</nextToken>\n"
        "</DescribeInstancesResponse>\n";

static void test_describe_instances(void) {
        _cleanup_(ec2_instance_list_done) Ec2InstanceList l = {};
        _cleanup_(freep) char *next = NULL;
        const Ec2Instance *i;

        CHECK_INT(ec2_parse_describe_instances(describe_instances, strlen(describe_instances), &l, &next), 0);
        CHECK_INT(l.n, 3);
        CHECK_STR(next, "eyJ2IjoxfQ==");
        if (l.n != 3)
                return;
        i = &l.items[0];
        CHECK_STR(i->instance_id, "i-1234567890abcdef0");
        CHECK_INT(i->state, EC2_INSTANCE_RUNNING);
        CHECK_STR(i->private_ip, "10.0.1.10");
        CHECK_STR(i->availability_zone, "eu-west-1c");
        CHECK_STR(i->subnet_id, "subnet-56f5f633");
        CHECK_STR(i->image_id, "ami-bff32ccc");
        CHECK_STR(i->instance_type, "t3.micro");
        CHECK_STR(i->client_token, "sk-c1-10.0.1.10-i-0");
        CHECK(i->state_reason == NULL);
        CHECK_INT(i->launch_time_usec, 1525797979ULL * USEC_PER_SEC);
        CHECK_STR(ec2_tags_get(i->tags, EC2_TAG_CLUSTER), "prod");
        CHECK_STR(ec2_tags_get(i->tags, EC2_TAG_LOGICAL_ID), "10.0.1.10");
        CHECK_STR(ec2_tags_get(i->tags, "Name"), "");
        CHECK(ec2_tags_get(i->tags, "nope") == NULL);
        CHECK_INT(i->n_volumes, 2);
        CHECK_STR(i->volumes[0].device, "/dev/xvda");
        CHECK_STR(i->volumes[0].volume_id, "vol-1234567890abcdef0");
        CHECK_STR(i->volumes[0].instance_id, "i-1234567890abcdef0");
        CHECK_INT(i->volumes[0].state, EC2_ATTACHMENT_ATTACHED);
        CHECK(i->volumes[0].delete_on_termination);
        CHECK_STR(i->volumes[1].device, "/dev/sdf");
        CHECK_INT(i->volumes[1].state, EC2_ATTACHMENT_ATTACHING);
        CHECK(!i->volumes[1].delete_on_termination);

        i = &l.items[1];
        CHECK_INT(i->state, EC2_INSTANCE_TERMINATED);
        CHECK_STR(i->state_reason, "Client.UserInitiatedShutdown");
        CHECK_STR(i->private_ip, "10.0.1.11"); /* kept after termination */
        CHECK(i->tags == NULL);
        CHECK(i->subnet_id == NULL);
        CHECK_INT(i->n_volumes, 0);

        CHECK_INT(l.items[2].state, EC2_INSTANCE_STOPPED);
        CHECK(l.items[2].private_ip == NULL);
}

static void test_describe_instances_empty_and_bad(void) {
        static const char empty[] =
                "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
                "<requestId>x</requestId><reservationSet/></DescribeInstancesResponse>";
        static const char *const bad[] = {
                /* no reservationSet: not an empty listing */
                "<DescribeInstancesResponse><requestId>x</requestId></DescribeInstancesResponse>",
                /* another answer */
                "<DescribeVolumesResponse><volumeSet/></DescribeVolumesResponse>",
                /* an error document with 200 */
                "<Response><Errors><Error><Code>X</Code></Error></Errors></Response>",
                /* unknown state */
                "<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId>"
                "<instanceState><name>exploded</name></instanceState></item></instancesSet></item></reservationSet>"
                "</DescribeInstancesResponse>",
                /* no instance id */
                "<DescribeInstancesResponse><reservationSet><item><instancesSet><item>"
                "<instanceState><name>running</name></instanceState></item></instancesSet></item></reservationSet>"
                "</DescribeInstancesResponse>",
                /* reservation without instancesSet */
                "<DescribeInstancesResponse><reservationSet><item/></reservationSet></DescribeInstancesResponse>",
                /* bad timestamp */
                "<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId>"
                "<instanceState><name>running</name></instanceState><launchTime>yesterday</launchTime></item>"
                "</instancesSet></item></reservationSet></DescribeInstancesResponse>",
                /* bad tag */
                "<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId>"
                "<instanceState><name>running</name></instanceState><tagSet><item><value>v</value></item></tagSet>"
                "</item></instancesSet></item></reservationSet></DescribeInstancesResponse>",
                "",
                "garbage",
        };
        _cleanup_(ec2_instance_list_done) Ec2InstanceList l = {};
        char *next = (char *) "untouched";

        CHECK_INT(ec2_parse_describe_instances(empty, strlen(empty), &l, &next), 0);
        CHECK_INT(l.n, 0);
        CHECK(next == NULL);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Ec2InstanceList x = { .n = 4242 };
                CHECK_INT(ec2_parse_describe_instances(bad[i], strlen(bad[i]), &x, NULL), -EBADMSG);
                CHECK_INT(x.n, 4242); /* untouched on failure */
        }

        /* Every truncation of a good answer is an error, never a shorter listing. */
        size_t n = strlen(describe_instances);
        unsigned accepted = 0;
        for (size_t cut = 0; cut < n - 1; cut++) {
                Ec2InstanceList x = {};
                if (ec2_parse_describe_instances(describe_instances, cut, &x, NULL) == 0) {
                        accepted++;
                        ec2_instance_list_done(&x);
                }
        }
        CHECK_INT(accepted, 0);
}

static const char describe_volumes[] =
        "<DescribeVolumesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
        "  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>\n"
        "  <volumeSet>\n"
        "    <item>\n"
        "      <volumeId>vol-1234567890abcdef0</volumeId><size>80</size><snapshotId/>\n"
        "      <availabilityZone>us-east-1a</availabilityZone><status>in-use</status>\n"
        "      <createTime>2013-12-18T22:35:00.084Z</createTime>\n"
        "      <attachmentSet><item><volumeId>vol-1234567890abcdef0</volumeId><instanceId>i-1234567890abcdef0</instanceId>"
        "<device>/dev/sdh</device><status>attached</status><attachTime>2013-12-18T22:35:00.000Z</attachTime>"
        "<deleteOnTermination>false</deleteOnTermination></item></attachmentSet>\n"
        "      <volumeType>gp3</volumeType>\n"
        "      <tagSet><item><key>swarmkeeper:cluster</key><value>prod</value></item></tagSet>\n"
        "    </item>\n"
        "    <item><volumeId>vol-0b</volumeId><size>8</size><availabilityZone>us-east-1a</availabilityZone>"
        "<status>available</status><attachmentSet/></item>\n"
        "  </volumeSet>\n"
        "</DescribeVolumesResponse>\n";

static void test_describe_volumes(void) {
        _cleanup_(ec2_volume_list_done) Ec2VolumeList l = {};
        _cleanup_(freep) char *next = NULL;
        static const char *const bad[] = {
                "<DescribeVolumesResponse/>",
                "<DescribeVolumesResponse><volumeSet><item><volumeId>v</volumeId><status>melted</status></item>"
                "</volumeSet></DescribeVolumesResponse>",
                "<DescribeVolumesResponse><volumeSet><item><volumeId>v</volumeId><status>available</status>"
                "<size>-1</size></item></volumeSet></DescribeVolumesResponse>",
                "<DescribeVolumesResponse><volumeSet><item><volumeId>v</volumeId><status>available</status>"
                "<size>12abc</size></item></volumeSet></DescribeVolumesResponse>",
                "<DescribeVolumesResponse><volumeSet><item><volumeId>v</volumeId><status>in-use</status>"
                "<attachmentSet><item><status>glued</status></item></attachmentSet></item></volumeSet>"
                "</DescribeVolumesResponse>",
        };

        CHECK_INT(ec2_parse_describe_volumes(describe_volumes, strlen(describe_volumes), &l, &next), 0);
        CHECK(next == NULL);
        CHECK_INT(l.n, 2);
        if (l.n == 2) {
                CHECK_STR(l.items[0].volume_id, "vol-1234567890abcdef0");
                CHECK_INT(l.items[0].state, EC2_VOLUME_IN_USE);
                CHECK_INT(l.items[0].size_gib, 80);
                CHECK_STR(l.items[0].availability_zone, "us-east-1a");
                CHECK_STR(l.items[0].volume_type, "gp3");
                CHECK_INT(l.items[0].n_attachments, 1);
                CHECK_STR(l.items[0].attachments[0].instance_id, "i-1234567890abcdef0");
                CHECK_STR(l.items[0].attachments[0].device, "/dev/sdh");
                CHECK_INT(l.items[0].attachments[0].state, EC2_ATTACHMENT_ATTACHED);
                CHECK_STR(ec2_tags_get(l.items[0].tags, EC2_TAG_CLUSTER), "prod");
                CHECK(l.items[0].create_time_usec > 0);
                CHECK_INT(l.items[1].state, EC2_VOLUME_AVAILABLE);
                CHECK_INT(l.items[1].n_attachments, 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Ec2VolumeList x = {};
                CHECK_INT(ec2_parse_describe_volumes(bad[i], strlen(bad[i]), &x, NULL), -EBADMSG);
        }
}

static void test_describe_subnets(void) {
        static const char answer[] =
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<DescribeSubnetsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
                "    <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>\n"
                "    <subnetSet>\n"
                "        <item>\n"
                "            <subnetId>subnet-1234567890abcdef0</subnetId>\n"
                "            <state>available</state>\n"
                "            <vpcId>vpc-0a60eb65b4EXAMPLE</vpcId>\n"
                "            <cidrBlock>10.0.1.0/24</cidrBlock>\n"
                "            <ipv6CidrBlockAssociationSet/>\n"
                "            <availableIpAddressCount>251</availableIpAddressCount>\n"
                "            <availabilityZone>us-east-1a</availabilityZone>\n"
                "            <defaultForAz>false</defaultForAz>\n"
                "            <tagSet>\n"
                "                <item><key>swarmkeeper:cluster</key><value>prod</value></item>\n"
                "                <item><key>Name</key><value>managers-a</value></item>\n"
                "            </tagSet>\n"
                "        </item>\n"
                "        <item>\n"
                "            <subnetId>subnet-0bbbbbbbbbbbbbbbb</subnetId>\n"
                "            <cidrBlock>10.0.2.0/24</cidrBlock>\n"
                "            <availabilityZone>us-east-1b</availabilityZone>\n"
                "        </item>\n"
                "    </subnetSet>\n"
                "    <nextToken>c3VibmV0cw==</nextToken>\n"
                "</DescribeSubnetsResponse>\n";
        static const char empty[] = "<DescribeSubnetsResponse><subnetSet/></DescribeSubnetsResponse>";
        static const char *const bad[] = {
                /* no subnetSet: not an empty listing */
                "<DescribeSubnetsResponse><requestId>x</requestId></DescribeSubnetsResponse>",
                /* another answer */
                "<DescribeVolumesResponse><volumeSet/></DescribeVolumesResponse>",
                /* a subnet without its CIDR, zone or id is useless for placement */
                "<DescribeSubnetsResponse><subnetSet><item><subnetId>subnet-1</subnetId>"
                "<availabilityZone>a</availabilityZone></item></subnetSet></DescribeSubnetsResponse>",
                "<DescribeSubnetsResponse><subnetSet><item><subnetId>subnet-1</subnetId>"
                "<cidrBlock>10.0.0.0/16</cidrBlock></item></subnetSet></DescribeSubnetsResponse>",
                "<DescribeSubnetsResponse><subnetSet><item><cidrBlock>10.0.0.0/16</cidrBlock>"
                "<availabilityZone>a</availabilityZone></item></subnetSet></DescribeSubnetsResponse>",
                /* a tag without a key */
                "<DescribeSubnetsResponse><subnetSet><item><subnetId>subnet-1</subnetId><cidrBlock>10.0.0.0/16"
                "</cidrBlock><availabilityZone>a</availabilityZone><tagSet><item><value>v</value></item></tagSet>"
                "</item></subnetSet></DescribeSubnetsResponse>",
                /* truncated */
                "<DescribeSubnetsResponse><subnetSet><item><subnetId>subnet-1</subnetId>",
        };
        _cleanup_(ec2_subnet_list_done) Ec2SubnetList l = {};
        _cleanup_(freep) char *next = NULL;

        CHECK_INT(ec2_parse_describe_subnets(answer, strlen(answer), &l, &next), 0);
        CHECK_INT(l.n, 2);
        CHECK_STR(next, "c3VibmV0cw==");
        if (l.n == 2) {
                CHECK_STR(l.items[0].subnet_id, "subnet-1234567890abcdef0");
                CHECK_STR(l.items[0].cidr_block, "10.0.1.0/24");
                CHECK_STR(l.items[0].availability_zone, "us-east-1a");
                CHECK_STR(l.items[0].vpc_id, "vpc-0a60eb65b4EXAMPLE");
                CHECK_STR(ec2_tags_get(l.items[0].tags, EC2_TAG_CLUSTER), "prod");
                CHECK_STR(ec2_tags_get(l.items[0].tags, "Name"), "managers-a");
                CHECK_STR(l.items[1].subnet_id, "subnet-0bbbbbbbbbbbbbbbb");
                CHECK_STR(l.items[1].cidr_block, "10.0.2.0/24");
                CHECK(l.items[1].vpc_id == NULL);
                CHECK(l.items[1].tags == NULL);
        }
        ec2_subnet_list_done(&l);
        free(next);
        next = NULL;

        CHECK_INT(ec2_parse_describe_subnets(empty, strlen(empty), &l, &next), 0);
        CHECK_INT(l.n, 0);
        CHECK(next == NULL);

        /* Appending: a second page goes after the first. */
        CHECK_INT(ec2_parse_describe_subnets_append(answer, strlen(answer), &l, NULL), 0);
        CHECK_INT(ec2_parse_describe_subnets_append(answer, strlen(answer), &l, NULL), 0);
        CHECK_INT(l.n, 4);
        ec2_subnet_list_done(&l);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = ec2_parse_describe_subnets(bad[i], strlen(bad[i]), &l, &next);
                if (r != -EBADMSG)
                        fprintf(stderr, "bad subnet answer %zu: %d\n", i, r);
                CHECK_INT(r, -EBADMSG);
        }
}

static void test_errors(void) {
        static const char ec2_error[] =
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<Response><Errors><Error><Code>InvalidIPAddress.InUse</Code><Message>Address 10.0.1.10 is in "
                "use.</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>";
        static const char sts_error[] =
                "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token "
                "included in the request is expired</Message></Error><RequestId>r-1</RequestId></ErrorResponse>";
        Ec2Error e = {};

        CHECK_INT(ec2_parse_error(ec2_error, strlen(ec2_error), &e), 0);
        CHECK_STR(e.code, "InvalidIPAddress.InUse");
        CHECK_INT(e.error, EC2_ERR_INVALID_IP_ADDRESS_IN_USE);
        CHECK_STR(e.message, "Address 10.0.1.10 is in use.");
        CHECK_STR(e.request_id, "ea966190-f9aa-478e-9ede-example");

        e = (Ec2Error) {};
        CHECK_INT(ec2_parse_error(sts_error, strlen(sts_error), &e), 0);
        CHECK_STR(e.code, "ExpiredToken");
        CHECK_INT(e.error, EC2_ERR_EXPIRED_TOKEN);
        CHECK_STR(e.request_id, "r-1");

        static const char *const bad[] = {
                "<html><body>502 Bad Gateway</body></html>",
                "<Response><Errors/></Response>",
                "<Response><Errors><Error><Code></Code></Error></Errors></Response>",
                "<Response><Errors><Error><Code>X",
                "",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                CHECK_INT(ec2_parse_error(bad[i], strlen(bad[i]), &e), -EBADMSG);

        /* Overlong fields are cut, not overflowed. */
        char big[4096], *p = big;
        p = stpcpy(p, "<Response><Errors><Error><Code>");
        memset(p, 'C', 1000);
        p += 1000;
        p = stpcpy(p, "</Code><Message>");
        memset(p, 'M', 2000);
        p += 2000;
        stpcpy(p, "</Message></Error></Errors></Response>");
        CHECK_INT(ec2_parse_error(big, strlen(big), &e), 0);
        CHECK_INT(strlen(e.code), sizeof(e.code) - 1);
        CHECK_INT(strlen(e.message), sizeof(e.message) - 1);
        CHECK_INT(e.error, EC2_ERR_OTHER);
}

static void test_error_codes(void) {
        static const struct {
                const char *s;
                Ec2ErrorCode e;
        } codes[] = {
                { "RequestLimitExceeded", EC2_ERR_REQUEST_LIMIT_EXCEEDED },
                { "InvalidIPAddress.InUse", EC2_ERR_INVALID_IP_ADDRESS_IN_USE },
                { "IdempotentInstanceTerminated", EC2_ERR_IDEMPOTENT_INSTANCE_TERMINATED },
                { "IdempotentParameterMismatch", EC2_ERR_IDEMPOTENT_PARAMETER_MISMATCH },
                { "IncorrectState", EC2_ERR_INCORRECT_STATE },
                { "IncorrectInstanceState", EC2_ERR_INCORRECT_INSTANCE_STATE },
                { "InvalidInstanceID.NotFound", EC2_ERR_INVALID_INSTANCE_ID_NOT_FOUND },
                { "InvalidVolume.NotFound", EC2_ERR_INVALID_VOLUME_NOT_FOUND },
                { "VolumeInUse", EC2_ERR_VOLUME_IN_USE },
                { "UnknownParameter", EC2_ERR_UNKNOWN_PARAMETER },
                { "UnauthorizedOperation", EC2_ERR_UNAUTHORIZED_OPERATION },
                { "AuthFailure", EC2_ERR_AUTH_FAILURE },
                { "InsufficientInstanceCapacity", EC2_ERR_INSUFFICIENT_INSTANCE_CAPACITY },
                { "InvalidParameterValue", EC2_ERR_INVALID_PARAMETER_VALUE },
                { "InvalidSubnetID.NotFound", EC2_ERR_INVALID_SUBNET_ID_NOT_FOUND },
        };

        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                CHECK_INT(ec2_error_code_from_string(codes[i].s), codes[i].e);
                CHECK_STR(ec2_error_code_to_string(codes[i].e), codes[i].s);
        }
        /* Every value but NONE and OTHER has a name that parses back to it. */
        for (int e = EC2_ERR_NONE + 1; e < EC2_ERR_OTHER; e++)
                CHECK_INT(ec2_error_code_from_string(ec2_error_code_to_string(e)), e);
        CHECK_INT(ec2_error_code_from_string(NULL), EC2_ERR_NONE);
        CHECK_INT(ec2_error_code_from_string(""), EC2_ERR_NONE);
        CHECK_INT(ec2_error_code_from_string("requestlimitexceeded"), EC2_ERR_OTHER);
        CHECK_INT(ec2_error_code_from_string("InvalidIPAddress.InUse "), EC2_ERR_OTHER);
        CHECK(ec2_error_code_to_string(EC2_ERR_OTHER) == NULL);
        CHECK_INT(ec2_error_code_from_string("ThrottlingException"), EC2_ERR_THROTTLING);

        CHECK(ec2_error_code_is_throttling(EC2_ERR_REQUEST_LIMIT_EXCEEDED));
        CHECK(ec2_error_code_is_throttling(ec2_error_code_from_string("Throttling")));
        CHECK(!ec2_error_code_is_throttling(EC2_ERR_INVALID_PARAMETER_VALUE));
        CHECK(!ec2_error_code_is_throttling(EC2_ERR_NONE));
        CHECK(ec2_error_code_is_transient(EC2_ERR_INTERNAL_ERROR));
        CHECK(ec2_error_code_is_transient(ec2_error_code_from_string("Unavailable")));
        CHECK(!ec2_error_code_is_transient(EC2_ERR_INSUFFICIENT_INSTANCE_CAPACITY));
        CHECK(ec2_error_code_is_auth(EC2_ERR_AUTH_FAILURE));
        CHECK(ec2_error_code_is_auth(ec2_error_code_from_string("SignatureDoesNotMatch")));
        CHECK(!ec2_error_code_is_auth(EC2_ERR_OTHER));
}

static void test_other_answers(void) {
        static const char run[] =
                "<RunInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>x</requestId>"
                "<reservationId>r-1</reservationId><ownerId>1</ownerId><groupSet/><instancesSet><item>"
                "<instanceId>i-0123456789abcdef0</instanceId><instanceState><code>0</code><name>pending</name>"
                "</instanceState><privateIpAddress>10.0.1.12</privateIpAddress></item></instancesSet>"
                "</RunInstancesResponse>";
        static const char run_two[] =
                "<RunInstancesResponse><instancesSet><item><instanceId>i-1</instanceId><instanceState><name>pending"
                "</name></instanceState></item><item><instanceId>i-2</instanceId><instanceState><name>pending"
                "</name></instanceState></item></instancesSet></RunInstancesResponse>";
        static const char vol[] =
                "<CreateVolumeResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>x</requestId>"
                "<volumeId>vol-1234567890abcdef0</volumeId><size>80</size><snapshotId/><availabilityZone>us-east-1a"
                "</availabilityZone><status>creating</status><createTime>2010-05-07T11:23:50.000Z</createTime>"
                "<volumeType>gp3</volumeType><encrypted>true</encrypted></CreateVolumeResponse>";
        static const char att[] =
                "<AttachVolumeResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>x</requestId>"
                "<volumeId>vol-1234567890abcdef0</volumeId><instanceId>i-1234567890abcdef0</instanceId><device>"
                "/dev/sdh</device><status>attaching</status><attachTime>2008-05-07T11:51:50.000Z</attachTime>"
                "</AttachVolumeResponse>";
        static const char det[] =
                "<DetachVolumeResponse><volumeId>vol-1</volumeId><instanceId>i-1</instanceId><device>/dev/sdh"
                "</device><status>detaching</status></DetachVolumeResponse>";
        static const char tags[] =
                "<CreateTagsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>x</requestId>"
                "<return>true</return></CreateTagsResponse>";
        static const char tags_false[] = "<CreateTagsResponse><return>false</return></CreateTagsResponse>";
        static const char term[] =
                "<TerminateInstancesResponse><instancesSet><item><instanceId>i-1</instanceId><currentState><code>32"
                "</code><name>shutting-down</name></currentState><previousState><code>16</code><name>running</name>"
                "</previousState></item></instancesSet></TerminateInstancesResponse>";
        Ec2Instance i = {};
        Ec2Volume v = {};
        Ec2Attachment a = {};
        size_t n = 0;

        CHECK_INT(ec2_parse_run_instances(run, strlen(run), &i), 0);
        CHECK_STR(i.instance_id, "i-0123456789abcdef0");
        CHECK_INT(i.state, EC2_INSTANCE_PENDING);
        CHECK_STR(i.private_ip, "10.0.1.12");
        ec2_instance_done(&i);
        CHECK_INT(ec2_parse_run_instances(run_two, strlen(run_two), &i), -EBADMSG);

        CHECK_INT(ec2_parse_volume(vol, strlen(vol), &v), 0);
        CHECK_STR(v.volume_id, "vol-1234567890abcdef0");
        CHECK_INT(v.state, EC2_VOLUME_CREATING);
        CHECK_INT(v.size_gib, 80);
        ec2_volume_done(&v);

        CHECK_INT(ec2_parse_attachment(att, strlen(att), &a), 0);
        CHECK_STR(a.device, "/dev/sdh");
        CHECK_INT(a.state, EC2_ATTACHMENT_ATTACHING);
        ec2_attachment_done(&a);
        CHECK_INT(ec2_parse_attachment(det, strlen(det), &a), 0);
        CHECK_INT(a.state, EC2_ATTACHMENT_DETACHING);
        ec2_attachment_done(&a);
        CHECK_INT(ec2_parse_attachment(vol, strlen(vol), &a), -EBADMSG);

        CHECK_INT(ec2_parse_return(tags, strlen(tags)), 0);
        CHECK_INT(ec2_parse_return(tags_false, strlen(tags_false)), -EBADMSG);
        CHECK_INT(ec2_parse_terminate_instances(term, strlen(term), &n), 0);
        CHECK_INT(n, 1);
}

static void test_states(void) {
        for (int s = 0; s < _EC2_INSTANCE_STATE_MAX; s++)
                CHECK_INT(ec2_instance_state_from_string(ec2_instance_state_to_string(s)), s);
        for (int s = 0; s < _EC2_VOLUME_STATE_MAX; s++)
                CHECK_INT(ec2_volume_state_from_string(ec2_volume_state_to_string(s)), s);
        for (int s = 0; s < _EC2_ATTACHMENT_STATE_MAX; s++)
                CHECK_INT(ec2_attachment_state_from_string(ec2_attachment_state_to_string(s)), s);
        CHECK_INT(ec2_instance_state_from_string("Running"), -EINVAL);
        CHECK_INT(ec2_instance_state_from_string(NULL), -EINVAL);
        CHECK(ec2_instance_state_to_string(_EC2_INSTANCE_STATE_MAX) == NULL);
        CHECK_STR(ec2_instance_state_to_string(EC2_INSTANCE_SHUTTING_DOWN), "shutting-down");
        CHECK_STR(ec2_volume_state_to_string(EC2_VOLUME_IN_USE), "in-use");
}

/* ec2_id_valid(): the one rule for every EC2 id (config, metadata answers, EC2 answers). */
static void test_ids(void) {
        static const struct {
                const char *s;
                const char *prefix;
                bool ok;
        } ids[] = {
                { "vol-12345678", "vol-", true },
                { "vol-0123456789abcdef0", "vol-", true },
                { "vol-1234567", "vol-", false },              /* 7 digits */
                { "vol-123456789", "vol-", false },            /* 9: neither 8 nor 17 */
                { "vol-0123456789abcdef", "vol-", false },     /* 16 */
                { "vol-0123456789abcdef01", "vol-", false },   /* 18 digits */
                { "vol-0123456789ABCDEF0", "vol-", false },    /* upper case */
                { "vol-0123456789abcdeg0", "vol-", false },
                { "vol-", "vol-", false },
                { "vol-12345678/..", "vol-", false },
                { "vol-12345678\n", "vol-", false },
                { "vol-..", "vol-", false },
                { "../vol-12345678", "vol-", false },
                { "snap-12345678", "vol-", false },
                { "", "vol-", false },
                { NULL, "vol-", false },
                { "i-12345678", "i-", true },
                { "i-0123456789abcdef0", "i-", true },
                { "i-1234567890abc", "i-", false },            /* 13 */
                { "i-0123456789abcdef0 ", "i-", false },
                { " i-0123456789abcdef0", "i-", false },
                { "I-12345678", "i-", false },
                { "vol-12345678", "i-", false },
                { "i-12345678", "vol-", false },
                { "sg-0123456789abcdef0", "sg-", true },
                { "subnet-89abcdef", "subnet-", true },
                { "subnet-89abcdef", "sg-", false },
                { "lt-0123", "lt-", false },
                { "lt-0123456789abcdef0", "lt-", true },
                { "ami-bff32ccc", "ami-", true },
                { "ami-", "ami-", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                if (ec2_id_valid(ids[i].s, ids[i].prefix) != ids[i].ok)
                        fprintf(stderr, "id '%s' with prefix %s\n", strempty(ids[i].s), ids[i].prefix);
                CHECK_INT(ec2_id_valid(ids[i].s, ids[i].prefix), ids[i].ok);
        }
}

int main(void) {
        test_ids();
        log_set_max_level(LOG_CRIT);
        test_describe_instances();
        test_describe_instances_empty_and_bad();
        test_describe_volumes();
        test_describe_subnets();
        test_errors();
        test_error_codes();
        test_other_answers();
        test_states();
        return test_done("ec2-parse");
}
