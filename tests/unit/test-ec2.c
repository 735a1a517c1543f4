/* SPDX-License-Identifier: MIT */
/* The EC2 client's own checks, before any request: its arguments, its endpoint, plain
 * http (the chain that makes the client from the configuration: test-aws-clients.c; the
 * parsers are in test-ec2-parse.c, the calls against the fake EC2 in
 * tests/aws/test-ec2-client.c, against garbage answers in test-ec2-garbage-client.c). */
#include "config.h"
#include "ec2.h"
#include "log.h"
#include "test.h"

static void test_client_args(void) {
        CredsProvider *p = NULL;
        Ec2Client *c = NULL;

        setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "unit-secret", 1);
        unsetenv("AWS_SESSION_TOKEN");
        CHECK_INT(creds_provider_new(NULL, &p), 0);

        CHECK_INT(ec2_client_new("", NULL, p, &c), -EINVAL);
        CHECK_INT(ec2_client_new("us-east-1/../x", NULL, p, &c), -EINVAL);
        CHECK_INT(ec2_client_new("us-east-1", "ftp://x", p, &c), -EINVAL);
        CHECK_INT(ec2_client_new("us-east-1", NULL, NULL, &c), -EINVAL);
        CHECK_INT(ec2_client_new("eu-west-3", NULL, p, &c), 0);
        CHECK_STR(ec2_client_endpoint(c), "https://ec2.eu-west-3.amazonaws.com/");
        c = ec2_client_free(c);
        CHECK_INT(ec2_client_new("eu-west-3", "http://127.0.0.1:1", p, &c), 0);
        CHECK_STR(ec2_client_endpoint(c), "http://127.0.0.1:1");

        /* Argument checks happen before any request. */
        Ec2RunSpec none = {};
        Ec2RunSpec both = { .launch_template_id = "lt-1", .launch_template_name = "x" };
        Ec2RunSpec long_token = { .image_id = "ami-12345678",
                                  .client_token = "0123456789012345678901234567890123456789012345678901234567890123456789" };
        Ec2Instance i;
        CHECK_INT(ec2_run_instances(c, &none, &i), -EINVAL);
        CHECK_INT(ec2_run_instances(c, &both, &i), -EINVAL);
        CHECK_INT(ec2_run_instances(c, &long_token, &i), -EINVAL);
        static char big_user_data[16385];
        Ec2RunSpec too_big = { .image_id = "ami-12345678", .user_data = big_user_data,
                               .user_data_size = sizeof(big_user_data) };
        CHECK_INT(ec2_run_instances(c, &too_big, &i), -EMSGSIZE);
        CHECK_INT(ec2_terminate_instances(c, NULL), -EINVAL);
        CHECK_INT(ec2_attach_volume(c, "vol-1", NULL, "/dev/sdf", NULL), -EINVAL);
        char *one_tag[] = { (char *) "k", NULL };
        char *ids[] = { (char *) "i-1", NULL };
        CHECK_INT(ec2_create_tags(c, ids, one_tag), -EINVAL);

        c = ec2_client_free(c);
        p = creds_provider_free(p);
}

/* Plain http to a non-loopback endpoint: the client itself refuses it at request time,
 * before any connection, unless allowed (what AWS.AllowPlainHttp means for the chain
 * that makes the clients from the configuration: test-aws-clients.c). */
static void test_client_plain_http(void) {
        _cleanup_(config_freep) Config *cfg = NULL;
        CredsProvider *p = NULL;
        Ec2Client *c = NULL;

        setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "unit-secret", 1);
        CHECK_INT(creds_provider_new(NULL, &p), 0);

        CHECK_INT(ec2_client_new("us-east-1", "http://127.0.0.1:1", p, &c), 0);
        CHECK(!ec2_client_endpoint_plain(c));
        c = ec2_client_free(c);

        CHECK_INT(ec2_client_new("us-east-1", "http://10.98.0.1:1/", p, &c), 0);
        CHECK(ec2_client_endpoint_plain(c));
        ec2_client_set_retry(c, 1, 0, 0);
        Ec2InstanceList l = {};
        CHECK_INT(ec2_describe_instances(c, NULL, NULL, &l), -EPROTONOSUPPORT);
        CHECK_INT(ec2_client_last_error(c)->attempts, 1);
        c = ec2_client_free(c);

        /* Userinfo in the endpoint: the config refuses it at load, the client too if it
         * gets there. */
        CHECK_INT(config_new(&cfg), 0);
        CHECK_INT(config_set_value(cfg, CONFIG_AWS_ENDPOINT, "http://localhost:1@evil.example/", "test"), -EINVAL);
        CHECK_INT(ec2_client_new("us-east-1", "http://localhost:1@evil.example/", p, &c), -EINVAL);
        CHECK(c == NULL);
        p = creds_provider_free(p);
}

int main(void) {
        log_set_max_level(LOG_CRIT); /* expected errors */
        test_client_args();
        test_client_plain_http();
        return test_done("ec2");
}
