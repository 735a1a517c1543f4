/* SPDX-License-Identifier: MIT */
/* Credentials (creds.c): AWS timestamps, the metadata service's credentials answer, the
 * refresh rule on a fake clock and source, the environment's keys; without a server (the
 * instance role against the fake IMDS is in tests/aws/test-creds-client.c). */
#include "creds.h"
#include "test.h"

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

/* The environment: a whole key pair, half of one (a configuration error), or none (the
 * instance role, which needs a metadata service). */
static void test_environment_errors(void) {
        CredsProvider *p = NULL;

        setenv("AWS_ACCESS_KEY_ID", "AKIDUNIT", 1);
        unsetenv("AWS_SECRET_ACCESS_KEY");
        unsetenv("AWS_SESSION_TOKEN");
        CHECK_INT(creds_provider_new(NULL, &p), -EINVAL);
        CHECK(p == NULL);
        setenv("AWS_ACCESS_KEY_ID", "", 1); /* empty: not set */
        CHECK_INT(creds_provider_new(NULL, &p), -ENOKEY);
        unsetenv("AWS_ACCESS_KEY_ID");
        CHECK_INT(creds_provider_new(NULL, &p), -ENOKEY);
        CHECK(p == NULL);

        /* No session token: long-term keys, which never expire. */
        const AwsCredentials *c;
        setenv("AWS_ACCESS_KEY_ID", "AKIDLONG", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
        CHECK_INT(creds_provider_new(NULL, &p), 0);
        CHECK_INT(creds_get(p, &c), 0);
        CHECK(c->session_token == NULL);
        CHECK_INT(c->expiration_usec, 0);
        p = creds_provider_free(p);
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");

        /* Dropped credentials are NULL again; dropping twice is fine. */
        AwsCredentials x = { .access_key_id = strdup("A"), .secret_access_key = strdup("S"),
                             .session_token = strdup("T"), .expiration_usec = 1 };
        aws_credentials_done(&x);
        CHECK(!x.access_key_id && !x.secret_access_key && !x.session_token);
        CHECK_INT(x.expiration_usec, 0);
        aws_credentials_done(&x);
}

int main(void) {
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        unsetenv("AWS_SESSION_TOKEN");
        test_timestamps();
        test_creds_json();
        test_refresh();
        test_environment();
        test_environment_errors();
        return test_done("creds");
}
