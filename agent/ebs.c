/* SPDX-License-Identifier: MIT */
#include "ebs.h"
#include "log.h"

int ebs_locate_and_attach(const Config *c, char **ret_volume_id, char **ret_requested_device) {
        (void) c; (void) ret_volume_id; (void) ret_requested_device;
        return log_error("Volume.Id is not set and Volume.Device=auto; finding the volume by its "
                         "tags is not supported yet."),
               -EOPNOTSUPP;
}
