/* SPDX-License-Identifier: MIT */
/*
 * Who this host is (agent/identity.c) from the fake's IMDS: the empty [Host] keys and
 * AWS.Region filled, configured keys kept and a fully configured host never asking, and
 * -EADDRNOTAVAIL when the metadata service is unreachable with a key missing.
 */
#include "aws-test-lib.h"
#include "identity.h"

/* ------------------------------------------------------------ identity */

static void test_identity(void) {
        _cleanup_(freep) char *id = NULL;
        _cleanup_(config_freep) Config *c = NULL, *full = NULL, *dead = NULL;

        reset_fake();
        id = seed_instance("10.0.3.7", "us-east-1c", NULL);
        control_void("POST", "/_fake/imds", "{\"source\": \"127.0.0.1\", \"instance\": \"%s\"}", id);

        c = host_config(NULL, NULL, NULL);
        CHECK_INT(config_set_value(c, CONFIG_AWS_REGION, "", "test"), 0);
        CHECK_INT(identity_resolve(c), 0);
        CHECK_STR(c->instance_id, id);
        CHECK_STR(c->private_ip, "10.0.3.7");
        CHECK_STR(c->availability_zone, "us-east-1c");
        CHECK_STR(c->region, "us-east-1");
        CHECK_STR(c->source[CONFIG_HOST_PRIVATE_IP], "metadata service");

        /* Configured keys win and a fully configured host never asks. */
        full = host_config("10.0.9.9", "us-east-1a", "i-0123456789abcdef0");
        CHECK_INT(config_set_value(full, CONFIG_AWS_METADATA_ENDPOINT, "http://127.0.0.1:1", "test"), 0);
        CHECK_INT(identity_resolve(full), 0);
        CHECK_STR(full->private_ip, "10.0.9.9");

        /* Unreachable metadata service with a key missing: a clear -EADDRNOTAVAIL. */
        dead = host_config("10.0.9.9", NULL, "i-0123456789abcdef0");
        CHECK_INT(config_set_value(dead, CONFIG_AWS_METADATA_ENDPOINT, "http://127.0.0.1:1", "test"), 0);
        CHECK_INT(identity_resolve(dead), -EADDRNOTAVAIL);
}

/* ------------------------------------------------------------ main */

int main(void) {
        static const AwsTest tests[] = {
                AWS_TEST(test_identity),
                {},
        };

        return aws_test_main("identity-client", AWS_TEST_FAKE, tests);
}
