/* SPDX-License-Identifier: MIT */
/*
 * The metadata service client (agent/imds.c) against the fake's IMDS: the items, user
 * data, the role and its credentials answer, IMDSv2 tokens renewed before use, 5xx
 * retried and bounded, a caller it does not know, nobody listening. Against the garbage
 * server: tokens and values that are not, a refused token, and the role and credentials
 * answers as creds.c reads them through it (a role name that would walk the URL, JSON
 * malformed, failed, expired or cut off).
 * Cancelling a slow token answer: test-ec2-garbage-client.c (test_cancel).
 */
#include "aws-test-lib.h"
#include "imds.h"

/* ------------------------------------------------------------ IMDS */

static void test_imds(void) {
        _cleanup_(imds_freep) Imds *m = NULL;
        _cleanup_(freep) char *id = NULL, *v = NULL, *ud = NULL, *role = NULL;
        _cleanup_(erase_and_freep) char *json = NULL;
        Sleeps sleeps = {};
        size_t n;

        reset_fake();
        id = seed_instance("10.0.2.20", "us-east-1b", NULL);
        control_void("POST", "/_fake/imds", "{\"source\": \"127.0.0.1\", \"instance\": \"%s\"}", id);

        CHECK_INT(imds_new(fake.url, &m), 0);
        imds_set_sleep(m, record_sleep, &sleeps);
        CHECK_INT(imds_get_value(m, IMDS_INSTANCE_ID, &v), 0);
        CHECK_STR(v, id);
        free(v);
        CHECK_INT(imds_get_value(m, IMDS_LOCAL_IPV4, &v), 0);
        CHECK_STR(v, "10.0.2.20");
        free(v);
        CHECK_INT(imds_get_value(m, IMDS_AVAILABILITY_ZONE, &v), 0);
        CHECK_STR(v, "us-east-1b");
        free(v);
        CHECK_INT(imds_get_value(m, IMDS_REGION, &v), 0);
        CHECK_STR(v, "us-east-1");
        free(v);
        v = NULL;

        /* User data: none, then some (binary-safe). */
        CHECK_INT(imds_user_data(m, &ud, &n), -ENOENT);
        control_void("POST", "/_fake/user-data", "{\"instance\": \"%s\", \"data_base64\": \"%s\"}", id,
                     "I2Nsb3VkLWNvbmZpZwAB/w=="); /* "#cloud-config\0\1\377" */
        CHECK_INT(imds_user_data(m, &ud, &n), 0);
        CHECK_INT(n, 16);
        CHECK(ud && memcmp(ud, "#cloud-config\0\1\377", 16) == 0);

        /* The role and its credentials. */
        CHECK_INT(imds_role_name(m, &role), 0);
        CHECK_STR(role, "swarmkeeper-role");
        CHECK_INT(imds_role_credentials_json(m, role, &json, &n), 0);
        AwsCredentials c = AWS_CREDENTIALS_NULL;
        CHECK_INT(creds_parse_imds_json(json, n, now_usec(CLOCK_REALTIME), &c), 0);
        CHECK(c.session_token != NULL);
        CHECK(startswith(strempty(c.access_key_id), "ASIA") != NULL);
        aws_credentials_done(&c);

        /* No such item. */
        CHECK_INT(imds_get(m, "meta-data/nope", &v, NULL), -ENOENT);
        CHECK_INT(sleeps.n, 0);
}

static void test_imds_token(void) {
        _cleanup_(imds_freep) Imds *m = NULL;
        _cleanup_(freep) char *id = NULL, *url = NULL;
        HttpResponse resp = HTTP_RESPONSE_NULL;
        Sleeps sleeps = {};
        char *v = NULL;

        reset_fake();
        id = seed_instance("10.0.1.21", "us-east-1a", NULL);
        control_void("POST", "/_fake/imds", "{\"source\": \"127.0.0.1\", \"instance\": \"%s\"}", id);

        /* The fake insists on IMDSv2: a GET without a token is refused. */
        CHECK(asprintf(&url, "%s/latest/meta-data/instance-id", fake.url) > 0);
        HttpRequest req = { .url = url };
        CHECK_INT(http_perform(&req, &resp), 0);
        CHECK_INT(resp.status, 401);
        http_response_done(&resp);

        /* A token of 1 s: renewed before use, every time. */
        CHECK_INT(imds_new(fake.url, &m), 0);
        imds_set_sleep(m, record_sleep, &sleeps);
        imds_set_token_ttl(m, 1);
        CHECK_INT(imds_get_value(m, IMDS_INSTANCE_ID, &v), 0);
        free(v);
        msleep(1200);
        CHECK_INT(imds_get_value(m, IMDS_INSTANCE_ID, &v), 0);
        CHECK_STR(v, id);
        free(v);

        /* 5xx from the metadata service: retried. */
        control_void("POST", "/_fake/faults", "{\"action\": \"IMDS\", \"status\": 500, \"count\": 2}");
        imds_set_token_ttl(m, 60);
        CHECK_INT(imds_get_value(m, IMDS_INSTANCE_ID, &v), 0);
        free(v);
        CHECK_INT(sleeps.n, 2);
        /* …but not forever. */
        sleeps.n = 0;
        control_void("POST", "/_fake/faults", "{\"action\": \"IMDS\", \"status\": 503, \"count\": 5}");
        CHECK_INT(imds_get_value(m, IMDS_LOCAL_IPV4, &v), -EREMOTEIO);
        CHECK_INT(sleeps.n, 2); /* 3 attempts */
        control_void("DELETE", "/_fake/faults", NULL);

        /* A caller the metadata service does not know. */
        control_void("POST", "/_fake/imds", "{\"source\": \"127.0.0.1\", \"instance\": null}");
        imds_set_token_ttl(m, 60); /* drops the token */
        CHECK_INT(imds_get_value(m, IMDS_INSTANCE_ID, &v), -EREMOTEIO);

        /* Nobody listening: a transport error, after the retries. */
        Imds *dead = NULL;
        sleeps.n = 0;
        CHECK_INT(imds_new("http://127.0.0.1:1", &dead), 0);
        imds_set_sleep(dead, record_sleep, &sleeps);
        CHECK_INT(imds_get_value(dead, IMDS_INSTANCE_ID, &v), -ECONNREFUSED);
        CHECK_INT(sleeps.n, 2);
        imds_free(dead);
}

static void test_garbage_imds(void) {
        _cleanup_(imds_freep) Imds *m = NULL;
        Sleeps sleeps = {};
        char *v = NULL;

        CHECK_INT(imds_new(garbage.url, &m), 0);
        imds_set_sleep(m, record_sleep, &sleeps);

        /* A token with spaces or control characters is not a token. */
        (void) fake_control(&garbage, "DELETE", "/_script", NULL, NULL);
        script("[{\"status\": 200, \"body\": \"two words\"}]");
        CHECK_INT(imds_get_value(m, IMDS_INSTANCE_ID, &v), -EBADMSG);
        script("[{\"status\": 200, \"body\": \"\"}]");
        CHECK_INT(imds_get_value(m, IMDS_INSTANCE_ID, &v), -EBADMSG);
        /* IMDSv1-only or blocked: the token PUT is refused. */
        script("[{\"status\": 403, \"body\": \"Forbidden\"}]");
        CHECK_INT(imds_get_value(m, IMDS_INSTANCE_ID, &v), -EACCES);

        /* A good token, then nonsense values. */
        script("[{\"status\": 200, \"body\": \"TOKEN\"}, {\"status\": 200, \"body\": \"<html>hello</html>\"},"
               " {\"status\": 200, \"body\": \"10.0.1.999\"}, {\"status\": 200, \"body\": \"us east\"}]");
        CHECK_INT(imds_get_value(m, IMDS_INSTANCE_ID, &v), -EBADMSG);
        CHECK_INT(imds_get_value(m, IMDS_LOCAL_IPV4, &v), -EBADMSG);
        CHECK_INT(imds_get_value(m, IMDS_AVAILABILITY_ZONE, &v), -EBADMSG);

        /* Refused token: one fresh token, one more try, then -EACCES. */
        script("[{\"status\": 401}, {\"status\": 200, \"body\": \"TOKEN2\"}, {\"status\": 401}]");
        CHECK_INT(imds_get_value(m, IMDS_INSTANCE_ID, &v), -EACCES);
        /* …or success on the second try. */
        script("[{\"status\": 200, \"body\": \"TOKEN3\"}, {\"status\": 401}, {\"status\": 200, \"body\": \"TOKEN4\"},"
               " {\"status\": 200, \"body\": \"i-0123456789abcdef0\"}]");
        imds_set_token_ttl(m, 60);
        CHECK_INT(imds_get_value(m, IMDS_INSTANCE_ID, &v), 0);
        CHECK_STR(v, "i-0123456789abcdef0");
        free(v);
        v = NULL;

        /* A role name that would walk the URL; credentials JSON malformed and truncated. */
        _cleanup_(creds_provider_freep) CredsProvider *p = NULL;
        const AwsCredentials *c;
        no_env_keys();
        CHECK_INT(creds_provider_new(m, &p), 0);
        script("[{\"status\": 200, \"body\": \"../../etc\"}]");
        CHECK_INT(creds_get(p, &c), -EBADMSG);
        static const char *const bodies[] = {
                "{\\\"Code\\\": \\\"Success\\\", \\\"AccessKeyId\\\": \\\"ASIA\\\"",
                "not json",
                "{\\\"Code\\\": \\\"Failure\\\", \\\"Message\\\": \\\"no\\\"}",
                "{\\\"AccessKeyId\\\": \\\"ASIA\\\", \\\"SecretAccessKey\\\": \\\"s\\\", \\\"Expiration\\\": \\\"2001-01-01T00:00:00Z\\\"}",
        };
        script("[{\"status\": 200, \"body\": \"role\"}]"); /* looked up once, then remembered */
        for (size_t k = 0; k < ELEMENTSOF(bodies); k++) {
                char s[512];
                snprintf(s, sizeof(s), "[{\"status\": 200, \"body\": \"%s\"}]", bodies[k]);
                script(s);
                int r = creds_get(p, &c);
                CHECK(r == -EBADMSG || (k == 3 && r == -EKEYEXPIRED));
        }
        /* Cut off mid-answer: retried (transport error), then good. */
        script("[{\"status\": 200, \"body\": \"{\\\"AccessKeyId\\\": \\\"ASIAX\\\"}\", \"truncate\": 5},"
               " {\"status\": 200, \"body\": \"{\\\"AccessKeyId\\\": \\\"ASIAX\\\", \\\"SecretAccessKey\\\": \\\"s\\\", \\\"Token\\\": \\\"t\\\", \\\"Expiration\\\": \\\"2099-01-01T00:00:00Z\\\"}\"}]");
        CHECK_INT(creds_get(p, &c), 1);
        CHECK_STR(c->access_key_id, "ASIAX");
        (void) fake_control(&garbage, "DELETE", "/_script", NULL, NULL);
}

/* ------------------------------------------------------------ main */

int main(void) {
        static const AwsTest tests[] = {
                AWS_TEST(test_imds),
                AWS_TEST(test_imds_token),
                AWS_TEST(test_garbage_imds),
                {},
        };

        return aws_test_main("imds-client", AWS_TEST_FAKE | AWS_TEST_GARBAGE, tests);
}
