/* SPDX-License-Identifier: MIT */
/*
 * The INI text parser: one file's bytes (config_parse_buffer()) and a --set
 * "Section.Key=value" (config_set()) into a Config, each value through the key table of
 * config.c. Pure (no I/O: config-load.c reads the files); what fuzz-config and
 * bench-config-parse exercise. Runs on the event loop's thread.
 */
#include "config.h"

#include <ctype.h>

#include "config-internal.h"
#include "log.h"

/* A growable line buffer for continuation lines: appends are amortised O(1), and the
 * old block is wiped before it is freed (it may hold a secret). */
typedef struct LineBuf {
        char *p;
        size_t n, cap;
} LineBuf;

static void linebuf_done(LineBuf *b) {
        erase_and_free_size(b->p, b->cap);
        *b = (LineBuf) {};
}

static int linebuf_append(LineBuf *b, const char *s, size_t n) {
        if (b->n + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                char *np;
                while (cap < b->n + n + 1)
                        cap *= 2;
                np = malloc(cap);
                if (!np)
                        return -ENOMEM;
                if (b->p)
                        memcpy(np, b->p, b->n);
                erase_and_free_size(b->p, b->cap);
                b->p = np;
                b->cap = cap;
        }
        memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = 0;
        return 0;
}

/* [s, s+n) without leading and trailing ASCII whitespace. */
static void span_strip(const char **s, size_t *n) {
        while (*n > 0 && isspace((unsigned char) **s))
                (*s)++, (*n)--;
        while (*n > 0 && isspace((unsigned char) (*s)[*n - 1]))
                (*n)--;
}

int config_parse_buffer(Config *c, const char *data, size_t size, const char *origin) {
        _cleanup_(freep) char *section = NULL;
        _cleanup_(linebuf_done) LineBuf joined = {};
        const char *p = data, *end = data + size, *nul;
        unsigned line = 0, start_line = 0;
        bool continuing = false;
        int r, ret = 0;

        /* A NUL byte is not text: refuse the whole file rather than parse half of it. */
        nul = memchr(data, 0, size);
        if (nul) {
                unsigned at = 1;
                for (const char *q = data; q < nul; q++)
                        at += *q == '\n';
                return log_error("%s:%u: Contains a NUL byte: not a text file.", origin, at), -EINVAL;
        }

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p)), *s = p;
                size_t n = (eol ? eol : end) - p;
                char origin_line[512], *l, *eq, *key, *value;
                bool more = eol && eol + 1 < end;

                p = eol ? eol + 1 : end;
                line++;
                span_strip(&s, &n);

                if (!continuing) {
                        joined.n = 0;
                        start_line = line;
                } else if ((r = linebuf_append(&joined, " ", 1)) < 0)
                        return r;
                if ((r = linebuf_append(&joined, s, n)) < 0)
                        return r;
                /* A trailing backslash joins the next line with a space. */
                if (joined.n > 0 && joined.p[joined.n - 1] == '\\' && more) {
                        joined.p[--joined.n] = 0;
                        continuing = true;
                        continue;
                }
                continuing = false;
                l = strstrip(joined.p);
                if (!*l || *l == '#' || *l == ';')
                        continue;
                snprintf(origin_line, sizeof(origin_line), "%s:%u", origin, start_line);

                if (*l == '[') {
                        char *e = strchr(l, ']');
                        if (!e || e[1]) {
                                /* The line is not echoed: it may hold anything, a token too. */
                                log_error("%s: Invalid section header (expected [Section] alone on the line).",
                                          origin_line);
                                ret = -EINVAL;
                                continue;
                        }
                        *e = 0;
                        r = free_and_strdup(&section, l + 1);
                        if (r < 0)
                                return r;
                        if (!config_section_known(section))
                                log_warning("%s: Unknown section [%s], ignoring.", origin_line,
                                            config_echo_name(section));
                        continue;
                }

                eq = strchr(l, '=');
                if (!eq) {
                        log_error("%s: Line is neither a [Section], a Key=Value nor a comment.", origin_line);
                        ret = -EINVAL;
                        continue;
                }
                *eq = 0;
                key = strstrip(l);
                value = strstrip(eq + 1);
                if (!section) {
                        log_warning("%s: Key %s outside of any section, ignoring.", origin_line, config_echo_name(key));
                        continue;
                }
                ConfigKeyId id;
                if (config_lookup(section, key, &id) < 0) {
                        if (config_section_known(section))
                                log_warning("%s: Unknown key %s in [%s], ignoring.", origin_line, config_echo_name(key),
                                            section);
                        continue;
                }
                r = config_assign(c, id, value, origin_line);
                if (r == -EINVAL)
                        ret = -EINVAL; /* keep going: report every bad line at once */
                else if (r < 0)
                        return r;
        }
        return ret;
}

int config_parse_text(Config *c, const char *text, const char *origin) {
        return config_parse_buffer(c, text, strlen(text), origin);
}

int config_set(Config *c, const char *assignment) {
        _cleanup_(erase_and_freep) char *copy = strdup(assignment);
        char *dot, *eq;
        ConfigKeyId id;

        if (!copy)
                return -ENOMEM;
        eq = strchr(copy, '=');
        dot = eq ? memchr(copy, '.', (size_t) (eq - copy)) : NULL;
        if (!eq || !dot || dot == copy || dot + 1 == eq) {
                /* Name what stands left of '=' only if it looks like a key: the rest (or all
                 * of it, when '=' is missing) may be a token. */
                if (eq)
                        *eq = 0;
                return log_error("--set %s%s: expected Section.Key=value.",
                                 eq ? config_echo_name(copy) : "(argument not shown)", eq ? "=…" : ""),
                       -EINVAL;
        }
        *dot = *eq = 0;
        if (config_lookup(copy, dot + 1, &id) < 0) {
                log_warning("--set %s.%s: Unknown key, ignoring.", config_echo_name(copy), config_echo_name(dot + 1));
                return 0;
        }
        return config_assign(c, id, eq + 1, "--set");
}
