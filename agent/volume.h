/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The host's data volume: which device it is, waiting for it, holding it, deciding
 * whether it is blank, formatting a blank one, mounting it (libmount).
 *
 * Safety: the device is resolved ONCE to its /dev node and held open (VolumeDevice),
 * with the whole disk flock()ed as udev honours. Every later step works on that
 * handle: volume_probe() reads through it, volume_format() re-checks blankness
 * through it right before mkfs, hands mkfs that very open device (/proc/self/fd/3
 * in the child) and never formats a device whose name meanwhile points elsewhere.
 * Blank means: libblkid finds no signature of any kind (filesystem, RAID, crypto,
 * swap, partition table) AND the first MiB, the last MiB and VOLUME_SAMPLES_MIN or
 * more samples spread over the whole device are all zeros.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

#define EBS_NVME_BYID_PREFIX "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_"
#define VOLUME_ZERO_CHECK_BYTES (1024 * 1024) /* at each end */
#define VOLUME_SAMPLES_MIN 1024               /* samples spread over the device */
#define VOLUME_SAMPLE_BYTES (64 * 1024)       /* read at the start of each stride */

/* An attachment's device name as EC2 reports it: /dev/sd[a-z]{1,2} or /dev/xvd[a-z]{1,2}. */
bool volume_device_name_valid(const char *s);

/*
 * Candidate device paths, most specific first:
 *  - Device= an absolute path: just that;
 *  - auto + volume_id: the Nitro udev link EBS_NVME_BYID_PREFIX<id without '-'>,
 *    then, if requested_name (the attachment's device, e.g. /dev/sdf) is known,
 *    the Xen name (/dev/xvdf) and the name itself.
 * -EINVAL when auto and neither a volume id nor a name is known, or when either
 * is not valid (ec2_id_valid(), volume_device_name_valid()): nothing from an
 * EC2 answer becomes a path unchecked.
 */
int volume_device_candidates(const char *device, const char *volume_id, const char *requested_name,
                             char ***ret);

/*
 * Wait until one candidate exists as a block device (following symlinks), polling
 * with backoff (20 ms doubling to 1 s), until the CLOCK_MONOTONIC time deadline_usec.
 * STATUS= says what is awaited. Returns the path found, or -ETIMEDOUT.
 */
int volume_wait_device(char *const *candidates, uint64_t deadline_usec, char **ret_path);

/* The device, resolved once and held. */
typedef struct VolumeDevice {
        char *name;    /* as found: the by-id link, /dev/xvdf, Device= */
        char *node;    /* the /dev node it resolved to, once */
        int fd;        /* open read-only on node; all reads go through it */
        int lock_fd;   /* the whole disk, flock(LOCK_EX)ed (== fd unless node is a partition) */
        dev_t devnum;  /* st_rdev of fd */
        uint64_t size; /* bytes */
} VolumeDevice;

/*
 * Resolve `name` to its /dev node, open it, check it is the block device the name
 * still points at, and take flock(LOCK_EX) on the whole disk (waiting up to 10 s for
 * udev's shared lock to go). -ENOTBLK, -ENOENT, -ESTALE (name moved while opening),
 * -EBUSY (lock not had in time).
 */
int volume_device_open(const char *name, VolumeDevice **ret);
VolumeDevice *volume_device_free(VolumeDevice *d);
static inline void volume_device_freep(VolumeDevice **d) {
        *d = volume_device_free(*d);
}

/*
 * Is the held device still what its name and node point at, and unclaimed?
 * 0; -ESTALE if the name or the node now resolves to another device; -EBUSY if it
 * is mounted or claimed (an O_EXCL open fails).
 */
int volume_device_verify(VolumeDevice *d);

typedef enum VolumeContent {
        VOLUME_BLANK,       /* no signature; first MiB, last MiB and the samples all zero */
        VOLUME_EXPECTED_FS, /* the configured filesystem: mount as it is */
        VOLUME_FOREIGN,     /* anything else: never touch */
} VolumeContent;

typedef struct VolumeProbe {
        VolumeContent content;
        char description[256]; /* what was found, for the operator */
} VolumeProbe;

/* Look at the held device (read only, through d->fd). Fills *ret; 0 or a negative errno. */
int volume_probe(VolumeDevice *d, FileSystemType expected, VolumeProbe *ret);

/*
 * Test seam: called with a point name ("before-format") where a test build
 * re-points names or writes to devices. NULL in the product.
 */
extern void (*volume_test_hook)(const char *point);

/*
 * mkfs.<type> on the held device, with nothing but PATH in its environment and no
 * discard. Right before it: volume_device_verify() and volume_probe() through the
 * handle must say VOLUME_BLANK, else nothing is run: -ESTALE, -EBUSY, or -ENOTEMPTY
 * (*ret_found, may be NULL, then says what is there). Right after: the name must still
 * point at the device (-ESTALE), and it must hold the new filesystem (-EIO).
 */
int volume_format(VolumeDevice *d, FileSystemType type, VolumeProbe *ret_found);

typedef enum MountState {
        MOUNT_NOTHING,     /* nothing mounted on the mount point */
        MOUNT_SAME_DEVICE, /* the device is already mounted there */
        MOUNT_OTHER,       /* something else is mounted there */
} MountState;

/*
 * What is mounted at `where` (per /proc/self/mountinfo) compared with device number
 * `devnum`. ret_other (may be NULL) gets the source mounted there for MOUNT_OTHER.
 * Also -EBUSY if the device is mounted somewhere else.
 */
int volume_mount_state(dev_t devnum, const char *where, MountState *ret, char **ret_other);

/*
 * Mount the held device's node at where (created if missing) with libmount; the node
 * is verified to still be the held device right before, and what got mounted right
 * after (-ESTALE).
 */
int volume_mount(VolumeDevice *d, const char *where, FileSystemType type, const char *options);

/* True if directory `path` holds any entry. */
bool dir_is_populated(const char *path);

/*
 * The fresh-volume marker, the contract between `prepare` and the daemon: when, and
 * only when, prepare formatted the volume in this boot, it leaves the file
 * $RUNTIME_DIRECTORY/formatted (default /run/swarmkeeper/formatted; mode 0644) holding
 *     DEVICE=/dev/nvme1n1
 *     VOLUME_ID=vol-0123456789abcdef0   (empty when unknown)
 *     FILESYSTEM=ext4
 *     FORMATTED_AT=2026-12-01T22:30:00Z
 * A prepare that mounts a filesystem it found removes the file; one that finds the
 * volume already mounted leaves it as it is. The daemon allows `swarm init` only while
 * it exists, and removes it once the swarm is initialized or joined.
 */
#define VOLUME_RUNTIME_DIRECTORY "/run/swarmkeeper"
#define VOLUME_FORMATTED_MARKER "formatted"

/* The marker's path: in the first entry of $RUNTIME_DIRECTORY, or the default. */
int volume_formatted_marker_path(char **ret);
/* Write it (creating its directory), atomically; the time is now. */
int volume_formatted_marker_write(const char *device, const char *volume_id, FileSystemType fs);
/* 0 also when there was none. */
int volume_formatted_marker_remove(void);
bool volume_formatted_marker_exists(void);
