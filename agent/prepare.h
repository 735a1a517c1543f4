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

/* The contract with the daemon, the fresh-volume marker: volume.h
 * (volume_formatted_marker_write()). */
