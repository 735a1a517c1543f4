/* SPDX-License-Identifier: MIT */
/*
 * Who this host is (identity.c): the empty [Host] keys and AWS.Region from a metadata
 * service on 127.0.0.1 (fake-imds.h; IMDSv2: a token, then the items): what is
 * filled, what configured keys keep, what is never asked, the region from the zone, and
 * -EADDRNOTAVAIL for an item missing or malformed. Against the fake EC2's IMDS:
 * tests/aws/test-identity-client.c.
 */
#include "config.h"
#include "fake-imds.h"
#include "identity.h"
#include "log.h"
#include "test.h"

#define ID "i-0123456789abcdef0"

static void test_resolve(void) {
        static const FakeImds full = { ID, "10.0.1.10", "us-east-1a", "us-east-1" },
                              no_region = { ID, "10.0.2.20", "eu-west-3b", NULL },
                              bad_ip = { ID, "10.0.1", "us-east-1a", "us-east-1" },
                              no_id = { NULL, "10.0.1.10", "us-east-1a", "us-east-1" },
                              bad_az = { ID, "10.0.1.10", "us east 1a", "us-east-1" };
        static const struct {
                const char *name;
                const FakeImds *imds;
                const char *id, *ip, *az, *region; /* configured; NULL: empty */
                int r;
                const char *want_id, *want_ip, *want_az, *want_region;
                const char *asked; /* the items asked, in order ("" none; NULL: not checked) */
        } cases[] = {
                { "nothing configured", &full, NULL, NULL, NULL, NULL, 0,
                  ID, "10.0.1.10", "us-east-1a", "us-east-1",
                  "instance-id local-ipv4 placement/availability-zone placement/region " },
                { "no region item: from the zone", &no_region, NULL, NULL, NULL, NULL, 0,
                  ID, "10.0.2.20", "eu-west-3b", "eu-west-3", NULL },
                { "configured keys win", &full, NULL, "10.9.9.9", NULL, "eu-north-1", 0,
                  ID, "10.9.9.9", "us-east-1a", "eu-north-1", "instance-id placement/availability-zone " },
                { "a host configured in full never asks", &full, "i-0fedcba9876543210", "10.9.9.9", "eu-north-1c", NULL, 0,
                  "i-0fedcba9876543210", "10.9.9.9", "eu-north-1c", "", "" },
                { "a malformed address", &bad_ip, NULL, NULL, NULL, NULL, -EADDRNOTAVAIL,
                  NULL, NULL, NULL, NULL, NULL },
                { "a malformed zone", &bad_az, ID, "10.0.1.10", NULL, NULL, -EADDRNOTAVAIL,
                  ID, "10.0.1.10", NULL, NULL, "placement/availability-zone " },
                { "no instance id", &no_id, NULL, NULL, NULL, NULL, -EADDRNOTAVAIL, NULL, NULL, NULL, NULL,
                  "instance-id " },
                { "no region item, a zone that names none", &no_region, ID, NULL, "nozone", NULL, -EADDRNOTAVAIL,
                  ID, "10.0.2.20", "nozone", NULL, "local-ipv4 placement/region " },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_(freep) char *log = NULL;
                char asked[512] = "";
                int r;

                fake_imds_start(cases[k].imds);
                CHECK_INT(config_new(&c), 0);
                if (!c)
                        continue;
                CHECK_INT(config_set_value(c, CONFIG_AWS_METADATA_ENDPOINT, fake_imds_url, "test"), 0);
                if (cases[k].id)
                        CHECK_INT(config_set_value(c, CONFIG_HOST_INSTANCE_ID, cases[k].id, "test"), 0);
                if (cases[k].ip)
                        CHECK_INT(config_set_value(c, CONFIG_HOST_PRIVATE_IP, cases[k].ip, "test"), 0);
                if (cases[k].az)
                        CHECK_INT(config_set_value(c, CONFIG_HOST_AZ, cases[k].az, "test"), 0);
                if (cases[k].region)
                        CHECK_INT(config_set_value(c, CONFIG_AWS_REGION, cases[k].region, "test"), 0);

                r = identity_resolve(c);
                log = fake_imds_stop();
                if (r != cases[k].r)
                        fprintf(stderr, "identity, case '%s': %d, expected %d\n", cases[k].name, r, cases[k].r);
                CHECK_INT(r, cases[k].r);
                if (cases[k].want_id)
                        CHECK_STR(c->instance_id, cases[k].want_id);
                if (cases[k].want_ip)
                        CHECK_STR(c->private_ip, cases[k].want_ip);
                if (cases[k].want_az)
                        CHECK_STR(c->availability_zone, cases[k].want_az);
                if (cases[k].want_region)
                        CHECK_STR(c->region, cases[k].want_region);
                if (r == 0 && !cases[k].ip)
                        CHECK_STR(c->source[CONFIG_HOST_PRIVATE_IP], "metadata service");
                if (r == 0 && cases[k].ip)
                        CHECK_STR(c->source[CONFIG_HOST_PRIVATE_IP], "test");

                /* the items asked, without the token requests */
                for (const char *p = log; p && (p = strstr(p, "GET /latest/meta-data/")); p++) {
                        p += strlen("GET /latest/meta-data/");
                        strncat(asked, p, strcspn(p, " "));
                        strcat(asked, " ");
                }
                if (cases[k].asked) {
                        if (!streq(asked, cases[k].asked))
                                fprintf(stderr, "identity, case '%s': asked '%s'\n", cases[k].name, asked);
                        CHECK_STR(asked, cases[k].asked);
                }
                if (streq_ptr(cases[k].asked, ""))
                        CHECK_STR(strempty(log), ""); /* not even a token */
        }
}

/* A metadata endpoint that is not a URL: refused before any request. */
static void test_bad_endpoint(void) {
        _cleanup_(config_freep) Config *c = NULL;

        CHECK_INT(config_new(&c), 0);
        if (!c)
                return;
        CHECK_INT(free_and_strdup(&c->metadata_endpoint, "169.254.169.254"), 0);
        CHECK_INT(identity_resolve(c), -EINVAL);
        CHECK(c->instance_id == NULL || streq(c->instance_id, ""));
}

int main(void) {
        log_set_max_level(LOG_CRIT); /* the failures are logged: expected */
        test_resolve();
        test_bad_endpoint();
        return test_done("identity");
}
