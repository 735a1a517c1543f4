/* SPDX-License-Identifier: MIT */
/*
 * Credentials (agent/creds.c) as the EC2 client signs with them, against the fake EC2
 * + IMDS: the instance role's, refreshed before they expire; no instance profile;
 * credentials the server refuses, fetched again once; wrong keys and another region's
 * signature refused as AuthFailure, not retried.
 * Malformed credentials answers: test-imds-client.c (test_garbage_imds).
 */
#include "aws-test-lib.h"
#include "imds.h"

/* ------------------------------------------------------------ credentials */

static void test_role_credentials_refresh(void) {
        _cleanup_(imds_freep) Imds *m = NULL;
        _cleanup_(creds_provider_freep) CredsProvider *p = NULL;
        _cleanup_(ec2_client_freep) Ec2Client *c = NULL;
        _cleanup_(freep) char *id = NULL, *first = NULL, *second = NULL;
        const AwsCredentials *cr;
        Ec2InstanceList l = {};
        struct json_object *call;
        uint64_t t0;

        reset_fake();
        no_env_keys();
        id = seed_instance("10.0.1.22", "us-east-1a", NULL);
        control_void("POST", "/_fake/imds", "{\"source\": \"127.0.0.1\", \"instance\": \"%s\"}", id);
        /* Credentials that live 4 s; refreshed 2 s before they expire. */
        control_void("POST", "/_fake/credentials", "{\"ttl\": 4}");

        CHECK_INT(imds_new(fake.url, &m), 0);
        CHECK_INT(creds_provider_new(m, &p), 0);
        CHECK_INT(creds_provider_source(p), CREDS_SOURCE_INSTANCE_ROLE);
        creds_provider_set_refresh_margin(p, 2 * USEC_PER_SEC);
        CHECK_INT(ec2_client_new("us-east-1", fake.url, p, &c), 0);
        t0 = now_usec(CLOCK_MONOTONIC);

        CHECK_INT(creds_get(p, &cr), 1);
        first = strdup(cr->access_key_id);
        CHECK_INT(ec2_describe_instances(c, NULL, NULL, &l), 0);
        ec2_instance_list_done(&l);
        fake_calls("DescribeInstances", &call);
        CHECK_STR(json_str(call, "access_key"), first); /* signed with the role's session credentials */
        json_object_put(call);

        /* Within the margin: fresh ones (the fake rotates within ttl/2 of expiry). */
        msleep(2300);
        CHECK_INT(creds_get(p, &cr), 1);
        second = strdup(cr->access_key_id);
        CHECK(!streq(first, second));

        /* Past the first ones' expiry the agent still works: it refreshed in time. */
        msleep(2000);
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 > 4 * USEC_PER_SEC);
        CHECK_INT(ec2_describe_instances(c, NULL, NULL, &l), 0);
        ec2_instance_list_done(&l);
        fake_calls("DescribeInstances", &call);
        CHECK(!streq_ptr(json_str(call, "access_key"), first));
        json_object_put(call);
        CHECK_INT(fake_calls(NULL, NULL), 2); /* no refused call on the way */

        /* No instance profile: -ENOKEY. */
        control_void("POST", "/_fake/credentials", "{\"role\": null}");
        CredsProvider *none = NULL;
        CHECK_INT(creds_provider_new(m, &none), 0);
        CHECK_INT(creds_get(none, &cr), -ENOKEY);
        creds_provider_free(none);
        control_void("POST", "/_fake/credentials", "{\"role\": \"swarmkeeper-role\", \"ttl\": 21600}");
}

typedef struct Rotating {
        unsigned fetches;
} Rotating;

/* First fetch: credentials the server does not know (as if revoked); then good ones. */
static int rotating_fetch(void *userdata, AwsCredentials *ret) {
        Rotating *r = userdata;
        r->fetches++;
        *ret = (AwsCredentials) {
                .access_key_id = strdup(r->fetches == 1 ? "ASIAREVOKEDREVOKED" : FAKE_AKID),
                .secret_access_key = strdup(r->fetches == 1 ? "old" : FAKE_SECRET),
                .session_token = r->fetches == 1 ? strdup("oldtoken") : NULL,
                .expiration_usec = now_usec(CLOCK_REALTIME) + 3600 * USEC_PER_SEC,
        };
        return 0;
}

static void test_refused_credentials_refetched(void) {
        _cleanup_(creds_provider_freep) CredsProvider *p = NULL;
        _cleanup_(ec2_client_freep) Ec2Client *c = NULL;
        Rotating rot = {};
        Ec2InstanceList l = {};

        reset_fake();
        CHECK_INT(creds_provider_new_custom(rotating_fetch, &rot, &p), 0);
        CHECK_INT(ec2_client_new("us-east-1", fake.url, p, &c), 0);
        CHECK_INT(ec2_describe_instances(c, NULL, NULL, &l), 0);
        CHECK_INT(rot.fetches, 2);
        CHECK_INT(ec2_client_last_error(c)->attempts, 2);
        CHECK_INT(fake_calls("DescribeInstances", NULL), 2);
        ec2_instance_list_done(&l);
}

static void test_bad_keys(void) {
        _cleanup_(creds_provider_freep) CredsProvider *p = NULL;
        _cleanup_(ec2_client_freep) Ec2Client *c = NULL;
        Ec2InstanceList l = {};
        Sleeps sleeps = {};

        reset_fake();
        setenv("AWS_ACCESS_KEY_ID", FAKE_AKID, 1);
        setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
        CHECK_INT(creds_provider_new(NULL, &p), 0);
        CHECK_INT(ec2_client_new("us-east-1", fake.url, p, &c), 0);
        ec2_client_set_sleep(c, record_sleep, &sleeps);
        CHECK_INT(ec2_describe_instances(c, NULL, NULL, &l), -EACCES);
        CHECK_STR(ec2_client_last_error(c)->code, "AuthFailure");
        CHECK_INT(ec2_client_last_error(c)->http_status, 401);
        CHECK(!isempty(ec2_client_last_error(c)->request_id));
        CHECK_INT(ec2_client_last_error(c)->attempts, 1); /* final */
        CHECK_INT(sleeps.n, 0);

        /* Signed for another region. */
        Ec2Client *other = NULL;
        use_static_keys();
        CredsProvider *good = NULL;
        CHECK_INT(creds_provider_new(NULL, &good), 0);
        CHECK_INT(ec2_client_new("eu-west-1", fake.url, good, &other), 0);
        CHECK_INT(ec2_describe_instances(other, NULL, NULL, &l), -EACCES);
        CHECK_STR(ec2_client_last_error(other)->code, "AuthFailure");
        ec2_client_free(other);
        creds_provider_free(good);
}

/* ------------------------------------------------------------ main */

int main(void) {
        static const AwsTest tests[] = {
                AWS_TEST(test_role_credentials_refresh),
                AWS_TEST(test_refused_credentials_refetched),
                AWS_TEST(test_bad_keys),
                {},
        };

        return aws_test_main("creds-client", AWS_TEST_FAKE, tests);
}
