/* SPDX-License-Identifier: MIT */
/* Metadata service answers: the first byte picks the parser (instance id, IPv4,
 * zone, region, role credentials JSON, timestamp), the rest is the answer. */
#include <assert.h>

#include "creds.h"
#include "imds.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *s;
        unsigned which;

        if (size < 1)
                return 0;
        log_set_max_level(-1); /* quiet */
        which = data[0] % 6;
        s = (const char *) data + 1;
        size--;

        if (which < _IMDS_KEY_MAX) {
                char *v = NULL;
                if (imds_parse_value((ImdsKey) which, s, size, &v) == 0) {
                        assert(v && *v && strlen(v) <= 64 && !strpbrk(v, " \t\r\n/"));
                        free(v);
                }
        } else if (which == 4) {
                AwsCredentials c = AWS_CREDENTIALS_NULL;
                if (creds_parse_imds_json(s, size, 1, &c) == 0) {
                        assert(c.access_key_id && *c.access_key_id);
                        assert(c.secret_access_key && *c.secret_access_key);
                        assert(c.expiration_usec > 1);
                        aws_credentials_done(&c);
                }
                assert(!c.access_key_id);
        } else {
                char *t = strndup(s, size);
                uint64_t u;
                if (t)
                        (void) aws_parse_timestamp(t, &u);
                free(t);
        }
        return 0;
}
