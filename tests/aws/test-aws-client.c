/* SPDX-License-Identifier: MIT */
/*
 * The agent's AWS side against the fake EC2 + IMDS (tests/fake-ec2/fake_ec2.py)
 * and against a scripted server that answers garbage (garbage_server.py):
 * every EC2 call, pagination, every error path, throttling retried and bounded,
 * credentials refreshed before they expire, IMDSv2 tokens, malformed answers,
 * finding and attaching this host's volume (ebs), identity from IMDS.
 * Only 127.0.0.1; no root needed. Retry sleeps are injected (no waiting).
 */
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "creds.h"
#include "ebs.h"
#include "ec2.h"
#include "fake.h"
#include "identity.h"
#include "imds.h"
#include "log.h"
#include "test.h"

static Fake fake;

/* ------------------------------------------------------------ helpers */

typedef struct Sleeps {
        unsigned n;
        uint64_t v[64];
} Sleeps;

static void record_sleep(uint64_t usec, void *userdata) {
        Sleeps *s = userdata;
        if (s->n < ELEMENTSOF(s->v))
                s->v[s->n] = usec;
        s->n++;
}

static void msleep(unsigned ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

/* A control call to the fake; anything but 200 counts as a failed check. */
_printf_(3, 0) static struct json_object *vcontrol(const char *method, const char *path, const char *fmt,
                                                  va_list ap) {
        _cleanup_(freep) char *body = NULL;
        struct json_object *o = NULL;
        long st;

        if (fmt && vasprintf(&body, fmt, ap) < 0)
                body = NULL;
        st = fake_control(&fake, method, path, body, &o);
        if (st != 200) {
                fprintf(stderr, "control %s %s -> %ld: %s\n", method, path, st,
                        o ? json_object_to_json_string(o) : "(no body)");
                test_failures++;
        }
        return o;
}

static struct json_object *control(const char *method, const char *path, const char *fmt, ...) _printf_(3, 4);
static struct json_object *control(const char *method, const char *path, const char *fmt, ...) {
        struct json_object *o;
        va_list ap;

        va_start(ap, fmt);
        o = vcontrol(method, path, fmt, ap);
        va_end(ap);
        return o;
}

static void control_void(const char *method, const char *path, const char *fmt, ...) _printf_(3, 4);
static void control_void(const char *method, const char *path, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        json_object_put(vcontrol(method, path, fmt, ap));
        va_end(ap);
}

/* Seed an instance; returns its id (static buffer per call site is enough here). */
static char *seed_instance(const char *ip, const char *az, const char *extra) {
        struct json_object *o = control("POST", "/_fake/instances", "{\"private_ip\": \"%s\", \"az\": \"%s\"%s%s}",
                                        ip, az, extra ? ", " : "", strempty(extra));
        char *id = o && json_str(o, "id") ? strdup(json_str(o, "id")) : NULL;
        json_object_put(o);
        return id;
}

static char *seed_volume(const char *az, const char *extra) {
        struct json_object *o = control("POST", "/_fake/volumes", "{\"az\": \"%s\", \"size\": 8%s%s}", az,
                                        extra ? ", " : "", strempty(extra));
        char *id = o && json_str(o, "id") ? strdup(json_str(o, "id")) : NULL;
        json_object_put(o);
        return id;
}

/* The fake's record of an instance or volume, by id (caller puts). */
static struct json_object *fake_find(const char *kind, const char *id) {
        struct json_object *st = control("GET", "/_fake/state", NULL), *list, *r = NULL;
        if (st && json_object_object_get_ex(st, kind, &list))
                for (size_t i = 0; i < json_object_array_length(list); i++) {
                        struct json_object *x = json_object_array_get_idx(list, i);
                        if (streq_ptr(json_str(x, "id"), id)) {
                                r = json_object_get(x);
                                break;
                        }
                }
        json_object_put(st);
        return r;
}

/* Calls logged by the fake for an action (NULL: all); *ret_last (may be NULL) gets
 * the last one's params (caller puts). */
static unsigned fake_calls(const char *action, struct json_object **ret_last) {
        struct json_object *calls = control("GET", "/_fake/calls", NULL);
        unsigned n = 0;
        if (ret_last)
                *ret_last = NULL;
        for (size_t i = 0; calls && i < json_object_array_length(calls); i++) {
                struct json_object *c = json_object_array_get_idx(calls, i);
                if (action && !streq_ptr(json_str(c, "action"), action))
                        continue;
                n++;
                if (ret_last) {
                        json_object_put(*ret_last);
                        *ret_last = json_object_get(c);
                }
        }
        json_object_put(calls);
        return n;
}

static const char *json_param(struct json_object *call, const char *key) {
        struct json_object *p;
        return call && json_object_object_get_ex(call, "params", &p) ? json_str(p, key) : NULL;
}

static void reset_fake(void) {
        control_void("POST", "/_fake/reset", NULL);
        control_void("DELETE", "/_fake/calls", NULL);
}

static void use_static_keys(void) {
        setenv("AWS_ACCESS_KEY_ID", FAKE_AKID, 1);
        setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET, 1);
        unsetenv("AWS_SESSION_TOKEN");
}

static void no_env_keys(void) {
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        unsetenv("AWS_SESSION_TOKEN");
}

/* A client on the fake with static keys and recorded (not slept) retries. */
typedef struct Env {
        CredsProvider *creds;
        Ec2Client *ec2;
        Sleeps sleeps;
} Env;

static void env_open(Env *e) {
        *e = (Env) {};
        use_static_keys();
        CHECK_INT(creds_provider_new(NULL, &e->creds), 0);
        CHECK_INT(ec2_client_new("us-east-1", fake.url, e->creds, &e->ec2), 0);
        ec2_client_set_sleep(e->ec2, record_sleep, &e->sleeps);
}

static void env_close(Env *e) {
        ec2_client_free(e->ec2);
        creds_provider_free(e->creds);
        *e = (Env) {};
}

#define CHECK_EC2_CODE(e, expect) CHECK_STR(ec2_client_last_error((e)->ec2)->code, expect)

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

/* ------------------------------------------------------------ EC2 calls */

static void test_describe_pagination(void) {
        Env e;
        Ec2InstanceList l = {};
        Ec2VolumeList vl = {};
        struct json_object *call;
        char ip[32];
        static const char *const states[] = { "running", "stopped", "terminated", "pending", "shutting-down" };
        _cleanup_(strv_freep) char **ids = NULL;

        reset_fake();
        env_open(&e);
        ec2_client_set_page_size(e.ec2, 5, 5, 5);
        for (unsigned i = 0; i < 12; i++) {
                char extra[160];
                snprintf(ip, sizeof(ip), "10.0.1.%u", 100 + i);
                snprintf(extra, sizeof(extra), "\"state\": \"%s\", \"tags\": {\"swarmkeeper:cluster\": \"pg\"}",
                         states[i % ELEMENTSOF(states)]);
                char *id = seed_instance(ip, "us-east-1a", extra);
                CHECK(id != NULL);
                (void) strv_consume(&ids, id);
        }
        for (unsigned i = 0; i < 3; i++) {
                snprintf(ip, sizeof(ip), "10.0.1.%u", 200 + i);
                free(seed_instance(ip, "us-east-1a", "\"tags\": {\"swarmkeeper:cluster\": \"other\"}"));
        }
        control_void("DELETE", "/_fake/calls", NULL);

        const Ec2Filter cluster[] = { { "tag:" EC2_TAG_CLUSTER, EC2_VALUES("pg") }, {} };
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, cluster, &l), 0);
        CHECK_INT(l.n, 12);
        for (size_t i = 0; i < l.n && i < 12; i++) {
                CHECK_STR(l.items[i].instance_id, ids[i]);
                CHECK_STR(ec2_instance_state_to_string(l.items[i].state), states[i % ELEMENTSOF(states)]);
                CHECK_STR(ec2_tags_get(l.items[i].tags, EC2_TAG_CLUSTER), "pg");
                /* EC2 drops a terminated instance's address. */
                CHECK((l.items[i].private_ip == NULL) == (l.items[i].state == EC2_INSTANCE_TERMINATED));
        }
        ec2_instance_list_done(&l);
        CHECK_INT(fake_calls("DescribeInstances", &call), 3); /* 5 + 5 + 2 */
        CHECK_STR(json_param(call, "MaxResults"), "5");
        CHECK(json_param(call, "NextToken") != NULL);
        CHECK_STR(json_param(call, "Filter.1.Name"), "tag:swarmkeeper:cluster");
        CHECK_STR(json_param(call, "Filter.1.Value.1"), "pg");
        json_object_put(call);

        /* Two filters, two values. */
        const Ec2Filter running[] = {
                { "tag:" EC2_TAG_CLUSTER, EC2_VALUES("pg", "other") },
                { "instance-state-name", EC2_VALUES("running", "stopped") },
                {},
        };
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, running, &l), 0);
        CHECK_INT(l.n, 3 + 3 + 3); /* pg: running i = 0, 5, 10 and stopped i = 1, 6, 11; others: running ×3 */
        ec2_instance_list_done(&l);

        /* By id: no MaxResults (EC2 refuses the combination). */
        control_void("DELETE", "/_fake/calls", NULL);
        char *two[] = { ids[0], ids[7], NULL };
        CHECK_INT(ec2_describe_instances(e.ec2, two, NULL, &l), 0);
        CHECK_INT(l.n, 2);
        ec2_instance_list_done(&l);
        CHECK_INT(fake_calls("DescribeInstances", &call), 1);
        CHECK(json_param(call, "MaxResults") == NULL);
        CHECK_STR(json_param(call, "InstanceId.2"), ids[7]);
        json_object_put(call);

        /* An unknown id: NotFound, and nothing returned. */
        char *unknown[] = { (char *) "i-0123456789abcdef0", NULL };
        l.n = 77;
        CHECK_INT(ec2_describe_instances(e.ec2, unknown, NULL, &l), -ENOENT);
        CHECK_EC2_CODE(&e, "InvalidInstanceID.NotFound");
        CHECK_INT(l.n, 77);
        l = (Ec2InstanceList) {};

        /* A filter EC2 does not know: final, with the fake's message. */
        const Ec2Filter bogus[] = { { "no-such-filter", EC2_VALUES("x") }, {} };
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, bogus, &l), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidParameterValue");
        CHECK_INT(ec2_client_last_error(e.ec2)->error, EC2_ERR_INVALID_PARAMETER_VALUE);
        CHECK(strstr(ec2_client_last_error(e.ec2)->message, "no-such-filter") != NULL);

        /* Volumes: 7 tagged over two pages, 2 others. */
        for (unsigned i = 0; i < 7; i++)
                free(seed_volume("us-east-1a", "\"tags\": {\"swarmkeeper:cluster\": \"pg\"}"));
        free(seed_volume("us-east-1b", NULL));
        free(seed_volume("us-east-1a", "\"tags\": {\"swarmkeeper:cluster\": \"zz\"}"));
        control_void("DELETE", "/_fake/calls", NULL);
        CHECK_INT(ec2_describe_volumes(e.ec2, NULL, cluster, &vl), 0);
        CHECK_INT(vl.n, 7);
        for (size_t i = 0; i < vl.n; i++) {
                CHECK_INT(vl.items[i].state, EC2_VOLUME_AVAILABLE);
                CHECK_INT(vl.items[i].size_gib, 8);
                CHECK_STR(vl.items[i].availability_zone, "us-east-1a");
        }
        CHECK_INT(fake_calls("DescribeVolumes", NULL), 2);
        ec2_volume_list_done(&vl);
        CHECK_INT(ec2_describe_volumes(e.ec2, NULL, NULL, &vl), 0);
        CHECK_INT(vl.n, 9);
        ec2_volume_list_done(&vl);
        env_close(&e);
}

static void test_describe_subnets(void) {
        Env e;
        Ec2SubnetList l = {};
        struct json_object *call;

        reset_fake();
        env_open(&e);
        ec2_client_set_page_size(e.ec2, 0, 0, 5);
        /* The fake's three default subnets, and seven of a cluster in another VPC. */
        for (unsigned k = 0; k < 7; k++)
                control_void("POST", "/_fake/subnets",
                             "{\"id\": \"subnet-0%016u\", \"az\": \"us-east-1%c\", \"cidr\": \"10.1.%u.0/24\","
                             " \"vpc\": \"vpc-0sk\", \"tags\": {\"swarmkeeper:cluster\": \"sn\"}}",
                             k, 'a' + (char) (k % 3), k);
        control_void("DELETE", "/_fake/calls", NULL);

        const Ec2Filter vpc[] = { { "vpc-id", EC2_VALUES("vpc-0sk") }, {} };
        CHECK_INT(ec2_describe_subnets(e.ec2, NULL, vpc, &l), 0);
        CHECK_INT(l.n, 7);
        for (size_t k = 0; k < l.n; k++) {
                CHECK_STR(l.items[k].vpc_id, "vpc-0sk");
                CHECK_STR(ec2_tags_get(l.items[k].tags, EC2_TAG_CLUSTER), "sn");
                CHECK(startswith(strempty(l.items[k].cidr_block), "10.1.") != NULL);
        }
        ec2_subnet_list_done(&l);
        CHECK_INT(fake_calls("DescribeSubnets", &call), 2); /* 5 + 2 */
        CHECK_STR(json_param(call, "MaxResults"), "5");
        CHECK(json_param(call, "NextToken") != NULL);
        CHECK_STR(json_param(call, "Filter.1.Name"), "vpc-id");
        json_object_put(call);

        /* All, by tag, by id; an unknown id is NotFound. */
        CHECK_INT(ec2_describe_subnets(e.ec2, NULL, NULL, &l), 0);
        CHECK_INT(l.n, 10);
        ec2_subnet_list_done(&l);
        const Ec2Filter tagged[] = { { "tag:" EC2_TAG_CLUSTER, EC2_VALUES("sn") },
                                     { "availability-zone", EC2_VALUES("us-east-1b") }, {} };
        CHECK_INT(ec2_describe_subnets(e.ec2, NULL, tagged, &l), 0);
        CHECK_INT(l.n, 2); /* k = 1, 4 */
        ec2_subnet_list_done(&l);
        char *ids[] = { (char *) "subnet-aaaaaaaa", NULL };
        CHECK_INT(ec2_describe_subnets(e.ec2, ids, NULL, &l), 0);
        CHECK_INT(l.n, 1);
        if (l.n == 1) {
                CHECK_STR(l.items[0].cidr_block, "10.0.1.0/24");
                CHECK_STR(l.items[0].availability_zone, "us-east-1a");
        }
        ec2_subnet_list_done(&l);
        char *nope[] = { (char *) "subnet-0123456789abcdef0", NULL };
        CHECK_INT(ec2_describe_subnets(e.ec2, nope, NULL, &l), -ENOENT);
        CHECK_INT(ec2_client_last_error(e.ec2)->error, EC2_ERR_INVALID_SUBNET_ID_NOT_FOUND);
        env_close(&e);
}

static void test_run_and_terminate(void) {
        Env e;
        Ec2Instance i = {}, again = {};
        Ec2InstanceList l = {};
        struct json_object *rec, *call;
        static const char user_data[] = "#cloud-config\nswarmkeeper:\n  join-token: SWMTKN-1-secret\n";
        char *sgs[] = { (char *) "sg-0123456789abcdef0", (char *) "sg-11111111", NULL };
        char *itags[] = { (char *) EC2_TAG_CLUSTER, (char *) "rc", (char *) EC2_TAG_LOGICAL_ID,
                          (char *) "10.0.1.30", (char *) EC2_TAG_ROLE, (char *) "manager", NULL };
        char *vtags[] = { (char *) EC2_TAG_CLUSTER, (char *) "rc", NULL };
        Ec2RunSpec spec = {
                .image_id = "ami-0123456789abcdef0",
                .instance_type = "t3.small",
                .subnet_id = "subnet-aaaaaaaa",
                .security_group_ids = sgs,
                .iam_instance_profile = "swarmkeeper-profile",
                .key_name = "ops",
                .user_data = user_data,
                .user_data_size = sizeof(user_data) - 1,
                .private_ip = "10.0.1.30",
                .instance_tags = itags,
                .volume_tags = vtags,
                .client_token = "rc-10.0.1.30-i-00000000",
        };

        reset_fake();
        env_open(&e);
        CHECK_INT(ec2_run_instances(e.ec2, &spec, &i), 0);
        CHECK_INT(i.state, EC2_INSTANCE_PENDING);
        CHECK_STR(i.private_ip, "10.0.1.30");
        CHECK_STR(i.availability_zone, "us-east-1a");
        CHECK_STR(i.client_token, spec.client_token);
        CHECK_STR(ec2_tags_get(i.tags, EC2_TAG_ROLE), "manager");

        rec = fake_find("instances", i.instance_id);
        CHECK_STR(json_str(rec, "http_tokens"), "required");
        CHECK_STR(json_str(rec, "hop_limit"), "1");
        CHECK_STR(json_str(rec, "image_id"), "ami-0123456789abcdef0");
        CHECK_STR(json_str(rec, "instance_type"), "t3.small");
        CHECK_STR(json_str(rec, "key_name"), "ops");
        CHECK_STR(json_str(rec, "iam_instance_profile"),
                  "arn:aws:iam::123456789012:instance-profile/swarmkeeper-profile");
        CHECK_STR(json_str(rec, "user_data"), "I2Nsb3VkLWNvbmZpZwpzd2FybWtlZXBlcjoKICBqb2luLXRva2VuOiBTV01US04tMS1zZWNyZXQK");
        CHECK(strstr(strempty(json_object_to_json_string(rec)), "sg-11111111") != NULL);
        json_object_put(rec);
        /* Everything the reconciler needs goes in ONE call: no follow-up CreateTags or
         * ModifyInstanceMetadataOptions that a crash could skip. */
        CHECK_INT(fake_calls("RunInstances", &call), 1);
        CHECK_INT(fake_calls(NULL, NULL), 1);
        CHECK_STR(json_param(call, "PrivateIpAddress"), "10.0.1.30");
        CHECK_STR(json_param(call, "SubnetId"), "subnet-aaaaaaaa");
        CHECK_STR(json_param(call, "ClientToken"), "rc-10.0.1.30-i-00000000");
        CHECK_STR(json_param(call, "IamInstanceProfile.Name"), "swarmkeeper-profile");
        CHECK(json_param(call, "IamInstanceProfile.Arn") == NULL);
        CHECK_STR(json_param(call, "KeyName"), "ops");
        CHECK_STR(json_param(call, "SecurityGroupId.1"), "sg-0123456789abcdef0");
        CHECK_STR(json_param(call, "SecurityGroupId.2"), "sg-11111111");
        CHECK(json_param(call, "UserData") != NULL);
        CHECK_STR(json_param(call, "MetadataOptions.HttpTokens"), "required");
        CHECK_STR(json_param(call, "MetadataOptions.HttpPutResponseHopLimit"), "1");
        CHECK_STR(json_param(call, "TagSpecification.1.ResourceType"), "instance");
        CHECK_STR(json_param(call, "TagSpecification.1.Tag.2.Key"), EC2_TAG_LOGICAL_ID);
        CHECK_STR(json_param(call, "TagSpecification.1.Tag.2.Value"), "10.0.1.30");
        CHECK_STR(json_param(call, "TagSpecification.2.ResourceType"), "volume");
        CHECK_STR(json_param(call, "TagSpecification.2.Tag.1.Value"), "rc");
        CHECK_STR(json_param(call, "MinCount"), "1");
        CHECK_STR(json_param(call, "MaxCount"), "1");
        json_object_put(call);

        /* DescribeInstances gives the ClientToken back: the planner's proof that this
         * cluster launched the instance for its seat (never attach to anything else). */
        {
                Ec2InstanceList dl = {};
                char *ids[] = { i.instance_id, NULL };
                CHECK_INT(ec2_describe_instances(e.ec2, ids, NULL, &dl), 0);
                CHECK_INT(dl.n, 1);
                if (dl.n == 1)
                        CHECK_STR(dl.items[0].client_token, spec.client_token);
                ec2_instance_list_done(&dl);
        }

        /* Same token, same parameters: the same instance, no second launch. */
        CHECK_INT(ec2_run_instances(e.ec2, &spec, &again), 0);
        CHECK_STR(again.instance_id, i.instance_id);
        ec2_instance_done(&again);

        /* Same token, different parameters: refused, not retried. */
        Ec2RunSpec changed = spec;
        changed.instance_type = "t3.large";
        CHECK_INT(ec2_run_instances(e.ec2, &changed, &again), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "IdempotentParameterMismatch");
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 1);
        CHECK_INT(e.sleeps.n, 0);

        /* The address is held until the instance is terminated. */
        Ec2RunSpec other = spec;
        other.client_token = "rc-10.0.1.30-i-11111111";
        CHECK_INT(ec2_run_instances(e.ec2, &other, &again), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidIPAddress.InUse");

        /* Terminate: shutting-down, then terminated, still listed but without its address. */
        char *ids[] = { i.instance_id, NULL };
        CHECK_INT(ec2_terminate_instances(e.ec2, ids), 0);
        CHECK_INT(ec2_describe_instances(e.ec2, ids, NULL, &l), 0);
        CHECK_INT(l.n, 1);
        if (l.n == 1)
                CHECK_INT(l.items[0].state, EC2_INSTANCE_SHUTTING_DOWN);
        ec2_instance_list_done(&l);
        CHECK_INT(ec2_run_instances(e.ec2, &other, &again), -EREMOTEIO); /* shutting-down still holds it */
        CHECK_EC2_CODE(&e, "InvalidIPAddress.InUse");
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        CHECK_INT(ec2_describe_instances(e.ec2, ids, NULL, &l), 0);
        if (l.n == 1) {
                CHECK_INT(l.items[0].state, EC2_INSTANCE_TERMINATED);
                CHECK(l.items[0].private_ip == NULL);
                CHECK_STR(l.items[0].state_reason, "Client.UserInitiatedShutdown");
        }
        ec2_instance_list_done(&l);
        /* Terminating twice is fine. The address stays in use a while after 'terminated'
         * (--ip-release-delay 10), then a replacement on it launches. */
        CHECK_INT(ec2_terminate_instances(e.ec2, ids), 0);
        CHECK_INT(ec2_run_instances(e.ec2, &other, &again), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidIPAddress.InUse");
        control_void("POST", "/_fake/time", "{\"advance\": 10}");
        CHECK_INT(ec2_run_instances(e.ec2, &other, &again), 0);
        CHECK_STR(again.private_ip, "10.0.1.30");
        CHECK(!streq(again.instance_id, i.instance_id));
        ec2_instance_done(&again);
        /* The old token names a terminated instance: refused, not a launch. */
        CHECK_INT(ec2_run_instances(e.ec2, &spec, &again), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "IdempotentInstanceTerminated");
        CHECK(again.instance_id == NULL);

        /* Launch template, no token given: a random one keeps retries idempotent. */
        Ec2RunSpec lt = { .launch_template_id = "lt-0123456789abcdef0", .launch_template_version = "3",
                          .availability_zone = "us-east-1b" };
        CHECK_INT(ec2_run_instances(e.ec2, &lt, &again), 0);
        CHECK(startswith(strempty(again.client_token), "sk-") != NULL);
        CHECK_INT(strlen(strempty(again.client_token)), 35);
        CHECK_STR(again.availability_zone, "us-east-1b");
        fake_calls("RunInstances", &call);
        CHECK_STR(json_param(call, "LaunchTemplate.LaunchTemplateId"), "lt-0123456789abcdef0");
        CHECK_STR(json_param(call, "LaunchTemplate.Version"), "3");
        CHECK_STR(json_param(call, "MetadataOptions.HttpTokens"), "required");
        json_object_put(call);
        rec = fake_find("instances", again.instance_id);
        CHECK(strstr(strempty(json_object_to_json_string(rec)), "lt-0123456789abcdef0") != NULL);
        CHECK_STR(json_str(rec, "http_tokens"), "required");
        json_object_put(rec);
        ec2_instance_done(&again);

        /* Unknown instance: NotFound. */
        char *nope[] = { (char *) "i-0fedcba9876543210", NULL };
        CHECK_INT(ec2_terminate_instances(e.ec2, nope), -ENOENT);
        CHECK_EC2_CODE(&e, "InvalidInstanceID.NotFound");

        /* A bad parameter EC2 refuses. */
        Ec2RunSpec bad = { .image_id = "not-an-ami" };
        CHECK_INT(ec2_run_instances(e.ec2, &bad, &again), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidAMIID.Malformed");

        ec2_instance_done(&i);
        env_close(&e);
}

static Ec2VolumeState volume_state(Env *e, const char *id, Ec2AttachmentState *ret_att) {
        char *ids[] = { (char *) id, NULL };
        Ec2VolumeList l = {};
        Ec2VolumeState s = _EC2_VOLUME_STATE_INVALID;
        if (ec2_describe_volumes(e->ec2, ids, NULL, &l) == 0 && l.n == 1) {
                s = l.items[0].state;
                if (ret_att)
                        *ret_att = l.items[0].n_attachments ? l.items[0].attachments[0].state
                                                            : _EC2_ATTACHMENT_STATE_INVALID;
        }
        ec2_volume_list_done(&l);
        return s;
}

static void test_volumes(void) {
        Env e;
        Ec2Volume v = {}, vb = {}, again = {};
        Ec2Attachment a = {};
        Ec2AttachmentState as;
        _cleanup_(freep) char *inst = NULL;
        char *vtags[] = { (char *) EC2_TAG_CLUSTER, (char *) "vc", (char *) EC2_TAG_LOGICAL_ID,
                          (char *) "10.0.1.40", NULL };
        Ec2VolumeSpec spec = { .availability_zone = "us-east-1a", .size_gib = 10, .tags = vtags,
                               .client_token = "vc-10.0.1.40-vol" };

        reset_fake();
        env_open(&e);
        inst = seed_instance("10.0.1.40", "us-east-1a", NULL);

        CHECK_INT(ec2_create_volume(e.ec2, &spec, &v), 0);
        CHECK_INT(v.state, EC2_VOLUME_CREATING);
        CHECK_INT(v.size_gib, 10);
        CHECK_STR(v.volume_type, "gp3");
        CHECK_STR(ec2_tags_get(v.tags, EC2_TAG_LOGICAL_ID), "10.0.1.40");
        /* Idempotent by token. */
        CHECK_INT(ec2_create_volume(e.ec2, &spec, &again), 0);
        CHECK_STR(again.volume_id, v.volume_id);
        ec2_volume_done(&again);

        /* Not available yet. */
        CHECK_INT(ec2_attach_volume(e.ec2, v.volume_id, inst, "/dev/sdf", NULL), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "IncorrectState");
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        CHECK_INT(volume_state(&e, v.volume_id, NULL), EC2_VOLUME_AVAILABLE);

        CHECK_INT(ec2_attach_volume(e.ec2, v.volume_id, inst, "/dev/sdf", &a), 0);
        CHECK_STR(a.volume_id, v.volume_id);
        CHECK_STR(a.instance_id, inst);
        CHECK_STR(a.device, "/dev/sdf");
        CHECK_INT(a.state, EC2_ATTACHMENT_ATTACHING);
        ec2_attachment_done(&a);
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        CHECK_INT(volume_state(&e, v.volume_id, &as), EC2_VOLUME_IN_USE);
        CHECK_INT(as, EC2_ATTACHMENT_ATTACHED);

        /* Never attached twice. */
        CHECK_INT(ec2_attach_volume(e.ec2, v.volume_id, inst, "/dev/sdg", NULL), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "VolumeInUse");

        /* Same zone only. */
        Ec2VolumeSpec other_zone = { .availability_zone = "us-east-1b", .size_gib = 1, .volume_type = "gp2" };
        CHECK_INT(ec2_create_volume(e.ec2, &other_zone, &vb), 0);
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        CHECK_INT(ec2_attach_volume(e.ec2, vb.volume_id, inst, "/dev/sdh", NULL), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidVolume.ZoneMismatch");

        /* Unknown volume, bad size. */
        CHECK_INT(ec2_attach_volume(e.ec2, "vol-0123456789abcdef0", inst, "/dev/sdh", NULL), -ENOENT);
        CHECK_EC2_CODE(&e, "InvalidVolume.NotFound");
        Ec2VolumeSpec huge = { .availability_zone = "us-east-1a", .size_gib = 100000 };
        CHECK_INT(ec2_create_volume(e.ec2, &huge, &again), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidParameterValue");

        /* What a manager's replacement volume is made with (Volume.*): every parameter
         * reaches EC2, and a KMS key without encryption is refused as EC2 does. */
        {
                Ec2VolumeSpec enc = { .availability_zone = "us-east-1a", .size_gib = 50, .volume_type = "gp3",
                                      .encrypted = true, .kms_key_id = "alias/sk", .client_token = "vc-enc" };
                Ec2Volume ve = {};
                struct json_object *call = NULL, *rec = NULL, *x;

                CHECK_INT(ec2_create_volume(e.ec2, &enc, &ve), 0);
                CHECK(fake_calls("CreateVolume", &call) > 0);
                CHECK_STR(json_param(call, "Size"), "50");
                CHECK_STR(json_param(call, "VolumeType"), "gp3");
                CHECK_STR(json_param(call, "Encrypted"), "true");
                CHECK_STR(json_param(call, "KmsKeyId"), "alias/sk");
                rec = fake_find("volumes", ve.volume_id);
                CHECK(rec && json_object_object_get_ex(rec, "encrypted", &x) && json_object_get_boolean(x));
                CHECK_STR(json_str(rec, "kms_key_id"), "alias/sk");
                CHECK_INT(ve.size_gib, 50);
                json_object_put(call);
                json_object_put(rec);
                ec2_volume_done(&ve);

                enc.encrypted = false;
                enc.client_token = "vc-enc-2";
                CHECK_INT(ec2_create_volume(e.ec2, &enc, &ve), -EREMOTEIO);
                CHECK_EC2_CODE(&e, "InvalidParameterDependency");
        }

        /* Tags on both, then found by the new tag. */
        char *res[] = { v.volume_id, vb.volume_id, inst, NULL };
        char *more[] = { (char *) "team", (char *) "infra", (char *) "Name", (char *) "a b&c=d", NULL };
        CHECK_INT(ec2_create_tags(e.ec2, res, more), 0);
        Ec2VolumeList vl = {};
        const Ec2Filter team[] = { { "tag:team", EC2_VALUES("infra") }, {} };
        CHECK_INT(ec2_describe_volumes(e.ec2, NULL, team, &vl), 0);
        CHECK_INT(vl.n, 2);
        if (vl.n > 0)
                CHECK_STR(ec2_tags_get(vl.items[0].tags, "Name"), "a b&c=d");
        ec2_volume_list_done(&vl);
        Ec2InstanceList il = {};
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, team, &il), 0);
        CHECK_INT(il.n, 1);
        if (il.n == 1) {
                CHECK_INT(il.items[0].n_volumes, 1);
                CHECK_STR(il.items[0].volumes[0].volume_id, v.volume_id);
                CHECK_STR(il.items[0].volumes[0].device, "/dev/sdf");
        }
        ec2_instance_list_done(&il);
        char *bad_tag[] = { (char *) "aws:reserved", (char *) "x", NULL };
        CHECK_INT(ec2_create_tags(e.ec2, res, bad_tag), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "InvalidParameterValue");

        /* Detach: detaching, then available. */
        CHECK_INT(ec2_detach_volume(e.ec2, v.volume_id, inst, false, &a), 0);
        CHECK_INT(a.state, EC2_ATTACHMENT_DETACHING);
        ec2_attachment_done(&a);
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        CHECK_INT(volume_state(&e, v.volume_id, NULL), EC2_VOLUME_AVAILABLE);
        CHECK_INT(ec2_detach_volume(e.ec2, v.volume_id, NULL, false, NULL), -EREMOTEIO);
        CHECK_EC2_CODE(&e, "IncorrectState");

        /* A terminated instance's volumes come back by themselves. */
        CHECK_INT(ec2_attach_volume(e.ec2, v.volume_id, inst, "/dev/sdf", NULL), 0);
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        char *ids[] = { inst, NULL };
        CHECK_INT(ec2_terminate_instances(e.ec2, ids), 0);
        control_void("POST", "/_fake/time", "{\"advance\": 5}");
        CHECK_INT(volume_state(&e, v.volume_id, NULL), EC2_VOLUME_AVAILABLE);

        ec2_volume_done(&v);
        ec2_volume_done(&vb);
        env_close(&e);
}

/* ------------------------------------------------------------ retries */

static void test_throttling(void) {
        Env e;
        Ec2InstanceList l = {};
        const uint64_t base = 250 * USEC_PER_MSEC, cap = 20 * USEC_PER_SEC;

        reset_fake();
        env_open(&e);

        /* Throttled twice, then through: 3 requests, 2 jittered sleeps within the bounds. */
        control_void("POST", "/_fake/faults", "{\"action\": \"DescribeInstances\", \"code\": \"RequestLimitExceeded\", \"count\": 2}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), 0);
        ec2_instance_list_done(&l);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 3);
        CHECK_INT(e.sleeps.n, 2);
        CHECK(e.sleeps.v[0] <= base);
        CHECK(e.sleeps.v[1] <= 2 * base);
        CHECK_INT(fake_calls("DescribeInstances", NULL), 3);
        CHECK_INT(ec2_client_retry_budget(e.ec2), 500); /* spent 10, refunded 10 */

        /* Throttled for good: bounded by the attempts (5), then -EAGAIN with the code. */
        control_void("DELETE", "/_fake/calls", NULL);
        e.sleeps.n = 0;
        control_void("POST", "/_fake/faults", "{\"code\": \"RequestLimitExceeded\", \"count\": 100}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), -EAGAIN);
        CHECK_EC2_CODE(&e, "RequestLimitExceeded");
        CHECK_INT(ec2_client_last_error(e.ec2)->http_status, 503);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 5);
        CHECK_INT(fake_calls("DescribeInstances", NULL), 5);
        CHECK_INT(e.sleeps.n, 4);
        for (unsigned k = 0; k < 4 && k < e.sleeps.n; k++)
                CHECK(e.sleeps.v[k] <= (base << k < cap ? base << k : cap));
        CHECK_INT(ec2_client_retry_budget(e.ec2), 480);

        /* The retry budget: with 12 left only two more retries are allowed, then none. */
        ec2_client_set_retry_budget(e.ec2, 12);
        control_void("DELETE", "/_fake/calls", NULL);
        Ec2VolumeList vl = {};
        CHECK_INT(ec2_describe_volumes(e.ec2, NULL, NULL, &vl), -EAGAIN);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 3);
        CHECK_INT(ec2_client_retry_budget(e.ec2), 2);
        CHECK_INT(ec2_describe_volumes(e.ec2, NULL, NULL, &vl), -EAGAIN);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 1);
        CHECK_INT(fake_calls("DescribeVolumes", NULL), 4);
        control_void("DELETE", "/_fake/faults", NULL);
        /* Successes refill it. */
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), 0);
        ec2_instance_list_done(&l);
        CHECK_INT(ec2_client_retry_budget(e.ec2), 3);
        ec2_client_set_retry_budget(e.ec2, 500);

        /* 500 InternalError and 503 Unavailable: retried. */
        e.sleeps.n = 0;
        control_void("POST", "/_fake/faults", "{\"code\": \"InternalError\", \"count\": 1}");
        control_void("POST", "/_fake/faults", "{\"code\": \"Unavailable\", \"count\": 1}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), 0);
        ec2_instance_list_done(&l);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 3);

        /* Capacity (HTTP 500) on RunInstances: retried with the same ClientToken. */
        control_void("DELETE", "/_fake/calls", NULL);
        control_void("POST", "/_fake/faults", "{\"action\": \"RunInstances\", \"code\": \"InsufficientInstanceCapacity\", \"count\": 1}");
        Ec2RunSpec spec = { .image_id = "ami-0123456789abcdef0", .private_ip = "10.0.1.50" };
        Ec2Instance i = {};
        CHECK_INT(ec2_run_instances(e.ec2, &spec, &i), 0);
        struct json_object *calls = control("GET", "/_fake/calls", NULL);
        if (json_object_array_length(calls) == 2) {
                struct json_object *a = json_object_array_get_idx(calls, 0), *b = json_object_array_get_idx(calls, 1);
                CHECK_STR(json_str(a, "error_code"), "InsufficientInstanceCapacity");
                CHECK_STR(json_param(a, "ClientToken"), json_param(b, "ClientToken"));
        } else
                CHECK_INT(json_object_array_length(calls), 2);
        json_object_put(calls);
        ec2_instance_done(&i);

        /* Other 4xx: final at once. */
        e.sleeps.n = 0;
        control_void("POST", "/_fake/faults", "{\"code\": \"InvalidParameterValue\", \"status\": 400, \"count\": 1}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), -EREMOTEIO);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 1);
        CHECK_INT(e.sleeps.n, 0);
        control_void("POST", "/_fake/faults", "{\"code\": \"UnauthorizedOperation\", \"status\": 403, \"count\": 1}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), -EACCES);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 1);

        /* Timeouts: a slow answer is abandoned and retried; bounded too. */
        ec2_client_set_timeouts(e.ec2, 1000, 400);
        e.sleeps.n = 0;
        control_void("POST", "/_fake/faults", "{\"latency\": 1.0, \"count\": 1}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), 0);
        ec2_instance_list_done(&l);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 2);
        ec2_client_set_retry(e.ec2, 2, base, cap);
        control_void("POST", "/_fake/faults", "{\"latency\": 1.0, \"count\": 2}");
        CHECK_INT(ec2_describe_instances(e.ec2, NULL, NULL, &l), -ETIMEDOUT);
        CHECK_INT(ec2_client_last_error(e.ec2)->attempts, 2);
        msleep(1200); /* let the fake finish the slow ones */
        control_void("DELETE", "/_fake/faults", NULL);

        /* Nobody listening: retried, then the transport error. */
        Ec2Client *dead = NULL;
        Sleeps s = {};
        CHECK_INT(ec2_client_new("us-east-1", "http://127.0.0.1:1", e.creds, &dead), 0);
        ec2_client_set_sleep(dead, record_sleep, &s);
        CHECK_INT(ec2_describe_instances(dead, NULL, NULL, &l), -ECONNREFUSED);
        CHECK_INT(ec2_client_last_error(dead)->attempts, 5);
        CHECK_INT(s.n, 4);
        ec2_client_free(dead);

        /* Plain http to a public address is refused before anything is sent. */
        CHECK_INT(ec2_client_new("us-east-1", "http://192.0.2.1", e.creds, &dead), 0);
        CHECK_INT(ec2_describe_instances(dead, NULL, NULL, &l), -EPROTONOSUPPORT);
        ec2_client_free(dead);
        env_close(&e);
}

/* ------------------------------------------------------------ garbage answers */

static Fake garbage;

static void script(const char *json) {
        long st = fake_control(&garbage, "POST", "/_script", json, NULL);
        CHECK_INT(st, 200);
}

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

/* The suite runs at LOG_CRIT, so a logged message is checked only through these:
 * what the agent logs at `level` and above until capture_end(). */
static void capture_start(TestCapture *c, int level) {
        setenv("SWARMKEEPER_LOG", "stderr", 1);
        log_setup();
        log_set_max_level(level);
        test_capture_begin(c);
}

static char *capture_end(TestCapture *c) {
        char *text = test_capture_end(c);
        log_set_max_level(getenv("SK_TEST_DEBUG") ? LOG_DEBUG : LOG_CRIT);
        return text;
}

/* ------------------------------------------------------------ identity, ebs */

static Config *host_config(const char *ip, const char *az, const char *instance) {
        Config *c = NULL;
        CHECK_INT(config_new(&c), 0);
        CHECK_INT(config_set_value(c, CONFIG_CLUSTER_NAME, "eb", "test"), 0);
        CHECK_INT(config_set_value(c, CONFIG_AWS_METADATA_ENDPOINT, fake.url, "test"), 0);
        CHECK_INT(config_set_value(c, CONFIG_AWS_ENDPOINT, fake.url, "test"), 0);
        CHECK_INT(config_set_value(c, CONFIG_AWS_REGION, "us-east-1", "test"), 0);
        CHECK_INT(config_set_value(c, CONFIG_VOLUME_ATTACH_TIMEOUT, "8", "test"), 0);
        if (ip)
                CHECK_INT(config_set_value(c, CONFIG_HOST_PRIVATE_IP, ip, "test"), 0);
        if (az)
                CHECK_INT(config_set_value(c, CONFIG_HOST_AZ, az, "test"), 0);
        if (instance)
                CHECK_INT(config_set_value(c, CONFIG_HOST_INSTANCE_ID, instance, "test"), 0);
        return c;
}

static void test_identity(void) {
        _cleanup_(freep) char *id = NULL;
        _cleanup_(config_freep) Config *c = NULL, *full = NULL, *dead = NULL;

        reset_fake();
        id = seed_instance("10.0.3.7", "us-east-1c", NULL);
        control_void("POST", "/_fake/imds", "{\"source\": \"127.0.0.1\", \"instance\": \"%s\"}", id);

        c = host_config(NULL, NULL, NULL);
        CHECK_INT(config_set_value(c, CONFIG_AWS_REGION, "", "test"), 0);
        CHECK_INT(identity_resolve(c), 0);
        CHECK_STR(c->instance_id, id);
        CHECK_STR(c->private_ip, "10.0.3.7");
        CHECK_STR(c->availability_zone, "us-east-1c");
        CHECK_STR(c->region, "us-east-1");
        CHECK_STR(c->source[CONFIG_HOST_PRIVATE_IP], "metadata service");

        /* Configured keys win and a fully configured host never asks. */
        full = host_config("10.0.9.9", "us-east-1a", "i-0123456789abcdef0");
        CHECK_INT(config_set_value(full, CONFIG_AWS_METADATA_ENDPOINT, "http://127.0.0.1:1", "test"), 0);
        CHECK_INT(identity_resolve(full), 0);
        CHECK_STR(full->private_ip, "10.0.9.9");

        /* Unreachable metadata service with a key missing: a clear -EADDRNOTAVAIL. */
        dead = host_config("10.0.9.9", NULL, "i-0123456789abcdef0");
        CHECK_INT(config_set_value(dead, CONFIG_AWS_METADATA_ENDPOINT, "http://127.0.0.1:1", "test"), 0);
        CHECK_INT(identity_resolve(dead), -EADDRNOTAVAIL);
}

/* The whole of Volume.AttachTimeoutSec from now, as prepare gives it. */
static int ebs_attach(const Config *c, char **ret_volume_id, char **ret_device) {
        return ebs_locate_and_attach(c, now_usec(CLOCK_MONOTONIC) + (uint64_t) c->attach_timeout_sec * USEC_PER_SEC,
                                     ret_volume_id, ret_device);
}

static void test_ebs(void) {
        _cleanup_(freep) char *me = NULL, *other = NULL, *vol = NULL, *vol2 = NULL, *busy = NULL;
        char *volume_id = NULL, *device = NULL;
        struct json_object *rec;
        Config *c;
        char extra[256];

        reset_fake();
        use_static_keys();
        me = seed_instance("10.0.1.60", "us-east-1a", NULL);

        /* No volume at all. */
        c = host_config("10.0.1.60", "us-east-1a", me);
        CHECK_INT(ebs_attach(c, &volume_id, &device), -ENOENT);

        /* A volume in another zone: still -ENOENT, with an error naming both zones. */
        vol2 = seed_volume("us-east-1b", "\"tags\": {\"swarmkeeper:cluster\": \"eb\", \"swarmkeeper:logical-id\": \"10.0.1.60\"}");
        TestCapture cap;
        capture_start(&cap, LOG_ERR);
        CHECK_INT(ebs_attach(c, &volume_id, &device), -ENOENT);
        {
                _cleanup_(freep) char *log = capture_end(&cap);
                const char *line = strstr(strempty(log), vol2);
                CHECK(line != NULL);
                CHECK(strstr(strempty(line), "is in us-east-1b") != NULL);
                CHECK(strstr(strempty(line), "this instance is in us-east-1a") != NULL);
        }

        /* Ours, available; /dev/sdf is taken by another volume: attached as /dev/sdg. */
        busy = seed_volume("us-east-1a", NULL);
        snprintf(extra, sizeof(extra), "\"attached_to\": \"%s\", \"device\": \"/dev/xvdf\"", me);
        free(seed_volume("us-east-1a", extra));
        vol = seed_volume("us-east-1a", "\"tags\": {\"swarmkeeper:cluster\": \"eb\", \"swarmkeeper:logical-id\": \"10.0.1.60\"}");
        control_void("DELETE", "/_fake/calls", NULL);
        CHECK_INT(ebs_attach(c, &volume_id, &device), 0);
        CHECK_STR(volume_id, vol);
        CHECK_STR(device, "/dev/sdg");
        rec = fake_find("volumes", vol);
        CHECK(strstr(strempty(json_object_to_json_string(rec)), "\"attached\"") != NULL);
        json_object_put(rec);
        CHECK_INT(fake_calls("AttachVolume", NULL), 1);
        free(volume_id);
        free(device);

        /* Again: already attached to us, no AttachVolume. */
        control_void("DELETE", "/_fake/calls", NULL);
        CHECK_INT(ebs_attach(c, &volume_id, &device), 0);
        CHECK_STR(volume_id, vol);
        CHECK_STR(device, "/dev/sdg");
        CHECK_INT(fake_calls("AttachVolume", NULL), 0);
        free(volume_id);
        free(device);
        config_free(c);

        /* Held by a dying instance: waits until it is released, then attaches. */
        reset_fake();
        free(me);
        me = seed_instance("10.0.1.61", "us-east-1a", NULL);
        other = seed_instance("10.0.1.62", "us-east-1a", NULL);
        snprintf(extra, sizeof(extra),
                 "\"attached_to\": \"%s\", \"tags\": {\"swarmkeeper:cluster\": \"eb\", \"swarmkeeper:logical-id\": \"10.0.1.61\"}",
                 other);
        free(vol);
        vol = seed_volume("us-east-1a", extra);
        {
                char path[128];
                snprintf(path, sizeof(path), "/_fake/instances/%s", other);
                control_void("POST", path, "{\"state\": \"shutting-down\"}");
        }
        c = host_config("10.0.1.61", "us-east-1a", me);
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        CHECK_INT(ebs_attach(c, &volume_id, &device), 0);
        CHECK_STR(volume_id, vol);
        CHECK_STR(device, "/dev/sdf");
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 < 8 * USEC_PER_SEC);
        free(volume_id);
        free(device);
        config_free(c);

        /* Held by a live instance: never taken away; times out. */
        reset_fake();
        free(me);
        me = seed_instance("10.0.1.63", "us-east-1a", NULL);
        free(other);
        other = seed_instance("10.0.1.64", "us-east-1a", NULL);
        snprintf(extra, sizeof(extra),
                 "\"attached_to\": \"%s\", \"tags\": {\"swarmkeeper:cluster\": \"eb\", \"swarmkeeper:logical-id\": \"10.0.1.63\"}",
                 other);
        free(seed_volume("us-east-1a", extra));
        c = host_config("10.0.1.63", "us-east-1a", me);
        CHECK_INT(config_set_value(c, CONFIG_VOLUME_ATTACH_TIMEOUT, "2", "test"), 0);
        CHECK_INT(ebs_attach(c, &volume_id, &device), -ETIME);
        CHECK_INT(fake_calls("AttachVolume", NULL), 0);
        CHECK_INT(fake_calls("DetachVolume", NULL), 0);

        /* Two volumes tagged for the same host: refuse to guess. */
        free(seed_volume("us-east-1a", "\"tags\": {\"swarmkeeper:cluster\": \"eb\", \"swarmkeeper:logical-id\": \"10.0.1.63\"}"));
        CHECK_INT(ebs_attach(c, &volume_id, &device), -ENOTUNIQ);

        /* EC2 failing for good: the error comes up (after the bounded retries). */
        reset_fake();
        control_void("POST", "/_fake/faults", "{\"code\": \"RequestLimitExceeded\", \"count\": 5}");
        CHECK_INT(ebs_attach(c, &volume_id, &device), -EAGAIN);
        control_void("DELETE", "/_fake/faults", NULL);
        config_free(c);
        (void) busy;
        (void) vol2;
}

/* ------------------------------------------------------------ main */

#define RUN(t)                                                                                      \
        do {                                                                                        \
                int _f = test_failures;                                                             \
                uint64_t _t = now_usec(CLOCK_MONOTONIC);                                            \
                t();                                                                                \
                printf("%s %s (%.2f s)\n", test_failures == _f ? "ok  " : "FAIL", #t,               \
                       (double) (now_usec(CLOCK_MONOTONIC) - _t) / USEC_PER_SEC);                   \
                fflush(stdout);                                                                     \
        } while (0)

int main(void) {
        const char *pending[] = { "--pending-delay", "0.2", "--shutdown-delay", "0.5", "--ip-release-delay", "10",
                                  NULL };
        int r;

        if (getenv("SK_TEST_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        else
                log_set_max_level(LOG_CRIT); /* the expected failures would be noise */
        r = fake_start(&fake, pending);
        if (r < 0) {
                fprintf(stderr, "Cannot start the fake EC2: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        r = fake_start_script(&garbage, "tests/aws/garbage_server.py", NULL);
        if (r < 0) {
                fprintf(stderr, "Cannot start the garbage server: %s\n", strerror(-r));
                fake_stop(&fake);
                return EXIT_FAILURE;
        }

        RUN(test_imds);
        RUN(test_imds_token);
        RUN(test_role_credentials_refresh);
        RUN(test_refused_credentials_refetched);
        RUN(test_bad_keys);
        RUN(test_describe_pagination);
        RUN(test_describe_subnets);
        RUN(test_run_and_terminate);
        RUN(test_volumes);
        RUN(test_throttling);
        RUN(test_garbage_ec2);
        RUN(test_garbage_imds);
        RUN(test_listing_limits);
        RUN(test_cancel);
        RUN(test_identity);
        RUN(test_ebs);

        fake_stop(&garbage);
        fake_stop(&fake);
        return test_done("aws-client");
}
