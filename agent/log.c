/* SPDX-License-Identifier: MIT */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include "log.h"

#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

/* The logging target is process-wide by nature, like stderr itself. */
static int max_level = LOG_INFO;
static bool journal = false;
static FILE *stream = NULL; /* NULL: stderr */

static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(void) {
        const char *e = getenv("SWARMKEEPER_LOG");

        if (e && streq(e, "journal"))
                journal = true;
        else if (e && streq(e, "stderr"))
                journal = false;
        else
                journal = stderr_is_journal();
}

void log_set_max_level(int level) {
        max_level = level;
}

void log_set_stream(FILE *f) {
        stream = f;
}

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg",  [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
        [LOG_ERR] = "err",      [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",    [LOG_DEBUG] = "debug",
};

int log_level_from_string(const char *s) {
        if (strcasecmp(s, "error") == 0)
                return LOG_ERR;
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcasecmp(s, level_names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        if (level < 0 || (size_t) level >= ELEMENTSOF(level_names))
                return "?";
        return level_names[level];
}

int log_full(int level, int error, const char *message_id, const char *const *fields,
             const char *file, int line, const char *func, const char *fmt, ...) {
        char msg[2048];
        int saved = errno;
        va_list ap;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        errno = error; /* for %m */
        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        if (journal && !stream) {
                char b_msg[sizeof(msg) + 8], b_pri[16], b_mid[48], b_file[256], b_line[32],
                        b_func[128], b_errno[32];
                struct iovec iov[32];
                size_t n = 0;
                _cleanup_(freep) char *extra = NULL;

#define IOV_STR(b) iov[n++] = (struct iovec){ .iov_base = (b), .iov_len = strlen(b) }
                snprintf(b_msg, sizeof(b_msg), "MESSAGE=%s", msg);
                IOV_STR(b_msg);
                snprintf(b_pri, sizeof(b_pri), "PRIORITY=%d", level);
                IOV_STR(b_pri);
                snprintf(b_file, sizeof(b_file), "CODE_FILE=%s", file);
                IOV_STR(b_file);
                snprintf(b_line, sizeof(b_line), "CODE_LINE=%d", line);
                IOV_STR(b_line);
                snprintf(b_func, sizeof(b_func), "CODE_FUNC=%s", func);
                IOV_STR(b_func);
                if (message_id) {
                        snprintf(b_mid, sizeof(b_mid), "MESSAGE_ID=%s", message_id);
                        IOV_STR(b_mid);
                }
                if (error > 0) {
                        snprintf(b_errno, sizeof(b_errno), "ERRNO=%d", error);
                        IOV_STR(b_errno);
                }
                /* Structured fields: packed into one buffer, one iovec each. */
                if (fields) {
                        size_t total = 0;
                        for (size_t i = 0; fields[i]; i += 2)
                                if (fields[i + 1])
                                        total += strlen(fields[i]) + strlen(fields[i + 1]) + 2;
                        extra = malloc(total + 1);
                        if (extra) {
                                char *p = extra;
                                for (size_t i = 0; fields[i] && n < ELEMENTSOF(iov); i += 2) {
                                        if (!fields[i + 1])
                                                continue;
                                        char *start = p;
                                        p = stpcpy(p, fields[i]);
                                        *p++ = '=';
                                        p = stpcpy(p, fields[i + 1]);
                                        iov[n++] = (struct iovec){ .iov_base = start,
                                                                   .iov_len = (size_t) (p - start) };
                                        p++;
                                }
                        }
                }
#undef IOV_STR
                if (sd_journal_sendv(iov, (int) n) >= 0)
                        goto done;
                /* journald gone: fall through to stderr */
        }

        fprintf(stream ?: stderr, "swarmkeeper: %s%s\n",
                level <= LOG_ERR ? "error: " : level == LOG_WARNING ? "warning: " : "", msg);
done:
        errno = saved;
        return -error;
}

_printf_(2, 0) static int notify_vf(const char *prefix, const char *fmt, va_list ap) {
        char buf[1024];
        int k = snprintf(buf, sizeof(buf), "%s", prefix);

        (void) vsnprintf(buf + k, sizeof(buf) - (size_t) k, fmt, ap);
        log_debug("notify: %s", buf);
        return sd_notify(0, buf);
}

int notify_status(const char *fmt, ...) {
        va_list ap;
        int r;
        va_start(ap, fmt);
        r = notify_vf("STATUS=", fmt, ap);
        va_end(ap);
        return r;
}

int notify_ready(const char *fmt, ...) {
        va_list ap;
        int r;
        va_start(ap, fmt);
        r = notify_vf("READY=1\nSTATUS=", fmt, ap);
        va_end(ap);
        return r;
}
