/* SPDX-License-Identifier: MIT */
/* The EC2 client's own checks, before any request: its arguments, its endpoint from the
 * configuration (the parsers are in test-ec2-parse.c, the calls against the fake EC2 in
 * tests/aws/test-ec2-client.c, against garbage answers in test-ec2-garbage-client.c). */
#include "config.h"
#include "ebs.h"
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

/* What fn() logs at `level` and above (plain lines on stderr), into a string. */
static char *capture_log(int level, void (*fn)(void *), void *userdata) {
        TestCapture cap;
        char *text;

        setenv("SWARMKEEPER_LOG", "stderr", 1);
        log_setup();
        log_set_max_level(level);
        test_capture_begin(&cap);
        fn(userdata);
        text = test_capture_end(&cap);
        log_set_max_level(LOG_CRIT);
        return text;
}

typedef struct FromConfig {
        const Config *cfg;
        CredsProvider *p;
        int r;
} FromConfig;

static void from_config(void *userdata) {
        FromConfig *x = userdata;
        Ec2Client *c = NULL;
        x->r = ebs_ec2_client_new(x->cfg, NULL, x->p, &c);
        ec2_client_free(c);
}

static void test_client_from_config(void) {
        _cleanup_(config_freep) Config *cfg = NULL;
        CredsProvider *p = NULL;
        Ec2Client *c = NULL;

        setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "unit-secret", 1);
        CHECK_INT(creds_provider_new(NULL, &p), 0);
        CHECK_INT(config_new(&cfg), 0);
        CHECK_INT(config_set_value(cfg, CONFIG_AWS_REGION, "us-east-1", "test"), 0);

        /* Default endpoint: https. */
        CHECK_INT(ebs_ec2_client_new(cfg, NULL, p, &c), 0);
        CHECK_STR(ec2_client_endpoint(c), "https://ec2.us-east-1.amazonaws.com/");
        CHECK(!ec2_client_endpoint_plain(c));
        c = ec2_client_free(c);
        /* A region from IMDS wins over an empty AWS.Region. */
        CHECK_INT(ebs_ec2_client_new(cfg, "eu-west-1", p, &c), 0);
        CHECK_STR(ec2_client_endpoint(c), "https://ec2.eu-west-1.amazonaws.com/");
        c = ec2_client_free(c);

        /* Plain http to loopback: fine, no flag needed. */
        CHECK_INT(config_set_value(cfg, CONFIG_AWS_ENDPOINT, "http://127.0.0.1:1", "test"), 0);
        CHECK_INT(ebs_ec2_client_new(cfg, NULL, p, &c), 0);
        CHECK(!ec2_client_endpoint_plain(c));
        c = ec2_client_free(c);

        /* Plain http elsewhere: refused unless AWS.AllowPlainHttp=yes. */
        CHECK_INT(config_set_value(cfg, CONFIG_AWS_ENDPOINT, "http://10.98.0.1:8080", "test"), 0);
        CHECK_INT(ebs_ec2_client_new(cfg, NULL, p, &c), -EPROTONOSUPPORT);
        CHECK(c == NULL);
        {
                FromConfig x = { cfg, p, 0 };
                _cleanup_(freep) char *log = capture_log(LOG_WARNING, from_config, &x);
                CHECK_INT(x.r, -EPROTONOSUPPORT);
                CHECK(strstr(strempty(log), "error: AWS.Endpoint=http://10.98.0.1:8080 is plain http") != NULL);
        }
        CHECK_INT(config_set_value(cfg, CONFIG_AWS_ALLOW_PLAIN_HTTP, "yes", "test"), 0);
        CHECK_INT(ebs_ec2_client_new(cfg, NULL, p, &c), 0);
        CHECK(c && ec2_client_endpoint_plain(c));
        c = ec2_client_free(c);
        {
                /* A warning at start that names the endpoint. */
                FromConfig x = { cfg, p, -1 };
                _cleanup_(freep) char *log = capture_log(LOG_WARNING, from_config, &x);
                CHECK_INT(x.r, 0);
                CHECK(strstr(strempty(log), "warning: ") != NULL);
                CHECK(strstr(strempty(log), "http://10.98.0.1:8080") != NULL);
        }

        /* The same refusal in the client itself, at request time, before any connection. */
        CHECK_INT(ec2_client_new("us-east-1", "http://10.98.0.1:1/", p, &c), 0);
        ec2_client_set_retry(c, 1, 0, 0);
        Ec2InstanceList l = {};
        CHECK_INT(ec2_describe_instances(c, NULL, NULL, &l), -EPROTONOSUPPORT);
        CHECK_INT(ec2_client_last_error(c)->attempts, 1);
        c = ec2_client_free(c);

        /* Userinfo in the endpoint. */
        /* The config refuses it at load; the client refuses it too if it gets there. */
        CHECK_INT(config_set_value(cfg, CONFIG_AWS_ENDPOINT, "http://localhost:1@evil.example/", "test"), -EINVAL);
        CHECK_INT(free_and_strdup(&cfg->endpoint, "http://localhost:1@evil.example/"), 0);
        CHECK_INT(ebs_ec2_client_new(cfg, NULL, p, &c), -EINVAL);
        CHECK_INT(ec2_client_new("us-east-1", "http://localhost:1@evil.example/", p, &c), -EINVAL);
        CHECK(c == NULL);
        p = creds_provider_free(p);
}

int main(void) {
        log_set_max_level(LOG_CRIT); /* expected errors; capture_log() looks where it matters */
        test_client_args();
        test_client_from_config();
        return test_done("ec2");
}
