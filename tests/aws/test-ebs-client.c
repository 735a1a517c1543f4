/* SPDX-License-Identifier: MIT */
/*
 * This host's EBS volume (agent/ebs.c) against the fake EC2: none, one in another zone
 * (the error names both), found and attached on a free device name, already attached,
 * held by a dying instance (waited for) or a live one (never taken; times out), two
 * tagged for the same host (refused), EC2 failing for good.
 */
#include "aws-test-lib.h"
#include "ebs.h"

/* ------------------------------------------------------------ ebs */

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

int main(void) {
        static const AwsTest tests[] = {
                AWS_TEST(test_ebs),
                {},
        };

        return aws_test_main("ebs-client", AWS_TEST_FAKE, tests);
}
