/* SPDX-License-Identifier: MIT */
#pragma once
#include "config.h"

/*
 * `swarmkeeper prepare`: this host's volume under Volume.MountPoint (attached,
 * formatted only if blank, mounted) and the engine labels in Engine.DaemonConfig.
 * Idempotent. Returns an exit status (SK_EXIT_…), having logged the culprit.
 *
 * Time: waiting for the attachment and for the device ends Volume.AttachTimeoutSec
 * after prepare started (one deadline for both); what follows (blank check, mkfs,
 * stopping the engine, mounting) is given PREPARE_FORMAT_RESERVE_SEC. The unit's
 * TimeoutStartSec= must be at least their sum (900 s for the default 600 s), so that
 * systemd never kills prepare in the middle of mkfs.
 */
int verb_prepare(Config *c, const ConfigArgs *args, bool json);

#define PREPARE_FORMAT_RESERVE_SEC 300

/*
 * The contract with the daemon: when, and only when, prepare formatted the volume
 * in this boot, it leaves the file $RUNTIME_DIRECTORY/formatted (default
 * /run/swarmkeeper/formatted; mode 0644) holding
 *     DEVICE=/dev/nvme1n1
 *     VOLUME_ID=vol-0123456789abcdef0   (empty when unknown)
 *     FILESYSTEM=ext4
 *     FORMATTED_AT=2026-12-01T22:30:00Z
 * A run that mounts a filesystem it found removes the file; a run that finds the
 * volume already mounted leaves it as it is. `swarm init` is allowed only while it exists.
 */
#define PREPARE_RUNTIME_DIRECTORY "/run/swarmkeeper"
#define PREPARE_FORMATTED_MARKER "formatted"

/* The marker's path: the first entry of $RUNTIME_DIRECTORY, or the default. */
int prepare_formatted_marker_path(char **ret);
