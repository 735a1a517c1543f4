/* SPDX-License-Identifier: MIT */
#include "prepare.h"

#include <sys/sysmacros.h>
#include <time.h>

#include "ebs.h"
#include "ec2-parse.h"
#include "engine.h"
#include "identity.h"
#include "log.h"
#include "messages.h"
#include "volume.h"

/* Which device is ours: Device=, the volume id's udev link, or the attachment's name.
 * The attach wait and the device wait share one deadline (see PREPARE_FORMAT_RESERVE_SEC). */
static int prepare_find_device(const Config *c, uint64_t deadline, char **ret_dev, char **ret_volume_id) {
        _cleanup_(freep) char *volume_id = NULL, *requested = NULL, *dev = NULL, *list = NULL;
        _cleanup_(strv_freep) char **candidates = NULL;
        int r;

        if (streq(c->device, "auto") && isempty(c->volume_id)) {
                /* Find this host's volume by its tags and attach it to this instance. */
                r = ebs_locate_and_attach(c, deadline, &volume_id, &requested);
                if (r == -ETIME)
                        return SK_EXIT_TIMEOUT; /* never attached in time: as a device that never appears */
                if (r == -EUSERS)
                        return SK_EXIT_MULTI_ATTACH;
                if (r == -ENOTUNIQ)
                        return SK_EXIT_VOLUME_AMBIGUOUS;
                if (r < 0)
                        return r == -EINVAL || r == -EOPNOTSUPP ? SK_EXIT_CONFIG : SK_EXIT_AWS;
        } else if (!isempty(c->volume_id)) {
                if (!ec2_id_valid(c->volume_id, "vol-"))
                        return log_error("%s: Volume.Id=%s is not a volume id (vol- and 8 or 17 hex digits).",
                                         c->source[CONFIG_VOLUME_ID], c->volume_id),
                               SK_EXIT_CONFIG;
                volume_id = strdup(c->volume_id);
                if (!volume_id)
                        return SK_EXIT_FAILURE;
        }

        r = volume_device_candidates(c->device, volume_id, requested, &candidates);
        if (r == -EINVAL)
                return log_error("Cannot tell which device is the volume: set Volume.Id= or Volume.Device=."),
                       SK_EXIT_CONFIG;
        if (r < 0)
                return log_error_errno(r, "Failed to build the device list: %m"), SK_EXIT_FAILURE;

        r = volume_wait_device(candidates, deadline, &dev);
        if (r == -ETIMEDOUT) {
                list = strv_join(candidates, ", ");
                return log_error("Volume device did not appear within %u s of the start (Volume.AttachTimeoutSec); "
                                 "looked for %s.", c->attach_timeout_sec, strempty(list)),
                       SK_EXIT_TIMEOUT;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to wait for the volume device: %m"), SK_EXIT_FAILURE;

        *ret_dev = TAKE_PTR(dev);
        *ret_volume_id = TAKE_PTR(volume_id);
        return SK_EXIT_OK;
}

static int log_refused(const VolumeDevice *d, const char *volume_id, const char *found, const char *fs) {
        log_struct(LOG_ERR, 0, SK_MESSAGE_FORMAT_REFUSED,
                   LOG_FIELDS("SK_DEVICE", d->name, "SK_VOLUME_ID", volume_id, "SK_FOUND", found, "SK_FILESYSTEM", fs),
                   "Refusing to format %s: found %s, expected %s or a blank device. Nothing was written.", d->name,
                   found, fs);
        return SK_EXIT_UNSAFE;
}

static int log_moved(const VolumeDevice *d, const char *volume_id, const char *what) {
        log_struct(LOG_ERR, 0, SK_MESSAGE_FORMAT_REFUSED,
                   LOG_FIELDS("SK_DEVICE", d->name, "SK_VOLUME_ID", volume_id, "SK_FOUND", "name re-pointed"),
                   "%s no longer points at the device checked (%s, %u:%u); refusing to %s.", d->name, d->node,
                   major(d->devnum), minor(d->devnum), what);
        return SK_EXIT_UNSAFE;
}

/* Make sure the held device carries our filesystem: format only if blank. */
static int prepare_filesystem(const Config *c, VolumeDevice *d, const char *volume_id, bool *ret_formatted) {
        const char *fs = fs_type_to_string(c->file_system), *dev = d->name;
        VolumeProbe p;
        int r;

        *ret_formatted = false;
        r = volume_device_verify(d);
        if (r == -EBUSY)
                return log_struct(LOG_ERR, r, SK_MESSAGE_FORMAT_REFUSED,
                                  LOG_FIELDS("SK_DEVICE", dev, "SK_VOLUME_ID", volume_id, "SK_FOUND", "in use"),
                                  "Device %s is in use by something else (mounted elsewhere or claimed); "
                                  "refusing to touch it.", dev),
                       SK_EXIT_UNSAFE;
        if (r == -ESTALE)
                return log_moved(d, volume_id, "touch it");
        if (r < 0)
                return log_error_errno(r, "Failed to check %s: %m", dev), SK_EXIT_FAILURE;
        r = volume_probe(d, c->file_system, &p);
        if (r < 0)
                return log_error_errno(r, "Failed to probe %s: %m", dev), SK_EXIT_FAILURE;

        switch (p.content) {
        case VOLUME_EXPECTED_FS:
                log_info("Device %s already holds an %s filesystem; mounting it as it is.", dev, fs);
                return SK_EXIT_OK;
        case VOLUME_FOREIGN:
                return log_refused(d, volume_id, p.description, fs);
        case VOLUME_BLANK:
                break;
        }

        (void) notify_status("formatting %s as %s", dev, fs);
        log_info("Device %s (%s) is blank; formatting it as %s.", dev, d->node, fs);
        r = volume_format(d, c->file_system, &p);
        if (r == -ENOTEMPTY)
                return log_refused(d, volume_id, p.description, fs);
        if (r == -ESTALE)
                return log_moved(d, volume_id, "format or mount it");
        if (r == -EBUSY)
                return log_struct(LOG_ERR, r, SK_MESSAGE_FORMAT_REFUSED,
                                  LOG_FIELDS("SK_DEVICE", dev, "SK_VOLUME_ID", volume_id, "SK_FOUND", "in use"),
                                  "Device %s was claimed by something else before mkfs; refusing to touch it.",
                                  dev),
                       SK_EXIT_UNSAFE;
        if (r < 0)
                return log_error_errno(r, "Failed to format %s as %s: %m", dev, fs), SK_EXIT_FAILURE;
        log_struct(LOG_NOTICE, 0, SK_MESSAGE_VOLUME_FORMATTED,
                   LOG_FIELDS("SK_DEVICE", dev, "SK_VOLUME_ID", volume_id, "SK_FILESYSTEM", fs),
                   "Formatted blank device %s as %s.", dev, fs);
        *ret_formatted = true;
        return SK_EXIT_OK;
}

/* The daemon's proof that this boot's volume is freshly formatted (volume.h). A
 * filesystem found, not made, by this run: no marker may stay. */
static int prepare_mark_formatted(const VolumeDevice *d, const char *volume_id, const Config *c, bool formatted) {
        return formatted ? volume_formatted_marker_write(d->node, volume_id, c->file_system)
                         : volume_formatted_marker_remove();
}

static int prepare_volume(const Config *c, uint64_t deadline) {
        _cleanup_(freep) char *name = NULL, *volume_id = NULL, *other = NULL, *docker_state = NULL;
        _cleanup_(volume_device_freep) VolumeDevice *d = NULL;
        const char *dev;
        MountState state;
        bool restart_docker = false, formatted = false;
        int r, ex;

        ex = prepare_find_device(c, deadline, &name, &volume_id);
        if (ex != SK_EXIT_OK)
                return ex;

        /* From here on, the device is held: resolved once, open, locked. */
        r = volume_device_open(name, &d);
        if (r == -ESTALE)
                return log_struct(LOG_ERR, r, SK_MESSAGE_FORMAT_REFUSED,
                                  LOG_FIELDS("SK_DEVICE", name, "SK_VOLUME_ID", volume_id, "SK_FOUND", "name re-pointed"),
                                  "%s changed while it was being opened; refusing to touch it.", name),
                       SK_EXIT_UNSAFE;
        if (r == -EBUSY)
                return log_struct(LOG_ERR, r, SK_MESSAGE_FORMAT_REFUSED,
                                  LOG_FIELDS("SK_DEVICE", name, "SK_VOLUME_ID", volume_id, "SK_FOUND", "locked"),
                                  "Device %s stays locked by another program; refusing to touch it.", name),
                       SK_EXIT_UNSAFE;
        if (r < 0)
                return log_error_errno(r, "Failed to open %s: %m", name), SK_EXIT_FAILURE;
        dev = d->name;

        r = volume_mount_state(d->devnum, c->mount_point, &state, &other);
        if (r == -EBUSY)
                return log_struct(LOG_ERR, r, SK_MESSAGE_MOUNT_REFUSED,
                                  LOG_FIELDS("SK_DEVICE", dev, "SK_MOUNT_POINT", c->mount_point),
                                  "Device %s is mounted somewhere other than %s; refusing.", dev,
                                  c->mount_point),
                       SK_EXIT_MOUNT;
        if (r < 0)
                return log_error_errno(r, "Failed to read the mount table: %m"), SK_EXIT_FAILURE;
        if (state == MOUNT_SAME_DEVICE) {
                log_info("Device %s is already mounted at %s; nothing to do.", dev, c->mount_point);
                return SK_EXIT_OK;
        }
        if (state == MOUNT_OTHER)
                return log_struct(LOG_ERR, 0, SK_MESSAGE_MOUNT_REFUSED,
                                  LOG_FIELDS("SK_DEVICE", dev, "SK_MOUNT_POINT", c->mount_point, "SK_FOUND", other),
                                  "%s is already mounted on %s; refusing to mount %s over it.", other,
                                  c->mount_point, dev),
                       SK_EXIT_MOUNT;

        ex = prepare_filesystem(c, d, volume_id, &formatted);
        if (ex != SK_EXIT_OK)
                return ex;
        r = prepare_mark_formatted(d, volume_id, c, formatted);
        if (r < 0)
                return log_error_errno(r, "Failed to %s the marker of a freshly formatted volume: %m",
                                       formatted ? "write" : "remove"),
                       SK_EXIT_FAILURE;

        /* A running engine must not keep writing below the mount point. Only an active
         * unit is stopped: a start job waiting for us (activating) is left alone. */
        r = engine_unit_active_state(c->unit, &docker_state);
        if (r >= 0 && (streq(docker_state, "active") || streq(docker_state, "reloading"))) {
                log_notice("Stopping %s before mounting its data directory.", c->unit);
                (void) notify_status("stopping %s", c->unit);
                r = engine_unit_stop(c->unit, 90 * USEC_PER_SEC);
                if (r < 0)
                        return log_error_errno(r, "Failed to stop %s: %m", c->unit), SK_EXIT_ENGINE;
                restart_docker = true;
        } else if (r < 0)
                log_debug_errno(r, "Cannot ask systemd about %s (%m), assuming it is not running.", c->unit);

        if (dir_is_populated(c->mount_point))
                log_warning("%s is not empty; its contents stay, hidden under the volume (nothing is deleted).",
                            c->mount_point);

        (void) notify_status("mounting %s at %s", dev, c->mount_point);
        r = volume_mount(d, c->mount_point, c->file_system, c->mount_options);
        if (r == -ESTALE)
                return log_moved(d, volume_id, "mount it");
        if (r < 0)
                return log_error_errno(r, "Failed to mount %s at %s (%s, options %s): %m", dev,
                                       c->mount_point, fs_type_to_string(c->file_system), c->mount_options),
                       SK_EXIT_FAILURE;
        log_struct(LOG_INFO, 0, SK_MESSAGE_VOLUME_MOUNTED,
                   LOG_FIELDS("SK_DEVICE", dev, "SK_VOLUME_ID", volume_id, "SK_MOUNT_POINT", c->mount_point,
                              "SK_FILESYSTEM", fs_type_to_string(c->file_system)),
                   "Mounted %s at %s.", dev, c->mount_point);

        if (restart_docker) {
                r = engine_unit_start(c->unit);
                if (r < 0)
                        log_warning_errno(r, "Failed to start %s again: %m, ignoring.", c->unit);
        }
        return SK_EXIT_OK;
}

static int prepare_labels(const Config *c, bool dry_run) {
        _cleanup_(freep) char *state = NULL;
        bool manager;
        int r;

        r = engine_write_labels(c, dry_run);
        if (r == -EBADMSG)
                return log_error("%s is not valid JSON, or its \"labels\" is not a list of strings; "
                                 "left it untouched.", c->daemon_config),
                       SK_EXIT_CONFIG;
        if (r < 0)
                return log_error_errno(r, "Failed to write engine labels to %s: %m", c->daemon_config),
                       SK_EXIT_FAILURE;
        if (r == 0 || dry_run) {
                log_debug("Engine labels in %s %s.", c->daemon_config, r == 0 ? "are up to date" : "will change");
                return SK_EXIT_OK;
        }
        /* only a manager's engine carries a logical id (engine.h) */
        manager = c->role == ROLE_MANAGER;
        log_struct(LOG_NOTICE, 0, SK_MESSAGE_ENGINE_LABELS,
                   LOG_FIELDS("SK_DAEMON_CONFIG", c->daemon_config, "SK_LOGICAL_ID", manager ? c->private_ip : NULL,
                              "SK_INSTANCE_ID", c->instance_id, "SK_CLUSTER", c->cluster_name),
                   "Engine labels in %s changed (cluster %s, %s%s, instance %s).", c->daemon_config,
                   c->cluster_name, manager ? "logical id " : "worker", manager ? c->private_ip : "",
                   c->instance_id);

        /* A running engine picks its labels up on reload (SIGHUP). */
        if (engine_unit_active_state(c->unit, &state) >= 0 && streq(state, "active")) {
                r = engine_unit_reload(c->unit);
                if (r < 0)
                        log_warning_errno(r, "Failed to reload %s for its new labels: %m, ignoring.", c->unit);
        }
        return SK_EXIT_OK;
}

int verb_prepare(Config *c, const ConfigArgs *args, bool json) {
        uint64_t start = now_usec(CLOCK_MONOTONIC);
        bool want_volume;
        int r, ex;

        (void) args;
        (void) json;

        if (isempty(c->cluster_name))
                return log_error("%s: Cluster.Name is not set.", c->source[CONFIG_CLUSTER_NAME]), SK_EXIT_CONFIG;

        (void) notify_status("finding out who this host is");
        r = identity_resolve(c);
        if (r < 0)
                return r == -EINVAL ? SK_EXIT_CONFIG : SK_EXIT_AWS;

        /* A daemon.json we could not update must stop us before the volume is touched. */
        ex = prepare_labels(c, true);
        if (ex != SK_EXIT_OK)
                return ex;

        /* Workers keep no state: a volume only if one is configured. */
        want_volume = c->role == ROLE_MANAGER || !isempty(c->volume_id) || !streq(c->device, "auto");
        if (want_volume) {
                ex = prepare_volume(c, start + (uint64_t) c->attach_timeout_sec * USEC_PER_SEC);
                if (ex != SK_EXIT_OK)
                        return ex;
        }

        ex = prepare_labels(c, false);
        if (ex != SK_EXIT_OK)
                return ex;

        (void) notify_status("host prepared");
        log_info("Host prepared (%s, %s %s) in %llu ms.", role_to_string(c->role),
                 c->role == ROLE_MANAGER ? "logical id" : "private IP", c->private_ip,
                 (unsigned long long) ((now_usec(CLOCK_MONOTONIC) - start) / USEC_PER_MSEC));
        return SK_EXIT_OK;
}
