/* SPDX-License-Identifier: MIT */
/* The reconciler's memory read back from the state file (rc_history_from_json(), what
 * `plan` and `status` read): any bytes as the file's "memory"; what it accepts is written
 * out and read again to the same JSON. */
#include <assert.h>
#include <string.h>

#include "json-util.h"
#include "log.h"
#include "rc-history-json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(freep) char *text = strndup((const char *) data, size);
        _cleanup_(json_object_putp) json_object *o = NULL, *out = NULL, *out2 = NULL;
        _cleanup_(rc_history_done) RcHistory h = {}, again = {};
        char boot[RC_BOOT_ID_STRING_MAX];

        if (!text)
                return 0;
        log_set_max_level(-1);
        o = json_tokener_parse(text);
        if (!o)
                return 0;
        /* most inputs would be refused for another boot: let the fuzzer past that check */
        if (json_object_is_type(o, json_type_object) && rc_boot_id(boot, sizeof(boot)) >= 0)
                json_object_object_add(o, "boot_id", json_object_new_string(boot));
        if (rc_history_from_json(o, &h) < 0)
                return 0;
        assert(rc_history_to_json(&h, &out) == 0);
        assert(rc_history_from_json(out, &again) == 0);
        assert(rc_history_to_json(&again, &out2) == 0);
        json_object_object_del(out, "written_mono_usec");
        json_object_object_del(out2, "written_mono_usec");
        assert(strcmp(json_object_to_json_string(out), json_object_to_json_string(out2)) == 0);
        return 0;
}
