/* SPDX-License-Identifier: MIT */
/* Metadata answers: the values and the endpoint, without a server (credentials: test-creds.c;
 * against the fake's IMDS and a garbage server: tests/aws/test-imds-client.c). */
#include "imds.h"
#include "test.h"

static void test_values(void) {
        static const struct {
                ImdsKey key;
                const char *in, *out;
        } good[] = {
                { IMDS_INSTANCE_ID, "i-0123456789abcdef0", "i-0123456789abcdef0" },
                { IMDS_INSTANCE_ID, "i-12345678\n", "i-12345678" },
                { IMDS_LOCAL_IPV4, "10.0.1.10", "10.0.1.10" },
                { IMDS_AVAILABILITY_ZONE, "us-east-1a", "us-east-1a" },
                { IMDS_AVAILABILITY_ZONE, "us-west-2-lax-1a", "us-west-2-lax-1a" },
                { IMDS_REGION, "eu-central-1", "eu-central-1" },
        };
        static const struct {
                ImdsKey key;
                const char *in;
        } bad[] = {
                { IMDS_INSTANCE_ID, "" },
                { IMDS_INSTANCE_ID, "i-0123" },
                { IMDS_INSTANCE_ID, "i-0123456789ABCDEF0" },
                { IMDS_INSTANCE_ID, "<html>404</html>" },
                { IMDS_LOCAL_IPV4, "10.0.1" },
                { IMDS_LOCAL_IPV4, "10.0.1.256" },
                { IMDS_LOCAL_IPV4, "fe80::1" },
                { IMDS_AVAILABILITY_ZONE, "us east 1a" },
                { IMDS_AVAILABILITY_ZONE, "us-east-1a/../../x" },
                { IMDS_AVAILABILITY_ZONE, "-us" },
                { IMDS_REGION, "US-EAST-1" },
                { IMDS_REGION, "a" },
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_(freep) char *v = NULL;
                CHECK_INT(imds_parse_value(good[i].key, good[i].in, strlen(good[i].in), &v), 0);
                CHECK_STR(v, good[i].out);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *v = NULL;
                CHECK_INT(imds_parse_value(bad[i].key, bad[i].in, strlen(bad[i].in), &v), -EBADMSG);
                CHECK(v == NULL);
        }
        char *v = NULL;
        CHECK_INT(imds_parse_value(IMDS_LOCAL_IPV4, "10.0.1.1\0x", 10, &v), -EBADMSG);
        char big[512];
        memset(big, 'a', sizeof(big));
        CHECK_INT(imds_parse_value(IMDS_REGION, big, sizeof(big), &v), -EBADMSG);
        CHECK_STR(imds_key_path(IMDS_REGION), "meta-data/placement/region");
        CHECK(imds_key_path(_IMDS_KEY_MAX) == NULL);
}

static void test_new(void) {
        Imds *m = NULL;
        CHECK_INT(imds_new("", &m), -EINVAL);
        CHECK_INT(imds_new("169.254.169.254", &m), -EINVAL);
        CHECK_INT(imds_new("http://127.0.0.1:1///", &m), 0);
        CHECK_STR(imds_endpoint(m), "http://127.0.0.1:1");
        imds_free(m);
}

int main(void) {
        test_values();
        test_new();
        return test_done("imds");
}
