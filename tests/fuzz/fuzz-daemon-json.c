/* SPDX-License-Identifier: MIT */
/* The daemon.json label merge: any bytes as the file, merged twice (the second merge
 * of the first result must change nothing). */
#include <assert.h>

#include "engine.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char *const labels[] = { (char *) "swarmkeeper.cluster=fuzz",
                                        (char *) "swarmkeeper.logical-id=10.0.0.1", NULL };
        static char *const unset[] = { (char *) "swarmkeeper.stale", NULL };
        _cleanup_(freep) char *text = strndup((const char *) data, size), *out = NULL, *again = NULL;

        if (!text)
                return 0;
        log_set_max_level(-1);
        if (engine_labels_merge(text, labels, unset, &out) < 0 || !out)
                return 0;
        assert(engine_labels_merge(out, labels, unset, &again) == 0);
        assert(again == NULL);
        return 0;
}
