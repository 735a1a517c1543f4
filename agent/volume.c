/* SPDX-License-Identifier: MIT */
#include "volume.h"

#include <blkid/blkid.h>
#include <dirent.h>
#include <fcntl.h>
#include <libmount/libmount.h>
#include <linux/fs.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include "ec2-parse.h"
#include "log.h"

#define TAKE_FD(fd)                   \
        ({                            \
                int _fd_ = (fd);      \
                (fd) = -1;            \
                _fd_;                 \
        })

DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct libmnt_table *, mnt_unref_table);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct libmnt_context *, mnt_free_context);
DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

static bool all_of(const char *s, const char *set, size_t min, size_t max) {
        size_t n = strspn(s, set);
        return s[n] == '\0' && n >= min && n <= max;
}

bool volume_device_name_valid(const char *s) {
        const char *rest;
        if (!s)
                return false;
        rest = startswith(s, "/dev/xvd") ?: startswith(s, "/dev/sd");
        return rest && all_of(rest, "abcdefghijklmnopqrstuvwxyz", 1, 2);
}

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
                if (!hex || !ec2_id_valid(volume_id, "vol-"))
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
                if (!volume_device_name_valid(requested_name))
                        return -EINVAL;
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

int volume_wait_device(char *const *candidates, uint64_t deadline_usec, char **ret_path) {
        _cleanup_(freep) char *list = strv_join(candidates, ", ");
        uint64_t delay = 20 * USEC_PER_MSEC;
        bool announced = false;

        if (!list)
                return -ENOMEM;
        for (;;) {
                uint64_t now, left;

                STRV_FOREACH(c, candidates)
                        if (is_block_device(*c)) {
                                char *p = strdup(*c);
                                if (!p)
                                        return -ENOMEM;
                                *ret_path = p;
                                return 0;
                        }

                now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline_usec)
                        return -ETIMEDOUT;
                left = deadline_usec - now;
                if (!announced) {
                        (void) notify_status("waiting for volume device %s (up to %llu s)", list,
                                             (unsigned long long) ((left + USEC_PER_SEC - 1) / USEC_PER_SEC));
                        log_info("Waiting for volume device %s (up to %llu s).", list,
                                 (unsigned long long) ((left + USEC_PER_SEC - 1) / USEC_PER_SEC));
                        announced = true;
                }
                if (delay > left)
                        delay = left;
                (void) nanosleep(&(struct timespec){ .tv_sec = (time_t) (delay / USEC_PER_SEC),
                                                     .tv_nsec = (long) (delay % USEC_PER_SEC) * 1000 },
                                 NULL);
                if (delay < USEC_PER_SEC)
                        delay *= 2;
        }
}

/* Offset of the first non-zero byte in [off, off + len): 1 and *ret_offset, or 0 if all zero. */
static int find_nonzero(int fd, uint8_t *buf, size_t bufsize, uint64_t off, uint64_t len, uint64_t *ret_offset) {
        uint64_t end = off + len;

        while (off < end) {
                size_t want = end - off < bufsize ? (size_t) (end - off) : bufsize;
                ssize_t k = pread(fd, buf, want, (off_t) off);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO; /* shorter than its size says */
                for (ssize_t i = 0; i < k; i++)
                        if (buf[i]) {
                                *ret_offset = off + (uint64_t) i;
                                return 1;
                        }
                off += (uint64_t) k;
        }
        return 0;
}

/*
 * Zeros in the first and last MiB and at the start of every stride, the stride being
 * the largest power of two (at least 1 MiB) that gives VOLUME_SAMPLES_MIN samples or
 * more: filesystems put their metadata at power-of-two aligned group starts, so a
 * wiped superblock still leaves its backups, bitmaps and tables in the samples.
 * 0 if all zero; 1 with a description of where data was found.
 */
static int check_zeros(int fd, uint64_t size, char *desc, size_t desc_size) {
        _cleanup_(freep) uint8_t *buf = malloc(VOLUME_SAMPLE_BYTES);
        uint64_t head = size < VOLUME_ZERO_CHECK_BYTES ? size : VOLUME_ZERO_CHECK_BYTES;
        uint64_t tail = size - head < VOLUME_ZERO_CHECK_BYTES ? size - head : VOLUME_ZERO_CHECK_BYTES;
        uint64_t stride = 1024 * 1024, at;
        int r;

        if (!buf)
                return -ENOMEM;
        r = find_nonzero(fd, buf, VOLUME_SAMPLE_BYTES, 0, head, &at);
        if (r != 0) {
                if (r > 0)
                        snprintf(desc, desc_size, "no known signature, but non-zero data in the first MiB (at byte %llu)",
                                 (unsigned long long) at);
                return r;
        }
        r = find_nonzero(fd, buf, VOLUME_SAMPLE_BYTES, size - tail, tail, &at);
        if (r != 0) {
                if (r > 0)
                        snprintf(desc, desc_size, "no known signature, but non-zero data in the last MiB (at byte %llu)",
                                 (unsigned long long) at);
                return r;
        }
        while (size / (stride * 2) >= VOLUME_SAMPLES_MIN)
                stride *= 2;
        for (uint64_t off = stride; off < size - tail; off += stride) {
                uint64_t len = size - tail - off < VOLUME_SAMPLE_BYTES ? size - tail - off : VOLUME_SAMPLE_BYTES;
                r = find_nonzero(fd, buf, VOLUME_SAMPLE_BYTES, off, len, &at);
                if (r != 0) {
                        if (r > 0)
                                snprintf(desc, desc_size,
                                         "no known signature, but non-zero data at byte %llu (found by sampling "
                                         "every %llu MiB)",
                                         (unsigned long long) at, (unsigned long long) (stride >> 20));
                        return r;
                }
        }
        return 0;
}

/* Open the whole disk that partition `devnum` belongs to (for its lock). */
static int open_whole_disk(dev_t devnum, int *ret_fd) {
        char sys[128], buf[64];
        _cleanup_(freep) char *parent = NULL, *node = NULL;
        _cleanup_(closep) int fd = -1;
        unsigned maj, min;
        struct stat st;
        FILE *f;

        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/../dev", major(devnum), minor(devnum));
        f = fopen(sys, "re");
        if (!f)
                return -errno;
        if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%u:%u", &maj, &min) != 2) {
                fclose(f);
                return -EIO;
        }
        fclose(f);
        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", maj, min);
        parent = realpath(sys, NULL);
        if (!parent)
                return -errno;
        if (asprintf(&node, "/dev/%s", strrchr(parent, '/') + 1) < 0)
                return -ENOMEM;
        fd = open(node, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode) || st.st_rdev != makedev(maj, min))
                return -ESTALE;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

VolumeDevice *volume_device_free(VolumeDevice *d) {
        if (!d)
                return NULL;
        if (d->lock_fd >= 0 && d->lock_fd != d->fd)
                (void) close(d->lock_fd);
        if (d->fd >= 0)
                (void) close(d->fd); /* drops the flock */
        free(d->name);
        free(d->node);
        free(d);
        return NULL;
}

int volume_device_open(const char *name, VolumeDevice **ret) {
        _cleanup_(volume_device_freep) VolumeDevice *d = NULL;
        char sys[128];
        struct stat st;
        int r;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->fd = d->lock_fd = -1;
        d->name = strdup(name);
        if (!d->name)
                return -ENOMEM;
        /* Resolved once: from here on the name is only checked, never followed again. */
        d->node = realpath(name, NULL);
        if (!d->node)
                return -errno;
        d->fd = open(d->node, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (d->fd < 0)
                return -errno;
        if (fstat(d->fd, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        d->devnum = st.st_rdev;
        if (ioctl(d->fd, BLKGETSIZE64, &d->size) < 0)
                return -errno;

        /* udev skips a disk whose whole-disk node is flock()ed: no probing, no link
         * changes while we look and format. A partition's lock is its disk's. */
        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/partition", major(d->devnum), minor(d->devnum));
        if (access(sys, F_OK) >= 0) {
                r = open_whole_disk(d->devnum, &d->lock_fd);
                if (r < 0)
                        return r;
        } else
                d->lock_fd = d->fd;
        for (unsigned i = 0;; i++) {
                if (flock(d->lock_fd, LOCK_EX | LOCK_NB) >= 0)
                        break;
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return -errno;
                if (i >= 200) /* 10 s */
                        return -EBUSY;
                (void) nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }

        r = volume_device_verify(d);
        if (r == -EBUSY)
                r = 0; /* a mounted device is held too: the caller decides */
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

static int same_device(const char *path, dev_t devnum) {
        struct stat st;
        if (stat(path, &st) < 0)
                return errno == ENOENT ? -ESTALE : -errno;
        return S_ISBLK(st.st_mode) && st.st_rdev == devnum ? 0 : -ESTALE;
}

int volume_device_verify(VolumeDevice *d) {
        char self[64];
        int fd, r;

        r = same_device(d->name, d->devnum);
        if (r < 0)
                return r;
        r = same_device(d->node, d->devnum);
        if (r < 0)
                return r;
        /* O_EXCL on a block device fails with EBUSY if it is mounted or claimed
         * (device mapper, md, another mkfs). Through our fd: the same device. */
        snprintf(self, sizeof(self), "/proc/self/fd/%d", d->fd);
        fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_EXCL);
        if (fd < 0)
                return -errno;
        (void) close(fd);
        return 0;
}

int volume_probe(VolumeDevice *d, FileSystemType expected, VolumeProbe *ret) {
        _cleanup_(blkid_free_probep) blkid_probe pr = NULL;
        const char *type = NULL, *usage = NULL, *pttype = NULL;
        VolumeProbe p = {};
        int r;

        /* Read what is on the disk now, not what an earlier read left in the cache. */
        (void) posix_fadvise(d->fd, 0, 0, POSIX_FADV_DONTNEED);

        pr = blkid_new_probe();
        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, d->fd, 0, 0) < 0)
                return -EIO;
        blkid_probe_enable_superblocks(pr, 1);
        /* BADCSUM: a signature with a bad checksum still says "data here". */
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE | BLKID_SUBLKS_BADCSUM);
        blkid_probe_enable_partitions(pr, 1);
        /* FORCE_GPT: a GPT without its protective MBR (first sectors wiped) still counts. */
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC | BLKID_PARTS_FORCE_GPT);

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
                else if (type && streq(type, fs_type_to_string(expected)) &&
                         blkid_probe_lookup_value(pr, "SBBADCSUM", NULL, NULL) < 0) {
                        p.content = VOLUME_EXPECTED_FS;
                        snprintf(p.description, sizeof(p.description), "%s filesystem", type);
                } else
                        snprintf(p.description, sizeof(p.description), "a signature of type %s (%s)",
                                 type ?: "unknown", usage ?: "unknown usage");
                goto done;
        }

        /* No signature libblkid knows: blank only if every byte we look at is zero. */
        r = check_zeros(d->fd, d->size, p.description, sizeof(p.description));
        if (r < 0)
                return r;
        if (r > 0)
                p.content = VOLUME_FOREIGN;
        else {
                p.content = VOLUME_BLANK;
                snprintf(p.description, sizeof(p.description),
                         "blank (no signature; first and last MiB and samples zero)");
        }
done:
        *ret = p;
        return 0;
}

void (*volume_test_hook)(const char *point) = NULL;

/* Is the held device still the one its name points at, and does it hold `want`?
 * 0 yes; `mismatch` (with *ret_found filled) if it holds something else; else the error. */
static int volume_device_expect(VolumeDevice *d, FileSystemType type, VolumeContent want, int mismatch,
                                VolumeProbe *ret_found) {
        VolumeProbe p;
        int r;

        r = volume_device_verify(d);
        if (r < 0)
                return r;
        r = volume_probe(d, type, &p);
        if (r < 0)
                return r;
        if (p.content != want) {
                if (ret_found)
                        *ret_found = p;
                return mismatch;
        }
        return 0;
}

int volume_format(VolumeDevice *d, FileSystemType type, VolumeProbe *ret_found) {
        posix_spawn_file_actions_t fa;
        const char *tool = type == FS_XFS ? "mkfs.xfs" : "mkfs.ext4";
        /* The child's fd 3 is our open device: mkfs formats what we checked, whatever
         * the names say by then. No discard: we did not create this device, and a
         * discard is the one write that would destroy data a probe missed.
         * No -F/-f: should mkfs itself find anything, it refuses (stdin is /dev/null). */
        char *argv_ext4[] = { (char *) tool, (char *) "-q", (char *) "-E", (char *) "nodiscard",
                              (char *) "/proc/self/fd/3", NULL };
        char *argv_xfs[] = { (char *) tool, (char *) "-q", (char *) "-K", (char *) "/proc/self/fd/3", NULL };
        _cleanup_(freep) char *path_env = NULL;
        char *envp[2] = {};
        _cleanup_(closep) int child_fd = -1;
        pid_t pid;
        int r, status;

        if (volume_test_hook)
                volume_test_hook("before-format");

        /* Last look, through the handle, right before mkfs. */
        r = volume_device_expect(d, type, VOLUME_BLANK, -ENOTEMPTY, ret_found);
        if (r < 0)
                return r;

        /* Nothing of ours reaches mkfs: no AWS_* or other variable, only PATH. */
        if (asprintf(&path_env, "PATH=%s", getenv("PATH") ?: "/usr/sbin:/usr/bin:/sbin:/bin") < 0)
                return -ENOMEM;
        envp[0] = path_env;

        /* A copy above 3, so that dup2() onto 3 never meets itself and keeps O_CLOEXEC. */
        child_fd = fcntl(d->fd, F_DUPFD_CLOEXEC, 10);
        if (child_fd < 0)
                return -errno;
        if (posix_spawn_file_actions_init(&fa) != 0)
                return -ENOMEM;
        r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, child_fd, 3);
        if (r == 0)
                r = posix_spawnp(&pid, tool, &fa, NULL, type == FS_XFS ? argv_xfs : argv_ext4, envp);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return log_debug_errno(-r, "Failed to run %s: %m", tool), -r;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_debug("%s on %s failed (status %d).", tool, d->node, status), -EIO;

        /* Still the device its name points at? Then it must hold what mkfs made. */
        return volume_device_expect(d, type, VOLUME_EXPECTED_FS, -EIO, ret_found);
}

static int load_mountinfo(struct libmnt_table **ret) {
        struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
        if (!tb)
                return -errno ?: -EIO;
        *ret = tb;
        return 0;
}

int volume_mount_state(dev_t devnum, const char *where, MountState *ret, char **ret_other) {
        _cleanup_(mnt_unref_tablep) struct libmnt_table *tb = NULL;
        _cleanup_(freep) char *canon = NULL;
        struct libmnt_iter *itr;
        struct libmnt_fs *fs, *at = NULL;
        int r;

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
                else if (mnt_fs_get_devno(fs) == devnum && mnt_fs_get_root(fs) &&
                         streq(mnt_fs_get_root(fs), "/"))
                        r = -EBUSY; /* our device is mounted somewhere else */
        }
        mnt_free_iter(itr);
        if (r < 0 && !(at && mnt_fs_get_devno(at) == devnum))
                return r;

        if (!at)
                *ret = MOUNT_NOTHING;
        else if (mnt_fs_get_devno(at) == devnum)
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

static int mount_context(const char *device, const char *where, FileSystemType type, const char *options) {
        _cleanup_(mnt_free_contextp) struct libmnt_context *cxt = NULL;
        int r;

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

int volume_mount(VolumeDevice *d, const char *where, FileSystemType type, const char *options) {
        MountState state;
        int r;

        r = mkdir_p(where, 0711);
        if (r < 0)
                return r;
        /* The node we mount must still be the device we looked at. */
        r = volume_device_verify(d);
        if (r < 0)
                return r;
        r = mount_context(d->node, where, type, options);
        if (r < 0)
                return r;
        r = volume_mount_state(d->devnum, where, &state, NULL);
        if (r < 0)
                return r;
        return state == MOUNT_SAME_DEVICE ? 0 : -ESTALE;
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

/* ---- the fresh-volume marker ------------------------------------------------------------ */

int volume_formatted_marker_path(char **ret) {
        const char *dir = getenv("RUNTIME_DIRECTORY");
        char *p;

        /* systemd may pass several directories, separated by ':'; ours is the first. */
        if (isempty(dir))
                dir = VOLUME_RUNTIME_DIRECTORY;
        if (asprintf(&p, "%.*s/%s", (int) strcspn(dir, ":"), dir, VOLUME_FORMATTED_MARKER) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int volume_formatted_marker_write(const char *device, const char *volume_id, FileSystemType fs) {
        _cleanup_(freep) char *path = NULL, *data = NULL, *dir = NULL;
        char stamp[64];
        struct tm tm;
        time_t t = time(NULL);
        int r, n;

        r = volume_formatted_marker_path(&path);
        if (r < 0)
                return r;
        dir = strndup(path, strrchr(path, '/') - path);
        if (!dir)
                return -ENOMEM;
        r = mkdir_p(dir, 0755);
        if (r < 0)
                return r;
        if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return -EINVAL;
        n = asprintf(&data, "DEVICE=%s\nVOLUME_ID=%s\nFILESYSTEM=%s\nFORMATTED_AT=%s\n", device, strempty(volume_id),
                     fs_type_to_string(fs), stamp);
        if (n < 0)
                return -ENOMEM;
        return write_file_atomic(path, data, (size_t) n, 0644);
}

int volume_formatted_marker_remove(void) {
        _cleanup_(freep) char *path = NULL;
        int r = volume_formatted_marker_path(&path);

        if (r < 0)
                return r;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

bool volume_formatted_marker_exists(void) {
        _cleanup_(freep) char *path = NULL;
        return volume_formatted_marker_path(&path) >= 0 && access(path, F_OK) == 0;
}
