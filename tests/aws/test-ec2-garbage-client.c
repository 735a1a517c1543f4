/* SPDX-License-Identifier: MIT */
/*
 * The EC2 client (agent/ec2.c) against a scripted server that answers garbage
 * (garbage_server.py): malformed and truncated answers are an error, never a shorter
 * list; listings that do not end (a nextToken cycle, the page cap, the deadline);
 * cancelling mid-request, mid-backoff, before the call, and a slow IMDS token answer
 * (imds.c, as role credentials are refreshed on the same thread).
 * The calls against the fake EC2: test-ec2-client.c.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "aws-test-lib.h"
#include "imds.h"

/* ------------------------------------------------------------ garbage answers */

static void test_garbage_ec2(void) {
        Env e;
        Ec2InstanceList l = {};
        Ec2Instance i = {};
        const char *trunc =
                "<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId>";

        use_static_keys();
        e = (Env) {};
        CHECK_INT(creds_provider_new(NULL, &e.creds), 0);
        CHECK_INT(ec2_client_new("us-east-1", garbage.url, e.creds, &e.ec2), 0);
        ec2_client_set_sleep(e.ec2, record_sleep, &e.sleeps);
        ec2_client_set_retry(e.ec2, 2, 1000, 1000);

        struct {
                const char *script;
                int expect;
        } cases[] = {
                /* 200 with a truncated listing: an error, never a shorter list */
                { NULL, -EBADMSG },
                { "[{\"status\": 200, \"body\": \"this is not xml\"}]", -EBADMSG },
                { "[{\"status\": 200, \"body\": \"\"}]", -EBADMSG },
                { "[{\"status\": 200, \"body_b64\": \"AAECAwQFBgcICQ==\"}]", -EBADMSG },
                /* entity expansion refused */
                { "[{\"status\": 200, \"body\": \"<!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;'>]>"
                  "<DescribeInstancesResponse><reservationSet>&b;</reservationSet></DescribeInstancesResponse>\"}]",
                  -EBADMSG },
                /* an error document in a 200 */
                { "[{\"status\": 200, \"body\": \"<Response><Errors><Error><Code>X</Code></Error></Errors></Response>\"}]",
                  -EBADMSG },
                /* a proxy's 502 page: retried (5xx), then given up */
                { "[{\"status\": 502, \"body\": \"<html>Bad Gateway</html>\"}, {\"status\": 502, \"body\": \"<html>Bad Gateway</html>\"}]",
                  -EAGAIN },
                /* garbage 400: final */
                { "[{\"status\": 400, \"body\": \"nope\"}]", -EREMOTEIO },
                /* cut off mid-answer: a transport error, retried, then fine */
                { "[{\"status\": 200, \"body\": \"<DescribeInstancesResponse><reservationSet/></DescribeInstancesResponse>\", \"truncate\": 30},"
                  " {\"status\": 200, \"body\": \"<DescribeInstancesResponse><reservationSet/></DescribeInstancesResponse>\"}]",
                  0 },
                /* a NextToken that does not advance: refused instead of looping */
                { "[{\"status\": 200, \"body\": \"<DescribeInstancesResponse><reservationSet/><nextToken>t1</nextToken></DescribeInstancesResponse>\"},"
                  " {\"status\": 200, \"body\": \"<DescribeInstancesResponse><reservationSet/><nextToken>t1</nextToken></DescribeInstancesResponse>\"}]",
                  -EBADMSG },
                /* a good first page and a broken second: no partial listing */
                { "[{\"status\": 200, \"body\": \"<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId>"
                  "<instanceState><name>running</name></instanceState></item></instancesSet></item></reservationSet><nextToken>t1</nextToken>"
                  "</DescribeInstancesResponse>\"}, {\"status\": 200, \"body\": \"<DescribeInstancesResponse>\"}]",
                  -EBADMSG },
        };
        char first[512];
        snprintf(first, sizeof(first), "[{\"status\": 200, \"body\": \"%s\"}]", trunc);
        cases[0].script = first;

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                (void) fake_control(&garbage, "DELETE", "/_script", NULL, NULL);
                script(cases[k].script);
                l = (Ec2InstanceList) { .n = 4242 };
                int r = ec2_describe_instances(e.ec2, NULL, NULL, &l);
                if (r != cases[k].expect)
                        fprintf(stderr, "garbage case %zu: %d (%s)\n", k, r, strerror(-r));
                CHECK_INT(r, cases[k].expect);
                if (r < 0)
                        CHECK_INT(l.n, 4242);
                else
                        ec2_instance_list_done(&l);
        }
        CHECK_STR(ec2_client_last_error(e.ec2)->action, "DescribeInstances");

        /* Other calls' answers, malformed. */
        (void) fake_control(&garbage, "DELETE", "/_script", NULL, NULL);
        script("[{\"status\": 200, \"body\": \"<RunInstancesResponse><instancesSet/></RunInstancesResponse>\"},"
               " {\"status\": 200, \"body\": \"<AttachVolumeResponse><volumeId>vol-1</volumeId><status>stuck</status></AttachVolumeResponse>\"},"
               " {\"status\": 200, \"body\": \"<CreateTagsResponse><return>false</return></CreateTagsResponse>\"},"
               " {\"status\": 200, \"body\": \"<TerminateInstancesResponse><instancesSet/></TerminateInstancesResponse>\"},"
               " {\"status\": 200, \"body\": \"<CreateVolumeResponse><volumeId>vol-1</volumeId></CreateVolumeResponse>\"}]");
        Ec2RunSpec spec = { .image_id = "ami-12345678" };
        CHECK_INT(ec2_run_instances(e.ec2, &spec, &i), -EBADMSG);
        CHECK_INT(ec2_attach_volume(e.ec2, "vol-1", "i-1", "/dev/sdf", NULL), -EBADMSG);
        char *res[] = { (char *) "i-1", NULL }, *tags[] = { (char *) "k", (char *) "v", NULL };
        CHECK_INT(ec2_create_tags(e.ec2, res, tags), -EBADMSG);
        CHECK_INT(ec2_terminate_instances(e.ec2, res), -EBADMSG);
        Ec2VolumeSpec vs = { .availability_zone = "us-east-1a", .size_gib = 1 };
        Ec2Volume v;
        CHECK_INT(ec2_create_volume(e.ec2, &vs, &v), -EBADMSG);

        /* The signed request carried no Expect header and a session token when there was one. */
        struct json_object *log = NULL;
        CHECK_INT(fake_control(&garbage, "GET", "/_log", NULL, &log), 200);
        size_t n = json_object_array_length(log);
        CHECK(n > 0);
        if (n > 0) {
                const char *h = json_object_to_json_string(json_object_array_get_idx(log, n - 1));
                CHECK(strstr(h, "\"authorization\"") != NULL);
                CHECK(strstr(h, "\"x-amz-date\"") != NULL);
                CHECK(strstr(h, "\"expect\"") == NULL);
                CHECK(strstr(h, "x-amz-security-token") == NULL);
        }
        json_object_put(log);
        env_close(&e);
}

/* ------------------------------------------------------------ listings that do not end, cancel */

/* How many requests the garbage server has seen. */
static size_t garbage_requests(void) {
        struct json_object *log = NULL;
        size_t n = 0;
        if (fake_control(&garbage, "GET", "/_log", NULL, &log) == 200 && log)
                n = json_object_array_length(log);
        json_object_put(log);
        return n;
}

/* A DescribeInstances page with one instance and, if token, a nextToken. */
static char *instances_page_json(const char *id, const char *token, double delay) {
        char *s = NULL;
        if (asprintf(&s,
                     "{\"status\": 200, \"delay\": %.2f, \"body\": \"<DescribeInstancesResponse><reservationSet><item>"
                     "<instancesSet><item><instanceId>%s</instanceId><instanceState><name>running</name>"
                     "</instanceState></item></instancesSet></item></reservationSet>%s%s%s"
                     "</DescribeInstancesResponse>\"}",
                     delay, id, token ? "<nextToken>" : "", strempty(token), token ? "</nextToken>" : "") < 0)
                return NULL;
        return s;
}

static void script_pages(const char *const *tokens, size_t n, double delay) {
        _cleanup_(strv_freep) char **items = NULL;
        _cleanup_(freep) char *joined = NULL, *all = NULL;
        for (size_t k = 0; k < n; k++) {
                char id[32];
                snprintf(id, sizeof(id), "i-%zu", k);
                CHECK_INT(strv_consume(&items, instances_page_json(id, tokens[k], delay)), 0);
        }
        joined = strv_join(items, ", ");
        CHECK(asprintf(&all, "[%s]", strempty(joined)) > 0);
        script(all);
}

static void garbage_env(Env *e) {
        use_static_keys();
        *e = (Env) {};
        CHECK_INT(creds_provider_new(NULL, &e->creds), 0);
        CHECK_INT(ec2_client_new("us-east-1", garbage.url, e->creds, &e->ec2), 0);
        ec2_client_set_sleep(e->ec2, record_sleep, &e->sleeps);
        ec2_client_set_retry(e->ec2, 2, 1000, 1000);
        (void) fake_control(&garbage, "DELETE", "/_script", NULL, NULL);
}

static void test_listing_limits(void) {
        Env e;
        Ec2InstanceList l = {};
        size_t before;
        uint64_t t0;

        garbage_env(&e);

        /* A nextToken cycle A→B→A: refused at the first repeat, after 3 requests (it used
         * to run 10,000 signed requests). */
        static const char *const cycle[] = { "A", "B", "A", "B", "A", NULL };
        script_pages(cycle, 5, 0);
        before = garbage_requests();
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), -EBADMSG);
        CHECK_INT(garbage_requests() - before, 3);
        CHECK(strstr(ec2_client_last_error(e.ec2)->message, "seen before") != NULL);
        CHECK_INT(l.n, 0);
        CHECK_INT(e.sleeps.n, 0);
        (void) fake_control(&garbage, "DELETE", "/_script", NULL, NULL);

        /* A token that repeats itself at once. */
        static const char *const same[] = { "A", "A", NULL };
        script_pages(same, 2, 0);
        before = garbage_requests();
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), -EBADMSG);
        CHECK_INT(garbage_requests() - before, 2);
        (void) fake_control(&garbage, "DELETE", "/_script", NULL, NULL);

        /* Ever new tokens: the page cap. */
        static const char *const many[] = { "t1", "t2", "t3", "t4", "t5", NULL };
        ec2_client_set_listing_limits(e.ec2, 3, 0);
        script_pages(many, 5, 0);
        before = garbage_requests();
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), -E2BIG);
        CHECK_INT(garbage_requests() - before, 3);
        (void) fake_control(&garbage, "DELETE", "/_script", NULL, NULL);
        /* …and within the cap the pages add up. */
        static const char *const three[] = { "t1", "t2", NULL };
        script_pages(three, 3, 0);
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), 0);
        CHECK_INT(l.n, 3);
        if (l.n == 3)
                CHECK_STR(l.items[2].instance_id, "i-2");
        ec2_instance_list_done(&l);

        /* Slow pages: the listing's deadline (1 s) stops it, also mid-request. */
        ec2_client_set_listing_limits(e.ec2, 0, 1 * USEC_PER_SEC);
        script_pages(many, 5, 0.4);
        before = garbage_requests();
        t0 = now_usec(CLOCK_MONOTONIC);
        int r = ec2_describe_instances(e.ec2, NULL, NULL, &l);
        CHECK(r == -ETIME || r == -ETIMEDOUT);
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 < 1500 * USEC_PER_MSEC);
        CHECK(garbage_requests() - before <= 3);
        CHECK_INT(l.n, 0);
        msleep(500); /* let the server finish the abandoned answer */
        (void) fake_control(&garbage, "DELETE", "/_script", NULL, NULL);
        ec2_client_set_listing_limits(e.ec2, 0, 0);

        /* DescribeSubnets: two pages into one list. */
        script("[{\"status\": 200, \"body\": \"<DescribeSubnetsResponse><subnetSet><item><subnetId>subnet-a</subnetId>"
               "<cidrBlock>10.0.1.0/24</cidrBlock><availabilityZone>us-east-1a</availabilityZone><vpcId>vpc-1</vpcId>"
               "</item></subnetSet><nextToken>S2</nextToken></DescribeSubnetsResponse>\"},"
               " {\"status\": 200, \"body\": \"<DescribeSubnetsResponse><subnetSet><item><subnetId>subnet-b</subnetId>"
               "<cidrBlock>10.0.2.0/24</cidrBlock><availabilityZone>us-east-1b</availabilityZone>"
               "<tagSet><item><key>swarmkeeper:cluster</key><value>g</value></item></tagSet>"
               "</item></subnetSet></DescribeSubnetsResponse>\"}]");
        Ec2SubnetList sl = {};
        const Ec2Filter vpc[] = { { "vpc-id", EC2_VALUES("vpc-1") }, {} };
        CHECK_INT(ec2_describe_subnets(e.ec2, NULL, vpc, &sl), 0);
        CHECK_INT(sl.n, 2);
        if (sl.n == 2) {
                CHECK_STR(sl.items[0].cidr_block, "10.0.1.0/24");
                CHECK_STR(sl.items[1].subnet_id, "subnet-b");
                CHECK_STR(ec2_tags_get(sl.items[1].tags, EC2_TAG_CLUSTER), "g");
        }
        ec2_subnet_list_done(&sl);
        env_close(&e);
}

typedef struct Raiser {
        atomic_bool *flag;
        unsigned after_msec;
} Raiser;

static void *raise_later(void *userdata) {
        Raiser *x = userdata;
        msleep(x->after_msec);
        atomic_store(x->flag, true);
        return NULL;
}

/* Runs describe_instances with the flag raised from another thread after 300 ms;
 * returns how long the call took. */
static uint64_t describe_cancelled(Env *e, atomic_bool *flag, int *ret_r) {
        Raiser x = { flag, 300 };
        Ec2InstanceList l = {};
        pthread_t t;
        uint64_t t0;

        atomic_store(flag, false);
        ec2_client_set_cancel(e->ec2, flag);
        CHECK_INT(pthread_create(&t, NULL, raise_later, &x), 0);
        t0 = now_usec(CLOCK_MONOTONIC);
        *ret_r = ec2_describe_instances(e->ec2, NULL, NULL, &l);
        t0 = now_usec(CLOCK_MONOTONIC) - t0;
        (void) pthread_join(t, NULL);
        ec2_instance_list_done(&l);
        return t0;
}

static void test_cancel(void) {
        Env e;
        atomic_bool flag;
        uint64_t took;
        size_t before;
        int r;

        atomic_init(&flag, false);
        garbage_env(&e);

        /* Mid-request: the server takes 5 s to answer. */
        script("[{\"status\": 200, \"delay\": 5, \"body\": \"<DescribeInstancesResponse><reservationSet/>"
               "</DescribeInstancesResponse>\"}]");
        took = describe_cancelled(&e, &flag, &r);
        CHECK_INT(r, -ECANCELED);
        CHECK(took < 1500 * USEC_PER_MSEC);
        CHECK_INT(e.sleeps.n, 0); /* not retried */
        printf("     cancelled mid-request after %llu ms (raised at 300 ms)\n",
               (unsigned long long) (took / USEC_PER_MSEC));

        /* Mid-backoff: throttled, then a 10 s sleep (the real one) before the retry. */
        msleep(100);
        (void) fake_control(&garbage, "DELETE", "/_script", NULL, NULL);
        script("[{\"status\": 503, \"body\": \"<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
               "<Message>slow down</Message></Error></Errors><RequestID>r</RequestID></Response>\"}]");
        ec2_client_set_sleep(e.ec2, NULL, NULL);
        ec2_client_set_retry(e.ec2, 5, 10 * USEC_PER_SEC, 10 * USEC_PER_SEC);
        /* full jitter can draw a short sleep: a cap-sized base makes a long one likely,
         * and a short one would only retry into the scripted 599 (retried again). */
        before = garbage_requests();
        took = describe_cancelled(&e, &flag, &r);
        CHECK_INT(r, -ECANCELED);
        CHECK(took < 1500 * USEC_PER_MSEC);
        CHECK(garbage_requests() - before <= 3);
        printf("     cancelled mid-backoff after %llu ms (raised at 300 ms)\n",
               (unsigned long long) (took / USEC_PER_MSEC));
        CHECK_INT(ec2_client_last_error(e.ec2)->error, ec2_client_last_error(e.ec2)->attempts == 1
                                                               ? EC2_ERR_REQUEST_LIMIT_EXCEEDED
                                                               : EC2_ERR_NONE);

        /* The metadata service (role credentials are refreshed through it on the same
         * thread): a slow token answer is abandoned too. */
        {
                _cleanup_(imds_freep) Imds *m = NULL;
                Raiser x = { &flag, 300 };
                pthread_t th;
                char *v = NULL;

                msleep(100);
                (void) fake_control(&garbage, "DELETE", "/_script", NULL, NULL);
                script("[{\"status\": 200, \"delay\": 5, \"body\": \"TOKEN\"}]");
                atomic_store(&flag, false);
                CHECK_INT(imds_new(garbage.url, &m), 0);
                imds_set_cancel(m, &flag);
                CHECK_INT(pthread_create(&th, NULL, raise_later, &x), 0);
                took = now_usec(CLOCK_MONOTONIC);
                CHECK_INT(imds_get_value(m, IMDS_INSTANCE_ID, &v), -ECANCELED);
                took = now_usec(CLOCK_MONOTONIC) - took;
                (void) pthread_join(th, NULL);
                CHECK(took < 1500 * USEC_PER_MSEC);
                CHECK(v == NULL);
        }

        /* Raised before the call: nothing is sent. */
        atomic_store(&flag, true);
        before = garbage_requests();
        Ec2InstanceList l = {};
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), -ECANCELED);
        CHECK_INT(garbage_requests() - before, 0);
        ec2_client_set_cancel(e.ec2, NULL);
        (void) fake_control(&garbage, "DELETE", "/_script", NULL, NULL);
        env_close(&e);
}

/* ------------------------------------------------------------ main */

int main(void) {
        static const AwsTest tests[] = {
                AWS_TEST(test_garbage_ec2),
                AWS_TEST(test_listing_limits),
                AWS_TEST(test_cancel),
                {},
        };

        return aws_test_main("ec2-garbage-client", AWS_TEST_GARBAGE, tests);
}
