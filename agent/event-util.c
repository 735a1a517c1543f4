/* SPDX-License-Identifier: MIT */
#include "event-util.h"

int event_timer_arm(sd_event *e, sd_event_source **s, uint64_t when, uint64_t accuracy, bool keep_earlier,
                    sd_event_time_handler_t cb, void *userdata, const char *description) {
        uint64_t cur;
        int r;

        if (*s) {
                if (keep_earlier && sd_event_source_get_enabled(*s, NULL) > 0 &&
                    sd_event_source_get_time(*s, &cur) >= 0 && cur <= when)
                        return 0;
                r = sd_event_source_set_time(*s, when);
                if (r < 0)
                        return r;
                return sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        }
        r = sd_event_add_time(e, s, CLOCK_MONOTONIC, when, accuracy, cb, userdata);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(*s, description);
        return 0;
}
