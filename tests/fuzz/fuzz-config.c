/* SPDX-License-Identifier: MIT */
/*
 * The configuration parser: any bytes as a config file (and their first line as a --set
 * assignment), then the verify steps and the dump. Every line the code logs and the
 * whole dump are captured; the run aborts if any of it contains a join token: the one
 * planted before parsing, the one the input set, or any token-shaped string in the
 * input (SWMTKN-1- and letters, digits, -), whatever key or line it stands in.
 */
#include <stdio.h>
#include <syslog.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char planted[] = "SWMTKN-1-fuzzplanted0secret0value0abcdefghijklmnopqrstuvwxyz-0123456789";

/* A plain loop, not memmem(): libFuzzer would feed memmem's arguments back as input. */
static bool contains(const char *hay, size_t n, const char *needle) {
        size_t k = strlen(needle);
        for (size_t i = 0; k > 0 && i + k <= n; i++) {
                size_t j = 0;
                while (j < k && hay[i + j] == needle[j])
                        j++;
                if (j == k)
                        return true;
        }
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(freep) char *line = NULL, *out = NULL;
        size_t out_size = 0, line_len;
        FILE *f;

        if (config_new(&c) < 0)
                return 0;
        if (config_set_value(c, CONFIG_CLUSTER_JOIN_TOKEN, planted, "fuzz") < 0)
                abort();
        f = open_memstream(&out, &out_size);
        if (!f)
                return 0;
        log_set_stream(f);
        log_set_max_level(LOG_DEBUG);

        (void) config_parse_buffer(c, (const char *) data, size, "fuzz.conf");
        for (line_len = 0; line_len < size && data[line_len] != '\n' && data[line_len] != 0; line_len++)
                ;
        line = strndup((const char *) data, line_len);
        if (line)
                (void) config_set(c, line);
        (void) config_verify(c);
        (void) config_verify_launch(c);
        config_dump(c, f);

        log_set_stream(NULL);
        log_set_max_level(LOG_INFO);
        if (fclose(f) != 0 || !out)
                return 0;

        if (contains(out, out_size, planted)) {
                fprintf(stderr, "fuzz-config: the planted JoinToken reached the output:\n%s\n", out);
                abort();
        }
        /* Every token-shaped string of the input (longer than the bare prefix, which
         * messages name). */
        static const char tok_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
        const char *in = (const char *) data;
        for (size_t i = 0, found = 0; i + 9 < size && found < 64; i++) {
                size_t k = 9;
                if (memcmp(in + i, "SWMTKN-1-", 9) != 0)
                        continue;
                while (i + k < size && in[i + k] && strchr(tok_chars, in[i + k]))
                        k++;
                if (k > 9) {
                        _cleanup_(freep) char *tok = strndup(in + i, k);
                        found++;
                        if (tok && contains(out, out_size, tok)) {
                                fprintf(stderr, "fuzz-config: a token of the input reached the output:\n%s\n", out);
                                abort();
                        }
                }
                i += k - 1;
        }
        /* The token the input set, if any. */
        if (c->join_token && strlen(c->join_token) > strlen("SWMTKN-1-") &&
            contains(out, out_size, c->join_token)) {
                fprintf(stderr, "fuzz-config: the input's JoinToken reached the output:\n%s\n", out);
                abort();
        }
        return 0;
}
