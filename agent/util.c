/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <ctype.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

bool endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

int free_and_strdup(char **dst, const char *src) {
        char *n = NULL;
        if (src) {
                n = strdup(src);
                if (!n)
                        return -ENOMEM;
        }
        free(*dst);
        *dst = n;
        return 0;
}

void erase_and_free(char *s) {
        if (!s)
                return;
        explicit_bzero(s, strlen(s));
        free(s);
}

char *strstrip(char *s) {
        size_t skip = 0, n;
        char *e;

        /* One pass and one move: linear in the length (one memmove per leading space
         * made 200 KB of blanks take over a second). */
        while (isspace((unsigned char) s[skip]))
                skip++;
        n = strlen(s + skip);
        if (skip > 0)
                memmove(s, s + skip, n + 1);
        e = s + n;
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = 0;
        return s;
}

void strv_free(char **l) {
        for (char **i = l; i && *i; i++)
                free(*i);
        free(l);
}

void strv_free_erase(char **l) {
        for (char **i = l; i && *i; i++)
                erase_and_free(*i);
        free(l);
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

bool strv_contains(char *const *l, const char *s) {
        STRV_FOREACH(i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

bool strv_equal(char *const *a, char *const *b) {
        size_t n = strv_length(a);

        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

int strv_copy(char *const *l, char ***ret) {
        char **c = NULL;

        STRV_FOREACH(s, l)
                if (strv_extend(&c, *s) < 0) {
                        strv_free(c);
                        return -ENOMEM;
                }
        *ret = c;
        return 0;
}

int strv_consume(char ***l, char *s) {
        size_t n = strv_length(*l);
        char **nl;

        if (!s)
                return -ENOMEM;
        nl = realloc(*l, sizeof(char *) * (n + 2));
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        nl[n] = s;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

int strv_extend(char ***l, const char *s) {
        return strv_consume(l, strdup(s));
}

int strv_split_trim(const char *s, char sep, char ***ret) {
        _cleanup_(strv_freep) char **l = NULL;
        const char *p = s;

        /* An empty input gives an empty (non-NULL) list. */
        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;

        while (p && *p) {
                const char *e = strchr(p, sep);
                size_t n = e ? (size_t) (e - p) : strlen(p);
                char *item = strndup(p, n);
                int r;

                if (!item)
                        return -ENOMEM;
                strstrip(item);
                if (*item) {
                        r = strv_consume(&l, item);
                        if (r < 0)
                                return r;
                } else
                        free(item);
                p = e ? e + 1 : NULL;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

char *strv_join(char *const *l, const char *sep) {
        size_t n = 1, k = strlen(sep);
        char *r, *p;

        STRV_FOREACH(i, l)
                n += strlen(*i) + k;
        r = p = malloc(n);
        if (!r)
                return NULL;
        *p = 0;
        STRV_FOREACH(i, l) {
                if (i != l)
                        p = stpcpy(p, sep);
                p = stpcpy(p, *i);
        }
        return r;
}

int string_table_lookup(const char *const *table, size_t n, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (table[i] && streq(table[i], s))
                        return (int) i;
        return -EINVAL;
}

int parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

int parse_uint(const char *s, unsigned *ret) {
        unsigned long v;
        char *end;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (*end)
                return -EINVAL;
        if (errno == ERANGE || v > UINT_MAX)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

int ipv4_parse_prefix(const char *s, const char **ret_end, uint32_t *ret) {
        uint32_t v = 0;

        if (!s)
                return -EINVAL;
        for (unsigned i = 0; i < 4; i++) {
                unsigned o = 0, digits = 0;

                if (i > 0) {
                        if (*s != '.')
                                return -EINVAL;
                        s++;
                }
                if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
                        return -EINVAL;
                for (; *s >= '0' && *s <= '9'; s++) {
                        if (++digits > 3)
                                return -EINVAL;
                        o = o * 10 + (unsigned) (*s - '0');
                }
                if (digits == 0 || o > 255)
                        return -EINVAL;
                v = v << 8 | o;
        }
        *ret_end = s;
        *ret = v;
        return 0;
}

int ipv4_parse(const char *s, uint32_t *ret) {
        const char *end;
        uint32_t v;

        if (ipv4_parse_prefix(s, &end, &v) < 0 || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

bool ipv4_valid(const char *s) {
        uint32_t v;
        return ipv4_parse(s, &v) == 0;
}

bool quorum_has_majority(size_t reachable, size_t members) {
        return members > 0 && reachable >= members / 2 + 1;
}

int read_full_fd(int fd, char **ret, size_t *ret_size) {
        _cleanup_(freep) char *buf = NULL;
        size_t n = 0, cap = 0;

        for (;;) {
                ssize_t k;
                if (cap - n < 4096) {
                        char *nb;
                        if (cap > 16 * 1024 * 1024) {
                                explicit_bzero(buf, n);
                                return -EFBIG;
                        }
                        /* Grow by hand, not with realloc(): the old block may hold a secret
                         * and is wiped before it is freed. */
                        nb = malloc((cap ? cap * 2 : 8192) + 1);
                        if (!nb) {
                                explicit_bzero(buf, n);
                                return -ENOMEM;
                        }
                        if (buf) {
                                memcpy(nb, buf, n);
                                explicit_bzero(buf, n);
                                free(buf);
                        }
                        buf = nb;
                        cap = cap ? cap * 2 : 8192;
                }
                k = read(fd, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        explicit_bzero(buf, n);
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = n;
        return 0;
}

int read_full_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_(closep) int fd = -1;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, ret, ret_size);
}

void erase_and_free_size(void *p, size_t n) {
        if (!p)
                return;
        explicit_bzero(p, n);
        free(p);
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int write_file_atomic(const char *path, const char *data, size_t size, mode_t mode) {
        _cleanup_(freep) char *tmp = NULL, *dcopy = NULL;
        _cleanup_(closep) int fd = -1, dfd = -1;
        struct stat st;
        int r;

        if (mode == (mode_t) -1)
                mode = stat(path, &st) >= 0 ? (st.st_mode & 07777) : 0644;

        if (asprintf(&tmp, "%s.swarmkeeper-XXXXXX", path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, size);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        /* Make the rename itself durable. */
        dcopy = strdup(path);
        if (!dcopy)
                return -ENOMEM;
        dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_(freep) char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

uint64_t now_usec(int clock_id) {
        struct timespec ts;
        (void) clock_gettime(clock_id, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

uint64_t random_below(uint64_t n) {
        uint64_t v = 0;
        if (n == 0)
                return 0;
        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
                v = now_usec(CLOCK_MONOTONIC) * 6364136223846793005ULL + 1442695040888963407ULL;
        return v % n;
}

uint64_t backoff_full_jitter_usec(unsigned attempt, uint64_t base_usec, uint64_t cap_usec) {
        uint64_t ceiling = base_usec;
        for (unsigned i = 0; i < attempt && ceiling < cap_usec; i++)
                ceiling *= 2;
        if (ceiling > cap_usec)
                ceiling = cap_usec;
        return random_below(ceiling + 1);
}
