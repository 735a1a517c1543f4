/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The local Docker engine as a system service: its labels in daemon.json and its
 * systemd unit (driven over sd-bus).
 */

#include "config.h"

/*
 * Merge `labels` ("k=v") into the daemon.json text `json` (NULL: no file yet): an
 * existing label with the same key is replaced in place, others are appended; every
 * label whose key is in `unset` (may be NULL) is removed; every other key and label
 * is kept. ret_text gets the new text (NULL if unchanged).
 * -EBADMSG: json is not a JSON object, or its "labels" is not an array of strings.
 */
int engine_labels_merge(const char *json, char *const *labels, char *const *unset, char **ret_text);

/*
 * The swarmkeeper.* labels for this host plus Engine.Labels, as "k=v"; and the keys
 * of ours this host must not carry (ret_unset, may be NULL). Only a manager carries
 * swarmkeeper.logical-id: a worker's engine is labelled without one (and loses one
 * an earlier run or role left), as a label is self-reported and a worker claiming a
 * manager's logical id must not stand for that seat.
 */
int engine_labels_for(const Config *c, char ***ret, char ***ret_unset);

/*
 * Make c->daemon_config carry our labels; write atomically (keeping the file's mode)
 * only if something changes. Returns 1 if changed (or, with dry_run, would change),
 * 0 if not, -EBADMSG for a file that is not valid JSON (left untouched), other
 * negative errno. dry_run only reads and checks.
 */
int engine_write_labels(const Config *c, bool dry_run);

/* ActiveState of a systemd unit ("active", "inactive", …) via the system bus.
 * -ENOTCONN/-ENOENT etc. if there is no system bus (not running under systemd). */
int engine_unit_active_state(const char *unit, char **ret_state);

/* Stop the unit and wait (up to timeout) until it is no longer active. */
int engine_unit_stop(const char *unit, uint64_t timeout_usec);

/* ReloadUnit (docker re-reads its labels on SIGHUP). */
int engine_unit_reload(const char *unit);

/* StartUnit. */
int engine_unit_start(const char *unit);
