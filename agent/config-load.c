/* SPDX-License-Identifier: MIT */
/*
 * Reading the configuration: the main file, the drop-ins in lexical order, the --set
 * assignments and the checks (config_load()); the ownership and mode rule for a file
 * that holds a secret; Launch.UserData (config_read_user_data()). I/O (files), around the
 * pure parser of config-parse.c. Runs on the main thread, before the loop and on SIGHUP
 * (the event loop's thread); the leader reads user data from the loop's thread too.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int config_parse_file(Config *c, const char *path, bool must_exist) {
        _cleanup_(closep) int fd = -1;
        char *text = NULL;
        unsigned secrets_before = c->n_secrets_set;
        size_t size = 0;
        struct stat st;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT && !must_exist)
                return 0;
        if (fd < 0 || fstat(fd, &st) < 0)
                r = -errno;
        else
                r = read_full_fd(fd, &text, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read configuration file %s: %m", path), -EINVAL;
        r = strv_extend(&c->files, path);
        if (r >= 0)
                r = config_parse_buffer(c, text, size, path);
        erase_and_free_size(text, size + 1); /* it may have held a secret */
        if (r < 0)
                return r;

        /* As ssh refuses a private key that others can read: a file that holds a secret
         * must be readable by its owner only, and owned by root or by us. */
        if (c->n_secrets_set != secrets_before &&
            ((st.st_mode & 0077) != 0 || (st.st_uid != 0 && st.st_uid != geteuid())))
                return log_error("%s: holds Cluster.JoinToken but has mode %04o, owner uid %u: refusing "
                                 "it. Make it readable by its owner only (chmod 0600) and owned by root.",
                                 path, (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid),
                       -EINVAL;
        return 0;
}

static int dropin_filter(const struct dirent *d) {
        return d->d_name[0] != '.' && endswith(d->d_name, ".conf");
}

int config_read_user_data(const Config *c, char **ret, size_t *ret_size) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        struct stat st;
        int r;

        if (isempty(c->user_data)) {
                text = strdup("");
                if (!text)
                        return -ENOMEM;
        } else {
                fd = open(c->user_data, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0)
                        return -errno;
                if (fstat(fd, &st) < 0)
                        return -errno;
                if (!S_ISREG(st.st_mode))
                        return -EBADF;
                if (st.st_size > (off_t) CONFIG_USER_DATA_MAX)
                        return -EFBIG;
                r = read_full_fd(fd, &text, &size);
                if (r < 0)
                        return r;
                if (size > CONFIG_USER_DATA_MAX) /* grew while we read */
                        return -EFBIG;
        }
        *ret = TAKE_PTR(text);
        if (ret_size)
                *ret_size = size;
        return 0;
}

/* Launch.UserData names a file the leader will read: check it now, where an operator
 * sees the error, rather than at the first launch. Workers never launch. */
static int config_verify_files(const Config *c) {
        _cleanup_(freep) char *text = NULL;
        int r;

        if (c->role != ROLE_MANAGER || isempty(c->user_data))
                return 0;
        r = config_read_user_data(c, &text, NULL);
        if (r == -EFBIG)
                return log_error("%s: Launch.UserData=%s is larger than %u bytes (EC2's limit on "
                                 "user data).",
                                 c->source[CONFIG_LAUNCH_USER_DATA], c->user_data, CONFIG_USER_DATA_MAX),
                       -EINVAL;
        if (r == -EBADF)
                return log_error("%s: Launch.UserData=%s is not a regular file.",
                                 c->source[CONFIG_LAUNCH_USER_DATA], c->user_data),
                       -EINVAL;
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return log_error_errno(r, "%s: Launch.UserData=%s cannot be read: %m",
                                       c->source[CONFIG_LAUNCH_USER_DATA], c->user_data),
                       -EINVAL;
        return 0;
}
int config_load(Config **ret, const char *path, const char *dropin_dir, char *const *sets) {
        _cleanup_(config_freep) Config *c = NULL;
        struct dirent **entries = NULL;
        int r, n, ret_r = 0;

        r = config_new(&c);
        if (r < 0)
                return r;

        r = config_parse_file(c, path ?: SK_CONFIG_FILE, path != NULL);
        if (r < 0 && r != -EINVAL)
                return r;
        if (r < 0)
                ret_r = r;

        if (!dropin_dir)
                dropin_dir = SK_CONFIG_DROPIN_DIR;
        /* Every file is read even after a bad one, so that all culprits are named at once. */
        n = scandir(dropin_dir, &entries, dropin_filter, alphasort);
        for (int i = 0; i < n; i++) {
                _cleanup_(freep) char *p = NULL;

                if (asprintf(&p, "%s/%s", dropin_dir, entries[i]->d_name) < 0)
                        r = -ENOMEM;
                else
                        r = config_parse_file(c, p, true);
                free(entries[i]);
                if (r < 0 && (ret_r >= 0 || r != -EINVAL))
                        ret_r = r;
        }
        free(entries);
        if (ret_r < 0 && ret_r != -EINVAL)
                return ret_r;

        STRV_FOREACH(s, sets) {
                r = config_set(c, *s);
                if (r < 0 && r != -EINVAL)
                        return r;
                if (r < 0)
                        ret_r = r;
        }
        if (ret_r < 0)
                return ret_r;

        r = config_verify(c);
        if (r < 0)
                return r;
        r = config_verify_files(c);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}
