/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "prepare.h"
#include "volume.h"
#include "test.h"

static void test_candidates(void) {
        static const struct {
                const char *device, *volume_id, *requested;
                const char *expect[4];
                int r;
        } cases[] = {
                { "/dev/xvdf", "vol-0123456789abcdef0", "/dev/sdg", { "/dev/xvdf" }, 0 },
                { "auto", "vol-0123456789abcdef0", NULL,
                  { "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0" }, 0 },
                { "auto", "vol-0123456789abcdef0", "/dev/sdf",
                  { "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0", "/dev/xvdf", "/dev/sdf" }, 0 },
                { "auto", NULL, "/dev/sdh", { "/dev/xvdh", "/dev/sdh" }, 0 },
                { "auto", NULL, "/dev/xvdk", { "/dev/xvdk" }, 0 },
                { "auto", "vol-12345678", NULL, { "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol12345678" }, 0 },
                { "auto", NULL, NULL, {}, -EINVAL },
                { "auto", "", "", {}, -EINVAL },
                { "auto", "notavolume", NULL, {}, -EINVAL },
                /* Nothing from an EC2 answer becomes a path unchecked. */
                { "auto", "vol-../../../dev/sda", NULL, {}, -EINVAL },
                { "auto", "vol-0123456789abcdef0/../x", NULL, {}, -EINVAL },
                { "auto", "vol-0123456789abcdef0", "/dev/sdf/../../etc/passwd", {}, -EINVAL },
                { "auto", NULL, "/dev/../dev/sda", {}, -EINVAL },
                { "auto", NULL, "/dev/sdf/", {}, -EINVAL },
                { "auto", NULL, "sdf", {}, -EINVAL },
                { "auto", NULL, "/etc/passwd", {}, -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(strv_freep) char **l = NULL;
                int r = volume_device_candidates(cases[i].device, cases[i].volume_id, cases[i].requested, &l);
                CHECK_INT(r, cases[i].r);
                if (r < 0) {
                        CHECK(l == NULL);
                        continue;
                }
                size_t n = 0;
                while (n < 4 && cases[i].expect[n])
                        n++;
                CHECK_INT(strv_length(l), n);
                for (size_t j = 0; j < n && l && l[j]; j++)
                        CHECK_STR(l[j], cases[i].expect[j]);
        }
}

static void test_names_valid(void) {
        static const struct {
                const char *s;
                bool ok;
        } devs[] = {
                { "/dev/sdf", true },
                { "/dev/sdp", true },
                { "/dev/xvdf", true },
                { "/dev/xvdba", true },
                { "/dev/sd", false },
                { "/dev/xvd", false },
                { "/dev/sdF", false },
                { "/dev/sdf1", false },
                { "/dev/xvdaaa", false },
                { "/dev/sdf/..", false },
                { "/dev/../sdf", false },
                { "/dev/sdf/../../etc/shadow", false },
                { "/dev/nvme1n1", false },
                { "/dev//sdf", false },
                { "sdf", false },
                { "/dev/sd.", false },
                { "", false },
                { NULL, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(devs); i++) {
                if (volume_device_name_valid(devs[i].s) != devs[i].ok)
                        fprintf(stderr, "device name '%s'\n", strempty(devs[i].s));
                CHECK_INT(volume_device_name_valid(devs[i].s), devs[i].ok);
        }
}

static void test_wait_timeout(void) {
        char *cands[] = { (char *) "/nonexistent/dev/xvdz", (char *) "/dev/null", NULL }; /* /dev/null: not a block device */
        char *path = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC), dt;

        CHECK_INT(volume_wait_device(cands, t0 + 300 * USEC_PER_MSEC, &path), -ETIMEDOUT);
        dt = now_usec(CLOCK_MONOTONIC) - t0;
        CHECK(dt >= 300 * USEC_PER_MSEC);
        CHECK(dt < 2 * USEC_PER_SEC);
        CHECK(path == NULL);

        /* A deadline already past: no wait at all (the attach wait used it up). */
        t0 = now_usec(CLOCK_MONOTONIC);
        CHECK_INT(volume_wait_device(cands, t0 - USEC_PER_SEC, &path), -ETIMEDOUT);
        CHECK(now_usec(CLOCK_MONOTONIC) - t0 < 100 * USEC_PER_MSEC);
}

static void test_open_rejects_non_block(void) {
        VolumeDevice *d = NULL;
        CHECK_INT(volume_device_open("/dev/null", &d), -ENOTBLK);
        CHECK_INT(volume_device_open("/nonexistent", &d), -ENOENT);
        CHECK(d == NULL);
}

/* The unit's TimeoutStartSec= leaves mkfs its time after the longest default wait. */
static void test_unit_timeout(void) {
        _cleanup_(config_freep) Config *c = NULL;
        const char *src = getenv("SK_SOURCE_DIR");
        char path[4096], line[512];
        unsigned long timeout = 0;
        FILE *f;

        CHECK(src != NULL);
        if (!src)
                return;
        snprintf(path, sizeof(path), "%s/units/swarmkeeper-prepare.service", src);
        f = fopen(path, "re");
        CHECK(f != NULL);
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                unsigned long v;
                char unit[8] = "";
                if (sscanf(line, "TimeoutStartSec=%lu%7s", &v, unit) >= 1)
                        timeout = streq(unit, "min") ? v * 60 : streq(unit, "") || streq(unit, "s") ? v : 0;
        }
        fclose(f);
        CHECK_INT(config_new(&c), 0);
        if (!c)
                return;
        if (timeout < c->attach_timeout_sec + PREPARE_FORMAT_RESERVE_SEC)
                fprintf(stderr, "TimeoutStartSec=%lu s < AttachTimeoutSec %u + %u\n", timeout, c->attach_timeout_sec,
                        PREPARE_FORMAT_RESERVE_SEC);
        CHECK(timeout >= c->attach_timeout_sec + PREPARE_FORMAT_RESERVE_SEC);
}

/* Every unit that shares /run/swarmkeeper keeps it when it stops: systemd would
 * otherwise remove prepare's "formatted" marker with the directory. */
static void test_units_preserve_runtime_directory(void) {
        static const char *const units[] = { "swarmkeeper-prepare.service", "swarmkeeper.service" };
        const char *src = getenv("SK_SOURCE_DIR");

        CHECK(src != NULL);
        for (size_t i = 0; src && i < ELEMENTSOF(units); i++) {
                char path[4096], line[512];
                bool shares = false, preserves = false;
                FILE *f;

                snprintf(path, sizeof(path), "%s/units/%s", src, units[i]);
                f = fopen(path, "re");
                CHECK(f != NULL);
                if (!f)
                        continue;
                while (fgets(line, sizeof(line), f)) {
                        shares = shares || streq(line, "RuntimeDirectory=swarmkeeper\n");
                        preserves = preserves || streq(line, "RuntimeDirectoryPreserve=yes\n");
                }
                fclose(f);
                if (i == 0)
                        CHECK(shares); /* prepare writes the marker there */
                if (shares && !preserves)
                        fprintf(stderr, "%s: RuntimeDirectory=swarmkeeper without RuntimeDirectoryPreserve=yes\n",
                                units[i]);
                CHECK(!shares || preserves);
        }
}

static void test_marker_path(void) {
        char *p = NULL;

        CHECK_INT(unsetenv("RUNTIME_DIRECTORY"), 0);
        CHECK_INT(volume_formatted_marker_path(&p), 0);
        CHECK_STR(p, "/run/swarmkeeper/formatted");
        free(p);
        CHECK_INT(setenv("RUNTIME_DIRECTORY", "/run/a:/run/b", 1), 0);
        CHECK_INT(volume_formatted_marker_path(&p), 0);
        CHECK_STR(p, "/run/a/formatted");
        free(p);
        CHECK_INT(unsetenv("RUNTIME_DIRECTORY"), 0);
}

/* prepare writes the marker, the daemon sees and removes it: one owner, volume.c. */
static void test_marker_file(void) {
        char dir[] = "/tmp/sk-test-marker.XXXXXX", sub[64], path[96];
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;

        CHECK(mkdtemp(dir) != NULL);
        (void) snprintf(sub, sizeof(sub), "%s/rt", dir); /* created by the write */
        (void) snprintf(path, sizeof(path), "%s/formatted", sub);
        CHECK_INT(setenv("RUNTIME_DIRECTORY", sub, 1), 0);

        CHECK(!volume_formatted_marker_exists());
        CHECK_INT(volume_formatted_marker_remove(), 0); /* none: fine */
        CHECK_INT(volume_formatted_marker_write("/dev/nvme1n1", "vol-0123456789abcdef0", FS_XFS), 0);
        CHECK(volume_formatted_marker_exists());
        CHECK_INT(read_full_file(path, &text, &size), 0);
        CHECK(text && startswith(text, "DEVICE=/dev/nvme1n1\nVOLUME_ID=vol-0123456789abcdef0\nFILESYSTEM=xfs\n"
                                       "FORMATTED_AT=20"));
        CHECK(text && endswith(text, "Z\n"));
        free(text);
        text = NULL;
        CHECK_INT(volume_formatted_marker_write("/dev/xvdf", NULL, FS_EXT4), 0);
        CHECK_INT(read_full_file(path, &text, &size), 0);
        CHECK(text && startswith(text, "DEVICE=/dev/xvdf\nVOLUME_ID=\nFILESYSTEM=ext4\n"));
        CHECK_INT(volume_formatted_marker_remove(), 0);
        CHECK(!volume_formatted_marker_exists());
        CHECK(access(path, F_OK) < 0);

        CHECK_INT(unsetenv("RUNTIME_DIRECTORY"), 0);
        (void) rmdir(sub);
        (void) rmdir(dir);
}

int main(void) {
        test_candidates();
        test_names_valid();
        test_wait_timeout();
        test_open_rejects_non_block();
        test_unit_timeout();
        test_units_preserve_runtime_directory();
        test_marker_path();
        test_marker_file();
        return test_done("test-volume");
}
