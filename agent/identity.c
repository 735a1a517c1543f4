/* SPDX-License-Identifier: MIT */
#include "identity.h"
#include "log.h"

int identity_resolve(Config *c) {
        static const ConfigKeyId need[] = { CONFIG_HOST_INSTANCE_ID, CONFIG_HOST_PRIVATE_IP,
                                            CONFIG_HOST_AZ };
        for (size_t i = 0; i < ELEMENTSOF(need); i++)
                if (isempty(c->raw[need[i]]))
                        return log_error("%s is not set, and the metadata service is not supported yet.",
                                         config_key_name(need[i])),
                               -EINVAL;
        return 0;
}
