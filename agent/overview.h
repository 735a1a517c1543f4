/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * `swarmkeeper plan` and the desired-against-actual part of `swarmkeeper status` (part
 * of the reconcile executor, see reconciler.h): one pass made synchronously with
 * plan_only (it observes EC2 and the engine and changes nothing), printed as a table or
 * JSON; `status` adds what the daemon's reconciler wrote to its state file.
 *
 * I/O (EC2, the engine, the state file, stdout). Runs on the main thread of those
 * short-lived commands, never inside `run`'s loop.
 */

#include <json-c/json.h>

#include "config.h"

/*
 * For `swarmkeeper status`: desired against actual (one EC2 + engine observation), one
 * row per logical id and the worker count, and what the daemon has in flight (its
 * RC_STATE_FILE). Only when launching is configured (else 0, nothing printed). Prints a
 * table, or adds "desired" and "reconciler" members to root. Never fails status: an
 * observation that cannot be made is reported in the output. Negative errno: -ENOMEM.
 */
#define RC_STATE_FILE_DEFAULT "/run/swarmkeeper/state.json"
int reconciler_status_overview(const Config *c, json_object *root);

/* `swarmkeeper plan [--json]` */
int verb_plan(Config *c, const ConfigArgs *args, bool json);
