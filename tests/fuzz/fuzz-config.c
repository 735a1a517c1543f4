/* SPDX-License-Identifier: MIT */
/* The configuration parser: any bytes as a config file, then the verify step and the
 * dump (which must never print a secret). */
#include <stdio.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(freep) char *text = strndup((const char *) data, size);
        FILE *devnull;

        if (!text || config_new(&c) < 0)
                return 0;
        log_set_max_level(-1); /* quiet */
        (void) config_parse_text(c, text, "fuzz.conf");
        (void) config_verify(c);
        devnull = fopen("/dev/null", "we");
        if (devnull) {
                config_dump(c, devnull);
                fclose(devnull);
        }
        return 0;
}
