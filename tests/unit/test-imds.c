/* SPDX-License-Identifier: MIT */
/* Metadata answers and credentials: parsing and the refresh rule, without a server. */
#include "creds.h"
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

static void test_timestamps(void) {
        uint64_t t;
        CHECK_INT(aws_parse_timestamp("1970-01-01T00:00:00Z", &t), 0);
        CHECK_INT(t, 0);
        CHECK_INT(aws_parse_timestamp("2024-02-29T12:00:01Z", &t), 0);
        CHECK_INT(t, 1709208001ULL * USEC_PER_SEC);
        CHECK_INT(aws_parse_timestamp("2024-02-29T12:00:01.250Z", &t), 0);
        CHECK_INT(t, 1709208001ULL * USEC_PER_SEC + 250000);
        CHECK_INT(aws_parse_timestamp("2024-02-29T12:00:01+00:00", &t), 0);
        CHECK_INT(aws_parse_timestamp("2024-02-29T12:00:01", &t), -EINVAL);
        CHECK_INT(aws_parse_timestamp("2024-02-29T12:00:01.Z", &t), -EINVAL);
        CHECK_INT(aws_parse_timestamp("2024-02-29 12:00:01Z", &t), -EINVAL);
        CHECK_INT(aws_parse_timestamp("2024-02-29T12:00:01Zjunk", &t), -EINVAL);
        CHECK_INT(aws_parse_timestamp("", &t), -EINVAL);
        CHECK_INT(aws_parse_timestamp(NULL, &t), -EINVAL);
}

static const char creds_json[] =
        "{\n"
        "  \"Code\" : \"Success\",\n"
        "  \"LastUpdated\" : \"2024-01-01T00:00:00Z\",\n"
        "  \"Type\" : \"AWS-HMAC\",\n"
        "  \"AccessKeyId\" : \"ASIAEXAMPLE\",\n"
        "  \"SecretAccessKey\" : \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\",\n"
        "  \"Token\" : \"IQoJb3JpZ2luX2VjEXAMPLE==\",\n"
        "  \"Expiration\" : \"2024-01-01T06:00:00Z\"\n"
        "}";

static void test_creds_json(void) {
        AwsCredentials c = AWS_CREDENTIALS_NULL;
        uint64_t before = 1704067200ULL * USEC_PER_SEC; /* 2024-01-01T00:00:00Z */

        CHECK_INT(creds_parse_imds_json(creds_json, strlen(creds_json), before, &c), 0);
        CHECK_STR(c.access_key_id, "ASIAEXAMPLE");
        CHECK_STR(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        CHECK_STR(c.session_token, "IQoJb3JpZ2luX2VjEXAMPLE==");
        CHECK_INT(c.expiration_usec, before + 6 * 3600 * USEC_PER_SEC);
        aws_credentials_done(&c);
        CHECK(c.access_key_id == NULL);

        /* Already expired. */
        CHECK_INT(creds_parse_imds_json(creds_json, strlen(creds_json), before + 7 * 3600 * USEC_PER_SEC, &c),
                  -EKEYREVOKED);

        static const char *const bad[] = {
                "",
                "{",
                "[]",
                "null",
                "{\"Code\":\"Success\"}",
                "{\"Code\":\"Failure\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2030-01-01T00:00:00Z\"}",
                "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}",
                "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"soon\"}",
                "{\"AccessKeyId\":1,\"SecretAccessKey\":\"S\",\"Expiration\":\"2030-01-01T00:00:00Z\"}",
                "{\"AccessKeyId\":\"\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2030-01-01T00:00:00Z\"}",
                "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2030-01-01T00:00:00Z\"} trailing",
                "{\"AccessKeyId\":\"A\\u0000B\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2030-01-01T00:00:00Z\"}",
                "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":[],\"Expiration\":\"2030-01-01T00:00:00Z\"}",
                "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2030-01-01T00:00:00Z\"", /* truncated */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                c = AWS_CREDENTIALS_NULL;
                int r = creds_parse_imds_json(bad[i], strlen(bad[i]), before, &c);
                if (r != -EBADMSG)
                        fprintf(stderr, "case %zu: %d\n", i, r);
                CHECK_INT(r, -EBADMSG);
                CHECK(c.access_key_id == NULL);
        }
        /* No token: long-term keys in the same shape are fine. */
        static const char no_token[] =
                "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2030-01-01T00:00:00Z\"}";
        CHECK_INT(creds_parse_imds_json(no_token, strlen(no_token), before, &c), 0);
        CHECK(c.session_token == NULL);
        aws_credentials_done(&c);
}

/* A fake source: hands out credentials expiring `ttl` after the fake clock. */
typedef struct Source {
        uint64_t now;
        uint64_t ttl;
        unsigned fetches;
        int fail; /* next fetches fail with this */
} Source;

static uint64_t source_now(void *userdata) {
        return ((Source *) userdata)->now;
}

static int source_fetch(void *userdata, AwsCredentials *ret) {
        Source *s = userdata;
        char akid[32];

        if (s->fail)
                return s->fail;
        s->fetches++;
        snprintf(akid, sizeof(akid), "ASIA%u", s->fetches);
        *ret = (AwsCredentials) { .access_key_id = strdup(akid), .secret_access_key = strdup("s"),
                                  .session_token = strdup("t"), .expiration_usec = s->now + s->ttl };
        return 0;
}

static void test_refresh(void) {
        const uint64_t MIN = 60 * USEC_PER_SEC;
        Source s = { .now = 1000 * USEC_PER_SEC, .ttl = 60 * MIN };
        _cleanup_(creds_provider_freep) CredsProvider *p = NULL;
        const AwsCredentials *c;

        CHECK_INT(creds_provider_new_custom(source_fetch, &s, &p), 0);
        creds_provider_set_clock(p, source_now, &s);
        CHECK_INT(creds_provider_source(p), CREDS_SOURCE_CUSTOM);

        CHECK_INT(creds_get(p, &c), 1); /* fetched */
        CHECK_STR(c->access_key_id, "ASIA1");
        CHECK_INT(creds_get(p, &c), 0); /* cached */
        CHECK_INT(s.fetches, 1);

        /* 6 minutes before Expiration: still good. */
        s.now += 54 * MIN;
        CHECK_INT(creds_get(p, &c), 0);
        CHECK_STR(c->access_key_id, "ASIA1");
        /* 5 minutes before (and less): refreshed. */
        s.now += 1 * MIN;
        CHECK_INT(creds_get(p, &c), 1);
        CHECK_STR(c->access_key_id, "ASIA2");
        CHECK_INT(s.fetches, 2);

        /* A failed refresh keeps still-valid credentials… */
        s.now += 57 * MIN; /* 3 min left */
        s.fail = -ETIMEDOUT;
        CHECK_INT(creds_get(p, &c), 0);
        CHECK_STR(c->access_key_id, "ASIA2");
        /* …but not expired ones. */
        s.now += 4 * MIN;
        CHECK_INT(creds_get(p, &c), -ETIMEDOUT);
        s.fail = -EKEYREVOKED;
        CHECK_INT(creds_get(p, &c), -EKEYEXPIRED);
        s.fail = 0;
        CHECK_INT(creds_get(p, &c), 1);
        CHECK_STR(c->access_key_id, "ASIA3");

        /* Refused by the server: fetched again even though not near expiry; on
         * failure the refused ones are not used again. */
        creds_invalidate(p);
        s.fail = -ECONNREFUSED;
        CHECK_INT(creds_get(p, &c), -ECONNREFUSED);
        s.fail = 0;
        CHECK_INT(creds_get(p, &c), 1);
        CHECK_STR(c->access_key_id, "ASIA4");

        /* A smaller margin (for tests against short-lived credentials). */
        creds_provider_set_refresh_margin(p, 10 * USEC_PER_SEC);
        s.now += 59 * MIN;
        CHECK_INT(creds_get(p, &c), 0);
        s.now += 50 * USEC_PER_SEC;
        CHECK_INT(creds_get(p, &c), 1);
        CHECK_STR(c->access_key_id, "ASIA5");
}

static void test_environment(void) {
        _cleanup_(creds_provider_freep) CredsProvider *p = NULL;
        const AwsCredentials *c;

        setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
        setenv("AWS_SESSION_TOKEN", "envtoken", 1);
        CHECK_INT(creds_provider_new(NULL, &p), 0);
        CHECK_INT(creds_provider_source(p), CREDS_SOURCE_ENVIRONMENT);
        CHECK_INT(creds_get(p, &c), 0);
        CHECK_STR(c->access_key_id, "AKIDENV");
        CHECK_STR(c->secret_access_key, "envsecret");
        CHECK_STR(c->session_token, "envtoken");
        CHECK_INT(c->expiration_usec, 0);
        creds_invalidate(p); /* nothing to fetch: still the same */
        CHECK_INT(creds_get(p, &c), 0);
        CHECK_STR(c->access_key_id, "AKIDENV");
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        unsetenv("AWS_SESSION_TOKEN");
}

int main(void) {
        test_values();
        test_new();
        test_timestamps();
        test_creds_json();
        test_refresh();
        test_environment();
        return test_done("imds");
}
