/* SPDX-License-Identifier: MIT */
#include "identity.h"

#include "imds.h"
#include "log.h"
#include "messages.h"

static const struct {
        ConfigKeyId key;
        ImdsKey imds;
} identity_keys[] = {
        { CONFIG_HOST_INSTANCE_ID, IMDS_INSTANCE_ID },
        { CONFIG_HOST_PRIVATE_IP, IMDS_LOCAL_IPV4 },
        { CONFIG_HOST_AZ, IMDS_AVAILABILITY_ZONE },
        { CONFIG_AWS_REGION, IMDS_REGION },
};

/* "us-east-1a" → "us-east-1", for a metadata service without placement/region. */
static char *region_from_az(const char *az) {
        size_t n = strlen(az);
        if (n < 3 || az[n - 1] < 'a' || az[n - 1] > 'z' || az[n - 2] < '0' || az[n - 2] > '9')
                return NULL;
        return strndup(az, n - 1);
}

int identity_resolve(Config *c) {
        _cleanup_(imds_freep) Imds *m = NULL;
        bool need = false;
        int r;

        /* Only an empty [Host] key sends us to the metadata service: a host configured
         * in full never contacts it. */
        for (size_t i = 0; i < ELEMENTSOF(identity_keys); i++)
                if (identity_keys[i].key != CONFIG_AWS_REGION && isempty(c->raw[identity_keys[i].key]))
                        need = true;
        if (!need)
                return 0;

        r = imds_new(c->metadata_endpoint, &m);
        if (r < 0)
                return log_error_errno(r, "Cannot use the metadata service at %s: %m", c->metadata_endpoint);

        for (size_t i = 0; i < ELEMENTSOF(identity_keys); i++) {
                _cleanup_(freep) char *v = NULL;
                ConfigKeyId key = identity_keys[i].key;

                if (!isempty(c->raw[key]))
                        continue;
                r = imds_get_value(m, identity_keys[i].imds, &v);
                if (r == -ENOENT && key == CONFIG_AWS_REGION && !isempty(c->availability_zone))
                        r = (v = region_from_az(c->availability_zone)) ? 0 : -EBADMSG;
                if (r < 0) {
                        log_struct(LOG_ERR, r, SK_MESSAGE_AWS_ERROR,
                                   LOG_FIELDS("SK_AWS_SERVICE", "imds", "SK_AWS_ENDPOINT", c->metadata_endpoint,
                                              "SK_AWS_ITEM", imds_key_path(identity_keys[i].imds)),
                                   "%s is not set, and the metadata service at %s could not tell it (%s): %m",
                                   config_key_name(key), c->metadata_endpoint,
                                   imds_key_path(identity_keys[i].imds));
                        return -EADDRNOTAVAIL;
                }
                r = config_set_value(c, key, v, "metadata service");
                if (r == -EINVAL) /* logged, with the value */
                        return -EADDRNOTAVAIL;
                if (r < 0)
                        return log_error_errno(r, "Failed to set %s: %m", config_key_name(key));
        }

        log_info("This host per the metadata service: instance %s, private IP %s, zone %s, region %s.",
                 c->instance_id, c->private_ip, c->availability_zone, c->region);
        return 0;
}
