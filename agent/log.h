/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Logging. To the journal with structured fields when stderr is connected to it
 * (JOURNAL_STREAM, as under systemd) or SWARMKEEPER_LOG=journal; plain lines on
 * stderr otherwise (SWARMKEEPER_LOG=stderr forces that).
 *
 * Every log_* returns the negative errno it was given (or 0), so a caller can
 * `return log_error_errno(r, "Failed to mount %s: %m", path);`. `%m` prints
 * strerror(-error).
 *
 * Never pass a secret (join token, AWS keys, session token) to any of these.
 */

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "util.h"

void log_setup(void);
void log_set_max_level(int level);
/* Send every log line, as plain text, to f instead of stderr or the journal (NULL:
 * back to normal). For tests and fuzzers that check what would be logged. */
void log_set_stream(FILE *f);
/* "debug", "info", "notice", "warning", "err"/"error", "crit"; or -EINVAL. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* fields: NULL-terminated array of "KEY", "value" pairs (value NULL: skipped). */
int log_full(int level, int error, const char *message_id, const char *const *fields,
             const char *file, int line, const char *func, const char *fmt, ...) _printf_(8, 9);

#define LOG_FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

#define log_full_errno(level, error, ...) \
        log_full(level, error, NULL, NULL, __FILE__, __LINE__, __func__, __VA_ARGS__)

#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

/* An event with a fixed MESSAGE_ID (see messages.h) and structured fields:
 *   log_struct(LOG_INFO, 0, SK_MESSAGE_VOLUME_MOUNTED,
 *              LOG_FIELDS("SK_DEVICE", dev, "SK_MOUNT_POINT", where),
 *              "Mounted %s at %s", dev, where); */
#define log_struct(level, error, mid, fields, ...) \
        log_full(level, error, mid, fields, __FILE__, __LINE__, __func__, __VA_ARGS__)

/* sd_notify() helpers; no-ops outside systemd. STATUS= is also logged at debug. */
int notify_status(const char *fmt, ...) _printf_(1, 2);
int notify_ready(const char *fmt, ...) _printf_(1, 2);
