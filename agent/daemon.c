/* SPDX-License-Identifier: MIT */
#include "daemon.h"
#include "log.h"

int verb_run(Config *c, const ConfigArgs *args, bool json) {
        (void) c; (void) args; (void) json;
        log_error("'run' is not implemented yet.");
        return SK_EXIT_FAILURE;
}
