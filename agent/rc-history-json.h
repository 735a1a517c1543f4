/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The reconciler's memory (RcHistory, rc-history.h) as JSON, so that `plan` and `status`
 * plan with what the daemon remembers: the daemon writes it into its state file after
 * every pass (reconciler.c), overview.c reads it back.
 *
 * Everything the planner takes from the history (rc_world_observe()): the node marks,
 * in flight, backoff, recoveries, seats, dead ClientTokens, the token-rotation times,
 * when EC2 and the nodes were last listed, the Leader then, since when no leader. What
 * only the daemon's logging uses (the actions logged, quorum_lost_logged, a seat's
 * stuck_logged) and what is per pass (a seat's volume probe, max_gap_usec) is not kept.
 * Nothing in an RcHistory is secret (ClientTokens are idempotency tokens, not
 * credentials); join tokens are never in it.
 *
 * The times are CLOCK_MONOTONIC, stored raw (the keys end in _mono_usec): every process
 * on the machine shares that clock, but only within one boot, so the object carries the
 * boot id and one from another boot is refused. tokens_rotated_usec is wall-clock time
 * (tokens_rotated_realtime_usec); the swarm's and EC2's times stay theirs.
 *
 * I/O: the boot id (sd_id128_get_boot()); otherwise pure.
 */

#include <json-c/json.h>

#include "rc-history.h"

#define RC_HISTORY_JSON_VERSION 1
/* What a file on disk may ask for: entries per list, bytes per string. */
#define RC_HISTORY_JSON_MAX_ENTRIES 100000U
#define RC_HISTORY_JSON_MAX_STRING 512U

/* This boot's id as 32 lowercase hex digits (size: at least RC_BOOT_ID_STRING_MAX). */
#define RC_BOOT_ID_STRING_MAX 33
int rc_boot_id(char *buf, size_t size);

/* h as a new JSON object, with this boot's id and the time of writing
 * ("written_mono_usec"). -ENOMEM, or the boot id's error. */
int rc_history_to_json(const RcHistory *h, json_object **ret);

/* The history o describes (ret untouched on failure). -ESTALE: written in another boot;
 * -EPROTONOSUPPORT: another version; -EBADMSG: not such an object (a wrong type, a
 * missing id, a count or string over the bounds above, a negative time); -ENOMEM. A
 * member absent is empty (0, false, none). */
int rc_history_from_json(json_object *o, RcHistory *ret);
