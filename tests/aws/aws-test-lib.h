/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * What the tests of the agent's AWS side (tests/aws/test-<module>-client.c) share: the
 * fake EC2 + IMDS (tests/fake-ec2/fake_ec2.py) and the scripted server that answers
 * garbage (garbage_server.py), started once per executable; control calls to them that
 * count as checks; clients on the fake with static keys and recorded (not slept)
 * retries; a host's and a cluster's configuration; and the main that runs each test
 * and prints its checks. Only 127.0.0.1; no root needed.
 *
 * test.h keeps its counters in static variables, so this is a header of static inline
 * functions compiled into each executable, not a .c of its own.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <time.h>

#include "config.h"
#include "creds.h"
#include "ec2.h"
#include "fake.h"
#include "log.h"
#include "test.h"

/* The suite runs at LOG_CRIT, so a logged message is checked only through these:
 * what the agent logs at `level` and above until capture_end(). */
static inline void capture_start(TestCapture *c, int level) {
        setenv("SWARMKEEPER_LOG", "stderr", 1);
        log_setup();
        log_set_max_level(level);
        test_capture_begin(c);
}

static inline char *capture_end(TestCapture *c) {
        char *text = test_capture_end(c);
        log_set_max_level(getenv("SK_TEST_DEBUG") ? LOG_DEBUG : LOG_CRIT);
        return text;
}

static Fake fake, garbage;

/* ------------------------------------------------------------ helpers */

typedef struct Sleeps {
        unsigned n;
        uint64_t v[64];
} Sleeps;

static inline void record_sleep(uint64_t usec, void *userdata) {
        Sleeps *s = userdata;
        if (s->n < ELEMENTSOF(s->v))
                s->v[s->n] = usec;
        s->n++;
}

static inline void msleep(unsigned ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

/* A control call to the fake; anything but 200 counts as a failed check. */
_printf_(3, 0) static inline struct json_object *vcontrol(const char *method, const char *path, const char *fmt,
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

static inline struct json_object *control(const char *method, const char *path, const char *fmt, ...) _printf_(3, 4);
static inline struct json_object *control(const char *method, const char *path, const char *fmt, ...) {
        struct json_object *o;
        va_list ap;

        va_start(ap, fmt);
        o = vcontrol(method, path, fmt, ap);
        va_end(ap);
        return o;
}

static inline void control_void(const char *method, const char *path, const char *fmt, ...) _printf_(3, 4);
static inline void control_void(const char *method, const char *path, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        json_object_put(vcontrol(method, path, fmt, ap));
        va_end(ap);
}

/* Seed an instance; returns its id (static buffer per call site is enough here). */
static inline char *seed_instance(const char *ip, const char *az, const char *extra) {
        struct json_object *o = control("POST", "/_fake/instances", "{\"private_ip\": \"%s\", \"az\": \"%s\"%s%s}",
                                        ip, az, extra ? ", " : "", strempty(extra));
        char *id = o && json_str(o, "id") ? strdup(json_str(o, "id")) : NULL;
        json_object_put(o);
        return id;
}

static inline char *seed_volume(const char *az, const char *extra) {
        struct json_object *o = control("POST", "/_fake/volumes", "{\"az\": \"%s\", \"size\": 8%s%s}", az,
                                        extra ? ", " : "", strempty(extra));
        char *id = o && json_str(o, "id") ? strdup(json_str(o, "id")) : NULL;
        json_object_put(o);
        return id;
}

/* The fake's record of an instance or volume, by id (caller puts). */
static inline struct json_object *fake_find(const char *kind, const char *id) {
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
static inline unsigned fake_calls(const char *action, struct json_object **ret_last) {
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

static inline const char *json_param(struct json_object *call, const char *key) {
        struct json_object *p;
        return call && json_object_object_get_ex(call, "params", &p) ? json_str(p, key) : NULL;
}

static inline void reset_fake(void) {
        control_void("POST", "/_fake/reset", NULL);
        control_void("DELETE", "/_fake/calls", NULL);
}

static inline void use_static_keys(void) {
        setenv("AWS_ACCESS_KEY_ID", FAKE_AKID, 1);
        setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET, 1);
        unsetenv("AWS_SESSION_TOKEN");
}

static inline void no_env_keys(void) {
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

static inline void env_open(Env *e) {
        *e = (Env) {};
        use_static_keys();
        CHECK_INT(creds_provider_new(NULL, &e->creds), 0);
        CHECK_INT(ec2_client_new("us-east-1", fake.url, e->creds, &e->ec2), 0);
        ec2_client_set_sleep(e->ec2, record_sleep, &e->sleeps);
}

static inline void env_close(Env *e) {
        ec2_client_free(e->ec2);
        creds_provider_free(e->creds);
        *e = (Env) {};
}

#define CHECK_EC2_CODE(e, expect) CHECK_STR(ec2_client_last_error((e)->ec2)->code, expect)

/* ------------------------------------------------------------ the garbage server */

static inline void script(const char *json) {
        long st = fake_control(&garbage, "POST", "/_script", json, NULL);
        CHECK_INT(st, 200);
}

/* ------------------------------------------------------------ a host's configuration (identity, ebs) */

static inline Config *host_config(const char *ip, const char *az, const char *instance) {
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

/* ------------------------------------------------------------ a cluster's configuration (act, overview) */

/* config_set() of a formatted "Section.Key=value"; a check. */
_printf_(2, 3) static inline void config_setf(Config *c, const char *fmt, ...) {
        _cleanup_(freep) char *assignment = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&assignment, fmt, ap);
        va_end(ap);
        CHECK_INT(r >= 0 ? config_set(c, assignment) : -ENOMEM, 0);
}

/* Cluster.Name=name with Cluster.Managers=managers and `workers` workers, launching
 * ami-12345678 t3.small into subnets, EC2 and the metadata service on the fake; the
 * engine at engine_socket (NULL: none configured). Each key set is a check. */
static inline Config *cluster_config(const char *name, const char *managers, unsigned workers, const char *subnets,
                                     const char *engine_socket) {
        Config *c = NULL;

        CHECK_INT(config_new(&c), 0);
        config_setf(c, "Cluster.Name=%s", name);
        config_setf(c, "Cluster.Managers=%s", managers);
        config_setf(c, "Cluster.Workers=%u", workers);
        CHECK_INT(config_set(c, "Launch.ImageId=ami-12345678"), 0);
        CHECK_INT(config_set(c, "Launch.InstanceType=t3.small"), 0);
        config_setf(c, "Launch.SubnetIds=%s", subnets);
        CHECK_INT(config_set(c, "AWS.Region=us-east-1"), 0);
        CHECK_INT(config_set_value(c, CONFIG_AWS_ENDPOINT, fake.url, "test"), 0);
        CHECK_INT(config_set_value(c, CONFIG_AWS_METADATA_ENDPOINT, fake.url, "test"), 0);
        if (engine_socket)
                CHECK_INT(config_set_value(c, CONFIG_ENGINE_SOCKET, engine_socket, "test"), 0);
        return c;
}

/* ------------------------------------------------------------ main */

typedef struct AwsTest {
        const char *name;
        void (*run)(void);
} AwsTest;

#define AWS_TEST(t) { #t, t }

/* Which servers an executable starts. */
enum {
        AWS_TEST_FAKE = 1 << 0,
        AWS_TEST_GARBAGE = 1 << 1,
};

/* Starts the servers (the fake with fake_args, NULL: the defaults below), runs tests (up
 * to a { NULL } entry) in order, printing each one's result and checks, stops the
 * servers; the exit status of test_done(name). */
static inline int aws_test_main_args(const char *name, unsigned servers, const AwsTest *tests,
                                     const char *const *fake_args) {
        static const char *const defaults[] = { "--pending-delay", "0.2", "--shutdown-delay", "0.5",
                                                "--ip-release-delay", "10", NULL };
        const char *const *pending = fake_args ?: defaults;
        int r;

        if (getenv("SK_TEST_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        else
                log_set_max_level(LOG_CRIT); /* the expected failures would be noise */
        if (servers & AWS_TEST_FAKE) {
                r = fake_start(&fake, pending);
                if (r < 0) {
                        fprintf(stderr, "Cannot start the fake EC2: %s\n", strerror(-r));
                        return EXIT_FAILURE;
                }
        }
        if (servers & AWS_TEST_GARBAGE) {
                r = fake_start_script(&garbage, "tests/aws/garbage_server.py", NULL);
                if (r < 0) {
                        fprintf(stderr, "Cannot start the garbage server: %s\n", strerror(-r));
                        fake_stop(&fake);
                        return EXIT_FAILURE;
                }
        }

        for (const AwsTest *t = tests; t->name; t++) {
                int failures = test_failures, checks = test_checks;
                uint64_t t0 = now_usec(CLOCK_MONOTONIC);

                t->run();
                printf("%s %s: %d checks (%.2f s)\n", test_failures == failures ? "ok  " : "FAIL", t->name,
                       test_checks - checks, (double) (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_SEC);
                fflush(stdout);
        }

        fake_stop(&garbage);
        fake_stop(&fake);
        return test_done(name);
}

static inline int aws_test_main(const char *name, unsigned servers, const AwsTest *tests) {
        return aws_test_main_args(name, servers, tests, NULL);
}
