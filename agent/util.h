/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Small helpers every module uses: cleanup attributes, string vectors, parsers
 * for config values, file I/O. Functions return 0 or a negative errno and
 * write their ret… parameters only on success.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Hand a pointer over to someone else and forget it here. */
#define TAKE_PTR(p)                        \
        ({                                 \
                __typeof__(p) _p_ = (p);   \
                (p) = NULL;                \
                _p_;                       \
        })
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                 \
        static inline void func##p(type *p) {                   \
                if (*p)                                         \
                        func(*p);                               \
        }

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL
#define MSEC_PER_SEC 1000ULL

/* Exit statuses of the swarmkeeper binary; documented in swarmkeeper(8). */
enum {
        SK_EXIT_OK = 0,
        SK_EXIT_FAILURE = 1,     /* anything else that went wrong */
        SK_EXIT_CONFIG = 2,      /* bad configuration, bad command line, bad input file */
        SK_EXIT_UNSAFE = 3,      /* device not blank and not ours: refused to format */
        SK_EXIT_TIMEOUT = 4,     /* the volume's device did not appear in time */
        SK_EXIT_AWS = 5,         /* metadata service or EC2 failed or answered nonsense */
        SK_EXIT_MOUNT = 6,       /* mount point is taken by something else */
        SK_EXIT_ENGINE = 7,      /* Docker engine unreachable or refused */
        SK_EXIT_MULTI_ATTACH = 8, /* the volume is attached to another instance too: never mounted */
        SK_EXIT_VOLUME_AMBIGUOUS = 9, /* several volumes tagged for this seat: none attached or mounted */
};

/* free(p), NULL: "x = mfree(x)" frees and forgets in one step. */
static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void freep(void *p) {
        free(*(void **)p);
}

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                (void) close(*fd);
                errno = saved;
        }
}

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline bool isempty(const char *s) {
        return !s || !*s;
}

static inline const char *strempty(const char *s) {
        return s ? s : "";
}

/* NULL for NULL or "" (the other way round from strempty()). */
static inline const char *nonempty(const char *s) {
        return isempty(s) ? NULL : s;
}

/* Returns the rest of s after prefix, or NULL if s does not start with it. */
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

bool endswith(const char *s, const char *suffix);

/* Replace *dst by a copy of src (NULL allowed). */
int free_and_strdup(char **dst, const char *src);

/* *ret = a copy of s, or NULL when s is NULL. 0 or -ENOMEM. */
static inline int strdup_or_null(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/* Overwrite then free: for secrets. erase_and_free() wipes up to the first NUL; use
 * erase_and_free_size() for a buffer that may hold more (a file read whole). */
void erase_and_free(char *s);
static inline void erase_and_freep(char **p) {
        erase_and_free(*p);
}
void erase_and_free_size(void *p, size_t n);
/* Free a string vector whose strings may be secrets (e.g. --set assignments). */
void strv_free_erase(char **l);
static inline void strv_free_erasep(char ***l) {
        strv_free_erase(*l);
}

/* Strip ASCII whitespace in place at both ends; returns s. */
char *strstrip(char *s);

/* NULL-terminated string vectors. */
typedef char **strv;
void strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
size_t strv_length(char *const *l);
bool strv_contains(char *const *l, const char *s);
bool strv_equal(char *const *a, char *const *b); /* NULL equals empty */
int strv_copy(char *const *l, char ***ret);       /* an empty or NULL l copies as NULL */
int strv_extend(char ***l, const char *s);
int strv_consume(char ***l, char *s); /* takes s, also on failure */
/* Split at sep, trim each element, drop empty ones. */
int strv_split_trim(const char *s, char sep, char ***ret);
/* Join with sep; empty list gives "". */
char *strv_join(char *const *l, const char *sep);

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)

/* Index of s in a table of names (NULL entries skipped), or -EINVAL (also for s NULL). */
int string_table_lookup(const char *const *table, size_t n, const char *s);

/* Config value parsers: 0 or -EINVAL/-ERANGE. */
int parse_bool(const char *s, bool *ret);
int parse_uint(const char *s, unsigned *ret);

/* IPv4 as a dotted quad, strictly: four decimal octets ≤ 255, no leading zeros, no signs
 * or spaces (what inet_pton(AF_INET) accepts). ipv4_parse_prefix() reads one at the
 * start of s and points *ret_end after it (for "a.b.c.d/n"); ipv4_parse() wants the
 * whole string. The address in host byte order; -EINVAL if s (or NULL) is not one. */
int ipv4_parse_prefix(const char *s, const char **ret_end, uint32_t *ret);
int ipv4_parse(const char *s, uint32_t *ret);
bool ipv4_valid(const char *s);

/* Raft's quorum: do `reachable` of `members` voters make a majority, i.e. at least
 * members/2 + 1 of them? false when there are no members. */
bool quorum_has_majority(size_t reachable, size_t members);

/* Whole file into a NUL-terminated buffer (max 16 MiB). The buffer may hold NUL bytes:
 * *ret_size is the length read. Intermediate buffers are wiped before they are freed,
 * so the caller can keep a secret's only copy in the result (free it with
 * erase_and_free_size()). */
int read_full_file(const char *path, char **ret, size_t *ret_size);
int read_full_fd(int fd, char **ret, size_t *ret_size);

/*
 * Replace path by data atomically: write a temp file beside it, fsync, rename,
 * fsync the directory. The new file gets `mode` (pass (mode_t)-1 to keep the old
 * file's mode, 0644 if there was none).
 */
int write_file_atomic(const char *path, const char *data, size_t size, mode_t mode);

int mkdir_p(const char *path, mode_t mode);

uint64_t now_usec(int clock_id);

/* A random number in [0, n) from getrandom(); for jitter, not for crypto. */
uint64_t random_below(uint64_t n);

/* Exponential backoff with full jitter: uniform in [0, min(cap, base·2^attempt)]. */
uint64_t backoff_full_jitter_usec(unsigned attempt, uint64_t base_usec, uint64_t cap_usec);
