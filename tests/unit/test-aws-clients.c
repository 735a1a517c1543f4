/* SPDX-License-Identifier: MIT */
/*
 * The chain metadata service → credentials → EC2 client (aws-clients.c) that `prepare`
 * and the reconciler's pass share: what it makes from which inputs, what it refuses and
 * which key or variable its message names, and what it asks the metadata service
 * (fake-imds.h, on 127.0.0.1; nothing unless AWS.Region is empty); and that
 * the reconciler's pass makes its clients through it. No request goes to an EC2 endpoint.
 */
#include "aws-clients.h"
#include "config.h"
#include "fake-imds.h"
#include "log.h"
#include "pass.h"
#include "rc-settings.h"
#include "test.h"

static void static_keys(void) {
        setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "unit-secret", 1);
        unsetenv("AWS_SESSION_TOKEN");
}

static void test_chain(void) {
        static const struct {
                const char *name;
                const char *region, *endpoint; /* NULL: empty */
                bool allow_plain_http;
                const char *imds_region;       /* what the metadata service tells; NULL: 404 */
                const char *metadata_endpoint; /* NULL: the server */
                bool no_secret;                /* AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY */
                int r;
                const char *ec2_endpoint;      /* the client's, when made */
                bool plain;                    /* the client sends plain http to a non-loopback host */
                const char *msg;               /* in the message (NULL: it is empty) */
                bool asks_region;              /* the metadata service is asked for the region */
        } cases[] = {
                { "AWS.Region configured: the metadata service is not touched", "us-east-1", NULL, false,
                  "eu-west-1", NULL, false, 0, "https://ec2.us-east-1.amazonaws.com/", false, NULL, false },
                { "AWS.Region empty: from the metadata service", NULL, NULL, false, "eu-west-1", NULL, false, 0,
                  "https://ec2.eu-west-1.amazonaws.com/", false, NULL, true },
                { "AWS.Region empty, the metadata service does not know", NULL, NULL, false, NULL, NULL, false,
                  -ENOENT, NULL, false, "AWS.Region is not set", true },
                { "plain http to loopback: no flag needed", "us-east-1", "http://127.0.0.1:1", false, NULL, NULL,
                  false, 0, "http://127.0.0.1:1", false, NULL, false },
                { "plain http elsewhere: refused", "us-east-1", "http://10.98.0.1:8080", false, NULL, NULL, false,
                  -EPROTONOSUPPORT, NULL, false, "AWS.Endpoint=http://10.98.0.1:8080", false },
                { "plain http elsewhere with AWS.AllowPlainHttp: made, with a warning", "us-east-1",
                  "http://10.98.0.1:8080", true, NULL, NULL, false, 1, "http://10.98.0.1:8080", true,
                  "AWS.Endpoint=http://10.98.0.1:8080", false },
                { "https elsewhere", "us-east-1", "https://10.98.0.1:8443", false, NULL, NULL, false, 0,
                  "https://10.98.0.1:8443", false, NULL, false },
                { "an endpoint that is not an http(s) URL", "us-east-1", "ftp://x", false, NULL, NULL, false,
                  -EINVAL, NULL, false, "AWS.Endpoint=ftp://x", false },
                { "an endpoint with user information", "us-east-1", "http://localhost:1@evil.example/", false,
                  NULL, NULL, false, -EINVAL, NULL, false, "AWS.Endpoint=http://localhost:1@evil.example/", false },
                { "a region that is not one", "us east 1", NULL, false, NULL, NULL, false, -EINVAL, NULL, false,
                  "AWS.Region=us east 1", false },
                { "a metadata endpoint that is not a URL", "us-east-1", NULL, false, NULL, "169.254.169.254", false,
                  -EINVAL, NULL, false, "AWS.MetadataEndpoint=169.254.169.254", false },
                { "AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY", "us-east-1", NULL, false, NULL, NULL, true,
                  -EINVAL, NULL, false, "AWS_ACCESS_KEY_ID", false },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_(aws_clients_done) AwsClients a = {};
                _cleanup_(freep) char *asked = NULL;
                char msg[256] = "garbage";
                AwsClientsSpec spec;
                int r;

                static_keys();
                if (cases[k].no_secret)
                        unsetenv("AWS_SECRET_ACCESS_KEY");
                fake_imds_start(&(const FakeImds) { .region = cases[k].imds_region });
                spec = (AwsClientsSpec) {
                        .region = cases[k].region,
                        .endpoint = cases[k].endpoint,
                        .metadata_endpoint = cases[k].metadata_endpoint ?: fake_imds_url,
                        .allow_plain_http = cases[k].allow_plain_http,
                };
                r = aws_clients_new(&spec, &a, msg, sizeof(msg));
                asked = fake_imds_stop();
                if (r != cases[k].r)
                        fprintf(stderr, "case '%s': %d, expected %d (%s)\n", cases[k].name, r, cases[k].r, msg);
                CHECK_INT(r, cases[k].r);
                if (cases[k].msg) {
                        if (!strstr(msg, cases[k].msg))
                                fprintf(stderr, "case '%s': message '%s'\n", cases[k].name, msg);
                        CHECK(strstr(msg, cases[k].msg) != NULL);
                } else
                        CHECK_STR(msg, "");
                if (r >= 0) {
                        CHECK(a.imds && a.creds && a.ec2);
                        if (a.ec2) {
                                CHECK_STR(ec2_client_endpoint(a.ec2), cases[k].ec2_endpoint);
                                CHECK_INT(ec2_client_endpoint_plain(a.ec2), cases[k].plain);
                        }
                } else
                        CHECK(!a.imds && !a.creds && !a.ec2); /* all or nothing */
                if (cases[k].asks_region)
                        CHECK(strstr(strempty(asked), "GET /latest/meta-data/placement/region ") != NULL);
                else {
                        if (!isempty(asked))
                                fprintf(stderr, "case '%s': the metadata service was asked:\n%s", cases[k].name, asked);
                        CHECK_STR(strempty(asked), ""); /* not even a token */
                }
        }
        static_keys();
}

/* No message buffer: the same answers. */
static void test_no_msg(void) {
        AwsClients a = {};
        AwsClientsSpec spec = { .region = "us-east-1", .endpoint = "http://10.98.0.1:8080",
                                .metadata_endpoint = "http://127.0.0.1:1" };

        static_keys();
        CHECK_INT(aws_clients_new(&spec, &a, NULL, 0), -EPROTONOSUPPORT);
        spec.allow_plain_http = true;
        CHECK_INT(aws_clients_new(&spec, &a, NULL, 0), 1);
        CHECK(a.ec2 != NULL);
        aws_clients_done(&a);
        CHECK(!a.imds && !a.creds && !a.ec2);
}

/* A raised cancel flag stops the region lookup: the pass that asked is being stopped. */
static void test_cancel(void) {
        _cleanup_(freep) char *asked = NULL;
        atomic_bool cancel = true;
        AwsClients a = {};
        char msg[256];
        AwsClientsSpec spec = { .cancel = &cancel };

        static_keys();
        fake_imds_start(&(const FakeImds) { .region = "eu-west-1" });
        spec.metadata_endpoint = fake_imds_url;
        CHECK_INT(aws_clients_new(&spec, &a, msg, sizeof(msg)), -ECANCELED);
        asked = fake_imds_stop();
        CHECK(!a.imds && !a.creds && !a.ec2);
        CHECK(strstr(msg, "AWS.Region") != NULL);
}

/* The pass (pass_ec2()) applies the same chain: plain http elsewhere refused with the
 * chain's message unless allowed; its clients kept for the next call. */
static int pass_from_config(const Config *c, Pass **ret) {
        _cleanup_(rc_settings_unrefp) RcSettings *s = NULL;
        int r = rc_settings_new(c, &s);
        return r < 0 ? r : pass_new(s, NULL, ret);
}

static void test_pass(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(pass_freep) Pass *p = NULL, *q = NULL;
        Ec2Client *first;

        static_keys();
        CHECK_INT(config_new(&c), 0);
        if (!c)
                return;
        CHECK_INT(config_set_value(c, CONFIG_AWS_REGION, "us-east-1", "test"), 0);
        CHECK_INT(config_set_value(c, CONFIG_AWS_METADATA_ENDPOINT, "http://127.0.0.1:1", "test"), 0);
        CHECK_INT(config_set_value(c, CONFIG_AWS_ENDPOINT, "http://10.98.0.1:8080", "test"), 0);

        CHECK_INT(pass_from_config(c, &p), 0);
        if (!p)
                return;
        CHECK_INT(pass_ec2(p), -EIO);
        CHECK(strstr(p->error, "AWS.Endpoint=http://10.98.0.1:8080") != NULL);
        CHECK(!p->clients.imds && !p->clients.creds && !p->clients.ec2 && !p->clients.key);

        CHECK_INT(config_set_value(c, CONFIG_AWS_ALLOW_PLAIN_HTTP, "yes", "test"), 0);
        CHECK_INT(pass_from_config(c, &q), 0);
        if (!q)
                return;
        CHECK_INT(pass_ec2(q), 0);
        CHECK_STR(q->error, "");
        CHECK(q->clients.imds && q->clients.creds && q->clients.ec2 && q->clients.key);
        if (!q->clients.ec2)
                return;
        CHECK(ec2_client_endpoint_plain(q->clients.ec2));
        first = q->clients.ec2;
        CHECK_INT(pass_ec2(q), 0); /* lent: the same clients */
        CHECK(q->clients.ec2 == first);
}

int main(void) {
        log_set_max_level(LOG_CRIT);
        test_chain();
        test_no_msg();
        test_cancel();
        test_pass();
        return test_done("aws-clients");
}
