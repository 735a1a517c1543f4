/* SPDX-License-Identifier: MIT */
/*
 * How long config_parse_buffer() takes on large, pathological inputs (issue 10: 200 KB
 * of blanks took 1.3 s, the parser was quadratic). Prints one line per input; with
 * --max-ms N exits 1 if any input (best of 3) took longer. scripts/bench-config-parse.sh
 * runs it; the unit suite runs it with a generous bound.
 *   bench-config-parse [--max-ms N] [KiB]
 */
#include <time.h>

#include "config.h"
#include "log.h"

static char *make(const char *name, size_t kib, size_t *ret_size) {
        size_t n = kib * 1024, i = 0;
        char *t = malloc(n + 64);

        if (!t)
                return NULL;
        if (streq(name, "blanks")) { /* one line of spaces */
                memset(t, ' ', n);
                i = n;
        } else if (streq(name, "blank-lines")) {
                for (; i + 2 <= n; i += 2)
                        memcpy(t + i, " \n", 2);
        } else if (streq(name, "continuations")) { /* one value over many lines */
                i = (size_t) sprintf(t, "[Engine]\nLabels=a=b");
                for (; i + 4 <= n; i += 4)
                        memcpy(t + i, " \\\n ", 4);
        } else if (streq(name, "comment")) {
                t[i++] = '#';
                memset(t + i, 'x', n - 1);
                i = n;
        } else { /* many short assignments */
                i = (size_t) sprintf(t, "[Cluster]\n");
                while (i + 16 <= n)
                        i += (size_t) sprintf(t + i, "Workers=%u\n", (unsigned) (i % 100));
        }
        t[i] = 0;
        *ret_size = i;
        return t;
}

int main(int argc, char **argv) {
        static const char *const names[] = { "blanks", "blank-lines", "continuations", "comment", "keys" };
        double max_ms = 0, worst = 0;
        size_t kib = 200;
        int a = 1;

        if (a + 1 < argc && streq(argv[a], "--max-ms")) {
                max_ms = atof(argv[a + 1]);
                a += 2;
        }
        if (a < argc)
                kib = (size_t) atol(argv[a]);
        log_set_max_level(LOG_ERR);

        for (size_t k = 0; k < ELEMENTSOF(names); k++) {
                _cleanup_(freep) char *text = NULL;
                double best = 1e9;
                size_t size = 0;

                text = make(names[k], kib, &size);
                if (!text)
                        return 2;
                for (int rep = 0; rep < 3; rep++) {
                        _cleanup_(config_freep) Config *c = NULL;
                        uint64_t t0;
                        double ms;
                        int r;

                        if (config_new(&c) < 0)
                                return 2;
                        t0 = now_usec(CLOCK_MONOTONIC);
                        r = config_parse_buffer(c, text, size, "bench.conf");
                        ms = (double) (now_usec(CLOCK_MONOTONIC) - t0) / 1000.0;
                        if (r < 0) {
                                fprintf(stderr, "%s: parse failed: %d\n", names[k], r);
                                return 2;
                        }
                        if (ms < best)
                                best = ms;
                }
                printf("%-14s %6zu KiB  %8.3f ms\n", names[k], size / 1024, best);
                if (best > worst)
                        worst = best;
        }
        if (max_ms > 0 && worst > max_ms) {
                printf("FAIL: slowest input took %.3f ms, bound %.3f ms\n", worst, max_ms);
                return 1;
        }
        return 0;
}
