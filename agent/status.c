/* SPDX-License-Identifier: MIT */
#include "status.h"
#include "log.h"

int verb_status(Config *c, const ConfigArgs *args, bool json) {
        (void) c; (void) args; (void) json;
        log_error("'status' is not implemented yet.");
        return SK_EXIT_FAILURE;
}
