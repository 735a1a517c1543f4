/* SPDX-License-Identifier: MIT */
/* Logging (log.c) as plain lines: level names, the level filter, the line's prefix, %m,
 * the errno passed back, and errno left as it was. The journal's fields are checked by
 * the daemon's suites (tests/docker, tests/e2e) where a journal runs. */
#include <errno.h>

#include "log.h"
#include "test.h"

static void test_level_names(void) {
        static const struct {
                const char *s;
                int level;
        } good[] = {
                { "debug", LOG_DEBUG }, { "info", LOG_INFO },   { "notice", LOG_NOTICE }, { "warning", LOG_WARNING },
                { "err", LOG_ERR },     { "error", LOG_ERR },   { "crit", LOG_CRIT },     { "alert", LOG_ALERT },
                { "emerg", LOG_EMERG }, { "DEBUG", LOG_DEBUG }, { "Warning", LOG_WARNING }, { "ERROR", LOG_ERR },
        };
        static const char *const bad[] = { "", "warn", "information", "debug ", " info", "7", "errors", "critical" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                CHECK_INT(log_level_from_string(good[i].s), good[i].level);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (log_level_from_string(bad[i]) != -EINVAL)
                        fprintf(stderr, "level name '%s' accepted\n", bad[i]);
                CHECK_INT(log_level_from_string(bad[i]), -EINVAL);
        }
        /* every level has a name that parses back to it */
        for (int l = LOG_EMERG; l <= LOG_DEBUG; l++)
                CHECK_INT(log_level_from_string(log_level_to_string(l)), l);
        CHECK_STR(log_level_to_string(LOG_ERR), "err");
        CHECK_STR(log_level_to_string(-1), "?");
        CHECK_STR(log_level_to_string(LOG_DEBUG + 1), "?");
}

/* What one call writes to the stream, at max level `max`; its return value in *ret. */
#define LOGGED(max, ret, call)                                                   \
        ({                                                                       \
                char *_buf = NULL;                                               \
                size_t _size = 0;                                                \
                FILE *_f = open_memstream(&_buf, &_size);                        \
                log_set_stream(_f);                                              \
                log_set_max_level(max);                                          \
                *(ret) = (call);                                                 \
                log_set_stream(NULL);                                            \
                if (_f)                                                          \
                        fclose(_f);                                              \
                _buf;                                                            \
        })

static void test_lines(void) {
        static const struct {
                int max, level, error;
                const char *expect; /* NULL: filtered out */
        } cases[] = {
                { LOG_INFO, LOG_ERR, 0, "swarmkeeper: error: it is 42\n" },
                { LOG_INFO, LOG_CRIT, 0, "swarmkeeper: error: it is 42\n" },
                { LOG_INFO, LOG_WARNING, 0, "swarmkeeper: warning: it is 42\n" },
                { LOG_INFO, LOG_NOTICE, 0, "swarmkeeper: it is 42\n" },
                { LOG_INFO, LOG_INFO, 0, "swarmkeeper: it is 42\n" },
                { LOG_INFO, LOG_DEBUG, 0, NULL },
                { LOG_DEBUG, LOG_DEBUG, 0, "swarmkeeper: it is 42\n" },
                { LOG_WARNING, LOG_INFO, -EIO, NULL },
                { LOG_ERR, LOG_WARNING, 0, NULL },
                { LOG_CRIT, LOG_ERR, -ENOENT, NULL },
                { LOG_ERR, LOG_ERR, -ENOENT, "swarmkeeper: error: it is 42\n" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = 1;
                _cleanup_(freep) char *text =
                        LOGGED(cases[i].max, &r, log_full_errno(cases[i].level, cases[i].error, "it is %d", 42));
                CHECK_INT(r, cases[i].error); /* the error comes back even when filtered */
                CHECK_STR(text, cases[i].expect ?: "");
        }
}

static void test_errno(void) {
        int r = 0;

        /* %m is the error given, positive or negative */
        _cleanup_(freep) char *a = LOGGED(LOG_INFO, &r, log_error_errno(-ENOENT, "open x: %m"));
        CHECK_INT(r, -ENOENT);
        CHECK_STR(a, "swarmkeeper: error: open x: No such file or directory\n");
        _cleanup_(freep) char *b = LOGGED(LOG_INFO, &r, log_warning_errno(EACCES, "open y: %m, ignoring"));
        CHECK_INT(r, -EACCES);
        CHECK_STR(b, "swarmkeeper: warning: open y: Permission denied, ignoring\n");
        /* errno is what it was before the call */
        errno = EXDEV;
        _cleanup_(freep) char *c = LOGGED(LOG_INFO, &r, log_info_errno(-ETIMEDOUT, "waited: %m"));
        CHECK_INT(errno, EXDEV);
        CHECK_STR(c, "swarmkeeper: waited: Connection timed out\n");
        /* a structured event prints its message; the fields belong to the journal */
        _cleanup_(freep) char *d = LOGGED(LOG_INFO, &r, log_struct(LOG_NOTICE, 0, "0123456789abcdef0123456789abcdef",
                                                                    LOG_FIELDS("SK_DEVICE", "/dev/xvdf", "SK_SKIPPED", NULL),
                                                                    "Mounted %s", "/dev/xvdf"));
        CHECK_INT(r, 0);
        CHECK_STR(d, "swarmkeeper: Mounted /dev/xvdf\n");
        /* a message longer than the line buffer is cut, not overflowed */
        char big[4000];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        _cleanup_(freep) char *e = LOGGED(LOG_INFO, &r, log_info("%s", big));
        CHECK(e && strlen(e) == strlen("swarmkeeper: ") + 2047 + 1);
}

int main(void) {
        setenv("SWARMKEEPER_LOG", "stderr", 1);
        unsetenv("NOTIFY_SOCKET");
        log_setup();
        test_level_names();
        test_lines();
        test_errno();
        /* outside systemd the sd_notify() helpers are no-ops (0) */
        log_set_max_level(LOG_CRIT);
        CHECK_INT(notify_status("Running %d", 1), 0);
        CHECK_INT(notify_ready("Ready"), 0);
        return test_done("log");
}
