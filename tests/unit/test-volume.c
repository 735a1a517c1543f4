/* SPDX-License-Identifier: MIT */
#include <time.h>

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

static void test_wait_timeout(void) {
        char *cands[] = { (char *) "/nonexistent/dev/xvdz", (char *) "/dev/null", NULL }; /* /dev/null: not a block device */
        char *path = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC), dt;

        CHECK_INT(volume_wait_device(cands, 300 * USEC_PER_MSEC, &path), -ETIMEDOUT);
        dt = now_usec(CLOCK_MONOTONIC) - t0;
        CHECK(dt >= 300 * USEC_PER_MSEC);
        CHECK(dt < 2 * USEC_PER_SEC);
        CHECK(path == NULL);
}

static void test_probe_rejects_non_block(void) {
        VolumeProbe p;
        CHECK_INT(volume_probe("/dev/null", FS_EXT4, &p), -ENOTBLK);
        CHECK_INT(volume_probe("/nonexistent", FS_EXT4, &p), -ENOENT);
}

int main(void) {
        test_candidates();
        test_wait_timeout();
        test_probe_rejects_non_block();
        return test_done("test-volume");
}
