/* SPDX-License-Identifier: MIT */
#pragma once
#include "config.h"

/*
 * `swarmkeeper prepare`: this host's volume under Volume.MountPoint (attached,
 * formatted only if blank, mounted) and the engine labels in Engine.DaemonConfig.
 * Idempotent. Returns an exit status (SK_EXIT_…), having logged the culprit.
 */
int verb_prepare(Config *c, const ConfigArgs *args, bool json);
