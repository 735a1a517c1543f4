/* SPDX-License-Identifier: MIT */
/* This host's EBS volume (ebs.c), its pure parts: the checks on a DescribeVolumes item,
 * which tagged volume is the seat's, and the refusals before any request. Finding and
 * attaching against the fake EC2: tests/aws/test-ebs-client.c; the device,
 * mkfs and mount: tests/aws/prepare-ebs.sh and tests/root/prepare-loop.sh (root). */
#include <time.h>

#include "ebs.h"
#include "log.h"
#include "test.h"

#define ME "i-0123456789abcdef0"
#define OTHER "i-0fedcba9876543210"

static void test_volume_check(void) {
        Ec2Attachment mine = { .instance_id = (char *) ME, .device = (char *) "/dev/sdf",
                               .state = EC2_ATTACHMENT_ATTACHED };
        Ec2Attachment other = { .instance_id = (char *) OTHER, .device = (char *) "/dev/sdg",
                                .state = EC2_ATTACHMENT_ATTACHED };
        Ec2Attachment other_attaching = other, other_detaching = other, other_detached = other;
        Ec2Attachment bad_dev = mine, bad_instance = other;
        const char *who;

        other_attaching.state = EC2_ATTACHMENT_ATTACHING;
        other_detaching.state = EC2_ATTACHMENT_DETACHING;
        other_detached.state = EC2_ATTACHMENT_DETACHED;
        bad_dev.device = (char *) "/dev/sdf/../../root";
        bad_instance.instance_id = (char *) "i-../x";

        Ec2Attachment a1[] = { mine };
        Ec2Attachment a2[] = { mine, other };
        Ec2Attachment a3[] = { other, mine }; /* ours not first */
        Ec2Attachment a4[] = { mine, other_attaching };
        Ec2Attachment a5[] = { mine, other_detaching };
        Ec2Attachment a6[] = { mine, other_detached };
        Ec2Attachment a7[] = { other };
        Ec2Attachment a8[] = { bad_dev };
        Ec2Attachment a9[] = { mine, bad_instance };
        static const char *vid = "vol-0123456789abcdef0";
        const struct {
                const char *volume_id;
                Ec2Attachment *att;
                size_t n;
                int r;
                const char *other;
        } cases[] = {
                { vid, NULL, 0, 0, NULL },
                { vid, a1, 1, 0, NULL },
                { vid, a2, 2, -EUSERS, OTHER },
                { vid, a3, 2, -EUSERS, OTHER },
                { vid, a4, 2, -EUSERS, OTHER },
                { vid, a5, 2, -EUSERS, OTHER },  /* not detached yet: still there */
                { vid, a6, 2, 0, NULL },
                { vid, a7, 1, 0, NULL },         /* only someone else's: the caller waits */
                { vid, a8, 1, -EBADMSG, NULL },
                { vid, a9, 2, -EBADMSG, NULL },
                { "vol-../../etc", a1, 1, -EBADMSG, NULL },
                { NULL, a1, 1, -EBADMSG, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Ec2Volume v = { .volume_id = (char *) cases[i].volume_id, .attachments = cases[i].att,
                                .n_attachments = cases[i].n };
                who = NULL;
                CHECK_INT(ebs_volume_check(&v, ME, &who), cases[i].r);
                if (cases[i].other)
                        CHECK_STR(who, cases[i].other);
        }
}

/* Which tagged volume is the seat's: only ever the one and only (issue 14: a second
 * volume tagged for the seat and attached here was mounted). */
static void test_choose_volume(void) {
        Ec2Attachment mine = { .instance_id = (char *) ME, .device = (char *) "/dev/sdf",
                               .state = EC2_ATTACHMENT_ATTACHED };
        Ec2Attachment other = { .instance_id = (char *) OTHER, .device = (char *) "/dev/sdf",
                                .state = EC2_ATTACHMENT_ATTACHED };
        Ec2Volume here = { .volume_id = (char *) "vol-0aaaaaaaaaaaaaaa1", .state = EC2_VOLUME_IN_USE,
                           .attachments = &mine, .n_attachments = 1 };
        Ec2Volume there = { .volume_id = (char *) "vol-0bbbbbbbbbbbbbbb2", .state = EC2_VOLUME_IN_USE,
                            .attachments = &other, .n_attachments = 1 };
        Ec2Volume free1 = { .volume_id = (char *) "vol-0ccccccccccccccc3", .state = EC2_VOLUME_AVAILABLE };
        Ec2Volume free2 = { .volume_id = (char *) "vol-0ddddddddddddddd4", .state = EC2_VOLUME_AVAILABLE };
        const struct {
                const char *name;
                Ec2Volume v[3];
                size_t n;
                int r;
                size_t pick;
        } cases[] = {
                { "none", { {} }, 0, -ENOENT, 0 },
                { "one, available", { free1 }, 1, 0, 0 },
                { "one, attached here", { here }, 1, 0, 0 },
                { "one, attached elsewhere (the caller waits)", { there }, 1, 0, 0 },
                { "two, one attached here", { free1, here }, 2, -ENOTUNIQ, 0 },
                { "two, one attached here, listed first", { here, free1 }, 2, -ENOTUNIQ, 0 },
                { "two, both available", { free1, free2 }, 2, -ENOTUNIQ, 0 },
                { "two, one elsewhere", { there, free1 }, 2, -ENOTUNIQ, 0 },
                { "three, one attached here", { free1, here, there }, 3, -ENOTUNIQ, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t pick = SIZE_MAX;
                int r = ebs_choose_volume(cases[i].v, cases[i].n, &pick);
                if (r != cases[i].r)
                        fprintf(stderr, "choose volume, case '%s': %d, expected %d\n", cases[i].name, r, cases[i].r);
                CHECK_INT(r, cases[i].r);
                CHECK_INT(pick, cases[i].r == 0 ? cases[i].pick : SIZE_MAX); /* untouched on refusal */
        }
}

/* ebs_locate_and_attach() refuses before it asks anyone: a [Host] key missing, a metadata
 * endpoint it cannot use, half a key pair. Every endpoint is a closed loopback port, so a
 * request that should not be made fails differently (and slowly). */
static void test_locate_refusals(void) {
        static const struct {
                const char *name, *instance, *ip, *az, *metadata, *akid, *secret;
                int r;
        } cases[] = {
                { "no instance id", NULL, "10.0.1.10", "us-east-1a", NULL, NULL, NULL, -EINVAL },
                { "no private ip", ME, NULL, "us-east-1a", NULL, NULL, NULL, -EINVAL },
                { "no zone", ME, "10.0.1.10", NULL, NULL, NULL, NULL, -EINVAL },
                { "nothing", NULL, NULL, NULL, NULL, NULL, NULL, -EINVAL },
                { "metadata endpoint not a URL", ME, "10.0.1.10", "us-east-1a", "169.254.169.254", "AKID", "s", -EINVAL },
                { "access key without secret", ME, "10.0.1.10", "us-east-1a", NULL, "AKID", NULL, -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                char *vol = (char *) "untouched", *dev = (char *) "untouched";
                int r;

                CHECK_INT(config_new(&c), 0);
                if (!c)
                        continue;
                CHECK_INT(config_set_value(c, CONFIG_AWS_REGION, "us-east-1", "test"), 0);
                CHECK_INT(config_set_value(c, CONFIG_AWS_ENDPOINT, "http://127.0.0.1:1", "test"), 0);
                CHECK_INT(free_and_strdup(&c->metadata_endpoint, cases[i].metadata ?: "http://127.0.0.1:1"), 0);
                if (cases[i].instance)
                        CHECK_INT(config_set_value(c, CONFIG_HOST_INSTANCE_ID, cases[i].instance, "test"), 0);
                if (cases[i].ip)
                        CHECK_INT(config_set_value(c, CONFIG_HOST_PRIVATE_IP, cases[i].ip, "test"), 0);
                if (cases[i].az)
                        CHECK_INT(config_set_value(c, CONFIG_HOST_AZ, cases[i].az, "test"), 0);
                if (cases[i].akid)
                        setenv("AWS_ACCESS_KEY_ID", cases[i].akid, 1);
                else
                        unsetenv("AWS_ACCESS_KEY_ID");
                if (cases[i].secret)
                        setenv("AWS_SECRET_ACCESS_KEY", cases[i].secret, 1);
                else
                        unsetenv("AWS_SECRET_ACCESS_KEY");

                r = ebs_locate_and_attach(c, now_usec(CLOCK_MONOTONIC) + USEC_PER_SEC, &vol, &dev);
                if (r != cases[i].r)
                        fprintf(stderr, "locate, case '%s': %d, expected %d\n", cases[i].name, r, cases[i].r);
                CHECK_INT(r, cases[i].r);
                CHECK_STR(vol, "untouched");
                CHECK_STR(dev, "untouched");
        }
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
}

int main(void) {
        log_set_max_level(LOG_CRIT); /* the refusals are logged: expected */
        test_volume_check();
        test_choose_volume();
        test_locate_refusals();
        return test_done("ebs");
}
