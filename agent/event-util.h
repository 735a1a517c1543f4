/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * sd-event helpers shared by the loop's owners (daemon, leader, reconciler).
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

/*
 * (Re-)arm the one-shot CLOCK_MONOTONIC timer *s to fire at `when` (absolute): an
 * existing source gets the new time and is enabled SD_EVENT_ONESHOT again; without
 * one, a new source is added to e with accuracy, cb, userdata and description.
 * keep_earlier: a pending (enabled) timer due at or before `when` is left as it is,
 * so an earlier wakeup wins. Returns 0 or a negative errno from sd-event.
 */
int event_timer_arm(sd_event *e, sd_event_source **s, uint64_t when, uint64_t accuracy, bool keep_earlier,
                    sd_event_time_handler_t cb, void *userdata, const char *description);
