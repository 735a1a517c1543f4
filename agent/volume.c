/* SPDX-License-Identifier: MIT */
#include "volume.h"

#include <blkid/blkid.h>
#include <dirent.h>
#include <fcntl.h>
#include <libmount/libmount.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "log.h"

extern char **environ;

DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct libmnt_table *, mnt_unref_table);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct libmnt_context *, mnt_free_context);
DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

int volume_device_candidates(const char *device, const char *volume_id, const char *requested_name,
                             char ***ret) {
        _cleanup_(strv_freep) char **l = calloc(1, sizeof(char *));
        int r;

        if (!l)
                return -ENOMEM;
        if (device && !streq(device, "auto")) {
                r = strv_extend(&l, device);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(l);
                return 0;
        }
        if (!isempty(volume_id)) {
                /* Nitro: the NVMe serial is the volume id without its hyphen. */
                const char *hex = startswith(volume_id, "vol-");
                char *p;
                if (!hex)
                        return -EINVAL;
                if (asprintf(&p, "%svol%s", EBS_NVME_BYID_PREFIX, hex) < 0)
                        return -ENOMEM;
                r = strv_consume(&l, p);
                if (r < 0)
                        return r;
        }
        if (!isempty(requested_name)) {
                /* Xen: /dev/sdX shows up as /dev/xvdX. */
                const char *rest = startswith(requested_name, "/dev/sd");
                if (rest) {
                        char *p;
                        if (asprintf(&p, "/dev/xvd%s", rest) < 0)
                                return -ENOMEM;
                        r = strv_consume(&l, p);
                        if (r < 0)
                                return r;
                }
                r = strv_extend(&l, requested_name);
                if (r < 0)
                        return r;
        }
        if (!l[0])
                return -EINVAL;
        *ret = TAKE_PTR(l);
        return 0;
}

static bool is_block_device(const char *path) {
        struct stat st;
        return stat(path, &st) >= 0 && S_ISBLK(st.st_mode);
}

int volume_wait_device(char *const *candidates, uint64_t timeout_usec, char **ret_path) {
        _cleanup_(freep) char *list = strv_join(candidates, ", ");
        uint64_t start = now_usec(CLOCK_MONOTONIC), delay = 20 * USEC_PER_MSEC;
        bool announced = false;

        if (!list)
                return -ENOMEM;
        for (;;) {
                uint64_t elapsed;

                STRV_FOREACH(c, candidates)
                        if (is_block_device(*c)) {
                                char *p = strdup(*c);
                                if (!p)
                                        return -ENOMEM;
                                *ret_path = p;
                                return 0;
                        }

                elapsed = now_usec(CLOCK_MONOTONIC) - start;
                if (elapsed >= timeout_usec)
                        return -ETIMEDOUT;
                if (!announced) {
                        (void) notify_status("waiting for volume device %s (up to %llu s)", list,
                                             (unsigned long long) (timeout_usec / USEC_PER_SEC));
                        log_info("Waiting for volume device %s (up to %llu s).", list,
                                 (unsigned long long) (timeout_usec / USEC_PER_SEC));
                        announced = true;
                }
                if (delay > timeout_usec - elapsed)
                        delay = timeout_usec - elapsed;
                (void) nanosleep(&(struct timespec){ .tv_sec = (time_t) (delay / USEC_PER_SEC),
                                                     .tv_nsec = (long) (delay % USEC_PER_SEC) * 1000 },
                                 NULL);
                if (delay < USEC_PER_SEC)
                        delay *= 2;
        }
}

/* Offset of the first non-zero byte in the first `len` bytes, or -1 if all zero. */
static int first_nonzero(int fd, size_t len, off_t *ret_offset) {
        _cleanup_(freep) uint8_t *buf = malloc(65536);
        off_t off = 0;

        if (!buf)
                return -ENOMEM;
        while ((size_t) off < len) {
                ssize_t k = pread(fd, buf, 65536, off);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                for (ssize_t i = 0; i < k && (size_t) (off + i) < len; i++)
                        if (buf[i]) {
                                *ret_offset = off + i;
                                return 1;
                        }
                off += k;
        }
        *ret_offset = -1;
        return 0;
}

int volume_probe(const char *path, FileSystemType expected, VolumeProbe *ret) {
        _cleanup_(blkid_free_probep) blkid_probe pr = NULL;
        _cleanup_(closep) int fd = -1;
        const char *type = NULL, *usage = NULL, *pttype = NULL;
        VolumeProbe p = {};
        struct stat st;
        off_t nz = -1;
        int r;

        /* O_EXCL on a block device: fails with EBUSY if mounted or claimed. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_EXCL);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;

        pr = blkid_new_probe();
        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, 0, 0) < 0)
                return -EIO;
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);

        errno = 0;
        r = blkid_do_safeprobe(pr);
        if (r == -2) {
                p.content = VOLUME_FOREIGN;
                snprintf(p.description, sizeof(p.description),
                         "more than one signature (libblkid: ambivalent result)");
                goto done;
        }
        if (r < 0)
                return errno > 0 ? -errno : -EIO;
        if (r == 0) {
                (void) blkid_probe_lookup_value(pr, "TYPE", &type, NULL);
                (void) blkid_probe_lookup_value(pr, "USAGE", &usage, NULL);
                (void) blkid_probe_lookup_value(pr, "PTTYPE", &pttype, NULL);
                p.content = VOLUME_FOREIGN;
                if (pttype)
                        snprintf(p.description, sizeof(p.description), "a partition table (%s)", pttype);
                else if (type && streq(type, fs_type_to_string(expected))) {
                        p.content = VOLUME_EXPECTED_FS;
                        snprintf(p.description, sizeof(p.description), "%s filesystem", type);
                } else
                        snprintf(p.description, sizeof(p.description), "a signature of type %s (%s)",
                                 type ?: "unknown", usage ?: "unknown usage");
                goto done;
        }

        /* No signature libblkid knows: blank only if the first MiB is all zeros. */
        r = first_nonzero(fd, VOLUME_ZERO_CHECK_BYTES, &nz);
        if (r < 0)
                return r;
        if (r > 0) {
                p.content = VOLUME_FOREIGN;
                snprintf(p.description, sizeof(p.description),
                         "no known signature, but non-zero data in the first MiB (at byte %lld)",
                         (long long) nz);
        } else {
                p.content = VOLUME_BLANK;
                snprintf(p.description, sizeof(p.description), "blank (no signature, first MiB zero)");
        }
done:
        *ret = p;
        return 0;
}

int volume_format(const char *path, FileSystemType type) {
        posix_spawn_file_actions_t fa;
        const char *tool = type == FS_XFS ? "mkfs.xfs" : "mkfs.ext4";
        /* No -F/-f: should mkfs itself find anything, it refuses (stdin is /dev/null). */
        char *argv[] = { (char *) tool, (char *) "-q", (char *) path, NULL };
        pid_t pid;
        int r, status;

        if (posix_spawn_file_actions_init(&fa) != 0)
                return -ENOMEM;
        (void) posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        r = posix_spawnp(&pid, tool, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return log_debug_errno(-r, "Failed to run %s: %m", tool), -r;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_debug("%s %s failed (status %d).", tool, path, status), -EIO;
        return 0;
}

static int load_mountinfo(struct libmnt_table **ret) {
        struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
        if (!tb)
                return -errno ?: -EIO;
        *ret = tb;
        return 0;
}

int volume_mount_state(const char *device, const char *where, MountState *ret, char **ret_other) {
        _cleanup_(mnt_unref_tablep) struct libmnt_table *tb = NULL;
        _cleanup_(freep) char *canon = NULL;
        struct libmnt_iter *itr;
        struct libmnt_fs *fs, *at = NULL;
        struct stat st;
        int r;

        if (stat(device, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        canon = realpath(where, NULL); /* may not exist yet */
        r = load_mountinfo(&tb);
        if (r < 0)
                return r;

        itr = mnt_new_iter(MNT_ITER_FORWARD);
        if (!itr)
                return -ENOMEM;
        r = 0;
        while (mnt_table_next_fs(tb, itr, &fs) == 0) {
                const char *target = mnt_fs_get_target(fs);
                bool here = target && (streq(target, where) || (canon && streq(target, canon)));
                if (here)
                        at = fs; /* the last one mounted there is what is visible */
                else if (mnt_fs_get_devno(fs) == st.st_rdev && mnt_fs_get_root(fs) &&
                         streq(mnt_fs_get_root(fs), "/"))
                        r = -EBUSY; /* our device is mounted somewhere else */
        }
        mnt_free_iter(itr);
        if (r < 0 && !(at && mnt_fs_get_devno(at) == st.st_rdev))
                return r;

        if (!at)
                *ret = MOUNT_NOTHING;
        else if (mnt_fs_get_devno(at) == st.st_rdev)
                *ret = MOUNT_SAME_DEVICE;
        else {
                *ret = MOUNT_OTHER;
                if (ret_other) {
                        *ret_other = strdup(mnt_fs_get_source(at) ?: "?");
                        if (!*ret_other)
                                return -ENOMEM;
                }
        }
        return 0;
}

int volume_mount(const char *device, const char *where, FileSystemType type, const char *options) {
        _cleanup_(mnt_free_contextp) struct libmnt_context *cxt = NULL;
        int r;

        r = mkdir_p(where, 0711);
        if (r < 0)
                return r;
        cxt = mnt_new_context();
        if (!cxt)
                return -ENOMEM;
        if (mnt_context_set_source(cxt, device) < 0 || mnt_context_set_target(cxt, where) < 0 ||
            mnt_context_set_fstype(cxt, fs_type_to_string(type)) < 0 ||
            mnt_context_set_options(cxt, options) < 0)
                return -ENOMEM;
        /* Do not consult fstab: what to mount is fully given here. */
        (void) mnt_context_disable_helpers(cxt, 1);
        r = mnt_context_mount(cxt);
        if (r == 0 && mnt_context_get_status(cxt) == 1)
                return 0;
        if (mnt_context_syscall_called(cxt)) {
                int e = mnt_context_get_syscall_errno(cxt);
                return e > 0 ? -e : -EIO;
        }
        return r < 0 ? r : -EIO;
}

bool dir_is_populated(const char *path) {
        _cleanup_(closedirp) DIR *d = opendir(path);
        struct dirent *de;

        if (!d)
                return false;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        return true;
        return false;
}
