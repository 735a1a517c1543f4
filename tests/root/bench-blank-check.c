/* SPDX-License-Identifier: MIT */
/*
 * bench-blank-check DEVICE [RUNS]: open and hold DEVICE as prepare does, then time
 * volume_probe() (libblkid + first/last MiB + the samples; the page cache of the
 * device is dropped before each run by the probe itself). Prints what it found and
 * min/median/max in ms. Used by scripts/bench-blank-check.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "volume.h"

static int cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
        _cleanup_(volume_device_freep) VolumeDevice *d = NULL;
        int runs = argc > 2 ? atoi(argv[2]) : 10, r;
        uint64_t *t;
        VolumeProbe p = {};

        if (argc < 2 || runs < 1) {
                fprintf(stderr, "usage: %s DEVICE [RUNS]\n", argv[0]);
                return 2;
        }
        r = volume_device_open(argv[1], &d);
        if (r < 0) {
                fprintf(stderr, "open %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        t = calloc((size_t) runs, sizeof(*t));
        if (!t)
                return 1;
        for (int i = 0; i < runs; i++) {
                uint64_t t0 = now_usec(CLOCK_MONOTONIC);
                r = volume_probe(d, FS_EXT4, &p);
                t[i] = now_usec(CLOCK_MONOTONIC) - t0;
                if (r < 0) {
                        fprintf(stderr, "probe: %s\n", strerror(-r));
                        free(t);
                        return 1;
                }
        }
        qsort(t, (size_t) runs, sizeof(*t), cmp);
        printf("%s: %.1f GiB, %s; %d runs: min %.1f ms, median %.1f ms, max %.1f ms\n", argv[1],
               (double) d->size / (1024.0 * 1024 * 1024), p.description, runs, t[0] / 1000.0,
               t[runs / 2] / 1000.0, t[runs - 1] / 1000.0);
        free(t);
        return 0;
}
