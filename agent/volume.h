/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The host's data volume: which device it is, waiting for it, deciding whether it
 * is blank (libblkid + the first MiB), formatting a blank one, mounting (libmount).
 *
 * Safety: volume_probe() is the only gate to volume_format(); a device with any
 * signature or any non-zero byte in its first MiB is never formatted.
 */

#include <sys/types.h>

#include "config.h"

#define EBS_NVME_BYID_PREFIX "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_"
#define VOLUME_ZERO_CHECK_BYTES (1024 * 1024)

/*
 * Candidate device paths, most specific first:
 *  - Device= an absolute path: just that;
 *  - auto + volume_id: the Nitro udev link EBS_NVME_BYID_PREFIX<id without '-'>,
 *    then, if requested_name (the attachment's device, e.g. /dev/sdf) is known,
 *    the Xen name (/dev/xvdf) and the name itself.
 * -EINVAL when auto and neither a volume id nor a name is known.
 */
int volume_device_candidates(const char *device, const char *volume_id, const char *requested_name,
                             char ***ret);

/*
 * Wait until one candidate exists as a block device (following symlinks), polling
 * with backoff (20 ms doubling to 1 s), at most timeout_usec. STATUS= says what is
 * awaited. Returns the path found, or -ETIMEDOUT.
 */
int volume_wait_device(char *const *candidates, uint64_t timeout_usec, char **ret_path);

typedef enum VolumeContent {
        VOLUME_BLANK,       /* no signature, first MiB all zeros */
        VOLUME_EXPECTED_FS, /* the configured filesystem: mount as it is */
        VOLUME_FOREIGN,     /* anything else: never touch */
} VolumeContent;

typedef struct VolumeProbe {
        VolumeContent content;
        char description[256]; /* what was found, for the operator */
} VolumeProbe;

/*
 * Look at the device read-only (opened O_EXCL: a device in use gives -EBUSY).
 * Fills *ret; returns 0 or a negative errno.
 */
int volume_probe(const char *path, FileSystemType expected, VolumeProbe *ret);

/* mkfs.<type> on the device. Only call after volume_probe() said VOLUME_BLANK. */
int volume_format(const char *path, FileSystemType type);

typedef enum MountState {
        MOUNT_NOTHING,     /* nothing mounted on the mount point */
        MOUNT_SAME_DEVICE, /* the device is already mounted there */
        MOUNT_OTHER,       /* something else is mounted there */
} MountState;

/*
 * What is mounted at `where` (per /proc/self/mountinfo) compared with `device`.
 * ret_other (may be NULL) gets the source mounted there for MOUNT_OTHER.
 * Also -EBUSY if the device is mounted somewhere else.
 */
int volume_mount_state(const char *device, const char *where, MountState *ret, char **ret_other);

/* Mount device at where (created if missing) with libmount. */
int volume_mount(const char *device, const char *where, FileSystemType type, const char *options);

/* True if directory `path` holds any entry. */
bool dir_is_populated(const char *path);
